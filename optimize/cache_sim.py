"""Exact what-if cache replay of the search log: LRU hit ratio for every size, TTL hit ratio for every TTL.

A cached search is keyed like the reference's `mem0:search:{user_id}:{md5(query)}` plus the search args the
log records (agent/run scope, top_k, rerank, threshold). As in the reference's pattern, a successful write of
a user (add/update/delete/delete_all) invalidates that user's keys: here every key carries the user's
*generation* (writes seen so far), so a search after a write is a new key and starts with a miss.

- TTL, refresh-on-hit: a request hits iff the gap since the key's previous access is < TTL, so the whole
  curve is the distribution of those gaps (exact, one sort).
- TTL, fixed expiry after the miss that stored it (Redis SETEX): replayed per TTL, O(N) vectorised.
- LRU of size C: a request hits iff its stack distance (distinct keys touched since the key's previous
  access, itself included) is <= C; all stack distances come from one offline dominance count (a wavelet
  matrix in vectorised numpy, O(N log N); the same job a Fenwick tree over positions does per request).
  With invalidations the stale entries of a generation stay in the LRU until they age out: exact for a
  generation-stamped cache and a lower bound for one that deletes them (a freed slot can only add hits).
- Above `exact_max_requests` the LRU curve uses SHARDS fixed-rate spatial sampling; its error is measured
  on a prefix of the trace and reported with the curve.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from memlens.config import Config
from memlens.resources import read_sql

_SHARDS_MODULUS = 1 << 24
# Plots need a few hundred points, not millions.
_CURVE_POINTS = 200


@dataclass(frozen=True)
class SearchTrace:
    """Searches in time order, with the writes that invalidate a user's keys."""

    ts_ms: np.ndarray  # int64 UTC epoch milliseconds, non-decreasing
    key: np.ndarray  # int64 cache key id (user + query_hash + search args), before invalidation
    user: np.ndarray  # int64 user id of the search (for invalidation)
    latency_ms: np.ndarray  # float64 observed latency
    cost_usd: np.ndarray  # float64 priced cost of the call (stg_op_costs.total_cost_usd)
    served_by_cache: np.ndarray  # bool: the log says an existing cache served it (cache = 'hit')
    write_ts_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    write_user: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __post_init__(self) -> None:
        n = len(self.ts_ms)
        for name in ("key", "user", "latency_ms", "cost_usd", "served_by_cache"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"SearchTrace.{name} has {len(getattr(self, name))} rows, ts_ms has {n}")
        if len(self.write_ts_ms) != len(self.write_user):
            raise ValueError("SearchTrace.write_ts_ms and write_user differ in length")
        if n and np.any(np.diff(self.ts_ms) < 0):
            raise ValueError("SearchTrace.ts_ms must be sorted (searches in time order)")

    def __len__(self) -> int:
        return len(self.ts_ms)


def _dense(*columns: np.ndarray) -> np.ndarray:
    """Dense int64 ids of the row tuples (0..k-1), without building Python tuples."""
    n = len(columns[0])
    if n == 0:
        return np.zeros(0, np.int64)
    if len(columns) == 1:
        return np.unique(columns[0], return_inverse=True)[1].astype(np.int64).reshape(-1)
    order = np.lexsort(columns[::-1])
    change = np.zeros(n, bool)
    change[0] = True
    for col in columns:
        s = col[order]
        change[1:] |= s[1:] != s[:-1]
    ids = np.empty(n, np.int64)
    ids[order] = np.cumsum(change) - 1
    return ids


def generation_keys(trace: SearchTrace) -> np.ndarray:
    """Key ids (not dense) that change whenever the searching user wrote since (a write at the same ms counts)."""
    if len(trace) == 0:
        return np.zeros(0, np.int64)
    if len(trace.write_ts_ms) == 0:
        return trace.key.astype(np.int64)
    # Writes of the same user up to each search: searchsorted on (user, ts) packed in one sorted int64 axis,
    # with the searches' needles sorted first (sorted needles make numpy's binary searches cache-friendly).
    lo = min(int(trace.ts_ms.min()), int(trace.write_ts_ms.min()))
    span = max(int(trace.ts_ms.max()), int(trace.write_ts_ms.max())) - lo + 1
    users = np.concatenate([trace.user, trace.write_user]).astype(np.int64)
    if users.min() < 0 or (int(users.max()) + 1) * span >= 2**62:
        users = _dense(users)
    s_user, w_user = users[: len(trace)], users[len(trace):]
    packed_w = np.sort(w_user * span + (trace.write_ts_ms - lo))
    packed_s = s_user * span + (trace.ts_ms - lo)
    o = np.argsort(packed_s)
    gen = np.empty(len(trace), np.int64)
    gen[o] = (np.searchsorted(packed_w, packed_s[o], side="right")
              - np.searchsorted(packed_w, s_user[o] * span, side="left"))
    # Ids only need to be equal for equal (key, generation): pack both in one int64 when they fit, else densify.
    key = trace.key.astype(np.int64)
    lo_key, stride = int(key.min()), int(gen.max()) + 1
    if (int(key.max()) - lo_key + 1) * stride < 2**62:
        return (key - lo_key) * stride + gen
    return _dense(key, gen)


