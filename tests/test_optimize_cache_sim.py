"""The cache what-if simulator against the real SearchCache class, hand-computed answers and brute force.

Random call sequences (several services, users, keys, user and whole-service invalidations, failed searches,
calls that overlap or not) are played twice: through the real `SearchCache` on a virtual clock, in the order
the calls would reach it (lookup when a search starts, store when a successful miss returns, invalidation when
a write returns), and through the simulator. They must agree exactly.
"""

from __future__ import annotations

import itertools
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlens.config import load_config
from memlens.instrumentation.cache import SearchCache
from memlens.optimize.cache_sim import (
    SearchTrace,
    fixed_ttl_hits,
    generation_keys,
    load_trace,
    lru_hit_counts,
    lru_stream,
    replay,
    simulate,
    stack_distances,
)

MS = 1_000_000  # ns


@dataclass(frozen=True)
class Call:
    start: int  # ms
    duration: int  # ms, >= 1
    kind: str  # "s" search, "f" failed search, "w" write of the user, "a" delete_all of the whole service
    service: int
    user: int
    query: int

    @property
    def end(self) -> int:
        return self.start + self.duration


def make_trace(calls: list[Call], latency_ms: float | None = None) -> SearchTrace:
    s = sorted((c for c in calls if c.kind in "sf"), key=lambda c: c.start)  # stable: log order for ties
    w = [c for c in calls if c.kind in "wa"]
    n = len(s)
    return SearchTrace(
        start_ns=np.array([c.start * MS for c in s], np.int64),
        end_ns=np.array([c.end * MS for c in s], np.int64),
        key=np.array([(c.service * 10 + c.user) * 10 + c.query for c in s], np.int64),
        group=np.array([c.service * 10 + c.user for c in s], np.int64),
        service=np.array([c.service for c in s], np.int64),
        ok=np.array([c.kind == "s" for c in s], bool),
        latency_ms=np.array([latency_ms or c.duration for c in s], np.float64),
        cost_usd=np.full(n, 0.001),
        served_by_cache=np.zeros(n, bool),
        inv_end_ns=np.array([c.end * MS for c in w], np.int64),
        inv_group=np.array([c.service * 10 + c.user if c.kind == "w" else -1 for c in w], np.int64),
        inv_service=np.array([c.service for c in w], np.int64),
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def real_cache_hits(calls: list[Call], ttl_s: float | None, max_entries: int | None) -> list[bool]:
    """The real SearchCache class (one per service) driven on a virtual clock; hits per search in log order.
    The clock counts nanoseconds (whole numbers: float sums stay exact), so the TTL is given in nanoseconds."""
    clock = Clock()
    caches: dict[int, SearchCache] = {}
    ttl_ns = 1e18 if ttl_s is None else round(ttl_s * 1e9)

    def cache(service: int) -> SearchCache:
        if service not in caches:
            caches[service] = SearchCache(ttl_s=ttl_ns, max_entries=max_entries or 10**12, clock=clock)
        return caches[service]

    searches = sorted((c for c in calls if c.kind in "sf"), key=lambda c: c.start)
    index = {id(c): i for i, c in enumerate(searches)}
    # (time ns, 0 = a call returns / 1 = a call starts, order) : what reaches the cache at that instant
    timeline = []
    for c in searches:
        timeline.append((c.start * MS, 1, index[id(c)], "lookup", c))
    for j, c in enumerate(c for c in calls if c.kind in "wa"):
        timeline.append((c.end * MS, 0, j, "invalidate", c))
    timeline.sort(key=lambda e: e[:3])
    hits = [False] * len(searches)
    pending: list[tuple[int, int, Call]] = []
    for t, _, _, what, c in timeline:
        for p in sorted(p for p in pending if p[0] < t or (p[0] == t and what == "lookup")):
            clock.now = p[0]
            cache(p[2].service).set(key_of(p[2]), user_of(p[2]), b"{}")
            pending.remove(p)
        clock.now = t
        if what == "invalidate":
            if c.kind == "w":
                cache(c.service).invalidate_user(user_of(c))
            else:
                cache(c.service).invalidate_all()
            continue
        if cache(c.service).get(key_of(c)) is not None:
            hits[index[id(c)]] = True
        elif c.kind == "s":
            pending.append((c.end * MS, index[id(c)], c))
    return hits


def user_of(c: Call) -> str:
    return f"s{c.service}u{c.user}"


def key_of(c: Call) -> str:
    return f"mem0:search:{user_of(c)}:{c.query}"


def calls_strategy(overlap: bool):
    step = st.tuples(st.integers(0, 40), st.integers(1, 30), st.sampled_from("sssssfwa" if overlap else "ssssfw"),
                     st.integers(0, 1), st.integers(0, 2), st.integers(0, 3))

    def build(steps):
        out, t = [], 0
        for gap, dur, kind, svc, user, q in steps:
            out.append(Call(t + gap, dur, kind, svc, user, q))
            # Sequential callers: the next call starts after this one returned. Overlapping: only after its start.
            t = t + gap if overlap else t + gap + dur
        return out

    return st.lists(step, min_size=1, max_size=60).map(build)


@settings(max_examples=200, deadline=None)
@given(calls_strategy(overlap=True), st.sampled_from([None, 0.005, 0.02, 0.05, 0.2]),
       st.sampled_from([None, 1, 2, 3, 5]))
def test_replay_equals_the_real_search_cache(calls, ttl_s, size):
    trace = make_trace(calls)
    expected = real_cache_hits(calls, ttl_s, size)
    assert list(replay(trace, ttl_s, size).hit) == expected


@settings(max_examples=150, deadline=None)
@given(calls_strategy(overlap=False), st.sampled_from([0.005, 0.02, 0.05, 0.2, 10.0]))
def test_ttl_curve_equals_the_unbounded_replay(calls, ttl_s):
    trace = make_trace(calls)
    assert list(fixed_ttl_hits(trace, ttl_s)) == list(replay(trace, ttl_s, None).hit)


def brute_lru(calls: list[Call], size: int, delete: bool) -> int:
    """One cache per service that never expires; delete=False: generation-stamped keys (stale entries age out),
    True: a write deletes the user's entries. Failed searches only count as misses. Sequential calls only."""
    caches: dict[int, OrderedDict] = {}
    gen: dict[tuple[int, int], int] = {}
    epoch: dict[int, int] = {}
    hits = 0
    for c in sorted(calls, key=lambda c: c.start):
        if c.kind in "wa":
            if c.kind == "w":
                gen[c.service, c.user] = gen.get((c.service, c.user), 0) + 1
            else:
                epoch[c.service] = epoch.get(c.service, 0) + 1
            cache = caches.setdefault(c.service, OrderedDict())
            if delete:
                for k in [k for k in cache if c.kind == "a" or k[1] == c.user]:
                    del cache[k]
            continue
        stamp = (0, 0) if delete else (gen.get((c.service, c.user), 0), epoch.get(c.service, 0))
        key = (c.service, c.user, c.query, stamp)
        if c.kind == "f":  # the curve leaves failed searches out of the stacks
            continue
        cache = caches.setdefault(c.service, OrderedDict())
        if key in cache:
            hits += 1
            cache.move_to_end(key)
        else:
            cache[key] = True
            if len(cache) > size:
                cache.popitem(last=False)
    return hits


@settings(max_examples=150, deadline=None)
@given(calls_strategy(overlap=False), st.integers(1, 8))
def test_lru_all_sizes_match_brute_force(calls, size):
    trace = make_trace(calls)
    if len(trace) == 0:
        return
    dist = stack_distances(lru_stream(trace, generation_keys(trace)))
    sizes = np.arange(1, 10)
    for c, got in zip(sizes, lru_hit_counts(dist, sizes), strict=True):
        assert got == brute_lru(calls, int(c), delete=False)
    # Deleting a user's entries instead only frees slots: never fewer hits than the generation-stamped cache.
    assert brute_lru(calls, size, delete=True) >= brute_lru(calls, size, delete=False)
    if trace.ok.all():  # and the exact replay is that deleting cache
        assert replay(trace, None, size).hits == brute_lru(calls, size, delete=True)


def reference_stack_distances(keys: list[int]) -> list[int]:
    """The definition, played out: an LRU stack (most recent first); a request's distance is its key's depth in
    the stack (1 = top), 0 when the key is not in it; then the key moves to the top."""
    stack: list[int] = []
    out = []
    for k in keys:
        if k in stack:
            out.append(stack.index(k) + 1)
            stack.remove(k)
        else:
            out.append(0)
        stack.insert(0, k)
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 12), max_size=200))
def test_stack_distances_equal_a_plain_lru_stack(keys):
    assert list(stack_distances(np.array(keys, np.int64))) == reference_stack_distances(keys)


