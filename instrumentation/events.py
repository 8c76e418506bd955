"""Build op-log event dicts (memlens/schema.py) from a Mem0 call and its result.

Only shapes are recorded: keys of filters (never values), counts, ids Mem0 returned, a hash of the
normalised query. Never message text, API keys or exception messages (they may quote user data).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter, methodcaller
from random import getrandbits
from typing import Any

from memlens.instrumentation import phases
from memlens.schema import OPS, SCHEMA_VERSION

ENTITY_KEYS = ("user_id", "agent_id", "run_id")
_LOGICAL = frozenset(("AND", "OR", "NOT"))
_SPACES = re.compile(r"\s+")
# tuples, not `str | int`: a union is built anew each time the expression runs (a fraction of a µs per call)
_STR_INT = (str, int)
_SEQUENCE = (list, tuple)
# map() with these walks a result list in C: a list comprehension runs Python bytecode per item (~3x the cost)
_ID = itemgetter("id")
_SCORE = methodcaller("get", "score")


def normalise_query(query: str) -> str:
    """NFKC, lower-case, whitespace runs collapsed to one space, stripped."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", query).lower()).strip()


@lru_cache(maxsize=8192)  # repeated queries are the common case; hashing them once keeps overhead flat
def query_hash(query: str) -> str:
    """sha256 (first 32 hex) of the normalised query: the same question asked twice hashes the same."""
    return hashlib.sha256(normalise_query(query).encode("utf-8")).hexdigest()[:32]


_last_second: tuple[int, str] = (-1, "")  # (second, "YYYY-MM-DDTHH:MM:SS"): swapped whole, so threads never mix


def utc_iso(epoch_s: float) -> str:
    """`2026-11-25T05:42:03.123456Z` (microseconds, UTC); the date part is formatted once per second."""
    global _last_second
    sec, micros = divmod(round(epoch_s * 1_000_000), 1_000_000)  # exact: epoch µs fit a double's 53 bits
    last = _last_second
    if last[0] == sec:
        prefix = last[1]
    else:
        prefix = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _last_second = (sec, prefix)
    return f"{prefix}.{micros:06d}Z"


_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def event_id() -> str:
    """A random uuid4 as 32 hex (what uuid.uuid4().hex gives, at a fraction of the cost).
    `random` is reseeded in forked children, so processes do not repeat ids."""
    return f"{(getrandbits(128) & _V4_CLEAR) | _V4_SET:032x}"


class IdHasher:
    """Salted sha256 of entity ids when enabled, identity otherwise (cached: few distinct ids)."""

    def __init__(self, salt: str | None):
        self.enabled = salt is not None
        if self.enabled:
            prefix = salt.encode("utf-8")

            @lru_cache(maxsize=65536)
            def _hash(value: str) -> str:
                return hashlib.sha256(prefix + b"\x00" + value.encode("utf-8")).hexdigest()[:32]

            self._hash = _hash

    def __call__(self, value: Any) -> str | None:
        if value is None:
            return None
        value = str(value)
        return self._hash(value) if self.enabled else value


def filter_keys(filters: Any, out: set[str]) -> None:
    """Collect every key of a Mem0 filter dict, descending into AND/OR/NOT lists; values are skipped."""
    if not isinstance(filters, dict):
        return
    for key, value in filters.items():
        out.add(str(key))
        if key in _LOGICAL and isinstance(value, _SEQUENCE):
            for inner in value:
                filter_keys(inner, out)


def message_count(messages: Any) -> int:
    if isinstance(messages, _SEQUENCE):
        return len(messages)
    return 1 if messages is not None else 0


def result_list(result: Any) -> list | None:
    """The list of memories in a Mem0 result: `{"results": [...]}` (v1.1+), a bare list (history, old APIs)."""
    if isinstance(result, dict):
        items = result.get("results")
        return items if isinstance(items, list) else None
    if isinstance(result, list):
        return result
    return None


def _ids(items: list) -> list[str]:
    # plain dict checks: isinstance(x, Mapping) goes through the ABC machinery, ~10x slower per item
    return [str(it["id"]) for it in items if isinstance(it, dict) and it.get("id") is not None]


