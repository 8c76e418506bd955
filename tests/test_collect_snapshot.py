"""Memory snapshots: a real offline mem0.Memory, and the Platform listing logic against documented responses."""

from __future__ import annotations

import hashlib
import json
import threading
from argparse import Namespace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from memlens.collectors.base import CollectorError
from memlens.collectors.snapshot import snapshot_from_cli, snapshot_oss, snapshot_platform, text_hash


def test_text_hash_normalises():
    assert text_hash("Likes  GREEN\ttea ") == hashlib.sha256(b"likes green tea").hexdigest()
    assert text_hash("ｌｉｋｅｓ green tea") == text_hash("likes green tea")  # NFKC folds full-width letters


@pytest.mark.mem0
def test_snapshot_of_a_real_offline_memory(con, tmp_path):
    from memlens.workloads.offline_mem0 import offline_memory

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


API_KEY = "m0-Zx8Kq3Lw7Vb2Np5Tr9Hs4Jd6Fg1Mc0Ye"


class LocalPlatform(BaseHTTPRequestHandler):
    """The three Mem0 Platform endpoints a snapshot uses, served on 127.0.0.1 (tests cannot reach the real one):
    GET /v1/ping/ (MemoryClient checks its key), GET /v1/entities/ (client.users()), POST /v3/memories/ with
    ?page=&page_size= (client.get_all, paginated {"count", "next", "previous", "results"})."""

    memories: ClassVar[list[dict]] = []
    calls: ClassVar[list[tuple]] = []

    def _send(self, payload) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/v1/ping/"):
            return self._send({"status": "ok", "org_id": "org-1", "project_id": "proj-1", "user_email": "a@b.c"})
        if self.path.startswith("/v1/entities/"):
            users = sorted({m["user_id"] for m in self.memories})
            return self._send({"results": [{"name": u, "type": "user"} for u in users]})
        self.send_error(404)

    def do_POST(self):
        url = urlparse(self.path)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
        type(self).calls.append((url.path, body.get("filters"), query.get("page")))
        user = (body.get("filters") or {}).get("user_id")
        mine = [m for m in self.memories if m["user_id"] == user]
        page, size = query.get("page", 1), query.get("page_size", 100)
        chunk = mine[(page - 1) * size: page * size]
        more = page * size < len(mine)
        self._send({"count": len(mine), "next": f"{url.path}?page={page + 1}" if more else None, "previous": None,
                    "results": chunk})

    def log_message(self, *args):
        pass


@pytest.fixture
def platform_url():
    LocalPlatform.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), LocalPlatform)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_snapshot_platform_pages_through_every_entity_with_a_real_client(con, platform_url):
    from mem0 import MemoryClient

    from memlens.config import load_config

    LocalPlatform.memories = [
        {"id": f"p{i}", "memory": f"fact number {i}", "user_id": "u1" if i < 5 else "u2",
         "created_at": "2026-11-01T10:00:00-08:00", "updated_at": None, "categories": ["food"],
         "metadata": {"k": 1}} for i in range(7)]
    client = MemoryClient(api_key=API_KEY, host=platform_url)
    cfg = load_config(overrides={"collector": {"platform_page_size": 2}})
    r = snapshot_platform(con, client, cfg=cfg)
    assert r.rows_loaded == 7
    assert [(f, p) for path, f, p in LocalPlatform.calls if path == "/v3/memories/"] == [
        ({"user_id": "u1"}, 1), ({"user_id": "u1"}, 2), ({"user_id": "u1"}, 3), ({"user_id": "u2"}, 1)]
    got = con.execute("SELECT memory_id, user_id, text_bytes, created_at, categories, metadata_keys, source "
                      "FROM raw_memory_snapshots WHERE memory_id = 'p0'").fetchall()
    assert got == [("p0", "u1", 13, datetime(2026, 11, 1, 18, 0), ["food"], ["k"], "platform")]
    everything = str([con.execute(f"SELECT * FROM {t}").fetchall()  # fixed table names
                      for t in ("raw_memory_snapshots", "raw_ingest_runs", "raw_quarantine")])
    assert API_KEY not in everything and "fact number" not in everything


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


@pytest.mark.both_engines
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
