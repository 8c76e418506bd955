"""Health grading, the diagnosis trees and the weekly cost review, with hand-computed answers."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from view_support import insert_history

from memlens import diagnosis, figures, health, layer
from memlens.config import load_config
from memlens.health import Measured


@pytest.fixture(scope="module")
def cfg():
    return load_config()


# ---- health ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [(99.0, "green"), (100.0, "amber"), (125.0, "amber"),
                                                 (125.1, "red"), (None, "unknown")])
def test_grade_lower_is_better(value, expected):
    # target 100 ms, red edge 100 x 1.25 = 125 ms
    assert health.grade(value, 100.0, 125.0, higher_is_better=False) == expected


@pytest.mark.parametrize(("value", "expected"), [(0.71, "green"), (0.70, "amber"), (0.50, "amber"),
                                                 (0.49, "red")])
def test_grade_higher_is_better(value, expected):
    assert health.grade(value, 0.70, 0.50, higher_is_better=True) == expected


def test_checks_use_reference_targets_and_alert_edges(cfg):
    m = Measured(avg_ms=110, p95_ms=150, p99_ms=900, error_rate=0.04, slow_share=0.02, hit_rate=0.55,
                 miss_penalty=1.5, cost_per_1k={"oss": 0.03, "platform": 0.05}, embedding_share=0.45,
                 storage_growth_month=None, max_daily_cost_usd=1.0)
    by_key = {c.key: c for c in health.checks(m, cfg)}
    assert by_key["latency_avg"].status == "amber"            # 110 in (100, 125]
    assert by_key["latency_p95"].status == "green"
    assert by_key["latency_p99"].status == "red"              # 900 > 625
    assert by_key["error_rate"].status == "amber"             # 4 % in (3.75 %, 5 %]
    assert by_key["slow_share"].status == "green"             # 2 % < 7.5 %
    assert by_key["cache_hit_rate"].status == "amber"         # alert edge 50 % (config), target 70 %
    assert by_key["cache_hit_rate"].red_at == 0.50
    assert by_key["cache_miss_penalty"].status == "green"
    assert by_key["cost_per_1k_oss"].status == "red"          # 0.03 > 0.02 x 1.25
    # Platform calls cost $0 until prices.platform_per_call is set: not "green", unknown with a hint
    assert by_key["cost_per_1k_platform"].status == "unknown"
    assert "platform_per_call" in by_key["cost_per_1k_platform"].hint
    assert by_key["error_rate"].target_text == "alert > 5.0 %"
    assert by_key["latency_avg"].target_text == "target < 100 ms"
    assert by_key["embedding_share"].status == "amber"        # 45 % in (40 %, 50 %]
    assert by_key["storage_growth"].status == "unknown"
    assert "collect history" in by_key["storage_growth"].hint
    assert by_key["daily_cost"].status == "green"             # $1 < $3.75


def test_platform_cost_graded_once_priced():
    cfg = load_config(overrides={"prices": {"platform_per_call": {"search": 0.0001}}})
    by_key = {c.key: c for c in health.checks(Measured(cost_per_1k={"platform": 0.05}), cfg)}
    assert by_key["cost_per_1k_platform"].status == "green"   # 0.05 < 0.10


def test_top_problems_red_first_then_furthest(cfg):
    m = Measured(avg_ms=110, p95_ms=150, p99_ms=900, error_rate=0.04, slow_share=0.02, hit_rate=0.55,
                 miss_penalty=1.5, cost_per_1k={"oss": 0.03}, embedding_share=0.45)
    top = health.top_problems(health.checks(m, cfg))
    # reds: p99 (900/500 = 1.8), cost oss (0.03/0.02 = 1.5); then ambers by severity: hit rate 0.70/0.55 = 1.27,
    # error 0.04/0.0375 = 1.07, embedding 0.45/0.40 = 1.125, avg 1.1 → hit rate first.
    assert [c.key for c in top] == ["latency_p99", "cost_per_1k_oss", "cache_hit_rate"]


def _growing_history(con, days: int) -> None:
    """100 bytes on Nov 1, one more byte every day after: 100 + i bytes held on day i."""
    t0 = datetime(2026, 11, 1, 12)
    rows = [("m0", "ADD", t0, None, 100)]
    rows += [("m0", "UPDATE", t0 + timedelta(days=i), 99 + i, 100 + i) for i in range(1, days)]
    insert_history(con, rows)


GROWTH = ("storage_growth_month", "storage_growth_month_estimate", "storage_growth_week")


def test_storage_growth_one_definition(con):
    _growing_history(con, 31)  # 100 on Nov 1 … 130 on Dec 1
    g = figures.values(con, GROWTH)
    assert g["storage_growth_month"] == pytest.approx(0.30)
    assert g["storage_growth_week"] == pytest.approx(7 / 123)
    assert g["storage_growth_month_estimate"] is None  # measured: no estimate
    # as of the end of the selection: Nov 21 (held 120) vs Oct 22 (nothing held yet) → no monthly rate, estimate
    early = figures.values(con, GROWTH, layer.Filters.days(None, date(2026, 11, 20)))
    assert early["storage_growth_month"] is None
    assert early["storage_growth_week"] == pytest.approx(7 / 112)           # Nov 20: 119 vs Nov 13: 112
    assert early["storage_growth_month_estimate"] == pytest.approx(7 / 112 * 30 / 7)
    m = health.measure(con, layer.Filters.days(None, date(2026, 11, 20)))
    assert m.storage_growth_is_estimate and m.storage_growth_month == pytest.approx(30 / 112)
    check = next(c for c in health.checks(m, load_config()) if c.key == "storage_growth")
    assert check.label == "Storage growth per month (estimate)" and check.status == "red"  # 26.8 % vs 10 %


def test_storage_growth_needs_a_week(con):
    _growing_history(con, 5)
    g = figures.values(con, GROWTH)
    assert g == dict.fromkeys(GROWTH)


def test_format_value():
    assert health.format_value(0.1234, "ratio") == "12.3 %"
    assert health.format_value(1234.4, "ms") == "1,234 ms"
    assert health.format_value(2.5, "x") == "2.50×"
    assert health.format_value(0.0123, "usd") == "$0.0123"
    assert health.format_value(12.5, "usd") == "$12.50"
    assert health.format_value(None, "usd") == "n/a"


# ---- diagnosis ------------------------------------------------------------------------------------------------

def test_slow_tree_lights_avg_p99_and_variance(cfg):
    m = Measured(avg_ms=250, p50_ms=80, p99_ms=800, slow_share=0.2, hit_rate=None, search_avg_top_k=20,
                 search_unscoped_share=0.5)
    r = diagnosis.evaluate(diagnosis.SLOW, m, cfg)
    answers = {x.node.key: x.answer for x in r.results}
    # avg 250 > 200; P99 800 > 500; 800/80 = 10 >= 5; P50 80 < 200
    assert answers == {"avg": "yes", "p99": "yes", "variance": "yes", "all_slow": "no", "phase_embedding": "unknown",
                       "phase_vector_search": "unknown", "phase_rerank": "unknown", "vector_growth": "unknown"}
    actions = [a for a, _, _ in r.actions()]
    assert actions[:2] == ["Reduce the search limit (top_k)", "Add filters (scope by user_id / agent_id / run_id)"]
    assert "Add caching" in actions and not any("infrastructure" in a for a in actions)
    avg_evidence = r.actions()[0][2]
    assert "searches ask for 20.0 results on average (chat apps need 3-5)" in avg_evidence
    assert "50.0 % of searches have no user/agent/run scope" in avg_evidence
    assert r.results[2].measurement.startswith("P99 / P50 = 10.0×")
    assert r.problem


def test_slow_tree_says_which_phase_to_work_on(cfg):
    """Embedding 70 % of search time -> the embedding actions; vector search P95 up 40 % while the store grew
    25 % -> the store-size actions. Shares and growth hand-computed."""
    m = Measured(search_phase_share={"embedding": 0.70, "vector_search": 0.22}, search_phase_calls=1200,
                 vector_search_p95_first_ms=10.0, vector_search_p95_last_ms=14.0, memories_first=8000,
                 memories_last=10000, could_be_served=0.4)
    r = diagnosis.evaluate(diagnosis.SLOW, m, cfg)
    by_key = {x.node.key: x for x in r.results}
    assert {k: by_key[k].answer for k in ("phase_embedding", "phase_vector_search", "phase_rerank",
                                          "vector_growth")} == {
        "phase_embedding": "yes", "phase_vector_search": "no", "phase_rerank": "no", "vector_growth": "yes"}
    assert by_key["phase_embedding"].measurement == "embedding is 70.0 % of search time vs 50.0 %"
    assert by_key["phase_embedding"].evidence[0] == (
        "search time by phase (1,200 searches): embedding 70.0 %, vector search 22.0 %, Mem0's own code 8.0 %")
    assert by_key["vector_growth"].measurement == (
        "vector search daily P95 10 ms → 14 ms (+40.0 %) vs +25.0 %; memories 8,000 → 10,000 (+25.0 %)")
    actions = [a for a, _, _ in r.actions()]
    assert actions == ["Add caching", "Cache embeddings", "Use a smaller embedding model",
                       "Use a faster embedding endpoint (same region as the app, or a local model)",
                       "Prune low-value memories", "Archive old memories", "Deduplicate memories",
                       "Optimize the vector store indexes"]
    # P95 up but the store did not grow: not "with collection size"
    flat = diagnosis.evaluate(diagnosis.SLOW, Measured(vector_search_p95_first_ms=10.0, vector_search_p95_last_ms=14.0,
                                                       memories_first=10000, memories_last=10000), cfg)
    assert {x.node.key: x.answer for x in flat.results}["vector_growth"] == "no"


def test_slow_tree_unknown_without_data(cfg):
    r = diagnosis.evaluate(diagnosis.SLOW, Measured(), cfg)
    assert {x.answer for x in r.results} == {"unknown"}
    assert r.actions() == [] and not r.problem


@pytest.mark.parametrize(("rate", "lit"), [(0.10, "lt30"), (0.30, "30_60"), (0.59, "30_60"), (0.60, "60_80"),
                                           (0.85, "gt80")])
def test_cache_tree_bands(cfg, rate, lit):
    r = diagnosis.evaluate(diagnosis.CACHE, Measured(hit_rate=rate), cfg)
    assert [x.node.key for x in r.lit] == [lit]
    assert r.path[-1] == lit  # the band walk stops at the matching band
    assert r.problem == (lit in ("lt30", "30_60"))


def test_cost_tree(cfg):
    m = Measured(embedding_share=0.6, storage_growth_month=0.05, cost_per_1k={"oss": 0.01},
                 projected_month_usd=200.0, max_daily_cost_usd=2.0, add_avg_messages=1.0, searches=1000)
    r = diagnosis.evaluate(diagnosis.COST, m, cfg)
    assert {x.node.key: x.answer for x in r.results} == {
        "llm": "unknown", "embedding": "yes", "storage": "no", "query": "no", "overall": "yes"}  # $200 > $150 budget
    assert "adds carry 1.0 messages on average" in r.results[1].evidence  # the embedding node (after the LLM one)


def test_dot_has_every_node_and_no_unescaped_quotes(cfg):
    r = diagnosis.evaluate(diagnosis.SLOW, Measured(avg_ms=250, p50_ms=80, p99_ms=800), cfg)
    dot = diagnosis.to_dot(r)
    assert dot.startswith("digraph G {") and dot.rstrip().endswith("}")
    for i in range(4):
        assert f"q{i} [" in dot and f"a{i} [" in dot
    assert dot.count('fillcolor="#f8d7da"') == 6  # 3 lit questions + their 3 action notes
