"""The metric layer: every figure memlens shows is defined once in `sql/layer/*.sql` and every consumer reads it
through `query()` (dashboard pages, `memlens query`, the weekly review, advice, diagnosis, health).

A metric file is one SELECT over a named input relation (`op_facts`, `cost_facts`, `latency`, `memory_deltas`);
its figures are expressions over sums of additive measures (error rate = sum(errors) / sum(ops)). An input file
(`sql/layer/inputs/*.sql`) binds such a relation to a source table and applies the filters as bound parameters:
the exact input reads every event (stg_op_facts, stg_op_costs), a rollup input reads pre-summed rows
(agg_op_hourly, agg_cost_daily, ...). The layer, not the caller, picks the first input (in file order: the
cheapest first) that can answer: rollups current, every active filter and requested group key among its
dimensions, the time range on its grain. So the fast path is the same SQL over pre-aggregated input, and the
parity tests prove it equal. Percentiles are the exception that cannot be summed: exact `quantile_cont` over the
events (latency_percentiles.sql), or, on large warehouses, read from the daily histograms within
`memlens.rollups.MAX_RELATIVE_ERROR` (latency_histogram.sql + `rollups.grouped_percentiles`).

Group keys are column names the input offers (`by=("op",)`); the metric file marks where they go with
`/*keys*/` (select list) and `/*partition by keys*/` (window), and groups with GROUP BY ALL. Keys are checked
against the input's header, never taken from user text; every value is a bound parameter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any

import duckdb
import pandas as pd

from memlens.resources import MODELS, resource

# Series grains: the $grain of date_trunc, and the seconds of one bucket (throughput = calls / seconds).
GRAINS: dict[str, int | None] = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400, "month": None}
FILTER_DIMS = ("service", "user", "agent", "op", "model", "mode", "status", "tag", "tagged")
_ROLLUP_GRAINS = {"hour": ("hour", "day", "week", "month"), "day": ("day", "week", "month")}
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")
_HEADER = re.compile(r"^-- (\w[\w ]*):[ \t]*(.*)$", re.MULTILINE)
KEYS_MARK, PARTITION_MARK = "/*keys*/", "/*partition by keys*/"
PCT_COLUMNS = ("p50_ms", "p95_ms", "p99_ms")


class LayerError(ValueError):
    """A metric asked for something no input can answer (an unknown metric, key or grain)."""


@dataclass(frozen=True)
class Filters:
    """What the dashboard's filters select. None = all. The time range is [start, end) in UTC (naive timestamps)."""

    start: datetime | None = None
    end: datetime | None = None
    service: str | None = None
    user: str | None = None
    agent: str | None = None
    op: str | None = None
    model: str | None = None
    mode: str | None = None
    status: str | None = None
    tag: str | None = None
    tagged: bool | None = None  # True: only calls with a tag (load-test runs); False: only calls without

    @classmethod
    def days(cls, first: date | None, last: date | None, **dims: Any) -> Filters:
        """Whole UTC days `first`..`last` inclusive (either may be None: unbounded)."""
        start = datetime.combine(first, time.min) if first else None
        end = datetime.combine(last + timedelta(days=1), time.min) if last else None
        return cls(start, end, **dims)

    def params(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> tuple:
        """Hashable, stable: the cache key part for these filters."""
        return tuple(asdict(self).items())

    def replace(self, **changes: Any) -> Filters:
        return Filters(**{**asdict(self), **changes})

    def active(self) -> frozenset[str]:
        """The dimensions (not the time range) this selection filters on."""
        return frozenset(d for d in FILTER_DIMS if getattr(self, d) is not None)

    @property
    def no_time(self) -> Filters:
        return self.replace(start=None, end=None)


ALL = Filters()


@dataclass(frozen=True)
class Speed:
    """What the layer may read: current rollups, and histogram percentiles (large warehouses)."""

    rollups_fresh: bool = False
    histogram_percentiles: bool = False


EXACT = Speed()


@dataclass(frozen=True)
class Input:
    name: str
    provides: frozenset[str]
    rollup: str | None  # None = event grain (exact, always current); else the rollup's time grain: hour | day
    filters: frozenset[str]
    keys: frozenset[str]
    sql: str


@dataclass(frozen=True)
class Metric:
    name: str
    reads: str | None  # the input relation the SQL reads; None = the SQL reads tables itself
    sql: str
    description: str
    exact: bool = False  # needs event rows (e.g. latency_ms for percentiles)
    needs: frozenset[str] = frozenset()  # columns it reads beyond the requested keys: inputs must offer them
    ignores: frozenset[str] = frozenset()  # filters that do not apply to it (pages say so)
    params: tuple[str, ...] = ()  # extra parameters a caller passes (e.g. limit)


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--")).strip()


def _header(text: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, v in _HEADER.findall(text)}


def _words(value: str | None) -> frozenset[str]:
    return frozenset((value or "").split())


@cache
def inputs() -> tuple[Input, ...]:
    """The input bindings of sql/layer/inputs, in file order (= preference: the cheapest first)."""
    out = []
    for path in sorted(resource(MODELS, "layer", "inputs").iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".sql"):
            continue
        text = path.read_text(encoding="utf-8")
        h = _header(text)
        name = path.name.removesuffix(".sql").split("_", 1)[1]
        out.append(Input(name, _words(h.get("provides")), h.get("rollup") or None, _words(h.get("filters")),
                         _words(h.get("keys")), _strip_comments(text)))
    return tuple(out)


@cache
def metrics() -> dict[str, Metric]:
    """Every metric of sql/layer by name (file stem)."""
    out = {}
    for path in sorted(resource(MODELS, "layer").iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".sql"):
            continue
        text = path.read_text(encoding="utf-8")
        h = _header(text)
        name = path.name.removesuffix(".sql")
        first = text.splitlines()[0].removeprefix(f"-- {name}:").strip()
        out[name] = Metric(name, h.get("reads") or None, _strip_comments(text), first, h.get("exact") == "yes",
                           _words(h.get("needs")), _words(h.get("ignores")), tuple(_words(h.get("params"))))
    return out


def metric(name: str) -> Metric:
    try:
        return metrics()[name]
    except KeyError:
        raise LayerError(f"unknown metric {name!r}; known: {', '.join(sorted(metrics()))}") from None


def _aligned(ts: datetime | None, rollup: str) -> bool:
    if ts is None:
        return True
    if (ts.minute, ts.second, ts.microsecond) != (0, 0, 0):
        return False
    return rollup == "hour" or ts.hour == 0


def eligible(inp: Input, m: Metric, filters: Filters, keys: Sequence[str], grain: str | None, speed: Speed) -> bool:
    """Whether `inp` answers metric `m` for this selection exactly as the event rows would."""
    if m.reads not in inp.provides:
        return False
    if inp.rollup is not None:
        if m.exact or not speed.rollups_fresh:
            return False
        if not (_aligned(filters.start, inp.rollup) and _aligned(filters.end, inp.rollup)):
            return False
        if "bucket" in keys and grain not in _ROLLUP_GRAINS[inp.rollup]:
            return False
    return (filters.active() - m.ignores) <= inp.filters and set(keys) | m.needs <= inp.keys


def choose(m: Metric, filters: Filters, keys: Sequence[str] = (), grain: str | None = None,
           speed: Speed = EXACT) -> Input:
    """The first input (cheapest first) that answers `m` for this selection."""
    for inp in inputs():
        if eligible(inp, m, filters, keys, grain, speed):
            return inp
    offered = set().union(*(i.keys for i in inputs() if m.reads in i.provides))
    if set(keys) - offered:
        raise LayerError(f"metric {m.name!r} cannot be grouped by {sorted(set(keys) - offered)} "
                         f"(its inputs offer {sorted(offered)})")
    raise LayerError(f"no input of metric {m.name!r} answers filters {sorted(filters.active())} with keys "
                     f"{list(keys)}")


def render(m: Metric, inp: Input | None, keys: Sequence[str]) -> str:
    """The SQL text of metric `m` over input `inp`, grouped by `keys` (already checked against the input)."""
    sql = m.sql.replace(KEYS_MARK, "".join(f"{k}, " for k in keys))
    sql = sql.replace(PARTITION_MARK, f"PARTITION BY {', '.join(keys)}" if keys else "")
    if inp is None:
        return sql
    cte = f"{m.reads} AS (\n{inp.sql}\n)"
    if sql[:4].upper() == "WITH":
        return f"WITH {cte},\n{sql[4:].lstrip()}"
    return f"WITH {cte}\n{sql}"


def _period_s(filters: Filters, keys: Sequence[str], grain: str | None) -> float | None:
    if "bucket" in keys:
        return GRAINS.get(grain or "")
    if filters.start is not None and filters.end is not None:
        return (filters.end - filters.start).total_seconds()
    return None


def query(con: duckdb.DuckDBPyConnection, name: str, filters: Filters = ALL, by: Sequence[str] = (),
          grain: str | None = None, speed: Speed = EXACT, **params: Any) -> pd.DataFrame:
    """Metric `name` over the selection, one row per group of `by` (sorted by it), as a DataFrame.

    `grain` (minute | hour | day | week | month) is the width of the `bucket` key; `params` are the metric's own
    parameters (e.g. limit=50).
    """
    if name == "latency":
        return latency(con, filters, by, grain, speed)
    m = metric(name)
    keys = tuple(by)
    if grain is not None and grain not in GRAINS:
        raise LayerError(f"grain must be one of {', '.join(GRAINS)}, got {grain!r}")
    if "bucket" in keys and grain is None:
        raise LayerError("grouping by bucket needs a grain")
    missing = set(m.params) - params.keys()
    if missing:
        raise LayerError(f"metric {name!r} needs parameters {sorted(missing)}")
    inp = choose(m, filters, keys, grain, speed) if m.reads else None
    return run_sql(con, render(m, inp, keys), {**filters.params(), "grain": grain,
                                               "period_s": _period_s(filters, keys, grain), **params}, keys)


def run_sql(con: duckdb.DuckDBPyConnection, sql: str, available: dict[str, Any],
            keys: Sequence[str] = ()) -> pd.DataFrame:
    wanted = set(_PARAM.findall(sql))
    unknown = wanted - available.keys()
    if unknown:
        raise LayerError(f"no value for parameters {sorted(unknown)}")
    df = con.execute(sql, {k: available[k] for k in wanted}).df()
    for col in df.columns:  # text keys: a NULL group is None (as in SQL), not a float NaN in a string column
        if pd.api.types.is_string_dtype(df[col]) and df[col].isna().any():
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    order = list(keys) + [c for c in ("bucket", "hist_bucket") if c in df.columns and c not in keys]
    if order and len(df):
        df = df.sort_values(order, kind="stable", na_position="last").reset_index(drop=True)
    return df


def input_for(name: str, filters: Filters = ALL, by: Sequence[str] = (), grain: str | None = None,
              speed: Speed = EXACT) -> str:
    """The name of the input the layer reads for this metric and selection (for tests, benchmarks, captions)."""
    return choose(metric(name), filters, tuple(by), grain, speed).name


# ---- percentiles and the composite latency figure --------------------------------------------------------------

def histogram_percentiles(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str], grain: str | None,
                          speed: Speed) -> pd.DataFrame | None:
    """P50/P95/P99 from the daily histograms, or None when they cannot answer this selection."""
    from memlens import rollups

    m = metric("latency_histogram")
    keys = tuple(by)
    hist = next((i for i in inputs() if i.rollup and eligible(i, m, filters, keys, grain, speed)), None)
    if hist is None:
        return None
    df = run_sql(con, render(m, hist, keys), {**filters.params(), "grain": grain}, (*keys, "hist_bucket"))
    per_decade = con.execute("SELECT per_decade FROM agg_refresh_state").fetchone()[0]
    renamed = {k: f"key_{k}" for k in keys}  # grouped_percentiles owns the column names it computes
    out = rollups.grouped_percentiles(df.rename(columns=renamed), tuple(renamed.values()), (0.5, 0.95, 0.99),
                                      per_decade)
    return out.rename(columns={v: k for k, v in renamed.items()})[[*keys, *PCT_COLUMNS]]


