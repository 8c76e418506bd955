"""What-if cache replay of the search log, with the rules of the instrumented SearchCache.

Which searches a cache looks up, how it keys them and which writes drop which keys are not decided here: the
staged views `stg_cache_lookups` and `stg_cache_invalidations` state them once (the rules of
`instrumentation/cache.py` and `wrap.py`: a search needs a user and plain user/agent/run scope, keys carry the
search args as applied, one cache per service, a user's write drops that user's keys when it returns). This
module replays those searches:

- `replay(trace, ttl_s, max_entries)`: the SearchCache itself, exactly: a lookup when the search starts, a
  successful miss stores its result when it returns and expires `ttl_s` later (no refresh on a hit), an LRU of
  `max_entries` (expired entries hold their slot until looked up or evicted), invalidation *deletes* the
  user's entries (freeing slots). One compiled pass over the calls in the order they happened
  (`cache_kernels`); the instrumented cache measures exactly these hits on the same log
  (tests/test_cache_replay_real.py).
- TTL curve: the same cache without a size bound, for every TTL of the grid, one pass per TTL (equal to
  `replay` with `max_entries=None` when a user's calls in a service do not overlap in time).
- LRU curve: a cache that never expires, for every size at once from LRU stack distances (a Fenwick tree over
  positions, O(N log N)), exact at any trace length. Here an invalidated entry keeps its slot until evicted
  (generation-stamped keys): a lower bound for the deleting cache, which `replay` gives exactly at one size.
  Failed searches are misses that store nothing and are left out of the stacks.
- `could_be_served` (from `stg_cache_lookups`): what a cache that never expires and never fills would serve,
  the ceiling of every TTL and size above and of what any real cache in front of these searches measured.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import duckdb
import numpy as np
import pandas as pd

from memlens.config import Config
from memlens.resources import read_sql

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

    @cached_property
    def ids(self) -> TraceIds:
        """The ids the compiled loops index arrays with, worked out once per trace (every replay shares them)."""
        return _trace_ids(self)


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
# Ids the compiled loops can index arrays with


def _kernels():
    """The compiled loops, imported on first use: numba's import (~0.5 s) is paid by the what-if, not by every
    page or command that imports this module."""
    from memlens.optimize import cache_kernels

    return cache_kernels


def load_kernels_in_background() -> threading.Thread:
    """Start readying the compiled loops on a thread: numba's import and its first call (which sets up LLVM and
    loads the cached machine code) take about a second, mostly in C that releases the GIL, so the queries that
    read the trace meanwhile hide it. A later call waits for what is not ready yet (numba locks)."""
    def warm() -> None:
        one = np.zeros(1, np.int64)
        trace = SearchTrace(one, one, one, one, one, np.ones(1, bool), np.zeros(1), np.zeros(1), np.zeros(1, bool))
        fixed_ttl_hits(trace, 1.0, generation_keys(trace))
        stack_distances(one)
        replay(trace, None, None)

    thread = threading.Thread(target=warm, name="memlens-cache-kernels", daemon=True)
    thread.start()
    return thread


def _indexable(*parts: np.ndarray) -> tuple[list[np.ndarray], int]:
    """The parts as int64 ids an array can be indexed with, and how many ids there are: kept as they are when
    they are small non-negative ints (the warehouse's ids are dense), else renumbered together (pd.factorize
    hashes: no sort of millions)."""
    sizes = [len(p) for p in parts]
    whole = np.concatenate([np.asarray(p, np.int64) for p in parts]) if parts else np.zeros(0, np.int64)
    if whole.size == 0:
        return [np.zeros(0, np.int64) for _ in parts], 1
    if whole.min() >= 0 and whole.max() < 4 * whole.size + 1024:
        ids, count = whole, int(whole.max()) + 1
    else:
        ids, uniques = pd.factorize(whole)
        ids, count = ids.astype(np.int64), len(uniques)
    return np.split(ids, np.cumsum(sizes)[:-1]), count


class TraceIds(NamedTuple):
    """Indexable (dense, small) ids of a trace's searches and invalidations; invalidations in the order they
    return (log order for ties), group -1 = the whole service."""

    key: np.ndarray
    n_keys: int
    group: np.ndarray
    n_groups: int
    service: np.ndarray
    n_services: int
    inv_end_ns: np.ndarray
    inv_group: np.ndarray
    inv_service: np.ndarray


def _trace_ids(trace: SearchTrace) -> TraceIds:
    (key,), n_keys = _indexable(trace.key)
    users = trace.inv_group >= 0
    (group, inv_user), n_groups = _indexable(trace.group, trace.inv_group[users])
    inv_group = np.full(len(trace.inv_group), -1, np.int64)
    inv_group[users] = inv_user
    (service, inv_service), n_services = _indexable(trace.service, trace.inv_service)
    inv = np.argsort(trace.inv_end_ns, kind="stable")
    return TraceIds(key, n_keys, group, n_groups, service, n_services,
                    np.asarray(trace.inv_end_ns, np.int64)[inv], inv_group[inv], inv_service[inv])


def _key_records(n_keys: int) -> np.ndarray:
    """Zeroed rows of 4 int64 per key for the replay, two rows to a 64-byte cache line (the buffer's start is
    aligned by hand: numpy only promises 16 bytes). np.zeros: the OS hands out zeroed pages, no pass to clear."""
    buf = np.zeros(n_keys * 4 + 8, np.int64)
    skip = (-buf.ctypes.data % 64) // 8
    return buf[skip:skip + n_keys * 4].reshape(n_keys, 4)


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


def replay(trace: SearchTrace, ttl_s: float | None, max_entries: int | None = None,
           records: np.ndarray | None = None) -> Replay:
    """The instrumented SearchCache (RedisSearchCache: `max_entries=None`, `ttl_s=redis_expiry_s(ttl)`) replayed
    over the trace; hit[i] says whether search i is served. See the module docstring for the rules.

    One pass in event order: lookups and invalidations are known up front (by time, an invalidation before a
    lookup at the same instant, log order); a successful miss's store is pending until it returns, done before
    any event later than that and before a lookup at the same instant (after an invalidation at that instant).
    A key belongs to one service and one group (the key includes both). `records`: the per-key rows of an earlier
    replay of this trace to reuse (cleared here): fresh pages cost more than clearing used ones."""
    if (ttl_s is not None and ttl_s <= 0) or (max_entries is not None and max_entries <= 0):
        raise ValueError("ttl_s and max_entries must be positive (or None for no bound)")
    d = trace.ids
    if records is None:
        records = _key_records(d.n_keys)
    else:
        records.fill(0)
    hit = _kernels().replay(
        np.asarray(trace.start_ns, np.int64), np.asarray(trace.end_ns, np.int64), d.key, d.group, d.service,
        np.asarray(trace.ok, np.bool_), d.inv_end_ns, d.inv_group, d.inv_service, d.n_keys, d.n_groups,
        d.n_services, -1 if ttl_s is None else round(ttl_s * _NS_PER_S),
        -1 if max_entries is None else int(max_entries), records)
    return Replay(ttl_s, max_entries, hit)


# ---------------------------------------------------------------------------------------------------------------
# Curves: every TTL, every LRU size


def generation_keys(trace: SearchTrace) -> np.ndarray:
    """Key ids that change whenever the search's user (or its whole service) was invalidated since: a search
    after an invalidation that returned by its start is a new key (dense ids, in order of first appearance)."""
    if len(trace) == 0:
        return np.zeros(0, np.int64)
    d = trace.ids
    return _kernels().generation_ids(d.key, d.group, d.service, np.asarray(trace.start_ns, np.int64),
                                     d.inv_end_ns, d.inv_group, d.inv_service, d.n_keys, d.n_groups, d.n_services)


def fixed_expiry_counts(trace: SearchTrace, gkey: np.ndarray, ttls_s: np.ndarray, new: np.ndarray,
                        hit_out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The TTL curve's counts (rules: `fixed_ttl_hits`), one pass per TTL: per TTL of `ttls_s` the hits, the hits
    among the searches where `new` is true, and their cost. `hit_out` (one TTL only) receives the hit mask."""
    ttls_ns = np.array([round(float(t) * _NS_PER_S) for t in ttls_s], np.int64)
    n_keys = int(gkey.max()) + 1 if len(gkey) else 0
    return _kernels().fixed_expiry(gkey, np.asarray(trace.start_ns, np.int64), np.asarray(trace.end_ns, np.int64),
                                   np.asarray(trace.ok, np.bool_), np.asarray(new, np.bool_),
                                   np.asarray(trace.cost_usd, np.float64), n_keys, ttls_ns,
                                   np.zeros(0, bool) if hit_out is None else hit_out)


