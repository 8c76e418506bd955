"""Load test, benchmark and comparison on a real offline Mem0 (local MiniLM, in-process Qdrant).

Each run's issued calls must be in the warehouse exactly once, the printed figures must be the
views' figures for that run id (themselves checked against numpy over the raw rows), for each step of a ramp
(how throughput changes with users is measured by `memlens loadtest --ramp`, not asserted: it is a speed).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from memlens.cli import main
from memlens.config import load_config
from memlens.loadtest.flows import ratios, run_benchmark, run_loadtest
from memlens.loadtest.logcheck import check_run_log
from memlens.loadtest.report import loadtest_report
from memlens.loadtest.run_figures import run_figures
from memlens.loadtest.runner import run_summaries
from memlens.loadtest.scenario import default_scenario
from memlens.warehouse import connect

pytestmark = [pytest.mark.mem0, pytest.mark.timeout(600)]

PRICE = 0.02  # USD per 1M tokens given to the local model here, so cost figures are not all zero
PRICED = {"prices": {"embedding": {"all-MiniLM-L6-v2": PRICE}}}


@pytest.fixture
def cfg():
    return load_config(overrides=PRICED)


def _raw_figures(con, run_id: str) -> dict:
    """The run's figures recomputed from raw rows with numpy (independent of the SQL views)."""
    lat, status, tokens = zip(*con.execute(
        "SELECT latency_ms, status, coalesce(embedding_tokens, 0) FROM raw_op_events WHERE tag = ?",
        [run_id]).fetchall(), strict=True)
    wall = con.execute("SELECT wall_s FROM raw_loadtest_runs WHERE run_id = ?", [run_id]).fetchone()[0]
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    ops = len(lat)
    return {"ops": ops, "avg_ms": float(np.mean(lat)), "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
            "error_rate": status.count("error") / ops, "throughput_ops_s": ops / wall,
            "cost_per_1k_ops_usd": sum(tokens) * PRICE / 1e6 * 1000 / ops}