def percentiles(con: duckdb.DuckDBPyConnection, filters: Filters = ALL, by: Sequence[str] = (),
                grain: str | None = None, speed: Speed = EXACT) -> pd.DataFrame:
    """P50/P95/P99 latency per group: exact, or from the histograms when `speed.histogram_percentiles` allows."""
    if speed.histogram_percentiles:
        approx = histogram_percentiles(con, filters, by, grain, speed)
        if approx is not None:
            return approx
    return query(con, "latency_percentiles", filters, by, grain, speed)


def latency(con: duckdb.DuckDBPyConnection, filters: Filters = ALL, by: Sequence[str] = (),
            grain: str | None = None, speed: Speed = EXACT) -> pd.DataFrame:
    """`ops` (calls, errors, averages, cache, shape, throughput) with the percentiles beside: the latency figures."""
    ops = query(con, "ops", filters, by, grain, speed)
    pct = percentiles(con, filters, by, grain, speed)
    keys = list(by)
    if not keys:
        return pd.concat([ops, pct.reset_index(drop=True)], axis=1) if len(pct) else ops.assign(
            **{c: None for c in PCT_COLUMNS})
    for k in keys:  # merge on equal types: the two queries may type a key differently (DATE vs TIMESTAMP)
        if pd.api.types.is_datetime64_any_dtype(ops[k]) or pd.api.types.is_datetime64_any_dtype(pct[k]):
            ops[k], pct[k] = pd.to_datetime(ops[k]), pd.to_datetime(pct[k])
    return ops.merge(pct, on=keys, how="left")


