"""What-if cache replay of the search log, with the rules of the instrumented SearchCache.

Which searches a cache looks up, how it keys them and which writes drop which keys are not decided here: the
staged views `stg_cache_lookups` and `stg_cache_invalidations` state them once (the rules of
`instrumentation/cache.py` and `wrap.py`: a search needs a user and plain user/agent/run scope, keys carry the
search args as applied, one cache per service, a user's write drops that user's keys when it returns). This
module replays those searches:

- `replay(trace, ttl_s, max_entries)`: the SearchCache itself, exactly: a lookup when the search starts, a
  successful miss stores its result when it returns and expires `ttl_s` later (no refresh on a hit), an LRU of
  `max_entries` (expired entries hold their slot until looked up or evicted), invalidation *deletes* the
  user's entries (freeing slots). A Python loop over the calls in the order they happened; the instrumented
  cache measures exactly these hits on the same log (tests/test_cache_replay_real.py).
- TTL curve: the same cache without a size bound, for every TTL of the grid, vectorised (equal to `replay`
  with `max_entries=None` when a user's calls in a service do not overlap in time).
- LRU curve: a cache that never expires, for every size at once from LRU stack distances (a wavelet matrix in
  vectorised numpy, O(N log N)). Here an invalidated entry keeps its slot until evicted (generation-stamped
  keys): a lower bound for the deleting cache, which `replay` gives exactly at one size. Failed searches are
  misses that store nothing and are left out of the stacks. Above `exact_max_requests` SHARDS sampling is
  used; its error is measured on a prefix of the trace and reported with the curve.
- `could_be_served` (from `stg_cache_lookups`): what a cache that never expires and never fills would serve,
  the ceiling of every TTL and size above and of what any real cache in front of these searches measured.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from memlens.config import Config
from memlens.resources import read_sql

_SHARDS_MODULUS = 1 << 24
_NS_PER_S = 1_000_000_000
# Plots need a few hundred points, not millions.
_CURVE_POINTS = 200


def _zeros_i() -> np.ndarray:
    return np.zeros(0, np.int64)


@dataclass(frozen=True)
class SearchTrace:
    """Cacheable searches in the order they started (ties in log order), and the invalidations of the caches in
    front of them. Times are epoch nanoseconds. At one instant, calls that return come before calls that start
    (a call that returns at t started before t), and an invalidation before a store."""

    start_ns: np.ndarray  # int64, non-decreasing
    end_ns: np.ndarray  # int64 start + latency: when a miss stores its result
    key: np.ndarray  # int64 cache key id (includes the service: one cache per service)
    group: np.ndarray  # int64 (service, user) id: whose write drops this key
    service: np.ndarray  # int64 service id
    ok: np.ndarray  # bool: only a successful miss stores its result
    latency_ms: np.ndarray  # float64 observed latency
    cost_usd: np.ndarray  # float64 priced cost of the call (stg_op_costs.total_cost_usd)
    served_by_cache: np.ndarray  # bool: the log says a cache served it (cache = 'hit')
    through_cache: np.ndarray | None = None  # bool: a cache looked it up (hit or miss); None = none did
    could_be_served: np.ndarray | None = None  # bool, stg_cache_lookups.could_be_served; None = replay it
    inv_end_ns: np.ndarray = field(default_factory=_zeros_i)  # int64 when the invalidating write returned
    inv_group: np.ndarray = field(default_factory=_zeros_i)  # int64 group whose keys drop, -1 = whole service
    inv_service: np.ndarray = field(default_factory=_zeros_i)  # int64
    service_names: tuple[str, ...] = ()  # name of each service id, when known

    def subset(self, searches: np.ndarray) -> SearchTrace:
        """The same trace with only the searches where the mask is true (every invalidation kept)."""
        def pick(col: np.ndarray | None) -> np.ndarray | None:
            return None if col is None else col[searches]

        return SearchTrace(
            self.start_ns[searches], self.end_ns[searches], self.key[searches], self.group[searches],
            self.service[searches], self.ok[searches], self.latency_ms[searches], self.cost_usd[searches],
            self.served_by_cache[searches], pick(self.through_cache), pick(self.could_be_served),
            self.inv_end_ns, self.inv_group, self.inv_service, self.service_names)

    def __post_init__(self) -> None:
        n = len(self.start_ns)
        for name in ("end_ns", "key", "group", "service", "ok", "latency_ms", "cost_usd", "served_by_cache",
                     "through_cache", "could_be_served"):
            col = getattr(self, name)
            if col is not None and len(col) != n:
                raise ValueError(f"SearchTrace.{name} has {len(col)} rows, start_ns has {n}")
        m = len(self.inv_end_ns)
        for name in ("inv_group", "inv_service"):
            col = getattr(self, name)
            if col is not None and len(col) != m:
                raise ValueError(f"SearchTrace.{name} has {len(col)} rows, inv_end_ns has {m}")
        if n and np.any(np.diff(self.start_ns) < 0):
            raise ValueError("SearchTrace.start_ns must be sorted (searches in the order they started)")
        if n and np.any(self.end_ns < self.start_ns):
            raise ValueError("SearchTrace.end_ns must not precede start_ns")

    def __len__(self) -> int:
        return len(self.start_ns)


def dense_ids(*columns: np.ndarray) -> np.ndarray:
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


# ---------------------------------------------------------------------------------------------------------------
# The exact replay: one SearchCache per service


@dataclass(frozen=True)
class Replay:
    ttl_s: float | None  # None = never expires
    max_entries: int | None  # None = unbounded
    hit: np.ndarray  # bool per search of the trace

    @property
    def hits(self) -> int:
        return int(self.hit.sum())


def replay(trace: SearchTrace, ttl_s: float | None, max_entries: int | None = None) -> Replay:
    """The instrumented SearchCache (RedisSearchCache: `max_entries=None`, `ttl_s=redis_expiry_s(ttl)`) replayed
    over the trace; hit[i] says whether search i is served. See the module docstring for the rules."""
    if (ttl_s is not None and ttl_s <= 0) or (max_entries is not None and max_entries <= 0):
        raise ValueError("ttl_s and max_entries must be positive (or None for no bound)")
    n, m = len(trace), len(trace.inv_end_ns)
    hit = np.zeros(n, bool)
    ttl_ns = None if ttl_s is None else round(ttl_s * _NS_PER_S)
    # Lookups and invalidations are known up front: sorted by (time, invalidation before lookup, log order).
    # Stores depend on the outcome of their lookup: a heap of pending ones, each done before any event later
    # than it and before a lookup at the same instant (after an invalidation at the same instant).
    times = np.concatenate([trace.start_ns, trace.inv_end_ns]).astype(np.int64)
    is_lookup = np.r_[np.ones(n, np.int64), np.zeros(m, np.int64)]
    order = np.lexsort((np.arange(n + m), is_lookup, times)).tolist()
    t_l = times.tolist()
    key_l, grp_l, svc_l = trace.key.tolist(), trace.group.tolist(), trace.service.tolist()
    ok_l, end_l = trace.ok.tolist(), trace.end_ns.tolist()
    inv_grp, inv_svc = trace.inv_group.tolist(), trace.inv_service.tolist()

    caches: dict[int, dict] = {}  # service -> {key: expiry_ns}, insertion order = LRU order (oldest first)
    members: dict[int, set] = {}  # group -> keys it holds now
    pending: list[tuple[int, int]] = []  # stores not yet done: (end_ns, search index)

    def drop(cache: dict, key: int, group: int) -> None:
        del cache[key]
        keys = members.get(group)
        if keys is not None:
            keys.discard(key)

    def store(i: int) -> None:
        cache = caches.setdefault(svc_l[i], {})
        k, g = key_l[i], grp_l[i]
        cache.pop(k, None)  # set() moves the key to the most recent end
        cache[k] = end_l[i] + ttl_ns if ttl_ns is not None else None
        members.setdefault(g, set()).add(k)
        if max_entries is not None:
            while len(cache) > max_entries:
                old = next(iter(cache))
                drop(cache, old, key_group[old])

    key_group: dict[int, int] = {}
    for i in range(n):
        key_group[key_l[i]] = grp_l[i]

    for idx in order:
        t = t_l[idx]
        while pending and (pending[0][0] < t or (pending[0][0] == t and idx < n)):
            store(heapq.heappop(pending)[1])
        if idx >= n:  # an invalidation
            j = idx - n
            svc, g = inv_svc[j], inv_grp[j]
            cache = caches.get(svc)
            if cache is None:
                continue
            if g < 0:
                for k in list(cache):
                    members.get(key_group[k], set()).discard(k)
                cache.clear()
            else:
                for k in members.pop(g, ()):
                    cache.pop(k, None)
            continue
        cache = caches.get(svc_l[idx])
        k = key_l[idx]
        if cache is not None and k in cache:
            expiry = cache[k]
            if expiry is None or expiry > t:
                hit[idx] = True
                cache[k] = cache.pop(k)  # move to the most recent end
                continue
            drop(cache, k, grp_l[idx])  # expired: SearchCache.get drops it (its slot frees up)
        if ok_l[idx]:
            heapq.heappush(pending, (end_l[idx], idx))
    return Replay(ttl_s, max_entries, hit)


# ---------------------------------------------------------------------------------------------------------------
# Vectorised curves


def _count_at_or_before(q_group: np.ndarray, q_time: np.ndarray, e_group: np.ndarray,
                        e_time: np.ndarray) -> np.ndarray:
    """For each query: events of the same group at or before its time (one lexsort of both sets)."""
    n, m = len(q_group), len(e_group)
    if m == 0 or n == 0:
        return np.zeros(n, np.int64)
    g = np.concatenate([e_group, q_group])
    t = np.concatenate([e_time, q_time])
    is_q = np.r_[np.zeros(m, bool), np.ones(n, bool)]
    order = np.lexsort((is_q, t, g))  # events before queries at an equal time
    ev = (~is_q[order]).astype(np.int64)
    cum = np.cumsum(ev)
    gs = g[order]
    start = np.r_[True, gs[1:] != gs[:-1]]
    base = np.maximum.accumulate(np.where(start, cum - ev, 0))
    out = np.empty(n, np.int64)
    qs = is_q[order]
    out[order[qs] - m] = (cum - base)[qs]
    return out


def generation_keys(trace: SearchTrace) -> np.ndarray:
    """Key ids that change whenever the search's user (or its whole service) was invalidated since: a search
    after an invalidation that returned by its start is a new key (ids are dense)."""
    if len(trace) == 0:
        return np.zeros(0, np.int64)
    if len(trace.inv_end_ns) == 0:
        return dense_ids(trace.key)
    users = trace.inv_group >= 0
    gen = _count_at_or_before(trace.group, trace.start_ns, trace.inv_group[users], trace.inv_end_ns[users])
    gen += _count_at_or_before(trace.service, trace.start_ns, trace.inv_service[~users], trace.inv_end_ns[~users])
    return dense_ids(trace.key, gen)


def key_order(gkey: np.ndarray) -> np.ndarray:
    """Requests grouped by key, in time order within a key (stable sort): shared by every replay below."""
    return np.argsort(gkey, kind="stable")


@dataclass(frozen=True)
class ByKey:
    """Requests of keys asked more than once, grouped by key (start order within a key), shared by every
    fixed-expiry replay. A key asked once is a miss under any TTL, so it is left out of the replays.
    Times are replaced by their rank among all start times, so (key, time) packs into one sortable int64."""

    order: np.ndarray  # trace positions of the kept requests, grouped
    k: np.ndarray  # dense key of each kept request
    heads: np.ndarray  # first request of every kept key (grouped positions)
    packed: np.ndarray  # k * stride + rank(start)
    stride: int
    starts_sorted: np.ndarray  # every start time of the trace, sorted (the rank axis)
    end_ns: np.ndarray  # end time of each kept request
    ok: np.ndarray  # whether each kept request can store

    @classmethod
    def build(cls, trace: SearchTrace, gkey: np.ndarray, order: np.ndarray | None = None) -> ByKey:
        order = key_order(gkey) if order is None else order
        n = len(order)
        k = gkey[order]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]) if n else np.zeros(0, np.int64)
        sizes = np.diff(np.r_[starts, n])
        keep = np.repeat(sizes > 1, sizes)
        order, k = order[keep], k[keep]
        k = dense_ids(k) if len(k) else k
        starts_sorted = np.asarray(trace.start_ns, np.int64)  # already sorted
        stride = n + 1
        rank = np.searchsorted(starts_sorted, trace.start_ns[order], side="left")
        heads = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]) if len(k) else np.zeros(0, np.int64)
        return cls(order, k, heads, k * stride + rank, stride, starts_sorted,
                   trace.end_ns[order].astype(np.int64), trace.ok[order].astype(bool))

    def fixed_misses(self, ttl_ms: float) -> np.ndarray:
        """Miss mask of the kept requests (grouped order) for an unbounded cache with fixed expiry: a successful
        miss stores when it returns, until then + TTL; the next miss is the key's first request starting at or
        after that (after a failed miss: the next request). O(N) per TTL: one searchsorted, then the chains of
        misses are walked for all keys at once (one vectorised step per miss of the longest chain)."""
        n = len(self.k)
        miss = np.zeros(n, bool)
        if n == 0:
            return miss
        ttl_ns = round(ttl_ms * 1e6)
        rank = np.searchsorted(self.starts_sorted, self.end_ns + ttl_ns, side="left")
        nxt = np.searchsorted(self.packed, self.k * self.stride + rank, side="left")
        nxt = np.where(self.ok, nxt, np.arange(n) + 1)
        has_next = nxt < n
        has_next[has_next] = self.k[nxt[has_next]] == self.k[has_next]
        frontier = self.heads
        while frontier.size:
            miss[frontier] = True
            frontier = nxt[frontier[has_next[frontier]]]
        return miss


def fixed_ttl_hits(trace: SearchTrace, ttl_s: float, gkey: np.ndarray | None = None) -> np.ndarray:
    """Hits of an unbounded cache with fixed expiry `ttl_s` (SearchCache / Redis SETEX, no refresh on a hit)."""
    gkey = generation_keys(trace) if gkey is None else gkey
    by_key = ByKey.build(trace, gkey)
    hit = np.zeros(len(trace), bool)
    hit[by_key.order] = ~by_key.fixed_misses(ttl_s * 1000.0)
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


def lru_stream(trace: SearchTrace, gkey: np.ndarray) -> np.ndarray:
    """The keys an LRU without expiry sees, one service after the other (each service has its own cache of the
    size, so stack distances are counted within a service). Failed searches neither store nor touch the stack:
    they only count as misses."""
    ok = np.flatnonzero(trace.ok)
    return gkey[ok[np.argsort(trace.service[ok], kind="stable")]]


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
    hit_rate: np.ndarray  # hits / every request of the trace (failed searches count as misses)
    exact: bool
    sampling_rate: float | None = None
    sampling_error: float | None = None  # max |sampled - exact| over the sizes, measured on a prefix
    sampling_error_prefix: int | None = None


def lru_curve(gkey: np.ndarray, sizes: np.ndarray, exact_max: int, rate: float,
              dist: np.ndarray | None = None, requests: int | None = None) -> LruCurve:
    """Hit ratio per LRU size over the requests in `gkey` (divided by `requests`, default len(gkey)): exact up to
    `exact_max` requests, SHARDS-sampled (error measured) beyond."""
    n = len(gkey)
    total = n if requests is None else requests
    sizes = np.asarray(sizes, np.int64)
    if n == 0 or total == 0:
        return LruCurve(sizes, np.zeros(len(sizes)), True)
    share = n / total
    if n <= exact_max:
        dist = stack_distances(gkey) if dist is None else dist
        return LruCurve(sizes, lru_hit_counts(dist, sizes) / total, True)

    def sampled(keys: np.ndarray) -> np.ndarray:
        m = shards_mask(keys, rate)
        sub = keys[m]
        if sub.size == 0:
            return np.zeros(len(sizes))
        return lru_hit_counts(stack_distances(sub), sizes, 1.0 / rate) / sub.size

    prefix = gkey[:exact_max]
    err = float(np.max(np.abs(sampled(prefix) - lru_hit_counts(stack_distances(prefix), sizes) / len(prefix))))
    return LruCurve(sizes, sampled(gkey) * share, False, rate, err * share, len(prefix))


# ---------------------------------------------------------------------------------------------------------------
# The whole what-if


@dataclass(frozen=True)
class CacheWhatIf:
    requests: int  # cacheable searches (stg_cache_lookups)
    through_cache: int  # of those, looked up by a real cache (logged hit or miss)
    measured_hits: int  # logged hits
    distinct_keys: int  # generation keys: every one costs one compulsory miss
    writes: int  # invalidations
    could_be_served: int  # stg_cache_lookups.could_be_served: no TTL or size serves more
    could_be_served_through_cache: int  # the same, among the searches a real cache looked up
    target_hit_rate: float
    settings_ttl_s: float  # the replay at "your settings": optimize.cache.recommended_ttl_s
    settings_max_entries: int | None  # optimize.cache.max_entries (None = unbounded)
    settings_hits: int  # exact SearchCache replay at those settings
    settings_hits_through_cache: int
    settings_new_hits: int  # of settings_hits, searches the log's caches did not already serve
    ttl_curve: pd.DataFrame  # ttl_s, hit_rate, hits, latency_saved_ms, cost_saved_usd (unbounded, fixed expiry)
    lru: LruCurve
    ttl_for_target_s: float | None  # smallest grid TTL reaching the target
    lru_size_for_target: int | None
    avg_miss_latency_ms: float
    hit_latency_ms: float
    hit_latency_source: str  # "config" | "observed" | "assumed"
    settings_latency_saved_ms: float
    settings_cost_saved_usd: float

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def could_be_served_rate(self) -> float | None:
        return self._rate(self.could_be_served, self.requests)

    @property
    def measured_hit_rate(self) -> float | None:
        return self._rate(self.measured_hits, self.through_cache)

    @property
    def settings_hit_rate(self) -> float | None:
        return self._rate(self.settings_hits, self.requests)

    @property
    def settings_hit_rate_through_cache(self) -> float | None:
        return self._rate(self.settings_hits_through_cache, self.through_cache)

    @property
    def could_be_served_rate_through_cache(self) -> float | None:
        return self._rate(self.could_be_served_through_cache, self.through_cache)

    def lru_table(self) -> pd.DataFrame:
        return pd.DataFrame({"size": self.lru.sizes, "hit_rate": self.lru.hit_rate})

    def story(self) -> pd.DataFrame:
        """One row per population (searches through a cache, every cacheable search): searches, measured hit
        rate, the exact replay at the configured settings, and what could be served at all."""
        size = "unbounded" if self.settings_max_entries is None else f"{self.settings_max_entries:,} entries"
        replay_label = f"replay at TTL {self.settings_ttl_s:g} s, {size}"
        return pd.DataFrame([
            {"searches": "through a cache (hit or miss logged)", "count": self.through_cache,
             "measured hit rate": self.measured_hit_rate, replay_label: self.settings_hit_rate_through_cache,
             "could be served": self.could_be_served_rate_through_cache},
            {"searches": "every cacheable search", "count": self.requests, "measured hit rate": None,
             replay_label: self.settings_hit_rate, "could be served": self.could_be_served_rate},
        ])


def simulate(trace: SearchTrace, cfg: Config, lru_sizes: np.ndarray | None = None) -> CacheWhatIf:
    """Replay the trace at every TTL (unbounded), every LRU size (no expiry) and exactly at the configured
    settings; savings at those settings count the searches the log's own caches did not already serve."""
    c = cfg.optimize.cache
    target = cfg.targets.cache_hit_rate
    n = len(trace)
    gkey = generation_keys(trace)
    order = key_order(gkey)
    distinct = int(np.count_nonzero(np.diff(gkey[order]))) + 1 if n else 0
    through = trace.through_cache if trace.through_cache is not None else np.zeros(n, bool)
    served = trace.could_be_served if trace.could_be_served is not None else replay(trace, None, None).hit

    uncached = ~trace.served_by_cache & trace.ok
    avg_miss = float(trace.latency_ms[uncached].mean()) if uncached.any() else 0.0
    if c.hit_latency_ms is not None:
        hit_ms, source = c.hit_latency_ms, "config"
    elif trace.served_by_cache.any():
        hit_ms, source = float(trace.latency_ms[trace.served_by_cache].mean()), "observed"
    else:
        hit_ms, source = c.assumed_hit_latency_ms, "assumed"
    per_hit_ms = max(avg_miss - hit_ms, 0.0)

    ttls = np.array(sorted(set(c.ttl_grid_s)), np.float64)
    by_key = ByKey.build(trace, gkey, order)
    cost_grouped = trace.cost_usd[by_key.order]
    new_grouped = ~trace.served_by_cache[by_key.order]
    rows = []
    for ttl in ttls:
        miss = by_key.fixed_misses(ttl * 1000.0)
        hits = len(miss) - int(miss.sum())
        rows.append({"ttl_s": ttl, "hit_rate": hits / n if n else 0.0, "hits": hits,
                     "latency_saved_ms": int((~miss & new_grouped).sum()) * per_hit_ms,
                     "cost_saved_usd": float(cost_grouped[~miss & new_grouped].sum())})
    ttl_curve = pd.DataFrame(rows, columns=["ttl_s", "hit_rate", "hits", "latency_saved_ms", "cost_saved_usd"])
    reached = ttl_curve.loc[ttl_curve["hit_rate"] >= target, "ttl_s"]

    stack_keys = lru_stream(trace, gkey)
    sizes = np.asarray(lru_sizes if lru_sizes is not None else _lru_plot_sizes(c.lru_sizes, distinct), np.int64)
    dist = stack_distances(stack_keys) if 0 < len(stack_keys) <= c.exact_max_requests else None
    lru = lru_curve(stack_keys, sizes, c.exact_max_requests, c.shards_rate, dist, requests=n)

    at = replay(trace, c.recommended_ttl_s, c.max_entries)
    new = at.hit & ~trace.served_by_cache
    return CacheWhatIf(
        requests=n,
        through_cache=int(through.sum()),
        measured_hits=int(trace.served_by_cache.sum()),
        distinct_keys=distinct,
        writes=len(trace.inv_end_ns),
        could_be_served=int(served.sum()),
        could_be_served_through_cache=int((served & through).sum()),
        target_hit_rate=target,
        settings_ttl_s=c.recommended_ttl_s,
        settings_max_entries=c.max_entries,
        settings_hits=at.hits,
        settings_hits_through_cache=int((at.hit & through).sum()),
        settings_new_hits=int(new.sum()),
        ttl_curve=ttl_curve,
        lru=lru,
        ttl_for_target_s=float(reached.iloc[0]) if len(reached) else None,
        lru_size_for_target=_lru_target_size(n, dist, lru, target),
        avg_miss_latency_ms=avg_miss,
        hit_latency_ms=hit_ms,
        hit_latency_source=source,
        settings_latency_saved_ms=int(new.sum()) * per_hit_ms,
        settings_cost_saved_usd=float(trace.cost_usd[new].sum()),
    )


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


