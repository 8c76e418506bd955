"""`memlens collect platform` against a LOCAL FAKE Mem0 Platform (tests/fake_platform.py, a stand-in on 127.0.0.1):
known-answer events in the views, pagination, incremental re-runs, 401 / 429 / 5xx / a malformed page, the key
never stored, and the fetch done before the warehouse is locked."""

from __future__ import annotations

from datetime import datetime

import pytest
from fake_platform import KEY, STATS, event, serve_fake_platform

from memlens import layer
from memlens.cli import main
from memlens.collectors import platform
from memlens.collectors.base import CollectorError, writer_lock
from memlens.config import load_config
from memlens.warehouse import connect

EVENTS = [
    event("e1", "ADD", "SUCCEEDED", "2026-11-20T10:00:00Z", 120.0, "alice"),
    event("e2", "SEARCH", "SUCCEEDED", "2026-11-20T10:01:00Z", 40.0, "alice", results=[{"id": "m1"}] * 3),
    event("e3", "SEARCH", "FAILED", "2026-11-20T10:02:00Z", 60.0, "bob"),
    dict(event("e4", "SEARCH", "SUCCEEDED", "2026-11-20T10:03:00+00:00", 20.0, results=[]),
         payload={"query": "q", "filters": {"user_id": "bob"}}),  # a search names its user inside its filters
    event("e5", "ADD", "PENDING", "2026-11-20T10:04:00Z", None, "bob"),
    event("e6", "REINDEX", "SUCCEEDED", "2026-11-20T10:05:00Z", 5.0),
]


def cfg_for(url: str, **over):
    return load_config(overrides={"platform": {"url": url, "page_size": 2, "backoff_s": 0.01, **over}})


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("MEM0_API_KEY", KEY)


def rows(con, sql):
    return con.execute(sql).fetchall()


def test_known_events_appear_in_the_views_with_their_figures(tmp_path, key):
    db = tmp_path / "w.duckdb"
    with serve_fake_platform(EVENTS) as (server, url):
        r = platform.collect_platform(db, cfg_for(url))
        assert server.pages_served == 3  # 6 events, 2 per page, followed through `next`
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (4, 0, 1)
    assert "1 still pending or running" in r.summary()
    with connect(db) as con:
        assert rows(con, "SELECT event_id, ts, mode, op, user_id, latency_ms, status, result_count FROM raw_op_events "
                         "ORDER BY ts") == [
            ("platform:e1", datetime(2026, 11, 20, 10, 0), "platform", "add", "alice", 120.0, "ok", None),
            ("platform:e2", datetime(2026, 11, 20, 10, 1), "platform", "search", "alice", 40.0, "ok", 3),
            ("platform:e3", datetime(2026, 11, 20, 10, 2), "platform", "search", "bob", 60.0, "error", None),
            ("platform:e4", datetime(2026, 11, 20, 10, 3), "platform", "search", "bob", 20.0, "ok", 0)]
        # the metric layer: 3 searches, mean 40 ms, p50 40 ms, one error in four operations
        search = layer.one(layer.latency(con, layer.Filters(op="search")))
        assert (search["ops"], search["errors"], search["avg_ms"], search["p50_ms"]) == (3, 1, 40.0, 40.0)
        day = layer.one(layer.query(con, "ops", layer.Filters.days(datetime(2026, 11, 20).date(),
                                                                   datetime(2026, 11, 20).date())))
        assert (day["ops"], day["errors"], day["error_rate"]) == (4, 1, 0.25)
        [(reason, source)] = rows(con, "SELECT reason, source FROM raw_quarantine")
        assert (reason, source) == ('event e6: event_type: unknown value "REINDEX" (expected one of ADD, SEARCH, '
                                    'GET, GET_ALL, UPDATE, DELETE, DELETE_ALL, HISTORY)', "platform")
        stats = rows(con, "SELECT total_memories, total_add_events, memories_per_user FROM raw_platform_stats")
        assert stats == [(STATS["total_memories"], STATS["total_add_events"], STATS["memories_per_user"])]
        # the checkpoint stays at the pending event: it is read again next run
        assert rows(con, "SELECT resume_from, newest_event_id FROM raw_platform_checkpoints") == [
            (datetime(2026, 11, 20, 10, 4), "e6")]


def test_recollecting_loads_nothing_new_and_a_finished_event_arrives_once(tmp_path, key):
    db = tmp_path / "w.duckdb"
    with serve_fake_platform(EVENTS) as (server, url):
        platform.collect_platform(db, cfg_for(url))
        again = platform.collect_platform(db, cfg_for(url))
        assert (again.rows_loaded, again.rows_quarantined) == (0, 0)  # the unknown type is not quarantined twice
        server.events[4] = event("e5", "ADD", "SUCCEEDED", "2026-11-20T10:04:00Z", 80.0, "bob")
        server.events.append(event("e7", "SEARCH", "SUCCEEDED", "2026-11-20T10:06:00Z", 30.0, "carol"))
        third = platform.collect_platform(db, cfg_for(url))
    assert third.rows_loaded == 2
    with connect(db) as con:
        assert rows(con, "SELECT count(*), sum(latency_ms) FROM raw_op_events") == [(6, 350.0)]
        assert rows(con, "SELECT count(*) FROM raw_quarantine") == [(1,)]
        assert rows(con, "SELECT count(*) FROM raw_platform_stats") == [(3,)]


