"""A real instrumented Mem0 process for the Prometheus end-to-end test (run as a subprocess).

    python tests/prom_e2e_worker.py PORT LOG_DIR WORKDIR MIN_SECONDS MAX_SECONDS

Builds a real offline mem0.Memory (MiniLM embedder, in-process Qdrant), instruments it with an op-log
writer, MemlensMetrics on the default registry (so process CPU/RSS are exported too) and a search cache,
serves /metrics on 127.0.0.1:PORT, prints READY, waits for a line on stdin (the test starts Prometheus
and lets it scrape the zero-valued series first), runs a mixed workload for at least MIN_SECONDS and
until it has MIN_CALLS searches and adds (or MAX_SECONDS have passed: the machine may be loaded),
flushes the log, prints DONE and keeps serving /metrics until it is terminated.
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from memlens.workloads.offline_mem0 import EMBEDDING_MODEL, offline_memory, prepare_offline_env  # noqa: E402

SERVICE = "e2e-mem0"
OPS = ("add", "search", "get_all", "update", "delete")
USERS = ("alice", "bob", "carol")
QUERIES = ("what does the user like to eat", "travel plans", "favourite programming language",
           "music taste", "where does the user live")
FACTS = ("likes {x} food", "plans a trip to {x}", "writes {x} every day", "listens to {x}", "lives near {x}")
MIN_CALLS = 25
WORDS = ("Lisbon", "Rust", "jazz", "Kyoto", "tapas", "Python", "the sea", "Oslo", "techno", "ramen")


def main() -> int:
    port, log_dir, workdir = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    min_s, max_s = float(sys.argv[4]), float(sys.argv[5])
    prepare_offline_env(workdir / "mem0home")
    from memlens.instrumentation import OpLogWriter, SearchCache, instrument
    from memlens.instrumentation.metrics import MemlensMetrics, start_metrics_server

    metrics = MemlensMetrics()
    # Zero-valued children for every series the workload will touch: Prometheus sees them at 0 before the
    # first call, so rate()/increase() count every observation (a series born at 3 would lose those 3).
    for op in OPS:
        infer = "false" if op == "add" else ""  # the workload adds with infer=False
        metrics.duration.labels(SERVICE, "oss", op, "sync", "ok", infer)
        metrics.ops.labels(SERVICE, "oss", op, "sync", "ok", infer)
    metrics.duration.labels(SERVICE, "oss", "search", "sync", "error", "")
    metrics.ops.labels(SERVICE, "oss", "search", "sync", "error", "")
    metrics.errors.labels(SERVICE, "oss", "search", "ValueError")
    for outcome in ("hit", "miss"):
        metrics.cache.labels(SERVICE, "search", outcome)
    metrics.tokens.labels(SERVICE, "embedding", EMBEDDING_MODEL)
    for event in ("add", "update", "delete"):
        metrics.changes.labels(SERVICE, event)
    server, _ = start_metrics_server(port)

    memory = offline_memory(workdir)
    writer = OpLogWriter(log_dir, service=SERVICE)
    mem = instrument(memory, writer=writer, metrics=metrics, cache=SearchCache(ttl_s=300), service=SERVICE,
                     embedding_model=EMBEDDING_MODEL)
    print("READY", flush=True)
    sys.stdin.readline()

    rng = random.Random(3)
    ids: dict[str, list[str]] = {u: [] for u in USERS}
    t0 = time.monotonic()
    calls = dict.fromkeys(OPS, 0)
    n = 0
    while True:
        elapsed = time.monotonic() - t0
        enough = calls["search"] >= MIN_CALLS and calls["add"] >= MIN_CALLS
        if elapsed >= max_s or (enough and elapsed >= min_s):
            break
        user = rng.choice(USERS)
        roll = rng.random()
        n += 1
        if roll < 0.30 or not ids[user]:
            text = rng.choice(FACTS).format(x=rng.choice(WORDS))
            out = mem.add([{"role": "user", "content": text}], user_id=user, infer=False)
            ids[user] += [r["id"] for r in out.get("results", [])]
            calls["add"] += 1
        elif roll < 0.80:
            mem.search(rng.choice(QUERIES), filters={"user_id": user}, top_k=5)
            calls["search"] += 1
        elif roll < 0.85:
            mem.get_all(filters={"user_id": user}, top_k=20)
        elif roll < 0.93:
            mem.update(rng.choice(ids[user]), rng.choice(FACTS).format(x=rng.choice(WORDS)))
        elif roll < 0.97:
            mem.delete(ids[user].pop(rng.randrange(len(ids[user]))))
        else:
            # A real Mem0 error (search without an entity id in filters): recorded, the workload goes on.
            with contextlib.suppress(Exception):
                mem.search(rng.choice(QUERIES), top_k=5)
    writer.flush()
    writer.close()
    print(f"DONE {n}", flush=True)
    try:
        while True:
            time.sleep(1)
    finally:
        server.shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
