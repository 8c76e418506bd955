"""Projected savings, forecast, vector-store advice and `memlens advise` on hand-built logs."""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from view_support import insert_history

from memlens.config import ConfigError, load_config
from memlens.optimize import savings as sv
from memlens.optimize.advise import build_advice, rank
from memlens.optimize.forecast import forecast, project_month
from memlens.optimize.vector_store import Measured, cache_config_code, choose_store, measure, pool_size, store_config

T0 = datetime(2026, 11, 20, 12, 0, 0)

INSERT = """INSERT INTO raw_op_events (schema_version, event_id, ts, service, mode, call_mode, op, user_id,
    latency_ms, status, top_k, rerank, query_hash, message_count, memories_created, embedding_model,
    embedding_tokens, source_file, source_line, ingested_at)
    VALUES (1, $id, $ts, 'svc', $mode, 'sync', $op, $user, $lat, 'ok', $top_k, $rerank, $qh, $msgs, $created,
            $model, $tokens, 'f', 1, $ts)"""


def ev(con, op, lat=10.0, *, s=0.0, user="u1", top_k=None, rerank=None, qh=None, msgs=None, created=None,
       model=None, tokens=None, mode="oss"):
    con.execute(INSERT, {"id": uuid.uuid4().hex, "ts": T0 + timedelta(seconds=s), "mode": mode, "op": op,
                         "user": user, "lat": lat, "top_k": top_k, "rerank": rerank, "qh": qh, "msgs": msgs,
                         "created": created, "model": model, "tokens": tokens})


CFG = load_config()


def test_lower_limit(con):
    for lat in (10, 20):
        ev(con, "search", lat, top_k=5)
    for lat in (40, 50, 60):
        ev(con, "search", lat, top_k=20)
    s = sv.lower_limit(con, CFG, 1.0)
    assert s.latency_saved_ms == pytest.approx(3 * (50 - 15)) and s.calls_affected == 3
    assert list(s.evidence["top_k"]) == [5, 20]


def test_lower_limit_without_a_baseline_says_so(con):
    ev(con, "search", 40, top_k=20)
    s = sv.lower_limit(con, CFG, 1.0)
    assert s.latency_saved_ms == 0 and "no search with top_k <= 5" in s.note


def test_scope(con):
    ev(con, "search", 10, top_k=5)
    ev(con, "search", 30, top_k=5)
    ev(con, "search", 100, top_k=5, user=None)
    s = sv.scope_searches(con, 1.0)
    assert s.latency_saved_ms == pytest.approx(80) and s.calls_affected == 1


def test_rerank(con):
    ev(con, "search", 50, top_k=5, rerank=True)
    ev(con, "search", 70, top_k=3, rerank=True)
    ev(con, "search", 20, top_k=5, rerank=False)
    ev(con, "search", 900, top_k=20, rerank=True)  # not a simple search
    s = sv.rerank_off(con, CFG, 1.0)
    assert s.latency_saved_ms == pytest.approx(2 * 40) and s.calls_affected == 2


def test_embedding_switch(con):
    ev(con, "add", model="text-embedding-3-large", tokens=1_000_000)
    ev(con, "add", model="text-embedding-3-small", tokens=5_000_000)
    s = sv.switch_embedding_model(con, CFG, 1.0)
    assert s.cost_saved_usd == pytest.approx(0.13 - 0.02) and s.calls_affected == 1


def test_batching(con):
    for t, lat in zip((0, 2, 4, 20), (10, 20, 30, 40), strict=True):
        ev(con, "add", lat, s=t, msgs=1)
    ev(con, "add", 99, s=1, msgs=3)  # already a batch
    ev(con, "add", 99, s=3, user="u2", msgs=1)  # alone
    s = sv.batch_adds(con, CFG, 1.0)
    assert s.calls_affected == 2 and s.latency_saved_ms == pytest.approx(2 * 25)
    assert list(s.evidence["user_id"]) == ["u1"]


def test_reembedding(con):
    for t in range(3):
        ev(con, "search", s=t, qh="q1", model="text-embedding-3-small", tokens=1000)
    ev(con, "search", s=5, user="u2", qh="q1", model="text-embedding-3-small", tokens=1000)
    s = sv.reembedding(con, 1.0)
    assert s.calls_affected == 2 and s.cost_saved_usd == pytest.approx(2 * 1000 * 0.02 / 1e6)


