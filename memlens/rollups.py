"""Materialised rollups for dashboard speed at 10M events: build them, tell whether they are current, read
approximate percentiles from their latency histograms.

`refresh(con)` rebuilds the small tables defined in `sql/rollups/*.sql` (applied in name order, each file
one `CREATE OR REPLACE TABLE`, header comment with grain and columns): additive per-hour operation aggregates,
per-day cost aggregates (with user), and log-bucketed latency histograms per day and per hour. Collectors call
it after a load; `memlens demo` does too. Counts, sums, rates and costs re-aggregate exactly from them;
percentiles come from the histograms with a bounded relative error (`MAX_RELATIVE_ERROR`, 4.7 % at 50 buckets
per decade), or exactly from `stg_op_events` when a filter is narrow (pages choose).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from memlens.paths import SQL_DIR

ROLLUP_DIR = SQL_DIR / "rollups"
STATE_FILE = "090_agg_refresh_state.sql"
HIST_PER_DECADE = 50  # log-spaced latency buckets per decade of milliseconds
MAX_RELATIVE_ERROR = 10 ** (1 / HIST_PER_DECADE) - 1  # a bucket's width: bound on a percentile's error

# The config tables the rollups were priced/classified with; a different key means they must be rebuilt.
SETTINGS_KEY_SQL = """
SELECT md5(coalesce(string_agg(k, '|' ORDER BY k), '')) FROM (
    SELECT CAST(s AS VARCHAR) AS k FROM cfg_settings AS s
    UNION ALL SELECT CAST(p AS VARCHAR) FROM cfg_prices AS p)
"""

# Histogram rows matching the filters (NULL parameter = no filter), summed per bucket and requested group.
HIST_SQL = """
SELECT
    CASE WHEN $by_day THEN day END AS day,
    CASE WHEN $by_service THEN service END AS service,
    CASE WHEN $by_op THEN op END AS op,
    bucket, sum(n) AS n, sum(sum_ms) AS sum_ms
FROM agg_latency_hist_daily
WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
  AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op)
GROUP BY ALL
ORDER BY day, service, op, bucket
"""
GROUP_KEYS = ("day", "service", "op")


@dataclass(frozen=True)
class RefreshResult:
    seconds: float
    rows: dict[str, int]

    def summary(self) -> str:
        parts = ", ".join(f"{t} {n:,}" for t, n in self.rows.items())
        return f"rollups refreshed in {self.seconds:.2f} s ({parts})"


def rollup_files() -> list[Path]:
    return sorted(p for p in ROLLUP_DIR.glob("*.sql") if p.name != STATE_FILE)


def _table_name(path: Path) -> str:
    return path.stem.split("_", 1)[1]


def settings_key(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(SETTINGS_KEY_SQL).fetchone()[0]


def refresh(con: duckdb.DuckDBPyConnection) -> RefreshResult:
    """Rebuild every rollup table from the current warehouse in one transaction."""
    t0 = time.perf_counter()
    rows: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for path in rollup_files():
            text = path.read_text(encoding="utf-8")
            params = {"per_decade": HIST_PER_DECADE} if "$per_decade" in text else None
            try:
                con.execute(text, params)
            except duckdb.Error as exc:
                raise RuntimeError(f"sql/rollups/{path.name}: {exc}") from exc
            table = _table_name(path)
            rows[table] = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # name from our files
        seconds = time.perf_counter() - t0
        con.execute((ROLLUP_DIR / STATE_FILE).read_text(encoding="utf-8"),
                    {"settings_key": settings_key(con), "per_decade": HIST_PER_DECADE, "seconds": seconds})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return RefreshResult(time.perf_counter() - t0, rows)


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
    df = pd.DataFrame({"bucket": buckets, "n": counts, "sum_ms": 0.0}).sort_values("bucket")
    if df["n"].sum() <= 0:
        return np.full(len(qs), np.nan)
    row = grouped_percentiles(df, (), qs, per_decade).iloc[0]
    return row[[f"p{round(q * 100):d}_ms" for q in qs]].to_numpy(dtype=np.float64)


def grouped_percentiles(df: pd.DataFrame, keys: Sequence[str], qs: Sequence[float],
                        per_decade: int = HIST_PER_DECADE) -> pd.DataFrame:
    """Percentiles of many histograms at once. df: rows sorted by keys then bucket, with bucket, n, sum_ms.

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
    b = df["bucket"].to_numpy(dtype=np.float64)
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


def latency_percentiles(con: duckdb.DuckDBPyConnection, *, by: Sequence[str] = (),
                        start: date | datetime | None = None, end: date | datetime | None = None,
                        service: str | None = None, op: str | None = None,
                        qs: Sequence[float] = (0.5, 0.95, 0.99)) -> pd.DataFrame:
    """Approximate latency percentiles (exact ops and avg) from agg_latency_hist_daily.

    by: any of 'day', 'service', 'op' (one row per combination; () = one row over the filter). Filters cover
    whole UTC days [start's day, end's day). Columns: the `by` keys, ops, avg_ms, p50_ms, p95_ms, p99_ms (for
    the default qs). Each percentile's relative error is below MAX_RELATIVE_ERROR. For user/agent/model
    filters or hour resolution, use exact quantile_cont on the filtered raw rows (stg_op_events).
    """
    unknown = set(by) - set(GROUP_KEYS)
    if unknown:
        raise ValueError(f"by must be among {GROUP_KEYS}, got {sorted(unknown)}")
    keys = [k for k in GROUP_KEYS if k in by]
    df = con.execute(HIST_SQL, {"by_day": "day" in keys, "by_service": "service" in keys, "by_op": "op" in keys,
                                "start": start, "end": end, "service": service, "op": op}).df()
    per_decade = con.execute("SELECT per_decade FROM agg_refresh_state").fetchone()[0]
    return grouped_percentiles(df, keys, qs, per_decade)
