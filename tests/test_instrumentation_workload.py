"""End to end: `memlens workload` on a real offline Memory → op logs → collector → views."""

from __future__ import annotations

import pytest

from memlens import layer
from memlens.config import load_config
from memlens.workloads.mix import UserMix, schedule


def test_schedule_is_seeded_zipf_and_complete():
    counts = schedule(10, 1000, seed=3)
    assert sum(counts) == 1000 and counts == schedule(10, 1000, seed=3)
    assert counts[0] > 2 * counts[9]  # user 0 weighs 1, user 9 weighs 1/10
    assert counts != schedule(10, 1000, seed=4)


def test_user_mix_repeatable_and_scoped():
    a, b = UserMix("user-001", 5, 1), UserMix("user-001", 5, 1)
    calls_a = [a.next_call() for _ in range(200)]
    assert calls_a == [b.next_call() for _ in range(200)]
    ops = {c.op for c in calls_a}
    assert {"search", "add", "get_all"} <= ops
    searches = [c for c in calls_a if c.op == "search"]
    assert any("limit" in c.kwargs for c in searches)
    assert any(c.kwargs["filters"] == {"agent_id": a.agent} for c in searches)  # unscoped by user
    queries = [c.args[0] for c in searches]
    assert len(set(queries)) < len(queries)  # repeated questions


def _check_views(con, report):
    df = layer.with_total(con, "latency", layer.ALL, ("op",)).set_index("op")
    assert set(df.index) == set(report.issued) | {"all"}
    for op, n in report.issued.items():
        row = df.loc[op]
        assert row["ops"] == n, op
        assert row["errors"] == report.errors[op], op
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"] < 30_000, op
        assert row["demo_events"] == 0
    assert df.loc["all", "ops"] == report.total


@pytest.mark.mem0
@pytest.mark.parametrize("use_async", [False, True])
def test_workload_collect_views(con, tmp_path, use_async):
    from memlens.collectors.oplog import collect_oplogs
    from memlens.workloads.real import run_instrumented

    cfg = load_config()
    result = run_instrumented(cfg, users=4, ops=80, seed=5, use_async=use_async, out=tmp_path / "logs",
                              cache_ttl_s=300, progress=False)
    report = result.report
    assert report.total == 80 == result.events_written
    ingest = collect_oplogs(con, result.log_files, cfg)
    assert (ingest.rows_loaded, ingest.rows_quarantined) == (80, 0)
    _check_views(con, report)
    call_mode = "async" if use_async else "sync"
    modes = con.execute("SELECT DISTINCT call_mode, mode, tag FROM stg_op_events").fetchall()
    assert modes == [(call_mode, "oss", result.tag)]
    cache = con.execute("SELECT count(*) FILTER (WHERE cache = 'hit'), count(*) FILTER (WHERE cache IS NOT NULL) "
                        "FROM stg_op_events WHERE op = 'search'").fetchone()
    logged_hits = sum(f.read_text().count('"cache":"hit"') for f in result.log_files)
    assert cache == (logged_hits, report.issued["search"])  # every search went through the cache


@pytest.mark.mem0
def test_workload_cli_writes_and_loads(tmp_path, capsys):
    import duckdb

    from memlens.cli import main

    wh = tmp_path / "wh.duckdb"
    assert main(["workload", "--users", "3", "--ops", "30", "--seed", "2", "--out", str(tmp_path / "logs"),
                 "--warehouse", str(wh)]) == 0
    out = capsys.readouterr().out
    assert "30 Mem0 calls by 3 users" in out and "30 loaded" in out
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0] == 30
    finally:
        con.close()
