"""The synthetic demo workload as numpy arrays: who calls what, when, how fast, with what result.

Everything is drawn from one seeded generator and vectorised (10M events fit in memory as ~40 arrays), so
`memlens demo` is deterministic for a seed and quick. The shape is chosen to look like a real Mem0
deployment and to exercise every page: diurnal and weekly load, a few heavy users (Zipf), heavy-tailed
lognormal latencies per op with rare slow outliers, a slow incident and an error burst, repeated queries
per user with cache outcomes that are the instrumented SearchCache's own rules run over the calls (a Redis cache
turned on mid-window), unscoped searches, ignored `limit=`, reranking,
infer=True adds that run an LLM, a Platform-mode service, and memories that are created, updated and deleted
consistently with Mem0's history store (workloads/demo.py writes both).

Numbers here describe the *synthetic world*, not product thresholds (those live in the config).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memlens.schema import PHASES

US = 1_000_000  # microseconds per second
HOUR_US = 3600 * US
DAY_US = 24 * HOUR_US

OPS = np.array(["add", "search", "get", "get_all", "update", "delete", "history"])
OP_ADD, OP_SEARCH, OP_GET, OP_GET_ALL, OP_UPDATE, OP_DELETE, OP_HISTORY = range(7)
TARGET_OPS = (OP_GET, OP_UPDATE, OP_DELETE, OP_HISTORY)  # ops that act on one existing memory


@dataclass(frozen=True)
class Service:
    name: str
    mode: str               # oss | platform
    share: float            # share of all calls
    op_mix: tuple[float, ...]  # probabilities over OPS
    cache: str | None       # 'local' (in-process) | 'redis' | None
    cache_since_day: int     # day of the window the cache was turned on (searches before it had none)
    embedding_model: str | None
    infer_share: float      # share of adds with infer=True (runs the LLM)
    async_share: float
    agents: tuple[str, ...]
    base_ms: float          # extra latency of the deployment (network hop for Platform)


SERVICES: tuple[Service, ...] = (
    Service("chat-api", "oss", 0.55, (0.17, 0.60, 0.05, 0.08, 0.05, 0.04, 0.01), "local", 0,
            "text-embedding-3-small", 0.55, 0.10, ("assistant", "planner"), 0.0),
    Service("support-worker", "oss", 0.23, (0.15, 0.55, 0.08, 0.10, 0.06, 0.04, 0.02), "redis", 3,
            "text-embedding-3-small", 0.50, 0.70, ("support-bot",), 2.0),
    Service("knowledge-sync", "oss", 0.10, (0.62, 0.12, 0.03, 0.12, 0.06, 0.05, 0.00), None, 0,
            "text-embedding-3-large", 0.0, 0.90, ("ingest-agent",), 0.0),
    Service("platform-gateway", "platform", 0.12, (0.20, 0.60, 0.05, 0.08, 0.04, 0.03, 0.00), None, 0,
            None, 0.80, 0.0, ("sales-assistant",), 90.0),
)

LLM_MODEL = "gpt-4o-mini"
# Lognormal latency per op: median ms and sigma (log-space spread), before multipliers.
LATENCY = {OP_ADD: (38.0, 0.45), OP_SEARCH: (32.0, 0.55), OP_GET: (5.0, 0.5), OP_GET_ALL: (22.0, 0.5),
           OP_UPDATE: (42.0, 0.45), OP_DELETE: (7.0, 0.5), OP_HISTORY: (4.0, 0.4)}
INFER_ADD_MEDIAN_MS, INFER_ADD_SIGMA = 1150.0, 0.40   # one LLM round trip dominates infer=True adds
CACHE_HIT_MS = {"local": (0.9, 0.35), "redis": (2.4, 0.35)}
CACHE_LOOKUP_MS = 0.4        # what a lookup that misses adds to the search behind it
CACHE_TTL_S = 300            # SearchCache(ttl_s=300, max_entries=10_000) / RedisSearchCache(ttl_s=300): the
CACHE_MAX_ENTRIES = 10_000   # reference's setex 300 (user-preferences band 300-900 s), memlens's default size
SLOW_OUTLIER_SHARE = 0.012   # rare calls 4-15x slower (GC pauses, cold segments)
BASE_ERROR_RATE = 0.004
USER_ZIPF = 1.15             # user weights 1/rank^a: a few users dominate
QUERY_ZIPF = 1.35            # per-user query repetition (numpy zipf parameter)
QUERY_POOL = 400             # distinct queries per user
QUERY_REPEAT = 0.85           # share of searches repeating the user's previous question (retries, agent loops)
BACKLOG_FACTOR = 3.0         # memories that existed before the window, per memory created in it
BACKLOG_DAYS = 180
SCOPES = ("user", "user+run", "user+agent", "agent", "none")
SCOPE_P = (0.70, 0.12, 0.07, 0.05, 0.06)
BURST_SERVICES = ("support-worker", "platform-gateway")
# Where an OSS call's time goes (phases of memlens.schema.PHASES), per op: typical weights of the time the phases
# cover; the rest of each call (OWN_SHARE) is Mem0's own Python. Hosted embeddings (text-embedding-3-*) are a
# network round trip, so they dominate searches and plain adds; an infer=True add is mostly its LLM call.
PHASE_SHARES = {
    OP_SEARCH: {"embedding": 0.74, "vector_search": 0.26},
    OP_ADD: {"embedding": 0.58, "vector_write": 0.27, "history": 0.15},
    OP_GET: {"vector_read": 1.0},
    OP_GET_ALL: {"vector_read": 1.0},
    OP_UPDATE: {"embedding": 0.50, "vector_read": 0.12, "vector_write": 0.26, "history": 0.12},
    OP_DELETE: {"vector_read": 0.34, "vector_write": 0.42, "history": 0.24},
    OP_HISTORY: {"history": 1.0},
}
INFER_ADD_SHARES = {"llm": 0.84, "embedding": 0.08, "vector_search": 0.03, "vector_write": 0.03, "history": 0.02}
RERANK_SHARE = 0.55          # of a reranked search's phase time (rerank made the call 2.3x slower)
OWN_SHARE = (0.03, 0.09)     # uniform range of the unattributed rest per call
PHASE_JITTER = 0.25          # lognormal sigma of each phase's weight before renormalising
# Where the extra time of a slow call went: the incident degraded the vector store; a timeout waited on the
# op's network phase (the hosted embedding API, the LLM, the vector store).
INCIDENT_PHASE = {OP_SEARCH: "vector_search", OP_ADD: "vector_write", OP_GET: "vector_read",
                  OP_GET_ALL: "vector_read", OP_UPDATE: "vector_write", OP_DELETE: "vector_write",
                  OP_HISTORY: "history"}
INCIDENT_SLOWDOWN = 3.5
# A search's vector-store time grows as (memories held / held at the window's start) ** this: filtered search over
# a store that outgrows its cache slows faster than the store grows.
VECTOR_GROWTH = 1.8
TIMEOUT_PHASE = {OP_SEARCH: "embedding", OP_ADD: "embedding", OP_GET: "vector_read", OP_GET_ALL: "vector_read",
                 OP_UPDATE: "embedding", OP_DELETE: "vector_write", OP_HISTORY: "history"}
ERROR_TYPES = np.array(["TimeoutError", "ConnectionError", "ValueError", "RateLimitError", "APIConnectionError"])


@dataclass
class DemoEvents:
    """Columns of the op log (one entry per event, sorted by ts) and of the memories they touch."""

    ts_us: np.ndarray          # int64 µs since the Unix epoch
    user: np.ndarray           # int64 user index, -1 = no user scope
    service: np.ndarray        # int64 index into SERVICES
    op: np.ndarray             # int64 index into OPS
    agent: np.ndarray          # object: agent id or None
    run: np.ndarray            # int64 day of the user's run (session) id, -1 = no run scope
    is_async: np.ndarray
    ok: np.ndarray
    error_type: np.ndarray     # object
    latency_ms: np.ndarray
    scope: np.ndarray          # int64 index into SCOPES (searches/get_all), -1 otherwise
    top_k: np.ndarray          # int64, -1 = n/a
    limit: np.ndarray          # int64, -1 = not passed
    rerank: np.ndarray         # int8: -1 n/a, 0, 1
    threshold: np.ndarray      # float, nan = n/a
    result_count: np.ndarray   # int64, -1 = n/a
    top_score: np.ndarray      # float, nan = n/a
    query: np.ndarray          # int64 query id, -1 = n/a
    cache: np.ndarray          # object: hit | miss | bypass | None
    message_count: np.ndarray  # int64, -1 = n/a
    infer: np.ndarray          # int8: -1 n/a, 0, 1
    created: np.ndarray        # int64 memories created (adds), -1 = n/a
    first_memory: np.ndarray   # int64 index of the first memory created by an add (ids are consecutive)
    updated: np.ndarray        # int64 memories updated (adds with infer, update ops), -1 = n/a
    deleted: np.ndarray        # int64, -1 = n/a
    target: np.ndarray         # int64 memory index of get/update/delete/history (and an add's update), -1
    embedding_tokens: np.ndarray  # int64, -1 = none recorded
    embedding_calls: np.ndarray
    llm_in: np.ndarray
    llm_out: np.ndarray
    phase_ms: np.ndarray       # float (events, len(PHASES)): ms per phase, nan = did not run / not recorded
    # memories: index k → owner, creation time, text size; backlog ones were created before the window
    mem_user: np.ndarray
    mem_ts_us: np.ndarray
    mem_bytes: np.ndarray      # int64 approximate text size (drives the embedding tokens of updates)
    mem_backlog: int           # memories [0, mem_backlog) are the backlog
    start_us: int
    end_us: int

    def __len__(self) -> int:
        return len(self.ts_us)


def _lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: np.ndarray | float,
               size: int) -> np.ndarray:
    return np.exp(np.log(median) + sigma * rng.standard_normal(size))


def _timestamps(rng: np.random.Generator, n: int, start_us: int, days: int) -> np.ndarray:
    """Diurnal (peak ~15:00 UTC, quiet nights), weekly (weekends ~55 %) and slowly growing load."""
    slots = np.arange(days * 24)
    slot_start = start_us + slots * HOUR_US
    hour = (slot_start // HOUR_US) % 24
    weekday = ((slot_start // DAY_US) + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Sat, Sun
    diurnal = 0.18 + np.exp(-((hour - 15.0) ** 2) / (2 * 4.0**2))
    weekly = np.where(weekday >= 5, 0.55, 1.0)
    trend = 1.0 + 0.35 * slots / max(len(slots) - 1, 1)
    w = diurnal * weekly * trend
    pick = rng.choice(len(slots), size=n, p=w / w.sum())
    ts = np.sort(slot_start[pick] + rng.integers(0, HOUR_US, size=n))
    # strictly increasing (no two calls in the same microsecond): the log's order is the order they happened
    step = np.arange(n, dtype=np.int64)
    return np.maximum.accumulate(ts - step) + step


def _origin_of_repeats(group: np.ndarray, ts: np.ndarray, eligible: np.ndarray, repeat: np.ndarray) -> np.ndarray:
    """For each eligible row, the row whose call it repeats: chosen rows repeat the latest non-repeating eligible
    row of the same group (a retry or an agent loop asks the same thing the same way); others are their own."""
    origin = np.arange(len(ts))
    idx = np.flatnonzero(eligible)
    order = idx[np.lexsort((ts[idx], group[idx]))]
    g = group[order]
    first = np.r_[True, g[1:] != g[:-1]]
    is_origin = first | ~repeat[order]
    origin_pos = np.maximum.accumulate(np.where(is_origin, np.arange(len(order)), -1))
    origin[order] = order[origin_pos]
    return origin


def _cache_hits(ts: np.ndarray, lat: np.ndarray, op: np.ndarray, ok: np.ndarray, user: np.ndarray,
                service: np.ndarray, agent: np.ndarray, run: np.ndarray, query: np.ndarray, top_k: np.ndarray,
                threshold: np.ndarray, rerank: np.ndarray, looked_up: np.ndarray) -> np.ndarray:
    """Which looked-up searches each service's cache serves: `optimize.cache_sim.replay` (the SearchCache's
    semantics) over this sequence, keyed like the cache (user, agent, run, query, top_k, threshold, rerank),
    invalidated by the service's successful writes of that user when they return."""
    from memlens.instrumentation.cache import redis_expiry_s
    from memlens.optimize.cache_sim import SearchTrace, dense_ids, replay

    hit = np.zeros(len(ts), bool)
    agent_code = dense_ids(np.where(agent == None, "", agent).astype(str))  # noqa: E711
    is_write = np.isin(op, [OP_ADD, OP_UPDATE, OP_DELETE]) & ok & (user >= 0)
    end_ns = ts * 1000 + np.rint(lat * 1e6).astype(np.int64)
    for i, svc in enumerate(SERVICES):
        if svc.cache is None:
            continue
        s = np.flatnonzero(looked_up & (service == i))  # ts is strictly increasing: the log's order
        w = np.flatnonzero(is_write & (service == i))
        key = dense_ids(user[s], agent_code[s], run[s], query[s], top_k[s], np.rint(threshold[s] * 1000), rerank[s])
        trace = SearchTrace(
            start_ns=ts[s] * 1000, end_ns=end_ns[s], key=key, group=user[s], service=np.zeros(len(s), np.int64),
            ok=ok[s], latency_ms=lat[s], cost_usd=np.zeros(len(s)), served_by_cache=np.zeros(len(s), bool),
            inv_end_ns=end_ns[w], inv_group=user[w], inv_service=np.zeros(len(w), np.int64))
        ttl_s, size = ((CACHE_TTL_S, CACHE_MAX_ENTRIES) if svc.cache == "local"
                       else (redis_expiry_s(CACHE_TTL_S), None))  # Redis: whole seconds, no size bound
        hit[s] = replay(trace, ttl_s, size).hit
    return hit


