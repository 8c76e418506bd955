"""Search caches: key pattern, TTL/LRU, per-user invalidation; a real redis-server; a real Memory behind them."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time

import pytest

from memlens.instrumentation.cache import RedisSearchCache, SearchCache, search_key

KEY = re.compile(r"^mem0:search:alice:[0-9a-f]{32}$")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_key_pattern_and_what_changes_it():
    k = search_key("alice", "What do I like?", {"filters": {"user_id": "alice"}})
    assert KEY.match(k)
    assert k == search_key("alice", "  what do i   LIKE? ", {"filters": {"user_id": "alice"}})
    assert k == search_key("alice", "What do I like?", {"filters": {"user_id": "alice"}, "limit": 3})  # ignored arg
    assert k != search_key("alice", "What do I like?", {"filters": {"user_id": "alice"}, "top_k": 5})
    assert k != search_key("bob", "What do I like?", {"filters": {"user_id": "alice"}})


def test_ttl_lru_and_invalidation():
    clock = Clock()
    c = SearchCache(ttl_s=300, max_entries=3, clock=clock)
    c.set("mem0:search:alice:1", "alice", b"a1")
    c.set("mem0:search:alice:2", "alice", b"a2")
    c.set("mem0:search:bob:1", "bob", b"b1")
    assert c.get("mem0:search:alice:1") == b"a1"  # touch: alice:2 is now least recently used
    c.set("mem0:search:carol:1", "carol", b"c1")
    assert c.get("mem0:search:alice:2") is None and len(c) == 3
    assert c.invalidate_user("alice") == 1
    assert c.get("mem0:search:alice:1") is None and c.get("mem0:search:carol:1") == b"c1"
    clock.now += 299.9
    assert c.get("mem0:search:bob:1") == b"b1"
    clock.now += 0.2
    assert c.get("mem0:search:bob:1") is None  # expired after 300 s
    assert c.invalidate_all() == 1 and len(c) == 0  # carol's entry was still held (expiry is lazy)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_client(tmp_path_factory):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server binary not installed (Debian package redis-server)")
    redis = pytest.importorskip("redis")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_cache_setex_and_scan_invalidation(redis_client):
    redis_client.flushdb()
    c = RedisSearchCache(redis_client, ttl_s=300)
    ka = search_key("alice", "q1", {})
    kstar = search_key("a*", "q1", {})  # a glob character in a user id must match literally
    kb = search_key("bob", "q1", {})
    for key, user in ((ka, "alice"), (kstar, "a*"), (kb, "bob")):
        c.set(key, user, b'{"results": []}')
    assert c.get(ka) == b'{"results": []}'
    assert 295 <= redis_client.ttl(ka) <= 300
    assert c.invalidate_user("a*") == 1
    assert c.get(kstar) is None and c.get(ka) is not None
    assert c.invalidate_user("alice") == 1 and c.get(kb) is not None
    assert c.invalidate_all() == 1 and redis_client.dbsize() == 0


@pytest.fixture(scope="module")
def memory(tmp_path_factory):
    from memlens.workloads.offline_mem0 import offline_memory

    m = offline_memory(tmp_path_factory.mktemp("mem0-cache"))
    yield m
    m.close()


@pytest.mark.mem0
@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_instrumented_cache_hit_miss_bypass_and_invalidation(memory, backend, request, tmp_path):
    from memlens.instrumentation import OpLogWriter, instrument

    if backend == "redis":
        client = request.getfixturevalue("redis_client")
        client.flushdb()
        cache = RedisSearchCache(client, ttl_s=300)
    else:
        cache = SearchCache(ttl_s=300)
    user = f"cache-{backend}"
    writer = OpLogWriter(tmp_path, service="cache-test", flush_every=1000)
    m = instrument(memory, writer=writer, cache=cache)
    scoped = {"filters": {"user_id": user}}
    first = m.add("I drink green tea every morning", user_id=user, infer=False)["results"][0]["id"]
    m.add("Lives in Lisbon", user_id="someone-else", infer=False)

    r_miss = m.search("what do I drink?", **scoped)
    r_hit = m.search("What do I  drink?", **scoped)  # same normalised query
    assert r_hit == r_miss and r_hit is not r_miss
    m.search("what do I drink?", filters={"agent_id": "bot"})  # no user scope: bypass
    m.add("Lives in Lisbon too", user_id="someone-else", infer=False)  # another user's write: still a hit
    assert m.search("what do I drink?", **scoped) == r_miss
    m.add("Also drinks coffee", user_id=user, infer=False)  # invalidates this user's keys
    after_add = m.search("what do I drink?", **scoped)
    assert len(after_add["results"]) == 2
    m.update(first, text="Drinks black tea")  # owner learnt from results: invalidated
    after_update = m.search("what do I drink?", **scoped)
    assert "Drinks black tea" in [r["memory"] for r in after_update["results"]]
    m.delete(first)
    after_delete = m.search("what do I drink?", **scoped)
    assert first not in [r["id"] for r in after_delete["results"]]
    # a second proxy on the same cache never saw `second` in a result: it asks Mem0 whose memory it is
    second = next(r["id"] for r in after_delete["results"])
    other = instrument(memory, cache=cache)
    other.update(second, text="Drinks only water now")
    assert [r["memory"] for r in m.search("what do I drink?", **scoped)["results"]] == ["Drinks only water now"]
    writer.close()

    events = [json.loads(line) for f in writer.files for line in f.read_text().splitlines()]
    outcomes = [e.get("cache") for e in events if e["op"] == "search"]
    assert outcomes == ["miss", "hit", "bypass", "hit", "miss", "miss", "miss", "miss"]
    hit = next(e for e in events if e.get("cache") == "hit")
    assert "embedding_calls" not in hit and hit["result_count"] == len(r_miss["results"])
    assert all("cache" not in e for e in events if e["op"] != "search")
