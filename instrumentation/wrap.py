"""`instrument(target)`: a proxy for mem0.Memory / AsyncMemory / MemoryClient / AsyncMemoryClient.

The eight data operations (add, search, get, get_all, update, delete, delete_all, history) are timed
and recorded as one op-log event each (memlens/schema.py), OSS calls with their phase timings (phases.py);
every other attribute is the target's own. The proxy returns the target's result object and re-raises the
target's exception object unchanged. Recording failures (a closed writer, a full disk) are logged once and never
reach the caller.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from memlens.config import Config, default_config
from memlens.instrumentation.cache import encode, plan_search
from memlens.instrumentation.events import EventBuilder, IdHasher, result_list
from memlens.instrumentation.phases import PhaseHooks
from memlens.instrumentation.usage import CURRENT, Usage, embedding_model_of, hook_memory, llm_model_of
from memlens.schema import OPS

log = logging.getLogger(__name__)

_WRITE_OPS = frozenset(("add", "update", "delete", "delete_all"))
_DEFAULTED = ("top_k", "threshold", "rerank", "infer")
_OWNER_INDEX_SIZE = 100_000
MISS = object()


def _mode_of(target: Any) -> str:
    return "platform" if type(target).__module__.startswith("mem0.client") else "oss"


def _defaults_of(target: Any) -> dict[str, dict[str, Any]]:
    """Defaults of the target's own signatures (e.g. OSS search top_k=20, threshold=0.1): the event
    records what mem0 applied, not only what the caller typed. Platform methods take **kwargs, so the
    server's defaults stay unknown (None)."""
    out: dict[str, dict[str, Any]] = {}
    for op in OPS:
        fn = getattr(type(target), op, None)
        if fn is None:
            continue
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            continue
        out[op] = {n: p.default for n, p in params.items()
                   if n in _DEFAULTED and p.default is not inspect.Parameter.empty}
    return out


def _user_of(kwargs: dict) -> str | None:
    user = kwargs.get("user_id")
    if user is None:
        filters = kwargs.get("filters")
        if isinstance(filters, Mapping):
            user = filters.get("user_id")
    return None if user is None or isinstance(user, Mapping) else str(user)


class Recorder:
    """Shared state of one instrumented target: event builder, sinks, cache and its owner index."""

    def __init__(self, *, writer: Any, metrics: Any, cache: Any, builder: EventBuilder,
                 phases: PhaseHooks | None = None):
        self.writer = writer
        self.phases = phases
        self.metrics = metrics
        self.cache = cache
        self.builder = builder
        self.count_usage = builder.base["mode"] == "oss"
        self._warned: set[str] = set()
        # memory id -> user id, learned from results, so update/delete know whose cached searches to drop
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._owners_lock = threading.Lock()

    # -- sinks ---------------------------------------------------------------------------------
    def emit(self, event: dict[str, Any]) -> None:
        if self.writer is not None:
            try:
                self.writer.write(event)
            except Exception as exc:
                self._warn("writer", exc)
        if self.metrics is not None:
            try:
                self.metrics.observe(event)
            except Exception as exc:
                self._warn("metrics", exc)

    def _warn(self, what: str, exc: Exception) -> None:
        if what not in self._warned:  # once per kind: a dead disk or cache must not flood the application's log
            self._warned.add(what)
            log.warning("memlens: %s failed (%s); the Mem0 call itself is unaffected", what, type(exc).__name__)

    def record(self, op: str, args: tuple, kwargs: dict, wall: float, dt: float, result: Any = None,
               error: BaseException | None = None, cache: str | None = None, usage: Usage | None = None) -> None:
        try:
            event = self.builder.build(op, args, kwargs, start_wall=wall, latency_s=dt, result=result,
                                       error=error, cache=cache, usage=usage)
        except Exception as exc:  # an odd argument shape must not turn a good call into an error
            self._warn("event builder", exc)
            return
        self.emit(event)

    # -- cache bookkeeping -----------------------------------------------------------------------
    def search_plan(self, op: str, args: tuple, kwargs: dict) -> tuple[str | None, str | None, str | None]:
        """(cache key, user id, outcome so far) of a call: only searches `cache.plan_search` accepts use the cache."""
        if self.cache is None or op != "search":
            return None, None, None
        if args:
            query, rest = args[0], kwargs
        else:
            query, rest = kwargs.get("query"), {k: v for k, v in kwargs.items() if k != "query"}
        plan = plan_search(query, rest, self.builder.defaults.get("search")) if len(args) <= 1 else None
        if plan is None:
            return None, None, "bypass"
        return plan[0], plan[1], None

    def after_call(self, op: str, kwargs: dict, result: Any, owner: str | None) -> None:
        if self.cache is None:
            return
        if op in ("add", "search", "get_all", "get"):
            self.learn_owners(op, kwargs, result)
        if op in _WRITE_OPS:
            self.invalidate(op, kwargs, owner)

    def learn_owners(self, op: str, kwargs: dict, result: Any) -> None:
        items = result_list(result) if op != "get" else ([result] if isinstance(result, Mapping) else None)
        if not items:
            return
        default_user = _user_of(kwargs) if op == "add" else None
        with self._owners_lock:
            for it in items:
                if not isinstance(it, Mapping) or it.get("id") is None:
                    continue
                user = it.get("user_id") or default_user
                if user is not None:
                    self._owners[str(it["id"])] = str(user)
                    self._owners.move_to_end(str(it["id"]))
            while len(self._owners) > _OWNER_INDEX_SIZE:
                self._owners.popitem(last=False)

    def owner(self, memory_id: Any) -> str | None:
        with self._owners_lock:
            return self._owners.get(str(memory_id))

    def invalidate(self, op: str, kwargs: dict, owner: str | None) -> None:
        try:
            if op in ("add", "delete_all"):
                user = _user_of(kwargs)
                if user is not None:
                    self.cache.invalidate_user(user)
                elif op == "delete_all":  # deleted by agent/run: any user's results may hold those memories
                    self.cache.invalidate_all()
            elif owner is not None:
                self.cache.invalidate_user(owner)
        except Exception as exc:
            self._warn("cache invalidation", exc)

    def cache_lookup(self, key: str) -> Any:
        """The cached result, or MISS (also when the cache is down or holds something unreadable)."""
        try:
            data = self.cache.get(key)
            return MISS if data is None else json.loads(data)
        except Exception as exc:
            self._warn("cache read", exc)
            return MISS

    def cache_store(self, key: str, user: str, result: Any) -> None:
        data = encode(result)
        if data is None:
            return
        try:
            self.cache.set(key, user, data)
        except Exception as exc:
            self._warn("cache write", exc)