def generate(events: int, days: int, users: int, seed: int, end_us: int) -> DemoEvents:
    if events < 1 or days < 1 or users < 1:
        raise ValueError(f"demo needs events, days and users >= 1 (got {events}, {days}, {users})")
    rng = np.random.default_rng(seed)
    n = events
    start_us = end_us - days * DAY_US
    ts = _timestamps(rng, n, start_us, days)
    day_idx = (ts - start_us) // DAY_US
    hour_of_day = (ts // HOUR_US) % 24

    uw = 1.0 / np.arange(1, users + 1) ** USER_ZIPF
    user = rng.choice(users, size=n, p=uw / uw.sum()).astype(np.int64)
    service = rng.choice(len(SERVICES), size=n, p=[s.share for s in SERVICES]).astype(np.int64)
    op = np.empty(n, dtype=np.int64)
    is_async = np.zeros(n, dtype=bool)
    agent = np.full(n, None, dtype=object)
    for i, s in enumerate(SERVICES):
        m = service == i
        k = int(m.sum())
        op[m] = rng.choice(len(OPS), size=k, p=s.op_mix)
        is_async[m] = rng.random(k) < s.async_share
        agent[m] = np.array(s.agents, dtype=object)[rng.integers(0, len(s.agents), size=k)]
    mode_platform = np.array([s.mode == "platform" for s in SERVICES])[service]

    # -- scope of search / get_all; other ops act for their user (adds/writes carry user and agent)
    is_query = (op == OP_SEARCH) | (op == OP_GET_ALL)
    scope = np.where(is_query, rng.choice(len(SCOPES), size=n, p=SCOPE_P), -1)
    unscoped = scope == SCOPES.index("none")
    agent_only = scope == SCOPES.index("agent")
    user = np.where(unscoped | agent_only, -1, user)
    keep_agent = ~is_query | (scope == SCOPES.index("user+agent")) | agent_only
    agent = np.where(keep_agent, agent, None)
    run = np.where(scope == SCOPES.index("user+run"), day_idx, -1)  # one run (session) per user and day

    # -- status: base errors, an error burst (1 h, day -3 at 14:00 UTC) on the services behind one API gateway
    burst_day = max(days - 3, 0)
    burst_services = [i for i, s in enumerate(SERVICES) if s.name in BURST_SERVICES]
    in_burst = (day_idx == burst_day) & (hour_of_day == 14) & np.isin(service, burst_services)
    err_p = np.where(in_burst, 0.30, BASE_ERROR_RATE)
    ok = rng.random(n) >= err_p
    error_type = np.full(n, None, dtype=object)
    bad = ~ok
    error_type[bad] = ERROR_TYPES[rng.choice(len(ERROR_TYPES), size=int(bad.sum()), p=[0.35, 0.2, 0.1, 0.2, 0.15])]
    error_type[bad & in_burst] = "RateLimitError"

    # -- adds: messages, infer, memories created (ids are consecutive per add, after the backlog)
    is_add = op == OP_ADD
    infer_share = np.array([s.infer_share for s in SERVICES])[service]
    infer = np.where(is_add, (rng.random(n) < infer_share).astype(np.int8), -1).astype(np.int8)
    message_count = np.where(is_add, 1 + rng.poisson(1.4, n), -1)
    created_infer = rng.choice(4, size=n, p=[0.22, 0.43, 0.25, 0.10])
    created = np.where(is_add, np.where(infer == 1, created_infer, message_count), -1)
    created = np.where(is_add & ~ok, 0, created)
    n_window = int(created[is_add].sum())
    backlog = round(BACKLOG_FACTOR * n_window)

    # memories: backlog spread over BACKLOG_DAYS before the window, owned in proportion to user weight
    bl_user = rng.choice(users, size=backlog, p=uw / uw.sum()).astype(np.int64)
    bl_ts = np.sort(start_us - rng.integers(1, BACKLOG_DAYS * DAY_US, size=backlog))
    first_memory = np.full(n, -1, dtype=np.int64)
    csum = np.cumsum(np.where(is_add, created, 0))
    first_memory[is_add] = backlog + csum[is_add] - created[is_add]
    add_idx = np.flatnonzero(is_add)
    owner_event = np.repeat(add_idx, created[add_idx])
    mem_user = np.r_[bl_user, user[owner_event]]
    mem_ts = np.r_[bl_ts, ts[owner_event]]
    mem_bytes = np.clip(_lognormal(rng, 72.0, 0.45, len(mem_user)), 12, 2000).astype(np.int64)

    # -- target memories of get/update/delete/history and of an infer add's update: a memory of the same user
    #    created strictly before the call, chosen uniformly; a call with nothing to act on becomes get_all.
    add_updates = is_add & (infer == 1) & ok & (rng.random(n) < 0.2)
    needs_target = np.isin(op, TARGET_OPS) | add_updates
    target = np.full(n, -1, dtype=np.int64)
    m_order = np.lexsort((mem_ts, mem_user))
    span = int(max(ts.max(initial=0), mem_ts.max(initial=0)) - min(bl_ts.min(initial=start_us), start_us)) + 2
    t0 = int(min(bl_ts.min(initial=start_us), start_us))
    m_key = mem_user[m_order] * span + (mem_ts[m_order] - t0)
    u_start = np.searchsorted(mem_user[m_order], np.arange(users), side="left")
    ti = np.flatnonzero(needs_target)
    before = np.searchsorted(m_key, user[ti] * span + (ts[ti] - t0), side="left") - u_start[user[ti]]
    has = before > 0
    pick = u_start[user[ti]] + np.floor(rng.random(len(ti)) * np.maximum(before, 1)).astype(np.int64)
    target[ti[has]] = m_order[pick[has]]
    # a memory is gone after its first successful delete; later calls on it fall back to get_all
    del_ev = np.flatnonzero((op == OP_DELETE) & ok & (target >= 0))
    deleted_at = np.full(len(mem_user), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(deleted_at, target[del_ev], ts[del_ev])
    stale = (target >= 0) & (ts > deleted_at[np.maximum(target, 0)])
    lost = needs_target & ((target < 0) | stale)
    add_updates &= ~lost
    demote = lost & ~is_add
    op[demote] = OP_GET_ALL
    target[lost] = -1
    scope[demote] = SCOPES.index("user")
    agent[demote] = None
    is_query = (op == OP_SEARCH) | (op == OP_GET_ALL)
    updated = np.where(is_add, add_updates.astype(np.int64), -1)
    updated = np.where(op == OP_UPDATE, ok.astype(np.int64), updated)
    deleted = np.where(op == OP_DELETE, ok.astype(np.int64), -1)

    # -- query shape
    top_k = np.where(is_query, rng.choice([5, 10, 20, 50], size=n, p=[0.25, 0.30, 0.35, 0.10]), -1)
    oss_query = is_query & ~mode_platform
    limit = np.where(oss_query & (rng.random(n) < 0.15), rng.choice([3, 5], size=n), -1)
    top_k = np.where(limit > 0, 20, top_k)  # mem0 2.2.1 ignores limit=: the default top_k applies
    is_search = op == OP_SEARCH
    rerank = np.where(is_search, (rng.random(n) < 0.15).astype(np.int8), -1).astype(np.int8)
    threshold = np.where(is_search, np.where(rng.random(n) < 0.8, 0.1, 0.3), np.nan)
    held = rng.poisson(30, n)
    # queries repeat per user (Zipf over a per-user pool); unscoped ones come from a shared pool. A repeat asks
    # the earlier question the same way (same scope, top_k, limit, threshold, rerank), in today's session.
    q_rank = np.minimum(rng.zipf(QUERY_ZIPF, n), QUERY_POOL) - 1
    query = np.where(is_search, (user + 1) * QUERY_POOL + q_rank, -1)
    origin = _origin_of_repeats(service * (users + 1) + user, ts, is_search, rng.random(n) < QUERY_REPEAT)
    query, scope, agent, top_k, limit = query[origin], scope[origin], agent[origin], top_k[origin], limit[origin]
    threshold, rerank = threshold[origin], rerank[origin]
    run = np.where(scope == SCOPES.index("user+run"), day_idx, -1)
    result_count = np.where(is_query, np.where(scope == SCOPES.index("none"), top_k, np.minimum(top_k, held)), -1)
    top_score = np.where(is_search & (result_count > 0), np.round(rng.beta(5, 2, n), 4), np.nan)

    # -- tokens: queries and written texts are embedded; infer adds run the LLM (OSS pays per token). A search a
    #    cache serves embeds nothing: its tokens are dropped once the cache outcomes are known (below).
    emb_model = np.array([s.embedding_model for s in SERVICES], dtype=object)[service]
    q_tokens = 8 + (np.where(query >= 0, query, 0) * 2654435761 % 33)
    msg_tokens = 25 + rng.poisson(45, n) * np.maximum(message_count, 1)
    fact_tokens = 18 * np.maximum(created, 0) + 18 * np.maximum(updated, 0)
    embedding_calls = np.select(
        [is_search, is_add & (infer == 1), is_add, op == OP_UPDATE],
        [np.ones(n, np.int64), np.maximum(created, 0) + np.maximum(updated, 0) + 1, np.maximum(message_count, 1),
         np.ones(n, np.int64)], -1)
    embedding_tokens = np.select(
        [is_search, is_add & (infer == 1), is_add, op == OP_UPDATE],
        [q_tokens, fact_tokens + q_tokens, msg_tokens, 10 + mem_bytes[np.maximum(target, 0)] // 4], -1)
    no_model = emb_model == None  # noqa: E711
    embedding_tokens = np.where(no_model, -1, embedding_tokens)
    embedding_calls = np.where(no_model, -1, embedding_calls)
    llm = is_add & (infer == 1) & ~mode_platform
    llm_in = np.where(llm, 320 + 170 * np.maximum(message_count, 1) + rng.integers(0, 120, n), -1)
    llm_out = np.where(llm, 35 + 32 * np.maximum(created, 0) + rng.integers(0, 30, n), -1)

    # -- which searches meet a cache: services with one, from the day it was turned on; a search without a user
    #    is a bypass (instrumentation/cache.py), the rest are looked up (hit or miss, decided below)
    svc_cache = np.array([s.cache for s in SERVICES], dtype=object)[service]
    cache_on = (svc_cache != None) & (day_idx >= np.array([s.cache_since_day for s in SERVICES])[service])  # noqa: E711
    looked_up = is_search & cache_on & (user >= 0)

    # -- latency of every call as if no cache answered: lognormal per op, scaled by query shape, plus outliers,
    #    an incident and timeouts; a lookup that misses adds its own cost
    med = np.empty(n)
    sig = np.empty(n)
    for o, (m, s) in LATENCY.items():
        med[op == o] = m
        sig[op == o] = s
    med = np.where(is_add & (infer == 1), INFER_ADD_MEDIAN_MS, med)
    sig = np.where(is_add & (infer == 1), INFER_ADD_SIGMA, sig)
    med = np.where(is_add & (infer != 1), med + 9.0 * np.maximum(message_count - 1, 0), med)
    shape = np.ones(n)
    shape = np.where(is_query, (np.maximum(top_k, 1) / 10.0) ** 0.25, shape)
    shape = np.where(rerank == 1, shape * 2.3, shape)
    shape = np.where(is_query & (scope == SCOPES.index("none")), shape * 3.2, shape)
    shape = np.where(svc_cache == "redis", shape * 1.05, shape)
    lat = _lognormal(rng, med * shape, sig, n)
    # an OSS search's vector-store part grows with the collection (memories held when it ran)
    store = backlog + np.cumsum(np.where(is_add, np.maximum(created, 0), 0))
    growth = np.where(is_search & ~mode_platform, (store / max(int(store[0]), 1)) ** VECTOR_GROWTH, 1.0)
    lat = lat * (1.0 + PHASE_SHARES[OP_SEARCH]["vector_search"] * (growth - 1.0))
    lat = lat + np.array([s.base_ms for s in SERVICES])[service]
    lat = lat + np.where(looked_up, CACHE_LOOKUP_MS, 0.0)
    outlier = rng.random(n) < SLOW_OUTLIER_SHARE
    lat = np.where(outlier, lat * rng.uniform(4, 15, n), lat)
    incident_day = max(days - 6, 0)  # vector store degraded for 6 h: every uncached OSS call 3.5x slower
    incident = (day_idx == incident_day) & (hour_of_day >= 10) & (hour_of_day < 16) & ~mode_platform
    lat = np.where(incident, lat * INCIDENT_SLOWDOWN, lat)
    timeout = ~ok & (error_type == "TimeoutError")
    lat = np.where(timeout, rng.uniform(5000, 10000, n), lat)
    lat = np.where(~ok & ~timeout, lat * rng.uniform(0.1, 1.0, n), lat)
    lat = np.round(lat, 3)

    # -- cache outcomes: the instrumented cache's own rules replayed over this sequence of calls (one cache per
    #    service: an in-process SearchCache or a Redis one, each seeing its service's writes), so what the demo
    #    logs is what those caches would have measured, and the what-if replay of the log agrees with it
    hit = _cache_hits(ts, lat, op, ok, user, service, agent, run, query, top_k, threshold, rerank, looked_up)
    cache = np.full(n, None, dtype=object)
    cache[looked_up] = "miss"
    cache[is_search & cache_on & (user < 0)] = "bypass"
    cache[hit] = "hit"
    ok[hit] = True  # served before the call that would have failed
    error_type[hit] = None
    hit_med = np.array([CACHE_HIT_MS.get(s.cache, (1.0, 0.3))[0] for s in SERVICES])[service]
    hit_sig = np.array([CACHE_HIT_MS.get(s.cache, (1.0, 0.3))[1] for s in SERVICES])[service]
    lat = np.where(hit, np.round(_lognormal(rng, hit_med, hit_sig, n), 3), lat)
    embedding_tokens = np.where(hit, -1, embedding_tokens)
    embedding_calls = np.where(hit, -1, embedding_calls)
    # failed calls return nothing
    result_count = np.where(is_query & ~ok, -1, result_count)
    top_score = np.where(ok, top_score, np.nan)
    # where the time went, for OSS calls that reached Mem0 (drawn last: every column above stays as it was)
    phase_ms = _phases(rng, op, infer, rerank, ~mode_platform & ~hit, incident, timeout, lat, growth)

    return DemoEvents(
        ts_us=ts, user=user, service=service, op=op, agent=agent, run=run, is_async=is_async, ok=ok,
        error_type=error_type, latency_ms=lat, scope=scope, top_k=top_k, limit=limit, rerank=rerank,
        threshold=threshold, result_count=result_count, top_score=top_score, query=query, cache=cache,
        message_count=message_count, infer=infer, created=created, first_memory=first_memory, updated=updated,
        deleted=deleted, target=target, embedding_tokens=embedding_tokens, embedding_calls=embedding_calls,
        llm_in=llm_in, llm_out=llm_out, phase_ms=phase_ms, mem_user=mem_user, mem_ts_us=mem_ts,
        mem_bytes=mem_bytes, mem_backlog=backlog, start_us=start_us, end_us=end_us,
    )


def _phases(rng: np.random.Generator, op: np.ndarray, infer: np.ndarray, rerank: np.ndarray, recorded: np.ndarray,
            incident: np.ndarray, timeout: np.ndarray, lat: np.ndarray, growth: np.ndarray) -> np.ndarray:
    """Each recorded call's latency split into phases (events × PHASES, ms; nan where a phase did not run).

    The phases cover (1 - own share) of the call, in the op's weights (jittered per call; a search's vector
    weight grown with the store as its latency was). An incident call's extra time is in its vector phase, a
    timeout's wait in its network phase. Cut to µs, never rounded up: a call's phases add up to less than it."""
    n, k = len(op), len(PHASES)
    slot = {p: i for i, p in enumerate(PHASES)}
    weights = np.zeros((n, k))
    for o, table in PHASE_SHARES.items():
        for p, w in table.items():
            weights[op == o, slot[p]] = w
    infer_add = (op == OP_ADD) & (infer == 1)
    weights[infer_add] = 0.0
    for p, w in INFER_ADD_SHARES.items():
        weights[infer_add, slot[p]] = w
    weights[:, slot["vector_search"]] *= np.where(op == OP_SEARCH, growth, 1.0)
    reranked = (op == OP_SEARCH) & (rerank == 1)
    weights[reranked] *= (1.0 - RERANK_SHARE) / weights[reranked].sum(axis=1, keepdims=True)
    weights[reranked, slot["rerank"]] = RERANK_SHARE
    weights *= _lognormal(rng, 1.0, PHASE_JITTER, n * k).reshape(n, k)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    covered = lat * (1.0 - rng.uniform(*OWN_SHARE, n))

    slow = incident & ~timeout
    base = np.where(slow, covered / INCIDENT_SLOWDOWN, covered)
    phases = weights * base[:, None]
    for o in PHASE_SHARES:
        m = slow & (op == o)
        phases[m, slot[INCIDENT_PHASE[o]]] += (covered - base)[m]
        t = timeout & (op == o)
        phases[t] = 0.0
        phases[t, slot[TIMEOUT_PHASE[o]]] = covered[t]
    t = timeout & infer_add  # an infer=True add waited on its LLM
    phases[t] = 0.0
    phases[t, slot["llm"]] = covered[t]
    phases = np.floor(phases * 1000.0) / 1000.0
    return np.where((phases > 0) & recorded[:, None], phases, np.nan)
