"""Dedup, pruning and archival on hand-built memories with hand-computed answers."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlens.config import load_config
from memlens.optimize import dedup
from memlens.optimize.archival import archival_projection
from memlens.optimize.dedup import dedup_report, delete_duplicates, exact_duplicates, near_duplicate_pairs
from memlens.optimize.inventory import access_stats, data_now, embedding_dims, load_memories, with_access
from memlens.optimize.pruning import pruning_candidates

NOW = datetime(2026, 11, 25, 12, 0, 0)

SNAP = """INSERT INTO raw_memory_snapshots (snapshot_id, taken_at, source, memory_id, user_id, text_bytes, text_hash,
    created_at, updated_at) VALUES ('s1', ?, 'oss', ?, ?, ?, ?, ?, ?)"""
OP = """INSERT INTO raw_op_events (schema_version, event_id, ts, service, mode, call_mode, op, user_id, memory_id,
    latency_ms, status, result_ids, top_score, embedding_model, source_file, source_line, ingested_at)
    VALUES (1, ?, ?, 'svc', 'oss', 'sync', ?, ?, ?, 10, 'ok', ?, ?, ?, 'f', 1, ?)"""


def snap(con, memory_id, user, nbytes, text_hash, age_days):
    created = NOW - timedelta(days=age_days)
    con.execute(SNAP, [NOW, memory_id, user, nbytes, text_hash, created, created])


def op(con, ts, kind, user=None, memory_id=None, result_ids=None, top_score=None, model=None):
    con.execute(OP, [uuid.uuid4().hex, ts, kind, user, memory_id, result_ids, top_score, model, ts])


@pytest.fixture
def warehouse(con):
    # u1: m1 (new), m2 = exact copy of m1, m3 (100 d old, last searched 40 d ago), m4 (200 d, never touched)
    # u2: m5 has the same text as m1 but another owner: not a duplicate.
    snap(con, "m1", "u1", 100, "h1", 1)
    snap(con, "m2", "u1", 100, "h1", 0.5)
    snap(con, "m3", "u1", 200, "h3", 100)
    snap(con, "m4", "u1", 50, "h4", 200)
    snap(con, "m5", "u2", 100, "h1", 10)
    op(con, NOW - timedelta(days=40), "search", "u1", result_ids=["m3", "m1"], top_score=0.2)
    op(con, NOW - timedelta(days=1), "search", "u1", result_ids=["m1", "m2"], top_score=0.9)
    op(con, NOW - timedelta(days=2), "add", "u1", result_ids=["m1"], model="all-MiniLM-L6-v2")
    return con


def test_inventory(warehouse):
    mem = load_memories(warehouse)
    assert list(mem["memory_id"]) == ["m4", "m3", "m1", "m2", "m5"]  # by owner, then age
    acc = access_stats(warehouse).set_index("memory_id")
    assert acc.loc["m1", "times_returned"] == 2 and acc.loc["m1", "best_top_score"] == pytest.approx(0.9)
    assert acc.loc["m3", "best_top_score"] == pytest.approx(0.2)
    assert embedding_dims(warehouse, load_config()) == ("all-MiniLM-L6-v2", 384)
    assert data_now(warehouse) == pd.Timestamp(NOW)
    # A logged delete after the snapshot removes the memory.
    op(warehouse, NOW + timedelta(hours=1), "delete", "u1", memory_id="m4")
    assert "m4" not in set(load_memories(warehouse)["memory_id"])


def test_exact_and_near_duplicates(warehouse):
    cfg = load_config()
    mem = load_memories(warehouse)
    ex = exact_duplicates(mem)
    assert list(zip(ex["keep_id"], ex["merge_id"], strict=True)) == [("m1", "m2")]
    # m4 vs m3: cosine 0.96 (merge); m3 vs m1: 0.9 (review); m5 would match m1 but has another owner.
    vecs = {"m1": np.array([1.0, 0.0]), "m2": np.array([1.0, 0.0]), "m5": np.array([1.0, 0.0]),
            "m3": np.array([0.9, np.sqrt(1 - 0.81)]), "m4": np.array([0.96 * 0.9 - 0.28 * np.sqrt(0.19),
                                                                   0.96 * np.sqrt(0.19) + 0.28 * 0.9])}
    rep = dedup_report(mem, cfg, dims=384, vectors=vecs, vectors_source="store",
                       returned=access_stats(warehouse))
    near = rep.pairs[rep.pairs["kind"] == "near"].set_index(["keep_id", "merge_id"])
    assert near.loc[("m4", "m3"), "action"] == "merge"
    assert near.loc[("m4", "m3"), "cosine"] == pytest.approx(0.96, abs=1e-6)
    assert near.loc[("m3", "m1"), "action"] == "review"
    assert ("m1", "m2") not in near.index  # already listed as exact
    assert ("m1", "m5") not in near.index and ("m5", "m1") not in near.index
    assert set(zip(rep.merge_ids["keep_id"], rep.merge_ids["merge_id"], strict=True)) == {("m4", "m3"),
                                                                                           ("m1", "m2")}
    assert rep.redundant_memories == 2
    assert rep.redundant_bytes == (200 + 4 * 384) + (100 + 4 * 384)
    assert rep.storage_usd_month == pytest.approx(rep.redundant_bytes / 1e9 * 0.25)
    # Results served in the log: m3, m1, m1, m2 → m3 and m2 are to merge: 2 of 4 slots.
    assert (rep.redundant_result_slots, rep.result_slots) == (2, 4)


def test_near_duplicate_pairs_blocks_by_owner_and_chunks():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(300, 8))
    v[1] = v[0] + 1e-4
    v[200] = v[0]
    owners = np.array(["a"] * 150 + ["b"] * 150)
    got = near_duplicate_pairs(owners, v, 0.999, 0.9999)
    assert set(zip(got["i"], got["j"], strict=True)) == {(0, 1)}
    with pytest.raises(ValueError, match="2 owners but 3 vectors"):
        near_duplicate_pairs(np.array(["a", "b"]), np.zeros((3, 2)), 0.9, 0.95)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.lists(st.integers(-1, 1), min_size=3, max_size=3)),
                min_size=1, max_size=40), st.integers(1, 6))
def test_near_duplicate_pairs_match_brute_force(rows, big_owner):
    # Integer vectors in {-1, 0, 1}^3: cosines are 1, 0.82, 0.71, ... never near the 0.9 threshold.
    owners = np.array([r[0] for r in rows])
    v = np.array([r[1] for r in rows], float)
    expected = set()
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            ni, nj = np.linalg.norm(v[i]), np.linalg.norm(v[j])
            if owners[i] == owners[j] and ni and nj and v[i] @ v[j] / (ni * nj) >= 0.9:
                expected.add((i, j))
    with patch.object(dedup, "_BIG_OWNER", big_owner):  # both the batched and the big-owner path
        got = near_duplicate_pairs(owners, v, 0.9, 0.95)
    assert set(zip(got["i"].astype(int), got["j"].astype(int), strict=True)) == expected


def _pairs_by_definition(owners, v, threshold):
    """The definition, one owner at a time in float64: pairs i < j of one owner with cosine >= threshold."""
    norms = np.linalg.norm(v, axis=1)
    unit = v / np.where(norms == 0, 1, norms)[:, None]
    out = {}
    for owner in np.unique(owners):
        idx = np.flatnonzero(owners == owner)
        g = unit[idx] @ unit[idx].T
        for r, c in zip(*np.nonzero(g >= threshold), strict=True):
            if r < c:
                out[(int(idx[r]), int(idx[c]))] = float(g[r, c])
    return out


@pytest.mark.parametrize("big_owner", [2048, 40])
def test_near_duplicate_pairs_equal_the_definition_on_a_random_corpus(big_owner):
    # 3,000 memories of 64 dims: owners of 1 to 200 memories (string ids, shuffled rows), zero vectors, and
    # planted near-copies (noise of a few sizes) so that pairs fall on both sides of both thresholds.
    rng = np.random.default_rng(7)
    sizes = np.r_[rng.integers(1, 12, 120), rng.integers(40, 200, 10), [1, 2, 2, 3]]
    owners = np.repeat([f"user-{k}" for k in range(len(sizes))], sizes)
    v = rng.normal(size=(len(owners), 64)).astype(np.float32)
    for k in rng.choice(len(v), 600, replace=False):
        src = rng.choice(np.flatnonzero(owners == owners[k]))
        v[k] = v[src] + rng.normal(scale=rng.choice([0.05, 0.2, 0.4, 0.6]), size=64)
    v[rng.choice(len(v), 5, replace=False)] = 0.0
    shuffle = rng.permutation(len(v))
    owners, v = owners[shuffle], v[shuffle]
    expected = _pairs_by_definition(owners, v.astype(np.float64), 0.8)
    merges = sum(c >= 0.95 for c in expected.values())
    assert len(expected) > 100 and 0 < merges < len(expected)  # both merge and review pairs
    close = [c for c in _pairs_by_definition(owners, v.astype(np.float64), 0.79).values()
             if min(abs(c - 0.8), abs(c - 0.95)) < 1e-5]
    assert not close  # no cosine so close to a threshold that float32 rounding could decide its side
    with patch.object(dedup, "_BIG_OWNER", big_owner):
        got = near_duplicate_pairs(owners, v, 0.8, 0.95)
    pairs = list(zip(got["i"].astype(int), got["j"].astype(int), strict=True))
    assert pairs == sorted(expected)  # every pair once, i < j, sorted
    assert got["cosine"].to_numpy() == pytest.approx([expected[p] for p in pairs], abs=1e-6)
    assert list(got["action"]) == ["merge" if expected[p] >= 0.95 else "review" for p in pairs]


def test_delete_is_dry_run_unless_confirmed():
    calls = []

    def delete(mid):
        calls.append(mid)
        if mid == "bad":
            raise KeyError(mid)

    out = delete_duplicates(delete, ["m2", "m2", "bad"])
    assert out.dry_run and out.planned == ["m2", "bad"] and calls == []
    assert delete_duplicates(delete, ["m2"], dry_run=False).dry_run  # not confirmed: still a dry run
    out = delete_duplicates(delete, ["m2", "bad"], dry_run=False, confirm=True)
    assert out.deleted == ["m2"] and out.failed == [("bad", "KeyError")] and calls == ["m2", "bad"]


def test_pruning(warehouse):
    cfg = load_config()
    mem = with_access(load_memories(warehouse), access_stats(warehouse))
    rep = pruning_candidates(mem, cfg, pd.Timestamp(NOW), dims=384, redundant_ids={"m2"})
    got = dict(zip(rep.candidates["memory_id"], rep.candidates["reasons"], strict=True))
    # m1: returned at 0.9, fresh → kept. m2: returned (0.9) but redundant. m3: only under a 0.2 top score;
    # last seen 40 d ago (< 90). m4: never returned, 200 d old. m5: never returned, 10 d old.
    assert got == {"m2": "redundant", "m3": "low_score", "m4": "never_returned,stale", "m5": "never_returned"}
    assert rep.retrieval_evidence
    # A log without result ids cannot say what was never returned: only redundant/stale remain.
    blind = mem.assign(times_returned=0, best_top_score=np.nan)
    got_blind = pruning_candidates(blind, cfg, pd.Timestamp(NOW), dims=384, redundant_ids={"m2"})
    assert not got_blind.retrieval_evidence
    assert dict(zip(got_blind.candidates["memory_id"], got_blind.candidates["reasons"], strict=True)) == {
        "m2": "redundant", "m4": "stale"}
    by = rep.by_reason.set_index("reason")
    assert by.loc["stale", "memories"] == 1 and by.loc["stale", "bytes"] == 50 + 4 * 384
    assert rep.candidate_bytes == 100 + 200 + 50 + 100 + 4 * 4 * 384


def test_archival(warehouse):
    cfg = load_config()
    mem = with_access(load_memories(warehouse), access_stats(warehouse))
    rep = archival_projection(mem, cfg, pd.Timestamp(NOW), dims=0)
    t = rep.tiers.set_index("tier")
    # recency: m1 1 d (searched), m2 0.5 d, m5 10 d → active; m3 40 d → archive; m4 200 d → cold.
    assert list(t["memories"]) == [3, 1, 1]
    assert t.loc["archive", "bytes_now"] == 200 and t.loc["archive", "bytes_tiered"] == pytest.approx(60)
    now_usd = 550 / 1e9 * 0.25
    tiered = 300 / 1e9 * 0.25 + 60 / 1e9 * 0.023 + 15 / 1e9 * 0.00099
    assert rep.usd_month_now == pytest.approx(now_usd)
    assert rep.usd_month_tiered == pytest.approx(tiered)
    assert rep.saving_share == pytest.approx((now_usd - tiered) / now_usd)


def test_age_order_equals_sorting_by_time_then_id():
    from memlens.optimize.dedup import _by_age

    rng = np.random.default_rng(1)
    for _ in range(200):  # few distinct times: many ties; some memories without a creation time
        n = int(rng.integers(0, 30))
        df = pd.DataFrame({"memory_id": [f"m{rng.integers(0, 50)}" for _ in range(n)],
                           "created_at": pd.to_datetime(rng.integers(0, 4, n), unit="s").where(rng.random(n) > 0.2)},
                          index=rng.permutation(n) + 100)
        got = _by_age(df)
        expected = df.sort_values(["created_at", "memory_id"], na_position="last").reset_index(drop=True)
        assert got["memory_id"].tolist() == expected["memory_id"].tolist()
        assert got["created_at"].equals(expected["created_at"])
