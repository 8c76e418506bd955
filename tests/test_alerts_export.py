"""Alert rules and Grafana exports: golden files, determinism, promtool check + unit tests, structure."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from memlens.alerts import promql
from memlens.alerts.grafana import expressions, render_dashboard
from memlens.alerts.promtool_tests import humanize_duration, humanize_percentage, render_tests
from memlens.alerts.rules import render_rules, rule_groups
from memlens.config import load_config

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
PROMTOOL_DIR = ROOT / "tests" / "promtool"
REFRESH = "refresh deliberately with `.venv/bin/python scripts/update_golden.py` and review the diff"

NON_DEFAULT = {
    "thresholds": {"p99_ms": 1000, "p95_ms": 300, "avg_ms": 150, "error_rate": 0.02, "cache_hit_rate_min": 0.6,
                   "slow_op_ms": 500, "slow_op_share": 0.05, "storage_growth_per_week": 0.1,
                   "daily_budget_usd": 20.0},
    "prices": {"embedding": {"my-embedder": 0.5}, "llm": {"my-llm": {"input": 1.0, "output": 3.0}},
               "platform_per_call": {"search": 0.001}},
    "alerts": {"rate_window": "2m", "runbook_base_url": "https://wiki.example.com/mem0-runbooks",
               "selector": {"environment": "prod", "service": "=~shop-.*"}, "keep_labels": ["environment"],
               "labels": {"team": "memory"},
               "scopes": {"add_infer": {"p99_ms": 8000, "slow_op_ms": 5000, "slow_op_share": 0.2},
                          "add": {"p99_ms": 1000, "error_rate": 0.01},
                          "get": {"match": {"op": "=~get|get_all"}, "p95_ms": 400},
                          "other": {"match": {"op": "!~search|add|get|get_all"}}},
               "rules": {"p99_latency": {"severity": "warning", "for": "5m", "labels": {"page": "no"}},
                         "p95_latency": {"for": "6m"}, "avg_latency": {"for": "4m"}, "error_rate": {"for": "3m"},
                         "cache_hit_rate": {"for": "20m"}, "daily_cost": {"for": "30m"},
                         "storage_growth": {"for": "2h"}, "slow_share": {"for": "7m"}},
               "slo": {"availability_objective": 0.99, "latency_objective": 0.95, "latency_threshold_ms": 1000,
                       "latency_match": {"op": "=~search|get"}, "page_for": "1m", "ticket_for": "10m"}},
}

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None,
                                    reason="Debian prometheus (promtool) not installed; scripts/test.sh installs it")


@pytest.fixture(scope="module")
def cfg():
    return load_config(None)


@pytest.fixture(scope="module")
def other_cfg():
    return load_config(None, overrides=NON_DEFAULT)


def _promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


# ---- golden files, determinism ----------------------------------------------------------------------
def test_rules_match_golden(cfg):
    assert render_rules(cfg) == (GOLDEN / "alert-rules.yaml").read_text(encoding="utf-8"), REFRESH


def test_dashboard_matches_golden(cfg):
    assert render_dashboard(cfg) == (GOLDEN / "grafana-dashboard.json").read_text(encoding="utf-8"), REFRESH


def test_promtool_tests_match_committed(cfg):
    for name, text in render_tests(cfg, "../golden/alert-rules.yaml").items():
        assert text == (PROMTOOL_DIR / name).read_text(encoding="utf-8"), f"{name}: {REFRESH}"


def test_exports_are_byte_identical_across_processes(tmp_path):
    """Different hash seeds, separate interpreters, through the CLI: same bytes."""
    outs = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        rules, dash = tmp_path / f"r{seed}.yaml", tmp_path / f"d{seed}.json"
        for kind, out in (("alerts", rules), ("grafana", dash)):
            subprocess.run([sys.executable, "-m", "memlens.cli", "export", kind, "--out", str(out)],
                           check=True, env=env, cwd=ROOT, capture_output=True, timeout=120)
        outs.append((rules.read_bytes(), dash.read_bytes()))
    assert outs[0] == outs[1]
    assert outs[0][0] == (GOLDEN / "alert-rules.yaml").read_bytes()
    assert outs[0][1] == (GOLDEN / "grafana-dashboard.json").read_bytes()


# ---- rule content -----------------------------------------------------------------------------------
def _alerts(cfg):
    """{alert name, or name@scope for a per-operation alert: rule}."""
    return {r["alert"] + (f"@{r['labels']['scope']}" if "scope" in r["labels"] else ""): r
            for g in rule_groups(cfg)["groups"] for r in g["rules"] if "alert" in r}


def _records(cfg):
    return {r["record"]: r["expr"] for g in rule_groups(cfg)["groups"] for r in g["rules"] if "record" in r}


def test_every_reference_alert_is_generated_with_its_threshold(cfg):
    alerts = _alerts(cfg)
    expected = {  # reference "Recommended Alerts" + the P95/average warnings, default thresholds
        "Mem0HighP99Latency@search": '{op="search"} > 0.5', "Mem0HighP95Latency@search": '{op="search"} > 0.2',
        "Mem0HighAverageLatency@search": '{op="search"} > 0.1', "Mem0HighErrorRate@search": '{op="search"} > 0.05',
        "Mem0HighErrorRate@add_infer": '{op="add",infer="true"} > 0.05',
        "Mem0HighErrorRate@add": '{op="add",infer="false"} > 0.05',
        "Mem0HighErrorRate@other": '{op!~"search|add"} > 0.05',
        "Mem0LowCacheHitRate": "< 0.5", "Mem0DailyCostOverBudget": "> 5",
        "Mem0StorageGrowthHigh": "> 0.2", "Mem0SlowOperationShareHigh@search": '{op="search",le="0.2"} > 0.1',
    }
    for name, comparison in expected.items():
        assert comparison in alerts[name]["expr"], name
    # Latency and slow share cover the reference's query latency (search) only: an LLM add takes seconds.
    assert not any(n.startswith(("Mem0HighP99", "Mem0HighP95", "Mem0HighAverage", "Mem0SlowOperation"))
                   and not n.endswith("@search") for n in alerts)
    slo = {n for n in alerts if "SLO" in n}
    assert slo == {"Mem0AvailabilitySLOBurnRateFast", "Mem0AvailabilitySLOBurnRateSlow",
                   "Mem0LatencySLOBurnRateFast", "Mem0LatencySLOBurnRateSlow"}


def test_alert_shape(cfg):
    runbooks = (ROOT / "docs" / "runbooks.md").read_text(encoding="utf-8")
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
               for h in re.findall(r"^## (.+)$", runbooks, flags=re.M)}
    for name, rule in _alerts(cfg).items():
        assert re.fullmatch(r"\d+[mh]", rule["for"]), name
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        ann = rule["annotations"]
        assert "$value" in ann["description"], name
        assert ann["summary"] and ann["runbook_url"].startswith(
            "https://github.com/memlens/memlens/blob/main/docs/runbooks.md#"), name
        assert ann["runbook_url"].split("#")[1] in anchors, f"{name}: runbook section missing"


def test_recording_rule_names_follow_level_metric_operations(cfg):
    for name in _records(cfg):
        level, metric, ops = name.split(":")
        assert level in ("service", "service_op", "service_kind_model"), name
        assert metric.startswith("memlens_mem0_") and not metric.endswith("_total"), name
        assert re.fullmatch(r"(p\d\d_|mean_)?rate\d+[mhd]|ratio_rate\d+[mhd]|increase1d|growth_ratio1w", ops), name


def test_ratios_guard_against_no_traffic(cfg):
    """Every division is by a `> 0`-filtered denominator (no traffic → no sample, never NaN or Inf)."""
    for name, expr in _records(cfg).items():
        for denominator in re.findall(r"\n/ (.*)", expr):
            assert denominator.startswith("(") and re.search(r"> 0\)( - 1)?$", denominator), (name, denominator)


def test_burn_rate_thresholds_follow_the_sre_workbook(cfg):
    fast = _alerts(cfg)["Mem0AvailabilitySLOBurnRateFast"]["expr"]
    slow = _alerts(cfg)["Mem0AvailabilitySLOBurnRateSlow"]["expr"]
    name = "service:memlens_mem0_slo_availability_errors_per_operations:ratio_rate"
    # budget 0.1 % (objective 99.9 %): 14.4x = 1.44 %, 6x = 0.6 %, 3x = 0.3 %, 1x = 0.1 %
    for window, limit in (("1h", "0.0144"), ("5m", "0.0144"), ("6h", "0.006"), ("30m", "0.006")):
        assert f"{name}{window} > {limit}" in fast
    for window, limit in (("1d", "0.003"), ("2h", "0.003"), ("3d", "0.001"), ("6h", "0.001")):
        assert f"{name}{window} > {limit}" in slow


def test_cost_rule_prices_come_from_the_price_table(other_cfg):
    cost = _records(other_cfg)["service:memlens_mem0_cost_usd:rate2m"]
    sel = 'environment="prod",service=~"shop-.*",'
    assert f'rate(memlens_mem0_tokens_total{{{sel}kind="embedding",model="my-embedder"}}[2m]) * 5e-07' in cost
    assert f'rate(memlens_mem0_tokens_total{{{sel}kind="llm_output",model="my-llm"}}[2m]) * 3e-06' in cost
    assert f'rate(memlens_mem0_operations_total{{{sel}mode="platform",op="search"}}[2m]) * 0.001' in cost
    assert 'op="add"' not in cost  # zero per-call prices are left out


def test_non_default_config_changes_the_rules(other_cfg):
    text = render_rules(other_cfg)
    assert 'p99_rate2m{op="search"} > 1\n' in text and 'le="0.5"' in text
    assert "runbook_url: https://wiki.example.com/" in text
    assert "ratio_rate1h > 0.144" in text  # 14.4 x (1 - 0.99)
    alerts = _alerts(other_cfg)
    assert 'p99_rate2m{op="add",infer="true"} > 8\n' in alerts["Mem0HighP99Latency@add_infer"]["expr"]
    assert alerts["Mem0HighP99Latency@add"]["labels"] == {"severity": "warning", "team": "memory", "page": "no",
                                                          "scope": "add"}
    assert 'p95_rate2m{op=~"get|get_all"} > 0.4' in alerts["Mem0HighP95Latency@get"]["expr"]
    assert '{op="add",infer="true",le="5.0"} > 0.2' in alerts["Mem0SlowOperationShareHigh@add_infer"]["expr"]
    assert '{op="add",infer="false"} > 0.01' in alerts["Mem0HighErrorRate@add"]["expr"]
    # the selector reaches every raw selector, the kept label every aggregation
    assert 'rate(memlens_mem0_operations_total{environment="prod",service=~"shop-.*"}[2m])' in text
    assert "sum by (service, op, infer, environment)" in text and "sum by (service, environment)" in text
    assert 'op=~"search|get"' in text  # the latency SLO's scope


def test_threshold_off_the_histogram_buckets_is_a_clear_error():
    cfg = load_config(None, overrides={"thresholds": {"slow_op_ms": 250}})
    with pytest.raises(ValueError, match=r"thresholds.slow_op_ms \(scope search\)=250 ms is not a bucket bound"):
        render_rules(cfg)


def test_percentile_threshold_past_the_last_bucket_is_a_clear_error():
    cfg = load_config(None, overrides={"alerts": {"scopes": {"add_infer": {"p99_ms": 10000}}}})
    with pytest.raises(ValueError, match=r"alerts.scopes.add_infer.p99_ms=10000 ms can never fire"):
        render_rules(cfg)


def test_percentile_threshold_below_the_first_bucket_is_a_clear_error():
    cfg = load_config(None, overrides={"alerts": {"scopes": {"add": {"p95_ms": 0.9}}}})
    with pytest.raises(ValueError, match=r"alerts.scopes.add.p95_ms=0.9 ms fires on any traffic: .* at least 0.95 ms"):
        render_rules(cfg)


@pytest.mark.prometheus
@needs_promtool
def test_a_percentile_threshold_at_the_lowest_bucket_bound_gets_passing_unit_tests(tmp_path):
    """1 ms: the quiet case's calls sit in the first bucket (0, 1 ms] (P99 0.99 ms); was an IndexError that broke
    the Alerts page when a threshold was edited to it."""
    low = load_config(None, overrides={"thresholds": {"p99_ms": 1}})
    (tmp_path / "rules.yaml").write_text(render_rules(low), encoding="utf-8")
    for name, text in render_tests(low, "rules.yaml").items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        res = _promtool("test", "rules", name, cwd=tmp_path)
        assert res.returncode == 0 and "SUCCESS" in res.stdout, res.stdout + res.stderr


def test_overlapping_scopes_are_a_clear_error():
    cfg = load_config(None, overrides={"alerts": {"scopes": {"gets": {"match": {"op": "get"}}}}})
    with pytest.raises(ValueError, match=r"alerts.scopes: other and gets both cover op=get; narrow one"):
        render_rules(cfg)


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"alerts": {"runbook_base_url": "docs/runbooks.md"}}, "alerts.runbook_base_url: must be an absolute "
                                                           "http(s) URL"),
    ({"alerts": {"scopes": {"x": {"match": {"mode": "oss"}}}}}, "a scope matches on op, infer only"),
    ({"alerts": {"scopes": {"x": {"match": {"op": "=~(unclosed"}}}}}, "bad regex"),
    ({"alerts": {"keep_labels": ["op"]}}, "set by memlens itself"),
    ({"alerts": {"rules": {"p99_latency": {"severity": "page"}}}}, "alerts.rules.p99_latency.severity"),
])
def test_bad_alert_config_is_a_one_line_error_naming_the_field(overrides, fragment):
    from memlens.config import ConfigError

    with pytest.raises(ConfigError) as err:
        load_config(None, overrides=overrides)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_template_helpers_match_prometheus_formatting():
    assert humanize_duration(0.9975) == "997.5ms"
    assert humanize_duration(1.5) == "1.5s"
    assert humanize_percentage(0.0045) == "0.45%"


# ---- promtool ---------------------------------------------------------------------------------------
@pytest.mark.prometheus
@needs_promtool
def test_promtool_check_rules_default_and_non_default(tmp_path, other_cfg):
    ok = _promtool("check", "rules", str(GOLDEN / "alert-rules.yaml"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "SUCCESS: 41 rules found" in ok.stdout
    other = tmp_path / "other.yaml"
    other.write_text(render_rules(other_cfg), encoding="utf-8")
    res = _promtool("check", "rules", str(other))
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.prometheus
@needs_promtool
def test_promtool_unit_tests_committed():
    for name in ("alert-rules.test.yaml", "alert-rules-long.test.yaml"):
        res = _promtool("test", "rules", name, cwd=PROMTOOL_DIR)
        assert res.returncode == 0 and "SUCCESS" in res.stdout, res.stdout + res.stderr


@pytest.mark.prometheus
@needs_promtool
def test_promtool_unit_tests_non_default_config(tmp_path, other_cfg):
    (tmp_path / "rules.yaml").write_text(render_rules(other_cfg), encoding="utf-8")
    for name, text in render_tests(other_cfg, "rules.yaml").items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        res = _promtool("test", "rules", name, cwd=tmp_path)
        assert res.returncode == 0 and "SUCCESS" in res.stdout, res.stdout + res.stderr


@pytest.mark.prometheus
@needs_promtool
def test_promtool_unit_tests_catch_a_wrong_threshold(tmp_path, cfg):
    """The unit tests have teeth: rules with a P99 threshold of 1 s fail the default-config cases."""
    wrong = load_config(None, overrides={"thresholds": {"p99_ms": 1000}})
    (tmp_path / "rules.yaml").write_text(render_rules(wrong), encoding="utf-8")
    tests = render_tests(cfg, "rules.yaml")["alert-rules.test.yaml"]
    (tmp_path / "t.yaml").write_text(tests, encoding="utf-8")
    res = _promtool("test", "rules", "t.yaml", cwd=tmp_path)
    assert res.returncode != 0
    assert "Mem0HighP99Latency" in res.stdout + res.stderr


# ---- Grafana structure ------------------------------------------------------------------------------
def test_dashboard_structure(cfg):
    d = json.loads(render_dashboard(cfg))
    assert d["schemaVersion"] == 36 and d["uid"] == "memlens-mem0"
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for name in ("service", "op"):
        assert variables[name]["type"] == "query" and variables[name]["includeAll"]
        assert variables[name]["datasource"]["uid"] == "${datasource}"
    panels = [p for p in d["panels"] if p["type"] != "row"]
    titles = {p["title"] for p in panels}
    assert {"Latency percentiles", "Throughput", "Error rate", "Cache hit rate", "Tokens",
            "Cost rate (USD per day)", "Stored memories: weekly growth at the current rate"} <= titles
    assert len({p["id"] for p in d["panels"]}) == len(d["panels"])
    for p in panels:
        assert p["datasource"]["uid"] == "${datasource}"
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}"
            assert "$service" in t["expr"]
    by_title = {p["title"]: p for p in panels}

    def steps(title):
        return [s["value"] for s in by_title[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]]

    assert steps("Latency percentiles") == [None, 0.2, 0.5]
    assert steps("Error rate") == [None, 0.05]
    assert steps("Cache hit rate") == [None, 0.5, 0.7]
    assert steps("Cost rate (USD per day)") == [None, 5.0]
    assert by_title["Error rate"]["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line+area"


def test_dashboard_round_trips_through_the_sdk_model(cfg):
    """Grafana's schema as the SDK encodes it: parse the JSON back into the model and re-encode, unchanged."""
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    text = render_dashboard(cfg)
    again = json.dumps(Dashboard.from_json(json.loads(text)), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
    assert json.loads(again) == json.loads(text)


def test_dashboard_metrics_are_the_contract_metrics(cfg):
    exprs = expressions(render_dashboard(cfg))
    used = {m for e in exprs for m in re.findall(r"\b(memlens_mem0_[a-z_]+)", e)}
    contract = {promql.DURATION + s for s in ("_bucket", "_sum", "_count")} | {
        promql.OPERATIONS, promql.TOKENS, promql.CACHE, promql.CHANGES}
    assert used == contract


def test_export_cli_writes_files(tmp_path):
    from memlens.cli import main

    out = tmp_path / "deep" / "alert-rules.yaml"
    assert main(["export", "alerts", "--out", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["groups"][0]["name"] == "memlens-mem0-recording"
    assert main(["export", "grafana", "--out", str(tmp_path / "d.json")]) == 0
    assert json.loads((tmp_path / "d.json").read_text())["title"] == "Mem0 (memlens)"


# ---- memlens export all -----------------------------------------------------------------------------------------
SCHEMAS = ROOT / "tests" / "schemas"


def _export_all(tmp_path, name, *args) -> dict[str, bytes]:
    out = tmp_path / name
    res = subprocess.run([sys.executable, "-m", "memlens.cli", "export", "all", "--out", str(out), *args],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_export_all_writes_what_a_monitoring_repo_holds(tmp_path):
    files = _export_all(tmp_path, "plain")
    assert sorted(files) == ["README.md", "alert-rules-long.test.yaml", "alert-rules.test.yaml", "alert-rules.yaml",
                             "grafana-dashboard.json", "grafana-provisioning.yaml", "memlens-alerts.yaml"]
    assert files["alert-rules.yaml"] == (GOLDEN / "alert-rules.yaml").read_bytes()
    assert files["grafana-dashboard.json"] == (GOLDEN / "grafana-dashboard.json").read_bytes()
    readme = files["README.md"].decode()
    assert "promtool check rules alert-rules.yaml" in readme
    assert "promtool test rules alert-rules.test.yaml alert-rules-long.test.yaml" in readme
    provisioning = yaml.safe_load(files["grafana-provisioning.yaml"])
    assert provisioning["apiVersion"] == 1
    assert provisioning["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/memlens"
    operator = _export_all(tmp_path, "operator", "--format", "prometheus-operator")
    assert set(operator) == {*files, "prometheus-rule.yaml"}
    assert "--format prometheus-operator" in operator["README.md"].decode()


@pytest.mark.parametrize("which", ["default", "non-default"])
def test_exported_config_reproduces_every_file_byte_for_byte(tmp_path, which):
    """memlens-alerts.yaml is the config the files came from: exporting from it gives the same bytes, also when a
    default scope was removed and label sets were replaced (not merged into the defaults)."""
    overrides = {**NON_DEFAULT, "alerts": {**NON_DEFAULT["alerts"], "scopes": {
        **NON_DEFAULT["alerts"]["scopes"], "add_infer": None,
        "add": {"match": {"op": "add"}, "p99_ms": 1000, "error_rate": 0.01}}}} if which == "non-default" else {}
    first = tmp_path / "first.yaml"
    first.write_text(yaml.safe_dump(overrides), encoding="utf-8")
    a = _export_all(tmp_path, "a", "--config", str(first), "--format", "prometheus-operator")
    (tmp_path / "again.yaml").write_bytes(a["memlens-alerts.yaml"])
    b = _export_all(tmp_path, "b", "--config", str(tmp_path / "again.yaml"), "--format", "prometheus-operator")
    assert a == b
    if which == "non-default":
        cfg = load_config(tmp_path / "again.yaml")
        assert "add_infer" not in {k for k, v in cfg.alerts.scopes.items() if v is not None}
        assert cfg.alerts.scopes["add"].match == {"op": "add"}  # replaced: no infer left over from the defaults


@pytest.mark.prometheus
@needs_promtool
@pytest.mark.parametrize("which", ["default", "non-default"])
def test_promtool_checks_and_unit_tests_every_exported_rule_set(tmp_path, which):
    args = []
    if which == "non-default":
        (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(NON_DEFAULT), encoding="utf-8")
        args = ["--config", str(tmp_path / "cfg.yaml")]
    _export_all(tmp_path, "out", *args)
    out = tmp_path / "out"
    check = _promtool("check", "rules", "alert-rules.yaml", cwd=out)
    assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout + check.stderr
    test = _promtool("test", "rules", "alert-rules.test.yaml", "alert-rules-long.test.yaml", cwd=out)
    assert test.returncode == 0 and test.stdout.count("SUCCESS") == 2, test.stdout + test.stderr


@pytest.mark.parametrize("which", ["default", "non-default"])
def test_prometheus_rule_validates_against_the_pinned_crd_schema(tmp_path, which):
    import jsonschema

    from memlens.alerts.export import render_prometheus_rule

    overrides = {} if which == "default" else {**NON_DEFAULT, "alerts": {**NON_DEFAULT["alerts"], "export": {
        "prometheus_rule_namespace": "monitoring", "prometheus_rule_labels": {"release": "prometheus"}}}}
    cfg = load_config(None, overrides=overrides)
    doc = yaml.safe_load(render_prometheus_rule(cfg))
    crd = yaml.safe_load((SCHEMAS / "monitoring.coreos.com_prometheusrules.yaml").read_text(encoding="utf-8"))
    version = next(v for v in crd["spec"]["versions"] if v["served"] and v["storage"])
    # OpenAPI v3 (Kubernetes: draft-4/7 keywords, RE2 patterns such as "(?i)..." that the draft 2020 metaschema's
    # ECMA regex check rejects): validate with a draft-7 validator, without checking the schema itself.
    validator = jsonschema.Draft7Validator(version["schema"]["openAPIV3Schema"])
    validator.validate(doc)
    assert doc["apiVersion"] == f"{crd['spec']['group']}/{version['name']}"
    assert doc["kind"] == crd["spec"]["names"]["kind"]
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", doc["metadata"]["name"])
    names = [g["name"] for g in doc["spec"]["groups"]]
    assert len(names) == len(set(names))  # x-kubernetes-list-type: map keyed by name
    for g in doc["spec"]["groups"]:
        for r in g["rules"]:
            assert ("alert" in r) != ("record" in r)  # exactly one of them, as the CRD describes
    assert doc["spec"] == rule_groups(cfg)  # the same groups promtool checks in alert-rules.yaml
    if which == "non-default":
        assert doc["metadata"]["namespace"] == "monitoring" and doc["metadata"]["labels"]["release"] == "prometheus"
    # and the schema has teeth: a rule without expr, or a bad for:, is rejected
    bad = yaml.safe_load(render_prometheus_rule(cfg))
    bad["spec"]["groups"][1]["rules"][0]["for"] = "ten minutes"
    with pytest.raises(jsonschema.ValidationError, match="ten minutes"):
        validator.validate(bad)
    del bad["spec"]["groups"][1]["rules"][0]["for"], bad["spec"]["groups"][1]["rules"][0]["expr"]
    with pytest.raises(jsonschema.ValidationError, match="'expr' is a required property"):
        validator.validate(bad)


def test_export_all_bad_config_is_one_line_exit_2(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("alerts:\n  runbook_base_url: docs/runbooks.md\n", encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "memlens.cli", "export", "all", "--out", str(tmp_path / "o"),
                          "--config", str(cfg)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "alerts.runbook_base_url" in res.stderr and "absolute" in res.stderr
    assert not (tmp_path / "o").exists()


def test_dashboard_draws_the_search_scope_thresholds():
    """The Grafana lines follow the rule that pages: the thresholds of the scope covering search."""
    cfg = load_config(None, overrides={"alerts": {"scopes": {"search": {"p99_ms": 750, "error_rate": 0.02}}}})
    panels = {p["title"]: p for p in json.loads(render_dashboard(cfg))["panels"] if p["type"] != "row"}

    def steps(title):
        return [s["value"] for s in panels[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]]

    assert steps("Latency percentiles") == [None, 0.2, 0.75] and steps("Error rate") == [None, 0.02]


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml: one emitter only")
def test_promtool_tests_are_the_same_bytes_with_either_yaml_emitter(monkeypatch):
    from memlens.alerts import promtool_tests

    cfg = load_config()
    fast = render_tests(cfg, "alert-rules.yaml")
    assert promtool_tests.DUMPER is yaml.CSafeDumper
    monkeypatch.setattr(promtool_tests, "DUMPER", yaml.SafeDumper)
    assert render_tests(cfg, "alert-rules.yaml") == fast
