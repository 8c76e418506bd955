"""OpenTelemetry spans -> memlens op events, driven by the mapping files in `collectors/otel_mappings/`.

A mapping file (one per convention: OpenLIT's Mem0 spans, the GenAI memory operations, ...) says which spans are
Mem0 operations, which op each one is, which attributes fill which op-event fields, and which descendant spans time
which phase. This module decodes OTLP/JSON spans (hex ids, nanosecond times as strings, typed attribute values),
classifies every span against the mappings, and builds the op events; it never touches the warehouse
(collectors/otel.py loads what it returns). Every span gets one disposition, so nothing is dropped silently:

- op: a Mem0 operation (one op event, event_id `otel:<trace_id>:<span_id>`)
- phase: a descendant of an op span that times one phase (its time goes into the op's `<phase>_ms`)
- child: a known descendant that spans several phases (counted, not attributed)
- ignored: a span the mapping knows is not an operation (`memory init`)
- unknown: anything else (other libraries' spans, an operation name a mapping does not list)
- late: a phase span that arrived after its operation was loaded (its time is not in the op)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from memlens import resources, schema
from memlens.instrumentation.events import query_hash

MAPPINGS_PACKAGE = "memlens.collectors"
MAPPINGS_FOLDER = "otel_mappings"
EPOCH = datetime(1970, 1, 1)
ERROR_STATUS = (2, "STATUS_CODE_ERROR")  # OTLP/JSON writes enums as integers; some encoders write the names
_HEX32, _HEX16 = re.compile(r"[0-9a-f]{32}"), re.compile(r"[0-9a-f]{16}")
_FIELD_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Matcher(_Strict):
    scope_name: str | None = None
    attributes: dict[str, str | int | float | bool] | None = None  # every one equal
    attribute_in: dict[str, list[str]] | None = None  # every attribute's value in its list

    @model_validator(mode="after")
    def _one(self) -> Matcher:
        if sum(x is not None for x in (self.scope_name, self.attributes, self.attribute_in)) != 1:
            raise ValueError("a match entry has exactly one of scope_name, attributes, attribute_in")
        return self

    def matches(self, span: Span) -> bool:
        if self.scope_name is not None:
            return span.scope_name == self.scope_name
        if self.attributes is not None:
            return all(span.attrs.get(k) == v for k, v in self.attributes.items())
        return all(span.attrs.get(k) in v for k, v in (self.attribute_in or {}).items())


class ConditionalOp(_Strict):
    op: str
    when_missing: str  # an attribute; when the span lacks it, the op is `then`
    then: str


class Operation(_Strict):
    from_: Literal["span_name", "attribute"] = Field(alias="from")
    attribute: str | None = None
    ops: dict[str, str | ConditionalOp]
    ignore: dict[str, str] = {}

    @model_validator(mode="after")
    def _check(self) -> Operation:
        if (self.from_ == "attribute") != (self.attribute is not None):
            raise ValueError("operation.attribute is required with `from: attribute` and only then")
        for value in self.ops.values():
            for op in ((value,) if isinstance(value, str) else (value.op, value.then)):
                if op not in schema.OPS:
                    raise ValueError(f"unknown op {op!r} (the op-log schema has {', '.join(schema.OPS)})")
        return self


class Constants(_Strict):
    mode: str
    call_mode: str

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        if v not in schema.MODES:
            raise ValueError(f"mode must be one of {schema.MODES}")
        return v

    @field_validator("call_mode")
    @classmethod
    def _call_mode(cls, v: str) -> str:
        if v not in schema.CALL_MODES:
            raise ValueError(f"call_mode must be one of {schema.CALL_MODES}")
        return v


class Latency(_Strict):
    attribute: str | None
    scale: float = Field(gt=0)


class FieldRule(_Strict):
    attributes: list[str] = Field(min_length=1)
    ops: list[str] | None = None


class PhaseByAttribute(_Strict):
    attribute: str
    values: dict[str, str]


class Phases(_Strict):
    by_name: dict[str, str | None] = {}
    by_attribute: PhaseByAttribute | None = None


# Op-event fields a mapping fills itself (never from an attribute rule).
_COMPUTED = {"schema_version", "event_id", "ts", "service", "mode", "call_mode", "op", "latency_ms", "status",
             "query_hash"}
_ALLOWED_TYPES = {"string", "integer", "number", "boolean"}


class Mapping(_Strict):
    convention: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: int = Field(ge=1)
    title: str
    reference: str
    match: list[Matcher] = Field(min_length=1)
    operation: Operation
    constants: Constants
    latency: Latency
    fields: dict[str, FieldRule] = {}
    query_hash_from: list[str] = []
    phases: Phases = Phases()

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, FieldRule]) -> dict[str, FieldRule]:
        for name, rule in v.items():
            f = schema.FIELD_BY_NAME.get(name)
            if f is None or name in _COMPUTED or f.json_type not in _ALLOWED_TYPES:
                raise ValueError(f"fields.{name}: not an op-event field a span attribute can fill")
            for op in rule.ops or ():
                if op not in schema.OPS:
                    raise ValueError(f"fields.{name}.ops: unknown op {op!r}")
        return v

    def matches(self, span: Span) -> bool:
        return any(m.matches(span) for m in self.match)

    def operation_value(self, span: Span) -> Any:
        return span.name if self.operation.from_ == "span_name" else span.attrs.get(self.operation.attribute)

    def op_of(self, span: Span) -> str | None:
        rule = self.operation.ops.get(self.operation_value(span))
        if isinstance(rule, ConditionalOp):
            return rule.then if span.attrs.get(rule.when_missing) in (None, "") else rule.op
        return rule

    def phase_of(self, span: Span) -> tuple[bool, str | None]:
        """(known, phase): known=False for a descendant this mapping does not list."""
        if span.name in self.phases.by_name:
            return True, self.phases.by_name[span.name]
        by = self.phases.by_attribute
        if by is not None and span.attrs.get(by.attribute) in by.values:
            return True, by.values[span.attrs[by.attribute]]
        return False, None


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the key."""


