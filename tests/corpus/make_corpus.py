"""Regenerate the committed corpus of broken op-log files and its answer key (`expected.json`).

    .venv/bin/python tests/corpus/make_corpus.py

Each file mixes good events with one kind of damage. `expected.json` lists, per file, the event ids that must load
and every line that must be quarantined with a regex its reason has to match (the reason must name what is wrong).
Deterministic: rerunning rewrites identical bytes.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from reliability_support import dumps, valid_event  # noqa: E402

SEED = 4242
HUGE_LINE_BYTES = 2 * 1024 * 1024  # twice the default collector.max_line_bytes (1 MiB)

# Reason patterns (case-insensitive regex): what a clear reason for each kind of damage mentions.
R_JSON = r"json|parse|malformed|truncat|invalid"
R_UTF8 = r"utf-?8|decod|encod|unicode|surrogate"
R_SIZE = r"bytes|too long|too large|line size|max_line|exceed|limit"
R_LAT = r"latency_ms"
R_TS = r"\bts\b|timestamp"
R_OP = r"\bop\b"
R_SCHEMA = r"schema_version"
R_DUP = r"event_id|duplicate"
R_GZIP_WAITS = r"compressed stream ends early after line \d[\d,]* \(still being written\?\)"


DROP = object()  # marks a field to remove in Builder.mutated


class Builder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[bytes] = []
        self.good: list[str] = []
        self.bad: list[dict] = []
        self.duplicates = 0
        self._i = 0

    def next_event(self) -> dict:
        self._i += 1
        return valid_event(zlib.crc32(self.name.encode()) % 10_000 * 100_000 + self._i, SEED)

    def good_line(self, n: int = 1) -> None:
        for _ in range(n):
            ev = self.next_event()
            self.lines.append(dumps(ev).encode())
            self.good.append(ev["event_id"])

    def bad_line(self, raw: bytes | str, kind: str, reason: str) -> None:
        self.lines.append(raw.encode() if isinstance(raw, str) else raw)
        self.bad.append({"line": len(self.lines), "kind": kind, "reason": reason})

    def mutated(self, kind: str, reason: str, **changes) -> None:
        ev = self.next_event()
        for k, v in changes.items():
            if v is DROP:
                ev.pop(k, None)
            else:
                ev[k] = v
        self.bad_line(dumps(ev), kind, reason)

    def data(self) -> bytes:
        return b"".join(line + b"\n" for line in self.lines)



def truncated_lines() -> Builder:
    b = Builder("truncated_lines.jsonl")
    b.good_line(3)
    full = dumps(b.next_event())
    b.bad_line(full[: len(full) // 2], "truncated line (writer crashed mid-line)", R_JSON)
    b.good_line(2)
    b.bad_line(full[:1], "truncated line: a lone brace", R_JSON)
    b.bad_line('{"schema_version": 1, "event_id": "abc", "ts": "2026-11-01T00:00:00Z", "op"',
               "truncated line: cut after a key", R_JSON)
    b.good_line(2)
    return b


def invalid_utf8() -> Builder:
    b = Builder("invalid_utf8.jsonl")
    b.good_line(2)
    ev = b.next_event()
    raw = dumps(ev).encode().replace(b'"user-', b'"\xff\xfeuser-', 1)
    b.bad_line(raw, "invalid UTF-8 bytes inside a string", R_UTF8 + "|" + R_JSON)
    b.good_line(1)
    ev = b.next_event()
    b.bad_line(dumps(ev).encode().replace(b'"svc-', b'"\xc3\x28svc-', 1), "invalid 2-byte UTF-8 sequence",
               R_UTF8 + "|" + R_JSON)
    ev = b.next_event()
    b.bad_line(dumps(ev).replace('"user-', '"\\ud800user-', 1), "lone surrogate escape (not encodable as UTF-8)",
               R_UTF8 + "|" + R_JSON + "|user_id")
    b.bad_line(b"\x00\x01\x02\x03 binary garbage \x80\x81", "binary garbage", R_UTF8 + "|" + R_JSON)
    b.good_line(2)
    return b


def huge_line() -> Builder:
    b = Builder("huge_line.jsonl.gz")
    b.good_line(2)
    ev = b.next_event()
    ev["user_id"] = "u" * HUGE_LINE_BYTES
    b.bad_line(dumps(ev), f"a {HUGE_LINE_BYTES} byte line (limit collector.max_line_bytes = 1 MiB)", R_SIZE)
    b.good_line(2)
    b.bad_line("x" * HUGE_LINE_BYTES, "a huge line that is not even JSON", R_SIZE)
    b.good_line(1)
    return b


def wrong_types() -> Builder:
    b = Builder("wrong_types.jsonl")
    b.good_line(1)
    b.mutated("latency_ms is a string", R_LAT, latency_ms="fast")
    b.mutated("latency_ms is a list", R_LAT, latency_ms=[1, 2])
    b.mutated("latency_ms is a boolean", R_LAT, latency_ms=True)
    b.mutated("op is a number", R_OP, op=7)
    b.mutated("top_k is a word", r"top_k", top_k="abc")
    b.mutated("result_ids is a string", r"result_ids", result_ids="not-a-list")
    b.mutated("filter_keys is an object", r"filter_keys", filter_keys={"user_id": 1})
    b.mutated("rerank is a string", r"rerank", rerank="yes")
    b.mutated("user_id is an object", r"user_id", user_id={"nested": True})
    b.mutated("ts is an epoch number", R_TS, ts=1732512000)
    b.mutated("required field service missing", r"service", service=DROP)
    b.mutated("required field latency_ms is null", R_LAT, latency_ms=None)
    b.good_line(1)
    b.bad_line("[1, 2, 3]", "a JSON array, not an object", r"object|json|dict|mapping")
    b.bad_line('"hello"', "a JSON string, not an object", r"object|json|dict|mapping")
    b.bad_line("null", "JSON null", r"object|json|dict|mapping")
    b.bad_line("42", "a bare number", r"object|json|dict|mapping")
    b.good_line(2)
    return b


def bad_latencies() -> Builder:
    b = Builder("bad_latencies.jsonl")
    b.good_line(2)
    b.mutated("latency NaN", R_LAT + "|nan|json", latency_ms=float("nan"))
    b.mutated("latency Infinity", R_LAT + "|inf|json", latency_ms=float("inf"))
    b.mutated("latency -Infinity", R_LAT + "|inf|json", latency_ms=float("-inf"))
    b.mutated("negative latency", R_LAT, latency_ms=-5.0)
    b.mutated("absurd latency: 1e12 ms (31 years)", R_LAT, latency_ms=1e12)
    b.mutated("absurd latency: 1e300 ms", R_LAT, latency_ms=1e300)
    b.good_line(2)
    return b


def bad_timestamps() -> Builder:
    b = Builder("bad_timestamps.jsonl")
    b.good_line(2)
    b.mutated("ts not a date", R_TS, ts="not-a-date")
    b.mutated("ts impossible month/day", R_TS, ts="2026-13-45T00:00:00Z")
    b.mutated("ts empty string", R_TS, ts="")
    b.mutated("ts year 0001", R_TS, ts="0001-01-01T00:00:00Z")
    b.mutated("ts year 1900 (before Mem0 existed)", R_TS, ts="1900-01-01T00:00:00Z")
    b.mutated("ts far future (2999)", R_TS, ts="2999-01-01T00:00:00Z")
    b.mutated("ts beyond any calendar", R_TS, ts="275760-09-13T00:00:00Z")
    b.good_line(2)
    return b


def unknown_values() -> Builder:
    b = Builder("unknown_ops.jsonl")
    b.good_line(2)
    b.mutated("unknown op", R_OP, op="frobnicate")
    b.mutated("empty op", R_OP, op="")
    b.mutated("op with SQL in it", R_OP, op="search'; DROP TABLE raw_op_events; --")
    b.mutated("unknown mode", r"\bmode\b", mode="cloud")
    b.mutated("unknown call_mode", r"call_mode", call_mode="threaded")
    b.mutated("unknown status", r"status", status="maybe")
    b.mutated("unknown cache outcome", r"cache", cache="sometimes")
    b.good_line(2)
    return b


def future_schema() -> Builder:
    b = Builder("future_schema.jsonl")
    b.good_line(2)
    b.mutated("schema_version 4 (from the future)", R_SCHEMA, schema_version=4)
    b.mutated("schema_version 99", R_SCHEMA, schema_version=99)
    b.mutated("schema_version 0", R_SCHEMA, schema_version=0)
    b.mutated("schema_version missing", R_SCHEMA, schema_version=DROP)
    b.mutated("schema_version as a string", R_SCHEMA, schema_version="1")
    b.good_line(2)
    return b


def duplicate_ids(first: Builder) -> Builder:
    """Same id twice with identical content = duplicate (not an error); same id, other content = quarantined."""
    b = Builder("duplicate_ids.jsonl")
    b.good_line(2)
    ev = b.next_event()
    b.lines.append(dumps(ev).encode())
    b.good.append(ev["event_id"])
    b.lines.append(dumps(ev).encode())  # exact duplicate: counted as duplicate, nothing quarantined
    b.duplicates += 1
    changed = copy.deepcopy(ev)
    changed["latency_ms"] = ev["latency_ms"] + 1000
    b.bad_line(dumps(changed), "same event_id, different latency", R_DUP)
    changed = copy.deepcopy(ev)
    changed["user_id"] = "someone-else"
    b.bad_line(dumps(changed), "same event_id, different user", R_DUP)
    b.good_line(1)
    other = json.loads(first.lines[0])  # an event of another corpus file, altered
    other["op"] = "delete" if other["op"] != "delete" else "get"
    b.bad_line(dumps(other), "event_id of another file with different content", R_DUP)
    b.good_line(2)
    return b


def gzip_cut_short() -> tuple[str, bytes, dict]:
    """A gzip file cut at 60 %: the complete lines that decompress must load; the cut line waits for the rest of
    the file (it may still be being written), like a plain file's unfinished last line, and the run says so."""
    name = "gzip_cut_short.jsonl.gz"
    b = Builder(name)
    b.good_line(3000)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(b.data())
    whole = buf.getvalue()
    cut = whole[: int(len(whole) * 0.6)]
    readable = zlib.decompressobj(wbits=31).decompress(cut)
    complete = readable.count(b"\n")
    entry = {"good": b.good[:complete], "bad": [], "duplicates": 0,
             "waits": {"kind": "gzip stream ends early (still being written?)", "message": R_GZIP_WAITS}}
    return name, cut, entry


def build() -> dict:
    latencies = bad_latencies()  # sorts before duplicate_ids.jsonl: its event is seen first in a folder load
    builders = [truncated_lines(), invalid_utf8(), huge_line(), wrong_types(), latencies, bad_timestamps(),
                unknown_values(), future_schema(), duplicate_ids(latencies)]
    expected: dict = {"seed": SEED, "files": {}}
    for b in builders:
        data = b.data()
        if b.name.endswith(".gz"):
            buf = io.BytesIO()
            with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
                gz.write(data)
            data = buf.getvalue()
        (HERE / b.name).write_bytes(data)
        expected["files"][b.name] = {"good": b.good, "bad": b.bad, "duplicates": b.duplicates}
    name, data, entry = gzip_cut_short()
    (HERE / name).write_bytes(data)
    expected["files"][name] = entry
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    return expected


if __name__ == "__main__":
    exp = build()
    bad = sum(len(f["bad"]) for f in exp["files"].values())
    good = sum(len(f["good"]) for f in exp["files"].values())
    print(f"{len(exp['files'])} files, {good} good events, {bad} bad lines")
