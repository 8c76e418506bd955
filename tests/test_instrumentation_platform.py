"""MemoryClient / AsyncMemoryClient through `instrument`, against FakeMem0Platform: a local HTTP server on
127.0.0.1 replaying the response shapes of Mem0's Platform API docs (it is not Mem0; it keeps memories in a
dict). mem0's clients take the base URL from `host=`, so the real SDK code runs unchanged."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from memlens.instrumentation import MemlensMetrics, OpLogWriter, instrument

API_KEY = "m0-Tq7Lr2Vx9Kp4Ws8Zn3Yb6Hc1Jd5Fg0Me7Na2Qe"
MISSING = "00000000-0000-4000-8000-000000000000"


class FakeMem0Platform(BaseHTTPRequestHandler):
    # state of the fake account, reset by the fixture (handler instances live for one request)
    memories: ClassVar[dict[str, dict]] = {}
    history: ClassVar[dict[str, list]] = {}
    auth_seen: ClassVar[set[str]] = set()

    def _send(self, status: int, payload) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n)) if n else {}

    def _route(self, method: str) -> None:
        type(self).auth_seen.add(self.headers.get("Authorization", ""))
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        mems = type(self).memories
        if method == "GET" and url.path == "/v1/ping/":
            return self._send(200, {"status": "ok", "org_id": "org-1", "project_id": "proj-1",
                                    "user_email": "dev@example.com"})
        if method == "POST" and url.path == "/v3/memories/add/":
            body = self._body()
            out = []
            for msg in body["messages"]:
                mid = str(uuid.uuid4())
                mems[mid] = {"id": mid, "memory": msg["content"], "user_id": body.get("user_id"),
                             "agent_id": body.get("agent_id"), "created_at": "2026-11-25T10:00:00Z",
                             "updated_at": "2026-11-25T10:00:00Z", "metadata": None}
                type(self).history[mid] = [{"id": str(uuid.uuid4()), "memory_id": mid, "event": "ADD",
                                            "old_memory": None, "new_memory": msg["content"]}]
                out.append({"id": mid, "memory": msg["content"], "event": "ADD"})
            return self._send(200, {"results": out})
        if method == "POST" and url.path in ("/v3/memories/search/", "/v3/memories/"):
            body = self._body()
            user = (body.get("filters") or {}).get("user_id")
            found = [dict(m) for m in mems.values() if user is None or m["user_id"] == user]
            if url.path.endswith("search/"):
                words = set(body["query"].lower().split())
                for m in found:  # a deterministic stand-in score: share of query words in the memory
                    m["score"] = round(len(words & set(m["memory"].lower().split())) / max(1, len(words)), 4)
                found.sort(key=lambda m: -m["score"])
                return self._send(200, {"results": found[: body.get("top_k", 10)]})
            return self._send(200, {"count": len(found), "next": None, "previous": None, "results": found})
        if parts[:2] == ["v1", "memories"] and len(parts) >= 3:
            mid = parts[2]
            if mid not in mems:
                return self._send(404, {"detail": "Memory not found"})
            if len(parts) == 4 and parts[3] == "history":
                return self._send(200, type(self).history[mid])
            if method == "GET":
                return self._send(200, mems[mid])
            if method == "PUT":
                body = self._body()
                mems[mid]["memory"] = body.get("text", mems[mid]["memory"])
                return self._send(200, {"message": "Memory updated successfully!"})
            if method == "DELETE":
                del mems[mid]
                return self._send(200, {"message": "Memory deleted successfully!"})
        if method == "DELETE" and url.path == "/v1/memories/":
            user = parse_qs(url.query).get("user_id", [None])[0]
            for mid in [k for k, m in mems.items() if m["user_id"] == user]:
                del mems[mid]
            return self._send(200, {"message": "Memories deleted successfully!"})
        return self._send(404, {"detail": f"no route {method} {url.path}"})

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_PUT(self):
        self._route("PUT")

    def do_DELETE(self):
        self._route("DELETE")

    def log_message(self, *args):
        pass


@pytest.fixture
def platform():
    FakeMem0Platform.memories = {}
    FakeMem0Platform.history = {}
    FakeMem0Platform.auth_seen = set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeMem0Platform)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _error(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except Exception as exc:
        return type(exc), str(exc)
    raise AssertionError("expected an exception")


def _events(writer):
    writer.close()
    return [json.loads(line) for f in writer.files for line in f.read_text().splitlines()]


def _check_no_secret(writer, registry):
    text = "".join(f.read_text() for f in writer.files) + generate_latest(registry).decode()
    assert API_KEY not in text and "dev@example.com" not in text


def test_memory_client(platform, tmp_path):
    from mem0 import MemoryClient

    plain = MemoryClient(api_key=API_KEY, host=platform)
    writer = OpLogWriter(tmp_path, service="t-platform")
    reg = CollectorRegistry()
    m = instrument(MemoryClient(api_key=API_KEY, host=platform), writer=writer, metrics=MemlensMetrics(reg))
    added = m.add("I like green tea", user_id="alice")
    mid = added["results"][0]["id"]
    plain.add("I like black coffee", user_id="alice")
    q = {"filters": {"user_id": "alice"}, "top_k": 5}
    assert m.search("green tea", **q) == plain.search("green tea", **q)
    assert m.get_all(filters={"user_id": "alice"}) == plain.get_all(filters={"user_id": "alice"})
    assert m.get(mid) == plain.get(mid)
    assert m.update(mid, text="I like oolong") == {"message": "Memory updated successfully!"}
    assert m.history(mid) == plain.history(mid)
    assert _error(m.get, MISSING) == _error(plain.get, MISSING)
    assert _error(m.search, "q", user_id="alice") == _error(plain.search, "q", user_id="alice")
    assert m.delete(mid) == {"message": "Memory deleted successfully!"}
    assert m.delete_all(user_id="alice") == {"message": "Memories deleted successfully!"}

    events = _events(writer)
    assert [e["op"] for e in events] == ["add", "search", "get_all", "get", "update", "history", "get", "search",
                                         "delete", "delete_all"]
    assert {(e["mode"], e["call_mode"], e["service"]) for e in events} == {("platform", "sync", "t-platform")}
    add, search, get_all = events[:3]
    assert (add["memories_created"], add["result_ids"], add["user_id"]) == (1, [mid], "alice")
    assert "infer" not in add  # the Platform's default is the server's: unknown, not guessed
    assert (search["top_k"], search["result_count"], search["top_score"]) == (5, 2, 1.0)
    assert "threshold" not in search and "embedding_tokens" not in search
    assert get_all["result_count"] == 2 and "top_k" not in get_all
    assert [e["error_type"] for e in events if e["status"] == "error"] == [
        _error(plain.get, MISSING)[0].__name__, "ValueError"]
    assert FakeMem0Platform.auth_seen == {f"Token {API_KEY}"}  # the key reached the API, and only there
    _check_no_secret(writer, reg)


def test_async_memory_client(platform, tmp_path):
    from mem0 import AsyncMemoryClient

    writer = OpLogWriter(tmp_path, service="t-platform-async")
    reg = CollectorRegistry()

    async def scenario():
        plain = AsyncMemoryClient(api_key=API_KEY, host=platform)
        m = instrument(AsyncMemoryClient(api_key=API_KEY, host=platform), writer=writer, metrics=MemlensMetrics(reg))
        results = await asyncio.gather(*(m.add(f"fact {i}", user_id=f"u{i % 2}") for i in range(6)))
        a = await m.search("fact 3", filters={"user_id": "u1"})
        b = await plain.search("fact 3", filters={"user_id": "u1"})
        assert a == b and a["results"][0]["memory"] == "fact 3"
        errors = []
        for client in (m, plain):
            try:
                await client.delete(MISSING)
            except Exception as exc:
                errors.append((type(exc), str(exc)))
        assert len(errors) == 2 and errors[0] == errors[1]
        return results

    results = asyncio.run(scenario())
    events = _events(writer)
    assert [e["op"] for e in events] == ["add"] * 6 + ["search", "delete"]
    assert {e["call_mode"] for e in events} == {"async"}
    assert sorted(e["result_ids"][0] for e in events[:6]) == sorted(r["results"][0]["id"] for r in results)
    assert events[-1]["status"] == "error"
    assert sum(reg.get_sample_value("memlens_mem0_operations_total", {
        "service": "t-platform-async", "mode": "platform", "op": "add", "call_mode": "async", "status": "ok",
        "infer": infer}) or 0 for infer in ("true", "false", "")) == 6
    _check_no_secret(writer, reg)


def test_config_hash_user_ids_needs_salt_and_hashes(platform, tmp_path, monkeypatch):
    import hashlib

    from mem0 import MemoryClient

    from memlens.config import load_config

    cfg = load_config(overrides={"instrumentation": {"hash_user_ids": True, "store_query_text": True}})
    client = MemoryClient(api_key=API_KEY, host=platform)
    monkeypatch.delenv("MEMLENS_ID_SALT", raising=False)
    with pytest.raises(ValueError, match="MEMLENS_ID_SALT"):
        instrument(client, cfg=cfg)
    monkeypatch.setenv("MEMLENS_ID_SALT", "s3cret-salt")
    writer = OpLogWriter(tmp_path, service="t-hash")
    m = instrument(client, writer=writer, cfg=cfg)
    m.add("hello", user_id="alice", agent_id="bot")
    m.search("Hello  there", filters={"user_id": "alice"})
    add, search = _events(writer)
    digest = hashlib.sha256(b"s3cret-salt\x00alice").hexdigest()[:32]
    assert add["user_id"] == search["user_id"] == digest
    assert add["agent_id"] == hashlib.sha256(b"s3cret-salt\x00bot").hexdigest()[:32]
    assert search["query_text"] == "Hello  there"  # opted in by config


class BrokenCache:
    """A cache whose backend is down: every call raises, as a redis client does when the server is gone."""

    def get(self, key):
        raise ConnectionError("cache down")

    def set(self, key, user_id, value):
        raise ConnectionError("cache down")

    def invalidate_user(self, user_id):
        raise ConnectionError("cache down")


def test_cache_failure_degrades_to_miss(platform, tmp_path):
    from mem0 import MemoryClient

    writer = OpLogWriter(tmp_path, service="t-broken-cache")
    m = instrument(MemoryClient(api_key=API_KEY, host=platform), writer=writer, cache=BrokenCache())
    m.add("tea", user_id="alice")
    assert m.search("tea", filters={"user_id": "alice"})["results"][0]["memory"] == "tea"
    assert [(e["op"], e["status"], e.get("cache")) for e in _events(writer)] == [
        ("add", "ok", None), ("search", "ok", "miss")]


def test_closed_writer_never_breaks_the_call(platform, tmp_path, caplog):
    from mem0 import MemoryClient

    writer = OpLogWriter(tmp_path, service="t-closed")
    writer.close()
    m = instrument(MemoryClient(api_key=API_KEY, host=platform), writer=writer)
    with caplog.at_level("WARNING", logger="memlens.instrumentation.wrap"):
        for _ in range(3):
            assert m.add("tea", user_id="alice")["results"][0]["memory"] == "tea"
    warnings = [r for r in caplog.records if r.name == "memlens.instrumentation.wrap"]
    assert len(warnings) == 1 and "writer failed (ValueError)" in warnings[0].getMessage()
