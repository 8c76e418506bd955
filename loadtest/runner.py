"""One invocation of loadtest/benchmark/compare: build the Mem0 targets, run the measured phases, store them.

A `Session` owns the op-log folder of the invocation and one `OpLogWriter`. Each measured phase is a
run with its own id, used as the `tag` of every event the instrumented client writes, so the
warehouse can tell runs apart. At the end the logs are collected into the warehouse, the runs are
recorded in `raw_loadtest_runs`, and the figures are read back from the metric layer (run_figures): what the
command prints is what the dashboard shows.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from memlens.config import Config
from memlens.loadtest.driver import LoopRunner, PhaseResult, preload, run_async, run_threads, warm_up
from memlens.loadtest.plan import UserPlan
from memlens.loadtest.scenario import Scenario, ScenarioError
from memlens.resources import read_sql

PRELOAD_ROUND = 0  # preload draws from its own seeded stream; measured rounds are 1, 2, ...


def new_group_id(kind: str) -> str:
    return f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def build_client(scenario: Scenario, workdir: Path) -> tuple[Any, str | None]:
    """The bare Mem0 client the scenario names, and the embedding model name to price it by."""
    target, is_async = scenario.mem0, scenario.mode == "async"
    if target.backend == "platform":
        key = os.environ.get(target.api_key_env)
        if not key:
            raise ScenarioError(f"scenario {scenario.name}: mem0.api_key_env: ${target.api_key_env} is not set")
        from mem0 import AsyncMemoryClient, MemoryClient

        return (AsyncMemoryClient if is_async else MemoryClient)(api_key=key), None
    from memlens.workloads.offline_mem0 import EMBEDDING_MODEL, offline_config, prepare_offline_env

    prepare_offline_env(workdir / "mem0home")  # telemetry off before mem0 is imported
    from mem0 import AsyncMemory, Memory

    if target.backend == "offline":
        config, model = offline_config(workdir, vector_store=target.vector_store), EMBEDDING_MODEL
    else:
        config, model = dict(target.config or {}), None  # the instrumentation reads the model from mem0's config
    if target.reranker:
        config["reranker"] = target.reranker
    return (AsyncMemory if is_async else Memory).from_config(config), model


def build_cache(scenario: Scenario) -> Any:
    c = scenario.cache
    if not c.enabled:
        return None
    from memlens.instrumentation.cache import RedisSearchCache, SearchCache

    if c.backend == "memory":
        return SearchCache(c.ttl_s, c.max_entries)
    url = os.environ.get(c.redis_url_env)
    if not url:
        raise ScenarioError(f"scenario: cache.redis_url_env: ${c.redis_url_env} is not set")
    import redis

    return RedisSearchCache(redis.Redis.from_url(url), c.ttl_s)


class Target:
    """A scenario's Mem0 client, its users and the memories each user owns (kept across runs)."""

    def __init__(self, scenario: Scenario, workdir: Path, user_prefix: str) -> None:
        self.scenario = scenario
        self.is_async = scenario.mode == "async"
        self.client, self.embedding_model = build_client(scenario, workdir)
        self.user_prefix = user_prefix
        self.owned: dict[str, list[str]] = {}
        self.runner: LoopRunner | None = None  # async mode: made at the first ensure_users, sized for its users

    def user_id(self, index: int) -> str:
        return f"{self.user_prefix}-u{index:03d}"

    def ensure_users(self, users: int) -> None:
        """Preload the users not seen yet (bare client: preload calls are not part of any run)."""
        new = [i for i in range(users) if self.user_id(i) not in self.owned]
        plans = [UserPlan(self.user_id(i), self.scenario.mix, self.scenario.seed, PRELOAD_ROUND, i,
                          self.owned.setdefault(self.user_id(i), [])) for i in new]
        if self.is_async and self.runner is None:
            # AsyncMemory may run a call's steps in parallel threads: two workers per user, plus one
            self.runner = LoopRunner(2 * users + 1)
        preload(self.client, plans, self.scenario.mix.preload_memories, self.runner)
        if plans:
            warm_up(self.client, plans[0], self.scenario.search, self.runner)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()
            self.runner = None

    def plans(self, users: int, round_no: int) -> list[UserPlan]:
        self.ensure_users(users)
        s = self.scenario
        return [UserPlan(self.user_id(i), s.mix, s.seed, round_no, i, self.owned[self.user_id(i)])
                for i in range(users)]


