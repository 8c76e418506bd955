"""Materialised rollups for speed at 10M events: build them, tell whether they are current, and turn their latency
histograms into percentiles.

`refresh(con)` rebuilds the small tables defined in `sql/rollups/*.sql` (applied in name order, each file
one `CREATE OR REPLACE TABLE`, header comment with grain and columns): the additive measures of stg_op_facts
summed per hour, the cost measures of stg_op_costs per day (one table by service/op/agent/model, one by user),
and log-bucketed latency histograms per day, service, mode and op. Collectors call it after a load; `memlens
demo` makes sure of it. The metric layer (memlens/layer.py) reads them instead of the events when they can
answer a selection: counts, sums, rates and costs are then the same as over the events; percentiles come from
the histograms with a bounded relative error (`MAX_RELATIVE_ERROR`, 0.93 % at 250 buckets per decade).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.resources.abc import Traversable

import duckdb
import numpy as np
import pandas as pd

from memlens import backend
from memlens.resources import MODELS, model_files, read_text

STATE_FILE = "090_agg_refresh_state.sql"


# log-spaced latency buckets per decade of milliseconds (stg_op_facts.hist_bucket): 250 keeps a percentile read from
# the histograms within 1 % of the exact one (issue 16's bound for the sketch above the exact-percentile size)
HIST_PER_DECADE = 250
MAX_RELATIVE_ERROR = 10 ** (1 / HIST_PER_DECADE) - 1  # a bucket's width: bound on a percentile's error

SINCE_SQL = read_text(MODELS, "rollups", "queries", "since.sql")


@dataclass(frozen=True)
class RefreshResult:
    seconds: float
    rows: dict[str, int]
    since: datetime | None = None  # rebuilt from this UTC day on (older rows kept); None = rebuilt whole

    def summary(self) -> str:
        parts = ", ".join(f"{t} {n:,}" for t, n in self.rows.items())
        scope = f"from {self.since:%Y-%m-%d} on" if self.since else "whole"
        return f"rollups refreshed ({scope}) in {self.seconds:.2f} s ({parts})"


def rollup_files() -> list[Traversable]:
    return [p for p in model_files("rollups") if p.name != STATE_FILE]


def _table_name(path: Traversable) -> str:
    return path.name.removesuffix(".sql").split("_", 1)[1]


@cache
def definitions_digest() -> str:
    """Fingerprint of what the rollups are built from besides the config: the staged views and rollup files. A
    memlens whose measures or rollup shapes changed reads old rollups as stale (and rebuilds them whole)."""
    text = b"".join(p.read_bytes() for folder in ("staged", "rollups") for p in model_files(folder))
    return hashlib.md5(text, usedforsecurity=False).hexdigest()[:16]


def settings_key(con: duckdb.DuckDBPyConnection) -> str:
    """What the rollups depend on: the config tables (thresholds, prices) and the SQL definitions."""
    rows = [*con.execute("SELECT * FROM cfg_settings").fetchall(),
            *sorted(con.execute("SELECT * FROM cfg_prices").fetchall(), key=repr)]
    config = hashlib.md5(repr(rows).encode(), usedforsecurity=False).hexdigest()
    return f"{config}:{definitions_digest()}"


def _incremental_since(con: duckdb.DuckDBPyConnection, key: str) -> datetime | None:
    """The UTC day from which the rollups must be rebuilt when only new rows arrived since the last refresh
    (built with the same config and buckets); None when they must be rebuilt whole (or nothing is new: then
    rebuilding from the newest day is cheap and keeps one code path)."""
    needed = [_table_name(p) for p in rollup_files()] + ["agg_refresh_state"]
    if not set(needed) <= backend.table_names(con):  # (asked, not caught: a failed statement aborts a transaction)
        return None
    state = next(iter(con.execute("SELECT raw_events, last_ingested_at, settings_key, per_decade "
                                  "FROM agg_refresh_state").fetchall()), None)
    if state is None or state[1] is None or state[2] != key or state[3] != HIST_PER_DECADE:
        return None
    [(old_rows, old_last, since)] = con.execute(SINCE_SQL, {"last": state[1]}).fetchall()
    if (old_rows, old_last) != (state[0], state[1]):
        return None
    if since is None:  # nothing new: rebuild the newest day only
        [(since,)] = con.execute("SELECT CAST(CAST(max(ts) AS DATE) AS TIMESTAMP) FROM raw_op_events").fetchall()
    return since


def refresh(con: duckdb.DuckDBPyConnection, *, full: bool = False) -> RefreshResult:
    """Bring every rollup table up to date with the warehouse, in one transaction.

    When the only change since the last refresh is rows appended by a collection (same config), only the
    days from the earliest new event's day on are re-aggregated and the older rows are kept: a collection
    that tails today's logs re-reads one day, not the whole history. Otherwise (or `full`) all is rebuilt;
    also when the incremental pass fails (e.g. a rollup file whose columns changed since the tables were built).
    On ClickHouse the same rollup SELECTs fill tables that replace rows by key (memlens.clickhouse.refresh_rollups).
    """
    if backend.dialect(con) == "clickhouse":
        from memlens import clickhouse

        return clickhouse.refresh_rollups(con, full=full)
    if not full:
        try:
            return _refresh(con, full=False)
        except (duckdb.Error, RuntimeError):
            pass  # rolled back: rebuild whole (a real error shows there too)
    return _refresh(con, full=True)


def _refresh(con: duckdb.DuckDBPyConnection, *, full: bool) -> RefreshResult:
    t0 = time.perf_counter()
    rows: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        since = None if full else _incremental_since(con, settings_key(con))
        for path in rollup_files():
            table = _table_name(path)
            text = path.read_text(encoding="utf-8")
            params = {"since": since, **({"per_decade": HIST_PER_DECADE} if "$per_decade" in text else {})}
            # the rows before `since`, kept aside while the file replaces the table with the days from `since`
            kept = (con.table(table).filter(duckdb.ColumnExpression("day") < duckdb.ConstantExpression(since.date()))
                    .to_arrow_table() if since else None)
            try:
                con.execute(text, params)
            except duckdb.Error as exc:
                raise RuntimeError(f"sql/rollups/{path.name}: {exc}") from exc
            if kept is not None and kept.num_rows:
                con.from_arrow(kept).insert_into(table)
            rows[table] = con.table(table).count("*").fetchall()[0][0]
        seconds = time.perf_counter() - t0
        con.execute(read_text(MODELS, "rollups", STATE_FILE),
                    {"settings_key": settings_key(con), "per_decade": HIST_PER_DECADE, "seconds": seconds})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return RefreshResult(time.perf_counter() - t0, rows, since)


def is_fresh(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the rollups exist and were built from the current events and config."""
    try:
        state = con.execute(
            "SELECT raw_events, last_ingested_at, settings_key, per_decade FROM agg_refresh_state").fetchone()
    except duckdb.CatalogException:
        return False
    if state is None:
        return False
    now = con.execute("SELECT count(*), max(ingested_at) FROM raw_op_events").fetchone()
    return (state[0], state[1]) == tuple(now) and state[2] == settings_key(con) and state[3] == HIST_PER_DECADE


