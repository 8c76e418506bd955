"""AppTest of the Optimize page on the dashboard's known fixture warehouse (figures counted by hand)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from dashboard_fixtures import make_warehouse

PAGE = str(Path(__file__).resolve().parent.parent / "dashboard" / "app_pages" / "optimization.py")


@pytest.fixture
def page(tmp_path):
    from streamlit.testing.v1 import AppTest

    from memlens.config import load_config
    from memlens.dashboard import data, state

    path = make_warehouse(tmp_path / "w.duckdb")
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[state.CTX_KEY] = state.Ctx(str(path), load_config(), data.ALL, ("fixture",),
                                                 date(2026, 11, 9), date(2026, 11, 22), 40, 0)
    yield at.run()
    state.holder(str(path)).close()


def test_optimize_page_renders_every_analysis(page):
    assert not page.exception
    assert [t.value for t in page.title] == ["Optimize"]
    subheaders = [h.value for h in page.subheader]
    assert subheaders[:4] == ["Recommendations, largest impact first", "Cache what-if (exact replay)",
                              "Duplicates, pruning, archival", "Month-end cost forecast"]
    assert subheaders[4].startswith("Vector store: ")
    metrics = {m.label: m.value for m in page.metric}
    # Cacheable: alice's 10 searches of one key (bob's 20 have no user: a SearchCache bypasses them). The log says
    # a cache served all 10, so all 10 could be served. A replay from an empty cache serves none: her searches
    # come in pairs at the same instant (the second starts before the first returned) a day or more apart.
    assert metrics["Measured hit rate"] == "100.0 %"
    assert metrics["Could be served"] == "100.0 %"
    assert metrics["Replay at TTL 300 s, 10,000 entries"] == "0.0 %"
    ranked = page.dataframe[0].value
    assert len(ranked) == 13 and list(ranked["rank"]) == list(range(1, 14))
    # Bob's 20 unscoped searches at 300 ms vs alice's scoped 40 ms: 20 x 260 ms over the 13.1-day log.
    scope = ranked.set_index("recommendation").loc["Scope unscoped searches"]
    # The log runs from Nov 9 01:00 to the last add on Nov 22 03:00: 13 days 2 hours.
    assert scope["latency_saved_s_per_month"] == pytest.approx(20 * 0.260 * 30 / (13 + 2 / 24))
    assert len(page.get("plotly_chart")) == 3
    assert any("SearchCache(ttl_s=" in c.value for c in page.code)


def test_switching_cache_code_to_redis(page):
    page.radio(key="opt_cache_kind").set_value("redis").run()
    assert not page.exception
    assert any("RedisSearchCache" in c.value for c in page.code)


def test_reached_through_the_app_navigation(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    cfg = tmp_path / "memlens.yaml"
    cfg.write_text("dashboard:\n  demo_when_empty: false\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg))
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(make_warehouse(tmp_path / "nav.duckdb")))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(Path(PAGE).parent.parent / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/optimization.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Optimize"]
    assert {m.label: m.value for m in at.metric}["Could be served"] == "100.0 %"
