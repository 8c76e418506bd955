"""What-if cache simulator at 1M and 10M searches, dedup scan of 1M memories: medians and baseline ratios.

    .venv/bin/python bench/optimize_bench.py                       # 1M and 10M searches, 1M memories
    .venv/bin/python bench/optimize_bench.py --sizes 100000 --memories 10000 --repeat 1   # smoke run

Synthetic trace: users ~ n/100, each asking a Zipf-distributed set of queries, ~1 s mean gaps, a write
(invalidation) for every 10 searches. Reported per size (median of --repeat runs):
- the curves alone: generation keys, the TTL curve (every TTL of the grid) and the LRU curve (every size);
- simulate(): the whole what-if, exact (generation keys, the fixed-expiry TTL curve on the config grid, the LRU
  curve from exact stack distances, and the exact SearchCache replay at the configured TTL and size, reported on
  its own too; this trace has no `could_be_served` column, so simulate() replays once more without bounds);
- LRU stack distances alone (exact, every size at once), against a baseline measured in the same run: a
  brute-force OrderedDict LRU replay of one size on a 200k-request prefix, extrapolated per request and
  multiplied by the number of sizes on the curve (one replay per size is what brute force needs);
- dedup: per-owner cosine GEMM over 1M random 384-d vectors (~100 per owner) vs a global all-pairs GEMM
  of a 10k subset extrapolated quadratically (what an unblocked scan would cost).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from memlens.config import load_config
from memlens.optimize.cache_sim import (
    SearchTrace,
    fixed_expiry_counts,
    generation_keys,
    lru_hit_counts,
    lru_stream,
    replay,
    simulate,
    stack_distances,
)
from memlens.optimize.dedup import near_duplicate_pairs

BASELINE_PREFIX = 200_000
GLOBAL_SUBSET = 10_000


def make_trace(n: int, seed: int = 1) -> SearchTrace:
    rng = np.random.default_rng(seed)
    users = max(n // 100, 1)
    user = rng.integers(0, users, n)
    query = rng.zipf(1.3, n) % 500
    start = np.cumsum(rng.exponential(1e9, n)).astype(np.int64)  # ns, ~1 s apart
    latency = rng.gamma(2.0, 30.0, n)
    w = n // 10
    # keys numbered as load_trace numbers them (dense, in order of first appearance; that hashing is load time)
    key = pd.factorize(user * 1000 + query)[0].astype(np.int64)
    return SearchTrace(start_ns=start, end_ns=start + (latency * 1e6).astype(np.int64), key=key,
                       group=user, service=np.zeros(n, np.int64), ok=np.ones(n, bool), latency_ms=latency,
                       cost_usd=np.full(n, 2e-7), served_by_cache=np.zeros(n, bool),
                       inv_end_ns=np.sort(rng.integers(0, int(start[-1]), w)), inv_group=rng.integers(0, users, w),
                       inv_service=np.zeros(w, np.int64))


def brute_lru_per_request(keys: np.ndarray, size: int) -> float:
    cache: OrderedDict = OrderedDict()
    t = time.perf_counter()
    for k in keys.tolist():
        if k in cache:
            cache.move_to_end(k)
        else:
            cache[k] = True
            if len(cache) > size:
                cache.popitem(last=False)
    return (time.perf_counter() - t) / len(keys)


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds (CPU: this process, all threads; the machine may be shared and loaded)."""
    out, wall, cpu = None, [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000], help="none: dedup only")
    ap.add_argument("--memories", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cfg = load_config()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times inflate with it)")
    print(f"{len(cfg.optimize.cache.ttl_grid_s)} fixed-expiry TTLs; LRU curve exact (stack distances)")
    t = time.perf_counter()
    simulate(make_trace(1000), cfg)
    print(f"compiled loops ready in {time.perf_counter() - t:.2f} s (loaded from numba's cache, or compiled once)")
    for n in args.sizes:
        trace = make_trace(n)
        gkey = generation_keys(trace)
        sim_s, sim_cpu, res = timed(lambda tr=trace: simulate(tr, cfg), args.repeat)
        ttls = np.array(sorted(set(cfg.optimize.cache.ttl_grid_s)), np.float64)

        def curves(tr: SearchTrace = trace, ttls: np.ndarray = ttls, sizes: np.ndarray = res.lru.sizes) -> None:
            g = generation_keys(tr)
            fixed_expiry_counts(tr, g, ttls, ~tr.served_by_cache)
            lru_hit_counts(stack_distances(lru_stream(tr, g)), sizes)

        cur_s, cur_cpu, _ = timed(curves, args.repeat)
        dist_s, dist_cpu, _ = timed(lambda g=gkey: stack_distances(g), args.repeat)
        rep_s, rep_cpu, _ = timed(lambda tr=trace, c=cfg.optimize.cache: replay(tr, c.recommended_ttl_s,
                                                                                  c.max_entries), args.repeat)
        prefix = gkey[:BASELINE_PREFIX]
        one = brute_lru_per_request(prefix, 1000) * n
        k = len(res.lru.sizes)
        print(f"\n{n:>12,} searches ({res.distinct_keys:,} keys, {res.writes:,} writes)")
        print(f"  curves: every TTL + every size  median {cur_s:8.2f} s wall, {cur_cpu:8.2f} s CPU")
        print(f"  simulate() whole what-if        median {sim_s:8.2f} s wall, {sim_cpu:8.2f} s CPU")
        print(f"  exact replay at one TTL + size  median {rep_s:8.2f} s wall, {rep_cpu:8.2f} s CPU "
              f"({n / rep_s / 1e6:.2f} M req/s)")
        print(f"  stack distances, every size     median {dist_s:8.2f} s wall, {dist_cpu:8.2f} s CPU "
              f"({n / dist_s / 1e6:.2f} M req/s)")
        print(f"  baseline: OrderedDict replay   ~{one:8.2f} s per size (extrapolated from {len(prefix):,}), "
              f"x {k} curve sizes = {one * k:.2f} s; stack distances: {one * k / dist_s:.1f}x faster")
    # Dedup scan
    m = args.memories
    rng = np.random.default_rng(2)
    vecs = rng.normal(size=(m, 384)).astype(np.float32)
    owners = rng.integers(0, max(m // 100, 1), m)
    scan_s, scan_cpu, pairs = timed(lambda: near_duplicate_pairs(owners, vecs, 0.85, 0.95), args.repeat)
    sub = min(GLOBAL_SUBSET, m)
    glob_s, _, _ = timed(lambda: near_duplicate_pairs(np.zeros(sub, np.int64), vecs[:sub], 0.85, 0.95), 1)
    glob_full = glob_s * (m / sub) ** 2
    print(f"\ndedup: {m:,} memories x 384-d, {len(np.unique(owners)):,} owners, {len(pairs)} pairs >= 0.85")
    print(f"  per-owner GEMM scan             median {scan_s:8.2f} s wall, {scan_cpu:8.2f} s CPU")
    print(f"  baseline: global all-pairs     ~{glob_full:8.2f} s   (from {sub:,} memories, x (n/{sub:,})^2); "
          f"blocking is {glob_full / scan_s:.0f}x faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
