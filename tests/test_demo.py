"""`memlens demo`: deterministic, every row demo, loads cleanly, and has the features the pages need."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from memlens import figures, layer
from memlens.config import default_config
from memlens.schema import PHASE_FIELDS
from memlens.warehouse import connect
from memlens.workloads import demo

END = datetime(2026, 11, 20, 12, tzinfo=UTC)
EVENTS, DAYS, USERS, SEED = 20_000, 14, 40, 5


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return demo.generate_demo(out, EVENTS, DAYS, USERS, SEED, end=END)


@pytest.fixture(scope="module")
def loaded(written):
    con = connect(":memory:")
    result = demo.load_demo(con, written, default_config())
    yield con, result
    con.close()


def scalar(con, sql, params=()):
    return con.execute(sql, params).fetchone()[0]


def test_deterministic_for_a_seed(written, tmp_path):
    again = demo.generate_demo(tmp_path, EVENTS, DAYS, USERS, SEED, end=END)
    assert [p.name for p in again] == [p.name for p in written]
    for a, b in zip(written, again, strict=True):
        if a.suffix == ".jsonl":
            assert a.read_bytes() == b.read_bytes()
    rows = [sqlite3.connect(p).execute("SELECT * FROM history ORDER BY id").fetchall()
            for p in (written[-1], again[-1])]
    assert rows[0] == rows[1] and len(rows[0]) > 0
    other = demo.generate_demo(tmp_path / "other", EVENTS, DAYS, USERS, SEED + 1, end=END)
    assert other[0].read_bytes() != written[0].read_bytes()


def test_files_are_schema_v2_demo_lines_within_the_window(written):
    logs = [p for p in written if p.suffix == ".jsonl"]
    assert len(logs) == DAYS and all(p.name.startswith("oplog-demo-") for p in logs)
    lines = [json.loads(line) for p in logs for line in p.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == EVENTS
    assert all(e["demo"] is True and e["schema_version"] == 2 for e in lines)
    assert len({e["event_id"] for e in lines}) == EVENTS
    ts = sorted(e["ts"] for e in lines)
    assert ts[0] >= "2026-11-06T12:00:00" and ts[-1] < "2026-11-20T12:00:00"
    assert written[-1].name == demo.HISTORY_DB_NAME


def test_loads_with_nothing_quarantined(loaded):
    con, result = loaded
    assert result.oplog.rows_loaded == EVENTS and result.oplog.rows_quarantined == 0
    assert result.history.rows_quarantined == 0 and result.history.rows_loaded > 0
    assert scalar(con, "SELECT count(*) FROM raw_quarantine") == 0
    assert scalar(con, "SELECT count(*) FILTER (WHERE NOT is_demo) FROM stg_op_events") == 0
    assert "demo" in scalar(con, "SELECT any_value(source_db) FROM raw_memory_history")


def test_errors_with_a_burst_and_slow_outliers(loaded):
    con, _ = loaded
    rate = scalar(con, "SELECT avg(CASE WHEN is_error THEN 1.0 ELSE 0 END) FROM stg_op_events")
    assert 0.001 < rate < 0.05
    hourly = layer.latency(con, layer.ALL, ("bucket",), "hour")
    assert hourly.loc[hourly["ops"] >= 20, "error_rate"].max() > 0.10  # the error burst
    assert scalar(con, "SELECT count(DISTINCT error_type) FROM stg_op_events WHERE is_error") >= 3
    # slow outliers: searches far beyond their median; and a slow incident day
    search = layer.one(layer.latency(con, layer.Filters(op="search")))
    assert search["max_ms"] > 20 * search["p50_ms"]
    by_hour = layer.latency(con, layer.Filters(op="search"), ("bucket",), "hour")
    hourly = sorted(by_hour.loc[by_hour["ops"] >= 10, "p50_ms"], reverse=True)
    assert hourly[0] > 2 * hourly[len(hourly) // 2]  # the slow incident
    assert figures.values(con, ["slow_share"])["slow_share"] > 0


def test_phase_timings_are_consistent_with_each_event(loaded):
    """OSS calls that reached Mem0 have a breakdown (Platform calls and cache hits have none); each phase that ran
    is > 0 and the phases add up to less than the call; the op decides which phases run."""
    con, _ = loaded
    phases = " + ".join(f"coalesce({f}, 0)" for f in PHASE_FIELDS)
    any_phase = " OR ".join(f"{f} IS NOT NULL" for f in PHASE_FIELDS)
    rows = con.execute(f"""
        SELECT mode, cache = 'hit' AS hit, count(*) AS n, count(*) FILTER (WHERE {any_phase}) AS with_phases,
               count(*) FILTER (WHERE {phases} >= latency_ms) AS over,
               count(*) FILTER (WHERE least({", ".join(PHASE_FIELDS)}) <= 0) AS not_positive
        FROM stg_op_events GROUP BY ALL ORDER BY ALL""").fetchall()
    for mode, hit, n, with_phases, over, not_positive in rows:
        assert with_phases == (n if mode == "oss" and not hit else 0), (mode, hit)
        assert over == not_positive == 0
    ran = dict(con.execute(f"""
        SELECT op || CASE WHEN infer THEN '+infer' ELSE '' END,
               list_sort(list_distinct(flatten(list(list_filter(
                   [{", ".join(f"CASE WHEN {f} IS NOT NULL THEN '{f}' END" for f in PHASE_FIELDS)}],
                   lambda x: x IS NOT NULL)))))
        FROM stg_op_events WHERE mode = 'oss' AND status = 'ok' GROUP BY 1""").fetchall())
    assert ran == {
        "add": ["embedding_ms", "history_ms", "vector_write_ms"],
        "add+infer": ["embedding_ms", "history_ms", "llm_ms", "vector_search_ms", "vector_write_ms"],
        "search": ["embedding_ms", "rerank_ms", "vector_search_ms"],  # rerank only where rerank=True
        "get": ["vector_read_ms"], "get_all": ["vector_read_ms"], "history": ["history_ms"],
        "update": ["embedding_ms", "history_ms", "vector_read_ms", "vector_write_ms"],
        "delete": ["history_ms", "vector_read_ms", "vector_write_ms"]}
    assert scalar(con, "SELECT count(*) FROM stg_op_events WHERE rerank_ms IS NOT NULL AND NOT rerank") == 0


def test_the_incident_is_in_the_vector_store_and_vector_search_grows_with_the_store(loaded):
    con, _ = loaded
    # the slow incident (demo_model: 6 h from 10:00 UTC on window day DAYS - 6): its extra time is vector-store time
    first = datetime.fromtimestamp(END.timestamp() - DAYS * 86400, UTC).replace(tzinfo=None)
    hours = con.execute("""
        SELECT (epoch_us(ts) - epoch_us($first)) // 86400000000 = $day AND hour(ts) BETWEEN 10 AND 15 AS incident,
               sum(vector_search_ms) / sum(latency_ms) AS vector_share
        FROM stg_op_events WHERE op = 'search' AND vector_search_ms IS NOT NULL
        GROUP BY hour, incident HAVING count(*) >= 10""", {"first": first, "day": DAYS - 6}).fetchall()
    incident = [share for inside, share in hours if inside]
    other = [share for inside, share in hours if not inside]
    assert len(incident) >= 3 and min(incident) > 0.7 and max(other) < 0.6
    # vector search time per search grows with the collection over the window (the store grows ~30 %)
    first, last = con.execute("""
        SELECT quantile_cont(vector_search_ms, 0.5) FILTER (WHERE day = (SELECT min(day) FROM stg_op_events)),
               quantile_cont(vector_search_ms, 0.5) FILTER (WHERE day = (SELECT max(day) FROM stg_op_events))
        FROM stg_op_events WHERE op = 'search' AND NOT rerank_requested""").fetchone()
    assert last > 1.1 * first


def test_the_slow_query_tree_reads_the_demo_phases(loaded):
    """Over the whole demo embedding dominates search time and vector search slows as the store grows; in the
    incident window the vector store takes most of it."""
    from memlens import diagnosis, health, layer

    con, _ = loaded
    cfg = default_config()

    def lit(f):
        r = diagnosis.evaluate(diagnosis.SLOW, health.measure(con, f, with_phases=True), cfg)
        return {x.node.key for x in r.lit if x.node.key.startswith(("phase_", "vector_"))}

    assert lit(layer.ALL) == {"phase_embedding", "vector_growth"}
    # demo_model: the incident is 10:00-16:00 UTC in window day DAYS - 6; the window starts at END's 12:00, so that
    # day begins at 12:00 and its 12:00-16:00 is inside the incident
    incident = datetime.fromtimestamp(END.timestamp() - 6 * 86400, UTC).replace(tzinfo=None)
    assert lit(layer.Filters(start=incident, end=incident + timedelta(hours=4))) == {
        "phase_vector_search"}


def test_repeated_queries_cache_and_query_shapes(loaded):
    con, _ = loaded
    ops = layer.one(layer.query(con, "ops"))
    assert ops["hits"] > 0 and 0.05 < ops["hit_rate"] < 0.95
    # The support worker's Redis cache was turned on mid-window: its earlier searches are the uncached baseline,
    # and a miss costs about what an uncached search does (lookup ~0.4 ms on top).
    cache = layer.one(layer.query(con, "cache"))
    assert cache["baseline_searches"] > 0 and 0.8 < cache["miss_penalty"] < 1.5
    assert layer.query(con, "ops", by=("query_hash",))["cache_requests"].max() >= 10
    searches = layer.one(layer.query(con, "ops", layer.Filters(op="search")))
    assert searches["search_unscoped_share"] > 0.02 and searches["limit_ignored_calls"] > 0
    assert 0.05 < searches["search_rerank_share"] < 0.5
    assert scalar(con, "SELECT count(*) FROM stg_op_events WHERE cache = 'bypass'") > 0


def test_demo_cache_outcomes_are_the_search_cache_replay(loaded):
    """The demo's hits and misses come from the SearchCache's rules run over its own calls: replaying the loaded
    log at each service's settings gives the same outcome for every search, and no replay or ceiling of the
    what-if is below what the demo measured."""
    from memlens.config import load_config
    from memlens.instrumentation.cache import redis_expiry_s
    from memlens.optimize.cache_sim import load_trace, replay, simulate
    from memlens.workloads import demo_model as dm

    con, _ = loaded
    trace = load_trace(con)
    assert trace.through_cache.sum() > 1000 and 0 < trace.served_by_cache.sum() < trace.through_cache.sum()
    for svc in dm.SERVICES:
        if svc.cache is None:
            continue
        mask = trace.through_cache & (trace.service == trace.service_names.index(svc.name))
        ttl_s, size = ((dm.CACHE_TTL_S, dm.CACHE_MAX_ENTRIES) if svc.cache == "local"
                       else (redis_expiry_s(dm.CACHE_TTL_S), None))
        got = replay(trace.subset(mask), ttl_s, size)
        assert np.array_equal(got.hit, trace.served_by_cache[mask]), svc.name
    measured = trace.served_by_cache.sum() / trace.through_cache.sum()
    cfg = load_config(overrides={"optimize": {"cache": {"recommended_ttl_s": dm.CACHE_TTL_S,
                                                        "max_entries": dm.CACHE_MAX_ENTRIES}}})
    sim = simulate(trace, cfg)
    assert sim.measured_hit_rate == pytest.approx(measured)
    # At the demo's TTL and size the replay over the same searches is the measured rate (the Redis service's
    # cache has no size bound, and its 10,000-entry replay never fills within a TTL); the ceiling is above.
    assert sim.settings_hit_rate_through_cache >= measured
    assert sim.settings_hit_rate_through_cache == pytest.approx(measured)
    assert sim.could_be_served_rate_through_cache > measured


def test_costs_models_services_and_modes(loaded):
    con, _ = loaded
    models = set(zip(*(layer.query(con, "cost_by_model")[c] for c in ("kind", "model")), strict=True))
    assert {("llm", "gpt-4o-mini"), ("embedding", "text-embedding-3-small")} <= models
    assert layer.one(layer.query(con, "cost"))["llm_cost_usd"] > 0
    assert scalar(con, "SELECT count(*) FROM stg_op_events WHERE mode = 'platform'") > 0
    assert scalar(con, "SELECT count(DISTINCT service) FROM stg_op_events") >= 3
    assert scalar(con, "SELECT count(DISTINCT agent_id) FROM stg_op_events") >= 3
    assert scalar(con, "SELECT count(*) FROM stg_op_events WHERE call_mode = 'async'") > 0


def test_load_shape_diurnal_and_heavy_users(loaded):
    con, _ = loaded
    by_hour = dict(con.execute("SELECT hour(ts), count(*) FROM stg_op_events GROUP BY 1").fetchall())
    assert by_hour[15] > 2.5 * by_hour.get(3, 0)
    users = layer.query(con, "cost", by=("user_id",))
    shares = sorted(users.loc[users["user_id"].notna(), "ops"], reverse=True)
    assert shares[0] > 5 * shares[len(shares) // 2]


def test_history_consistent_with_the_op_log(loaded):
    con, _ = loaded
    # every memory created by an add in the log has its ADD row; every successful delete its DELETE row
    missing_adds = scalar(con, """
        SELECT count(*) FROM (SELECT unnest(result_ids) AS m FROM raw_op_events WHERE op = 'add') AS a
        WHERE NOT EXISTS (SELECT 1 FROM raw_memory_history h WHERE h.memory_id = a.m AND h.event = 'ADD')""")
    assert missing_adds == 0
    missing_deletes = scalar(con, """
        SELECT count(*) FROM raw_op_events e WHERE op = 'delete' AND status = 'ok'
          AND NOT EXISTS (SELECT 1 FROM raw_memory_history h WHERE h.memory_id = e.memory_id AND h.event = 'DELETE')""")
    assert missing_deletes == 0
    # nothing happens to a memory after its delete, and nothing is deleted twice
    assert scalar(con, """
        SELECT count(*) FROM raw_memory_history h JOIN raw_memory_history d
          ON d.memory_id = h.memory_id AND d.event = 'DELETE' AND h.event_ts > d.event_ts""") == 0
    deletes = "SELECT count(*) - count(DISTINCT memory_id) FROM raw_memory_history WHERE event = 'DELETE'"
    assert scalar(con, deletes) == 0
    # growth pages have data, every memory attributed to a user (op log or the demo store's snapshot)
    assert len(layer.query(con, "memory_growth", by=("user_id",), grain="week")) > 0
    assert scalar(con, "SELECT count(*) FROM stg_memory_events WHERE user_id IS NULL") == 0
    storage = figures.values(con, ["memories", "storage_growth_month"])
    held = storage["memories"]
    assert held > 0 and held == scalar(con, "SELECT sum(memories) FROM metric_memory_snapshot_summary")
    assert 0 < storage["storage_growth_month"] < 1


def test_snapshot_of_the_demo_store_has_exact_duplicates(loaded):
    con, result = loaded
    assert result.snapshot.rows_loaded > 0
    assert scalar(con, "SELECT count(*) FROM raw_memory_snapshots WHERE memory_text IS NOT NULL") == 0
    dup, total = con.execute(
        "SELECT sum(duplicate_memories), sum(memories) FROM metric_memory_snapshot_summary").fetchone()
    assert 0.01 < dup / total < 0.10


def test_run_demo_cli_and_if_empty(tmp_path, capsys):
    from memlens.cli import main

    wh = tmp_path / "wh.duckdb"
    argv = ["demo", "--warehouse", str(wh), "--events", "2000", "--days", "3", "--users", "5",
            "--out", str(tmp_path / "logs")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "DEMO data" in out and "2,000" in out
    assert main([*argv, "--if-empty"]) == 0
    assert "already holds 2,000 events" in capsys.readouterr().out
    with connect(wh) as con:
        assert scalar(con, "SELECT count(*) FROM raw_op_events") == 2000
    assert main(["demo", "--warehouse", str(tmp_path / "w2.duckdb"), "--events", "500", "--days", "2",
                 "--out", str(tmp_path / "logs2"), "--no-load"]) == 0
    assert "not loaded" in capsys.readouterr().out


def test_ensure_demo_loads_only_when_empty(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "DEFAULT_EVENTS", 1500)
    monkeypatch.setattr(demo, "DEFAULT_DAYS", 2)
    wh = tmp_path / "wh.duckdb"
    assert demo.ensure_demo(wh, default_config(), out_dir=tmp_path / "logs") is True
    assert demo.ensure_demo(wh, default_config(), out_dir=tmp_path / "logs") is False
    with connect(wh) as con:
        assert scalar(con, "SELECT count(*) FROM raw_op_events") == 1500


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="events, days and users"):
        demo.generate_demo(tmp_path, 0, 1, 1, 1)


def test_demo_snapshot_respects_the_snapshot_limit(written):
    from memlens.config import load_config

    cfg = load_config(overrides={"collector": {"snapshot_max_memories": 100}})
    con = connect(":memory:", cfg)
    try:
        result = demo.load_demo(con, written, cfg)
        assert result.snapshot.rows_loaded == 100
        assert any("snapshot_max_memories=100" in m for m in result.snapshot.messages)
    finally:
        con.close()


def _demo_cmd(wh, out, *extra: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "memlens.cli", "demo", "--warehouse", str(wh), "--events", "20000", "--days", "7",
            "--users", "30", "--seed", "3", "--out", str(out), *extra]


def _counts(wh) -> tuple[int, int, int, str | None]:
    with connect(wh, read_only=True) as con:
        return (scalar(con, "SELECT count(*) FROM raw_op_events"), scalar(con, "SELECT count(DISTINCT event_id) "
                "FROM raw_op_events"), scalar(con, "SELECT count(*) FROM raw_quarantine"),
                scalar(con, "SELECT status FROM raw_ingest_runs WHERE source = 'demo' ORDER BY started_at DESC "
                            "LIMIT 1"))


def test_the_same_demo_twice_changes_nothing(tmp_path):
    """Issue 12 #18: `memlens demo` twice with the same arguments (the second a moment later: every timestamp would
    move) loads nothing twice and quarantines nothing (it quarantined the moved events); another demo into the same
    warehouse is refused in one line."""
    import subprocess

    wh, out = tmp_path / "wh.duckdb", tmp_path / "logs"
    first = subprocess.run(_demo_cmd(wh, out), capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(_demo_cmd(wh, out), capture_output=True, text=True, timeout=600)
    assert second.returncode == 0 and "nothing to do" in second.stdout, second.stdout + second.stderr
    assert _counts(wh) == (20_000, 20_000, 0, "ok")
    other = subprocess.run([*_demo_cmd(wh, out)[:-2], "--seed", "4", "--out", str(out)], capture_output=True,
                           text=True, timeout=600)
    assert other.returncode == 2 and "one demo per warehouse" in other.stderr and "Traceback" not in other.stderr
    assert _counts(wh) == (20_000, 20_000, 0, "ok")


@pytest.mark.parametrize("finish", ["--if-empty", "first start"])
def test_a_demo_killed_half_way_is_finished_not_taken_for_complete(tmp_path, finish):
    """Issue 12 #18: a demo SIGKILLed while its op logs load (small batches: it stops between commits) is not a
    finished demo: `memlens demo --if-empty` and the dashboard's first start (ensure_demo) finish it from identical
    files, ending with exactly the events a clean run gives and nothing quarantined."""
    import os
    import re
    import signal
    import subprocess

    wh, out = tmp_path / "wh.duckdb", tmp_path / "logs"
    cfg = tmp_path / "small-batches.yaml"
    cfg.write_text("collector:\n  batch_lines: 2000\n", encoding="utf-8")
    proc = subprocess.Popen([*_demo_cmd(wh, out), "--config", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    seen = b""
    while chunk := os.read(proc.stderr.fileno(), 4096):
        seen = seen[-64:] + chunk
        if any(int(p) >= 40 for p in re.findall(rb"(\d+)%\|", seen)):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)
    proc.stderr.close()
    events, _, _, status = _counts(wh)
    assert 0 < events < 20_000 and status == "running", (events, status)  # really stopped half-way
    if finish == "--if-empty":
        done = subprocess.run([*_demo_cmd(wh, out), "--if-empty", "--config", str(cfg)], capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0 and "finishing the demo load" in done.stdout, done.stdout + done.stderr
    else:
        assert demo.ensure_demo(wh, default_config(), out_dir=out) is True
        assert demo.ensure_demo(wh, default_config(), out_dir=out) is False  # and now it is complete
    assert _counts(wh) == (20_000, 20_000, 0, "ok")