def test_stack_distances_on_a_long_random_trace_and_sparse_ids():
    rng = np.random.default_rng(7)
    keys = (rng.zipf(1.2, 20_000) % 3000).astype(np.int64)
    expected = reference_stack_distances(keys.tolist())
    assert list(stack_distances(keys)) == expected
    # ids far apart (hashes) are renumbered before indexing arrays: same distances
    assert list(stack_distances(keys * 10**12 + 7)) == expected


@settings(max_examples=60, deadline=None)
@given(calls_strategy(overlap=True), st.sampled_from([None, 0.02]), st.sampled_from([None, 2]))
def test_replay_and_generation_keys_ignore_how_ids_are_numbered(calls, ttl_s, size):
    trace = make_trace(calls)
    far = SearchTrace(trace.start_ns, trace.end_ns, trace.key * 10**12 + 3, trace.group * 10**11 + 5,
                      trace.service + 10**15, trace.ok, trace.latency_ms, trace.cost_usd, trace.served_by_cache,
                      inv_end_ns=trace.inv_end_ns, inv_group=np.where(trace.inv_group >= 0,
                                                                       trace.inv_group * 10**11 + 5, -1),
                      inv_service=trace.inv_service + 10**15)
    assert list(replay(far, ttl_s, size).hit) == list(replay(trace, ttl_s, size).hit)
    assert list(generation_keys(far)) == list(generation_keys(trace))