def fixed_ttl_hits(trace: SearchTrace, ttl_s: float, gkey: np.ndarray | None = None) -> np.ndarray:
    """Hits of an unbounded cache with fixed expiry `ttl_s` (SearchCache / Redis SETEX, no refresh on a hit): a
    successful miss stores when it returns, until then + TTL; the next miss is the key's first request starting
    at or after that (after a failed miss: the next request). Equal to `replay(trace, ttl_s, None)` when a
    user's calls in a service do not overlap in time. One pass over the trace."""
    gkey = generation_keys(trace) if gkey is None else gkey
    hit = np.zeros(len(trace), bool)
    if len(trace):
        fixed_expiry_counts(trace, gkey, np.array([ttl_s]), np.zeros(len(trace), bool), hit)
    return hit


def stack_distances(keys: np.ndarray) -> np.ndarray:
    """LRU stack depth of each request (1 = the most recently used key); 0 for a key's first request. For a
    request whose key was last requested at p, the number of distinct keys in [p, i): a Fenwick tree over
    positions, O(N log N)."""
    if len(keys) == 0:
        return np.zeros(0, np.int64)
    (ids,), n_keys = _indexable(keys)
    return _kernels().stack_distances(ids, n_keys)


def lru_stream(trace: SearchTrace, gkey: np.ndarray) -> np.ndarray:
    """The keys an LRU without expiry sees, one service after the other (each service has its own cache of the
    size, so stack distances are counted within a service). Failed searches neither store nor touch the stack:
    they only count as misses."""
    ok = np.flatnonzero(trace.ok)
    svc = trace.service[ok]
    if len(svc) == 0 or svc.min() == svc.max():
        return gkey[ok]
    return gkey[ok[np.argsort(svc, kind="stable")]]


