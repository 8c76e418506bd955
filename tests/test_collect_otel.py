"""`memlens collect otel`: OTLP JSON Lines traces -> op events. Real fixtures (tests/otel/, made by
tests/otel/make_fixtures.py from a real offline Mem0 under OpenLIT and under the GenAI memory conventions) checked
against the SDK's own account of the run; hand-built traces with round figures checked in the views; incremental and
idempotent loads; bad lines quarantined naming the field; unknown spans counted."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from memlens import layer, schema
from memlens.cli import main
from memlens.collectors.otel import collect_otel
from memlens.collectors.otel_mapping import MappingError, load_mappings, parse_mapping
from memlens.config import default_config
from memlens.resources import read_text

CFG = default_config()
FIXTURES = Path(__file__).resolve().parent / "otel"


def rows(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()


def fixture(convention: str, tmp_path: Path) -> tuple[Path, dict]:
    path = tmp_path / f"{convention}.jsonl"
    shutil.copy(FIXTURES / f"{convention}.jsonl", path)
    return path, json.loads((FIXTURES / f"expected-{convention}.json").read_text())


@pytest.mark.parametrize("convention", ["openlit-mem0", "genai-memory"])
def test_real_fixture_spans_become_exactly_the_calls_that_were_made(con, tmp_path, convention):
    path, expected = fixture(convention, tmp_path)
    r = collect_otel(con, [path], CFG)
    ops = expected["ops"]
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (len(ops), 0, 0)
    got = rows(con, "SELECT event_id, ts, op, user_id, status, error_type, latency_ms, mode FROM raw_op_events "
                    "ORDER BY ts, event_id")
    want = sorted(((o["event_id"], datetime(1970, 1, 1) + timedelta(microseconds=o["start_time_unix_nano"] // 1000),
                    o["op"], o["user_id"], o["status"], o["error_type"], o["latency_ms"], "oss") for o in ops),
                  key=lambda t: (t[1], t[0]))
    assert [g[:6] for g in got] == [w[:6] for w in want]
    for g, w in zip(got, want, strict=True):
        assert g[6] == pytest.approx(w[6], rel=1e-12, abs=1e-9)
        assert g[7] == w[7]
    # the metric layer: operations per op with their exact mean latency, errors as made
    by_op: dict[str, list[float]] = {}
    for o in ops:
        by_op.setdefault(o["op"], []).append(o["latency_ms"])
    per_op = layer.query(con, "ops", by=("op",))
    view = {op: (n, avg) for op, n, avg in zip(per_op["op"], per_op["ops"], per_op["avg_ms"], strict=True)}
    assert set(view) == set(by_op)
    for op, lat in by_op.items():
        assert view[op][0] == len(lat)
        assert view[op][1] == pytest.approx(sum(lat) / len(lat), rel=1e-12)
    errors = sum(o["status"] == "error" for o in ops)
    assert layer.one(layer.query(con, "ops"))["errors"] == errors
    # every span of the file is accounted for; none is unknown
    counts = dict(rows(con, "SELECT disposition, sum(spans)::BIGINT FROM raw_otel_span_counts GROUP BY ALL"))
    assert sum(counts.values()) == expected["spans_in_file"]
    assert counts["op"] == len(ops) and "unknown" not in counts
    # the phases the child spans timed, as the SDK measured them, in the op-log's `<phase>_ms` fields
    assert any(o["phases"] for o in ops)
    for o in ops:
        got_phases = rows(con, "SELECT " + ", ".join(f'"{p}_ms"' for p in schema.PHASES) +
                          " FROM raw_op_events WHERE event_id = ?", [o["event_id"]])[0]
        for p, v in zip(schema.PHASES, got_phases, strict=True):
            assert v == pytest.approx(o["phases"].get(p), rel=1e-9) if p in o["phases"] else v is None, (o, p)


def test_every_mapping_file_has_a_fixture_of_its_convention(con, tmp_path):
    for m in load_mappings():
        path, expected = fixture(m.convention, tmp_path)
        assert expected["convention"] == m.convention and expected["ops"]
        # written by the packages the expected file names: the SDK stamps its version on every resource
        first = json.loads(path.read_text().splitlines()[0])["resourceSpans"][0]["resource"]["attributes"]
        resource = {a["key"]: next(iter(a["value"].values())) for a in first}
        assert resource["telemetry.sdk.version"] == expected["packages"]["opentelemetry-sdk"]
        collect_otel(con, [path], CFG)
        claimed = rows(con, "SELECT DISTINCT convention FROM raw_otel_span_counts WHERE source_file = ? AND "
                            "disposition = 'op'", [str(path.resolve())])
        assert claimed == [(m.convention,)], m.convention


# ---- hand-built traces with round figures ------------------------------------------------------------------------

T0 = 1_795_000_000_000_000_000  # 2026-11-18T...Z in ns


def attr(key, value):
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def span(name, trace, sid, start_ms, dur_ms, parent=None, error=False, **attrs):
    s = {"traceId": f"{trace:032x}", "spanId": f"{sid:016x}", "name": name, "kind": 3,
         "startTimeUnixNano": str(T0 + int(start_ms * 1e6)),
         "endTimeUnixNano": str(T0 + int((start_ms + dur_ms) * 1e6)),
         "attributes": [attr(k.replace("__", "."), v) for k, v in attrs.items()],
         "status": {"code": 2, "message": "boom"} if error else {"code": 1}}
    if parent:
        s["parentSpanId"] = f"{parent:016x}"
    return s


def line(*spans, scope="openlit.instrumentation.mem0", service="shop"):
    return json.dumps({"resourceSpans": [{"resource": {"attributes": [attr("service.name", service)]},
                                          "scopeSpans": [{"scope": {"name": scope}, "spans": list(spans)}]}]})


def openlit(name, trace, sid, start_ms, dur_ms, **kw):
    """An OpenLIT-shaped Mem0 span whose measured duration is `dur_ms` (the attribute the mapping reads)."""
    kw.setdefault("gen_ai__client__operation__duration", dur_ms / 1000)
    return span(f"memory {name}", trace, sid, start_ms, dur_ms, **kw)


def known_trace_file(path: Path) -> Path:
    lines = [
        # children first, as exporters write them (a child ends before its parent)
        line(span("memory search_vector_store", 1, 11, 1, 8, parent=10)),
        line(openlit("search", 1, 10, 0, 10, gen_ai__user__id="u1", gen_ai__memory__search__limit=5,
                     gen_ai__memory__operation__result_count=3, gen_ai__memory__search__query="Green  TEA")),
        line(openlit("search", 2, 20, 100, 20, gen_ai__user__id="u1"),
             openlit("search", 3, 30, 200, 30, gen_ai__user__id="u2")),
        line(span("GET /health", 4, 40, 300, 1), scope="opentelemetry.instrumentation.flask"),
        # an HTTP call inside a Mem0 add: a descendant no mapping lists (unknown, counted with the op's convention)
        line(span("HTTP POST", 5, 51, 401, 50, parent=50), scope="opentelemetry.instrumentation.requests"),
        line(openlit("add", 5, 50, 400, 100, gen_ai__user__id="u2", gen_ai__memory__count=2,
                     gen_ai__memory__infer=False),
             openlit("add", 6, 60, 500, 40, error=True, gen_ai__user__id="u1", error__type="RateLimitError"),
             openlit("init", 7, 70, 0, 5)),
        line(span("search_memory", 8, 81, 600, 60, **{"gen_ai.operation.name": "search_memory",
                                                      "user.id": "u3", "gen_ai.memory.record.count": 2}),
             span("embed_query", 8, 82, 601, 25, parent=81), span("vector_search", 8, 83, 630, 15, parent=81),
             span("vector_search", 8, 84, 640, 10, parent=81),  # overlaps the one before by 5 ms: counted once
             scope="app"),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_hand_built_traces_give_known_figures_in_the_views(con, tmp_path):
    r = collect_otel(con, [known_trace_file(tmp_path / "t.jsonl")], CFG)
    assert (r.rows_loaded, r.rows_quarantined) == (6, 0)
    assert rows(con, "SELECT op, user_id, latency_ms, status, error_type, service, \"limit\", result_count, "
                     "message_count, infer, query_hash, source_line FROM raw_op_events ORDER BY ts") == [
        ("search", "u1", 10.0, "ok", None, "shop", 5, 3, None, None,
         __import__("memlens.instrumentation.events", fromlist=["x"]).query_hash("green tea"), 2),
        ("search", "u1", 20.0, "ok", None, "shop", None, None, None, None, None, 3),
        ("search", "u2", 30.0, "ok", None, "shop", None, None, None, None, None, 3),
        ("add", "u2", 100.0, "ok", None, "shop", None, None, 2, False, None, 6),
        ("add", "u1", 40.0, "error", "RateLimitError", "shop", None, None, None, None, None, 6),
        ("search", "u3", 60.0, "ok", None, "shop", None, 2, None, None, None, 7)]
    lat = layer.with_total(con, "latency", layer.ALL, ("op",)).sort_values("op")
    assert [tuple(r) for r in lat[["op", "ops", "errors", "avg_ms", "p50_ms", "max_ms"]].itertuples(index=False)] == [
        ("add", 2, 1, 70.0, 70.0, 100.0), ("all", 6, 1, 260 / 6, 35.0, 100.0), ("search", 4, 0, 30.0, 25.0, 60.0)]
    counts = rows(con, "SELECT convention, disposition, span_name, spans FROM raw_otel_span_counts ORDER BY ALL")
    assert counts == sorted([
        ("", "unknown", "GET /health", 1),
        ("genai-memory", "op", "search_memory", 1),
        ("genai-memory", "phase", "embed_query", 1),
        ("genai-memory", "phase", "vector_search", 2),
        ("openlit-mem0", "child", "memory search_vector_store", 1),
        ("openlit-mem0", "ignored", "memory init", 1),
        ("openlit-mem0", "op", "memory add", 2),
        ("openlit-mem0", "op", "memory search", 3),
        ("openlit-mem0", "unknown", "HTTP POST", 1)])
    assert "1 ignored" in r.summary() and "unknown (no mapping names them): 'GET /health' x1, 'HTTP POST' x1" in \
        r.summary()
    # phases: embed_query 25 ms; vector_search 15 + 10 ms overlapping by 5 ms = 20 ms of wall time
    assert rows(con, "SELECT embedding_ms, vector_search_ms, vector_write_ms FROM raw_op_events "
                     "WHERE user_id = 'u3'") == [(25.0, 20.0, None)]
    breakdown = layer.query(con, "phases", layer.Filters(op="search"))
    two = breakdown[breakdown["phase"].isin(["embedding", "vector_search"])][["phase", "timed_ops", "avg_ms"]]
    assert [tuple(r) for r in two.itertuples(index=False)] == [("embedding", 1, 25.0), ("vector_search", 1, 20.0)]


@pytest.mark.both_engines
def test_recollecting_loads_nothing_new_and_appended_lines_load_once(con, tmp_path):
    path = known_trace_file(tmp_path / "t.jsonl")
    collect_otel(con, [tmp_path], CFG)
    again = collect_otel(con, [tmp_path], CFG)
    assert (again.rows_loaded, again.rows_duplicate, again.rows_quarantined, again.bytes_read) == (0, 0, 0, 0)
    with path.open("a") as f:
        f.write(line(openlit("get", 9, 90, 700, 2)) + "\n")
        f.write(line(openlit("delete", 9, 91, 800, 3))[:50])  # a line still being written: left for the next run
    third = collect_otel(con, [tmp_path], CFG)
    assert (third.rows_loaded, third.rows_quarantined) == (1, 0)
    assert rows(con, "SELECT count(*) FROM raw_op_events") == [(7,)]
    assert rows(con, "SELECT sum(spans)::BIGINT FROM raw_otel_span_counts") == [(14,)]
    # the same spans in a replaced file (a new inode, as a rotation makes it): recognised by its content, not read
    # again; forgetting the checkpoints, it is read again: loaded never twice, counts not doubled
    rotated = tmp_path / "t.jsonl.tmp"
    rotated.write_text(path.read_text().rsplit("\n", 1)[0] + "\n")
    rotated.replace(path)
    fourth = collect_otel(con, [tmp_path], CFG)
    assert (fourth.rows_loaded, fourth.rows_duplicate) == (0, 0)
    con.execute("DELETE FROM raw_ingest_checkpoints")
    fifth = collect_otel(con, [tmp_path], CFG)
    assert (fifth.rows_loaded, fifth.rows_duplicate) == (0, 7)
    assert rows(con, "SELECT sum(spans)::BIGINT FROM raw_otel_span_counts") == [(14,)]


def test_gzip_files_load_like_plain_ones(con, tmp_path):
    plain = known_trace_file(tmp_path / "t.jsonl")
    gz = tmp_path / "gz" / "t.jsonl.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    r = collect_otel(con, [gz.parent], CFG)
    assert (r.files_seen, r.rows_loaded) == (1, 6)
    assert collect_otel(con, [gz.parent], CFG).rows_loaded == 0


@pytest.mark.both_engines
def test_bad_lines_and_spans_are_quarantined_naming_the_field_and_the_rest_loads(con, tmp_path):
    good = openlit("search", 1, 10, 0, 10, gen_ai__user__id="u1")
    bad_id = dict(openlit("search", 2, 20, 0, 10), traceId="xyz")
    bad_attr = openlit("search", 3, 30, 0, 10, gen_ai__memory__operation__result_count="many")
    backwards = dict(openlit("get", 4, 40, 0, 10), endTimeUnixNano=str(T0 - 1))
    secret = openlit("add", 5, 50, 0, 10, gen_ai__memory__count="api_key=sk-live-abcdef123456")
    too_slow = openlit("get", 6, 60, 0, 10, gen_ai__client__operation__duration=7200.0)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([
        line(good, bad_id),
        '{"resourceSpans": [',
        json.dumps({"resourceMetrics": []}),
        "[1, 2]",
        line(bad_attr, backwards),
        line(secret),
        line(too_slow),
    ]) + "\n")
    r = collect_otel(con, [path], CFG)
    assert (r.rows_loaded, r.rows_quarantined) == (1, 8)
    got = rows(con, "SELECT source_line, reason, excerpt FROM raw_quarantine ORDER BY source_line, reason")
    reasons = [(n, reason) for n, reason, _ in got]
    assert reasons == [
        (1, 'resourceSpans[0].scopeSpans[0].spans[1].traceId: expected 32 hex digits (not all zero), got \'xyz\''),
        (2, "invalid JSON (Expecting value at column 20)"),
        (3, "resourceSpans: missing (this line holds resourceMetrics: one signal per file)"),
        (4, "not a TracesData object (got list)"),
        (5, "resourceSpans[0].scopeSpans[0].spans[1].endTimeUnixNano: before startTimeUnixNano "
            f"({T0 - 1} < {T0})"),
        (5, f"span {30:016x} (memory search): attribute gen_ai.memory.operation.result_count: expected an "
            "integer, got str 'many'"),
        (6, f"span {50:016x} (memory add): attribute gen_ai.memory.count: expected an integer, got str "
            "'[REDACTED]'"),
        # the op-log validation (collectors/sql/oplog_reasons.sql), prefixed with the span
        (7, f"span {60:016x} (memory get): latency_ms: 7200000.0 is not below collector.max_latency_ms 3600000.0"),
    ]
    assert all("sk-live" not in (e or "") and "sk-live" not in reason for _, reason, e in got)
    assert {s for (s,) in rows(con, "SELECT DISTINCT source FROM raw_quarantine")} == {"otel"}


def test_a_mapping_file_with_a_mistake_is_named_with_its_key():
    text = read_text("memlens.collectors", "otel_mappings", "openlit-mem0.yaml")
    with pytest.raises(MappingError, match=r"^x.yaml: operation: Value error, unknown op 'reindex'"):
        parse_mapping(text.replace("memory add: add", "memory add: reindex"), "x.yaml")
    with pytest.raises(MappingError, match=r"^x.yaml: fields: Value error, fields.latency_ms: not an op-event field"):
        parse_mapping(text.replace("  user_id: {attributes: [gen_ai.user.id]}",
                                   "  latency_ms: {attributes: [x]}"), "x.yaml")


def test_cli_collects_and_names_a_missing_path(tmp_path, capsys):
    known_trace_file(tmp_path / "t.jsonl")
    db = tmp_path / "w.duckdb"
    assert main(["collect", "otel", str(tmp_path), "-q", "--warehouse", str(db)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("otel: 1 file(s), 6 loaded, 0 duplicate, 0 quarantined")
    assert main(["collect", "otel", str(tmp_path / "nope"), "--warehouse", str(db)]) == 2
    assert capsys.readouterr().err == f"memlens: {tmp_path / 'nope'}: no such file or folder\n"
