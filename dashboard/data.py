"""What the dashboard reads, and how: named, parameterised queries (dashboard/queries.sql) over the views.

Plain Python (no Streamlit) so it is tested directly. Filters become bound parameters; the only names a
caller picks are query names, checked against the sections of queries.sql.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from memlens.config import Config
from memlens.health import Measured, growth_over
from memlens.resources import read_text
from memlens.warehouse import WarehouseError, connect

_SECTION = re.compile(r"^-- name: ([\w@]+)\s*$", re.MULTILINE)
_PARAM = re.compile(r"\$(\w+)")
MONTH_DAYS = 30  # "storage growth per month" = over the last 30 days of history


def _load_queries(text: str) -> dict[str, str]:
    parts = _SECTION.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


QUERIES: dict[str, str] = _load_queries(read_text(__package__, "queries.sql"))
FAST = "@fast"
FILTER_DIMS = ("service", "user", "agent", "op", "model")
_META = re.compile(r"^-- (dims|rollups):[ \t]*(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class FastVariant:
    dims: frozenset[str]  # sidebar filters the variant can apply (the time range always can: whole days)
    rollups: bool  # reads memlens.rollups tables: only while they are current


def _fast_variants() -> dict[str, FastVariant]:
    out = {}
    for name, sql in QUERIES.items():
        if name.endswith(FAST):
            meta = dict(_META.findall(sql))
            out[name] = FastVariant(frozenset(meta["dims"].split()), meta["rollups"].strip() == "yes")
    return out


FAST_VARIANTS = _fast_variants()


class WarehouseUnavailable(RuntimeError):
    """The warehouse file cannot be opened (locked by a writer, unreadable, corrupt)."""


@dataclass(frozen=True)
class Filters:
    """Sidebar selection. None = all. `first_day`/`last_day` are inclusive UTC days."""

    first_day: date | None = None
    last_day: date | None = None
    service: str | None = None
    user: str | None = None
    agent: str | None = None
    op: str | None = None
    model: str | None = None

    def params(self) -> dict[str, Any]:
        start = datetime.combine(self.first_day, time.min) if self.first_day else None
        end = datetime.combine(self.last_day + timedelta(days=1), time.min) if self.last_day else None
        return {"start": start, "end": end, "service": self.service, "user": self.user, "agent": self.agent,
                "op": self.op, "model": self.model}

    def key(self) -> tuple:
        """Hashable, stable: the cache key part for these filters."""
        return tuple(asdict(self).items())

    def replace(self, **changes: Any) -> Filters:
        return Filters(**{**asdict(self), **changes})

    def active(self) -> frozenset[str]:
        """The sidebar dimensions (not the time range) this selection filters on."""
        return frozenset(d for d in FILTER_DIMS if getattr(self, d) is not None)


ALL = Filters()


def run(con: duckdb.DuckDBPyConnection, name: str, filters: Filters = ALL, **extra: Any) -> pd.DataFrame:
    """Run the query `name` with the filters and extra parameters (e.g. limit=50) bound, never pasted."""
    try:
        sql = QUERIES[name]
    except KeyError:
        raise KeyError(f"unknown dashboard query {name!r}") from None
    available = {**filters.params(), **extra}
    wanted = set(_PARAM.findall(sql))
    missing = wanted - available.keys()
    if missing:
        raise ValueError(f"query {name!r} needs parameters {sorted(missing)}")
    return con.execute(sql, {k: available[k] for k in wanted}).df()


@dataclass(frozen=True)
class Speed:
    """How queries may be answered: from current rollups, and with histogram percentiles (large warehouses)."""

    rollups_fresh: bool = False
    histogram_percentiles: bool = False


EXACT = Speed()
HIST_DIMS = frozenset({"service", "op"})  # what agg_latency_hist_daily can filter on
PCT_COLUMNS = ("p50_ms", "p95_ms", "p99_ms")


def choose(name: str, filters: Filters, speed: Speed, extra: dict[str, Any]) -> str:
    """The fast variant of `name` when it can answer this selection, else `name` itself."""
    variant = FAST_VARIANTS.get(name + FAST)
    if variant is None or (variant.rollups and not speed.rollups_fresh) or not filters.active() <= variant.dims:
        return name
    if name == "latency_over_time" and extra.get("bucket") != "1 day":  # the rollups are hourly/daily
        return name
    return name + FAST


def query(con: duckdb.DuckDBPyConnection, name: str, filters: Filters = ALL, speed: Speed = EXACT,
          **extra: Any) -> pd.DataFrame:
    """`run`, through the fast variant when one applies; percentiles the variant lacks are filled in exactly, or
    from the rollup histograms (relative error < memlens.rollups.MAX_RELATIVE_ERROR) on large warehouses."""
    chosen = choose(name, filters, speed, extra)
    df = run(con, chosen, filters, **extra)
    if chosen == name or name not in _FILL:
        return df
    hist = speed.histogram_percentiles and filters.active() <= HIST_DIMS
    return _FILL[name](con, df, filters, hist)


def speed_for(con: duckdb.DuckDBPyConnection, events: int, cfg: Config) -> Speed:
    try:
        from memlens import rollups

        fresh = rollups.is_fresh(con)
    except (ImportError, duckdb.Error):
        fresh = False
    return Speed(fresh, events > cfg.dashboard.exact_percentile_max_events)


def _hist(con: duckdb.DuckDBPyConnection, filters: Filters, by: tuple[str, ...], op: str | None = None):
    from memlens import rollups

    p = filters.params()
    return rollups.latency_percentiles(con, by=by, start=p["start"], end=p["end"], service=filters.service,
                                       op=op or filters.op)


def _fill_summary(con: duckdb.DuckDBPyConnection, df: pd.DataFrame, filters: Filters, hist: bool) -> pd.DataFrame:
    df = df.copy()
    if not hist:
        pct = run(con, "pct_summary", filters).iloc[0]
        df["q"], df["search_q"] = [pct["q"]], [pct["search_q"]]
        return df
    overall = _hist(con, filters, ())
    df["q"] = [list(overall[list(PCT_COLUMNS)].iloc[0]) if len(overall) else None]
    search = _hist(con, filters, (), op="search") if filters.op in (None, "search") else overall.iloc[0:0]
    df["search_q"] = [list(search[list(PCT_COLUMNS)].iloc[0]) if len(search) else None]
    return df


def _fill_by_op(con: duckdb.DuckDBPyConnection, df: pd.DataFrame, filters: Filters, hist: bool) -> pd.DataFrame:
    if hist:
        pct = pd.concat([_hist(con, filters, ("op",)), _hist(con, filters, ()).assign(op="all")])
        pct = pct[["op", *PCT_COLUMNS]]
    else:
        pct = _split_q(run(con, "pct_by_op", filters))
    return df.drop(columns=list(PCT_COLUMNS)).merge(pct, on="op", how="left")[df.columns]


def _fill_over_time(con: duckdb.DuckDBPyConnection, df: pd.DataFrame, filters: Filters, hist: bool) -> pd.DataFrame:
    if hist:
        by_op = _hist(con, filters, ("day", "op"))
        pct = pd.concat([by_op, _hist(con, filters, ("day",)).assign(op="all")])
        pct = pct.assign(bucket=pd.to_datetime(pct["day"]))[["bucket", "op", *PCT_COLUMNS]]
    else:
        pct = _split_q(run(con, "pct_by_day", filters))
    out = df.drop(columns=list(PCT_COLUMNS)).assign(bucket=pd.to_datetime(df["bucket"]))
    return out.merge(pct, on=["bucket", "op"], how="left")[df.columns]


def _split_q(df: pd.DataFrame) -> pd.DataFrame:
    q = df.pop("q")
    for i, col in enumerate(PCT_COLUMNS):
        df[col] = [x[i] if x is not None else None for x in q]
    return df


_FILL = {"summary": _fill_summary, "latency_by_op": _fill_by_op, "latency_over_time": _fill_over_time}


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """The filter macros are TEMP objects: allowed on a read-only connection, gone when it closes."""
    con.execute(QUERIES["macros"])


def open_readonly(path: str | Path) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseUnavailable(f"cannot open {path} read-only: {exc}") from exc
    con.execute("SET TimeZone = 'UTC'")
    install_macros(con)
    return con


@dataclass(frozen=True)
class Bootstrap:
    events: int
    demo_loaded: bool
    message: str


def bootstrap(path: str | Path, cfg: Config, load_demo_if_empty: bool = True,
              progress: Callable[[str, float], None] | None = None) -> Bootstrap:
    """Create/upgrade the warehouse (tables, views, config tables) and load the demo when it holds no events.

    Runs once per dashboard process before the read-only connection is opened: the views must exist in the
    file because a read-only connection cannot create them. `progress` (what is happening, share done) is
    called only while the demo loads.
    """
    if not load_demo_if_empty and str(path) != ":memory:" and not Path(path).is_file():
        raise WarehouseUnavailable(f"no warehouse at {path}: check the path, or load data into it first "
                                   "(`memlens collect logs`, `memlens demo`, `memlens dashboard --demo`)")
    try:
        con = connect(path, cfg)
    except WarehouseError as exc:
        raise WarehouseUnavailable(str(exc)) from exc
    except duckdb.Error as exc:
        raise WarehouseUnavailable(f"cannot open {path} for writing (is a collection running?): {exc}") from exc
    try:
        events = con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0]
        if events or not load_demo_if_empty:
            return Bootstrap(events, False, "")
        try:
            from memlens.collectors.base import writer_lock
            from memlens.workloads.demo import ensure_demo

            with writer_lock(None if str(path) == ":memory:" else Path(path), "dashboard: first-start demo"):
                ensure_demo(con, cfg, progress=progress)
        except ImportError as exc:
            return Bootstrap(0, False, f"The demo workload could not be loaded ({exc}); collect your own logs.")
        events = con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0]
        return Bootstrap(events, events > 0, f"Loaded the demo workload ({events:,} events).")
    finally:
        con.close()


def load_key(con: duckdb.DuckDBPyConnection) -> tuple:
    """Changes whenever anything is loaded into the warehouse: part of every cached aggregate's key."""
    return tuple(con.execute(QUERIES["load_key"]).fetchone())