def S(start: int, query: int = 1, user: int = 0, dur: int = 1, service: int = 0, kind: str = "s") -> Call:
    return Call(start, dur, kind, service, user, query)


def W(start: int, user: int = 0, dur: int = 1, service: int = 0) -> Call:
    return Call(start, dur, "w", service, user, 0)


def test_hand_computed_trace():
    # user 0 asks a, b, a, a; a write returns at 26; asks a at 30 (invalidated: miss), a at 40.
    calls = [S(0), S(10, 2), S(12), S(20), W(25), S(30), S(40)]
    trace = make_trace(calls)
    gkey = generation_keys(trace)
    assert list(gkey[[0, 2, 3]]) == [gkey[0]] * 3 and gkey[4] != gkey[0]
    assert list(stack_distances(gkey)) == [0, 0, 2, 1, 0, 1]
    # LRU size 1: hits at 20 and 40; size 2: also 12.
    assert list(lru_hit_counts(stack_distances(gkey), np.array([1, 2]))) == [2, 3]
    # Fixed 15 ms from when the miss returned (1 ms): a stored 1..16 → 12 hit; 20 miss → stored 21..36;
    # the write at 26 deletes it; 30 miss → stored 31..46; 40 hit.
    assert list(fixed_ttl_hits(trace, 0.015)) == [False, False, True, False, False, True]
    assert list(replay(trace, 0.015, None).hit) == [False, False, True, False, False, True]
    # Size 1: b evicts a, so a misses at 12 and hits at 20; the write deletes it; 30 misses, 40 hits.
    assert list(replay(trace, None, 1).hit) == [False, False, False, True, False, True]


def test_expiry_runs_from_when_the_miss_returned_and_a_hit_does_not_refresh():
    # 50 ms search, TTL 100 ms: stored at 50, valid until 150 (exclusive).
    calls = [S(0, dur=50), S(120), S(149), S(150), S(200)]
    assert list(replay(make_trace(calls), 0.1, None).hit) == [False, True, True, False, True]


