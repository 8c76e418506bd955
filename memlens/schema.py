"""Operation-log schema (v3): the single definition every producer and consumer reads.

One JSON object per line, one per Mem0 operation. The instrumentation writes it, `memlens demo`
writes it, the collectors validate and load it, the docs table is generated from it
(`memlens schema --markdown`), and the DuckDB raw table's columns come from it.

Versions only ever add optional fields at the end of FIELDS: a v1 line is a valid v2 line (its new fields
are null). v2 added the per-phase timings (`<phase>_ms`, PHASES); v3 the provider-cached LLM prompt tokens
(`llm_cached_input_tokens`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache

SCHEMA_VERSION = 3

OPS = ("add", "search", "get", "get_all", "update", "delete", "delete_all", "history")
MODES = ("oss", "platform")
CALL_MODES = ("sync", "async")
STATUSES = ("ok", "error")
CACHE_OUTCOMES = ("hit", "miss", "bypass")
# Where a Mem0 OSS call spends its time, in the order a call passes through them; field `<phase>_ms` each.
PHASES = ("embedding", "vector_search", "vector_read", "vector_write", "rerank", "llm", "history", "graph")


@dataclass(frozen=True)
class Field:
    name: str
    json_type: str  # "string" | "integer" | "number" | "boolean" | "array<string>" | "timestamp"
    duckdb_type: str
    required: bool
    doc: str
    choices: tuple[str, ...] | None = None
    nonnegative: bool = False  # a duration: the collector refuses a value below 0


FIELDS: tuple[Field, ...] = (
    Field("schema_version", "integer", "INTEGER", True,
          "1, 2 or 3 (2 adds the phase timings `*_ms`, 3 `llm_cached_input_tokens`, the last fields below; an older "
          "line is read as is)."),
    Field("event_id", "string", "VARCHAR", True,
          "Unique id of the event (uuid4 hex); re-ingesting the same event is a no-op."),
    Field("ts", "timestamp", "TIMESTAMP", True,
          "UTC start of the call, ISO 8601 (`2026-11-25T05:42:03.123456Z`)."),
    Field("service", "string", "VARCHAR", True, "Name of the service that made the call."),
    Field("mode", "string", "VARCHAR", True, "`oss` (mem0.Memory) or `platform` (MemoryClient).", MODES),
    Field("call_mode", "string", "VARCHAR", True, "`sync` or `async` client.", CALL_MODES),
    Field("op", "string", "VARCHAR", True, "Mem0 operation.", OPS),
    Field("user_id", "string", "VARCHAR", False, "Entity scope: user id (optionally salted hash)."),
    Field("agent_id", "string", "VARCHAR", False, "Entity scope: agent id."),
    Field("run_id", "string", "VARCHAR", False, "Entity scope: Mem0 run/session id."),
    Field("latency_ms", "number", "DOUBLE", True, "Wall-clock duration of the call in milliseconds."),
    Field("status", "string", "VARCHAR", True, "`ok` or `error`.", STATUSES),
    Field("error_type", "string", "VARCHAR", False,
          "Exception class name when status is `error` (never the message: it may hold secrets)."),
    Field("memory_id", "string", "VARCHAR", False, "Target memory of get/update/delete/history."),
    # search
    Field("limit", "integer", "INTEGER", False,
          "`limit=` as passed by the caller (mem0 2.2 OSS ignores it; `top_k` is what applies)."),
    Field("top_k", "integer", "INTEGER", False, "Effective result cap (`top_k`) of search/get_all."),
    Field("filter_keys", "array<string>", "VARCHAR[]", False,
          "Keys used to scope the call: entity ids and filter keys (values are never logged)."),
    Field("rerank", "boolean", "BOOLEAN", False, "Whether reranking was requested."),
    Field("threshold", "number", "DOUBLE", False, "Score threshold passed to search."),
    Field("result_count", "integer", "INTEGER", False, "Results returned (search/get_all) or memories returned."),
    Field("result_ids", "array<string>", "VARCHAR[]", False,
          "Memory ids returned by search/get_all, or created/updated by add."),
    Field("top_score", "number", "DOUBLE", False, "Best score in a search result."),
    Field("query_hash", "string", "VARCHAR", False,
          "sha256 (first 32 hex) of the normalised query (NFKC, lower-case, collapsed spaces)."),
    Field("query_text", "string", "VARCHAR", False, "Raw query; only when explicitly enabled (off by default)."),
    # add
    Field("message_count", "integer", "INTEGER", False, "Messages in an add batch."),
    Field("infer", "boolean", "BOOLEAN", False, "`infer=` of add (True runs the LLM)."),
    Field("memories_created", "integer", "INTEGER", False, "Memories created by the call (ADD events)."),
    Field("memories_updated", "integer", "INTEGER", False, "Memories updated by the call (UPDATE events)."),
    Field("memories_deleted", "integer", "INTEGER", False, "Memories deleted by the call (DELETE events)."),
    # models and tokens
    Field("embedding_model", "string", "VARCHAR", False, "Embedding model used by the call."),
    Field("embedding_calls", "integer", "INTEGER", False, "Texts embedded during the call."),
    Field("embedding_tokens", "integer", "INTEGER", False, "Tokens embedded during the call."),
    Field("llm_model", "string", "VARCHAR", False, "LLM used by the call (add with infer=True)."),
    Field("llm_input_tokens", "integer", "INTEGER", False, "LLM prompt tokens."),
    Field("llm_output_tokens", "integer", "INTEGER", False, "LLM completion tokens."),
    Field("tokens_estimated", "boolean", "BOOLEAN", False,
          "True when token counts are estimates (no tokenizer for the model)."),
    # cache and provenance
    Field("cache", "string", "VARCHAR", False, "Outcome of a cache in front of the call.", CACHE_OUTCOMES),
    Field("tag", "string", "VARCHAR", False, "Free label grouping events, e.g. a load-test run id."),
    Field("demo", "boolean", "BOOLEAN", False, "True for synthetic rows written by `memlens demo`."),
    # v2: where the time went (OSS calls; null when the phase did not run, and always null for Platform calls
    # and cache hits). Wall-clock ms inside the call; they add up to at most latency_ms (the rest is Mem0's own
    # Python: parsing, scoring, lemmatising). Where Mem0 runs work in parallel, a stretch with several phases in
    # flight is split equally between them and a phase in flight twice counts once.
    Field("embedding_ms", "number", "DOUBLE", False,
          "Phase: embedding the query or messages (the Memory's `embedding_model.embed` / `embed_batch`).",
          nonnegative=True),
    Field("vector_search_ms", "number", "DOUBLE", False,
          "Phase: vector-store search (`vector_store.search`, `keyword_search`, `search_batch`).", nonnegative=True),
    Field("vector_read_ms", "number", "DOUBLE", False,
          "Phase: vector-store reads by id or filter (`vector_store.get`, `list`): get, get_all, update, delete.",
          nonnegative=True),
    Field("vector_write_ms", "number", "DOUBLE", False,
          "Phase: vector-store writes (`vector_store.insert`, `update`, `delete`, `delete_col`).", nonnegative=True),
    Field("rerank_ms", "number", "DOUBLE", False, "Phase: reranking search results (`reranker.rerank`).",
          nonnegative=True),
    Field("llm_ms", "number", "DOUBLE", False,
          "Phase: LLM calls (`llm.generate_response`): fact extraction of add with infer=True.", nonnegative=True),
    Field("history_ms", "number", "DOUBLE", False,
          "Phase: Mem0's history DB (`db`: add_history, batch_add_history, save_messages, get_last_messages, "
          "get_history).", nonnegative=True),
    Field("graph_ms", "number", "DOUBLE", False,
          "Phase: graph memory: the Memory's graph store (`graph`, where enabled) or mem0 2.2's entity store "
          "(`entity_store`, entity linking).", nonnegative=True),
    # v3: prompt caching. Providers bill prompt tokens served from their cache at a lower rate; the cost views
    # price these at prices.llm.<model>.cached_input (the input rate where none is set).
    Field("llm_cached_input_tokens", "integer", "INTEGER", False,
          "Of `llm_input_tokens`, the prompt tokens the provider served from its prompt cache (OpenAI "
          "`usage.prompt_tokens_details.cached_tokens`, Anthropic `usage.cache_read_input_tokens`); null when the "
          "provider did not say.", nonnegative=True),
)

FIELD_BY_NAME = {f.name: f for f in FIELDS}
REQUIRED = tuple(f.name for f in FIELDS if f.required)
PHASE_FIELDS = tuple(f"{p}_ms" for p in PHASES)


def _q(name: str) -> str:
    return f'"{name}"'


def _choices_param(f: Field) -> str:
    return f"$choices_{f.name}"


def choice_params() -> dict[str, list[str]]:
    """Bound parameters of the generated choice checks: `choices_<field>` → the field's allowed values."""
    return {_choices_param(f)[1:]: list(f.choices) for f in FIELDS if f.choices}


