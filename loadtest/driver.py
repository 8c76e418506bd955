"""Drive N simulated users against one (instrumented) Mem0 client, with a live progress bar.

Thread mode: one OS thread per user calling a sync `Memory`/`MemoryClient` (torch and Qdrant release
the GIL in their hot loops, so users overlap). Async mode: one asyncio task per user awaiting an
`AsyncMemory`/`AsyncMemoryClient` on a single event loop. Each user runs until the deadline or its
fixed op count, pausing its think time between ops. Every issued call is recorded client-side
(`IssuedOp`) so the op log can be checked against what was really sent.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tqdm import tqdm

from memlens.loadtest.plan import OpRequest, UserPlan
from memlens.loadtest.scenario import SearchArgs

PROGRESS_TICK_S = 0.5


@dataclass(frozen=True)
class IssuedOp:
    user_id: str
    op: str
    text: str | None  # the query of a search (to match the log's query_hash)
    memory_id: str | None  # target of get/update/delete
    created_ids: tuple[str, ...]  # ids an add returned
    latency_ms: float
    ok: bool
    error_type: str | None


@dataclass
class PhaseResult:
    users: int
    started_at: datetime  # UTC
    finished_at: datetime
    wall_s: float
    issued: list[IssuedOp] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(not op.ok for op in self.issued)


def _kwargs(req: OpRequest, user_id: str, search: SearchArgs) -> tuple[tuple, dict[str, Any]]:
    """Positional and keyword arguments of one Mem0 call (same for OSS and Platform clients)."""
    scope = {"user_id": user_id}
    if req.op == "search":
        kw: dict[str, Any] = {"filters": scope, "top_k": search.top_k, "rerank": search.rerank}
        if search.threshold is not None:
            kw["threshold"] = search.threshold
        return (req.text,), kw
    if req.op == "add":
        return ([{"role": "user", "content": req.text}],), {"user_id": user_id, "infer": False}
    if req.op == "get_all":
        return (), {"filters": scope, "top_k": search.top_k}
    if req.op == "update":
        return (req.memory_id, req.text), {}
    return (req.memory_id,), {}  # get, delete


class _Counter:
    """Ops and errors done so far, read by the progress ticker (int updates under a lock)."""

    def __init__(self) -> None:
        self.ops = 0
        self.errors = 0
        self._lock = threading.Lock()

    def add(self, ok: bool) -> None:
        with self._lock:
            self.ops += 1
            self.errors += not ok


class _Progress:
    """A tqdm bar refreshed by a background thread: time-based for a duration run, op-based otherwise."""

    def __init__(self, counter: _Counter, label: str, duration_s: float | None, total_ops: int | None,
                 enabled: bool) -> None:
        self.counter, self.duration_s = counter, duration_s
        total = duration_s if duration_s is not None else total_ops
        unit = "s" if duration_s is not None else "op"
        self.bar = tqdm(total=total, desc=label, unit=unit, disable=not enabled, leave=True,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f}{unit} [{elapsed}] "
                                   "{postfix}")
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._tick, daemon=True, name="loadtest-progress")
        if enabled:
            self._thread.start()

    def _refresh(self) -> None:
        elapsed = time.monotonic() - self._t0
        done = elapsed if self.duration_s is not None else self.counter.ops
        self.bar.n = min(done, self.bar.total or done)
        self.bar.set_postfix_str(f"{self.counter.ops} ops, {self.counter.ops / max(elapsed, 1e-9):.1f} ops/s, "
                                 f"{self.counter.errors} errors", refresh=False)
        self.bar.refresh()

    def _tick(self) -> None:
        while not self._stop.wait(PROGRESS_TICK_S):
            self._refresh()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
            self._refresh()
        self.bar.close()


def _record(plan: UserPlan, req: OpRequest, result: Any, error: BaseException | None, latency_s: float) -> IssuedOp:
    created = tuple(plan.observe(req, result)) if error is None else ()
    return IssuedOp(plan.user_id, req.op, req.text if req.op == "search" else None, req.memory_id, created,
                    latency_s * 1000.0, error is None, type(error).__name__ if error else None)


def _user_done(n_done: int, ops_per_user: int | None, deadline: float | None) -> bool:
    if ops_per_user is not None and n_done >= ops_per_user:
        return True
    return deadline is not None and time.monotonic() >= deadline


def run_threads(client: Any, plans: list[UserPlan], search: SearchArgs, *, duration_s: float | None = None,
                ops_per_user: int | None = None, progress: bool = False, label: str = "load") -> PhaseResult:
    """Each plan in its own thread calling the sync `client` until the deadline or its op count."""
    _check_stop(duration_s, ops_per_user)
    counter = _Counter()
    results: list[list[IssuedOp]] = [[] for _ in plans]
    barrier = threading.Barrier(len(plans) + 1)
    deadline_box: list[float | None] = [None]

    def user(i: int, plan: UserPlan) -> None:
        barrier.wait()  # every user starts at the same instant
        out = results[i]
        while not _user_done(len(out), ops_per_user, deadline_box[0]):
            req = plan.next()
            args, kwargs = _kwargs(req, plan.user_id, search)
            result, error = None, None
            t0 = time.perf_counter()
            try:
                result = getattr(client, req.op)(*args, **kwargs)
            except Exception as exc:  # a load test counts failures, it does not stop on them
                error = exc
            out.append(_record(plan, req, result, error, time.perf_counter() - t0))
            counter.add(error is None)
            pause = _pause(plan, deadline_box[0])
            if pause:
                time.sleep(pause)

    threads = [threading.Thread(target=user, args=(i, p), name=f"loadtest-user-{i}", daemon=True)
               for i, p in enumerate(plans)]
    for t in threads:
        t.start()
    bar = _Progress(counter, label, duration_s, ops_per_user and ops_per_user * len(plans), progress)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    deadline_box[0] = t0 + duration_s if duration_s is not None else None
    barrier.wait()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    bar.close()
    return PhaseResult(len(plans), started, datetime.now(UTC), wall, [op for r in results for op in r])


def run_async(client: Any, plans: list[UserPlan], search: SearchArgs, runner: LoopRunner, *,
              duration_s: float | None = None, ops_per_user: int | None = None, progress: bool = False,
              label: str = "load") -> PhaseResult:
    """Each plan as an asyncio task awaiting the async `client` (AsyncMemory / AsyncMemoryClient)."""
    _check_stop(duration_s, ops_per_user)
    counter = _Counter()

    async def user(plan: UserPlan, deadline: float | None) -> list[IssuedOp]:
        out: list[IssuedOp] = []
        while not _user_done(len(out), ops_per_user, deadline):
            req = plan.next()
            args, kwargs = _kwargs(req, plan.user_id, search)
            result, error = None, None
            t0 = time.perf_counter()
            try:
                result = await getattr(client, req.op)(*args, **kwargs)
            except Exception as exc:
                error = exc
            out.append(_record(plan, req, result, error, time.perf_counter() - t0))
            counter.add(error is None)
            await asyncio.sleep(_pause(plan, deadline))  # also yields to the other users when think time is 0
        return out

    async def main() -> list[list[IssuedOp]]:
        deadline = time.monotonic() + duration_s if duration_s is not None else None
        return await asyncio.gather(*(user(p, deadline) for p in plans))

    bar = _Progress(counter, label, duration_s, ops_per_user and ops_per_user * len(plans), progress)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    per_user = runner.run(main())
    wall = time.monotonic() - t0
    bar.close()
    return PhaseResult(len(plans), started, datetime.now(UTC), wall, [op for r in per_user for op in r])


def _pause(plan: UserPlan, deadline: float | None) -> float:
    """The user's think time, cut at the deadline so a run does not overrun its duration."""
    pause = plan.think_s()
    return min(pause, max(0.0, deadline - time.monotonic())) if deadline is not None else pause


