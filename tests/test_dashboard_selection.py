"""The selection in the URL (dashboard/sidebar.py) under AppTest: a preset or a filter picked in the sidebar is
written to the URL, a URL reproduces the selection (widgets and figures), a bad link is named and ignored, and a
URL that lost its parameters (a page switch) keeps the session's selection."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import streamlit as st
from dashboard_fixtures import make_warehouse
from streamlit.testing.v1 import AppTest

from memlens.dashboard.state import CTX_KEY

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
# known_events(): the newest call is an add at 2026-11-22 03:00; week 2 (Nov 16-22) holds 30 calls, 10 of them adds
WEEK = (datetime(2026, 11, 15, 4), datetime(2026, 11, 22, 4))


@pytest.fixture(autouse=True)
def app_env(tmp_path, monkeypatch):
    cfg = tmp_path / "memlens.yaml"
    cfg.write_text("dashboard:\n  demo_when_empty: false\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg))
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(make_warehouse(tmp_path / "known.duckdb")))
    st.cache_data.clear()
    st.cache_resource.clear()


def _app(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(params)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _ops(at: AppTest) -> int:
    at.switch_page("app_pages/latency.py").run()
    return int(next(m.value for m in at.main.metric if m.label == "Operations").replace(",", ""))


def test_the_default_is_all_data_and_is_written_to_the_url():
    at = _app()
    assert dict(at.query_params) == {"range": "all"}
    ctx = at.session_state[CTX_KEY]
    assert (ctx.filters.start, ctx.filters.end, ctx.grain) == (datetime(2026, 11, 9), datetime(2026, 11, 23), "hour")
    assert any(c.value.startswith("All data: 2026-11-09 00:00 → 2026-11-23 00:00 UTC (14 d, per hour)")
               for c in at.sidebar.caption)


def test_a_preset_and_a_filter_go_to_the_url_and_the_figures_follow():
    at = _app()
    at.button_group(key="t_preset").set_value("7d").run()
    assert dict(at.query_params) == {"range": "7d"}
    ctx = at.session_state[CTX_KEY]
    assert (ctx.filters.start, ctx.filters.end, ctx.grain) == (*WEEK, "hour")
    assert ctx.previous == ctx.filters.replace(start=datetime(2026, 11, 8, 4), end=datetime(2026, 11, 15, 4))
    at.sidebar.selectbox(key="f_op").set_value("add").run()
    assert dict(at.query_params) == {"range": "7d", "op": "add"}
    assert _ops(at) == 10
    at.sidebar.selectbox(key="f_op").set_value("All").run()
    assert dict(at.query_params) == {"range": "7d"}
    assert _ops(at) == 30


def test_a_link_reproduces_the_view():
    at = _app(range="7d", op="add")
    assert at.button_group(key="t_preset").value == "7d" and at.sidebar.selectbox(key="f_op").value == "add"
    assert _ops(at) == 10
    at = _app(**{"from": "2026-11-16T02:00", "to": "2026-11-16T03:30"})
    ctx = at.session_state[CTX_KEY]
    assert (ctx.filters.start, ctx.filters.end, ctx.grain) == (
        datetime(2026, 11, 16, 2), datetime(2026, 11, 16, 3, 30), "minute")
    assert at.sidebar.datetime_input(key="t_from").value == datetime(2026, 11, 16, 2)
    assert at.sidebar.datetime_input(key="t_to").value == datetime(2026, 11, 16, 3, 30)
    assert at.button_group(key="t_preset").value is None  # no preset lit for a custom range
    assert _ops(at) == 5  # Nov 16: bob's 3 searches at 02:00 and alice's 2 adds at 03:00 (days 7 + i % 7)


def test_typing_a_custom_range_replaces_the_preset():
    at = _app(range="7d")
    at.sidebar.datetime_input(key="t_from").set_value(datetime(2026, 11, 16))
    at.sidebar.datetime_input(key="t_to").set_value(datetime(2026, 11, 17))
    at.run()
    assert dict(at.query_params) == {"from": "2026-11-16T00:00", "to": "2026-11-17T00:00"}
    assert _ops(at) == 5  # the same 5 calls: nothing else on Nov 16
    # an end before the start is refused with a line saying so; the range stays
    at.sidebar.datetime_input(key="t_to").set_value(datetime(2026, 11, 15)).run()
    assert any("must end after it starts" in w.value for w in at.sidebar.warning)
    assert dict(at.query_params) == {"from": "2026-11-16T00:00", "to": "2026-11-17T00:00"}


def test_a_bad_link_is_named_and_ignored():
    at = _app(range="2w", op="nope")
    warnings = [w.value for w in at.sidebar.warning]
    assert any("range='2w' is not one of 15m, 1h, 6h, 24h, 7d, 30d, all" in w for w in warnings)
    assert any("op filter matches nothing" in w for w in warnings)
    assert dict(at.query_params) == {"range": "all"}


def test_a_url_without_the_selection_keeps_the_sessions_and_page_parameters_stay():
    at = _app(range="24h", op="search", split="service")
    at.query_params.clear()  # a link that dropped the parameters
    at.run()
    assert dict(at.query_params) == {"range": "24h", "op": "search"}
    at.query_params["split"] = "mode"
    at.run()
    assert dict(at.query_params) == {"range": "24h", "op": "search", "split": "mode"}