def key_order(gkey: np.ndarray) -> np.ndarray:
    """Requests grouped by key, in time order within a key (stable sort): shared by every replay below."""
    return np.argsort(gkey, kind="stable")


def reuse_gaps_ms(ts_ms: np.ndarray, gkey: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Milliseconds since the same key's previous request (NaN for its first request)."""
    order = key_order(gkey) if order is None else order
    k, t = gkey[order], ts_ms[order].astype(np.float64)
    gap = np.full(len(gkey), np.nan)
    same = np.zeros(len(gkey), bool)
    same[1:] = k[1:] == k[:-1]
    gs = np.full(len(gkey), np.nan)
    gs[1:] = t[1:] - t[:-1]
    gs[~same] = np.nan
    gap[order] = gs
    return gap


def refresh_ttl_hits(gaps_ms: np.ndarray, ttl_ms: float) -> np.ndarray:
    """Refresh-on-hit: hit iff the key was requested less than one TTL ago."""
    with np.errstate(invalid="ignore"):
        return gaps_ms < ttl_ms


@dataclass(frozen=True)
class ByKey:
    """Requests of keys asked more than once, grouped by key (time order within a key), shared by every
    fixed-expiry replay. A key asked once is a miss under any TTL, so it is left out of the replays."""

    order: np.ndarray  # trace positions of the kept requests, grouped
    k: np.ndarray
    heads: np.ndarray  # first request of every kept key (grouped positions)
    packed: np.ndarray  # (key, ms since the first request) in one sorted int64 axis
    span: int  # packing stride: larger than any time + max_ttl
    max_ttl: int  # ms: the longest TTL the packing allows

    @classmethod
    def build(cls, ts_ms: np.ndarray, gkey: np.ndarray, order: np.ndarray | None = None,
              max_ttl_ms: float = 0.0) -> ByKey:
        order = key_order(gkey) if order is None else order
        n = len(order)
        k = gkey[order]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]) if n else np.zeros(0, np.int64)
        sizes = np.diff(np.r_[starts, n])
        keep = np.repeat(sizes > 1, sizes)
        order, k = order[keep], k[keep]
        t = ts_ms[order].astype(np.int64)
        t = t - (int(t.min()) if len(t) else 0)
        max_ttl = int(np.ceil(max_ttl_ms))
        span = (int(t.max()) if len(t) else 0) + max_ttl + 2
        heads = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]) if len(k) else np.zeros(0, np.int64)
        return cls(order, k, heads, k * span + t, span, max_ttl)

    def fixed_misses(self, ttl_ms: float) -> np.ndarray:
        """Miss mask of the kept requests (grouped order): a miss stores until its time + TTL; the next miss
        is the key's first request at or after that. O(N) per TTL: one searchsorted of sorted needles, then
        the chains of misses are walked for all keys at once (one vectorised step per miss of the longest)."""
        n = len(self.k)
        miss = np.zeros(n, bool)
        ttl = int(np.ceil(ttl_ms))
        if ttl > self.max_ttl:
            raise ValueError(f"TTL {ttl_ms} ms exceeds max_ttl_ms={self.max_ttl} this grouping was built for")
        if n == 0:
            return miss
        nxt = np.searchsorted(self.packed, self.packed + ttl, side="left")
        ok = nxt < n
        ok[ok] = self.k[nxt[ok]] == self.k[ok]
        frontier = self.heads
        while frontier.size:
            miss[frontier] = True
            frontier = nxt[frontier[ok[frontier]]]
        return miss