def test_a_wrong_key_is_one_line_and_the_warehouse_is_not_touched(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEM0_API_KEY", "m0-wrong-key-abcdef")
    db = tmp_path / "w.duckdb"
    with serve_fake_platform(EVENTS) as (_, url):
        assert main(["collect", "platform", "--url", url, "--warehouse", str(db)]) == 2
    err = capsys.readouterr().err
    assert err == (f"memlens: Platform at {url}: GET /v1/events/ page 1: HTTP 401, the Platform refused the API "
                   "key (check $MEM0_API_KEY)\n")
    assert "wrong-key" not in err
    assert not db.exists()


def test_a_missing_key_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MEM0_API_KEY", raising=False)
    assert main(["collect", "platform", "--url", "http://127.0.0.1:9", "--warehouse", str(tmp_path / "w.db")]) == 2
    assert capsys.readouterr().err.startswith("memlens: $MEM0_API_KEY is not set")


def test_rate_limits_and_server_errors_are_retried(tmp_path, key):
    db = tmp_path / "w.duckdb"
    with serve_fake_platform(EVENTS) as (server, url):
        server.failures = [429, 503, None, 500]  # page 1: throttled, then 503; page 2 fine; page 3: one 500
        r = platform.collect_platform(db, cfg_for(url))
    assert r.rows_loaded == 4
    assert "rate limited 1 time(s) (HTTP 429): waited as the Platform asked" in r.summary()


def test_a_platform_that_keeps_failing_changes_nothing(tmp_path, key):
    db = tmp_path / "w.duckdb"
    with serve_fake_platform(EVENTS) as (server, url):
        server.failures = [503] * 10
        with pytest.raises(CollectorError, match=r"GET /v1/events/ page 1: HTTP 503 \(after 2 attempt\(s\)\)"):
            platform.collect_platform(db, cfg_for(url, retries=1))
    assert not db.exists()


def test_a_retry_after_longer_than_allowed_stops_paging_and_keeps_what_was_read(tmp_path, key):
    db = tmp_path / "w.duckdb"
    with serve_fake_platform(EVENTS) as (server, url):
        server.failures = [None, None, 429]  # pages 1 and 2 answer (e6..e3), page 3 is throttled too long
        r = platform.collect_platform(db, cfg_for(url, max_wait_s=0.5))
    assert r.rows_loaded == 2
    assert "Retry-After 1 s is over platform.max_wait_s 0.5" in r.summary()
    with connect(db) as con:  # the run did not reach the end: no checkpoint to resume from yet
        assert rows(con, "SELECT resume_from FROM raw_platform_checkpoints") == [(None,)]


def test_a_malformed_page_is_quarantined_and_the_pages_before_it_load(tmp_path, key):
    db = tmp_path / "w.duckdb"
    with serve_fake_platform(EVENTS) as (server, url):
        server.failures = [None, None, "malformed"]  # pages 1 and 2 (e6..e3) answer, page 3 is cut short
        r = platform.collect_platform(db, cfg_for(url))
    assert (r.rows_loaded, r.rows_quarantined) == (2, 2)  # e4, e3 load; e6 (unknown type) and page 3 quarantined
    with connect(db) as con:
        [(line, reason, excerpt)] = rows(con, "SELECT source_line, reason, excerpt FROM raw_quarantine "
                                              "WHERE reason LIKE 'GET%'")
        assert (line, excerpt) == (3, '{"count": 3, "results": "oops')
        assert reason.startswith("GET /v1/events/ page 3: not JSON")
        assert rows(con, "SELECT resume_from FROM raw_platform_checkpoints") == [(None,)]  # not read to the end


def test_the_key_is_never_stored_and_the_lock_is_free_while_fetching(tmp_path, key, monkeypatch):
    db = tmp_path / "w.duckdb"
    connect(db).close()
    original = platform.PlatformClient._once
    held: list[bool] = []

    def probe(self, url):  # while a request is in flight, another collection can take the warehouse
        with writer_lock(db, "probe"):
            held.append(False)
        return original(self, url)

    monkeypatch.setattr(platform.PlatformClient, "_once", probe)
    with serve_fake_platform(EVENTS) as (server, url):
        platform.collect_platform(db, cfg_for(url))
        assert {auth for _, auth in server.requests} == {f"Token {KEY}"}
    assert held and not any(held)
    assert KEY.encode() not in db.read_bytes()


def test_a_platform_collection_leaves_the_kept_analyses_current(tmp_path, key, capsys, monkeypatch):
    """As after `collect logs`: the advice and the alert backtest of the new data are computed right after it."""
    from memlens.alerts import kept_figures
    from memlens.dashboard.data import load_key
    from memlens.warehouse import open_warehouse

    monkeypatch.setenv("MEMLENS_HOME", str(tmp_path / "home"))
    db = tmp_path / "w.duckdb"
    with serve_fake_platform(EVENTS) as (_, url):
        assert main(["collect", "platform", "--url", url, "--warehouse", str(db)]) == 0
    assert "backtest: replaying the alert rules over 2026-11-20 … 2026-11-21" in capsys.readouterr().err
    cfg = load_config()
    with open_warehouse(db, cfg, read_only=True) as con:
        start, end = kept_figures.opening_range(con)
        fig = kept_figures.stored(db, load_key(con), cfg, start, end)
    assert fig is not None and (fig.start, fig.end) == (datetime(2026, 11, 20), datetime(2026, 11, 21))