def test_period_and_monthly_projection(con):
    ev(con, "get", s=0)
    ev(con, "get", s=2 * 86400)
    assert sv.period_days(con) == pytest.approx(2.0)
    s = sv.Saving("x", "x", "f", cost_saved_usd=1.0, latency_saved_ms=4000.0, storage_saved_usd_month=0.5,
                  period_days=2.0)
    assert s.usd_month == pytest.approx(15.5) and s.latency_saved_s_month == pytest.approx(60.0)


def test_rank_by_share_of_bill_or_wait():
    cheap_fast = sv.Saving("a", "a", "f", latency_saved_ms=500.0)  # 50 % of the wait
    dollars = sv.Saving("b", "b", "f", cost_saved_usd=1.0)  # 10 % of the bill
    nothing = sv.Saving("c", "c", "f")
    assert [s.key for s in rank([nothing, dollars, cheap_fast], 10.0 * sv.DAYS_PER_MONTH, 1.0 * sv.DAYS_PER_MONTH)] \
        == ["a", "b", "c"]


def test_project_month_hand_computed():
    daily = pd.DataFrame({"day": [date(2026, 11, d) for d in range(11, 16)], "total_cost_usd": [1, 2, 3, 4, 5]})
    f = project_month(daily, CFG)
    assert (f.days_in_month, f.days_elapsed, f.days_observed) == (30, 15, 5)
    assert f.spent_usd == 15 and f.mean_daily_usd == 3 and f.projected_usd == pytest.approx(15 + 15 * 3)
    assert 15 + 15 * 1 <= f.low_usd < f.projected_usd < f.high_usd <= 15 + 15 * 5
    assert f.p_over_budget == 0.0  # budget 150 is out of reach
    # A gap day inside the data is a $0 day; flat costs give a zero-width interval.
    flat = pd.DataFrame({"day": [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 4)],
                         "total_cost_usd": [3.0, 3.0, 3.0]})
    g = project_month(flat, CFG)
    assert g.days_observed == 4 and g.mean_daily_usd == pytest.approx(9 / 4)
    assert g.projected_usd == pytest.approx(9 + 26 * 9 / 4)
    short = project_month(flat.head(2), CFG)
    assert short.low_usd is None and short.projected_usd == pytest.approx(6 + 28 * 3)


def test_forecast_drivers_from_warehouse(con):
    ev(con, "add", model="text-embedding-3-large", tokens=3_000_000)  # $0.39
    ev(con, "add", user="u2", model="text-embedding-3-large", tokens=1_000_000)  # $0.13
    f = forecast(con, CFG)
    users = f.drivers[f.drivers["kind"] == "user"].set_index("driver")
    assert users.loc["u1", "share"] == pytest.approx(0.75)
    assert users.loc["u1", "projected_usd"] == pytest.approx(0.75 * f.projected_usd)
    assert f.spent_usd == pytest.approx(0.52) and f.projected_usd == pytest.approx(0.52 * 11)  # day 20: 10 left


def test_choose_store_and_pool():
    assert choose_store(Measured(1000, 0.5, 50.0, 1.0), CFG)[0] == "chroma"
    assert choose_store(Measured(1000, 0.5, 50.0, 1.0), CFG)[2] == round(1000 * 1.5 ** 6)
    assert choose_store(Measured(1000, 0.5, 50.0, 1.0), CFG, has_postgres=True)[0] == "pgvector"
    assert choose_store(Measured(50_000, 0.0, 300.0, 1.0), CFG)[0] == "qdrant"  # small but slow
    assert choose_store(Measured(200_000_000, 1.0, 50.0, 1.0), CFG)[0] == "milvus"
    assert [pool_size(x, CFG) for x in (5, 50, 500)] == [16, 40, 80]


