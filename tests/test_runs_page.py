"""The Runs page and its logic (loadtest/runs_view.py) on a warehouse with two hand-built runs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from dashboard_fixtures import event, insert_events

from memlens.loadtest.runs_view import list_runs, side_by_side
from memlens.warehouse import connect

PAGE = str(Path(__file__).resolve().parent.parent / "dashboard" / "app_pages" / "runs.py")
T0 = datetime(2026, 11, 20, 10, 0, 0)
RUN_COLS = 23


def _run_row(run_id: str, started: datetime, users: int, top_k: int, wall_s: float, ops: int) -> list:
    return [run_id, "compare-x", "compare", f"limit{top_k}", "0123456789abcdef", "A" if top_k == 10 else "B", 1,
            users, "thread", "offline", False, top_k, False, 7, None, 10, started, started + timedelta(seconds=wall_s),
            wall_s, ops, 0, "{}", "0.1.0"]


def build(path) -> None:
    """Run A: 4 searches of 10, 20, 30, 40 ms in 2 s. Run B: 4 searches of 5, 5, 10, 20 ms in 1 s."""
    con = connect(path)
    evs = []
    for tag, lats in (("run-a", (10, 20, 30, 40)), ("run-b", (5, 5, 10, 20))):
        for lat in lats:
            evs.append(event(len(evs), ts=T0 + timedelta(seconds=len(evs)), tag=tag, latency_ms=float(lat),
                             user_id="u1", top_k=10 if tag == "run-a" else 5))
    insert_events(con, evs)
    con.executemany(f"INSERT INTO raw_loadtest_runs VALUES ({', '.join('?' * RUN_COLS)})",
                    [_run_row("run-a", T0, 2, 10, 2.0, 4), _run_row("run-b", T0 + timedelta(minutes=1), 2, 5, 1.0, 4)])
    # an event tagged by an application, not a run: not listed on the Runs page
    insert_events(con, [event(99, tag="app-tag")])
    con.close()


def test_side_by_side_hand_counted(tmp_path):
    build(tmp_path / "w.duckdb")
    con = connect(tmp_path / "w.duckdb")
    runs = list_runs(con)
    assert list(runs["run_id"]) == ["run-b", "run-a"]  # newest first, application tags left out
    t = side_by_side(runs, "run-a", "run-b").set_index("figure")
    # A: avg 25, P50 25, throughput 4 / 2 s = 2 ops/s. B: avg 10, P50 7.5, 4 / 1 s = 4 ops/s.
    assert t.loc["avg ms", ["A", "B"]].tolist() == ["25.00", "10.00"]
    assert t.loc["avg ms", "B / A"] == pytest.approx(0.4) and t.loc["avg ms", "change"] == "B better"
    assert t.loc["P50 ms", "B / A"] == pytest.approx(7.5 / 25)
    assert t.loc["throughput (ops/s)", "B / A"] == pytest.approx(2.0)
    assert t.loc["throughput (ops/s)", "change"] == "B better"
    assert t.loc["top_k", ["A", "B"]].tolist() == ["10", "5"]
    assert t.loc["cache", "A"] == "off" and t.loc["error rate", "change"] == ""  # 0 -> 0: no ratio
    con.close()


@pytest.fixture
def page(tmp_path):
    from streamlit.testing.v1 import AppTest

    from memlens.config import load_config
    from memlens.dashboard import data, state

    path = tmp_path / "w.duckdb"
    build(path)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[state.CTX_KEY] = state.Ctx(str(path), load_config(), data.ALL, ("fixture",),
                                                 date(2026, 11, 20), date(2026, 11, 20), 9, 0)
    yield at.run()
    state.holder(str(path)).close()


def test_runs_page_compares_two_runs(page):
    assert not page.exception
    assert [t.value for t in page.title] == ["Runs"]
    assert page.selectbox(key="run_a").value == "run-a" and page.selectbox(key="run_b").value == "run-b"
    table = page.dataframe[0].value.set_index("figure")
    assert table.loc["P95 ms", ["A", "B"]].tolist() == ["38.50", "18.50"]  # linear: 30 + .85*10, 10 + .85*10
    assert len(page.get("plotly_chart")) == 1
    page.selectbox(key="run_b").set_value("run-a").run()  # a run against itself: every ratio is 1
    assert not page.exception
    same = page.dataframe[0].value
    assert set(same["change"]) == {""} and same["B / A"].dropna().eq(1.0).all()


def test_runs_page_without_runs(tmp_path):
    from streamlit.testing.v1 import AppTest

    from memlens.config import load_config
    from memlens.dashboard import data, state

    path = tmp_path / "empty.duckdb"
    connect(path).close()
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[state.CTX_KEY] = state.Ctx(str(path), load_config(), data.ALL, ("empty",), None, None, 0, 0)
    at.run()
    assert not at.exception
    assert "No runs stored yet" in at.info[0].value
    state.holder(str(path)).close()


def test_runs_page_in_the_app_navigation(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    cfg = tmp_path / "memlens.yaml"
    cfg.write_text("dashboard:\n  demo_when_empty: false\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg))
    path = tmp_path / "w.duckdb"
    build(path)
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(path))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(Path(PAGE).parent.parent / "app.py"), default_timeout=60).run()
    at.switch_page("app_pages/runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Runs"]
    assert at.dataframe[0].value.set_index("figure").loc["operations", ["A", "B"]].tolist() == ["4", "4"]
