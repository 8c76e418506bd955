"""Event building: query hash normalisation, filter keys without values, id hashing, metrics from events."""

from __future__ import annotations

import hashlib

from prometheus_client import CollectorRegistry

from memlens.instrumentation.events import EventBuilder, IdHasher, normalise_query, query_hash
from memlens.instrumentation.metrics import LATENCY_BUCKETS, MemlensMetrics


def test_query_hash_normalises_nfkc_case_and_spaces():
    expected = hashlib.sha256(b"what does alice like?").hexdigest()[:32]
    assert query_hash("What does alice like?") == expected
    assert query_hash("  WHAT\tdoes \n alice   like?  ") == expected
    assert normalise_query("ｗｈａｔ ﬁne") == "what fine"  # full-width letters and the fi ligature fold (NFKC)
    assert len(query_hash("x")) == 32


def test_id_hasher_salted_and_stable():
    plain = IdHasher(None)
    assert plain("alice") == "alice"
    assert plain(42) == "42"
    h = IdHasher("pepper")
    assert h("alice") == hashlib.sha256(b"pepper\x00alice").hexdigest()[:32]
    assert h("alice") != IdHasher("salt")("alice")
    assert h(None) is None


def _builder(**kw):
    args = dict(service="svc", mode="oss", call_mode="sync", tag=None, hasher=IdHasher(None),
                store_query_text=False, defaults={"search": {"top_k": 20, "threshold": 0.1, "rerank": False}},
                embedding_model=None, llm_model=None)
    args.update(kw)
    return EventBuilder(**args)


def test_search_event_keys_only_and_query_hash_only():
    b = _builder()
    filters = {"user_id": "alice", "AND": [{"category": "food"}, {"OR": [{"city": "Paris"}]}]}
    result = {"results": [{"id": "m1", "score": 0.25}, {"id": "m2", "score": 0.75}]}
    ev = b.build("search", ("Secret question?",), {"filters": filters, "limit": 5}, start_wall=0.0,
                 latency_s=0.0123, result=result)
    assert ev["filter_keys"] == ["AND", "OR", "category", "city", "user_id"]
    assert ev["user_id"] == "alice"
    assert (ev["limit"], ev["top_k"], ev["threshold"], ev["rerank"]) == (5, 20, 0.1, False)
    assert ev["result_count"] == 2 and ev["result_ids"] == ["m1", "m2"] and ev["top_score"] == 0.75
    assert ev["query_hash"] == query_hash("secret question?") and "query_text" not in ev
    assert ev["latency_ms"] == 12.3 and ev["ts"] == "1970-01-01T00:00:00.000000Z"
    text = repr(ev)
    for value in ("Paris", "food", "Secret"):
        assert value not in text
    assert _builder(store_query_text=True).build("search", ("Q",), {}, start_wall=0, latency_s=0)["query_text"] == "Q"


def test_error_event_has_type_not_message():
    ev = _builder().build("delete", ("m9",), {}, start_wall=0, latency_s=0.001,
                          error=ValueError("Memory with id m9 not found: token sk-abc"))
    assert ev["status"] == "error" and ev["error_type"] == "ValueError"
    assert "sk-abc" not in repr(ev) and "memories_deleted" not in ev


def test_add_event_counts_result_events():
    result = {"results": [{"id": "a", "event": "ADD"}, {"id": "b", "event": "UPDATE"},
                          {"id": "c", "event": "DELETE"}, {"id": "d", "event": "NONE"}]}
    ev = _builder(defaults={"add": {"infer": True}}).build(
        "add", ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],),
        {"user_id": "u", "agent_id": "bot"}, start_wall=0, latency_s=0, result=result)
    assert (ev["message_count"], ev["infer"]) == (2, True)
    assert (ev["memories_created"], ev["memories_updated"], ev["memories_deleted"]) == (1, 1, 1)
    assert ev["result_ids"] == ["a", "b"] and ev["filter_keys"] == ["agent_id", "user_id"]


def _sample(reg, name, **labels):
    v = reg.get_sample_value(name, labels)
    return 0.0 if v is None else v


