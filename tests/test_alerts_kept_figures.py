"""The alert backtest's figures kept beside the warehouse (alerts/kept_figures.py over memlens/kept.py): equal to a
fresh replay, recomputed when new data lands, left current by `memlens collect`, and what the Alerts & export page
shows without replaying anything."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from dashboard_fixtures import DAY0, event, insert_events, make_warehouse
from streamlit.testing.v1 import AppTest

from memlens import kept
from memlens.alerts import backtest, kept_figures
from memlens.config import load_config
from memlens.dashboard.data import load_key
from memlens.warehouse import connect, open_warehouse

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


def assert_same_figures(a: backtest.Figures, b: backtest.Figures) -> None:
    assert (a.step_s, a.start, a.end) == (b.step_s, b.start, b.end)
    assert a.op.keys() == b.op.keys()
    for ms in a.op:
        pd.testing.assert_frame_equal(a.op[ms], b.op[ms])
    pd.testing.assert_frame_equal(a.service, b.service)
    assert (a.ratios is None) == (b.ratios is None)
    if a.ratios is not None:
        pd.testing.assert_frame_equal(a.ratios, b.ratios)
    assert a.ratio_wide.keys() == b.ratio_wide.keys()
    for col in a.ratio_wide:
        pd.testing.assert_frame_equal(a.ratio_wide[col], b.ratio_wide[col])


def _kept(path, cfg) -> backtest.Figures | None:
    with open_warehouse(path, cfg, read_only=True) as con:
        start, end = kept_figures.opening_range(con)
        return kept_figures.stored(path, load_key(con), cfg, start, end)


def test_kept_figures_equal_a_fresh_replay_until_new_data_lands(tmp_path):
    path = make_warehouse(tmp_path / "w.duckdb")
    cfg = load_config()
    with open_warehouse(path, cfg, read_only=True) as con:
        # the dashboard's default range ("All"): the fixture's whole days, Nov 9 up to Nov 23 (its last day, the 22nd,
        # included)
        assert kept_figures.opening_range(con) == (DAY0, datetime(2026, 11, 23))
        kept_figures.refresh_after_collection(con, cfg, path)
        fresh = backtest.figures(con, cfg, datetime(2026, 11, 23), DAY0)
    assert kept_figures.figures_file(path).exists()
    got = _kept(path, cfg)
    assert got is not None
    assert_same_figures(got, fresh)
    # the fixture's 20 slow (300 ms) searches: the same rules fire on the kept figures as on fresh ones
    assert backtest.summary_table(backtest.evaluate(cfg, got)).equals(
        backtest.summary_table(backtest.evaluate(cfg, fresh)))
    assert got.op[next(iter(got.op))]["op"].isin(["search", "add"]).all()

    # another range or another rate window: not these figures
    with open_warehouse(path, cfg, read_only=True) as con:
        key = load_key(con)
    assert kept_figures.stored(path, key, cfg, DAY0 + timedelta(days=7), datetime(2026, 11, 23)) is None
    five = cfg.model_copy(update={"alerts": cfg.alerts.model_copy(update={"rate_window": "10m"})})
    assert kept_figures.stored(path, key, five, DAY0, datetime(2026, 11, 23)) is None
    # thresholds are not part of the key (the page re-applies them over the kept figures)
    stricter = cfg.model_copy(update={"thresholds": cfg.thresholds.model_copy(update={"error_rate": 0.01})})
    assert kept_figures.stored(path, key, stricter, DAY0, datetime(2026, 11, 23)) is not None

    # new data (a call on Nov 25): another load key, so the kept figures are stale; the refresh recomputes them over
    # the new range
    con = connect(path)
    insert_events(con, [event(100, ts=DAY0 + timedelta(days=16, hours=1), ingested_at=datetime(2026, 11, 26))])
    con.close()
    assert _kept(path, cfg) is None
    with open_warehouse(path, cfg, read_only=True) as con:
        kept_figures.refresh_after_collection(con, cfg, path)
        fresh = backtest.figures(con, cfg, datetime(2026, 11, 26), DAY0)
    newer = _kept(path, cfg)
    assert newer is not None and newer.end == datetime(2026, 11, 26)
    assert_same_figures(newer, fresh)


def test_a_damaged_file_is_recomputed_and_an_unwritable_folder_only_means_not_kept(tmp_path):
    path = make_warehouse(tmp_path / "w.duckdb")
    kept_figures.figures_file(path).write_bytes(b"not a pickle")
    cfg = load_config()
    with open_warehouse(path, cfg, read_only=True) as con:
        fig = kept_figures.figures(con, cfg, path, DAY0, datetime(2026, 11, 23))
    assert fig is not None and fig.end == datetime(2026, 11, 23)
    assert_same_figures(_kept(path, cfg), fig)
    # a folder that cannot be written (here: one that does not exist): the value is still returned, not kept
    missing = tmp_path / "gone" / "w.duckdb"
    assert kept.keep(kept_figures.figures_file(missing), ("state",), fig) is False
    assert kept.current(kept_figures.figures_file(missing), ("state",), lambda: 42) == 42
    assert not missing.parent.exists()


def test_memlens_collect_leaves_the_backtest_figures_current(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.jsonl").write_text(
        '{"schema_version":1,"event_id":"e1","ts":"2026-11-20T10:00:00Z","service":"s","mode":"oss",'
        '"call_mode":"sync","op":"search","latency_ms":12.5,"status":"ok","user_id":"u","query_hash":"q",'
        '"cache":"miss"}\n', encoding="utf-8")
    wh = tmp_path / "w.duckdb"
    run = subprocess.run([sys.executable, "-m", "memlens.cli", "collect", "logs", str(logs), "--warehouse", str(wh)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "backtest: replaying the alert rules over 2026-11-20 … 2026-11-21" in run.stderr
    cfg = load_config()
    fig = _kept(wh, cfg)
    assert fig is not None and (fig.start, fig.end) == (datetime(2026, 11, 20), datetime(2026, 11, 21))


# ---- the page -----------------------------------------------------------------------------------------------------
@pytest.fixture
def page_env(tmp_path, monkeypatch):
    cfg = tmp_path / "memlens.yaml"
    cfg.write_text("dashboard:\n  demo_when_empty: false\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg))
    monkeypatch.setenv("MEMLENS_HOME", str(tmp_path / "home"))
    path = make_warehouse(tmp_path / "known.duckdb")
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(path))
    st.cache_data.clear()
    st.cache_resource.clear()
    return path


def _alerts_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("app_pages/alerts.py").run()
    return at


def _would_have_fired(at: AppTest) -> dict[str, int]:
    table = next(d for d in at.data_editor if d.key and d.key.startswith("thr_")).value
    return dict(zip(table["rule"], table["would have fired"], strict=True))


def test_the_page_shows_the_kept_backtest_without_replaying(page_env, monkeypatch):
    cfg = load_config()
    with open_warehouse(page_env, cfg, read_only=True) as con:
        kept_figures.refresh_after_collection(con, cfg, page_env)
        expected = backtest.summary_table(backtest.evaluate(cfg, backtest.figures(con, cfg, datetime(2026, 11, 23),
                                                                                   DAY0)))

    def no_replay(*args, **kwargs):
        raise AssertionError("backtest.figures called on render")

    evaluated: list[object] = []
    evaluate = backtest.evaluate

    def counted_evaluate(cfg, fig):
        evaluated.append(cfg)
        return evaluate(cfg, fig)

    monkeypatch.setattr(backtest, "figures", no_replay)
    monkeypatch.setattr(backtest, "evaluate", counted_evaluate)
    at = _alerts_page()
    assert evaluated == []  # the rules applied with the config memlens runs with: kept since the collection too
    assert not at.exception, [e.value for e in at.exception]
    shown = {r: int(n) for r, n in _would_have_fired(at).items() if not pd.isna(n)}  # rules switched on
    assert len(shown) >= 5
    assert shown == {r: int(n) for r, n in zip(expected["rule"], expected["times_fired"], strict=True)
                     if r in shown}
    assert shown["p99_latency@search"] == 0  # as the page test's hand-known default
    assert any("rules would have fired over 2026-11-09" in c.value for c in at.caption)
    # an edited threshold is another config: evaluated on the page, over the same kept figures
    table = next(d for d in at.data_editor if d.key and d.key.startswith("thr_"))
    row = list(table.value["rule"]).index("p99_latency@search")
    at.session_state[table.key] = {"edited_rows": {row: {"threshold": 1.0}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(evaluated) == 1
    assert {a.key: a.threshold for a in backtest.threshold_alerts(evaluated[0])}["p99_latency@search"] == 1.0


def test_without_kept_figures_the_page_replays_and_keeps_its_opening_view(page_env, monkeypatch):
    """The converse (the test above has teeth): with nothing kept the page replays, and keeps what it replayed."""
    calls: list[tuple] = []
    replay = backtest.figures

    def counted(con, cfg, end=None, start=None):
        calls.append((start, end))
        return replay(con, cfg, end, start)

    monkeypatch.setattr(backtest, "figures", counted)
    at = _alerts_page()
    assert not at.exception, [e.value for e in at.exception]
    assert calls == [(DAY0, datetime(2026, 11, 23))]
    assert _would_have_fired(at)["p99_latency@search"] == 0
    assert _kept(page_env, load_config()).end == datetime(2026, 11, 23)
