"""`alert-rules.yaml` (Prometheus rule-file format) from the config's thresholds.

Recording rules follow the `level:metric:operations` convention (per service, op and infer, plus
alerts.keep_labels; raw selectors carry alerts.selector); every alert reads a recording rule, has a `for:`,
a `severity` label, `summary`/`description` with the value, and an absolute `runbook_url` into the
decision-tree runbooks (docs/runbooks.md). The per-operation alerts are one rule per scope of
`alerts.scopes` (label `scope`), as resolved by alerts/model.py, which the backtest replays. The SLO
alerts are the multi-window multi-burn-rate alerts of the Google SRE workbook (ch. 5, table 5-8).
Same config → byte-identical file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from memlens.alerts import promql
from memlens.alerts.model import OP_SERIES, ThresholdAlert, source, threshold_alerts
from memlens.alerts.promql import num
from memlens.config import BudgetCfg, Config

STORAGE_PERIOD = "1w"   # "storage growth > 20 % per week"
COST_PERIOD = "1d"      # "daily cost exceeds budget": a rolling 24 h

# (long window, short window, burn-rate factor, page?) from the SRE workbook: 2 % of a 30-day budget in 1 h,
# 5 % in 6 h (page); 10 % in 1 d and 10 % in 3 d (ticket).
BURN_WINDOWS: tuple[tuple[str, str, float, bool], ...] = (
    ("1h", "5m", 14.4, True),
    ("6h", "30m", 6.0, True),
    ("1d", "2h", 3.0, False),
    ("3d", "6h", 1.0, False),
)


@dataclass(frozen=True)
class Names:
    """Recording-rule names for a rate window, e.g. `service_op:memlens_mem0_operations:rate5m`."""

    w: str

    @property
    def ops_rate(self) -> str:
        return f"service_op:memlens_mem0_operations:rate{self.w}"

    def quantile(self, q: int) -> str:
        return f"service_op:memlens_mem0_operation_duration_seconds:p{q}_rate{self.w}"

    @property
    def mean(self) -> str:
        return f"service_op:memlens_mem0_operation_duration_seconds:mean_rate{self.w}"

    @property
    def error_ratio(self) -> str:
        return f"service_op:memlens_mem0_errors_per_operations:ratio_rate{self.w}"

    @property
    def slow_ratio(self) -> str:
        return f"service_op:memlens_mem0_slow_operations_per_operations:ratio_rate{self.w}"

    @property
    def cache_ratio(self) -> str:
        return f"service_op:memlens_mem0_cache_hits_per_lookups:ratio_rate{self.w}"

    @property
    def token_rate(self) -> str:
        return f"service_kind_model:memlens_mem0_tokens:rate{self.w}"

    @property
    def cost_rate(self) -> str:
        return f"service:memlens_mem0_cost_usd:rate{self.w}"


COST_DAY = f"service:memlens_mem0_cost_usd:increase{COST_PERIOD}"
STORAGE_GROWTH = f"service:memlens_mem0_stored_memories:growth_ratio{STORAGE_PERIOD}"


def slo_ratio_name(kind: str, window: str) -> str:
    return f"service:memlens_mem0_slo_{kind}_errors_per_operations:ratio_rate{window}"


def _ms(ms: float) -> str:
    return f"{ms:g}ms"


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


def by_labels(cfg: Config, base: tuple[str, ...]) -> tuple[str, ...]:
    """Aggregation labels: `base` plus alerts.keep_labels (e.g. environment), without repeats."""
    return (*base, *(k for k in cfg.alerts.keep_labels if k not in base))


def selector(cfg: Config, extra: dict[str, str] | None = None) -> str:
    """alerts.selector (+ `extra` matchers) as PromQL matcher text for the raw metric selectors."""
    return promql.matchers({**cfg.alerts.selector, **(extra or {})})


def _alert(cfg: Config, name: str, expr: str, for_: str, severity: str, anchor: str,
           summary: str, description: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, **(labels or {})},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{cfg.alerts.runbook_base_url}#{anchor}",
        },
    }


def _record(name: str, expr: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"record": name, "expr": expr}
    if labels:
        rule["labels"] = labels
    return rule


def slow_bounds(cfg: Config) -> list[str]:
    """The `le` bounds the slow-share alerts compare at (one recording rule each), in ascending order."""
    les = {promql.le_for_ms(a.slow_op_ms, source(cfg, a.scope.name, "slow_op_ms"))
           for a in threshold_alerts(cfg) if a.kind.key == "slow_share" and a.slow_op_ms is not None and a.scope}
    return sorted(les, key=float)


def recording_rules(cfg: Config) -> list[dict[str, Any]]:
    w = cfg.alerts.rate_window
    n = Names(w)
    so, s = by_labels(cfg, OP_SERIES), by_labels(cfg, ("service",))
    sel = selector(cfg)
    rules = [
        _record(n.ops_rate, promql.ops_rate(so, w, sel)),
        _record(n.quantile(50), promql.quantile(0.50, so, w, sel)),
        _record(n.quantile(95), promql.quantile(0.95, so, w, sel)),
        _record(n.quantile(99), promql.quantile(0.99, so, w, sel)),
        _record(n.mean, promql.mean_latency(so, w, sel)),
        _record(n.error_ratio, promql.error_ratio(so, w, sel)),
    ]
    # One slow-share series per bound the scopes use, told apart by their `le` label.
    rules += [_record(n.slow_ratio, promql.slower_than_ratio(le, so, w, sel), {"le": le}) for le in slow_bounds(cfg)]
    rules += [
        _record(n.cache_ratio, promql.cache_hit_ratio(by_labels(cfg, ("service", "op")), w, sel)),
        _record(n.token_rate, promql.token_rate(by_labels(cfg, ("service", "kind", "model")), w, sel)),
        _record(n.cost_rate, promql.cost(cfg, "rate", s, w, sel)),
        _record(COST_DAY, promql.cost(cfg, "increase", s, COST_PERIOD, sel)),
        _record(STORAGE_GROWTH, promql.storage_growth(s, STORAGE_PERIOD, sel)),
    ]
    return rules


def _in_scope(a: ThresholdAlert, extra: dict[str, str] | None = None) -> str:
    """Matchers of the alert's scope on a recorded series, e.g. `{op="search"}` (empty when service-wide)."""
    inner = promql.matchers({**(a.scope.match if a.scope else {}), **(extra or {})})
    return "{" + inner + "}" if inner else ""


