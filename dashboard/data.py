"""What the dashboard reads, and how: the metric layer (memlens/layer.py) for every figure, and a few named
queries (dashboard/queries.sql) for what frames the pages (load key, data span, filter choices, Data sources).

Plain Python (no Streamlit) so it is tested directly. Filters are bound parameters; the only names a caller picks
are metric and query names, checked against sql/layer and the sections of queries.sql.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from memlens import backend, layer, rollups
from memlens.config import Config
from memlens.layer import ALL, EXACT, Filters, Speed
from memlens.resources import read_text
from memlens.warehouse import WarehouseError, connect

__all__ = ["ALL", "EXACT", "Filters", "Speed", "WarehouseUnavailable", "bootstrap", "load_key", "open_readonly",
           "run", "speed_for"]

_SECTION = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


def _load_queries(text: str) -> dict[str, str]:
    parts = _SECTION.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


QUERIES: dict[str, str] = _load_queries(read_text(__package__, "queries.sql"))


class WarehouseUnavailable(RuntimeError):
    """The warehouse file cannot be opened (locked by a writer, unreadable, corrupt)."""


def run(con: duckdb.DuckDBPyConnection, name: str, filters: Filters = ALL, **extra: Any) -> pd.DataFrame:
    """Run the page query `name` with the filters and extra parameters (e.g. limit=50) bound, never pasted."""
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


def options_query(speed: Speed) -> str:
    """The query of the sidebar's choices: read from the rollups when they are current (the same rows)."""
    return "filter_options_rollups" if speed.rollups_fresh else "filter_options"


def speed_for(con: duckdb.DuckDBPyConnection, events: int, cfg: Config) -> Speed:
    return layer.speed_for(con, events, cfg.dashboard.exact_percentile_max_events)


def open_readonly(path: str | Path) -> duckdb.DuckDBPyConnection:
    """The pages' connection: read-only. A ClickHouse warehouse (a URL) is opened through memlens.warehouse (its
    views live on the server); a DuckDB file directly (bootstrap put the views in it)."""
    if backend.is_clickhouse(path):
        try:
            return connect(path, read_only=True)
        except WarehouseError as exc:
            raise WarehouseUnavailable(str(exc)) from exc
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseUnavailable(f"cannot open {path} read-only: {exc}") from exc
    con.execute("SET TimeZone = 'UTC'")
    return con


@dataclass(frozen=True)
class Bootstrap:
    events: int
    demo_loaded: bool
    message: str


def bootstrap(path: str | Path, cfg: Config, load_demo_if_empty: bool = True,
              progress: Callable[[str, float], None] | None = None) -> Bootstrap:
    """Create/upgrade the warehouse (tables, views, config tables), bring the rollups up to date, and load the demo
    when it holds no events.

    Runs once per dashboard process before the read-only connection is opened: the views must exist in the
    file because a read-only connection cannot create them. `progress` (what is happening, share done) is
    called only while the demo loads.
    """
    if not load_demo_if_empty and not backend.exists(path):
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
        if events and not rollups.is_fresh(con):  # built by another memlens or config: the pages need them
            rollups.refresh(con)
        if not load_demo_if_empty:
            return Bootstrap(events, False, "")
        try:
            from memlens.collectors.base import writer_lock
            from memlens.workloads.demo import demo_state, ensure_demo

            state = demo_state(con)  # a demo stopped half-way is finished, not taken for a full one
            if state.holds_data and not state.unfinished:
                return Bootstrap(events, False, "")
            with writer_lock(backend.lock_anchor(backend.resolve(path)), "dashboard: first-start demo"):
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
