"""The Diagnosis page's actions → the savings `optimize/` projects (optimize/diagnosis_link.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from dashboard_fixtures import make_warehouse

from memlens.config import load_config
from memlens.diagnosis import CACHE, COST, SLOW, TREES, NodeResult
from memlens.optimize.advise import build_advice
from memlens.optimize.diagnosis_link import ACTION_SAVINGS, linked_savings
from memlens.optimize.savings import Saving

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


def _node(tree, key: str):
    return next(n for n in tree.nodes if n.key == key)


def _lit(node) -> NodeResult:
    return NodeResult(node, "yes", "measured", ())


def _saving(key: str, usd: float = 0.0, latency_ms: float = 0.0, days: float = 10.0) -> Saving:
    return Saving(key, f"title {key}", f"formula {key}", latency_saved_ms=latency_ms, cost_saved_usd=usd,
                  period_days=days)


def test_every_tree_action_is_mapped_and_nothing_else(con):
    actions = {a for t in TREES for n in t.nodes for a in n.actions}
    assert set(ACTION_SAVINGS) == actions
    # Every key named is one build_advice produces (computed here on an empty warehouse).
    produced = {s.key for s in build_advice(con, load_config()).savings}
    assert {k for keys in ACTION_SAVINGS.values() for k in keys} <= produced
    assert produced == {"cache", "limit", "scope", "rerank", "embedding", "llm_model", "infer_off", "noop_adds",
                        "batching", "reembed", "dedup", "pruning", "archival"}


def test_two_actions_backed_by_one_saving_show_it_once_with_its_figures():
    # $0.05 and 4,000 ms over a 10-day log → x 30 / 10: $0.15 and 12 s per month.
    savings = [_saving("limit", usd=1.0), _saving("cache", usd=0.05, latency_ms=4000)]
    linked = linked_savings(_lit(_node(COST, "query")), savings)
    assert [ls.saving.key for ls in linked] == ["cache"]
    assert linked[0].actions == ("Reduce search frequency", "Implement caching")
    assert linked[0].summary == "$0.1500 / month, 12.0 s less wait / month"


def test_summary_leaves_zero_parts_out_and_says_why_there_is_nothing():
    from dataclasses import replace

    node = _lit(_node(SLOW, "avg"))
    [limit] = linked_savings(node, [replace(_saving("limit", latency_ms=1000, days=30), note="n")])
    assert limit.summary == "1.0 s less wait / month"
    [limit] = linked_savings(node, [replace(_saving("limit", usd=0.3, days=30), note="n")])
    assert limit.summary == "$0.3000 / month"
    [limit] = linked_savings(node, [replace(_saving("limit"), note="no search asked for more than 5 results")])
    assert limit.summary == "nothing to save in this log (no search asked for more than 5 results)"


def test_order_follows_the_actions_and_missing_savings_are_skipped():
    savings = [_saving("rerank"), _saving("scope"), _saving("limit")]
    assert [ls.saving.key for ls in linked_savings(_lit(_node(SLOW, "avg")), savings)] == ["limit", "scope"]
    assert [ls.saving.key for ls in linked_savings(_lit(_node(SLOW, "variance")), savings[:2])] == ["scope",
                                                                                                     "rerank"]
    assert linked_savings(_lit(_node(SLOW, "all_slow")), savings) == []  # infrastructure checks: no analysis
    assert linked_savings(_lit(_node(CACHE, "gt80")), [_saving("cache")]) == []


def test_an_unmapped_action_is_an_error():
    from dataclasses import replace

    node = replace(_node(CACHE, "30_60"), actions=("Buy a bigger server",))
    with pytest.raises(KeyError):
        linked_savings(_lit(node), [_saving("cache")])


def test_diagnosis_page_shows_the_advice_figures(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from memlens.warehouse import connect

    cfg = tmp_path / "memlens.yaml"
    cfg.write_text("dashboard:\n  demo_when_empty: false\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg))
    path = make_warehouse(tmp_path / "known.duckdb")
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(path))
    con = connect(path)
    try:
        expected = {s.key: s for s in build_advice(con, load_config()).savings}
    finally:
        con.close()
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("app_pages/diagnosis.py").run()
    assert not at.exception, [e.value for e in at.exception]
    boxes = {w.value.split("**")[1]: w.value for w in at.warning if w.value.startswith("**")}
    # Average 213 ms > 200 ms lights "reduce the limit" and "add filters": bob's 20 unscoped searches at 300 ms
    # vs alice's scoped 40 ms save 20 x 260 ms over the 13 d 2 h log = 11.9 s per 30 days.
    scope = expected["scope"]
    assert scope.latency_saved_s_month == pytest.approx(20 * 0.260 * 30 / (13 + 2 / 24))
    avg = boxes["Average latency > slow threshold?"]
    assert scope.usd_month == 0  # no priced difference: only the wait is shown
    assert f"- Scope unscoped searches: {scope.latency_saved_s_month:,.1f} s less wait / month\n" in avg
    assert f"formula: `{scope.formula}`" in avg
    assert f"- {expected['limit'].title}: " in avg
    # The cache band and the query-cost node both point at the what-if cache replay. Its only cacheable searches
    # (alice's, with a user id; bob's have none, a SearchCache bypasses them) were all served by the log's cache
    # already: nothing more to save, and the page says why.
    cache = expected["cache"]
    assert cache.usd_month == 0 and cache.latency_saved_s_month == 0
    assert cache.note.startswith("no search this cache would serve that a cache in the log did not serve already")
    line = f"- {cache.title}: nothing to save in this log ({cache.note})"
    assert line in boxes["Hit rate in the second band?"] and line in boxes["Query costs high?"]
    assert "Projected saving" not in boxes["All queries slow?"]
    links = at.main.get("page_link")  # the page's own links, not the navigation in the sidebar
    assert links and {pl.proto.label for pl in links} == {"Evidence and all recommendations on Optimize"}
    assert len({pl.proto.page_script_hash for pl in links}) == 1 and links[0].proto.page_script_hash
    # the fixture's 20 timed searches spend 70 % of their time embedding: that node's cache savings link too
    assert "Embedding most of search time?" in boxes and line in boxes["Embedding most of search time?"]
    # and most of its cost is the LLM of its adds: the LLM node links the LLM levers
    assert "Projected saving" in boxes["LLM costs high?"]
    # average, embedding most of search time, second cache band, query costs, LLM costs
    assert len(links) == 5