def threshold_rule(cfg: Config, a: ThresholdAlert) -> dict[str, Any]:
    k, w, t = a.kind, cfg.alerts.rate_window, a.threshold
    n = Names(w)
    on = ", ".join(by_labels(cfg, OP_SERIES))
    where = "{{ $labels.op }} on {{ $labels.service }}"
    scope = f", scope {a.scope.name}" if a.scope else ""
    rule_for, sev = a.rule.for_, a.rule.severity
    if k.key in ("p99_latency", "p95_latency", "avg_latency"):
        record = {"p99_latency": n.quantile(99), "p95_latency": n.quantile(95), "avg_latency": n.mean}[k.key]
        # latency of an idle op is NaN: never alert on it
        expr = f"{record}{_in_scope(a)} > {num(t / 1000)}\nand on ({on}) {n.ops_rate}{_in_scope(a)} > 0"
        what = {"p99_latency": "P99 latency", "p95_latency": "P95 latency", "avg_latency": "Average latency"}[k.key]
        return _alert(cfg, k.alert, expr, rule_for, sev, k.anchor,
                      f"Mem0 {what.replace('Average', 'average')} above {_ms(t)} ({where})",
                      f"{what} of {where} is {{{{ $value | humanizeDuration }}}} over {w} "
                      f"(threshold {_ms(t)} for {rule_for}{scope}).", a.labels)
    if k.key == "error_rate":
        return _alert(cfg, k.alert, f"{n.error_ratio}{_in_scope(a)} > {num(t)}", rule_for, sev, k.anchor,
                      f"Mem0 error rate above {_pct(t)} ({where})",
                      f"{{{{ $value | humanizePercentage }}}} of {where} calls failed over {w} "
                      f"(threshold {_pct(t)} for {rule_for}{scope}).", a.labels)
    if k.key == "slow_share":
        slow = a.slow_op_ms or 0.0
        le = promql.le_for_ms(slow, source(cfg, a.scope.name, "slow_op_ms") if a.scope else "slow_op_ms")
        return _alert(cfg, k.alert, f"{n.slow_ratio}{_in_scope(a, {'le': le})} > {num(t)}", rule_for, sev,
                      k.anchor, f"Over {_pct(t)} of Mem0 operations slower than {_ms(slow)} ({where})",
                      f"{{{{ $value | humanizePercentage }}}} of {where} calls took longer than {_ms(slow)} "
                      f"over {w} (threshold {_pct(t)} for {rule_for}{scope}).", a.labels)
    if k.key == "cache_hit_rate":
        return _alert(cfg, k.alert, f"{n.cache_ratio} < {num(t)}", rule_for, sev, k.anchor,
                      f"Mem0 cache hit rate below {_pct(t)} ({where})",
                      f"Cache hit rate of {where} is {{{{ $value | humanizePercentage }}}} over {w} "
                      f"(threshold {_pct(t)} for {rule_for}).", a.labels)
    if k.key == "daily_cost":
        return _alert(cfg, k.alert, f"{COST_DAY} > {num(t)}", rule_for, sev, k.anchor,
                      f"Mem0 cost over the daily budget of ${t:g} ({{{{ $labels.service }}}})",
                      f"{{{{ $labels.service }}}} spent ${{{{ $value | printf \"%.2f\" }}}} on embeddings, LLM tokens "
                      f"and Platform calls in the last 24 h (budget ${t:g}, for {rule_for}).", a.labels)
    return _alert(cfg, k.alert, f"{STORAGE_GROWTH} > {num(t)}", rule_for, sev, k.anchor,
                  f"Mem0 stored memories grew over {_pct(t)} in a week ({{{{ $labels.service }}}})",
                  f"Memories held by {{{{ $labels.service }}}} (adds minus deletes seen by the instrumentation) grew "
                  f"{{{{ $value | humanizePercentage }}}} in 7 days (threshold {_pct(t)} for {rule_for}).", a.labels)


