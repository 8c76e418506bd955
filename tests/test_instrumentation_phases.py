"""Per-phase timings: where each Mem0 call spent its time (instrumentation/phases.py).

Known answers for the attribution of spans; fake Memories whose components take known, distinct phases (sync,
threads, AsyncMemory's to_thread, concurrent calls that must not mix, exceptions); a real offline Memory
(MiniLM + in-process Qdrant) with add infer=False and infer=True against the local stub LLM (a stand-in for an
OpenAI-compatible model, `memlens.workloads.stub_llm`).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time

import pytest
from prometheus_client import CollectorRegistry

from memlens.instrumentation import MemlensMetrics, OpLogWriter, instrument
from memlens.instrumentation.phases import phase_ms
from memlens.schema import PHASE_FIELDS, PHASES

E, VS, VR, VW, RR, LLM, H, G = range(len(PHASES))  # slot of each phase, PHASES order


def _events(writer: OpLogWriter) -> list[dict]:
    writer.flush()
    return [json.loads(line) for f in writer.files for line in f.read_text(encoding="utf-8").splitlines()]


def _phases(ev: dict) -> dict[str, float]:
    return {k: ev[k] for k in PHASE_FIELDS if k in ev}


# -- attribution of spans (hand-computed) ------------------------------------------------------------------------

def test_sequential_spans_are_summed_per_phase():
    spans = [(E, 1.000, 1.006), (VS, 1.0065, 1.0085), (E, 1.009, 1.010), (H, 1.011, 1.0115)]
    got = phase_ms(spans)
    assert [None if v is None else round(v, 9) for v in got] == [7.0, 2.0, None, None, None, None, 0.5, None]


def test_overlapping_spans_share_the_time_and_never_exceed_the_wall_time_they_cover():
    # embedding in flight [0, 4] and [3, 5] (twice at once in [3, 4]); vector search [2, 6]. By hand, in seconds:
    # [0,2) embedding alone 2 | [2,3) both: 0.5 each | [3,4) embedding (counted once) and search: 0.5 each
    # [4,5) both 0.5 each | [5,6) search alone 1  ->  embedding 3.5 s, search 2.5 s, sum 6 s = the union [0, 6].
    got = phase_ms([(E, 0.0, 4.0), (VS, 2.0, 6.0), (E, 3.0, 5.0)])
    assert got == [3500.0, 2500.0, None, None, None, None, None, None]


def test_a_span_inside_another_of_the_same_phase_counts_once():
    # embed_batch looping over embed: the inner span ends first, so it is recorded first
    assert phase_ms([(E, 2.0, 3.0), (E, 1.0, 4.0)])[E] == 3000.0


def test_spans_that_touch_do_not_overlap():
    assert phase_ms([(VR, 0.0, 1.0), (VW, 1.0, 3.0)])[VR:VW + 1] == [1000.0, 2000.0]


# -- fake Memories: each component sleeps a known time ----------------------------------------------------------

class _Embedder:
    def __init__(self, s: float):
        self.s = s

    def embed(self, text, memory_action=None):
        time.sleep(self.s)
        return [0.0]


class _Store:
    def __init__(self, search_s: float = 0.0, fail: BaseException | None = None):
        self.search_s, self.fail = search_s, fail

    def search(self, query, vectors, top_k=5, filters=None):
        time.sleep(self.search_s)
        if self.fail is not None:
            raise self.fail
        return []

    def insert(self, vectors, payloads=None, ids=None):
        time.sleep(0.002)


class _DB:
    def add_history(self, *args, **kwargs):
        time.sleep(0.003)


class FakeMemory:
    """Memory's call shapes over fake components: search = embed + vector search, add = embed + insert + history."""

    def __init__(self, embed_s: float = 0.004, search_s: float = 0.006, fail: BaseException | None = None):
        self.embedding_model = _Embedder(embed_s)
        self.vector_store = _Store(search_s, fail)
        self.db = _DB()
        self.llm = None
        self.reranker = None
        self._entity_store = None

    def search(self, query, *, top_k=20, filters=None, threshold=0.1, rerank=False):
        v = self.embedding_model.embed(query, "search")
        return {"results": self.vector_store.search(query=query, vectors=v, top_k=top_k, filters=filters)}

    def add(self, messages, *, user_id=None, infer=True):
        v = self.embedding_model.embed(messages, "add")
        self.vector_store.insert(vectors=[v], ids=["m1"], payloads=[{}])
        self.db.add_history("m1", None, messages, "ADD")
        return {"results": [{"id": "m1", "memory": messages, "event": "ADD"}]}


