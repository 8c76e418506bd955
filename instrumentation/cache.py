"""Read-through search caches, keyed and invalidated as the reference prescribes.

Key: `mem0:search:{user_id}:{md5(normalised query + search args)}`; every add/update/delete/delete_all
touching a user drops that user's keys. A search without a user id is not cached (outcome `bypass`):
nothing would say whose write makes it stale. Values are stored as JSON, so a caller that mutates a
returned result cannot corrupt the cache and both caches behave the same.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from typing import Any

from memlens.instrumentation.events import normalise_query

KEY_PREFIX = "mem0:search:"
# Search arguments that change the answer; anything else (e.g. a stray limit=) is left out of the key
# so it cannot split identical searches.
_KEY_ARGS = ("filters", "top_k", "threshold", "rerank", "explain", "show_expired", "keyword_search", "fields")


def search_key(user_id: str, query: str, kwargs: dict[str, Any]) -> str:
    args = {k: kwargs[k] for k in _KEY_ARGS if k in kwargs}
    material = normalise_query(query) + "\x00" + json.dumps(args, sort_keys=True, default=str)
    return f"{KEY_PREFIX}{user_id}:{hashlib.md5(material.encode('utf-8')).hexdigest()}"


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
        self.redis.set(key, value, ex=max(1, round(self.ttl_s)))

    def invalidate_user(self, user_id: str) -> int:
        return self._delete_matching(f"{KEY_PREFIX}{_glob_escape(user_id)}:*")

    def invalidate_all(self) -> int:
        return self._delete_matching(f"{KEY_PREFIX}*")

    def _delete_matching(self, pattern: str) -> int:
        keys = list(self.redis.scan_iter(match=pattern, count=500))
        if keys:
            self.redis.delete(*keys)
        return len(keys)