def _check_reachable(cfg: Config, a: ThresholdAlert) -> None:
    """histogram_quantile never exceeds the highest finite bucket bound: a percentile threshold at or above it
    could never fire. Nor does it report less than q x the lowest bound (every call in the first bucket): a
    threshold below that fires on any traffic."""
    q = a.kind.quantile
    if q is None or not a.scope:
        return
    top_ms = promql.DURATION_BUCKETS_S[-1] * 1000
    if a.threshold >= top_ms:
        raise ValueError(f"{source(cfg, a.scope.name, a.kind.field)}={a.threshold:g} ms can never fire: "
                         f"Prometheus' histogram_quantile stops at the highest bucket bound ({top_ms:g} ms)")
    floor_ms = q * promql.DURATION_BUCKETS_S[0] * 1000
    if a.threshold < floor_ms:
        raise ValueError(f"{source(cfg, a.scope.name, a.kind.field)}={a.threshold:g} ms fires on any traffic: "
                         f"Prometheus' histogram_quantile reports at least {floor_ms:g} ms (the lowest bucket bound "
                         f"is {promql.DURATION_BUCKETS_S[0] * 1000:g} ms)")


def alert_rules(cfg: Config) -> list[dict[str, Any]]:
    """The threshold alerts: one rule per kind, per scope for the per-operation kinds."""
    for a in threshold_alerts(cfg):
        _check_reachable(cfg, a)
    return [threshold_rule(cfg, a) for a in threshold_alerts(cfg)]


