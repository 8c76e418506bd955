"""`alert-rules.yaml` (Prometheus rule-file format) from the config's thresholds.

Recording rules follow the `level:metric:operations` convention; every alert reads a recording rule,
has a `for:`, a `severity` label, `summary`/`description` with the value, and a `runbook_url` into the
decision-tree runbooks (docs/runbooks.md). The SLO alerts are the multi-window multi-burn-rate alerts
of the Google SRE workbook (ch. 5, table 5-8). Same config → byte-identical file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from memlens.alerts import promql
from memlens.alerts.promql import num
from memlens.config import Config

SO = ("service", "op")
S = ("service",)
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


def _record(name: str, expr: str) -> dict[str, str]:
    return {"record": name, "expr": expr}


def recording_rules(cfg: Config) -> list[dict[str, str]]:
    w = cfg.alerts.rate_window
    n = Names(w)
    slow_le = promql.le_for_ms(cfg.thresholds.slow_op_ms, "thresholds.slow_op_ms")
    return [
        _record(n.ops_rate, promql.ops_rate(SO, w)),
        _record(n.quantile(50), promql.quantile(0.50, SO, w)),
        _record(n.quantile(95), promql.quantile(0.95, SO, w)),
        _record(n.quantile(99), promql.quantile(0.99, SO, w)),
        _record(n.mean, promql.mean_latency(SO, w)),
        _record(n.error_ratio, promql.error_ratio(SO, w)),
        _record(n.slow_ratio, promql.slower_than_ratio(slow_le, SO, w)),
        _record(n.cache_ratio, promql.cache_hit_ratio(SO, w)),
        _record(n.token_rate, promql.token_rate(("service", "kind", "model"), w)),
        _record(n.cost_rate, promql.cost(cfg, "rate", S, w)),
        _record(COST_DAY, promql.cost(cfg, "increase", S, COST_PERIOD)),
        _record(STORAGE_GROWTH, promql.storage_growth(S, STORAGE_PERIOD)),
    ]


def threshold_alerts(cfg: Config) -> list[dict[str, Any]]:
    t, f, w = cfg.thresholds, cfg.alerts.for_, cfg.alerts.rate_window
    n = Names(w)
    traffic = f"and on (service, op) {n.ops_rate} > 0"  # latency of an idle op is NaN: never alert on it
    where = "{{ $labels.op }} on {{ $labels.service }}"
    return [
        _alert(cfg, "Mem0HighP99Latency", f"{n.quantile(99)} > {num(t.p99_ms / 1000)}\n{traffic}", f.latency,
               "critical", "high-p99-latency",
               f"Mem0 P99 latency above {_ms(t.p99_ms)} ({where})",
               f"P99 latency of {where} is {{{{ $value | humanizeDuration }}}} over {w} "
               f"(threshold {_ms(t.p99_ms)} for {f.latency})."),
        _alert(cfg, "Mem0HighP95Latency", f"{n.quantile(95)} > {num(t.p95_ms / 1000)}\n{traffic}", f.latency,
               "warning", "high-p95-latency",
               f"Mem0 P95 latency above {_ms(t.p95_ms)} ({where})",
               f"P95 latency of {where} is {{{{ $value | humanizeDuration }}}} over {w} "
               f"(threshold {_ms(t.p95_ms)} for {f.latency})."),
        _alert(cfg, "Mem0HighAverageLatency", f"{n.mean} > {num(t.avg_ms / 1000)}", f.latency,
               "warning", "high-average-latency",
               f"Mem0 average latency above {_ms(t.avg_ms)} ({where})",
               f"Average latency of {where} is {{{{ $value | humanizeDuration }}}} over {w} "
               f"(threshold {_ms(t.avg_ms)} for {f.latency})."),
        _alert(cfg, "Mem0HighErrorRate", f"{n.error_ratio} > {num(t.error_rate)}", f.error_rate,
               "critical", "high-error-rate",
               f"Mem0 error rate above {_pct(t.error_rate)} ({where})",
               f"{{{{ $value | humanizePercentage }}}} of {where} calls failed over {w} "
               f"(threshold {_pct(t.error_rate)} for {f.error_rate})."),
        _alert(cfg, "Mem0LowCacheHitRate", f"{n.cache_ratio} < {num(t.cache_hit_rate_min)}", f.cache_hit_rate,
               "warning", "low-cache-hit-rate",
               f"Mem0 cache hit rate below {_pct(t.cache_hit_rate_min)} ({where})",
               f"Cache hit rate of {where} is {{{{ $value | humanizePercentage }}}} over {w} "
               f"(threshold {_pct(t.cache_hit_rate_min)} for {f.cache_hit_rate})."),
        _alert(cfg, "Mem0SlowOperationShareHigh", f"{n.slow_ratio} > {num(t.slow_op_share)}", f.slow_share,
               "warning", "slow-operation-share",
               f"Over {_pct(t.slow_op_share)} of Mem0 operations slower than {_ms(t.slow_op_ms)} ({where})",
               f"{{{{ $value | humanizePercentage }}}} of {where} calls took longer than {_ms(t.slow_op_ms)} "
               f"over {w} (threshold {_pct(t.slow_op_share)} for {f.slow_share})."),
        _alert(cfg, "Mem0DailyCostOverBudget", f"{COST_DAY} > {num(t.daily_budget_usd)}", f.daily_cost,
               "warning", "daily-cost-over-budget",
               f"Mem0 cost over the daily budget of ${t.daily_budget_usd:g} ({{{{ $labels.service }}}})",
               f"{{{{ $labels.service }}}} spent ${{{{ $value | printf \"%.2f\" }}}} on embeddings, LLM tokens and "
               f"Platform calls in the last 24 h (budget ${t.daily_budget_usd:g}, for {f.daily_cost})."),
        _alert(cfg, "Mem0StorageGrowthHigh", f"{STORAGE_GROWTH} > {num(t.storage_growth_per_week)}",
               f.storage_growth, "warning", "storage-growth",
               f"Mem0 stored memories grew over {_pct(t.storage_growth_per_week)} in a week "
               f"({{{{ $labels.service }}}})",
               f"Memories held by {{{{ $labels.service }}}} (adds minus deletes seen by the instrumentation) grew "
               f"{{{{ $value | humanizePercentage }}}} in 7 days (threshold {_pct(t.storage_growth_per_week)} "
               f"for {f.storage_growth})."),
    ]


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
    if kind == "availability":
        return promql.error_ratio(S, window)
    le = promql.le_for_ms(cfg.alerts.slo.latency_threshold_ms, "alerts.slo.latency_threshold_ms")
    return promql.slower_than_ratio(le, S, window)


def slo_windows() -> list[str]:
    return sorted({win for long, short, _, _ in BURN_WINDOWS for win in (long, short)}, key=_seconds)


def _seconds(d: str) -> int:
    return int(d[:-1]) * {"m": 60, "h": 3600, "d": 86400}[d[-1]]


def slo_groups(cfg: Config) -> list[dict[str, Any]]:
    groups = []
    slo = cfg.alerts.slo
    for kind, objective, good, bad in _slo_kinds(cfg):
        budget = 1 - objective
        records = [_record(slo_ratio_name(kind, win), _slo_bad_ratio(cfg, kind, win)) for win in slo_windows()]
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
                labels={"slo": kind, "burn": "page" if page else "ticket"},
            ))
        groups.append({"name": f"memlens-mem0-slo-{kind}", "rules": records + alerts})
    return groups


def rule_groups(cfg: Config) -> dict[str, Any]:
    return {"groups": [
        {"name": "memlens-mem0-recording", "rules": recording_rules(cfg)},
        {"name": "memlens-mem0-alerts", "rules": threshold_alerts(cfg)},
        *slo_groups(cfg),
    ]}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks so the expressions read like PromQL."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

HEADER = (
    "# Generated by `memlens export alerts` from the memlens config; do not edit by hand.\n"
    "# Recording rules: level:metric:operations. Thresholds, for: durations, SLOs and the runbook base URL\n"
    "# come from the `thresholds:` and `alerts:` sections of the config.\n"
)


def render_rules(cfg: Config) -> str:
    """The rule file as text (deterministic: same config, same bytes)."""
    body = yaml.dump(rule_groups(cfg), Dumper=_Dumper, sort_keys=False, width=4096, allow_unicode=True)
    return HEADER + body