def _typed(f: Field) -> str:
    """The field's typed value from `t`, the line's values as JSON texts (from_json to JSON): NULL when its JSON type
    does not fit (oplog_macros.sql) or the value does not cast to the column type."""
    v = f"t.{_q(f.name)}"
    if f.json_type == "timestamp":  # ISO 8601 text (ts_text); an offset is converted to UTC, naive UTC stored
        return f"TRY_CAST(TRY_CAST(ts_text AS TIMESTAMPTZ) AS TIMESTAMP) AS {_q(f.name)}"
    conv = {"string": f"ml_json_string({v})", "integer": f"TRY_CAST(ml_json_integer({v}) AS {f.duckdb_type})",
            "number": f"ml_json_number({v})", "boolean": f"ml_json_boolean({v})",
            "array<string>": f"ml_json_list({v})"}[f.json_type]
    return f"{conv} AS {_q(f.name)}"


@cache
def sql_snippets() -> dict[str, str]:
    """SQL generated from FIELDS, for the `{{ name }}` slots of the SQL files that handle op events (the raw
    table's DDL, the collector's validation): the field lists are written here once, never by hand there."""
    numbers = [f for f in FIELDS if f.json_type == "number" and not f.required]
    with_choices = [f for f in FIELDS if f.choices]
    return {
        # raw table: one column per field, required ones NOT NULL
        "op_event_columns": ",\n    ".join(
            f"{_q(f.name)} {f.duckdb_type}{' NOT NULL' if f.required else ''}" for f in FIELDS),
        # from_json's structure: every field as its JSON text (its JSON type read from it, then cast in _typed)
        "op_event_json_structure": "'" + json.dumps({f.name: "JSON" for f in FIELDS}) + "'",
        # the fields of `t` given (absent and JSON null: NULL)
        "op_event_given_count": " + ".join(f"(t.{_q(f.name)} IS NOT NULL)::INT" for f in FIELDS),
        # the fields typed as the raw table's columns (NULL when the JSON type is wrong or the value does not cast)
        "op_event_typed_fields": ", ".join(_typed(f) for f in FIELDS),
        # how many fields hold a typed value (equal to the fields given only when every one has the right JSON type
        # and cast; the timestamp by its text: a bad timestamp is reported by its own check)
        "op_event_typed_count": " + ".join(
            f"({'ts_text' if f.json_type == 'timestamp' else _q(f.name)} IS NOT NULL)::INT" for f in FIELDS),
        "op_event_typed_nulls": ", ".join(
            f"{'ts_text' if f.json_type == 'timestamp' else _q(f.name)} IS NULL" for f in FIELDS),
        "op_event_integers": ", ".join(_q(f.name) for f in FIELDS if f.json_type == "integer"),
        "op_event_names": ", ".join(_q(f.name) for f in FIELDS),
        "op_event_finite_checks": " AND ".join(f"coalesce(isfinite({_q(f.name)}), true)" for f in numbers),
        "op_event_finite_reasons": ",\n            ".join(
            f"ml_finite_err({_q(f.name)}, '{f.name}')" for f in numbers),
        # the phase timings (v2): one {phase, ms} struct per phase, in PHASES order (stg_op_phases unnests it)
        "op_event_phase_list": "[" + ", ".join(
            f"{{'phase': '{p}', 'ms': {_q(p + '_ms')}}}" for p in PHASES) + "]",
        "op_event_phase_sum": " + ".join(f"coalesce({_q(p + '_ms')}, 0)" for p in PHASES),
        "op_event_has_phases": "(" + " OR ".join(f"{_q(p + '_ms')} IS NOT NULL" for p in PHASES) + ")",
        "op_event_nonnegative_checks": " AND ".join(
            f"coalesce({_q(f.name)} >= 0, true)" for f in FIELDS if f.nonnegative),
        "op_event_nonnegative_reasons": ",\n            ".join(
            f"ml_negative_err({_q(f.name)}, '{f.name}')" for f in FIELDS if f.nonnegative),
        "op_event_choice_checks": " AND ".join(
            f"list_contains({_choices_param(f)}, {_q(f.name)})" if f.required
            else f"({_q(f.name)} IS NULL OR list_contains({_choices_param(f)}, {_q(f.name)}))"
            for f in with_choices),
        "op_event_choice_reasons": ",\n            ".join(
            f"ml_choice_err({_q(f.name)}, '{f.name}', {_choices_param(f)})" for f in with_choices),
    }


_SLOT = re.compile(r"\{\{ (\w+) \}\}")


def render_sql(text: str) -> str:
    """Fill the `{{ name }}` slots of an SQL file with `sql_snippets()` (an unknown name is an error)."""
    snippets = sql_snippets()
    return _SLOT.sub(lambda m: snippets[m.group(1)], text)


def markdown_table() -> str:
    rows = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for f in FIELDS:
        doc = f.doc + (f" One of: {', '.join(f.choices)}." if f.choices else "")
        rows.append(f"| `{f.name}` | {f.json_type} | {'yes' if f.required else 'no'} | {doc} |")
    return "\n".join(rows)