def _slo_kinds(cfg: Config) -> list[tuple[str, float, str, str]]:
    """(kind, objective, what a good event is, what a bad event is) for each SLO the config enables."""
    slo = cfg.alerts.slo
    kinds = []
    if slo.availability_objective is not None:
        kinds.append(("availability", slo.availability_objective, "succeed", "failing"))
    if slo.latency_objective is not None:
        ms = _ms(slo.latency_threshold_ms)
        kinds.append(("latency", slo.latency_objective, f"finish within {ms}", f"slower than {ms}"))
    return kinds


def _slo_bad_ratio(cfg: Config, kind: str, window: str) -> str:
    slo, s = cfg.alerts.slo, by_labels(cfg, ("service",))
    if kind == "availability":
        return promql.error_ratio(s, window, selector(cfg, slo.availability_match))
    le = promql.le_for_ms(slo.latency_threshold_ms, "alerts.slo.latency_threshold_ms")
    return promql.slower_than_ratio(le, s, window, selector(cfg, slo.latency_match))


def slo_windows() -> list[str]:
    return sorted({win for long, short, _, _ in BURN_WINDOWS for win in (long, short)}, key=_seconds)


def _seconds(d: str) -> int:
    return int(d[:-1]) * {"m": 60, "h": 3600, "d": 86400}[d[-1]]


def _slo_alerts(cfg: Config, kind: str, objective: float, good: str, bad: str) -> list[dict[str, Any]]:
    slo = cfg.alerts.slo
    budget = 1 - objective
    alerts = []
    for page in (True, False):
        clauses = [
            f"(\n  {slo_ratio_name(kind, long)} > {num(factor * budget)}\n"
            f"  and\n  {slo_ratio_name(kind, short)} > {num(factor * budget)}\n)"
            for long, short, factor, is_page in BURN_WINDOWS if is_page == page
        ]
        windows = ", ".join(f"{lg}/{sh} at {f:g}x" for lg, sh, f, p in BURN_WINDOWS if p == page)
        name = f"Mem0{kind.capitalize()}SLOBurnRate{'Fast' if page else 'Slow'}"
        alerts.append(_alert(
            cfg, name, "\nor\n".join(clauses), slo.page_for if page else slo.ticket_for,
            "critical" if page else "warning", f"slo-{kind}-burn-rate",
            f"Mem0 {kind} SLO ({_pct(objective)} of operations {good}) is burning its error budget "
            f"{'fast' if page else 'steadily'} ({{{{ $labels.service }}}})",
            f"{{{{ $labels.service }}}}: the share of operations {bad} burns the {_pct(budget)} error budget "
            f"faster than allowed ({windows}); long-window share now {{{{ $value | humanizePercentage }}}}.",
            labels={**cfg.alerts.labels, "slo": kind, "burn": "page" if page else "ticket"},
        ))
    return alerts


def slo_alert_rules(cfg: Config) -> list[dict[str, Any]]:
    """Every SLO burn-rate alert rule of the config (fast = page, slow = ticket)."""
    return [r for kind, objective, good, bad in _slo_kinds(cfg) for r in _slo_alerts(cfg, kind, objective, good, bad)]


def slo_groups(cfg: Config) -> list[dict[str, Any]]:
    groups = []
    for kind, objective, good, bad in _slo_kinds(cfg):
        records = [_record(slo_ratio_name(kind, win), _slo_bad_ratio(cfg, kind, win)) for win in slo_windows()]
        groups.append({"name": f"memlens-mem0-slo-{kind}",
                       "rules": records + _slo_alerts(cfg, kind, objective, good, bad)})
    return groups


# ---- budgets (memlens.budgets; the config's `budgets:`) -------------------------------------------------------

BUDGET_ALERT = "Mem0CostOverBudget"
BUDGET_ANCHOR = "cost-over-budget"


