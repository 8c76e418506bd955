"""The advice of the warehouse's current data, computed once per collection and kept beside the warehouse.

The what-if cache replay and the memory analyses take seconds to tens of seconds on a large warehouse, and every
reader (the Optimize and Diagnosis pages, `memlens advise`) needs the same answer until new data lands. So it is
computed right after each collection (`memlens collect ...`, `memlens demo`) or by the first reader that finds none,
and kept in `<warehouse file>.advice.pickle` together with the state it was computed from: the data's load key
(event, run, quarantine, history and snapshot counts and the last ingest time), a digest of the config and one of
the code that computes it (the optimize package, the metric layer's SQL). A reader whose state differs computes it
again; so is a file that cannot be read.

The file is written by memlens itself next to the warehouse (same owner, same trust) and replaced atomically.
Only the default advice is kept (no vectors from a Mem0 store or the local model: those are computed per call).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from memlens.config import Config
from memlens.optimize.advise import Advice, build_advice

ProgressFn = Callable[[str], None]


def advice_file(warehouse: str | Path) -> Path:
    return Path(str(warehouse) + ".advice.pickle")


@cache
def code_digest() -> str:
    """Fingerprint of the code the advice comes from (another memlens version computes it again: the kept objects
    are of its own classes)."""
    import memlens.optimize
    import memlens.sql

    roots = [Path(memlens.optimize.__file__).parent, Path(memlens.sql.__file__).parent]
    files = sorted(p for root in roots for p in root.rglob("*") if p.suffix in (".py", ".sql"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def data_state(con: duckdb.DuckDBPyConnection, cfg: Config) -> tuple:
    """What the advice depends on: the data (the dashboard's load key), the config (prices, thresholds), the code."""
    from memlens.dashboard.data import load_key

    return (code_digest(), load_key(con), hashlib.sha256(repr(cfg).encode()).hexdigest())


def stored(warehouse: str | Path, state: tuple) -> Advice | None:
    """The kept advice when it was computed from `state`, else None."""
    path = advice_file(warehouse)
    try:
        with path.open("rb") as f:
            kept_state, advice = pickle.load(f)  # written by memlens beside the warehouse (see above)
    except Exception:  # damaged, or from another version: recomputed
        return None
    return advice if kept_state == state else None


def keep(warehouse: str | Path, state: tuple, advice: Advice) -> bool:
    """Write the advice for `state` (atomically); False when the folder is not writable (the advice still serves
    this call)."""
    path = advice_file(warehouse)
    try:
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump((state, advice), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        return True
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return False


def current_advice(con: duckdb.DuckDBPyConnection, cfg: Config, warehouse: str | Path,
                   progress: ProgressFn | None = None) -> Advice:
    """The advice of the data in `con` (the warehouse file `warehouse`): the kept one when it is current, else
    computed (steps reported to `progress`) and kept."""
    state = data_state(con, cfg)
    advice = stored(warehouse, state)
    if advice is None:
        advice = build_advice(con, cfg, progress=progress)
        keep(warehouse, state, advice)
    return advice


def refresh_after_collection(con: duckdb.DuckDBPyConnection, cfg: Config, warehouse: str | Path,
                             progress: ProgressFn | None = None) -> None:
    """Right after a collection: compute the advice of the new data unless it is kept already, so that the first
    visitor of the Optimize or Diagnosis page (and `memlens advise`) reads it instead of waiting for it."""
    if str(warehouse) == ":memory:":
        return
    current_advice(con, cfg, warehouse, progress)


def report_to(stream: Any) -> ProgressFn:
    """A progress callback printing one line per step to `stream` (stderr for the CLI)."""
    def report(step: str) -> None:
        print(f"advice: {step}", file=stream, flush=True)
    return report
