"""Heavy analyses of the warehouse's current data, computed once per collection and kept beside the warehouse.

Some analyses take seconds to minutes on a large warehouse (the advice's what-if cache replay, the alert backtest's
windowed figures), and every reader needs the same answer until new data lands. So each is computed right after a
collection (`memlens collect ...`, `memlens demo`) or by the first reader that finds none, and kept in
`<warehouse file>.<name>.pickle` together with the state it was computed from (`state`): a digest of the code that
computes it, the data's load key (event, run, quarantine, history and snapshot counts and the last ingest time) and
a digest of its inputs (the config, a time range). A reader whose state differs computes it again; so does one that
finds a file that cannot be read.

The files are written by memlens itself next to the warehouse (same owner, same trust) and replaced atomically; a
folder that is not writable only means the analysis is not kept (its reader still gets it).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pickle
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
# The analyses kept per collection: name (the file's <name>) -> the module whose refresh_after_collection(con, cfg,
# warehouse, progress) computes it unless it is current.
ANALYSES = {"advice": "memlens.optimize.stored_advice", "backtest": "memlens.alerts.kept_figures"}


def kept_file(warehouse: str | Path, name: str) -> Path:
    """Where the analysis `name` of the warehouse file `warehouse` is kept. A ClickHouse warehouse (a URL: a database
    on a server) keeps it in this host's user data folder, beside its collection lock (memlens.backend.lock_anchor)."""
    from memlens import backend

    anchor = backend.lock_anchor(backend.resolve(warehouse)) if backend.is_clickhouse(warehouse) else None
    return Path(f"{anchor if anchor is not None else warehouse}.{name}.pickle")


@cache
def code_digest(*packages: str) -> str:
    """Fingerprint of the code of `packages` (their .py and .sql files): another memlens version computes the
    analysis again (the kept objects are of its own classes)."""
    roots = [Path(importlib.import_module(p).__file__).parent for p in packages]
    files = sorted(p for root in roots for p in root.rglob("*") if p.suffix in (".py", ".sql"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def state(code: str, load_key: tuple, inputs: Any) -> tuple:
    """What a kept analysis depends on: its code (`code_digest`), the data (the dashboard's load key) and its inputs
    (anything with a stable repr: the config, figure parameters, a time range)."""
    return (code, tuple(load_key), hashlib.sha256(repr(inputs).encode()).hexdigest())


def stored(path: Path, state: tuple) -> Any | None:
    """The analysis kept in `path` when it was computed from `state`, else None."""
    try:
        with path.open("rb") as f:
            kept_state, value = pickle.load(f)  # written by memlens beside the warehouse (see above)
    except Exception:  # missing, damaged, or from another version: recomputed
        return None
    return value if kept_state == state else None


def keep(path: Path, state: tuple, value: Any) -> bool:
    """Write `value` computed from `state` to `path` (atomically); False when the folder is not writable (the value
    still serves this call)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump((state, value), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        return True
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return False


def current(path: Path, state: tuple, compute: Callable[[], T]) -> T:
    """The value kept in `path` when it is of `state`, else `compute()`d and kept."""
    value = stored(path, state)
    if value is None:
        value = compute()
        keep(path, state, value)
    return value


def report_to(stream: Any, name: str) -> Callable[[str], None]:
    """A progress callback printing one line per step of the analysis `name` to `stream` (stderr for the CLI)."""
    def report(step: str) -> None:
        print(f"{name}: {step}", file=stream, flush=True)
    return report


def refresh_after_collection(warehouse: str | Path, cfg: Any, stream: Any, quiet: bool = False) -> None:
    """Right after a collection: every kept analysis of the new data computed now, with the warehouse open read-only
    (the dashboard reads meanwhile), each step printed to `stream` unless `quiet`. A failure is reported and leaves
    that analysis to its first reader (the collection is done)."""
    from memlens.warehouse import open_warehouse

    for name, module in ANALYSES.items():
        try:
            with open_warehouse(warehouse, cfg, read_only=True) as con:
                importlib.import_module(module).refresh_after_collection(
                    con, cfg, warehouse, None if quiet else report_to(stream, name))
        except Exception as exc:
            print(f"{name}: not computed now ({type(exc).__name__}: {exc}); the first reader computes it",
                  file=stream)