def fixed_ttl_hits(ts_ms: np.ndarray, gkey: np.ndarray, ttl_ms: float) -> np.ndarray:
    """Fixed expiry (Redis SETEX on a miss): hit iff requested before the stored result's miss time + TTL."""
    by_key = ByKey.build(ts_ms, gkey, max_ttl_ms=ttl_ms)
    hit = np.zeros(len(gkey), bool)
    hit[by_key.order] = ~by_key.fixed_misses(ttl_ms)
    return hit


def prefix_count_less(y: np.ndarray, qi: np.ndarray, qv: np.ndarray) -> np.ndarray:
    """For each query k: #{r < qi[k] : y[r] < qv[k]} (non-negative ints). A wavelet matrix, vectorised.

    One pass per bit of the largest value: a stable 0/1 partition of the sequence and a prefix count of its
    zeros; every query narrows its range with two gathers. O((n + q) log n) in numpy, no Python loop per item.
    """
    n = len(y)
    top = max(int(y.max(initial=0)), int(qv.max(initial=0))).bit_length()
    cur = y.astype(np.int64)
    s = np.zeros(len(qi), np.int64)
    e = qi.astype(np.int64)
    res = np.zeros(len(qi), np.int64)
    zeros = np.zeros(n + 1, np.int64)
    for b in range(top - 1, -1, -1):
        bit = (cur >> b) & 1
        np.cumsum(1 - bit, out=zeros[1:])
        zs, ze = zeros[s], zeros[e]
        one = ((qv >> b) & 1).astype(bool)
        res += np.where(one, ze - zs, 0)  # values with this bit 0 (and the same higher bits) are smaller
        s = np.where(one, zeros[n] + s - zs, zs)
        e = np.where(one, zeros[n] + e - ze, ze)
        cur = np.concatenate([cur[bit == 0], cur[bit == 1]])
    return res