class EventBuilder:
    """Turns (op, args, kwargs, result | exception, timing, phase spans) into one op-log event dict.

    Everything that does not change per call (service, mode, defaults of the target's methods,
    model names) is fixed here once, so a call costs a dict build and a few lookups.
    """

    def __init__(self, *, service: str, mode: str, call_mode: str, tag: str | None, hasher: IdHasher,
                 store_query_text: bool, defaults: dict[str, dict[str, Any]],
                 embedding_model: str | None, llm_model: str | None):
        self.base = {"schema_version": SCHEMA_VERSION, "service": service, "mode": mode, "call_mode": call_mode}
        if tag is not None:
            self.base["tag"] = tag
        # an entity id as the event records it (str when ids are not hashed: skips a Python call per entity)
        self._entity = hasher if hasher.enabled else str
        self.store_query_text = store_query_text
        self.defaults = defaults
        self.embedding_model = embedding_model
        self.llm_model = llm_model
        self._fill = {op: getattr(self, "_" + op) for op in OPS}
        self._defaults_of = {op: defaults.get(op) or {} for op in OPS}

    def build(self, op: str, args: tuple, kwargs: dict, *, start_wall: float, latency_s: float,
              result: Any = None, error: BaseException | None = None, cache: str | None = None,
              usage: Any = None) -> dict[str, Any]:
        ev = dict(self.base)
        ev["event_id"] = event_id()
        ev["ts"] = utc_iso(start_wall)
        ev["op"] = op
        ev["latency_ms"] = int(latency_s * 10_000_000.0 + 0.5) / 10_000  # ms to 0.1 µs; round(x, 4) costs 3x
        if error is None:
            ev["status"] = "ok"
        else:
            ev["status"] = "error"
            ev["error_type"] = type(error).__name__
        if cache is not None:
            ev["cache"] = cache
        self._fill[op](ev, args, kwargs, result if error is None else None)
        if usage is not None:
            usage.fill(ev, self.embedding_model, self.llm_model)
            if usage.spans:
                phases.fill(ev, usage.spans)
        elif self.embedding_model is not None and op in ("add", "search", "update"):
            ev["embedding_model"] = self.embedding_model
        return ev

    # -- scope ---------------------------------------------------------------------------------
    def _scope(self, ev: dict, kwargs: dict, filters: Any) -> None:
        is_dict = isinstance(filters, dict)
        if not is_dict:
            keys: set[str] = set()
        elif _LOGICAL.isdisjoint(filters):  # the common flat filter: its keys are the filter keys
            keys = {str(k) for k in filters}
        else:
            keys = set()
            filter_keys(filters, keys)
        for name in ENTITY_KEYS:
            value = kwargs.get(name)
            if value is None and is_dict:
                value = filters.get(name)
            if value is not None:
                keys.add(name)
                if isinstance(value, _STR_INT):  # an operator ({"in": [...]}) is a filter, not one entity
                    ev[name] = self._entity(value)
        if keys:
            ev["filter_keys"] = sorted(keys)

    def _default(self, op: str, name: str, kwargs: dict) -> Any:
        if name in kwargs:
            return kwargs[name]
        return self._defaults_of[op].get(name)

    @staticmethod
    def _memory_id(ev: dict, args: tuple, kwargs: dict) -> None:
        mid = args[0] if args else kwargs.get("memory_id")
        if mid is not None:
            ev["memory_id"] = str(mid)

    # -- one method per op ---------------------------------------------------------------------
    def _add(self, ev: dict, args: tuple, kwargs: dict, result: Any) -> None:
        messages = args[0] if args else kwargs.get("messages")
        self._scope(ev, kwargs, kwargs.get("filters"))
        ev["message_count"] = message_count(messages)
        infer = self._default("add", "infer", kwargs)
        if infer is not None:
            ev["infer"] = bool(infer)
        items = result_list(result)
        if items is None:
            return
        created = updated = deleted = 0
        changed: list[str] = []
        for it in items:
            if not isinstance(it, Mapping):
                continue
            kind = it.get("event")
            if kind == "ADD":
                created += 1
            elif kind == "UPDATE":
                updated += 1
            elif kind == "DELETE":
                deleted += 1
                continue
            else:
                continue
            if it.get("id") is not None:
                changed.append(str(it["id"]))
        ev["memories_created"] = created
        ev["memories_updated"] = updated
        ev["memories_deleted"] = deleted
        ev["result_count"] = len(items)
        ev["result_ids"] = changed

    def _search(self, ev: dict, args: tuple, kwargs: dict, result: Any) -> None:
        query = args[0] if args else kwargs.get("query")
        filters = kwargs.get("filters")
        self._scope(ev, kwargs, filters)
        if isinstance(query, str):
            ev["query_hash"] = query_hash(query)
            if self.store_query_text:
                ev["query_text"] = query
        if "limit" in kwargs:
            ev["limit"] = kwargs["limit"]
        default = self._defaults_of["search"].get  # inlined _default: the hottest op
        top_k = kwargs.get("top_k", default("top_k"))
        if top_k is not None:
            ev["top_k"] = top_k
        rerank = kwargs.get("rerank", default("rerank"))
        if rerank is not None:
            ev["rerank"] = bool(rerank)
        threshold = kwargs.get("threshold", default("threshold"))
        if threshold is not None:
            ev["threshold"] = threshold
        items = result_list(result)
        if items is None:
            return
        ev["result_count"] = len(items)
        try:  # the shape mem0 returns: dicts with an id and a numeric score; map() keeps it cheap
            ev["result_ids"] = list(map(str, map(_ID, items)))
            scores = list(map(_SCORE, items))
            if None in scores:
                scores = [sc for sc in scores if sc is not None]
            if scores:
                ev["top_score"] = float(max(scores))
        except (TypeError, KeyError, AttributeError, ValueError):
            ev["result_ids"] = _ids(items)
            ev.pop("top_score", None)

    def _get_all(self, ev: dict, args: tuple, kwargs: dict, result: Any) -> None:
        self._scope(ev, kwargs, kwargs.get("filters"))
        top_k = self._default("get_all", "top_k", kwargs)
        if top_k is not None:
            ev["top_k"] = top_k
        items = result_list(result)
        if items is not None:
            ev["result_count"] = len(items)
            ev["result_ids"] = _ids(items)

    def _get(self, ev: dict, args: tuple, kwargs: dict, result: Any) -> None:
        self._memory_id(ev, args, kwargs)
        if ev["status"] == "ok":
            ev["result_count"] = 0 if result is None else 1

    def _update(self, ev: dict, args: tuple, kwargs: dict, result: Any) -> None:
        self._memory_id(ev, args, kwargs)
        if ev["status"] == "ok":
            ev["memories_updated"] = 1

    def _delete(self, ev: dict, args: tuple, kwargs: dict, result: Any) -> None:
        self._memory_id(ev, args, kwargs)
        if ev["status"] == "ok":
            ev["memories_deleted"] = 1

    def _delete_all(self, ev: dict, args: tuple, kwargs: dict, result: Any) -> None:
        self._scope(ev, kwargs, kwargs.get("filters"))

    def _history(self, ev: dict, args: tuple, kwargs: dict, result: Any) -> None:
        self._memory_id(ev, args, kwargs)
        if isinstance(result, list):
            ev["result_count"] = len(result)