def parse_mapping(text: str, name: str) -> Mapping:
    try:
        data = yaml.safe_load(text)
        mapping = Mapping.model_validate(data)
    except yaml.YAMLError as exc:
        raise MappingError(f"{name}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise MappingError(f"{name}: {where}: {err['msg']}") from None
    phases = [p for p in mapping.phases.by_name.values() if p is not None]
    phases += list(mapping.phases.by_attribute.values.values()) if mapping.phases.by_attribute else []
    bad = [p for p in phases if p not in schema.PHASES]
    if bad:
        raise MappingError(f"{name}: phases: unknown phase {bad[0]!r} (the op-log schema has "
                           f"{', '.join(schema.PHASES)})")
    return mapping


@cache
def load_mappings() -> tuple[Mapping, ...]:
    """The mapping files shipped with memlens, in file-name order (the first that matches a span wins)."""
    folder = resources.resource(MAPPINGS_PACKAGE, MAPPINGS_FOLDER)
    files = sorted((p for p in folder.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)
    mappings = tuple(parse_mapping(p.read_text(encoding="utf-8"), f"{MAPPINGS_FOLDER}/{p.name}") for p in files)
    seen: set[str] = set()
    for m in mappings:
        if m.convention in seen:
            raise MappingError(f"{MAPPINGS_FOLDER}: convention {m.convention!r} is defined twice")
        seen.add(m.convention)
    return mappings


# ---- OTLP/JSON decoding ------------------------------------------------------------------------------------------

class SpanError(ValueError):
    """A span (or line) that is not valid OTLP/JSON; the message names the field by its path in the line."""


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    error: bool
    attrs: dict[str, Any]
    scope_name: str | None
    service: str | None
    path: str  # where the span is in its line, for messages
    exception_type: str | None = None
    source_file: str = ""  # set by the collector: the file and line the span was read from
    source_line: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return self.trace_id, self.span_id

    @property
    def parent_key(self) -> tuple[str, str] | None:
        return (self.trace_id, self.parent_id) if self.parent_id else None

    @property
    def label(self) -> str:
        return f"span {self.span_id} ({self.name})"

    def describe(self) -> str:
        """What the quarantine keeps of a span: its identity and attributes (as decoded)."""
        return json.dumps({"name": self.name, "traceId": self.trace_id, "spanId": self.span_id,
                           "attributes": self.attrs}, default=str)


def any_value(v: Any, where: str) -> Any:
    """Decode an OTLP AnyValue ({stringValue: ...} etc.)."""
    if not isinstance(v, dict):
        raise SpanError(f"{where}: expected an AnyValue object, got {type(v).__name__}")
    if not v:
        return None
    if len(v) != 1:
        raise SpanError(f"{where}: an AnyValue holds one of stringValue, intValue, doubleValue, boolValue, "
                        f"arrayValue, kvlistValue, bytesValue (got {', '.join(sorted(v))})")
    (kind, x), = v.items()
    if kind == "stringValue" and isinstance(x, str):
        return x
    if kind == "boolValue" and isinstance(x, bool):
        return x
    if kind == "intValue" and ((isinstance(x, int) and not isinstance(x, bool)) or
                               (isinstance(x, str) and re.fullmatch(r"-?\d+", x))):
        return int(x)  # int64 is written as a JSON string
    if kind == "doubleValue":
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            return float(x)
        if x in ("NaN", "Infinity", "-Infinity"):
            return float(x.replace("Infinity", "inf"))
    if kind == "arrayValue" and isinstance(x, dict):
        return [any_value(item, f"{where}.arrayValue.values[{i}]") for i, item in enumerate(x.get("values", []))]
    if kind == "kvlistValue" and isinstance(x, dict):
        return attributes(x.get("values", []), f"{where}.kvlistValue.values")
    if kind == "bytesValue" and isinstance(x, str):
        return x
    raise SpanError(f"{where}.{kind}: not a valid {kind} ({str(x)[:40]!r})")


def attributes(items: Any, where: str) -> dict[str, Any]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise SpanError(f"{where}: expected a list of {{key, value}}, got {type(items).__name__}")
    out: dict[str, Any] = {}
    for i, kv in enumerate(items):
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise SpanError(f"{where}[{i}]: expected {{key: string, value: AnyValue}}")
        out[kv["key"]] = any_value(kv.get("value", {}), f"{where}[{i}].value")
    return out


def _nanos(v: Any, where: str) -> int:
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return v
    if isinstance(v, str) and v.isdigit():
        return int(v)
    raise SpanError(f"{where}: expected nanoseconds since the epoch (a string of digits), got {str(v)[:40]!r}")


def _hex_id(v: Any, pattern: re.Pattern, digits: int, where: str, required: bool = True) -> str | None:
    if v in (None, "") and not required:
        return None
    if not isinstance(v, str) or not pattern.fullmatch(v.lower()) or set(v) == {"0"}:
        raise SpanError(f"{where}: expected {digits} hex digits (not all zero), got {str(v)[:40]!r}")
    return v.lower()


def _list(container: dict, key: str, where: str) -> list:
    v = container.get(key, [])
    if not isinstance(v, list):
        raise SpanError(f"{where}.{key}: expected a list, got {type(v).__name__}")
    return v


def decode_span(s: Any, where: str, scope_name: str | None, service: str | None) -> Span:
    if not isinstance(s, dict):
        raise SpanError(f"{where}: expected a span object")
    name = s.get("name")
    if not isinstance(name, str) or not name:
        raise SpanError(f"{where}.name: missing or not a string")
    start = _nanos(s.get("startTimeUnixNano"), f"{where}.startTimeUnixNano")
    end = _nanos(s.get("endTimeUnixNano"), f"{where}.endTimeUnixNano")
    if end < start:
        raise SpanError(f"{where}.endTimeUnixNano: before startTimeUnixNano ({end} < {start})")
    status = s.get("status") or {}
    if not isinstance(status, dict):
        raise SpanError(f"{where}.status: expected an object")
    attrs = attributes(s.get("attributes"), f"{where}.attributes")
    exception_type = None
    for i, event in enumerate(_list(s, "events", where)):
        if isinstance(event, dict) and event.get("name") == "exception":
            ev_attrs = attributes(event.get("attributes"), f"{where}.events[{i}].attributes")
            exception_type = exception_type or ev_attrs.get("exception.type")
    return Span(
        trace_id=_hex_id(s.get("traceId"), _HEX32, 32, f"{where}.traceId"),
        span_id=_hex_id(s.get("spanId"), _HEX16, 16, f"{where}.spanId"),
        parent_id=_hex_id(s.get("parentSpanId"), _HEX16, 16, f"{where}.parentSpanId", required=False),
        name=name, start_ns=start, end_ns=end, error=status.get("code") in ERROR_STATUS, attrs=attrs,
        scope_name=scope_name, service=service, path=where, exception_type=exception_type)


def decode_line(data: Any) -> tuple[list[Span], list[tuple[str, Any]]]:
    """The spans of one TracesData object, and (reason, the span as given) for each one that could not be decoded.

    A line that is not a TracesData at all raises SpanError (the whole line is quarantined)."""
    if not isinstance(data, dict):
        raise SpanError(f"not a TracesData object (got {type(data).__name__})")
    if "resourceSpans" not in data:
        other = ", ".join(k for k in ("resourceMetrics", "resourceLogs") if k in data)
        raise SpanError("resourceSpans: missing" + (f" (this line holds {other}: one signal per file)" if other
                                                      else " (not an OTLP TracesData line)"))
    spans: list[Span] = []
    bad: list[tuple[str, Any]] = []
    for r, rs in enumerate(_list(data, "resourceSpans", "")):
        where_r = f"resourceSpans[{r}]"
        if not isinstance(rs, dict):
            raise SpanError(f"{where_r}: expected an object")
        resource = rs.get("resource") or {}
        service = attributes(resource.get("attributes"), f"{where_r}.resource.attributes").get("service.name") \
            if isinstance(resource, dict) else None
        for c, ss in enumerate(_list(rs, "scopeSpans", where_r)):
            where_s = f"{where_r}.scopeSpans[{c}]"
            if not isinstance(ss, dict):
                raise SpanError(f"{where_s}: expected an object")
            scope = ss.get("scope") or {}
            scope_name = scope.get("name") if isinstance(scope, dict) else None
            for i, s in enumerate(_list(ss, "spans", where_s)):
                try:
                    spans.append(decode_span(s, f"{where_s}.spans[{i}]", scope_name,
                                             service if isinstance(service, str) else None))
                except SpanError as exc:
                    bad.append((str(exc), s))
    return spans, bad


# ---- classification and op events --------------------------------------------------------------------------------

@dataclass
class OpSpan:
    span: Span
    mapping: Mapping
    op: str
    phases: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # phase -> [(start_ns, end_ns)]


def ts_text(ns: int) -> str:
    """ISO 8601 UTC with microseconds (DuckDB's TIMESTAMP precision; the nanoseconds are cut, not rounded)."""
    return (EPOCH + timedelta(microseconds=ns // 1000)).isoformat(timespec="microseconds") + "Z"


def _coerce(value: Any, json_type: str) -> Any:
    want = _FIELD_TYPES[json_type]
    if json_type == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if json_type == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, want) and not (want is int and isinstance(value, bool)):
        return value
    if json_type == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    raise SpanError(f"expected {'an' if json_type == 'integer' else 'a'} {json_type}, got "
                    f"{type(value).__name__} {str(value)[:40]!r}")


def merged_ms(intervals: list[tuple[int, int]], lo: int, hi: int) -> float:
    """Milliseconds covered by the intervals, clipped to [lo, hi]; overlapping ones count once."""
    total, cur_s, cur_e = 0, None, None
    for s, e in sorted((max(s, lo), min(e, hi)) for s, e in intervals):
        if e <= s:
            continue
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total / 1e6


def op_event(o: OpSpan) -> dict[str, Any]:
    """The op event of an operation span (raises SpanError naming the attribute when one has the wrong type)."""
    s, m = o.span, o.mapping
    latency = None
    if m.latency.attribute is not None:
        raw = s.attrs.get(m.latency.attribute)
        if raw is not None:
            try:
                latency = _coerce(raw, "number") * m.latency.scale
            except SpanError as exc:
                raise SpanError(f"attribute {m.latency.attribute}: {exc}") from None
    if latency is None:
        latency = (s.end_ns - s.start_ns) / 1e6
    event: dict[str, Any] = {
        "schema_version": schema.SCHEMA_VERSION, "event_id": f"otel:{s.trace_id}:{s.span_id}",
        "ts": ts_text(s.start_ns), "service": s.service or s.attrs.get("service.name") or "unknown_service",
        "mode": m.constants.mode, "call_mode": m.constants.call_mode, "op": o.op,
        "latency_ms": latency if math.isfinite(latency) else str(latency),  # a non-finite figure is quarantined
        "status": "error" if s.error else "ok",
    }
    for name, rule in m.fields.items():
        if rule.ops is not None and o.op not in rule.ops:
            continue
        for attr in rule.attributes:
            if s.attrs.get(attr) is not None:
                try:
                    event[name] = _coerce(s.attrs[attr], schema.FIELD_BY_NAME[name].json_type)
                except SpanError as exc:
                    raise SpanError(f"attribute {attr}: {exc}") from None
                break
    if s.error and "error_type" not in event:
        event["error_type"] = s.exception_type
    if not s.error:
        event.pop("error_type", None)
    for attr in m.query_hash_from:
        if isinstance(s.attrs.get(attr), str):
            event["query_hash"] = query_hash(s.attrs[attr])
            break
    for phase, intervals in o.phases.items():
        event[f"{phase}_ms"] = merged_ms(intervals, s.start_ns, s.end_ns)
    return event


CountKey = tuple[str, str, str, str]  # (source_file, convention or '', disposition, span name)


@dataclass
class Classified:
    ops: list[OpSpan]  # operation spans whose event is due now (their known descendants resolved)
    counts: dict[CountKey, int]


class SpanClassifier:
    """Classifies spans batch by batch over one run. Descendant spans usually end (and are exported) before their
    operation span: they wait in `pending` until their operation arrives, however many batches later."""

    def __init__(self, mappings: tuple[Mapping, ...] | None = None) -> None:
        self.mappings = load_mappings() if mappings is None else mappings
        self.ops: dict[tuple[str, str], OpSpan] = {}  # operation spans of this run, by (trace, span)
        self.loaded: set[tuple[str, str]] = set()  # operation spans whose event was handed out
        self.pending: dict[tuple[str, str], Span] = {}  # spans with a parent not resolved yet

    def _mapping(self, span: Span) -> Mapping | None:
        return next((m for m in self.mappings if m.matches(span)), None)

    def add(self, spans: list[Span]) -> Classified:
        counts: dict[CountKey, int] = {}

        def count(span: Span, convention: str, disposition: str) -> None:
            key = (span.source_file, convention, disposition, span.name)
            counts[key] = counts.get(key, 0) + 1

        new_ops: list[OpSpan] = []
        for span in spans:
            m = self._mapping(span)
            if m is not None:
                op = m.op_of(span)
                if op is not None:
                    o = OpSpan(span, m, op)
                    self.ops[span.key] = o
                    new_ops.append(o)
                    count(span, m.convention, "op")
                    continue
                if m.operation_value(span) in m.operation.ignore:
                    count(span, m.convention, "ignored")
                    continue
            if span.parent_id:
                self.pending[span.key] = span
            else:
                count(span, m.convention if m else "", "unknown")
        self._resolve(count)
        events = [o for o in new_ops if o.span.key not in self.loaded]
        self.loaded.update(o.span.key for o in events)
        return Classified(events, counts)

    def _ancestor_op(self, span: Span) -> OpSpan | bool | None:
        """The nearest operation span above `span`; False while an ancestor is still unknown (not arrived)."""
        seen = 0
        cur = span
        while cur.parent_key is not None and seen < 64:
            seen += 1
            if cur.parent_key in self.ops:
                return self.ops[cur.parent_key]
            parent = self.pending.get(cur.parent_key)
            if parent is None:
                return False
            cur = parent
        return None

    def _resolve(self, count) -> None:
        for key, span in list(self.pending.items()):
            o = self._ancestor_op(span)
            if o is False:
                continue
            del self.pending[key]
            if o is None:  # a root of other spans: not a Mem0 operation
                m = self._mapping(span)
                count(span, m.convention if m else "", "unknown")
                continue
            known, phase = o.mapping.phase_of(span)
            if not known:
                count(span, o.mapping.convention, "unknown")
            elif o.span.key in self.loaded:
                count(span, o.mapping.convention, "late")
            elif phase is None:
                count(span, o.mapping.convention, "child")
            else:
                o.phases.setdefault(phase, []).append((span.start_ns, span.end_ns))
                count(span, o.mapping.convention, "phase")

    def finish(self) -> dict[CountKey, int]:
        """Counts of the spans still waiting for an ancestor at the end of the run: unknown (their parent never
        came: another service's span, or a trace cut by the exporter)."""
        counts: dict[CountKey, int] = {}
        for span in self.pending.values():
            m = self._mapping(span)
            key = (span.source_file, m.convention if m else "", "unknown", span.name)
            counts[key] = counts.get(key, 0) + 1
        self.pending.clear()
        return counts