def _lru_cumulative_hits(dist: np.ndarray) -> np.ndarray:
    """cum[s - 1] = hits of an LRU of size s (requests with 1 <= distance <= s), for s up to the largest
    distance."""
    return np.cumsum(np.bincount(dist)[1:]) if len(dist) else np.zeros(0, np.int64)


def lru_hit_counts(dist: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Hits of an LRU of each size: requests with 1 <= distance <= size."""
    return _hits_at_sizes(_lru_cumulative_hits(dist), sizes)


def _hits_at_sizes(cum: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    sizes = np.asarray(sizes, np.int64)
    if cum.size == 0:
        return np.zeros(len(sizes), np.int64)
    return np.where(sizes >= 1, cum[np.clip(sizes, 1, cum.size) - 1], 0)


@dataclass(frozen=True)
class LruCurve:
    sizes: np.ndarray
    hit_rate: np.ndarray  # hits / every request of the trace (failed searches count as misses)


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
    distinct = int(gkey.max()) + 1 if n else 0  # generation keys are dense
    through = trace.through_cache if trace.through_cache is not None else np.zeros(n, bool)
    records = _key_records(trace.ids.n_keys)  # one scratch for both replays
    served = (trace.could_be_served if trace.could_be_served is not None
              else replay(trace, None, None, records).hit)

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
    hits, new_hits, saved = fixed_expiry_counts(trace, gkey, ttls, ~np.asarray(trace.served_by_cache, bool))
    ttl_curve = pd.DataFrame({"ttl_s": ttls, "hit_rate": hits / n if n else np.zeros(len(ttls)), "hits": hits,
                              "latency_saved_ms": new_hits * per_hit_ms, "cost_saved_usd": saved},
                             columns=["ttl_s", "hit_rate", "hits", "latency_saved_ms", "cost_saved_usd"])
    reached = ttl_curve.loc[ttl_curve["hit_rate"] >= target, "ttl_s"]

    stack_keys = lru_stream(trace, gkey)
    sizes = np.asarray(lru_sizes if lru_sizes is not None else _lru_plot_sizes(c.lru_sizes, distinct), np.int64)
    cum = _lru_cumulative_hits(stack_distances(stack_keys))
    lru = LruCurve(sizes, _hits_at_sizes(cum, sizes) / n if n else np.zeros(len(sizes)))

    at = replay(trace, c.recommended_ttl_s, c.max_entries, records)
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
        lru_size_for_target=_lru_target_size(n, cum, target),
        avg_miss_latency_ms=avg_miss,
        hit_latency_ms=hit_ms,
        hit_latency_source=source,
        settings_latency_saved_ms=int(new.sum()) * per_hit_ms,
        settings_cost_saved_usd=float(trace.cost_usd[new].sum()),
    )


def _lru_target_size(n: int, cum: np.ndarray, target: float) -> int | None:
    """Smallest LRU size whose hits reach the target share of the n searches (None: no size does)."""
    if n == 0:
        return None
    need = int(np.ceil(target * n - 1e-9))
    if need == 0:
        return 0
    return int(np.searchsorted(cum, need, side="left")) + 1 if cum.size and cum[-1] >= need else None


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
    # ids in order of first appearance (pd.factorize hashes: no sort of millions; searches close in time get
    # ids close together, which the compiled replays' memory access likes)
    groups = pd.factorize(np.concatenate([np.asarray(s["group_hash"], np.uint64).view(np.int64), w_user]))[0]
    return SearchTrace(
        start_ns=np.asarray(s["start_ns"], np.int64),
        end_ns=np.asarray(s["end_ns"], np.int64),
        key=pd.factorize(np.asarray(s["key_hash"], np.uint64).view(np.int64))[0].astype(np.int64),
        group=groups[:n].astype(np.int64),
        service=services[:n].astype(np.int64),
        ok=np.asarray(s["ok"], bool),
        latency_ms=np.asarray(s["latency_ms"], np.float64),
        cost_usd=np.asarray(s["cost_usd"], np.float64),
        served_by_cache=np.asarray(s["served_by_cache"], bool),
        through_cache=np.asarray(s["through_cache"], bool),
        could_be_served=np.asarray(s["could_be_served"], bool),
        inv_end_ns=np.asarray(w["end_ns"], np.int64),
        inv_group=np.where(has_user, groups[n:], -1).astype(np.int64),
        inv_service=services[n:].astype(np.int64),
        service_names=tuple(str(x) for x in service_names),
    )
