"""Hypothesis strategies for op-log lines: valid schema-v1 events (with hostile but legal text) and broken lines.

Every generated line carries its verdict: LOAD (its event must be in raw_op_events), QUARANTINE (a raw_quarantine
row must name its file and line) or DUPLICATE (an exact repeat: counted, neither loaded twice nor quarantined). The bad
kinds are unambiguous: no collector could reasonably accept them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import strategies as st

from memlens.schema import CACHE_OUTCOMES, CALL_MODES, MODES, OPS, SCHEMA_VERSION, STATUSES

# Text a user id or service name may legally hold: anything encodable, including markup, quotes, SQL and the
# Unicode line separators that str.splitlines() would wrongly split on (U+2028, U+0085).
HOSTILE_SNIPPETS = ("<script>alert(1)</script>", "' OR 1=1 --", '"; DROP TABLE raw_op_events; --', "\u2028",
                    "\u0085", "\u2029", "\\", "\t", "é", "🙂", "\u200b")
legal_text = st.one_of(
    st.sampled_from(HOSTILE_SNIPPETS),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40),
)


LOAD, QUARANTINE, DUPLICATE = "load", "quarantine", "duplicate"


@dataclass(frozen=True)
class Line:
    data: bytes
    event_id: str
    kind: str
    verdict: str  # LOAD | QUARANTINE | DUPLICATE


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@st.composite
def good_events(draw: st.DrawFn, event_id: str) -> dict:
    op = draw(st.sampled_from(OPS))
    ev: dict = {
        "schema_version": 1,
        "event_id": event_id,
        "ts": _ts(draw(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 11, 1)))
                  .replace(tzinfo=UTC)),
        "service": draw(legal_text),
        "mode": draw(st.sampled_from(MODES)),
        "call_mode": draw(st.sampled_from(CALL_MODES)),
        "op": op,
        "latency_ms": draw(st.floats(min_value=0.001, max_value=600_000, allow_nan=False)),
        "status": draw(st.sampled_from(STATUSES)),
    }
    optional = {
        "user_id": st.one_of(st.none(), legal_text),
        "agent_id": st.one_of(st.none(), legal_text),
        "top_k": st.integers(min_value=1, max_value=1000),
        "filter_keys": st.lists(st.sampled_from(("user_id", "agent_id", "run_id", "category")), max_size=3),
        "rerank": st.booleans(),
        "result_count": st.integers(min_value=0, max_value=1000),
        "top_score": st.floats(min_value=0, max_value=1),
        "cache": st.sampled_from(CACHE_OUTCOMES),
        "embedding_tokens": st.integers(min_value=0, max_value=100_000),
        "demo": st.booleans(),
        "unknown_future_field": st.integers(),  # v1 collectors ignore unknown fields
    }
    for key, strat in optional.items():
        if draw(st.booleans()):
            ev[key] = draw(strat)
    return ev


def encode(ev: dict, ascii_only: bool) -> bytes:
    return json.dumps(ev, ensure_ascii=ascii_only, allow_nan=True).encode("utf-8", "surrogatepass")


# (kind, mutation of a valid event) pairs: each makes the event invalid for one clear reason.
DROP = object()
BAD_FIELD_VALUES: list[tuple[str, str, object]] = [
    ("latency NaN", "latency_ms", math.nan),
    ("latency +inf", "latency_ms", math.inf),
    ("negative latency", "latency_ms", -1.5),
    ("absurd latency", "latency_ms", 1e15),
    ("latency as text", "latency_ms", "12ms"),
    ("latency null", "latency_ms", None),
    ("latency missing", "latency_ms", DROP),
    ("unknown op", "op", "frobnicate"),
    ("op missing", "op", DROP),
    ("unknown mode", "mode", "hybrid"),
    ("unknown status", "status", "fine"),
    ("unknown cache", "cache", "warm"),
    ("future schema", "schema_version", SCHEMA_VERSION + 1),
    ("schema as text", "schema_version", "1"),
    ("ts garbage", "ts", "yesterday"),
    ("ts far future", "ts", "2999-12-31T00:00:00Z"),
    ("ts year 1", "ts", "0001-01-01T00:00:00Z"),
    ("ts number", "ts", 1700000000),
    ("top_k overflow", "top_k", 10**20),
    ("top_k text", "top_k", "many"),
    ("result_ids not list", "result_ids", "abc"),
    ("user_id object", "user_id", {"a": 1}),
    ("event_id missing", "event_id", DROP),
    ("event_id empty", "event_id", ""),
]


@st.composite
def bad_lines(draw: st.DrawFn, event_id: str) -> Line:
    how = draw(st.sampled_from(("field", "truncate", "bytes", "not_object", "surrogate")))
    ev = draw(good_events(event_id))
    if how == "field":
        kind, key, value = draw(st.sampled_from(BAD_FIELD_VALUES))
        if value is DROP:
            ev.pop(key, None)
        else:
            ev[key] = value
        return Line(encode(ev, draw(st.booleans())), event_id, kind, QUARANTINE)
    if how == "truncate":
        data = encode(ev, True)
        cut = draw(st.integers(min_value=1, max_value=len(data) - 1))
        return Line(data[:cut], event_id, "truncated", QUARANTINE)
    if how == "bytes":
        data = encode(ev, True)
        at = draw(st.integers(min_value=0, max_value=len(data)))
        junk = draw(st.sampled_from((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80", b"\xf8\x88\x80\x80\x80")))
        return Line(data[:at] + junk + data[at:], event_id, "invalid utf-8", QUARANTINE)
    if how == "not_object":
        value = draw(st.one_of(st.integers(), st.text(max_size=10), st.lists(st.integers(), max_size=3), st.none()))
        return Line(json.dumps(value).encode(), event_id, "not an object", QUARANTINE)
    ev["user_id"] = "x\ud800y"  # legal JSON escape, not encodable as UTF-8
    return Line(encode(ev, True), event_id, "lone surrogate", QUARANTINE)


@st.composite
def log_files(draw: st.DrawFn, prefix: str = "e") -> list[Line]:
    """A log file's lines: good events, broken lines, exact duplicates and conflicting duplicates, shuffled."""
    n = draw(st.integers(min_value=1, max_value=30))
    lines: list[Line] = []
    for i in range(n):
        eid = f"{prefix}{i:04d}"
        choice = draw(st.sampled_from(("good", "good", "bad", "dup", "conflict")))
        if choice == "bad":
            lines.append(draw(bad_lines(eid)))
            continue
        ev = draw(good_events(eid))
        data = encode(ev, draw(st.booleans()))
        lines.append(Line(data, eid, "good", LOAD))
        if choice == "dup":
            lines.append(Line(data, eid, "exact duplicate", DUPLICATE))
        elif choice == "conflict":
            other = dict(ev, latency_ms=ev["latency_ms"] + 1.0)
            lines.append(Line(encode(other, True), eid, "conflicting duplicate", QUARANTINE))
    return lines