def summary_from(df: pd.DataFrame) -> dict[str, Any]:
    """The one-row `summary` result as a dict, with p50/p95/p99 split out of the quantile lists."""
    row = df.iloc[0].to_dict()
    for prefix, col in (("", "q"), ("search_", "search_q")):
        q = row.pop(col)
        q = list(q) if q is not None and not _isna(q) else [None, None, None]
        row[f"{prefix}p50_ms"], row[f"{prefix}p95_ms"], row[f"{prefix}p99_ms"] = q
    # an empty selection sums to NULL in the rollup variant
    hits, misses = (0 if _isna(row[k]) else row[k] for k in ("cache_hits", "cache_misses"))
    row["hit_rate"] = hits / (hits + misses) if hits + misses else None
    row["miss_penalty"] = (row["avg_miss_ms"] / row["avg_hit_ms"]
                           if _num(row["avg_miss_ms"]) and _num(row["avg_hit_ms"]) else None)
    return {k: _plain(v) for k, v in row.items()}


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # a list/array is not NA
        return False


def _num(v: Any) -> bool:
    return v is not None and not pd.isna(v) and v != 0


def _plain(v: Any) -> Any:
    """numpy/pandas scalars → Python; NaN/NaT → None (so `is None` checks work everywhere)."""
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        return v
    return v.item() if hasattr(v, "item") else v