def _memory_id(args: tuple, kwargs: dict) -> Any:
    return args[0] if args else kwargs.get("memory_id")


class _Proxy:
    __slots__ = ("_memlens", "_target")

    def __init__(self, target: Any, recorder: Recorder):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_memlens", recorder)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __repr__(self) -> str:
        return f"<memlens instrumented {self._target!r}>"

    @property
    def memlens_target(self) -> Any:
        """The wrapped Mem0 object."""
        return self._target


class InstrumentedMemory(_Proxy):
    """Proxy for the sync Memory and MemoryClient."""

    __slots__ = ()

    def _call(self, op: str, args: tuple, kwargs: dict) -> Any:
        rec = self._memlens
        fn = getattr(self._target, op)
        key, user, outcome = rec.search_plan(op, args, kwargs)
        owner = None
        if rec.cache is not None and op in ("update", "delete"):
            owner = self._owner(_memory_id(args, kwargs))
        if rec.phases is not None:
            rec.phases.refresh()
        usage = Usage() if rec.count_usage else None
        token = CURRENT.set(usage)
        wall = time.time()
        t0 = time.perf_counter()
        try:
            if key is not None:
                result = rec.cache_lookup(key)
                if result is not MISS:
                    rec.record(op, args, kwargs, wall, time.perf_counter() - t0, result=result, cache="hit",
                               usage=usage)
                    return result
                outcome = "miss"
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                rec.record(op, args, kwargs, wall, time.perf_counter() - t0, error=exc, cache=outcome, usage=usage)
                raise
            if key is not None:
                rec.cache_store(key, user, result)
            dt = time.perf_counter() - t0
        finally:
            CURRENT.reset(token)
        rec.record(op, args, kwargs, wall, dt, result=result, cache=outcome, usage=usage)
        rec.after_call(op, kwargs, result, owner)
        return result

    def _owner(self, memory_id: Any) -> str | None:
        rec = self._memlens
        owner = rec.owner(memory_id)
        if owner is None and memory_id is not None:
            try:  # not seen in any result yet: ask Mem0 (uninstrumented) whose memory it is
                found = self._target.get(memory_id)
                owner = found.get("user_id") if isinstance(found, Mapping) else None
            except Exception:
                owner = None
        return None if owner is None else str(owner)

    def __enter__(self) -> InstrumentedMemory:
        self._target.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._target.__exit__(*exc)