def _check_stop(duration_s: float | None, ops_per_user: int | None) -> None:
    if duration_s is None and ops_per_user is None:
        raise ValueError("give a duration or an op count per user")


class LoopRunner:
    """One event loop and one executor for every async call made on a target (preload, warm-up, runs).

    AsyncMemory runs each blocking step in the loop's default executor (asyncio.to_thread). A fresh loop
    per run would start fresh worker threads, and a thread's first embedding is slow (measured ~0.5-1.8 s
    on a busy 2-core box): that would land inside the measured run. Workers are sized for the users
    (the default, cpu + 4, would cap the calls actually in flight) and warmed before the first run.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loadtest-mem0"))

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()


def preload(client: Any, plans: list[UserPlan], n: int, runner: LoopRunner | None) -> None:
    """Give every user `n` memories before the measured phase (on the bare client: not in the run's log)."""
    if n <= 0:
        return
    reqs = [(p, OpRequest("add", text=p.fact())) for p in plans for _ in range(n)]
    if runner is not None:
        async def all_adds() -> None:
            for p, req in reqs:
                args, kwargs = _kwargs(req, p.user_id, SearchArgs())
                p.observe(req, await client.add(*args, **kwargs))

        runner.run(all_adds())
        return
    for p, req in reqs:
        args, kwargs = _kwargs(req, p.user_id, SearchArgs())
        p.observe(req, client.add(*args, **kwargs))


WARMUP_SEARCHES = 5


def warm_up(client: Any, plan: UserPlan, search: SearchArgs, runner: LoopRunner | None) -> None:
    """Untimed searches on the bare client: the first calls pay lazy initialisation (torch, Qdrant); in async
    mode as many at once as there are workers, so every executor thread has run one."""
    def call(i: int) -> Any:
        args, kwargs = _kwargs(OpRequest("search", text=f"warm-up question {i}"), plan.user_id, search)
        return client.search(*args, **kwargs)

    if runner is not None:
        async def searches() -> None:
            for _ in range(WARMUP_SEARCHES):
                await asyncio.gather(*(call(i) for i in range(runner.workers)))

        runner.run(searches())
        return
    for i in range(WARMUP_SEARCHES):
        call(i)
