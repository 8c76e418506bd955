"""Memory snapshots: a real offline mem0.Memory, and the Platform listing logic against documented responses."""

from __future__ import annotations

import hashlib
from argparse import Namespace
from datetime import UTC, datetime

import pytest

from collectors.base import CollectorError
from collectors.snapshot import snapshot_from_cli, snapshot_oss, snapshot_platform, text_hash


def test_text_hash_normalises():
    assert text_hash("Likes  GREEN\ttea ") == hashlib.sha256(b"likes green tea").hexdigest()
    assert text_hash("ｌｉｋｅｓ green tea") == text_hash("likes green tea")  # NFKC folds full-width letters


@pytest.mark.mem0
def test_snapshot_of_a_real_offline_memory(con, tmp_path):
    from workloads.offline_mem0 import offline_memory

    memory = offline_memory(tmp_path / "m")
    a1 = memory.add("I like green tea", user_id="alice", metadata={"topic": "food", "source": "chat"},
                    infer=False)["results"][0]["id"]
    memory.add("I live in Lisbon", user_id="alice", infer=False)
    memory.add("Bob prefers coffee ☕", user_id="bob", infer=False)
    memory.add("Support agent playbook", agent_id="helper", infer=False)
    memory.add("i like GREEN tea", user_id="bob", infer=False)  # same text once normalised

    r = snapshot_oss(con, memory)
    assert (r.rows_loaded, r.rows_quarantined) == (5, 0)
    got = con.execute("SELECT user_id, agent_id, text_bytes, text_hash, memory_text, metadata_keys, source "
                      "FROM raw_memory_snapshots").fetchall()
    assert {(*row[:5], tuple(row[5]), row[6]) for row in got} == {
        ("alice", None, 16, text_hash("I live in Lisbon"), None, (), "oss"),
        ("alice", None, 16, text_hash("I like green tea"), None, ("source", "topic"), "oss"),
        ("bob", None, 16, text_hash("i like green tea"), None, (), "oss"),
        ("bob", None, 22, text_hash("Bob prefers coffee ☕"), None, (), "oss"),
        (None, "helper", 22, text_hash("Support agent playbook"), None, (), "oss"),
    }
    assert len("Bob prefers coffee ☕".encode()) == 22
    # Exact duplicates across users are visible through the hash.
    assert con.execute("SELECT count(DISTINCT user_id) FROM raw_memory_snapshots WHERE text_hash = ?",
                       [text_hash("I like green tea")]).fetchall() == [(2,)]
    created = con.execute("SELECT created_at, updated_at FROM raw_memory_snapshots WHERE memory_id = ?",
                          [a1]).fetchall()[0]
    now = datetime.now(UTC).replace(tzinfo=None)
    assert isinstance(created[0], datetime) and abs((created[0] - now).total_seconds()) < 600
    assert con.execute("SELECT count(DISTINCT snapshot_id), count(DISTINCT taken_at) FROM raw_memory_snapshots"
                       ).fetchall() == [(1, 1)]

    # Scoped, with texts: a second snapshot of alice only.
    r2 = snapshot_oss(con, memory, user_ids=["alice"], store_text=True)
    assert r2.rows_loaded == 2
    texts = con.execute("SELECT memory_text FROM raw_memory_snapshots WHERE memory_text IS NOT NULL ORDER BY 1"
                        ).fetchall()
    assert texts == [("I like green tea",), ("I live in Lisbon",)]
    assert con.execute("SELECT count(DISTINCT snapshot_id) FROM raw_memory_snapshots").fetchall() == [(2,)]
    assert con.execute("SELECT source, rows_loaded, status FROM raw_ingest_runs ORDER BY started_at").fetchall() == [
        ("snapshot", 5, "ok"), ("snapshot", 2, "ok")]


class DocumentedPlatformClient:
    """Answers like mem0's MemoryClient (client/main.py docstrings): get_all → {"count", "next", "results"},
    users() → {"results": [{"name", "type"}]}. Stands in for the HTTP service, which tests cannot reach."""

    def __init__(self, memories: list[dict]) -> None:
        self.memories, self.calls = memories, []

    def users(self):
        names = sorted({(m["user_id"], "user") for m in self.memories if m.get("user_id")})
        return {"results": [{"name": n, "type": t} for n, t in names]}

    def get_all(self, *, filters, page, page_size):
        self.calls.append((dict(filters), page))
        (key, value), = filters.items()
        mine = [m for m in self.memories if m.get(key) == value]
        chunk = mine[(page - 1) * page_size: page * page_size]
        more = page * page_size < len(mine)
        return {"count": len(mine), "next": "next-url" if more else None, "previous": None, "results": chunk}


def test_snapshot_platform_pages_through_every_entity(con):
    from memlens.config import load_config

    mems = [{"id": f"p{i}", "memory": f"fact number {i}", "user_id": "u1" if i < 5 else "u2",
             "created_at": "2026-11-01T10:00:00-08:00", "updated_at": None, "categories": ["food"],
             "metadata": {"k": 1}} for i in range(7)]
    client = DocumentedPlatformClient(mems)
    cfg = load_config(overrides={"collector": {"platform_page_size": 2}})
    r = snapshot_platform(con, client, cfg=cfg)
    assert r.rows_loaded == 7
    assert client.calls == [({"user_id": "u1"}, 1), ({"user_id": "u1"}, 2), ({"user_id": "u1"}, 3),
                            ({"user_id": "u2"}, 1)]
    got = con.execute("SELECT memory_id, user_id, text_bytes, created_at, categories, metadata_keys, source "
                      "FROM raw_memory_snapshots WHERE memory_id = 'p0'").fetchall()
    assert got == [("p0", "u1", 13, datetime(2026, 11, 1, 18, 0), ["food"], ["k"], "platform")]


def test_snapshot_cli_errors_are_clear(con, tmp_path, monkeypatch):
    monkeypatch.delenv("MEM0_API_KEY", raising=False)
    with pytest.raises(CollectorError, match="MEM0_API_KEY"):
        snapshot_from_cli(con, Namespace(platform=True, mem0_config=None, user=[], store_text=False))
    with pytest.raises(CollectorError, match="--mem0-config"):
        snapshot_from_cli(con, Namespace(platform=False, mem0_config=None, user=[], store_text=False))
    bad = tmp_path / "m.json"
    bad.write_text("{not json")
    with pytest.raises(CollectorError, match="not valid JSON"):
        snapshot_from_cli(con, Namespace(platform=False, mem0_config=str(bad), user=[], store_text=False))
    assert con.execute("SELECT count(*) FROM raw_memory_snapshots").fetchall() == [(0,)]


def test_failed_listing_stores_nothing_and_records_the_run(con):
    class Broken:
        class vector_store:  # mimics Memory.vector_store
            @staticmethod
            def list(filters=None, top_k=100):
                raise ConnectionError("store unreachable")

    with pytest.raises(ConnectionError):
        snapshot_oss(con, Broken())
    assert con.execute("SELECT count(*) FROM raw_memory_snapshots").fetchall() == [(0,)]
    assert con.execute("SELECT status, message FROM raw_ingest_runs").fetchall() == [
        ("error", "ConnectionError: store unreachable")]