class AsyncInstrumentedMemory(_Proxy):
    """Proxy for AsyncMemory and AsyncMemoryClient: the same recording, awaited."""

    __slots__ = ()

    async def _call(self, op: str, args: tuple, kwargs: dict) -> Any:
        rec = self._memlens
        fn = getattr(self._target, op)
        key, user, outcome = rec.search_plan(op, args, kwargs)
        owner = None
        if rec.cache is not None and op in ("update", "delete"):
            owner = await self._owner(_memory_id(args, kwargs))
        if rec.phases is not None:
            rec.phases.refresh()
        usage = Usage() if rec.count_usage else None
        token = CURRENT.set(usage)
        wall = time.time()
        t0 = time.perf_counter()
        try:
            if key is not None:
                result = rec.cache_lookup(key)
                if result is not MISS:
                    rec.record(op, args, kwargs, wall, time.perf_counter() - t0, result=result, cache="hit",
                               usage=usage)
                    return result
                outcome = "miss"
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                rec.record(op, args, kwargs, wall, time.perf_counter() - t0, error=exc, cache=outcome, usage=usage)
                raise
            if key is not None:
                rec.cache_store(key, user, result)
            dt = time.perf_counter() - t0
        finally:
            CURRENT.reset(token)
        rec.record(op, args, kwargs, wall, dt, result=result, cache=outcome, usage=usage)
        rec.after_call(op, kwargs, result, owner)
        return result

    async def _owner(self, memory_id: Any) -> str | None:
        rec = self._memlens
        owner = rec.owner(memory_id)
        if owner is None and memory_id is not None:
            try:
                found = await self._target.get(memory_id)
                owner = found.get("user_id") if isinstance(found, Mapping) else None
            except Exception:
                owner = None
        return None if owner is None else str(owner)

    async def __aenter__(self) -> AsyncInstrumentedMemory:
        await self._target.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._target.__aexit__(*exc)


def _sync_op(op: str):
    def method(self: InstrumentedMemory, *args: Any, **kwargs: Any) -> Any:
        return self._call(op, args, kwargs)

    method.__name__ = method.__qualname__ = op
    method.__doc__ = f"Mem0 `{op}`, recorded by memlens (same arguments, result and exceptions)."
    return method


def _async_op(op: str):
    async def method(self: AsyncInstrumentedMemory, *args: Any, **kwargs: Any) -> Any:
        return await self._call(op, args, kwargs)

    method.__name__ = method.__qualname__ = op
    method.__doc__ = f"Mem0 `{op}`, recorded by memlens (same arguments, result and exceptions)."
    return method


for _op in OPS:
    setattr(InstrumentedMemory, _op, _sync_op(_op))
    setattr(AsyncInstrumentedMemory, _op, _async_op(_op))


def instrument(target: Any, *, writer: Any = None, metrics: Any = None, cache: Any = None,
               service: str | None = None, tag: str | None = None, store_query_text: bool | None = None,
               id_salt: str | None = None, embedding_model: str | None = None, llm_model: str | None = None,
               cfg: Config | None = None) -> InstrumentedMemory | AsyncInstrumentedMemory:
    """Wrap a Mem0 client so each data operation becomes one op-log event (to `writer`, `metrics`).

    `cache` (SearchCache / RedisSearchCache) serves user-scoped searches and is invalidated per user
    on writes. Entity ids are salted-sha256'd when `id_salt` is given or the config's
    `instrumentation.hash_user_ids` is on (salt from $MEMLENS_ID_SALT).
    """
    if isinstance(target, _Proxy):
        raise TypeError("target is already instrumented")
    cfg = cfg or default_config()
    ic = cfg.instrumentation
    if id_salt is None and ic.hash_user_ids:
        id_salt = os.environ.get("MEMLENS_ID_SALT")
        if not id_salt:
            raise ValueError("instrumentation.hash_user_ids is true but $MEMLENS_ID_SALT is not set")
    mode = _mode_of(target)
    is_async = inspect.iscoroutinefunction(getattr(type(target), "search", None))
    phase_hooks = None
    if mode == "oss":
        hook_memory(target)
        phase_hooks = PhaseHooks(target)
        embedding_model = embedding_model or embedding_model_of(target)
        llm_model = llm_model or llm_model_of(target)
    builder = EventBuilder(
        service=service or getattr(writer, "service", None) or ic.service, mode=mode,
        call_mode="async" if is_async else "sync", tag=tag, hasher=IdHasher(id_salt),
        store_query_text=ic.store_query_text if store_query_text is None else store_query_text,
        defaults=_defaults_of(target), embedding_model=embedding_model, llm_model=llm_model)
    recorder = Recorder(writer=writer, metrics=metrics, cache=cache, builder=builder, phases=phase_hooks)
    return (AsyncInstrumentedMemory if is_async else InstrumentedMemory)(target, recorder)