def measured_from(s: dict[str, Any], cost_by_mode: pd.DataFrame, cost_daily: pd.DataFrame, growth: pd.DataFrame,
                  repeat: pd.DataFrame, projected_month_usd: float | None) -> Measured:
    """Fold the query results into the figures health and diagnosis judge.

    Latency is the reference's "query latency" (search calls) when the selection has searches, else every call.
    """
    lat = "search_" if s.get("searches") else ""
    total = float(cost_by_mode["total_cost_usd"].sum()) if not cost_by_mode.empty else 0.0
    embedding = float(cost_by_mode["embedding_cost_usd"].sum()) if not cost_by_mode.empty else 0.0
    per_1k = {r.mode: float(r.cost_per_1k_searches_usd) for r in cost_by_mode.itertuples()
              if r.searches and not pd.isna(r.cost_per_1k_searches_usd)}
    growth_month = None
    if not growth.empty:
        days = list(pd.to_datetime(growth["day"]).dt.date)
        growth_month = growth_over(MONTH_DAYS, days, [float(x) for x in growth["bytes"]])
    repeat_share = _plain(repeat["repeat_share"].iloc[0]) if not repeat.empty else None
    return Measured(
        ops=int(s.get("ops") or 0), searches=int(s.get("searches") or 0),
        avg_ms=s.get(f"{lat}avg_ms"), p50_ms=s.get(f"{lat}p50_ms"), p95_ms=s.get(f"{lat}p95_ms"),
        p99_ms=s.get(f"{lat}p99_ms"), error_rate=s.get("error_rate"), slow_share=s.get("slow_share"),
        hit_rate=s.get("hit_rate"), miss_penalty=s.get("miss_penalty"), cost_per_1k=per_1k,
        total_cost_usd=total if not cost_by_mode.empty else None,
        embedding_share=embedding / total if total else None,
        storage_growth_month=growth_month,
        max_daily_cost_usd=float(cost_daily["total_cost_usd"].max()) if not cost_daily.empty else None,
        projected_month_usd=projected_month_usd,
        search_avg_top_k=s.get("search_avg_top_k"), search_unscoped_share=s.get("search_unscoped_share"),
        search_rerank_share=s.get("search_rerank_share"), add_avg_messages=s.get("add_avg_messages"),
        repeat_share=repeat_share,
    )