def test_metrics_from_known_events():
    reg = CollectorRegistry()
    m = MemlensMetrics(reg)
    base = {"service": "svc", "mode": "oss", "call_mode": "sync"}
    for ms in (0.5, 3.0, 99.0, 100.0, 150.0, 600.0):
        m.observe({**base, "op": "search", "status": "ok", "latency_ms": ms, "result_count": 2, "cache": "miss",
                   "embedding_tokens": 7, "embedding_model": "mini"})
    m.observe({**base, "op": "delete", "status": "error", "error_type": "ValueError", "latency_ms": 1.0})
    m.observe({**base, "op": "add", "status": "ok", "latency_ms": 10.0, "memories_created": 3,
               "llm_input_tokens": 100, "llm_output_tokens": 20, "llm_model": "gpt-4o-mini"})
    m.observe({**base, "op": "add", "status": "ok", "latency_ms": 2500.0, "infer": True})
    m.observe({**base, "op": "add", "status": "ok", "latency_ms": 20.0, "infer": False})
    lbl = dict(service="svc", mode="oss", op="search", call_mode="sync", status="ok", infer="")
    h = "memlens_mem0_operation_duration_seconds"
    assert _sample(reg, h + "_count", **lbl) == 6
    assert _sample(reg, h + "_bucket", le="0.001", **lbl) == 1  # 0.5 ms
    assert _sample(reg, h + "_bucket", le="0.005", **lbl) == 2
    assert _sample(reg, h + "_bucket", le="0.1", **lbl) == 4  # 99 and exactly 100 ms are within the 100 ms bound
    assert _sample(reg, h + "_bucket", le="0.2", **lbl) == 5
    assert _sample(reg, h + "_bucket", le="0.75", **lbl) == 6
    assert abs(_sample(reg, h + "_sum", **lbl) - 0.9525) < 1e-9  # 0.5+3+99+100+150+600 ms
    assert _sample(reg, "memlens_mem0_operations_total", **lbl) == 6
    assert _sample(reg, "memlens_mem0_errors_total", service="svc", mode="oss", op="delete",
                   error_type="ValueError") == 1
    assert _sample(reg, "memlens_mem0_results_total", service="svc", mode="oss", op="search") == 12
    assert _sample(reg, "memlens_mem0_cache_requests_total", service="svc", op="search", outcome="miss") == 6
    assert _sample(reg, "memlens_mem0_tokens_total", service="svc", kind="embedding", model="mini") == 42
    assert _sample(reg, "memlens_mem0_tokens_total", service="svc", kind="llm_input", model="gpt-4o-mini") == 100
    assert _sample(reg, "memlens_mem0_tokens_total", service="svc", kind="llm_output", model="gpt-4o-mini") == 20
    assert _sample(reg, "memlens_mem0_memory_changes_total", service="svc", event="add") == 3
    # adds carry infer as a label: an LLM add (seconds) is alerted on apart from a plain one
    add = dict(service="svc", mode="oss", op="add", call_mode="sync", status="ok")
    assert _sample(reg, h + "_bucket", le="2.5", infer="true", **add) == 1
    assert _sample(reg, h + "_bucket", le="1.0", infer="true", **add) == 0
    assert _sample(reg, h + "_count", infer="false", **add) == 1
    assert _sample(reg, h + "_count", infer="", **add) == 1  # recorded without infer
    assert 0.1 in LATENCY_BUCKETS and 0.2 in LATENCY_BUCKETS and 0.5 in LATENCY_BUCKETS
    # a second MemlensMetrics on the same registry shares the collectors instead of failing
    MemlensMetrics(reg).observe({**base, "op": "search", "status": "ok", "latency_ms": 1.0})
    assert _sample(reg, "memlens_mem0_operations_total", **lbl) == 7