@dataclass
class RunRecord:
    run_id: str
    kind: str
    scenario: Scenario
    users: int
    phase: PhaseResult
    variant: str | None = None
    round_no: int | None = None
    duration_s: float | None = None
    ops_per_user: int | None = None


@dataclass
class Session:
    """The runs of one invocation, their op logs and where they are stored."""

    kind: str
    cfg: Config
    log_root: Path
    progress: bool = False
    group_id: str = ""
    runs: list[RunRecord] = field(default_factory=list)
    _writer: Any = None
    _workdir: tempfile.TemporaryDirectory | None = None
    _targets: list[Target] = field(default_factory=list)

    def __post_init__(self) -> None:
        from memlens.instrumentation import OpLogWriter

        self.group_id = self.group_id or new_group_id(self.kind)
        self.log_dir = Path(self.log_root) / self.group_id
        ic = self.cfg.instrumentation
        self._writer = OpLogWriter(self.log_dir, service=f"memlens-{self.kind}", rotate_bytes=ic.rotate_bytes,
                                   flush_every=ic.flush_every, flush_seconds=ic.flush_seconds)
        self._workdir = tempfile.TemporaryDirectory(prefix="memlens-loadtest-")

    def target(self, scenario: Scenario, variant: str | None = None) -> Target:
        sub = Path(self._workdir.name) / (variant or "main")
        prefix = f"mlt-{self.group_id.rsplit('-', 1)[-1]}" + (f"-{variant}" if variant else "")
        target = Target(scenario, sub, prefix)
        self._targets.append(target)
        return target

    def run(self, target: Target, users: int, *, round_no: int = 1, duration_s: float | None = None,
            ops_per_user: int | None = None, variant: str | None = None, kind: str | None = None,
            label: str | None = None) -> RunRecord:
        from memlens.instrumentation import instrument

        run_id = f"{self.group_id}-{len(self.runs) + 1:02d}"
        plans = target.plans(users, round_no)
        client = instrument(target.client, writer=self._writer, cache=build_cache(target.scenario),
                            service=f"memlens-{self.kind}", tag=run_id, embedding_model=target.embedding_model,
                            cfg=self.cfg)
        label = label or f"{run_id} {users} users"
        if target.runner is not None:
            phase = run_async(client, plans, target.scenario.search, target.runner, duration_s=duration_s,
                              ops_per_user=ops_per_user, progress=self.progress, label=label)
        else:
            phase = run_threads(client, plans, target.scenario.search, duration_s=duration_s,
                                ops_per_user=ops_per_user, progress=self.progress, label=label)
        rec = RunRecord(run_id, kind or self.kind, target.scenario, users, phase, variant, round_no,
                        duration_s, ops_per_user)
        self.runs.append(rec)
        return rec

    def store(self, con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        """Collect this session's logs, record its runs, and return their run_figures rows (run order)."""
        from memlens import __version__
        from memlens.collectors.oplog import collect_oplogs

        self._writer.flush()
        collect_oplogs(con, [self.log_dir], self.cfg)
        rows = [(r.run_id, self.group_id, r.kind, r.scenario.name, r.scenario.config_hash(), r.variant, r.round_no,
                 r.users, r.scenario.mode, r.scenario.mem0.backend, r.scenario.cache.enabled,
                 r.scenario.search.top_k, r.scenario.search.rerank, r.scenario.seed, r.duration_s, r.ops_per_user,
                 _naive_utc(r.phase.started_at), _naive_utc(r.phase.finished_at), r.phase.wall_s,
                 len(r.phase.issued), r.phase.errors, r.scenario.model_dump_json(), __version__)
                for r in self.runs]
        con.executemany(read_sql(__package__, "insert_run.sql"), rows)
        return run_summaries(con, [r.run_id for r in self.runs])

    def close(self) -> None:
        for target in self._targets:
            target.close()
        self._writer.close()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _naive_utc(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(tzinfo=None)


def run_summaries(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> pd.DataFrame:
    """The figures of these runs (memlens.loadtest.run_figures), in the given order (a run with no logged event is
    absent)."""
    from memlens.loadtest.run_figures import run_figures

    df = run_figures(con, run_ids)
    order = {rid: i for i, rid in enumerate(run_ids)}
    return df.sort_values("tag", key=lambda s: s.map(order)).reset_index(drop=True)
