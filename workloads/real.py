"""`memlens workload`: the user mix against a real offline mem0.Memory, through the instrumentation.

The logs it writes hold real measured latencies of real Mem0 calls (local MiniLM embedder, in-process
Qdrant, infer=False); they are not marked demo. Mem0's own files live in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memlens import paths
from memlens.config import Config
from memlens.workloads.mix import MixReport, run_mix, run_mix_async
from memlens.workloads.offline_mem0 import EMBEDDING_MODEL, offline_memory


class SerialisedStore:
    """qdrant-client's local (in-process) mode is not thread-safe: a search racing an upsert can raise
    IndexError (its payload mask is shorter than the points array it just grew). A Qdrant server
    serialises that internally; this lock does the same for the offline store, so the errors in the
    workload's logs are Mem0's, not the stand-in store's. Waiting on it counts as latency, as a server's
    queue would."""

    def __init__(self, client: Any):
        self._client = client
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return locked


def serialise_local_store(memory: Any) -> None:
    """Put a lock around a Memory's in-process Qdrant client (no-op for any other store)."""
    store = getattr(memory, "vector_store", None)
    client = getattr(store, "client", None)
    if isinstance(client, SerialisedStore):
        return
    if client is not None and type(getattr(client, "_client", None)).__name__ == "QdrantLocal":
        store.client = SerialisedStore(client)


@dataclass
class WorkloadResult:
    report: MixReport
    log_files: list[Path]
    events_written: int
    seconds: float
    tag: str


def run_instrumented(cfg: Config, *, users: int, ops: int, seed: int, use_async: bool, out: Path,
                     cache_ttl_s: float | None = None, workdir: Path | None = None, progress: bool = True,
                     metrics: Any = None, threads: int = 4) -> WorkloadResult:
    """Build a real offline Memory, instrument it (writer, optional metrics and cache), run the mix."""
    from memlens.instrumentation import OpLogWriter, SearchCache, instrument

    tag = f"workload-{seed}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
    with tempfile.TemporaryDirectory(prefix="memlens-workload-") as tmp:
        memory = offline_memory(workdir or Path(tmp), async_=use_async)
        serialise_local_store(memory)
        cache = SearchCache(cache_ttl_s) if cache_ttl_s else None
        writer = OpLogWriter.from_config(cfg, log_dir=out)
        target = instrument(memory, writer=writer, metrics=metrics, cache=cache, tag=tag,
                            embedding_model=EMBEDDING_MODEL, cfg=cfg)
        bar = _bar(ops, use_async) if progress else None
        tick = bar.update if bar is not None else None
        t0 = time.perf_counter()
        try:
            if use_async:
                report = asyncio.run(run_mix_async(target, users=users, ops=ops, seed=seed, progress=tick))
            else:
                report = run_mix(target, users=users, ops=ops, seed=seed, threads=threads, progress=tick)
        finally:
            seconds = time.perf_counter() - t0
            if bar is not None:
                bar.close()
            writer.close()
            _close(memory)
    return WorkloadResult(report, list(writer.files), writer.events_written, seconds, tag)


def _bar(total: int, use_async: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="op", desc="mem0 " + ("async" if use_async else "sync"))


def _close(memory: Any) -> None:
    close = getattr(memory, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):  # closing the temporary store is best effort
            close()


def run_workload(args: argparse.Namespace, cfg: Config, warehouse_path: Path) -> int:
    if args.users <= 0 or args.ops <= 0:
        print("memlens workload: --users and --ops must be positive")
        return 2
    out = Path(args.out).expanduser() if args.out else paths.data_dir() / "workload-logs"
    cache_ttl = getattr(args, "cache_ttl", None)
    result = run_instrumented(cfg, users=args.users, ops=args.ops, seed=args.seed, use_async=args.use_async,
                              out=out, cache_ttl_s=cache_ttl)
    r = result.report
    print(f"{r.total} Mem0 calls by {args.users} users in {result.seconds:.1f} s "
          f"({r.total / result.seconds:.1f} ops/s), {sum(r.errors.values())} raised; "
          f"{result.events_written} events -> {out} (tag {result.tag})")
    print("  " + ", ".join(f"{op} {n}" + (f" ({r.errors[op]} err)" if r.errors[op] else "")
                           for op, n in sorted(r.issued.items())))
    if args.no_load:
        return 0
    from memlens import layer
    from memlens.collectors.oplog import collect_oplogs
    from memlens.warehouse import open_warehouse

    with open_warehouse(warehouse_path, cfg) as con:
        ingest = collect_oplogs(con, result.log_files, cfg, progress=True)
        print(ingest.summary())
        df = layer.with_total(con, "latency", layer.Filters(tag=result.tag), ("op",))
    if not df.empty:
        cols = [c for c in ("op", "ops", "errors", "avg_ms", "p50_ms", "p95_ms", "p99_ms") if c in df.columns]
        print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    return 0
