"""Where one Mem0 OSS call spends its time: embedding, vector search / read / write, rerank, LLM, history DB, graph.

The Memory's own component objects are wrapped (instance attributes only, like the token counters in usage.py):
each timed method appends `(phase, start, end)` to the `Usage` of the call in flight, found through the same
ContextVar, so the timing follows the call into AsyncMemory's worker threads (`asyncio.to_thread` copies the
context) and concurrent calls never see each other's spans. Outside an instrumented call a wrapper is one
ContextVar read and the original call.

At the end of the call `phase_ms` turns the spans into one figure per phase. Spans recorded one after another
(the usual, sequential case) are summed as they are. Where Mem0 ran work in parallel (AsyncMemory.delete_all,
entity-store searches), every stretch of time is split equally between the phases in flight then, and a phase
in flight twice at once counts once: the phases never add up to more than the wall time they covered, so their
sum is at most the call's latency.
"""

from __future__ import annotations

import functools
import logging
from time import perf_counter
from typing import Any

from memlens.instrumentation.usage import CURRENT
from memlens.schema import PHASE_FIELDS, PHASES

log = logging.getLogger(__name__)

_TIMED = "_memlens_timed"
_SLOT = {name: i for i, name in enumerate(PHASES)}

# Component attribute of the Memory -> {method: phase}. Methods an object lacks are skipped.
_VECTOR = {"search": "vector_search", "keyword_search": "vector_search", "search_batch": "vector_search",
           "get": "vector_read", "list": "vector_read",
           "insert": "vector_write", "update": "vector_write", "delete": "vector_write",
           "delete_col": "vector_write", "create_col": "vector_write", "reset": "vector_write"}
_HISTORY = {m: "history" for m in ("add_history", "batch_add_history", "save_messages", "get_last_messages",
                                   "get_history", "reset")}
_COMPONENTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("embedding_model", {"embed": "embedding", "embed_batch": "embedding"}),
    ("vector_store", _VECTOR),
    ("reranker", {"rerank": "rerank"}),
    ("llm", {"generate_response": "llm"}),
    ("db", _HISTORY),
    # graph memory: a graph store where the Memory has one (`graph`), mem0 2.2's entity store (hooked once created)
    ("graph", {m: "graph" for m in ("add", "search", "get_all", "delete", "delete_all", "reset")}),
)
_ENTITY_STORE = {m: "graph" for m in _VECTOR}
_NEG_INF = float("-inf")


def _timed(original: Any, slot: int) -> Any:
    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        usage = CURRENT.get()
        if usage is None:  # not inside an instrumented call
            return original(*args, **kwargs)
        t0 = perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            usage.spans.append((slot, t0, perf_counter()))  # list.append is atomic: threads of one call may share it

    setattr(timed, _TIMED, True)
    return timed


def _inherited_embed_batch(obj: Any) -> bool:
    # mem0's default embed_batch loops over self.embed, which is timed already
    return getattr(getattr(type(obj), "embed_batch", None), "__qualname__", "") == "EmbeddingBase.embed_batch"


def hook_object(obj: Any, methods: dict[str, str]) -> list[str]:
    """Time `methods` of one component object (idempotent); returns the methods hooked."""
    hooked = []
    for name, phase in methods.items():
        if name == "embed_batch" and _inherited_embed_batch(obj):
            continue
        original = getattr(obj, name, None)
        if original is None or not callable(original) or getattr(original, _TIMED, False):
            continue
        setattr(obj, name, _timed(original, _SLOT[phase]))
        hooked.append(name)
    return hooked


class PhaseHooks:
    """The timing hooks of one OSS Memory / AsyncMemory. `refresh()` (cheap: one attribute read) hooks the
    entity store once mem0 has created it lazily; the call that creates it leaves that time unattributed."""

    __slots__ = ("entity_store", "memory", "watch")

    def __init__(self, memory: Any):
        self.memory = memory
        self.entity_store = None
        self.watch = hasattr(memory, "_entity_store")  # mem0 2.2 creates it lazily; other Memories have none
        for attr, methods in _COMPONENTS:
            component = getattr(memory, attr, None)
            if component is not None:
                try:
                    hook_object(component, methods)
                except Exception as exc:  # never break the user's Memory for a timer
                    log.warning("memlens: could not time %s: %s", attr, type(exc).__name__)
        self.refresh()

    def refresh(self) -> None:
        if not self.watch:
            return
        store = getattr(self.memory, "_entity_store", None)
        if store is not self.entity_store and store is not None:
            self.entity_store = store
            try:
                hook_object(store, _ENTITY_STORE)
            except Exception as exc:
                log.warning("memlens: could not time the entity store: %s", type(exc).__name__)


def phase_ms(spans: list[tuple[int, float, float]]) -> list[float | None]:
    """Milliseconds per phase (PHASES order; None = did not run) from a call's spans."""
    if _overlap(spans):
        return _split_overlaps(spans)
    out: list[float | None] = [None] * len(PHASES)
    for slot, t0, t1 in spans:
        out[slot] = (out[slot] or 0.0) + (t1 - t0) * 1000.0
    return out


def _overlap(spans: list[tuple[int, float, float]]) -> bool:
    """Whether any span starts before the one recorded before it ended (sequential spans never do)."""
    prev_end = _NEG_INF
    for _, t0, t1 in spans:
        if t0 < prev_end:
            return True
        prev_end = t1
    return False


def _split_overlaps(spans: list[tuple[int, float, float]]) -> list[float | None]:
    """Sweep over the span ends: each stretch goes in equal shares to the distinct phases in flight."""
    out: list[float | None] = [None] * len(PHASES)
    points = sorted([(t0, 1, slot) for slot, t0, _ in spans] + [(t1, -1, slot) for slot, _, t1 in spans])
    depth = [0] * len(PHASES)
    active: list[int] = []
    last = points[0][0]
    for t, step, slot in points:
        if active and t > last:
            share = (t - last) * 1000.0 / len(active)
            for s in active:
                out[s] = (out[s] or 0.0) + share
        last = t
        depth[slot] += step
        if step == 1:
            if depth[slot] == 1:
                active.append(slot)
                if out[slot] is None:
                    out[slot] = 0.0
        elif depth[slot] == 0:
            active.remove(slot)
    return out


def fill(ev: dict[str, Any], spans: list[tuple[int, float, float]]) -> None:
    """Set `<phase>_ms` on an event for the phases that ran (cut to 0.1 µs, never rounded up: the sum stays
    within latency_ms). The usual sequential case is one pass that touches only the phases that ran."""
    ran: dict[str, float] = {}
    prev_end = _NEG_INF
    for slot, t0, t1 in spans:
        if t0 < prev_end:  # Mem0 ran work in parallel: split the overlaps
            for field, ms in zip(PHASE_FIELDS, _split_overlaps(spans), strict=True):
                if ms is not None:
                    ev[field] = int(ms * 10_000) / 10_000
            return
        prev_end = t1
        field = PHASE_FIELDS[slot]
        ran[field] = ran.get(field, 0.0) + (t1 - t0)
    for field, seconds in ran.items():
        ev[field] = int(seconds * 10_000_000) / 10_000