def test_metrics_server_serves_metrics():
    import urllib.request

    from memlens.instrumentation.metrics import start_metrics_server

    reg = CollectorRegistry()
    m = MemlensMetrics(reg)
    m.observe({"service": "svc", "mode": "oss", "call_mode": "sync", "op": "get", "status": "ok", "latency_ms": 2})
    server, thread = start_metrics_server(0, registry=reg)
    try:
        port = server.server_address[1]
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert ('memlens_mem0_operations_total{call_mode="sync",infer="",mode="oss",op="get",service="svc",'
                'status="ok"} 1.0') in body
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_timestamps_and_event_ids():
    import uuid

    from memlens.instrumentation.events import event_id, utc_iso

    assert utc_iso(1764000000.25) == "2025-11-24T16:00:00.250000Z"
    assert utc_iso(1764000000.5) == "2025-11-24T16:00:00.500000Z"  # same second: cached prefix
    assert utc_iso(1764003600.000001) == "2025-11-24T17:00:00.000001Z"
    ids = {event_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    one = uuid.UUID(next(iter(ids)))
    assert one.version == 4 and one.variant == uuid.RFC_4122 and len(one.hex) == 32


def test_embedder_without_tokenizer_counts_each_text_once_and_estimates():
    from mem0.embeddings.base import EmbeddingBase

    from memlens.instrumentation.usage import CURRENT, Usage, hook_embedder

    class ConstantEmbedder(EmbeddingBase):
        """A mem0 embedder with no tokenizer and mem0's inherited embed_batch (which loops over embed)."""

        def embed(self, text, memory_action=None):
            return [0.0, 1.0]

    emb = ConstantEmbedder()
    hook_embedder(emb)
    hook_embedder(emb)  # idempotent
    usage = Usage()
    token = CURRENT.set(usage)
    try:
        emb.embed("abcdefgh", "search")  # 8 chars -> 2 tokens at 4 chars per token
        assert emb.embed_batch(["abcde", "xy"], "add") == [[0.0, 1.0], [0.0, 1.0]]  # 2 + 1 tokens
    finally:
        CURRENT.reset(token)
    assert (usage.embedding_calls, usage.embedding_tokens, usage.estimated) == (3, 5, True)
    ev: dict = {}
    usage.fill(ev, "const", None)
    assert ev == {"embedding_calls": 3, "embedding_tokens": 5, "embedding_model": "const", "tokens_estimated": True}
    assert emb.embed("outside any call") == [0.0, 1.0]  # no call in flight: nothing counted, nothing breaks
    assert usage.embedding_calls == 3


def test_entity_operator_filters_log_no_values():
    ev = _builder().build("search", ("q",), {"filters": {"user_id": {"in": ["alice", "bob"]}, "agent_id": "bot"}},
                          start_wall=0, latency_s=0, result={"results": [{"id": 7, "score": 1}]})
    assert "user_id" not in ev and ev["agent_id"] == "bot" and ev["filter_keys"] == ["agent_id", "user_id"]
    assert "alice" not in repr(ev)
    assert (ev["result_ids"], ev["top_score"], ev["result_count"]) == (["7"], 1.0, 1)
    odd = _builder().build("search", ("q",), {}, start_wall=0, latency_s=0,
                           result={"results": [{"memory": "no id"}, "not a dict", {"id": "m1", "score": "high"}]})
    assert (odd["result_ids"], odd["result_count"]) == (["m1"], 3) and "top_score" not in odd


def test_metrics_fast_path_counts_as_prometheus_client_does():
    # MemlensMetrics updates its children without prometheus_client's per-call checks; the samples must be
    # those of the library's own observe()/inc() for the same values (bounds themselves, between, above all).
    from prometheus_client import Histogram

    values_ms = [b * 1000 for b in LATENCY_BUCKETS] + [0.0, 0.7, 42.0, 180.0, 999.9, 10_000.0, 25_000.0]
    reg, ref_reg = CollectorRegistry(), CollectorRegistry()
    m = MemlensMetrics(reg)
    ref = Histogram("memlens_mem0_operation_duration_seconds", "reference", ["op"], buckets=LATENCY_BUCKETS,
                    registry=ref_reg)
    for ms in values_ms:
        m.observe({"service": "s", "mode": "oss", "call_mode": "sync", "op": "get_all", "status": "ok",
                   "latency_ms": ms, "result_count": 3})
        ref.labels("get_all").observe(ms / 1000.0)
    lbl = dict(service="s", mode="oss", op="get_all", call_mode="sync", status="ok", infer="")
    h = "memlens_mem0_operation_duration_seconds"
    for le in [*(str(float(b)) for b in LATENCY_BUCKETS), "+Inf"]:
        assert _sample(reg, h + "_bucket", le=le, **lbl) == ref_reg.get_sample_value(
            h + "_bucket", {"op": "get_all", "le": le}), le
    assert _sample(reg, h + "_sum", **lbl) == ref_reg.get_sample_value(h + "_sum", {"op": "get_all"})
    assert _sample(reg, "memlens_mem0_operations_total", **lbl) == len(values_ms)
    assert _sample(reg, "memlens_mem0_results_total", service="s", mode="oss", op="get_all") == 3 * len(values_ms)
