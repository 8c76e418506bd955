"""Prometheus metrics for instrumented Mem0 calls (names, labels and buckets are a contract: alerts/ and
the Grafana export query exactly these). Never labelled by user id: unbounded label sets kill Prometheus.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server

from memlens.schema import PHASE_FIELDS, PHASES

# Seconds. 0.1 / 0.2 / 0.5 are bucket bounds so the reference's targets (avg 100 ms, P95 200 ms,
# P99 500 ms) can be read off the histogram without interpolation error at the thresholds.
LATENCY_BUCKETS = (.001, .0025, .005, .01, .025, .05, .075, .1, .15, .2, .3, .4, .5, .75, 1, 2.5, 5, 10)

# Phases are shorter: sub-millisecond bounds first (a history write, a vector read), then the operation's.
PHASE_BUCKETS = (.0001, .00025, .0005, *LATENCY_BUCKETS)

# `infer` is "true"/"false" on adds (infer=True runs an LLM: seconds, not milliseconds, so alerts scope it apart)
# and "" (no label in Prometheus) on every other op.
_OP_LABELS = ("service", "mode", "op", "call_mode", "status", "infer")
_PHASES = tuple(zip(PHASE_FIELDS, PHASES, strict=True))
# llm_cached_input counts the part of llm_input the provider served from its prompt cache (a subset, not extra
# tokens): a cost query prices it at (cached rate - input rate) on top of llm_input.
_TOKEN_FIELDS = (("embedding_tokens", "embedding", "embedding_model"), ("llm_input_tokens", "llm_input", "llm_model"),
                 ("llm_output_tokens", "llm_output", "llm_model"),
                 ("llm_cached_input_tokens", "llm_cached_input", "llm_model"))
_CHANGE_FIELDS = (("memories_created", "add"), ("memories_updated", "update"), ("memories_deleted", "delete"))
_COUNTED_FIELDS = frozenset([f for f, _, _ in _TOKEN_FIELDS] + [f for f, _ in _CHANGE_FIELDS] + list(PHASE_FIELDS))
_FAMILIES: dict[int, tuple[CollectorRegistry, dict[str, Any]]] = {}
_FAMILIES_LOCK = threading.Lock()


def _families(registry: CollectorRegistry) -> dict[str, Any]:
    """One set of collectors per registry: a second MemlensMetrics on the same registry shares them
    (prometheus_client refuses to register a name twice)."""
    with _FAMILIES_LOCK:
        entry = _FAMILIES.get(id(registry))
        if entry is not None and entry[0] is registry:
            return entry[1]
        fam = {
            "duration": Histogram("memlens_mem0_operation_duration_seconds", "Duration of Mem0 operations",
                                  _OP_LABELS, buckets=LATENCY_BUCKETS, registry=registry),
            "ops": Counter("memlens_mem0_operations_total", "Mem0 operations", _OP_LABELS, registry=registry),
            "errors": Counter("memlens_mem0_errors_total", "Mem0 operations that raised",
                              ("service", "mode", "op", "error_type"), registry=registry),
            "results": Counter("memlens_mem0_results_total", "Memories returned by search/get_all",
                               ("service", "mode", "op"), registry=registry),
            "tokens": Counter("memlens_mem0_tokens_total", "Tokens used (embedding, llm_input, llm_output; "
                              "llm_cached_input: the part of llm_input served from the provider's prompt cache)",
                              ("service", "kind", "model"), registry=registry),
            "cache": Counter("memlens_mem0_cache_requests_total", "Search cache lookups by outcome",
                             ("service", "op", "outcome"), registry=registry),
            "changes": Counter("memlens_mem0_memory_changes_total", "Memories added, updated, deleted",
                               ("service", "event"), registry=registry),
            # where OSS calls spent their time (op-log `<phase>_ms`); a call observes each phase it ran once
            "phase": Histogram("memlens_mem0_phase_duration_seconds",
                               "Time Mem0 OSS operations spent per phase (embedding, vector_search, llm, ...)",
                               ("service", "mode", "op", "phase"), buckets=PHASE_BUCKETS, registry=registry),
            # the calls of each user / agent budget of the config (`budgets:`), by budget name: the Prometheus
            # budget alerts price them (labels stay bounded: one value per budget, never a user id)
            "budget_tokens": Counter("memlens_mem0_budget_tokens_total",
                                     "Tokens used by the calls of a user or agent budget's scope (kinds as "
                                     "memlens_mem0_tokens_total)", ("service", "budget", "kind", "model"),
                                     registry=registry),
            "budget_ops": Counter("memlens_mem0_budget_operations_total",
                                  "Mem0 operations of a user or agent budget's scope",
                                  ("service", "budget", "mode", "op"), registry=registry),
        }
        _FAMILIES[id(registry)] = (registry, fam)
        return fam


class MemlensMetrics:
    """`budgets`: the config's budgets (memlens.config.BudgetCfg; None = those of the config memlens reads, e.g.
    $MEMLENS_CONFIG). Calls in the scope of a budget set per user or agent are counted once more under its name
    (memlens_mem0_budget_*), so Prometheus can alert on that budget; service and team budgets use the series
    above. Scope values match the ids as the event records them (hashed when hash_user_ids is on)."""

    def __init__(self, registry: CollectorRegistry | None = None, budgets: Sequence[Any] | None = None):
        self.registry = registry if registry is not None else REGISTRY
        if budgets is None:
            from memlens.config import default_config

            budgets = default_config().budgets
        # (name, service, user, agent) of the budgets Prometheus cannot see otherwise
        self._budgets = tuple((b.name, b.scope.service, b.scope.user, b.scope.agent) for b in budgets
                              if b.scope.user is not None or b.scope.agent is not None)
        fam = _families(self.registry)
        self.duration = fam["duration"]
        self.ops = fam["ops"]
        self.errors = fam["errors"]
        self.results = fam["results"]
        self.tokens = fam["tokens"]
        self.cache = fam["cache"]
        self.changes = fam["changes"]
        self.phase = fam["phase"]
        self.budget_tokens = fam["budget_tokens"]
        self.budget_ops = fam["budget_ops"]
        # `.labels()` costs a few µs (validation, a lock); each child is resolved once per label tuple.
        self._children: dict[tuple, Any] = {}
        # what every call updates (duration, count, results), per (service, mode, op, call_mode, status, infer)
        self._per_call: dict[tuple, tuple[Callable[[float], None], Callable[[float], None],
                                          Callable[[float], None] | None]] = {}
        self._lock = threading.Lock()

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            with self._lock:
                child = self._children[key] = metric.labels(*labels)
        return child

    def _per_call_updates(self, labels: tuple) -> tuple:
        service, mode, op = labels[:3]
        updates = (_observer(self._child(self.duration, *labels)), _incrementer(self._child(self.ops, *labels)),
                   _incrementer(self._child(self.results, service, mode, op)) if op in ("search", "get_all") else None)
        self._per_call[labels] = updates
        return updates

    def observe(self, event: dict[str, Any]) -> None:
        """Update every metric from one op-log event."""
        service, mode, op, status = event["service"], event["mode"], event["op"], event["status"]
        infer = event.get("infer")
        labels = (service, mode, op, event["call_mode"], status, "" if infer is None else "true" if infer else "false")
        updates = self._per_call.get(labels) or self._per_call_updates(labels)
        updates[0](event["latency_ms"] / 1000.0)
        updates[1](1)
        if status == "error":
            self._child(self.errors, service, mode, op, event.get("error_type") or "unknown").inc()
        n = event.get("result_count")
        if n and updates[2] is not None:
            updates[2](n)
        outcome = event.get("cache")
        if outcome is not None:
            self._child(self.cache, service, op, outcome).inc()
        counted = _COUNTED_FIELDS.intersection(event)  # one pass over the event's keys; often empty (a search)
        if counted:
            for field, kind, model_field in _TOKEN_FIELDS:
                tokens = event.get(field)
                if tokens:
                    self._child(self.tokens, service, kind, event.get(model_field) or "unknown").inc(tokens)
            for field, change in _CHANGE_FIELDS:
                changed = event.get(field)
                if changed:
                    self._child(self.changes, service, change).inc(changed)
        for name, b_service, b_user, b_agent in self._budgets:
            if ((b_service is None or b_service == service) and (b_user is None or b_user == event.get("user_id"))
                    and (b_agent is None or b_agent == event.get("agent_id"))):
                self._child(self.budget_ops, service, name, mode, op).inc()
                for field, kind, model_field in _TOKEN_FIELDS:
                    tokens = event.get(field)
                    if tokens:
                        self._child(self.budget_tokens, service, name, kind, event.get(model_field) or "unknown").inc(
                            tokens)
        if mode == "oss" and counted:
            for field, phase in _PHASES:
                ms = event.get(field)
                if ms is not None:
                    self._child(self.phase, service, mode, op, phase).observe(ms / 1000.0)


def _observer(child: Any) -> Callable[[float], None]:
    """`child.observe` of a histogram child without its per-call checks and its loop over the bounds (a bisect
    finds the same bucket: the first bound >= the value); the public method where prometheus_client differs."""
    try:
        bounds, buckets, add_to_sum = list(child._upper_bounds), [b.inc for b in child._buckets], child._sum.inc
    except AttributeError:
        return child.observe

    def observe(value: float) -> None:
        if value != value:  # NaN falls in no bucket, as in prometheus_client
            child.observe(value)
            return
        add_to_sum(value)
        buckets[bisect_left(bounds, value)](1)

    return observe


def _incrementer(child: Any) -> Callable[[float], None]:
    """`child.inc` of a counter child without its per-call checks (callers add counts, never negative)."""
    value = getattr(child, "_value", None)
    return value.inc if value is not None and hasattr(value, "inc") else child.inc


def start_metrics_server(port: int, addr: str = "127.0.0.1", registry: CollectorRegistry | None = None):
    """Serve /metrics on addr:port (localhost by default); returns (server, thread) — `server.shutdown()` stops it."""
    return start_http_server(port, addr=addr, registry=registry if registry is not None else REGISTRY)
