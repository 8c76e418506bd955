"""Known answers for the phase breakdown (stg_op_phases, the layer metric `phases`): hand-computed from a few timed
calls."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from view_support import event, insert_events

from memlens import layer
from memlens.schema import PHASES

H1, H2 = datetime(2026, 11, 2, 9), datetime(2026, 11, 2, 10)


@pytest.fixture
def loaded(con):
    insert_events(con, [
        # (H1, search): two timed calls and one without a breakdown (a v1 event: left out, not counted as zero)
        event(H1.replace(minute=1), "search", 10.0, schema_version=2, embedding_ms=6.0, vector_search_ms=3.0),
        event(H1.replace(minute=2), "search", 20.0, schema_version=2, embedding_ms=8.0, vector_search_ms=10.0),
        event(H1.replace(minute=3), "search", 50.0),
        # (H1, add): one call, three phases
        event(H1.replace(minute=4), "add", 30.0, schema_version=2, embedding_ms=10.0, vector_write_ms=5.0,
              history_ms=12.0),
        # (H2, search): reranked
        event(H2.replace(minute=5), "search", 8.0, schema_version=2, embedding_ms=4.0, vector_search_ms=2.0,
              rerank_ms=1.0),
    ])
    return con


def rows(con, sql, params=()):
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_stg_op_phases_has_every_phase_and_the_rest_of_each_timed_call(loaded):
    got = rows(loaded, "SELECT op, latency_ms, phase, phase_ms, ran FROM stg_op_phases ORDER BY ts, phase")
    assert len(got) == 4 * (len(PHASES) + 1)  # the untimed search is not there
    first = {r["phase"]: (r["phase_ms"], r["ran"]) for r in got if r["latency_ms"] == 10.0}
    assert first == {"embedding": (6.0, True), "vector_search": (3.0, True), "other": (1.0, True),
                     **{p: (0.0, False) for p in PHASES if p not in ("embedding", "vector_search")}}
    # per call the phases and the rest add up to the latency
    for (lat, total) in loaded.execute(
            "SELECT latency_ms, sum(phase_ms) FROM stg_op_phases GROUP BY event_id, latency_ms").fetchall():
        assert total == pytest.approx(lat)


def _phases(con, f=layer.ALL, by=("bucket", "op"), grain="hour", name="phases"):
    return layer.query(con, name, f, by, grain).to_dict("records")


def test_phases_per_hour_and_op_known_answers(loaded):
    got = {(r["bucket"].to_pydatetime(), r["op"], r["phase"]): r for r in _phases(loaded)}
    pct = {(r["bucket"].to_pydatetime(), r["op"], r["phase"]): r for r in _phases(loaded, name="phase_percentiles")}
    assert set(pct) == set(got)
    emb, emb_pct = got[(H1, "search", "embedding")], pct[(H1, "search", "embedding")]
    # embedding 6 and 8 ms of searches 10 and 20 ms: avg 7, share 14/30, P50 7, P95 6 + 0.95 * 2 = 7.9
    assert (emb["timed_ops"], emb_pct["ran_ops"]) == (2, 2)
    assert emb["avg_ms"] == pytest.approx(7.0) and emb["share"] == pytest.approx(14 / 30)
    assert (emb_pct["p50_ms"], emb_pct["p95_ms"]) == (pytest.approx(7.0), pytest.approx(7.9))
    vs = got[(H1, "search", "vector_search")]
    assert (vs["avg_ms"], vs["share"], pct[(H1, "search", "vector_search")]["p95_ms"]) == (
        pytest.approx(6.5), pytest.approx(13 / 30), pytest.approx(3 + 0.95 * 7))
    other = got[(H1, "search", "other")]  # rests 1 and 2 ms
    assert (other["avg_ms"], other["share"], pct[(H1, "search", "other")]["p50_ms"]) == (
        pytest.approx(1.5), pytest.approx(0.1), pytest.approx(1.5))
    rerank = got[(H1, "search", "rerank")]  # no reranked search in H1: 0 per call, no percentile
    assert (pct[(H1, "search", "rerank")]["ran_ops"], rerank["avg_ms"], rerank["share"]) == (0, 0.0, 0.0)
    assert pd.isna(pct[(H1, "search", "rerank")]["p50_ms"])  # no call ran it
    # the phases of one (hour, op) add up to its timed calls' average latency, their shares to 1
    by_group: dict = {}
    for (hour, op, _), r in got.items():
        s = by_group.setdefault((hour, op), [0.0, 0.0, r["timed_avg_ms"]])
        s[0] += r["avg_ms"]
        s[1] += r["share"]
    assert by_group == {(H1, "search"): [pytest.approx(15.0), pytest.approx(1.0), 15.0],
                        (H1, "add"): [pytest.approx(30.0), pytest.approx(1.0), 30.0],
                        (H2, "search"): [pytest.approx(8.0), pytest.approx(1.0), 8.0]}
    add = {p: got[(H1, "add", p)]["share"] for p in ("embedding", "vector_write", "history", "other")}
    assert add == {"embedding": pytest.approx(1 / 3), "vector_write": pytest.approx(1 / 6),
                   "history": pytest.approx(0.4), "other": pytest.approx(0.1)}
    assert got[(H2, "search", "rerank")]["share"] == pytest.approx(1 / 8)


def test_the_breakdown_follows_the_filters(loaded):
    """One op, one time range, no keys: the rows are the phases of that selection only."""
    f = layer.Filters(start=H1, end=H2, op="search")
    got = {r["phase"]: r for r in _phases(loaded, f, by=())}
    assert set(got) == {*PHASES, "other"}
    assert {r["timed_ops"] for r in got.values()} == {2}  # the two timed searches of H1 (not the untimed one, not H2)
    assert got["embedding"]["share"] == pytest.approx(14 / 30)
    assert [r["phase"] for r in _phases(loaded, layer.Filters(service="elsewhere"), by=())] == []


def test_a_warehouse_of_v1_events_only_has_no_breakdown(con):
    insert_events(con, [event(H1, "search", 12.0)])
    assert con.execute("SELECT count(*) FROM stg_op_phases").fetchone()[0] == 0
    assert _phases(con) == []


def test_search_phases_for_the_diagnosis_known_answers(con):
    """health.search_phases: shares of search time over the selection; vector-search P95 as the median of the daily
    P95s in the first and the last quarter; memories held at the end of each quarter (from Mem0's history)."""
    from view_support import insert_history

    from memlens import diagnosis, health
    from memlens.config import default_config

    d0 = datetime(2026, 11, 1)
    base = {d: 10 + 2 * d for d in range(8)}  # day d: vector search base + 0..11 ms
    rows = []
    for d in range(8):
        for i in range(12):
            vs = base[d] + i
            rows.append(event(d0 + timedelta(days=d, hours=i), "search", 20.0 + vs + 1.0, schema_version=2,
                              embedding_ms=20.0, vector_search_ms=float(vs)))
    insert_events(con, rows)
    # 100 memories before the window, 60 more on day 6
    insert_history(con, [(f"m{k}", "ADD", d0 - timedelta(days=1), None, 40) for k in range(100)]
                   + [(f"n{k}", "ADD", d0 + timedelta(days=6, hours=1), None, 40) for k in range(60)])
    got = health.search_phases(con, layer.ALL)
    # latency 21 + b + i: total 96 x 21 + 12 x (10 + 12 + ... + 24) + 8 x (0 + ... + 11) = 2016 + 1632 + 528 = 4176
    assert got["search_phase_calls"] == 96
    assert got["search_phase_share"]["embedding"] == pytest.approx(1920 / 4176)  # 96 x 20 ms
    assert got["search_phase_share"]["vector_search"] == pytest.approx(2160 / 4176)  # 1632 + 528
    # span D0 00:00 .. D7 11:00, a quarter = 1 d 20 h 45 min: the first holds days 0 and 1, the last days 6 and 7;
    # a day's P95 of b..b+11 = b + 0.95 x 11
    assert got["vector_search_p95_first_ms"] == pytest.approx(((10 + 10.45) + (12 + 10.45)) / 2)
    assert got["vector_search_p95_last_ms"] == pytest.approx(((22 + 10.45) + (24 + 10.45)) / 2)
    assert (got["memories_first"], got["memories_last"]) == (100, 160)
    m = health.Measured(**got)
    r = {x.node.key: x for x in diagnosis.evaluate(diagnosis.SLOW, m, default_config()).results}
    assert r["vector_growth"].answer == "yes"  # 21.45 -> 33.45 ms (+55.9 %) while the store grew 60 %
    assert (r["phase_embedding"].answer, r["phase_vector_search"].answer) == ("no", "yes")  # 46.0 %, 51.7 %


# ---- the metric layer's phase figures (sql/layer/phases.sql, phase_percentiles.sql) over the same calls ------------

def _by_phase(df):
    return {r["phase"]: r for r in df.to_dict("records")}


def test_layer_phases_known_answers(loaded):
    # H1's two timed searches (10 and 20 ms) and H2's (8 ms): 3 timed calls, 38 ms in all; the v1 search is left out
    s = _by_phase(layer.query(loaded, "phases", layer.Filters(op="search")))
    assert list(s) == [*PHASES, "other"]  # a call's order
    assert {r["timed_ops"] for r in s.values()} == {3}
    assert s["embedding"]["avg_ms"] == pytest.approx(18 / 3) and s["embedding"]["share"] == pytest.approx(18 / 38)
    assert s["vector_search"]["avg_ms"] == pytest.approx(15 / 3) and s["rerank"]["share"] == pytest.approx(1 / 38)
    assert s["other"]["avg_ms"] == pytest.approx((1 + 2 + 1) / 3)  # rests 1, 2 and 1 ms
    assert s["embedding"]["timed_avg_ms"] == pytest.approx(38 / 3)
    assert sum(r["avg_ms"] for r in s.values()) == pytest.approx(38 / 3)
    assert sum(r["share"] for r in s.values()) == pytest.approx(1.0)


def test_layer_phases_from_the_hourly_rollup_equal_the_events(loaded):
    from memlens import rollups

    rollups.refresh(loaded)
    f = layer.Filters(H1, H2 + timedelta(hours=1))
    fast = layer.Speed(rollups_fresh=True)
    assert layer.input_for("phases", f, ("op",), speed=fast) == "op_hourly"
    pd.testing.assert_frame_equal(layer.query(loaded, "phases", f, ("op",), speed=fast),
                                  layer.query(loaded, "phases", f, ("op",)), check_dtype=False)


def test_layer_phase_percentiles_known_answers(loaded):
    p = _by_phase(layer.query(loaded, "phase_percentiles", layer.Filters(op="search")))
    # embedding 6, 8, 4 ms: sorted 4, 6, 8: P50 6; P95 at rank 0.95 x 2 = 1.9: 6 + 0.9 x 2 = 7.8
    assert (p["embedding"]["ran_ops"], p["embedding"]["p50_ms"], p["embedding"]["p95_ms"]) == (
        3, pytest.approx(6.0), pytest.approx(7.8))
    assert (p["rerank"]["ran_ops"], p["rerank"]["p50_ms"]) == (1, pytest.approx(1.0))
    assert p["graph"]["ran_ops"] == 0 and pd.isna(p["graph"]["p95_ms"])
    # vector search 3, 10, 2 ms: sorted 2, 3, 10: P50 3, P95 3 + 0.9 * 7 = 9.3
    assert p["vector_search"]["p95_ms"] == pytest.approx(9.3)


def test_health_measures_where_search_time_went_on_demand(loaded):
    from view_support import insert_history

    from memlens import health

    # memories: 2 added before the first quarter ends, 3 more by the end
    insert_history(loaded, [(f"m{i}", "ADD", H1.replace(minute=i), None, 100) for i in range(2)]
                   + [(f"m{i}", "ADD", H2.replace(minute=i), None, 100) for i in range(2, 5)])
    assert health.measure(loaded, layer.ALL).search_phase_calls == 0  # the phases are asked for (Diagnosis page)
    m = health.measure(loaded, layer.ALL, with_phases=True)
    assert m.search_phase_calls == 3
    assert m.search_phase_share["embedding"] == pytest.approx(18 / 38)
    assert m.search_phase_share["vector_search"] == pytest.approx(15 / 38)
    assert "other" not in m.search_phase_share and m.search_phase_share["graph"] == 0.0
    # 3 timed searches: too few (health.MIN_PHASE_CALLS) for a quarter's vector-search P95 to count
    assert m.vector_search_p95_first_ms is None and m.vector_search_p95_last_ms is None
    assert (m.memories_first, m.memories_last) == (2, 5)
    # a selection without searches measures no phases
    assert health.measure(loaded, layer.Filters(op="add"), with_phases=True).search_phase_calls == 0


def test_what_changed_against_the_week_before_known_answers(con):
    """memlens.window_change over two windows a week apart: before, alice's 2 searches (top_k 5: embedding 10,
    vector search 10 of 25 ms); now, alice's 2 (top_k 5: vector search 20 of 35 ms) and bob's 2 (top_k 20:
    embedding 10, vector search 40 of 55 ms)."""
    from memlens import window_change

    w0, w1 = datetime(2026, 11, 2), datetime(2026, 11, 9)
    timed = {"schema_version": 2, "embedding_ms": 10.0}
    insert_events(con, [
        *[event(w0 + timedelta(hours=i), "search", 25.0, user_id="alice", top_k=5,
                vector_search_ms=10.0, **timed) for i in range(2)],
        *[event(w1 + timedelta(hours=i), "search", 35.0, user_id="alice", top_k=5,
                vector_search_ms=20.0, **timed) for i in range(2)],
        *[event(w1 + timedelta(hours=3 + i), "search", 55.0, user_id="bob", top_k=20,
                vector_search_ms=40.0, **timed) for i in range(2)],
    ])
    week = timedelta(days=7)
    ch = window_change.changes(con, layer.Filters(w1, w1 + week), layer.Filters(w0, w0 + week))
    # vector search per search: before 10, now (20 + 20 + 40 + 40) / 4 = 30 ms; embedding unchanged; rest 5 -> 5
    ph = ch.phases.set_index("phase")
    assert ph.index[0] == "vector_search"
    assert (ph.loc["vector_search", "ms_before"], ph.loc["vector_search", "ms_now"],
            ph.loc["vector_search", "change_ms"]) == (pytest.approx(10.0), pytest.approx(30.0), pytest.approx(20.0))
    assert ph.loc["embedding", "change_ms"] == pytest.approx(0.0)
    # users: alice 25 -> 35 ms; bob is new (nothing to compare)
    users = ch.users.set_index("user_id")
    assert users.loc["alice", "change_ms"] == pytest.approx(10.0) and pd.isna(users.loc["bob", "avg_ms_before"])
    # shapes: top_k 5 25 -> 35 ms, top_k 20 new; every search's scope (user) and rerank (off) 25 -> 45 ms
    shapes = ch.shapes.set_index(["shape", "value"])
    assert shapes.loc[("top_k", "5"), "change_ms"] == pytest.approx(10.0)
    assert shapes.loc[("top_k", "20"), "ops_now"] == 2 and pd.isna(shapes.loc[("top_k", "20"), "avg_ms_before"])
    assert shapes.loc[("rerank", "off"), "change_ms"] == pytest.approx(20.0)
    top = ch.shapes.iloc[0]
    assert (top["shape"], top["value"], top["avg_ms_now"]) == ("scope", "user", 45.0)  # first of the ties
    assert ch.evidence() == [
        "search time in vector search: 10.0 → 30.0 ms per search (+20.0 ms)",
        "user alice: average 25 → 35 ms (+10 ms, 2 calls now)",
        "searches with scope user: average 25 → 45 ms (+20 ms, 4 calls now)"]