def budget_rate(w: str) -> str:
    """Recording rule: USD per second of each budget's scope (label `budget`), over the rate window."""
    return f"budget:memlens_mem0_cost_usd:rate{w}"


def budget_increase(period: str) -> str:
    """Recording rule: USD spent by each budget's scope over its period (a rolling 1 d, 7 d or 30 d)."""
    return f"budget:memlens_mem0_cost_usd:increase{period}"


def _budget_cost(cfg: Config, b: BudgetCfg, func: str, window: str) -> str:
    """A service (or team) budget prices the service's own counters; a user or agent budget the budget counters
    the instrumentation keeps for that scope (labelled by the budget's name, never by a user id)."""
    if b.scope.user is None and b.scope.agent is None:
        service = {"service": "=" + b.scope.service} if b.scope.service is not None else {}  # literal, not a regex
        return promql.cost(cfg, func, (), window, selector(cfg, service))
    return promql.cost(cfg, func, (), window, selector(cfg, {"budget": "=" + b.name}), promql.BUDGET_TOKENS,
                       promql.BUDGET_OPERATIONS)


def budget_rule(cfg: Config, b: BudgetCfg) -> dict[str, Any]:
    """The alert of one budget: its scope's spend over its period above the budget, for alerts.rules.budget.for."""
    r = cfg.alerts.rules.budget
    scope = ", ".join(f"{d}={v}" for d in ("service", "user", "agent") if (v := getattr(b.scope, d)) is not None)
    scope = scope or "the team"
    span = {"1d": "24 h", "7d": "7 days", "30d": "30 days"}[b.period]
    return _alert(cfg, BUDGET_ALERT, f'{budget_increase(b.period)}{{budget={promql.repr_label(b.name)}}} > '
                  f"{num(b.usd)}", r.for_, r.severity, BUDGET_ANCHOR,
                  f"Mem0 cost over the {b.name} budget (${b.usd:g} per {span}, {scope})",
                  f"{scope} spent ${{{{ $value | printf \"%.2f\" }}}} in the last {span} (budget {b.name}: "
                  f"${b.usd:g}, for {r.for_}).",
                  {**cfg.alerts.labels, **r.labels, "budget": b.name, "period": b.period})


def budget_group(cfg: Config) -> list[dict[str, Any]]:
    """The budgets' group: per budget a cost-rate and a cost-over-period recording rule, and its alert (none
    without budgets)."""
    if not cfg.budgets:
        return []
    w = cfg.alerts.rate_window
    rules = []
    for b in cfg.budgets:
        rules += [_record(budget_rate(w), _budget_cost(cfg, b, "rate", w), {"budget": b.name}),
                  _record(budget_increase(b.period), _budget_cost(cfg, b, "increase", b.period), {"budget": b.name})]
    return [{"name": "memlens-mem0-budgets", "rules": rules + [budget_rule(cfg, b) for b in cfg.budgets]}]


def rule_groups(cfg: Config) -> dict[str, Any]:
    return {"groups": [
        {"name": "memlens-mem0-recording", "rules": recording_rules(cfg)},
        {"name": "memlens-mem0-alerts", "rules": alert_rules(cfg)},
        *slo_groups(cfg),
        *budget_group(cfg),
    ]}


class BlockDumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks so the expressions read like PromQL."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


BlockDumper.add_representer(str, _str)

HEADER = (
    "# Generated by `memlens export alerts` from the memlens config; do not edit by hand.\n"
    "# Recording rules: level:metric:operations. Thresholds, for: durations, SLOs and the runbook base URL\n"
    "# come from the `thresholds:` and `alerts:` sections of the config.\n"
)


def render_rules(cfg: Config) -> str:
    """The rule file as text (deterministic: same config, same bytes)."""
    body = yaml.dump(rule_groups(cfg), Dumper=BlockDumper, sort_keys=False, width=4096, allow_unicode=True)
    return HEADER + body