def test_measure_growth(con):
    ev(con, "add", created=10, s=0)
    ev(con, "add", created=10, s=10 * 86400)
    m = measure(con)
    # no Mem0 history: 20 vectors from the log's adds, growth unknown (not guessed from the op log)
    assert m.vectors_now == 20 and m.growth_per_month == 0 and m.growth_source == "unknown"
    assert "growth unknown" in choose_store(m, CFG)[1][0]
    # with the history: the layer's memories growth, the one the Growth page shows. 10 memories on day 0 and
    # 10 on day 10 is a 10-day history: no 30-day rate, the estimate = 7-day growth (10 -> 20) x 30 / 7
    insert_history(con, [(f"a{i}", "ADD", T0, None, 100) for i in range(10)]
                   + [(f"b{i}", "ADD", T0 + timedelta(days=10), None, 100) for i in range(10)])
    m = measure(con)
    assert m.vectors_now == 20 and m.growth_source == "estimate"
    assert m.growth_per_month == pytest.approx(30 / 7)
    assert "(estimate: 7-day growth x 30 / 7)" in choose_store(m, CFG)[1][0]


def test_store_config_is_valid_for_mem0_and_code_compiles():
    from mem0.configs.vector_stores.qdrant import QdrantConfig

    conf, code = store_config("qdrant", CFG, 384, 40)
    QdrantConfig(**conf["config"])  # mem0 2.2.1 forbids unknown keys: this must validate
    compile(code, "<qdrant>", "exec")
    assert "pool_size=40" in code and "m=16" in code and "INT8" in code and "prefer_grpc=True" in code
    for store in ("pgvector", "milvus", "chroma"):
        compile(store_config(store, CFG, 384, 16)[1], store, "exec")
    lru = cache_config_code("lru", 299.6, 5000)
    compile(lru, "<lru>", "exec")
    assert "SearchCache(ttl_s=300, max_entries=5000)" in lru
    assert "RedisSearchCache(client, ttl_s=60)" in cache_config_code("redis", 60, 1)
    with pytest.raises(ValueError, match="lru"):
        cache_config_code("memcached", 60, 1)


def test_build_advice_and_cli(tmp_path):
    from memlens.optimize.cli import register
    from memlens.warehouse import connect

    path = tmp_path / "w.duckdb"
    con = connect(path)
    for i in range(10):  # one user asking the same thing every minute: a cache hits 9 of 10
        ev(con, "search", 80.0, s=60 * i, top_k=5, qh="q", model="text-embedding-3-small", tokens=1000)
    advice = build_advice(con, CFG)
    con.close()
    assert advice.cache.requests == 10 and advice.cache.could_be_served_rate == pytest.approx(0.9)
    cache = next(s for s in advice.savings if s.key == "cache")
    # TTL 300 s from when the miss returned (0.08 s): the search at 300 s still hits, the one at 360 s misses
    assert cache.calls_affected == 8
    assert advice.savings[0].key in {"cache", "reembed"}
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config")
    common.add_argument("--warehouse")
    p = argparse.ArgumentParser()
    register(p.add_subparsers(), common)
    args = p.parse_args(["advise", "--warehouse", str(path), "--json", "--export-merge-ids",
                         str(tmp_path / "m.csv")])
    assert args.func(args) == 0
    assert (tmp_path / "m.csv").read_text().startswith("owner,keep_id,merge_id")
    args = p.parse_args(["advise", "--warehouse", str(path), "--delete-duplicates"])
    assert args.func(args) == 2  # refuses without a Mem0 to delete from
    bad = tmp_path / "mem0.yaml"
    bad.write_text("- not a mapping\n")
    args = p.parse_args(["advise", "--warehouse", str(path), "--mem0-config", str(bad)])
    with pytest.raises(ConfigError, match=r"mem0\.yaml: a mem0 config must be a mapping, got list"):
        args.func(args)
    assert np.isfinite(advice.usd_month_total)


def test_cli_json_output(tmp_path, capsys):
    from memlens.optimize.cli import register
    from memlens.warehouse import connect

    path = tmp_path / "w.duckdb"
    connect(path).close()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config")
    common.add_argument("--warehouse")
    p = argparse.ArgumentParser()
    register(p.add_subparsers(), common)
    args = p.parse_args(["advise", "--warehouse", str(path), "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["recommendations"]) == 13 and out["cache"]["cacheable_searches"] == 0
