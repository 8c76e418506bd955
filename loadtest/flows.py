"""The three commands as plain functions: load test (with ramp), benchmark, A/B comparison.

Each runs its measured phases in a `Session`, stores them in the warehouse, and returns the
`run_figures` rows (the metric layer per run) plus the per-run log checks; `loadtest.report` turns them
into text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from memlens.config import Config
from memlens.instrumentation.events import IdHasher
from memlens.loadtest.logcheck import LogCheck, check_run_log
from memlens.loadtest.runner import Session
from memlens.loadtest.scenario import Scenario
from memlens.loadtest.stats import COMPARED_METRICS, RatioSpread, ramp_levels, ratio_spread

# Scenario fields that define the workload: a comparison applies A's to both sides. (`mode`, sync Memory vs
# AsyncMemory, is a client choice and stays each side's own: thread vs async is a fair question to compare.)
WORKLOAD_FIELDS = ("seed", "users", "ops_per_user", "mix")


@dataclass
class FlowResult:
    group_id: str
    summary: pd.DataFrame  # run_figures rows, in run order
    checks: dict[str, LogCheck]  # run_id -> log check
    notes: list[str]


def _finish(session: Session, con: duckdb.DuckDBPyConnection, notes: list[str]) -> FlowResult:
    summary = session.store(con)
    # ids in the log are salted hashes when the config says so: hash the issued ones the same way
    hasher = IdHasher(os.environ.get("MEMLENS_ID_SALT") if session.cfg.instrumentation.hash_user_ids else None)
    checks = {r.run_id: check_run_log(con, r.run_id, r.phase.issued, hasher) for r in session.runs}
    return FlowResult(session.group_id, summary, checks, notes)


def run_loadtest(con: duckdb.DuckDBPyConnection, cfg: Config, scenario: Scenario, log_root: Path, *,
                 users: int, duration_s: float, ramp: bool = False, progress: bool = False) -> FlowResult:
    """N users for duration_s; with `ramp`, first 1, 2, 4, ... users for duration_s each, N last."""
    levels = ramp_levels(users) if ramp else [users]
    with Session("loadtest", cfg, log_root, progress=progress) as session:
        target = session.target(scenario)
        target.ensure_users(users)  # preload everyone first, so every ramp step starts from the same data size
        for step, n in enumerate(levels, 1):  # each step its own seeded stream (round = step)
            session.run(target, n, round_no=step, duration_s=duration_s, kind="ramp" if n != users else "loadtest",
                        label=f"{n} user{'s' if n > 1 else ''}")
        return _finish(session, con, [])


def workload_of(a: Scenario, b: Scenario) -> tuple[Scenario, list[str]]:
    """B with A's workload (seed, users, op count, mix): a comparison changes the config, not the load."""
    update = {f: getattr(a, f) for f in WORKLOAD_FIELDS}
    notes = [f"B's {f} ({getattr(b, f)!r}) replaced by A's ({getattr(a, f)!r}): same workload on both"
             for f in WORKLOAD_FIELDS if getattr(b, f) != getattr(a, f) and f != "mix"]
    if b.mix != a.mix:
        notes.append("B's mix replaced by A's: same workload on both")
    return b.model_copy(update=update), notes


def run_compare(con: duckdb.DuckDBPyConnection, cfg: Config, a: Scenario, b: Scenario, log_root: Path, *,
                rounds: int | None = None, kind: str = "compare", progress: bool = False) -> FlowResult:
    """A and B alternately (A1 B1 A2 B2 ...), each round the same seeded op stream on both."""
    b, notes = workload_of(a, b)
    rounds = rounds or a.rounds
    with Session(kind, cfg, log_root, progress=progress) as session:
        targets = {"A": session.target(a, "A"), "B": session.target(b, "B")}
        for t in targets.values():
            t.ensure_users(a.users)
        for r in range(1, rounds + 1):
            for variant, t in targets.items():
                session.run(t, a.users, round_no=r, ops_per_user=a.ops_per_user, variant=variant,
                            label=f"round {r}/{rounds} {variant}={t.scenario.name}")
        return _finish(session, con, notes)


def run_benchmark(con: duckdb.DuckDBPyConnection, cfg: Config, scenario: Scenario, log_root: Path, *,
                  rounds: int | None = None, progress: bool = False) -> FlowResult:
    """The scenario without (A) and with (B) the instrumented search cache, alternately, fixed op counts."""
    cache = scenario.cache
    a = scenario.model_copy(update={"name": f"{scenario.name}.no-cache",
                                    "cache": cache.model_copy(update={"enabled": False})})
    b = scenario.model_copy(update={"name": f"{scenario.name}.cache",
                                    "cache": cache.model_copy(update={"enabled": True})})
    return run_compare(con, cfg, a, b, log_root, rounds=rounds, kind="benchmark", progress=progress)


def ratios(summary: pd.DataFrame, seed: int = 0) -> list[RatioSpread]:
    """Per metric, B/A over the rounds of a comparison (rows paired by round)."""
    a = summary[summary["variant"] == "A"].sort_values("round")
    b = summary[summary["variant"] == "B"].sort_values("round")
    paired = a.merge(b, on="round", suffixes=("_a", "_b"))
    out = []
    for metric in COMPARED_METRICS:
        av = [None if pd.isna(v) else float(v) for v in paired[f"{metric}_a"]]
        bv = [None if pd.isna(v) else float(v) for v in paired[f"{metric}_b"]]
        out.append(ratio_spread(metric, av, bv, seed=seed))
    return out