def stack_distances(gkey: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """LRU stack depth of each request (1 = the most recently used key); 0 for a key's first request.

    For a request at i whose key was last requested at p, the depth is the number of distinct keys in [p, i):
    (i - p) minus the requests r in (p, i) whose own previous request is >= p, which simplifies to
    #{r < i : prev(r) < p} - p (a first request has prev = -1). That is one offline 2-D dominance count for
    all requests at once (the job a Fenwick tree over positions does one request at a time).
    """
    n = len(gkey)
    if n == 0:
        return np.zeros(0, np.int64)
    order = key_order(gkey) if order is None else order
    prev_sorted = np.full(n, -1, np.int64)
    same = np.r_[False, gkey[order][1:] == gkey[order][:-1]]
    prev_sorted[same] = order[np.flatnonzero(same) - 1]
    prev = np.empty(n, np.int64)
    prev[order] = prev_sorted
    reuse = np.flatnonzero(prev >= 0)
    dist = np.zeros(n, np.int64)
    p = prev[reuse]
    dist[reuse] = prefix_count_less(prev + 1, reuse, p + 1) - p
    return dist


def lru_hit_counts(dist: np.ndarray, sizes: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Hits of an LRU of each size: requests with 1 <= distance * scale <= size."""
    d = np.sort(dist[dist > 0].astype(np.float64) * scale)
    return np.searchsorted(d, np.asarray(sizes, np.float64), side="right")


def shards_mask(gkey: np.ndarray, rate: float) -> np.ndarray:
    """SHARDS spatial sampling: keep every request of the keys whose hash falls under rate."""
    x = gkey.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):  # splitmix64 finaliser: wrapping multiplication is the point
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x % np.uint64(_SHARDS_MODULUS)) < np.uint64(int(rate * _SHARDS_MODULUS))


@dataclass(frozen=True)
class LruCurve:
    sizes: np.ndarray
    hit_rate: np.ndarray
    exact: bool
    sampling_rate: float | None = None
    sampling_error: float | None = None  # max |sampled - exact| over the sizes, measured on a prefix
    sampling_error_prefix: int | None = None


def lru_curve(gkey: np.ndarray, sizes: np.ndarray, exact_max: int, rate: float,
              dist: np.ndarray | None = None) -> LruCurve:
    """Hit ratio per LRU size: exact up to `exact_max` requests, SHARDS-sampled (error measured) beyond."""
    n = len(gkey)
    sizes = np.asarray(sizes, np.int64)
    if n == 0:
        return LruCurve(sizes, np.zeros(len(sizes)), True)
    if n <= exact_max:
        dist = stack_distances(gkey) if dist is None else dist
        return LruCurve(sizes, lru_hit_counts(dist, sizes) / n, True)

    def sampled(keys: np.ndarray) -> np.ndarray:
        m = shards_mask(keys, rate)
        sub = keys[m]
        if sub.size == 0:
            return np.zeros(len(sizes))
        return lru_hit_counts(stack_distances(sub), sizes, 1.0 / rate) / sub.size

    prefix = gkey[:exact_max]
    err = float(np.max(np.abs(sampled(prefix) - lru_hit_counts(stack_distances(prefix), sizes) / len(prefix))))
    return LruCurve(sizes, sampled(gkey), False, rate, err, len(prefix))


@dataclass(frozen=True)
class CacheWhatIf:
    requests: int
    distinct_keys: int  # generation keys: every one costs one compulsory miss
    writes: int
    max_hit_rate: float  # an infinite cache that is invalidated on writes
    target_hit_rate: float
    ttl_curve: pd.DataFrame  # ttl_s, refresh_hit_rate, fixed_hit_rate, fixed_hits, latency_saved_ms, cost_saved_usd
    refresh_curve: pd.DataFrame  # ttl_s, hit_rate: the exact refresh-on-hit step curve, downsampled for plots
    lru: LruCurve
    ttl_for_target_refresh_s: float | None  # exact smallest TTL reaching the target
    ttl_for_target_fixed_s: float | None  # smallest grid TTL reaching it
    lru_size_for_target: int | None
    avg_miss_latency_ms: float
    hit_latency_ms: float
    hit_latency_source: str  # "config" | "observed" | "assumed"
    recommended_ttl_s: float
    recommended_hits: int
    recommended_latency_saved_ms: float
    recommended_cost_saved_usd: float

    def lru_table(self) -> pd.DataFrame:
        return pd.DataFrame({"size": self.lru.sizes, "hit_rate": self.lru.hit_rate})


def _refresh_target_ttl_ms(finite: np.ndarray, target: float, n: int) -> float | None:
    """`finite`: the sorted reuse gaps. The smallest TTL with >= target * n gaps below it."""
    need = int(np.ceil(target * n - 1e-9))
    if need == 0:
        return 0.0
    if need > finite.size:
        return None
    return float(finite[need - 1] + 1.0)  # hit iff gap < TTL: one ms past the need-th smallest gap


def _lru_target_size(n: int, dist: np.ndarray | None, lru: LruCurve, target: float) -> int | None:
    """Exact smallest size from the distances when they are exact, else the first sampled size reaching it."""
    if n == 0:
        return None
    if dist is not None:
        d = np.sort(dist[dist > 0])
        need = int(np.ceil(target * n - 1e-9))
        if need == 0:
            return 0
        return int(d[need - 1]) if need <= d.size else None
    reached = np.flatnonzero(lru.hit_rate >= target)
    return int(lru.sizes[reached[0]]) if reached.size else None


def simulate(trace: SearchTrace, cfg: Config, lru_sizes: np.ndarray | None = None) -> CacheWhatIf:
    """Replay the trace under every TTL (both semantics) and every LRU size; savings at the recommended TTL."""
    c = cfg.optimize.cache
    target = cfg.targets.cache_hit_rate
    n = len(trace)
    gkey = generation_keys(trace)
    order = key_order(gkey)
    distinct = int(np.count_nonzero(np.diff(gkey[order]))) + 1 if n else 0
    gaps = reuse_gaps_ms(trace.ts_ms, gkey, order)
    finite = np.sort(gaps[~np.isnan(gaps)])  # refresh-on-hit: hits(TTL) = gaps below TTL, for every TTL

    uncached = ~trace.served_by_cache
    avg_miss = float(trace.latency_ms[uncached].mean()) if uncached.any() else 0.0
    if c.hit_latency_ms is not None:
        hit_ms, source = c.hit_latency_ms, "config"
    elif trace.served_by_cache.any():
        hit_ms, source = float(trace.latency_ms[trace.served_by_cache].mean()), "observed"
    else:
        hit_ms, source = c.assumed_hit_latency_ms, "assumed"
    per_hit_ms = max(avg_miss - hit_ms, 0.0)

    ttls = np.array(sorted(set(c.ttl_grid_s) | {c.recommended_ttl_s}), np.float64)
    rows = []
    rec = (0, 0.0)
    by_key = ByKey.build(trace.ts_ms, gkey, order, max_ttl_ms=float(ttls.max()) * 1000.0)
    cost_grouped = trace.cost_usd[by_key.order]
    for ttl in ttls:
        miss = by_key.fixed_misses(ttl * 1000.0)
        hits = len(miss) - int(miss.sum())
        cost = float(cost_grouped[~miss].sum())
        rows.append({
            "ttl_s": ttl,
            "refresh_hit_rate": int(np.searchsorted(finite, ttl * 1000.0, side="left")) / n if n else 0.0,
            "fixed_hit_rate": hits / n if n else 0.0,
            "fixed_hits": hits,
            "latency_saved_ms": hits * per_hit_ms,
            "cost_saved_usd": cost,
        })
        if ttl == c.recommended_ttl_s:
            rec = (hits, cost)
    ttl_curve = pd.DataFrame(rows)
    reached = ttl_curve.loc[ttl_curve["fixed_hit_rate"] >= target, "ttl_s"]

    if finite.size:
        picks = np.unique(np.linspace(0, finite.size - 1, min(_CURVE_POINTS, finite.size)).astype(np.int64))
        refresh_curve = pd.DataFrame({"ttl_s": (finite[picks] + 1.0) / 1000.0, "hit_rate": (picks + 1) / n})
    else:
        refresh_curve = pd.DataFrame({"ttl_s": [], "hit_rate": []})

    sizes = np.asarray(lru_sizes if lru_sizes is not None else _lru_plot_sizes(c.lru_sizes, distinct), np.int64)
    dist = stack_distances(gkey, order) if 0 < n <= c.exact_max_requests else None
    lru = lru_curve(gkey, sizes, c.exact_max_requests, c.shards_rate, dist)
    target_ttl_ms = _refresh_target_ttl_ms(finite, target, n) if n else None
    return CacheWhatIf(
        requests=n,
        distinct_keys=distinct,
        writes=len(trace.write_ts_ms),
        max_hit_rate=(n - distinct) / n if n else 0.0,
        target_hit_rate=target,
        ttl_curve=ttl_curve,
        refresh_curve=refresh_curve,
        lru=lru,
        ttl_for_target_refresh_s=None if target_ttl_ms is None else target_ttl_ms / 1000.0,
        ttl_for_target_fixed_s=float(reached.iloc[0]) if len(reached) else None,
        lru_size_for_target=_lru_target_size(n, dist, lru, target),
        avg_miss_latency_ms=avg_miss,
        hit_latency_ms=hit_ms,
        hit_latency_source=source,
        recommended_ttl_s=c.recommended_ttl_s,
        recommended_hits=rec[0],
        recommended_latency_saved_ms=rec[0] * per_hit_ms,
        recommended_cost_saved_usd=rec[1],
    )


def _lru_plot_sizes(configured: tuple[int, ...], distinct: int) -> np.ndarray:
    """The configured sizes plus a log-spaced sweep up to the number of keys (where the curve flattens)."""
    sweep = np.unique(np.logspace(0, np.log10(max(distinct, 1)), 60).astype(np.int64))
    return np.unique(np.concatenate([np.asarray(configured, np.int64), sweep]))


_SEARCHES_SQL = read_sql(__package__, "cache_sim_searches.sql")

_WRITES_SQL = read_sql(__package__, "cache_sim_writes.sql")


def load_trace(con: duckdb.DuckDBPyConnection, since: object = None, until: object = None) -> SearchTrace:
    """Searches (status ok, with a query hash) and user writes from the warehouse, optionally in [since, until)."""
    params = {"since": since, "until": until}
    s = con.execute(_SEARCHES_SQL, params).fetchnumpy()
    w = con.execute(_WRITES_SQL, params).fetchnumpy()
    users = np.concatenate([np.asarray(s["user_hash"], np.uint64), np.asarray(w["user_hash"], np.uint64)])
    user_ids = _dense(users.view(np.int64)) if users.size else np.zeros(0, np.int64)
    n = len(s["ts_ms"])
    return SearchTrace(
        ts_ms=np.asarray(s["ts_ms"], np.int64),
        key=_dense(np.asarray(s["key_hash"], np.uint64).view(np.int64)),
        user=user_ids[:n],
        latency_ms=np.asarray(s["latency_ms"], np.float64),
        cost_usd=np.asarray(s["cost_usd"], np.float64),
        served_by_cache=np.asarray(s["served_by_cache"], bool),
        write_ts_ms=np.asarray(w["ts_ms"], np.int64),
        write_user=user_ids[n:],
    )