def with_total(con: duckdb.DuckDBPyConnection, name: str, filters: Filters = ALL, by: Sequence[str] = ("op",),
               grain: str | None = None, speed: Speed = EXACT, label: str = "all", **params: Any) -> pd.DataFrame:
    """Metric `name` per group of `by`, plus one total row per bucket whose last key says `label` (e.g. op 'all')."""
    keys = list(by)
    groups = query(con, name, filters, keys, grain, speed, **params)
    total = query(con, name, filters, keys[:-1], grain, speed, **params).assign(**{keys[-1]: label})
    return pd.concat([total[groups.columns], groups], ignore_index=True)


def fold_histogram(df: pd.DataFrame, per_decade: int = 10) -> pd.DataFrame:
    """latency_histogram rows (hist_bucket at rollups.HIST_PER_DECADE) folded to `per_decade` bins (a divisor of
    it) for a chart: bin_ms is each bin's lower edge in milliseconds; the other columns are the keys, `n` summed."""
    from memlens.rollups import HIST_PER_DECADE

    step = HIST_PER_DECADE // per_decade
    keys = [c for c in df.columns if c not in ("hist_bucket", "n", "sum_ms")]
    out = df.assign(bin_ms=10 ** ((df["hist_bucket"] // step) / per_decade))
    return out.groupby([*keys, "bin_ms"], as_index=False, dropna=False)["n"].sum()


def one(df: pd.DataFrame) -> dict[str, Any]:
    """The single row of an ungrouped metric as plain Python values (NaN / NaT / NA → None)."""
    if df.empty:
        return {c: None for c in df.columns}
    return {k: plain(v) for k, v in df.head(1).to_dict("records")[0].items()}  # per-column types (not a row upcast)


def plain(v: Any) -> Any:
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        return v
    return v.item() if hasattr(v, "item") else v


def speed_for(con: duckdb.DuckDBPyConnection, events: int, exact_percentile_max_events: int) -> Speed:
    """Rollups when they are current; histogram percentiles above `exact_percentile_max_events` events."""
    from memlens import rollups

    try:
        fresh = rollups.is_fresh(con)
    except duckdb.Error:
        fresh = False
    return Speed(fresh, fresh and events > exact_percentile_max_events)


def catalog() -> pd.DataFrame:
    """What `memlens query` lists: each metric with its description, the keys it can group by, its parameters."""
    rows = []
    for m in metrics().values():
        keys = sorted(set().union(*(i.keys for i in inputs() if m.reads in i.provides))) if m.reads else []
        rows.append({"metric": m.name, "description": m.description, "by": " ".join(keys),
                     "params": " ".join(m.params)})
    rows.append({"metric": "latency", "description": "ops with P50 / P95 / P99 latency beside (ops + "
                 "latency_percentiles)", "by": " ".join(sorted(next(i.keys for i in inputs()
                                                                       if "latency" in i.provides
                                                                       and i.rollup is None))), "params": ""})
    return pd.DataFrame(sorted(rows, key=lambda r: r["metric"]))


# ---- a figure over two windows ----------------------------------------------------------------------------------

_CHANGE_SQL = ("layer", "combine", "change.sql")
_CHANGE_COLUMNS = ("previous", "current", "delta", "delta_pct", "share_of_change")


def change(con: duckdb.DuckDBPyConnection, name: str, current: Filters, previous: Filters, by: Sequence[str] = (),
           values: Sequence[str] = ("total_cost_usd",), on: Sequence[str] | None = None, zero_fill: bool = True,
           speed: Speed = EXACT, **params: Any) -> pd.DataFrame:
    """Metric `name` over the `current` and `previous` windows side by side, per group, for each column of `values`:
    `<value>_previous`, `_current`, `_delta`, `_delta_pct`, `_share_of_change` (sql/layer/combine/change.sql, the
    one definition of change and change %). Each window is an ordinary layer query (the layer picks its input);
    `on` are the columns that identify a group (default `by`; e.g. ("kind", "model") for cost_by_model), `zero_fill`
    reads a group absent from a window as 0 (additive figures). Sorted by the first value's current figure,
    largest first."""
    from uuid import uuid4

    keys = list(on if on is not None else by)
    frames = {"previous_window": query(con, name, previous, by, None, speed, **params),
              "current_window": query(con, name, current, by, None, speed, **params)}
    for frame in frames.values():
        missing = (set(keys) | set(values)) - set(frame.columns)
        if missing:
            raise LayerError(f"metric {name!r} has no columns {sorted(missing)}")
    template = resource(MODELS, *_CHANGE_SQL).read_text(encoding="utf-8")
    sql = _strip_comments(template)
    sql = sql.replace(KEYS_MARK, "".join(f'coalesce(c."{k}", p."{k}") AS "{k}", ' for k in keys))
    sql = sql.replace("/*match keys*/", " AND ".join(f'c."{k}" IS NOT DISTINCT FROM p."{k}"' for k in keys) or "true")
    out: pd.DataFrame | None = None
    for value in values:
        names = {}
        for rel, frame in frames.items():
            names[rel] = f"ml_{rel}_{uuid4().hex}"  # unique per call: connections are shared by page threads
            con.register(names[rel], frame[[*keys, value]].rename(columns={value: "value"}))
        try:
            text = sql.replace("current_window", names["current_window"]).replace("previous_window",
                                                                                    names["previous_window"])
            part = con.execute(text, {"zero_fill": zero_fill}).df()
        finally:
            for n in names.values():
                con.unregister(n)
        part = part.rename(columns={c: f"{value}_{c}" for c in _CHANGE_COLUMNS})
        out = part if out is None else out.merge(part, on=keys, how="outer") if keys else pd.concat(
            [out, part], axis=1)
    assert out is not None
    first = f"{values[0]}_current"
    return out.sort_values([first, *keys], ascending=[False, *([True] * len(keys))], na_position="last",
                           kind="stable").reset_index(drop=True)