def test_a_search_overlapping_a_write_can_be_served_stale_and_could_be_served_says_so():
    # The miss starts at 0 and returns at 30; the user's write returns at 20 (before the store): the real cache
    # stores the pre-write result after the invalidation, and serves it at 40.
    calls = [S(0, dur=30), W(5, dur=15), S(40)]
    assert list(replay(make_trace(calls), None, None).hit) == [False, True]


def test_a_failed_search_stores_nothing():
    calls = [S(0, kind="f"), S(10), S(20)]
    assert list(replay(make_trace(calls), None, None).hit) == [False, False, True]


def test_services_have_their_own_caches_and_delete_all_clears_one():
    calls = [S(0), S(10, service=1), S(20), S(30, service=1), Call(40, 1, "a", 1, 0, 0), S(50), S(60, service=1)]
    assert list(replay(make_trace(calls), None, None).hit) == [False, False, True, True, True, False]


def test_simulate_targets_savings_and_the_story():
    cfg = load_config(overrides={"optimize": {"cache": {"ttl_grid_s": [1, 10], "recommended_ttl_s": 10,
                                                        "max_entries": None, "hit_latency_ms": 2.0}}})
    # One key asked every 2 s, ten times, 50 ms each: 9 of 10 can hit; the 70 % target needs 7 hits.
    calls = [S(i * 2000, dur=50) for i in range(10)]
    r = simulate(make_trace(calls, latency_ms=50.0), cfg)
    assert r.requests == 10 and r.distinct_keys == 1 and r.could_be_served == 9
    assert r.could_be_served_rate == pytest.approx(0.9)
    row = r.ttl_curve.set_index("ttl_s").loc[10.0]
    # Fixed 10 s from when the miss at 0 returned (0.05 s): the search at 10 s still hits (it would not if expiry
    # ran from the start), the one at 12 s misses: 8 hits.
    assert row["hits"] == 8
    assert r.ttl_curve.set_index("ttl_s").loc[1.0, "hit_rate"] == 0.0
    assert r.ttl_for_target_s == 10.0
    assert r.lru_size_for_target == 1
    assert r.hit_latency_source == "config"
    assert r.settings_hits == 8 and r.settings_new_hits == 8
    assert r.settings_latency_saved_ms == pytest.approx(8 * (50.0 - 2.0))
    assert r.settings_cost_saved_usd == pytest.approx(8 * 0.001)
    story = r.story()
    assert story.iloc[1]["could be served"] == pytest.approx(0.9) and story.iloc[0]["count"] == 0


def test_trace_rejects_bad_input():
    z = np.zeros(2)
    zi, zb = np.zeros(2, np.int64), np.zeros(2, bool)
    with pytest.raises(ValueError, match="sorted"):
        SearchTrace(np.array([2, 1]), np.array([3, 3]), zi, zi, zi, zb, z, z, zb)
    with pytest.raises(ValueError, match="key has 1 rows"):
        SearchTrace(np.array([1, 2]), np.array([3, 3]), np.zeros(1, np.int64), zi, zi, zb, z, z, zb)
    with pytest.raises(ValueError, match="precede"):
        SearchTrace(np.array([1, 2]), np.array([3, 1]), zi, zi, zi, zb, z, z, zb)


# ---- the warehouse side: stg_cache_lookups / stg_cache_invalidations feed the same replay

INSERT = """INSERT INTO raw_op_events (schema_version, event_id, ts, service, mode, call_mode, op, user_id, agent_id,
    memory_id, latency_ms, status, query_hash, top_k, filter_keys, result_ids, embedding_model, embedding_tokens,
    cache, source_file, source_line, ingested_at)
    VALUES (1, ?, ?, ?, 'oss', 'sync', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'text-embedding-3-small', ?, ?, 'f', 1, ?)"""

T0 = datetime(2026, 11, 1, 12, 0, 0)


def insert_op(con, ts, op, user=None, query=None, latency=50.0, memory_id=None, result_ids=None, tokens=1000,
              cache=None, service="svc", status="ok", agent=None, filter_keys=None, top_k=None, event_id=None):
    if op == "search" and top_k is None:
        top_k = 5
    if filter_keys is None and op == "search":
        filter_keys = [k for k, v in (("user_id", user), ("agent_id", agent)) if v is not None]
    con.execute(INSERT, [event_id or uuid.uuid4().hex, ts, service, op, user, agent, memory_id, latency, status,
                         query, top_k, filter_keys, result_ids, tokens, cache, ts])


