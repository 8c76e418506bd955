"""The what-if replay reproduces, search by search, what a real instrumented cache measured on the same log.

A workload runs through `instrument()` with a real cache in front; its op log is loaded by the real collector;
`load_trace` + `replay` at the cache's own TTL and size must give the same hits as the log's `cache = 'hit'`
(exact equality, per search):
- a real offline mem0.Memory (MiniLM, in-process Qdrant) behind SearchCache (TTL longer than the run, a small
  LRU so entries are evicted) and behind RedisSearchCache on a real redis-server (unbounded);
- a deterministic stand-in target (a dict of memories, not mem0) on a virtual clock behind SearchCache with a
  TTL of 20.5 ms, so entries expire during the run: the instrumentation's own clock calls are patched to the
  virtual clock, so the log's timestamps are exactly when the cache acted.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from test_instrumentation_cache import redis_client  # noqa: F401  (fixture: a real redis-server)

from memlens.collectors.oplog import collect_oplogs
from memlens.config import default_config
from memlens.instrumentation import OpLogWriter, instrument
from memlens.instrumentation import wrap as wrap_module
from memlens.instrumentation.cache import RedisSearchCache, SearchCache
from memlens.optimize.cache_sim import load_trace, replay
from memlens.warehouse import connect

TOPICS = ["green tea in the morning", "lives in Lisbon", "has a dog named Miso", "plays the cello",
          "allergic to peanuts", "likes hiking", "works on data pipelines", "learning Portuguese"]
QUESTIONS = ["what do I drink?", "where do I live?", "what pets do I have?", "what are my hobbies?"]


def drive(m, users: list[str], steps: int, seed: int, pause=None) -> dict[str, int]:
    """A seeded mix of the calls a cache meets: repeated scoped searches (different top_k, agent scope), searches
    it must bypass (no user, a metadata filter), adds, updates and deletes by id, delete_all of a user, failures."""
    rng = random.Random(seed)
    ids: dict[str, list[str]] = {u: [] for u in users}
    counts = {"search": 0, "bypass": 0, "write": 0}
    for step in range(steps):
        if pause is not None:
            pause()
        u = rng.choice(users)
        r = rng.random()
        if r < 0.50 or not ids[u]:
            q = QUESTIONS[min(int(rng.expovariate(1.2)), len(QUESTIONS) - 1)]
            if r < 0.40 or not ids[u]:
                m.search(q, filters={"user_id": u}, top_k=rng.choice([5, 5, 10]))
            else:
                m.search(q, filters={"user_id": u, "agent_id": "bot"})
            counts["search"] += 1
        elif r < 0.56:
            m.search(rng.choice(QUESTIONS), filters={"agent_id": "bot"})  # no user: bypass
            counts["bypass"] += 1
        elif r < 0.60:
            m.search(rng.choice(QUESTIONS), filters={"user_id": u, "category": "food"})  # other filter: bypass
            counts["bypass"] += 1
        elif r < 0.80:
            text = f"{rng.choice(TOPICS)} ({step})"
            agent = {"agent_id": "bot"} if rng.random() < 0.3 else {}
            ids[u].extend(x["id"] for x in m.add(text, user_id=u, infer=False, **agent)["results"])
            counts["write"] += 1
        elif r < 0.90:
            m.update(rng.choice(ids[u]), f"{rng.choice(TOPICS)} (revised {step})")
            counts["write"] += 1
        elif r < 0.97:
            mid = ids[u].pop(rng.randrange(len(ids[u])))
            m.delete(mid)
            counts["write"] += 1
        else:
            m.delete_all(user_id=u)
            ids[u].clear()
            counts["write"] += 1
    return counts


def load(log_dir: Path):
    con = connect(":memory:")
    result = collect_oplogs(con, [log_dir], default_config(), refresh=False)
    assert result.rows_quarantined == 0, result.messages
    return con


def assert_replay_matches_log(con, ttl_s: float | None, max_entries: int | None) -> tuple[int, int]:
    trace = load_trace(con)
    assert trace.through_cache.all()  # every cacheable search went through the cache
    logged = con.execute("SELECT count(*) FILTER (WHERE cache = 'hit'), count(*) FILTER (WHERE cache = 'miss'), "
                         "count(*) FILTER (WHERE cache = 'bypass') FROM raw_op_events").fetchone()
    got = replay(trace, ttl_s, max_entries)
    assert got.hits == logged[0] and len(trace) == logged[0] + logged[1]
    assert np.array_equal(got.hit, trace.served_by_cache)  # search by search, not only the count
    assert int(trace.could_be_served.sum()) >= got.hits
    return got.hits, logged[2]


@pytest.fixture(scope="module")
def memory(tmp_path_factory):
    from memlens.workloads.offline_mem0 import offline_memory

    m = offline_memory(tmp_path_factory.mktemp("mem0-replay"))
    yield m
    m.close()


@pytest.mark.mem0
@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_replay_equals_real_search_cache_on_offline_mem0(memory, backend, request, tmp_path):
    if backend == "redis":
        client = request.getfixturevalue("redis_client")
        client.flushdb()
        cache, ttl_s, size = RedisSearchCache(client, ttl_s=3600), 3600, None
    else:
        cache, ttl_s, size = SearchCache(ttl_s=3600, max_entries=4), 3600, 4
    writer = OpLogWriter(tmp_path / "logs", service=f"replay-{backend}", flush_every=10_000)
    m = instrument(memory, writer=writer, cache=cache)
    counts = drive(m, [f"{backend}-ann", f"{backend}-bob", f"{backend}-cy"], steps=140, seed=11)
    writer.close()
    con = load(tmp_path / "logs")
    try:
        hits, bypasses = assert_replay_matches_log(con, ttl_s, size)
        assert hits >= 10 and bypasses == counts["bypass"]
        if size is not None:  # the LRU bound mattered: without it the same log would have had more hits
            assert replay(load_trace(con), ttl_s, None).hits > hits
    finally:
        con.close()


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0  # seconds since the run began


class ScriptedMemory:
    """Deterministic stand-in target (not mem0): memories in a dict, mem0 2.2.1-shaped results, and every call
    spends a fixed virtual time; the query "boom" fails like a timed-out vector store."""

    def __init__(self, clock: VirtualClock):
        self.clock = clock
        self.memories: dict[str, dict] = {}
        self.next_id = 0

    def _spend(self, ms: int) -> None:
        self.clock.now += ms / 1000.0

    def add(self, messages, *, user_id=None, agent_id=None, infer=True, metadata=None):
        self._spend(3)
        self.next_id += 1
        mid = f"m{self.next_id}"
        self.memories[mid] = {"id": mid, "memory": messages, "user_id": user_id, "agent_id": agent_id}
        return {"results": [{"id": mid, "memory": messages, "event": "ADD"}]}

    def search(self, query, *, top_k=20, filters=None, threshold=0.1, rerank=False):
        self._spend(4 + len(query) % 5)
        if query == "boom":
            raise TimeoutError("vector store timed out")
        found = [dict(m, score=0.9) for m in self.memories.values()
                 if all(m.get(k) == v for k, v in (filters or {}).items())]
        return {"results": found[:top_k]}

    def get(self, memory_id):
        m = self.memories.get(memory_id)
        return None if m is None else dict(m)

    def update(self, memory_id, data):
        self._spend(5)
        self.memories[memory_id]["memory"] = data
        return {"message": "Memory updated successfully!"}

    def delete(self, memory_id):
        self._spend(2)
        self.memories.pop(memory_id, None)
        return {"message": "Memory deleted successfully!"}

    def delete_all(self, user_id=None, agent_id=None):
        self._spend(6)
        for mid in [k for k, m in self.memories.items() if m["user_id"] == user_id or m["agent_id"] == agent_id]:
            del self.memories[mid]
        return {"message": "Memories deleted successfully!"}


def test_replay_equals_real_search_cache_with_expiry(tmp_path, monkeypatch):
    clock = VirtualClock()
    base = float(int(time.time()) - 3600)  # an hour ago: the collector refuses events from the future
    monkeypatch.setattr(wrap_module, "time", SimpleNamespace(time=lambda: base + clock.now,
                                                              perf_counter=lambda: clock.now))
    ttl_s, size = 0.0205, 3  # every call lasts whole milliseconds, so no lookup lands on an expiry instant
    cache = SearchCache(ttl_s=ttl_s, max_entries=size, clock=lambda: clock.now)
    writer = OpLogWriter(tmp_path / "logs", service="scripted", flush_every=100_000)
    target = ScriptedMemory(clock)
    m = instrument(target, writer=writer, cache=cache)
    rng = random.Random(5)

    def pause() -> None:  # think time between calls; sometimes a failing search
        clock.now += rng.choice([1, 1, 2, 5, 13]) / 1000.0
        if rng.random() < 0.03:
            with pytest.raises(TimeoutError):
                m.search("boom", filters={"user_id": "ann"})

    drive(m, ["ann", "bob", "cy", "dee"], steps=3000, seed=3, pause=pause)
    writer.close()
    con = load(tmp_path / "logs")
    try:
        hits, _ = assert_replay_matches_log(con, ttl_s, size)
        trace = load_trace(con)
        assert hits >= 100 and (~trace.ok).sum() > 10
        # Both bounds bit: without expiry, or without the size bound, the same log would have had more hits.
        assert replay(trace, None, size).hits > hits and replay(trace, ttl_s, None).hits > hits
    finally:
        con.close()
