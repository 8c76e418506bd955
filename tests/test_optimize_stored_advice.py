"""The advice kept beside the warehouse (optimize/stored_advice.py): computed once per data state, read back
equal, recomputed when new data lands or the config changes; `memlens collect` leaves it current."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from dashboard_fixtures import DAY0, event, insert_events, make_warehouse

from memlens.config import load_config
from memlens.optimize import advise, stored_advice
from memlens.optimize.advise import build_advice, build_cost_advice
from memlens.warehouse import connect, open_warehouse


def test_kept_advice_is_read_back_until_the_data_changes(tmp_path):
    path = make_warehouse(tmp_path / "w.duckdb")
    cfg = load_config()
    steps: list[str] = []
    with open_warehouse(path, cfg, read_only=True) as con:
        fresh = build_advice(con, cfg)
        first = stored_advice.current_advice(con, cfg, path, steps.append)
        state = stored_advice.data_state(con, cfg)
    # computed with its steps reported, then kept under the data's state (the what-if replays the 10 scoped
    # searches of the fixture: its 20 unscoped ones cannot be cached)
    assert steps[0] == "reading the search log"
    assert steps[1] == "replaying 10 searches through the what-if cache (every TTL, every LRU size)"
    assert steps[-1].startswith("done in ")
    assert stored_advice.advice_file(path).exists()
    assert first.table().equals(fresh.table())
    assert first.cache.requests == 10

    steps.clear()
    with open_warehouse(path, cfg, read_only=True) as con:
        again = stored_advice.current_advice(con, cfg, path, steps.append)
    assert steps == []  # read back, not computed
    assert again.table().equals(fresh.table())

    # another config (prices, thresholds) is another state
    assert stored_advice.stored(path, state) is not None
    assert stored_advice.stored(path, (state[0], state[1], "another config digest")) is None

    # new data: 10 more scoped searches → recomputed
    con = connect(path)
    insert_events(con, [event(100 + i, ts=DAY0 + timedelta(days=13, hours=5), user_id="carol", cache="miss",
                              query_hash="q-new", ingested_at=DAY0 + timedelta(days=20)) for i in range(10)])
    con.close()
    with open_warehouse(path, cfg, read_only=True) as con:
        assert stored_advice.stored(path, stored_advice.data_state(con, cfg)) is None
        newer = stored_advice.current_advice(con, cfg, path, steps.append)
    assert newer.cache.requests == 20
    assert steps[1] == "replaying 20 searches through the what-if cache (every TTL, every LRU size)"


def test_the_cost_pages_levers_come_from_the_kept_advice(tmp_path, monkeypatch):
    """The Cost page's cost advice is the kept advice's (the same levers build_cost_advice projects), read without a
    scan; with no current kept advice it is projected by SQL alone, not by the whole advice."""
    path = make_warehouse(tmp_path / "w.duckdb")
    cfg = load_config()
    with open_warehouse(path, cfg, read_only=True) as con:
        direct = build_cost_advice(con, cfg)
        alone = stored_advice.current_cost_advice(con, cfg, path)  # nothing kept yet: SQL only
        assert not stored_advice.advice_file(path).exists()
        kept_advice = stored_advice.current_advice(con, cfg, path)
        assert kept_advice.cost.table().equals(direct.table())
        assert [s.key for s in kept_advice.cost.levers] == [s.key for s in direct.levers]
        assert kept_advice.cost.usd_month_calls == direct.usd_month_calls
        monkeypatch.setattr(advise, "cost_levers", lambda *a, **k: (_ for _ in ()).throw(AssertionError("scanned")))
        read = stored_advice.current_cost_advice(con, cfg, path)
    assert alone.table().equals(direct.table()) and read.table().equals(direct.table())


def test_a_damaged_file_is_recomputed(tmp_path):
    path = make_warehouse(tmp_path / "w.duckdb")
    stored_advice.advice_file(path).write_bytes(b"not a pickle")
    cfg = load_config()
    with open_warehouse(path, cfg, read_only=True) as con:
        advice = stored_advice.current_advice(con, cfg, path)
        assert stored_advice.stored(path, stored_advice.data_state(con, cfg)) is not None
    assert advice.cache.requests == 10


def test_memlens_collect_leaves_the_advice_current(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.jsonl").write_text(
        '{"schema_version":1,"event_id":"e1","ts":"2026-11-20T10:00:00Z","service":"s","mode":"oss",'
        '"call_mode":"sync","op":"search","latency_ms":12.5,"status":"ok","user_id":"u","query_hash":"q",'
        '"cache":"miss"}\n', encoding="utf-8")
    wh = tmp_path / "w.duckdb"
    run = subprocess.run([sys.executable, "-m", "memlens.cli", "collect", "logs", str(logs), "--warehouse", str(wh),
                          "--quiet"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    cfg = load_config()
    with open_warehouse(wh, cfg, read_only=True) as con:
        kept = stored_advice.stored(wh, stored_advice.data_state(con, cfg))
    assert kept is not None and kept.cache.requests == 1
