"""The advice of the warehouse's current data, computed once per collection and kept beside the warehouse.

The what-if cache replay and the memory analyses take seconds to tens of seconds on a large warehouse, and every
reader (the Optimize and Diagnosis pages, `memlens advise`) needs the same answer until new data lands. So it is
computed right after each collection (`memlens collect ...`, `memlens demo`) or by the first reader that finds none,
and kept in `<warehouse file>.advice.pickle` (memlens/kept.py: keyed by the data's load key, a digest of the config
and one of the code that computes it: the optimize package, the metric layer's SQL).
Only the default advice is kept (no vectors from a Mem0 store or the local model: those are computed per call).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from memlens import kept
from memlens.config import Config
from memlens.optimize.advise import Advice, CostAdvice, build_advice, build_cost_advice

ProgressFn = Callable[[str], None]


def advice_file(warehouse: str | Path) -> Path:
    return kept.kept_file(warehouse, "advice")


def data_state(con: duckdb.DuckDBPyConnection, cfg: Config) -> tuple:
    """What the advice depends on: the code, the data (the dashboard's load key), the config (prices, thresholds)."""
    from memlens.dashboard.data import load_key

    return kept.state(kept.code_digest("memlens.optimize", "memlens.sql"), load_key(con), cfg)


def stored(warehouse: str | Path, state: tuple) -> Advice | None:
    """The kept advice when it was computed from `state`, else None."""
    return kept.stored(advice_file(warehouse), state)


def current_advice(con: duckdb.DuckDBPyConnection, cfg: Config, warehouse: str | Path,
                   progress: ProgressFn | None = None) -> Advice:
    """The advice of the data in `con` (the warehouse file `warehouse`): the kept one when it is current, else
    computed (steps reported to `progress`) and kept."""
    return kept.current(advice_file(warehouse), data_state(con, cfg),
                        lambda: build_advice(con, cfg, progress=progress))


def current_cost_advice(con: duckdb.DuckDBPyConnection, cfg: Config, warehouse: str | Path) -> CostAdvice:
    """The cost levers of the data in `con`: those of the kept advice when it is current (no scan), else projected
    now by SQL alone (build_cost_advice: seconds on a large warehouse, not the advice's whole replay)."""
    advice = stored(warehouse, data_state(con, cfg))
    return advice.cost if advice is not None else build_cost_advice(con, cfg)


def refresh_after_collection(con: duckdb.DuckDBPyConnection, cfg: Config, warehouse: str | Path,
                             progress: ProgressFn | None = None) -> None:
    """Right after a collection: compute the advice of the new data unless it is kept already, so that the first
    visitor of the Optimize or Diagnosis page (and `memlens advise`) reads it instead of waiting for it."""
    if str(warehouse) == ":memory:":
        return
    current_advice(con, cfg, warehouse, progress)