def test_load_trace_from_warehouse(con):
    insert_op(con, T0, "add", user="u1", result_ids=["m1"])
    insert_op(con, T0 + timedelta(seconds=1), "search", user="u1", query="q1")
    insert_op(con, T0 + timedelta(seconds=2), "search", user="u1", query="q1", latency=2.0, cache="hit")
    insert_op(con, T0 + timedelta(seconds=3), "update", memory_id="m1")  # owner resolved through the add
    insert_op(con, T0 + timedelta(seconds=4), "search", user="u1", query="q1")
    insert_op(con, T0 + timedelta(seconds=5), "search", user="u2", query="q1")
    insert_op(con, T0 + timedelta(seconds=6), "search", query="q1", agent="bot")  # no user: not cacheable
    insert_op(con, T0 + timedelta(seconds=7), "search", user="u1", query="q1", filter_keys=["user_id", "category"])
    insert_op(con, T0 + timedelta(seconds=8), "search", user="u1", query="q1", cache="bypass")
    insert_op(con, T0 + timedelta(seconds=9), "search", user="u1", query="q1", service="other")  # its own cache
    trace = load_trace(con)
    assert len(trace) == 5 and len(trace.inv_end_ns) == 2
    assert list(trace.served_by_cache) == [False, True, False, False, False]
    assert list(trace.could_be_served) == [False, True, False, False, False]
    assert trace.cost_usd[0] == pytest.approx(1000 * 0.02 / 1e6)
    gkey = generation_keys(trace)
    assert gkey[0] == gkey[1] and gkey[2] != gkey[1] and gkey[3] != gkey[2] and gkey[4] != gkey[2]
    assert list(replay(trace, 300, 10).hit) == [False, True, False, False, False]
    r = simulate(trace, load_config())
    assert r.hit_latency_source == "observed" and r.hit_latency_ms == 2.0
    assert r.avg_miss_latency_ms == 50.0
    assert r.could_be_served == 1 and r.could_be_served_rate == pytest.approx(0.2)
    assert r.through_cache == 1 and r.measured_hits == 1
    assert len(load_trace(con, since=T0 + timedelta(seconds=4))) == 3


def insert_calls(con, calls: list[Call]) -> None:
    for i, c in enumerate(calls):  # event ids in list order: equal start times keep the list's order
        ts = T0 + timedelta(milliseconds=c.start)
        kw = {"latency": float(c.duration), "service": f"svc{c.service}", "event_id": f"{i:032x}"}
        if c.kind in "sf":
            insert_op(con, ts, "search", user=f"u{c.user}", query=f"q{c.query}",
                      status="ok" if c.kind == "s" else "error", **kw)
        elif c.kind == "w":
            insert_op(con, ts, "add", user=f"u{c.user}", **kw)
        else:
            insert_op(con, ts, "delete_all", agent="bot", **kw)


@settings(max_examples=40, deadline=None)
@given(calls_strategy(overlap=True), st.sampled_from([None, 0.02]), st.sampled_from([None, 2]))
def test_could_be_served_is_the_ceiling_of_every_replay(calls, ttl_s, size):
    """stg_cache_lookups.could_be_served (SQL) equals the replay that never expires nor fills when calls do not
    overlap, and is never below any replay; the trace loaded from the warehouse replays like the calls."""
    from memlens.warehouse import connect

    con = connect(":memory:")
    try:
        insert_calls(con, calls)
        trace = load_trace(con)
        expected = make_trace(calls)
        assert len(trace) == len(expected)
        assert replay(trace, ttl_s, size).hits == replay(expected, ttl_s, size).hits
        ceiling = int(trace.could_be_served.sum())
        assert ceiling >= replay(trace, ttl_s, size).hits
        ordered = sorted(calls, key=lambda c: c.start)
        if all(a.end <= b.start for a, b in itertools.pairwise(ordered)):
            assert ceiling == replay(trace, None, None).hits
    finally:
        con.close()
