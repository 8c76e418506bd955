"""Read-through search caches, keyed and invalidated as the reference prescribes.

Key: `mem0:search:{user_id}:{md5(normalised query + agent/run ids + top_k, threshold, rerank as applied)}`;
every add/update/delete/delete_all touching a user drops that user's keys. Values are stored as JSON, so a
caller that mutates a returned result cannot corrupt the cache and both caches behave the same.

Cacheability is decided from what the op log records of a search and nothing else, so the what-if replay of a
log (`optimize/cache_sim.py`) keys and bypasses every search exactly as this cache did. A search is served
from the cache only when it has one user id and its answer depends on nothing the log leaves out: entity ids
as plain values (no operators, no other filter keys), and no argument beyond top_k / threshold / rerank /
limit other than None or False. Anything else is a `bypass` (without a user nothing says whose write makes it
stale; with other filters the log could not tell two such searches apart).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from memlens.instrumentation.events import normalise_query

KEY_PREFIX = "mem0:search:"
ENTITY_KEYS = ("user_id", "agent_id", "run_id")
# Search arguments that change the answer and that the op log records (as applied, with the target's defaults);
# `limit` is recorded too but mem0 2.2.1 ignores it, so it never splits identical searches.
SHAPING_ARGS = ("top_k", "threshold", "rerank")
_STR_INT = (str, int)  # tuples, not `str | int`: a union is built anew each time the expression runs
_NUMBER = (int, float)
_RECORDED_ARGS = frozenset(ENTITY_KEYS + SHAPING_ARGS + ("filters", "limit"))


def _plain_id(value: Any) -> bool:
    return isinstance(value, _STR_INT) and not isinstance(value, bool)


def cache_entities(kwargs: Mapping[str, Any]) -> dict[str, str] | None:
    """The user/agent/run ids of a cacheable search (user always present), or None when the cache must bypass it.

    The same ids the event records (`events.EventBuilder._scope`: the keyword first, else `filters`)."""
    filters = kwargs.get("filters")
    if filters is not None and not (isinstance(filters, Mapping) and all(k in ENTITY_KEYS for k in filters)):
        return None
    for name, value in kwargs.items():
        if name not in _RECORDED_ARGS and value is not None and value is not False:
            return None
    ids: dict[str, str] = {}
    for name in ENTITY_KEYS:
        direct = kwargs.get(name)
        nested = filters.get(name) if filters else None
        for value in (direct, nested):
            if value is not None and not _plain_id(value):
                return None
        if direct is not None and nested is not None and str(direct) != str(nested):
            return None  # two different ids for one entity: the log records only the first
        value = direct if direct is not None else nested
        if value is not None:
            ids[name] = str(value)
    return ids if "user_id" in ids else None


def applied_args(kwargs: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> tuple[Any, Any, Any]:
    """(top_k, threshold, rerank) as applied: the caller's value, else the target's signature default (None when
    unknown, e.g. Platform), normalised as the log stores them (threshold a float, rerank a bool)."""
    defaults = defaults or {}
    top_k, threshold, rerank = (kwargs[n] if n in kwargs else defaults.get(n) for n in SHAPING_ARGS)
    if isinstance(threshold, _NUMBER) and not isinstance(threshold, bool):
        threshold = float(threshold)
    return top_k, threshold, None if rerank is None else bool(rerank)


def search_key(user_id: str, query: str, kwargs: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> str:
    """Cache key of a search from the fields its event records: user, agent, run, normalised query, and
    top_k / threshold / rerank as applied (`defaults`: the target's own signature defaults)."""
    ids = cache_entities(kwargs) or {}
    args = [ids.get("agent_id"), ids.get("run_id"), *applied_args(kwargs, defaults)]
    material = normalise_query(query) + "\x00" + json.dumps(args, default=str)
    return f"{KEY_PREFIX}{user_id}:{hashlib.md5(material.encode('utf-8')).hexdigest()}"


def plan_search(query: Any, kwargs: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
                ) -> tuple[str, str] | None:
    """(cache key, user id) of a search the cache may serve, or None for a bypass."""
    ids = cache_entities(kwargs) if isinstance(query, str) else None
    if ids is None:
        return None
    user = ids["user_id"]
    return search_key(user, query, kwargs, defaults), user


def encode(result: Any) -> bytes | None:
    """JSON of a search result, or None when it cannot be cached faithfully."""
    try:
        return json.dumps(result, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError):
        return None


class SearchCache:
    """In-process TTL + LRU cache (thread-safe)."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000, clock: Any = time.monotonic):
        if ttl_s <= 0 or max_entries <= 0:
            raise ValueError("ttl_s and max_entries must be positive")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._by_user: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                self._drop(key)
                return None
            self._data.move_to_end(key)
            return entry[1]

    def set(self, key: str, user_id: str, value: bytes) -> None:
        with self._lock:
            self._data[key] = (self._clock() + self.ttl_s, value)
            self._data.move_to_end(key)
            self._by_user.setdefault(user_id, set()).add(key)
            while len(self._data) > self.max_entries:
                self._drop(next(iter(self._data)))

    def invalidate_user(self, user_id: str) -> int:
        with self._lock:
            keys = self._by_user.pop(user_id, set())
            for key in keys:
                self._data.pop(key, None)
            return len(keys)

    def invalidate_all(self) -> int:
        with self._lock:
            n = len(self._data)
            self._data.clear()
            self._by_user.clear()
            return n

    def __len__(self) -> int:
        return len(self._data)

    def _drop(self, key: str) -> None:
        self._data.pop(key, None)
        user = key[len(KEY_PREFIX):].rsplit(":", 1)[0]
        keys = self._by_user.get(user)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_user[user]


def redis_expiry_s(ttl_s: float) -> int:
    """The expiry RedisSearchCache sets (SET EX takes whole seconds, at least one)."""
    return max(1, round(ttl_s))


def _glob_escape(text: str) -> str:
    """Redis MATCH patterns treat * ? [ ] and backslash specially; a user id must match literally."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisSearchCache:
    """The reference's Redis pattern: a value with a TTL (SET EX, i.e. SETEX), SCAN + DEL of
    `mem0:search:{user_id}:*`. Takes a sync redis-py client (`redis.Redis`)."""

    def __init__(self, redis_client: Any, ttl_s: float):
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.redis = redis_client
        self.ttl_s = ttl_s

    def get(self, key: str) -> bytes | None:
        value = self.redis.get(key)
        return value.encode("utf-8") if isinstance(value, str) else value

    def set(self, key: str, user_id: str, value: bytes) -> None:
        self.redis.set(key, value, ex=redis_expiry_s(self.ttl_s))

    def invalidate_user(self, user_id: str) -> int:
        return self._delete_matching(f"{KEY_PREFIX}{_glob_escape(user_id)}:*")

    def invalidate_all(self) -> int:
        return self._delete_matching(f"{KEY_PREFIX}*")

    def _delete_matching(self, pattern: str) -> int:
        keys = list(self.redis.scan_iter(match=pattern, count=500))
        if keys:
            self.redis.delete(*keys)
        return len(keys)