class FakeAsyncMemory(FakeMemory):
    """AsyncMemory's way: every blocking component call offloaded with asyncio.to_thread."""

    async def search(self, query, *, top_k=20, filters=None, threshold=0.1, rerank=False):
        v = await asyncio.to_thread(self.embedding_model.embed, query, "search")
        found = await asyncio.to_thread(self.vector_store.search, query=query, vectors=v, top_k=top_k, filters=filters)
        return {"results": found}

    async def add(self, messages, *, user_id=None, infer=True):
        v = await asyncio.to_thread(self.embedding_model.embed, messages, "add")
        await asyncio.to_thread(self.vector_store.insert, vectors=[v], ids=["m1"], payloads=[{}])
        await asyncio.to_thread(self.db.add_history, "m1", None, messages, "ADD")
        return {"results": [{"id": "m1", "memory": messages, "event": "ADD"}]}


def _check_bounds(ev: dict, minimum: dict[str, float]) -> None:
    """Each phase that ran took at least its component's sleep; together at most the call's latency."""
    got = _phases(ev)
    assert set(got) == set(minimum), (ev["op"], got)
    for name, ms in minimum.items():
        assert got[name] >= ms, (name, got[name])
    assert sum(got.values()) <= ev["latency_ms"]


def test_sync_calls_record_the_phases_they_passed_through(tmp_path):
    writer = OpLogWriter(tmp_path, service="ph")
    target = FakeMemory()
    m = instrument(target, writer=writer)
    assert m.search("q", filters={"user_id": "u"}) == {"results": []}
    m.add("hello", user_id="u")
    events = _events(writer)
    _check_bounds(events[0], {"embedding_ms": 4, "vector_search_ms": 6})
    _check_bounds(events[1], {"embedding_ms": 4, "vector_write_ms": 2, "history_ms": 3})


def test_a_component_exception_reaches_the_caller_unchanged_and_its_time_is_recorded(tmp_path):
    boom = RuntimeError("vector store down")
    writer = OpLogWriter(tmp_path, service="ph")
    m = instrument(FakeMemory(fail=boom), writer=writer)
    with pytest.raises(RuntimeError) as info:
        m.search("q", filters={"user_id": "u"})
    assert info.value is boom
    (ev,) = _events(writer)
    assert (ev["status"], ev["error_type"]) == ("error", "RuntimeError")
    _check_bounds(ev, {"embedding_ms": 4, "vector_search_ms": 6})


def test_outside_an_instrumented_call_the_components_are_only_passed_through(tmp_path):
    writer = OpLogWriter(tmp_path, service="ph")
    target = FakeMemory(embed_s=1.0, search_s=1.0)  # the bare calls take 1 s each
    m = instrument(target, writer=writer)
    assert target.search("q") == {"results": []}  # the bare Memory, hooked components: no event, nothing recorded
    assert target.vector_store.search("q", [0.0]) == []
    target.embedding_model.s, target.vector_store.search_s = 0.004, 0.006
    m.search("q2", filters={"user_id": "u"})
    (ev,) = _events(writer)
    _check_bounds(ev, {"embedding_ms": 4, "vector_search_ms": 6})
    # The bare calls' spans did not leak into this event: a leak would add at least their 1 s (a sleep never ends
    # early); the bounds are that far from the call's own 4 and 6 ms so that no machine's load can reach them.
    assert ev["embedding_ms"] < 1000 and ev["vector_search_ms"] < 1000, ev


