"""What the dashboard reads, and how: named, parameterised queries (dashboard/queries.sql) over the views.

Plain Python (no Streamlit) so it is tested directly. Filters become bound parameters; the only names a
caller picks are query names, checked against the sections of queries.sql.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from memlens.config import Config
from memlens.health import Measured, growth_over
from memlens.warehouse import connect

QUERIES_FILE = Path(__file__).with_name("queries.sql")
_SECTION = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_PARAM = re.compile(r"\$(\w+)")
MONTH_DAYS = 30  # "storage growth per month" = over the last 30 days of history


def _load_queries(text: str) -> dict[str, str]:
    parts = _SECTION.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


QUERIES: dict[str, str] = _load_queries(QUERIES_FILE.read_text(encoding="utf-8"))


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


def bootstrap(path: str | Path, cfg: Config, load_demo_if_empty: bool = True) -> Bootstrap:
    """Create/upgrade the warehouse (tables, views, config tables) and load the demo when it holds no events.

    Runs once per dashboard process before the read-only connection is opened: the views must exist in the
    file because a read-only connection cannot create them.
    """
    try:
        con = connect(path, cfg)
    except duckdb.Error as exc:
        raise WarehouseUnavailable(f"cannot open {path} for writing (is a collection running?): {exc}") from exc
    try:
        events = con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0]
        if events or not load_demo_if_empty:
            return Bootstrap(events, False, "")
        try:
            from workloads.demo import ensure_demo

            ensure_demo(con, cfg)
        except ImportError as exc:
            return Bootstrap(0, False, f"The demo workload could not be loaded ({exc}); collect your own logs.")
        events = con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0]
        return Bootstrap(events, events > 0, f"Loaded the demo workload ({events:,} events).")
    finally:
        con.close()


def load_key(con: duckdb.DuckDBPyConnection) -> tuple:
    """Changes whenever anything is loaded into the warehouse: part of every cached aggregate's key."""
    return tuple(con.execute(QUERIES["load_key"]).fetchone())


def filter_options(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    df = run(con, "filter_options")
    return {kind: list(dict.fromkeys(g["value"])) for kind, g in df.groupby("kind", sort=False)}


def summary(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, Any]:
    return summary_from(run(con, "summary", filters))


def summary_from(df: pd.DataFrame) -> dict[str, Any]:
    """The one-row `summary` result as a dict, with p50/p95/p99 split out of the quantile lists."""
    row = df.iloc[0].to_dict()
    for prefix, col in (("", "q"), ("search_", "search_q")):
        q = row.pop(col)
        q = list(q) if q is not None and not _isna(q) else [None, None, None]
        row[f"{prefix}p50_ms"], row[f"{prefix}p95_ms"], row[f"{prefix}p99_ms"] = q
    hits, misses = row["cache_hits"], row["cache_misses"]
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