def _lru_plot_sizes(configured: tuple[int, ...], distinct: int) -> np.ndarray:
    """The configured sizes plus a log-spaced sweep up to the number of keys (where the curve flattens)."""
    sweep = np.unique(np.logspace(0, np.log10(max(distinct, 1)), 60).astype(np.int64))
    return np.unique(np.concatenate([np.asarray(configured, np.int64), sweep]))


_SEARCHES_SQL = read_sql(__package__, "cache_sim_searches.sql")

_WRITES_SQL = read_sql(__package__, "cache_sim_writes.sql")


def load_trace(con: duckdb.DuckDBPyConnection, since: object = None, until: object = None) -> SearchTrace:
    """Cacheable searches and the invalidations from the warehouse, optionally in [since, until)."""
    params = {"since": since, "until": until}
    s = con.execute(_SEARCHES_SQL, params).fetchnumpy()
    w = con.execute(_WRITES_SQL, params).fetchnumpy()
    n = len(s["start_ns"])
    # factorize hashes the few service names (np.unique would sort a million strings)
    services, service_names = pd.factorize(np.concatenate([np.asarray(s["service"], object),
                                                           np.asarray(w["service"], object)]))
    w_user = np.asarray(w["group_hash"], np.uint64).view(np.int64)
    has_user = ~np.asarray(w["whole_service"], bool)
    groups = dense_ids(np.concatenate([np.asarray(s["group_hash"], np.uint64).view(np.int64), w_user]))
    return SearchTrace(
        start_ns=np.asarray(s["start_ns"], np.int64),
        end_ns=np.asarray(s["end_ns"], np.int64),
        key=dense_ids(np.asarray(s["key_hash"], np.uint64).view(np.int64)),
        group=groups[:n],
        service=services[:n].astype(np.int64),
        ok=np.asarray(s["ok"], bool),
        latency_ms=np.asarray(s["latency_ms"], np.float64),
        cost_usd=np.asarray(s["cost_usd"], np.float64),
        served_by_cache=np.asarray(s["served_by_cache"], bool),
        through_cache=np.asarray(s["through_cache"], bool),
        could_be_served=np.asarray(s["could_be_served"], bool),
        inv_end_ns=np.asarray(w["end_ns"], np.int64),
        inv_group=np.where(has_user, groups[n:], -1),
        inv_service=services[n:].astype(np.int64),
        service_names=tuple(str(x) for x in service_names),
    )