def percentiles_from_histogram(buckets: Sequence[int], counts: Sequence[int], qs: Sequence[float],
                               per_decade: int = HIST_PER_DECADE) -> np.ndarray:
    """Approximate numpy.percentile(method='linear') of the values behind one log-bucket histogram."""
    df = pd.DataFrame({"hist_bucket": buckets, "n": counts, "sum_ms": 0.0}).sort_values("hist_bucket")
    if df["n"].sum() <= 0:
        return np.full(len(qs), np.nan)
    row = grouped_percentiles(df, (), qs, per_decade).iloc[0]
    return row[[f"p{round(q * 100):d}_ms" for q in qs]].to_numpy(dtype=np.float64)


def grouped_percentiles(df: pd.DataFrame, keys: Sequence[str], qs: Sequence[float],
                        per_decade: int = HIST_PER_DECADE) -> pd.DataFrame:
    """Percentiles of many histograms at once. df: rows sorted by keys then hist_bucket, with hist_bucket, n, sum_ms.

    The j-th smallest value (0-based) of a group is placed inside its bucket [lo, hi) by geometric
    interpolation at (j - before + 0.5) / n_bucket; fractional ranks q * (N - 1) interpolate linearly between
    neighbours, as numpy's 'linear' method does. Each estimate stays inside the true value's bucket, so its
    relative error is below 10^(1/per_decade) - 1. Vectorised over groups: one cumulative sum over all rows,
    each group's ranks offset by the rows before it.
    Returns keys, ops (exact), avg_ms (exact), and p<q>_ms per q (approximate, see percentiles_from_histogram).
    """
    cols = [*keys, "ops", "avg_ms"] + [f"p{round(q * 100):d}_ms" for q in qs]
    if df.empty:
        return pd.DataFrame(columns=cols)
    gid = df.groupby(list(keys), sort=False, dropna=False).ngroup().to_numpy() if keys else np.zeros(len(df), int)
    n = df["n"].to_numpy(dtype=np.float64)
    b = df["hist_bucket"].to_numpy(dtype=np.float64)
    cum = np.cumsum(n)
    first = np.r_[0, np.flatnonzero(np.diff(gid)) + 1]
    totals = np.add.reduceat(n, first)
    offset = np.r_[0.0, cum[first[1:] - 1]]
    sums = np.add.reduceat(df["sum_ms"].to_numpy(dtype=np.float64), first)

    def value_at(pos: np.ndarray) -> np.ndarray:
        k = np.searchsorted(cum, pos, side="right")
        before = np.where(k > 0, cum[np.maximum(k - 1, 0)], 0.0)
        return 10 ** ((b[k] + (pos - before + 0.5) / n[k]) / per_decade)

    out = df.iloc[first][list(keys)].reset_index(drop=True)
    out["ops"] = totals.astype(np.int64)
    out["avg_ms"] = sums / totals
    for q in qs:
        h = q * (totals - 1)
        lo = np.floor(h)
        hi = np.minimum(lo + 1, totals - 1)
        v_lo, v_hi = value_at(offset + lo), value_at(offset + hi)
        out[f"p{round(q * 100):d}_ms"] = v_lo + (h - lo) * (v_hi - v_lo)
    return out[cols]
