"""The dashboard's first start on an empty warehouse: the demo loads with visible progress, and the rollups are
rebuilt once for the whole load (each collector would rebuild them in full)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st

from memlens import rollups
from memlens.config import default_config
from memlens.warehouse import connect
from memlens.workloads import demo

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
EVENTS = 1500


@pytest.fixture
def small_demo(monkeypatch):
    monkeypatch.setattr(demo, "DEFAULT_EVENTS", EVENTS)
    monkeypatch.setattr(demo, "DEFAULT_DAYS", 2)
    monkeypatch.setattr(demo, "DEFAULT_USERS", 10)
    refreshes: list[int] = []
    real = rollups.refresh

    def counted(con):
        refreshes.append(1)
        return real(con)

    monkeypatch.setattr(rollups, "refresh", counted)
    return refreshes


def test_ensure_demo_reports_each_step_and_refreshes_the_rollups_once(tmp_path, small_demo):
    seen: list[tuple[str, float]] = []
    wh = tmp_path / "wh.duckdb"
    assert demo.ensure_demo(wh, default_config(), out_dir=tmp_path / "logs", progress=lambda t, s: seen.append((t, s)))
    assert len(small_demo) == 1
    with connect(wh) as con:
        assert rollups.is_fresh(con)
        assert con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0] == EVENTS
        assert con.execute("SELECT count(*) FROM raw_memory_history").fetchone()[0] > 0
    shares = [s for _, s in seen]
    assert shares == sorted(shares) and shares[0] == 0.0 and shares[-1] == 1.0
    texts = [t for t, _ in seen]
    assert texts[0] == f"Writing the demo workload: {EVENTS:,} synthetic events over 2 days for 10 users"
    assert any(t.startswith("Loading the op logs into the warehouse: 100% (oplog-demo-") for t in texts)
    order = ["Writing the demo", "Loading the op logs", "Loading the Mem0 memory history",
             "Taking a snapshot", "Building the dashboard's pre-aggregated tables", "Done"]
    firsts = [next(i for i, t in enumerate(texts) if t.startswith(o)) for o in order]
    assert firsts == sorted(firsts)
    # A second call finds events: nothing loaded, nothing reported, no rebuild.
    seen.clear()
    assert not demo.ensure_demo(wh, default_config(), progress=lambda t, s: seen.append((t, s)))
    assert seen == [] and len(small_demo) == 1


def test_the_collectors_still_refresh_on_their_own(tmp_path, small_demo):
    from memlens.collectors.oplog import collect_oplogs

    files = demo.generate_demo(tmp_path / "logs", EVENTS, 2, 10, 1)
    with connect(tmp_path / "w.duckdb") as con:
        collect_oplogs(con, [p for p in files if p.suffix == ".jsonl"], default_config())
        assert len(small_demo) == 1 and rollups.is_fresh(con)


def test_first_start_of_the_app_shows_the_demo_load_progress(tmp_path, monkeypatch, small_demo):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MEMLENS_HOME", str(tmp_path))  # the default warehouse path: demo when empty
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [s.label for s in at.status] == [f"Loaded the demo workload ({EVENTS:,} events)."]
    assert at.status[0].state == "complete"
    assert at.get("progress")[0].value == 100 and at.get("progress")[0].proto.text == "Done"
    assert len(small_demo) == 1
    assert [t.value for t in at.title] == ["Overview"]
    at.run()  # a rerun: the warehouse is ready, no box
    assert not at.exception and len(at.status) == 0
