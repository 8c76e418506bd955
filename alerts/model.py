"""The threshold alerts a config asks for, resolved once: what the rule file renders and the backtest replays.

A per-operation alert (latency, error rate, slow share) exists once per scope of `alerts.scopes` that has a
threshold for it (a threshold left out of the scope is the `thresholds:` value of that name; null = none).
The service-wide alerts (cache hit rate, daily cost, storage growth) exist once. Each carries its rule settings
(`alerts.rules`: severity, for:, labels) and the runbook section it links to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from memlens.config import AlertRuleCfg, AlertScopeCfg, Config
from memlens.schema import OPS

# Label names of the per-operation series the rules aggregate to (plus alerts.keep_labels).
OP_SERIES = ("service", "op", "infer")
# Every (op, infer) label pair the instrumentation writes: infer is "true"/"false" on adds, "" elsewhere.
OP_LABEL_SETS: tuple[tuple[str, str], ...] = tuple(
    pair for op in ("search", *(o for o in OPS if o != "search"))
    for pair in ([(op, "true"), (op, "false")] if op == "add" else [(op, "")]))


@dataclass(frozen=True)
class Kind:
    """One kind of threshold alert."""

    key: str          # field of alerts.rules
    alert: str        # Prometheus alert name
    figure: str       # what is compared: p99_ms, p95_ms, avg_ms, error_rate, slow_share, cache_hit_rate, ...
    field: str        # threshold field (of a scope, or of `thresholds:` for the service-wide kinds)
    above: bool       # fires when the figure is above (True) or below (False) the threshold
    anchor: str       # section of docs/runbooks.md
    scoped: bool      # per-operation (a rule per scope) or service-wide
    title: str        # short words for pages and tables
    quantile: float | None = None  # the percentile a latency kind compares (histogram_quantile's q)


KINDS: tuple[Kind, ...] = (
    Kind("p99_latency", "Mem0HighP99Latency", "p99_ms", "p99_ms", True, "high-p99-latency", True, "P99 latency",
         0.99),
    Kind("p95_latency", "Mem0HighP95Latency", "p95_ms", "p95_ms", True, "high-p95-latency", True, "P95 latency",
         0.95),
    Kind("avg_latency", "Mem0HighAverageLatency", "avg_ms", "avg_ms", True, "high-average-latency", True,
         "average latency"),
    Kind("error_rate", "Mem0HighErrorRate", "error_rate", "error_rate", True, "high-error-rate", True, "error rate"),
    Kind("slow_share", "Mem0SlowOperationShareHigh", "slow_share", "slow_op_share", True, "slow-operation-share",
         True, "slow share"),
    Kind("cache_hit_rate", "Mem0LowCacheHitRate", "cache_hit_rate", "cache_hit_rate_min", False,
         "low-cache-hit-rate", False, "cache hit rate"),
    Kind("daily_cost", "Mem0DailyCostOverBudget", "cost_usd_1d", "daily_budget_usd", True, "daily-cost-over-budget",
         False, "cost in 24 h"),
    Kind("storage_growth", "Mem0StorageGrowthHigh", "growth_1w", "storage_growth_per_week", True, "storage-growth",
         False, "storage growth per week"),
)
KIND = {k.key: k for k in KINDS}


@dataclass(frozen=True)
class Scope:
    name: str
    match: dict[str, str]  # matchers on op / infer: "v" (equality), "=v", "!=v", "=~re", "!~re"


@dataclass(frozen=True)
class ThresholdAlert:
    kind: Kind
    scope: Scope | None      # None: service-wide
    threshold: float         # in the figure's unit: ms, 0..1 ratio, USD
    rule: AlertRuleCfg
    slow_op_ms: float | None = None  # slow share: the latency a call must exceed to count as slow
    labels: dict[str, str] = field(default_factory=dict)  # alerts.labels + rule labels (+ scope)

    @property
    def key(self) -> str:
        """Unique per rule: `p99_latency` or `p99_latency@search`."""
        return self.kind.key if self.scope is None else f"{self.kind.key}@{self.scope.name}"


def _scope_value(scope: AlertScopeCfg, name: str, cfg: Config) -> float | None:
    if name in scope.model_fields_set:
        return getattr(scope, name)
    return getattr(cfg.thresholds, name)


def source(cfg: Config, scope: str, name: str) -> str:
    """Where a scope's threshold comes from, for error messages: the scope's own field or `thresholds:`."""
    sc = cfg.alerts.scopes[scope]
    if sc is not None and name in sc.model_fields_set:
        return f"alerts.scopes.{scope}.{name}"
    return f"thresholds.{name} (scope {scope})"


def covered(matchers: dict[str, str]) -> list[tuple[str, str]]:
    """The (op, infer) label pairs a scope's matchers select."""
    return [(op, inf) for op, inf in OP_LABEL_SETS if matches(matchers, {"op": op, "infer": inf})]


