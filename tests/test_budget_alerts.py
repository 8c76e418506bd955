"""Budgets in Prometheus: per budget a cost-rate and a cost-over-period recording rule and a Mem0CostOverBudget
alert (service and team budgets price the service's counters, user and agent budgets the instrumentation's budget
counters); promtool runs the generated cases of the budget alerts; cached prompt tokens are priced at the cached
rate by the cost recording rules (promtool expression test); the instrumentation counts a budget's calls only."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from memlens.alerts import promql
from memlens.alerts.export import render_config
from memlens.alerts.promtool_tests import render_tests
from memlens.alerts.rules import BUDGET_ALERT, render_rules, rule_groups
from memlens.config import load_config
from memlens.instrumentation import MemlensMetrics

BUDGETS = [
    {"name": "chat-api-daily", "scope": {"service": "chat-api"}, "period": "1d", "usd": 3.0},
    {"name": "alice-helper", "scope": {"user": "alice", "agent": "helper"}, "period": "1d", "usd": 2.0},
]
LONG_WINDOWS = [
    {"name": "alice-week", "scope": {"user": "alice"}, "period": "7d", "usd": 2.0},
    {"name": "team-month", "period": "30d", "usd": 100.0},
]
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="Debian prometheus (promtool) missing")


def _group(cfg) -> dict:
    (g,) = [g for g in rule_groups(cfg)["groups"] if g["name"] == "memlens-mem0-budgets"]
    return g


def test_no_budgets_no_group():
    assert "memlens-mem0-budgets" not in [g["name"] for g in rule_groups(load_config())["groups"]]


def test_budget_rules_per_scope():
    cfg = load_config(overrides={"budgets": BUDGETS + LONG_WINDOWS})
    g = _group(cfg)
    records = [r for r in g["rules"] if "record" in r]
    alerts = {r["labels"]["budget"]: r for r in g["rules"] if r.get("alert") == BUDGET_ALERT}
    assert [(r["record"], r["labels"]["budget"]) for r in records] == [
        ("budget:memlens_mem0_cost_usd:rate5m", "chat-api-daily"), ("budget:memlens_mem0_cost_usd:increase1d",
                                                                    "chat-api-daily"),
        ("budget:memlens_mem0_cost_usd:rate5m", "alice-helper"), ("budget:memlens_mem0_cost_usd:increase1d",
                                                                  "alice-helper"),
        ("budget:memlens_mem0_cost_usd:rate5m", "alice-week"), ("budget:memlens_mem0_cost_usd:increase7d",
                                                                "alice-week"),
        ("budget:memlens_mem0_cost_usd:rate5m", "team-month"), ("budget:memlens_mem0_cost_usd:increase30d",
                                                                "team-month")]
    service, user, week, team = (r["expr"] for r in records[1::2])
    assert f'{promql.TOKENS}{{service="chat-api",kind="embedding"' in service and "[1d]" in service
    assert promql.BUDGET_TOKENS not in service
    assert (f'{promql.BUDGET_TOKENS}{{budget="alice-helper",kind="llm_input",model="gpt-4o-mini"}}[1d]) * 1.5e-07'
            in user)
    assert "[7d]" in week and f'{promql.TOKENS}{{kind="embedding"' in team and "[30d]" in team
    # cached prompt tokens: (cached rate - input rate) on top of the input rate, as the warehouse prices them
    assert 'kind="llm_cached_input",model="gpt-4o-mini"}[30d]) * -7.5e-08' in team
    a = alerts["alice-week"]
    assert a["expr"] == 'budget:memlens_mem0_cost_usd:increase7d{budget="alice-week"} > 2'
    assert (a["for"], a["labels"]) == ("15m", {"severity": "warning", "budget": "alice-week", "period": "7d"})
    assert a["annotations"]["summary"] == "Mem0 cost over the alice-week budget ($2 per 7 days, user=alice)"
    assert a["annotations"]["runbook_url"].endswith("#cost-over-budget")
    assert "the team spent" in alerts["team-month"]["annotations"]["description"]


def test_budget_rule_settings_and_selector_apply():
    cfg = load_config(overrides={"budgets": BUDGETS, "alerts": {
        "rules": {"budget": {"severity": "critical", "for": "1h", "labels": {"team": "finance"}}},
        "selector": {"environment": "prod"}}})
    g = _group(cfg)
    a = next(r for r in g["rules"] if r.get("alert") and r["labels"]["budget"] == "chat-api-daily")
    assert (a["for"], a["labels"]["severity"], a["labels"]["team"]) == ("1h", "critical", "finance")
    assert 'environment="prod",service="chat-api"' in g["rules"][0]["expr"]


def test_exported_config_keeps_the_budgets():
    cfg = load_config(overrides={"budgets": BUDGETS})
    again = load_config(overrides=yaml.safe_load(render_config(cfg).split("\n", 3)[3]))
    assert again.budgets == cfg.budgets and render_rules(again) == render_rules(cfg)


def test_instrumentation_counts_a_budgets_calls_only():
    registry = CollectorRegistry()
    cfg = load_config(overrides={"budgets": BUDGETS})
    m = MemlensMetrics(registry, budgets=cfg.budgets)
    base = {"service": "chat-api", "mode": "oss", "call_mode": "sync", "status": "ok", "latency_ms": 900.0,
            "op": "add", "infer": True, "llm_model": "gpt-4o-mini", "llm_input_tokens": 1000,
            "llm_cached_input_tokens": 600, "llm_output_tokens": 50}
    m.observe({**base, "user_id": "alice", "agent_id": "helper"})
    m.observe({**base, "user_id": "alice", "agent_id": "other"})  # another agent: not alice-helper's
    m.observe({**base, "user_id": "bob", "agent_id": "helper"})
    text = generate_latest(registry).decode()
    assert ('memlens_mem0_budget_tokens_total{budget="alice-helper",kind="llm_input",model="gpt-4o-mini",'
            'service="chat-api"} 1000.0') in text
    assert 'memlens_mem0_budget_tokens_total{budget="alice-helper",kind="llm_cached_input"' in text
    assert ('memlens_mem0_budget_operations_total{budget="alice-helper",mode="oss",op="add",service="chat-api"} 1.0'
            in text)
    assert 'budget="chat-api-daily"' not in text  # a service budget reads the service's own series
    assert 'memlens_mem0_tokens_total{kind="llm_cached_input",model="gpt-4o-mini",service="chat-api"} 1800.0' in text


@pytest.mark.prometheus
@needs_promtool
def test_promtool_runs_the_budget_cases_and_the_cached_price(tmp_path):
    """The generated cases of the budget alerts (breach fires after for:, not at half the period; half the budget,
    no spend and another scope's spend stay silent), and the recorded cost rate of 1000 prompt tokens a minute of
    which 600 cached: (400 x $0.15 + 600 x $0.075) / 1M per minute."""
    cfg = load_config(overrides={"budgets": BUDGETS})
    (tmp_path / "rules.yaml").write_text(render_rules(cfg), encoding="utf-8")
    docs = {name: yaml.safe_load(text) for name, text in render_tests(cfg, "rules.yaml").items()}
    long = docs["alert-rules-long.test.yaml"]
    long["tests"] = [t for t in long["tests"] if t["name"].startswith(BUDGET_ALERT)]
    assert len(long["tests"]) == 8  # 2 budgets x (fires, below, no traffic, another scope)
    (tmp_path / "budgets.test.yaml").write_text(yaml.safe_dump(long, sort_keys=False), encoding="utf-8")
    minute = docs["alert-rules.test.yaml"]
    per_min = {"llm_input": 1000, "llm_cached_input": 600}
    minute["tests"] = [{
        "name": "cached prompt tokens are priced at the cached rate", "interval": "1m",
        "input_series": [{"series": f'{promql.TOKENS}{{service="chat-api",kind="{k}",model="gpt-4o-mini"}}',
                          "values": f"0+{n}x30"} for k, n in per_min.items()],
        "promql_expr_test": [{"expr": 'service:memlens_mem0_cost_usd:rate5m{service="chat-api"}', "eval_time": "20m",
                              "exp_samples": [{"labels": 'service:memlens_mem0_cost_usd:rate5m{service="chat-api"}',
                                               # = (400 x 0.15 + 600 x 0.075) / 1e6 / 60, in the rule's
                                               # float order (promtool compares exactly)
                                               "value": 1000 / 60 * 1.5e-07 + 600 / 60 * -7.5e-08}]}]}]
    (tmp_path / "cached.test.yaml").write_text(yaml.safe_dump(minute, sort_keys=False), encoding="utf-8")
    res = subprocess.run(["promtool", "test", "rules", "budgets.test.yaml", "cached.test.yaml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and res.stdout.count("SUCCESS") == 2, res.stdout + res.stderr
    wrong = render_rules(cfg).replace('{budget="alice-helper"} > 2', '{budget="alice-helper"} > 5')
    (tmp_path / "rules.yaml").write_text(wrong, encoding="utf-8")
    res = subprocess.run(["promtool", "test", "rules", "budgets.test.yaml"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode != 0 and "alice-helper" in res.stdout + res.stderr  # the cases have teeth