def test_concurrent_threads_never_mix_their_phases(tmp_path):
    """Two kinds of call at once on one Memory: searches (embedding + vector search) and adds (embedding +
    insert + history) from 8 threads; each event holds exactly its own call's phases."""
    writer = OpLogWriter(tmp_path, service="ph", flush_every=10_000)
    m = instrument(FakeMemory(embed_s=0.001, search_s=0.002), writer=writer)

    def body(i: int) -> None:
        for _ in range(5):
            if i % 2:
                m.search("q", filters={"user_id": f"u{i}"})
            else:
                m.add("x", user_id=f"u{i}")

    threads = [threading.Thread(target=body, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = _events(writer)
    assert len(events) == 40
    for ev in events:
        want = ({"embedding_ms": 1, "vector_search_ms": 2} if ev["op"] == "search"
                else {"embedding_ms": 1, "vector_write_ms": 2, "history_ms": 3})
        _check_bounds(ev, want)


def test_async_memory_phases_follow_the_call_into_its_threads_and_concurrent_calls_do_not_mix(tmp_path):
    writer = OpLogWriter(tmp_path, service="ph", flush_every=10_000)
    slow_embed = FakeAsyncMemory(embed_s=0.03, search_s=0.001)
    fast_embed = FakeAsyncMemory(embed_s=0.001, search_s=0.02)
    a, b = instrument(slow_embed, writer=writer), instrument(fast_embed, writer=writer)

    async def scenario():
        # interleaved on one loop: while one call's embedding runs in a worker thread, the other's search runs
        await asyncio.gather(*(x.search("q", filters={"user_id": "u"}) for _ in range(4) for x in (a, b)),
                             a.add("hello", user_id="u"))

    asyncio.run(scenario())
    events = _events(writer)
    assert len(events) == 9 and all(e["call_mode"] == "async" for e in events)
    searches = [e for e in events if e["op"] == "search"]
    slow = [e for e in searches if e["embedding_ms"] >= 30]
    fast = [e for e in searches if e["embedding_ms"] < 30]
    assert len(slow) == len(fast) == 4
    for e in slow:
        _check_bounds(e, {"embedding_ms": 30, "vector_search_ms": 1})
    for e in fast:
        _check_bounds(e, {"embedding_ms": 1, "vector_search_ms": 20})
        assert e["embedding_ms"] < 30  # the slow Memory's embedding time never landed here
    (add,) = [e for e in events if e["op"] == "add"]
    _check_bounds(add, {"embedding_ms": 30, "vector_write_ms": 2, "history_ms": 3})


def test_parallel_work_inside_one_call_is_split_so_the_sum_stays_within_the_call(tmp_path):
    """AsyncMemory.delete_all gathers its per-memory deletes: phases of one call overlap in time."""

    class ParallelDeletes(FakeAsyncMemory):
        async def delete_all(self, user_id=None):
            async def one():
                await asyncio.to_thread(self.vector_store.insert, vectors=[], ids=[])  # 2 ms, vector_write
                await asyncio.to_thread(self.db.add_history, "m", None, None, "DELETE")  # 3 ms, history
            await asyncio.gather(*(one() for _ in range(6)))
            return {"message": "ok"}

    writer = OpLogWriter(tmp_path, service="ph")
    m = instrument(ParallelDeletes(), writer=writer)
    asyncio.run(m.delete_all(user_id="u"))
    (ev,) = _events(writer)
    got = _phases(ev)
    assert set(got) == {"vector_write_ms", "history_ms"}
    assert all(v > 0 for v in got.values())
    assert sum(got.values()) <= ev["latency_ms"]  # 6 × 5 ms of work ran in parallel within the call


def test_the_entity_store_is_timed_once_mem0_has_created_it(tmp_path):
    writer = OpLogWriter(tmp_path, service="ph")
    target = FakeMemory()
    m = instrument(target, writer=writer)
    target._entity_store = _Store(search_s=0.005)  # mem0 creates it lazily, on first use

    def search_with_entities(query, **kwargs):
        target._entity_store.search(query=query, vectors=[0.0])
        return {"results": []}

    target.search = search_with_entities
    m.search("Porto", filters={"user_id": "u"})
    (ev,) = _events(writer)
    _check_bounds(ev, {"graph_ms": 5})


def test_platform_calls_and_cache_hits_have_only_the_total(tmp_path):
    from memlens.instrumentation import SearchCache

    writer = OpLogWriter(tmp_path, service="ph")
    m = instrument(FakeMemory(), writer=writer, cache=SearchCache(ttl_s=60, max_entries=10))
    m.search("q", filters={"user_id": "u"})
    m.search("q", filters={"user_id": "u"})
    miss, hit = _events(writer)
    assert (miss["cache"], hit["cache"]) == ("miss", "hit")
    assert set(_phases(miss)) == {"embedding_ms", "vector_search_ms"} and _phases(hit) == {}


def test_the_phase_histogram_has_a_phase_label_and_no_user(tmp_path):
    reg = CollectorRegistry()
    m = instrument(FakeMemory(), metrics=MemlensMetrics(reg), service="svc")
    m.search("q", filters={"user_id": "alice"})
    m.add("x", user_id="alice")
    lbl = {"service": "svc", "mode": "oss", "op": "search"}
    assert reg.get_sample_value("memlens_mem0_phase_duration_seconds_count", {**lbl, "phase": "embedding"}) == 1
    assert reg.get_sample_value("memlens_mem0_phase_duration_seconds_count", {**lbl, "phase": "vector_search"}) == 1
    assert reg.get_sample_value("memlens_mem0_phase_duration_seconds_sum", {**lbl, "phase": "embedding"}) >= 0.004
    add = {"service": "svc", "mode": "oss", "op": "add"}
    assert reg.get_sample_value("memlens_mem0_phase_duration_seconds_count", {**add, "phase": "history"}) == 1
    assert reg.get_sample_value("memlens_mem0_phase_duration_seconds_count", {**add, "phase": "vector_search"}) is None
    names = {s.labels.get("user_id") for fam in reg.collect() for s in fam.samples}
    assert names == {None}


# -- a real offline Memory ---------------------------------------------------------------------------------------

# Phases each op of mem0 2.2.1 passes through on the offline Memory (Qdrant in process, no reranker, no spaCy so no
# entity linking, no fastembed so keyword search returns at once but is still a vector-store call).
REAL_PHASES = {
    ("add", False): {"embedding_ms", "vector_write_ms", "history_ms"},
    ("add", True): {"history_ms", "embedding_ms", "vector_search_ms", "llm_ms", "vector_write_ms"},
    ("search", None): {"embedding_ms", "vector_search_ms"},
    ("get", None): {"vector_read_ms"},
    ("get_all", None): {"vector_read_ms"},
    ("update", None): {"embedding_ms", "vector_read_ms", "vector_write_ms", "history_ms"},
    ("history", None): {"history_ms"},
    ("delete", None): {"vector_read_ms", "vector_write_ms", "history_ms"},
    ("delete_all", None): {"vector_read_ms", "vector_write_ms", "history_ms"},
}
# Tolerance: per op, the median share of the latency the phases cover is at least COVERAGE, or the median remainder
# (Mem0's own Python between the phases + the wrapper) is below REMAINDER_MS.
COVERAGE = 0.8
REMAINDER_MS = 0.5


def _real_run(m, llm, calls: int = 5) -> None:
    ids = [m.add(f"the user likes topic {i}", user_id="alice", infer=False)["results"][0]["id"] for i in range(calls)]
    for i in range(calls):  # two new facts each time: mem0 would drop a repeated extraction as a duplicate
        facts = [{"text": f"Likes pizza, take {i}"}, {"text": f"Lives in Porto, take {i}"}]
        llm.content = json.dumps({"memory": facts})
        m.add(f"I like pizza and I live in Porto, take {i}", user_id="bob")
    for i in range(calls):
        m.search(f"what about topic {i}?", filters={"user_id": "alice"})
        m.get(ids[i])
        m.get_all(filters={"user_id": "alice"})
        m.history(ids[i])
    for i in range(calls):
        m.update(ids[i], text=f"the user changed their mind about topic {i}")
    for i in range(calls - 1):
        m.delete(ids[i])
    for i in range(calls):
        m.add(f"bob note {i}", user_id=f"bob{i}", infer=False)
        m.delete_all(user_id=f"bob{i}")


def _assert_real(events: list[dict]) -> dict[tuple, tuple[float, float]]:
    by_kind: dict[tuple, list[dict]] = {}
    for e in events:
        assert e["status"] == "ok", e
        by_kind.setdefault((e["op"], e.get("infer")), []).append(e)
    assert set(by_kind) == set(REAL_PHASES)
    figures = {}
    for kind, evs in by_kind.items():
        for e in evs:
            got = _phases(e)
            assert set(got) == REAL_PHASES[kind], (kind, got)
            assert all(v > 0 for v in got.values()), (kind, got)
            assert sum(got.values()) <= e["latency_ms"], (kind, got, e["latency_ms"])
        coverage = statistics.median(sum(_phases(e).values()) / e["latency_ms"] for e in evs)
        remainder = statistics.median(e["latency_ms"] - sum(_phases(e).values()) for e in evs)
        assert coverage >= COVERAGE or remainder <= REMAINDER_MS, (kind, coverage, remainder)
        figures[kind] = (coverage, remainder)
    return figures


@pytest.mark.mem0
def test_a_real_memory_sync_infer_false_and_true_with_the_stub_llm(tmp_path):
    from mem0 import Memory

    from memlens.workloads.offline_mem0 import offline_config
    from memlens.workloads.stub_llm import StubLLM

    with StubLLM() as llm:  # a stand-in for an OpenAI-compatible LLM: fixed extraction, local round trip
        memory = Memory.from_config(offline_config(tmp_path / "m", llm_base_url=llm.base_url))
        writer = OpLogWriter(tmp_path / "logs", service="real", flush_every=10_000)
        _real_run(instrument(memory, writer=writer), llm)
        writer.close()
        memory.close()
        assert llm.requests == 5
    _assert_real(_events(writer))


@pytest.mark.mem0
def test_a_real_async_memory_with_concurrent_calls(tmp_path):
    from mem0 import AsyncMemory

    from memlens.workloads.offline_mem0 import offline_config
    from memlens.workloads.real import serialise_local_store
    from memlens.workloads.stub_llm import StubLLM

    with StubLLM() as llm:
        memory = AsyncMemory.from_config(offline_config(tmp_path / "m", llm_base_url=llm.base_url))
        serialise_local_store(memory)  # qdrant-client's in-process mode races under threads by itself
        writer = OpLogWriter(tmp_path / "logs", service="real-async", flush_every=10_000)
        m = instrument(memory, writer=writer)

        async def scenario():
            added = await asyncio.gather(*(m.add(f"async fact {i} about tea", user_id=f"u{i % 3}", infer=False)
                                           for i in range(9)))
            await asyncio.gather(*(m.search("tea", filters={"user_id": f"u{i}"}) for i in range(3)),
                                 m.add("I like pizza and I live in Porto", user_id="bob"))
            await m.delete_all(user_id="u0")
            return added

        asyncio.run(scenario())
        writer.close()
    events = _events(writer)
    assert [e["op"] for e in events].count("add") == 10
    for e in events:
        assert e["status"] == "ok" and e["call_mode"] == "async"
        got = _phases(e)
        kind = (e["op"], e.get("infer"))
        assert set(got) == REAL_PHASES[kind], (kind, got)
        assert all(v > 0 for v in got.values()) and sum(got.values()) <= e["latency_ms"]