def _check_disjoint(cfg: Config) -> None:
    """Two scopes selecting the same calls would raise the same alert twice with different thresholds."""
    seen: dict[tuple[str, str], str] = {}
    for name, sc in cfg.alerts.scopes.items():
        if sc is None:
            continue
        for pair in covered(sc.match):
            if pair in seen:
                what = f"op={pair[0]}" + (f" infer={pair[1]}" if pair[1] else "")
                raise ValueError(f"alerts.scopes: {seen[pair]} and {name} both cover {what}; narrow one of them "
                                 f"(e.g. op: \"!~search|add\")")
            seen[pair] = name


def threshold_alerts(cfg: Config) -> list[ThresholdAlert]:
    """Every threshold alert of the config, kinds in KINDS order, scopes in config order within a kind."""
    _check_disjoint(cfg)
    common = dict(cfg.alerts.labels)
    out: list[ThresholdAlert] = []
    for kind in KINDS:
        rule: AlertRuleCfg = getattr(cfg.alerts.rules, kind.key)
        labels = {**common, **rule.labels}
        if not kind.scoped:
            out.append(ThresholdAlert(kind, None, float(getattr(cfg.thresholds, kind.field)), rule, labels=labels))
            continue
        for name, sc in cfg.alerts.scopes.items():
            if sc is None:
                continue
            value = _scope_value(sc, kind.field, cfg)
            if value is None:
                continue
            slow = _scope_value(sc, "slow_op_ms", cfg) if kind.key == "slow_share" else None
            if kind.key == "slow_share" and slow is None:
                continue
            out.append(ThresholdAlert(kind, Scope(name, dict(sc.match)), float(value), rule, slow,
                                      {**labels, "scope": name}))
    return out


_OPS = re.compile(r"^(=~|!~|!=|=)?(.*)$", re.DOTALL)


def split_matcher(value: str) -> tuple[str, str]:
    """`"search"` → ("=", "search"); `"=~a|b"` → ("=~", "a|b")."""
    op, body = _OPS.match(value).groups()  # type: ignore[union-attr]
    return op or "=", body


def matches(matchers: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether a label set satisfies the matchers as Prometheus decides (a missing label is "", regexes anchored)."""
    for name, value in matchers.items():
        op, body = split_matcher(value)
        got = labels.get(name, "")
        ok = {"=": got == body, "!=": got != body}.get(op)
        if ok is None:
            ok = re.fullmatch(body, got) is not None
            ok = ok if op == "=~" else not ok
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class QueryThresholds:
    """The thresholds of the scope that covers `search` (the reference's query latency), for dashboards to draw;
    a rule that scope has off falls back to the `thresholds:` value."""

    p99_ms: float
    p95_ms: float
    avg_ms: float
    error_rate: float
    slow_op_ms: float
    slow_op_share: float


def query_thresholds(cfg: Config) -> QueryThresholds:
    scope = next((sc for sc in cfg.alerts.scopes.values()
                  if sc is not None and matches(sc.match, {"op": "search", "infer": ""})), None)
    values = {}
    for name in ("p99_ms", "p95_ms", "avg_ms", "error_rate", "slow_op_ms", "slow_op_share"):
        value = _scope_value(scope, name, cfg) if scope is not None else None
        values[name] = float(value if value is not None else getattr(cfg.thresholds, name))
    return QueryThresholds(**values)