def _assert_view_matches_raw(con, row) -> None:
    raw = _raw_figures(con, row["tag"])
    for key, value in raw.items():
        assert row[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_thread_loadtest_ramp_logs_every_op_once_and_reports_the_view(tmp_path, cfg):
    # Think time (mean 25 ms, exponential) makes users spend most of their time waiting as real users do.
    scenario = default_scenario(seed=3, mix={"preload_memories": 4, "think_time_ms": 25})
    con = connect(":memory:", cfg)
    result = run_loadtest(con, cfg, scenario, tmp_path / "logs", users=2, duration_s=2.5, ramp=True)

    s = result.summary
    assert list(s["users"]) == [1, 2] and list(s["kind"]) == ["ramp", "loadtest"]
    for run_id, check in result.checks.items():
        assert check.exact, (run_id, check)
        assert check.issued > 20
    for _, row in s.iterrows():
        # errors are rare but real (in-process Qdrant is not thread-safe: a search racing a write can raise
        # IndexError); what must hold is that the log has exactly the errors the users saw
        assert row["ops"] == row["ops_issued"] and row["errors"] == row["errors_issued"]
        assert row["error_rate"] < 0.05
        assert row["embedding_tokens"] > 0 and row["cost_per_1k_ops_usd"] > 0 and row["priced"]
        _assert_view_matches_raw(con, row)
    # the figures returned are the view's, read again by run id
    again = run_summaries(con, list(s["tag"]))
    assert again.drop(columns=["started_at", "finished_at", "first_ts", "last_ts"]).equals(
        s.drop(columns=["started_at", "finished_at", "first_ts", "last_ts"]))
    # How much throughput rises from 1 to 2 users is a speed: `memlens loadtest --ramp` measures it as a person
    # meets it. It is not asserted here (it was `> 1.3x`): on a loaded 2-core machine it is whatever the other
    # processes leave, and a test must not depend on that.

    text = loadtest_report(result)
    main_run = s.iloc[-1]
    assert f"throughput      {main_run['throughput_ops_s']:.1f} ops/s  ({main_run['ops']} ops)" in text
    assert f"P95 {main_run['p95_ms']:.1f}" in text and f"P99 {main_run['p99_ms']:.1f}" in text
    assert f"cost / 1k ops   ${main_run['cost_per_1k_ops_usd']:.6f}" in text
    assert "concurrency ramp:" in text and text.count("each exactly once") == 2

    con.close()


def test_async_loadtest_cli_prints_the_view_figures(tmp_path):
    scen = tmp_path / "async.yaml"
    scen.write_text("name: async-small\nseed: 5\nmode: async\nmix: {preload_memories: 3}\n"
                    "memlens: {prices: {embedding: {all-MiniLM-L6-v2: 0.02}}}\n", encoding="utf-8")
    wh = tmp_path / "wh.duckdb"
    out_file = tmp_path / "out.txt"
    import contextlib

    with out_file.open("w") as fh, contextlib.redirect_stdout(fh):
        code = main(["loadtest", "--config", str(scen), "--users", "2", "--duration", "1.5", "-q",
                     "--warehouse", str(wh), "--logs", str(tmp_path / "logs")])
    out = out_file.read_text()
    assert code == 0, out
    con = connect(wh, load_config(overrides=PRICED))
    row = run_figures(con).iloc[0]
    assert row["call_mode"] == "async" and row["ops"] == row["ops_issued"] > 10
    assert con.execute("SELECT DISTINCT call_mode FROM raw_op_events").fetchall() == [("async",)]
    _assert_view_matches_raw(con, row)
    assert f"run {row['tag']}  (async-small, 2 users, async" in out
    assert f"throughput      {row['throughput_ops_s']:.1f} ops/s" in out
    assert f"avg {row['avg_ms']:.1f}  P50 {row['p50_ms']:.1f}  P95 {row['p95_ms']:.1f}" in out
    assert "each exactly once" in out
    con.close()


def test_benchmark_alternates_cache_off_and_on(tmp_path, cfg):
    scenario = default_scenario(name="bench", seed=9, users=2, ops_per_user=12,
                                mix={"preload_memories": 3, "repeat_query_share": 0.7})
    con = connect(":memory:", cfg)
    result = run_benchmark(con, cfg, scenario, tmp_path / "logs", rounds=2)
    s = result.summary
    assert list(zip(s["round"], s["variant"], strict=True)) == [(1, "A"), (1, "B"), (2, "A"), (2, "B")]
    assert list(s["started_at"]) == sorted(s["started_at"])  # really run A B A B
    assert all(c.exact for c in result.checks.values())
    assert (s["ops"] == 24).all() and (s["kind"] == "benchmark").all()
    a, b = s[s["variant"] == "A"], s[s["variant"] == "B"]
    assert (a["cache_hits"] + a["cache_misses"] == 0).all() and not a["cache_enabled"].any()
    assert (b["cache_hits"] > 0).all() and b["cache_enabled"].all()
    # same seeded workload on both sides: identical op counts per kind in each round
    for col in ("searches", "adds", "updates", "deletes"):
        assert list(a[col]) == list(b[col]), col
    for _, row in s.iterrows():
        _assert_view_matches_raw(con, row)
    by = {r.metric: r for r in ratios(s)}
    want = [b_ / a_ for a_, b_ in zip(a["p95_ms"], b["p95_ms"], strict=True)]
    assert by["p95_ms"].ratios == pytest.approx(want)
    assert by["p95_ms"].median == pytest.approx(float(np.median(want)))
    assert by["cache_hit_rate"].median is None  # A has no cache: no ratio, reported as n/a
    con.close()


def test_compare_cli_limit10_vs_limit5(tmp_path, capsys):
    for k in (10, 5):
        (tmp_path / f"l{k}.yaml").write_text(
            f"name: l{k}\nseed: 4\nusers: 2\nops_per_user: 8\nsearch: {{top_k: {k}}}\n"
            "mix: {preload_memories: 12, search: 1, add: 0, update: 0, delete: 0, get: 0, get_all: 0}\n",
            encoding="utf-8")
    wh = tmp_path / "wh.duckdb"
    code = main(["compare", str(tmp_path / "l10.yaml"), str(tmp_path / "l5.yaml"), "--rounds", "2", "-q",
                 "--warehouse", str(wh), "--logs", str(tmp_path / "logs")])
    out = capsys.readouterr().out
    assert code == 0, out
    con = connect(wh)
    rows = con.execute(
        "SELECT r.variant, e.top_k, count(*), max(e.result_count) FROM raw_op_events e "
        "JOIN raw_loadtest_runs r ON r.run_id = e.tag GROUP BY ALL ORDER BY 1").fetchall()
    assert rows == [("A", 10, 32, 10), ("B", 5, 32, 5)]  # fewer only when mem0's score threshold cuts
    runs = con.execute("SELECT run_id, variant FROM raw_loadtest_runs ORDER BY started_at").fetchall()
    assert [v for _, v in runs] == ["A", "B", "A", "B"]
    s = run_summaries(con, [r for r, _ in runs])
    assert "ratio B/A per metric" in out and "all 64 ops of 4 runs logged exactly once" in out
    med = next(r for r in ratios(s) if r.metric == "throughput_ops_s").median
    assert re.search(rf"throughput_ops_s\s+{med:.3f}", out)
    con.close()


def test_log_check_catches_lost_and_duplicated_events(tmp_path, cfg):
    scenario = default_scenario(seed=2, users=1, mix={"preload_memories": 2})
    con = connect(":memory:", cfg)
    from memlens.loadtest.runner import Session

    with Session("loadtest", cfg, tmp_path / "logs") as session:
        target = session.target(scenario)
        rec = session.run(target, 1, ops_per_user=15)
        session.store(con)
    assert check_run_log(con, rec.run_id, rec.phase.issued).exact
    victim = con.execute("SELECT event_id FROM raw_op_events WHERE tag = ? AND op = 'search' LIMIT 1",
                         [rec.run_id]).fetchone()
    con.execute("CREATE TEMP TABLE dup AS SELECT * FROM raw_op_events WHERE event_id = ?", victim)
    con.execute("UPDATE dup SET event_id = 'copy'")
    con.execute("INSERT INTO raw_op_events SELECT * FROM dup")
    dup = check_run_log(con, rec.run_id, rec.phase.issued)
    assert (dup.exact, dup.missing, dup.extra) == (False, 0, 1)
    con.execute("DELETE FROM raw_op_events WHERE event_id IN (?, 'copy')", victim)
    lost = check_run_log(con, rec.run_id, rec.phase.issued)
    assert (lost.exact, lost.missing, lost.extra, lost.logged) == (False, 1, 0, 14)
    con.close()
