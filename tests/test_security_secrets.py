"""No API key or secret in op logs, metrics, the warehouse, exports or error messages; query text off by default;
user ids optionally salted-hashed.

The key really travels: a real `mem0.MemoryClient` sends it to a local fake of the Platform API (a stdlib HTTP server
on 127.0.0.1 that answers the endpoints the client calls and, on a "failing" search, echoes the Authorization header
in its error body, as a careless proxy might). The exception the app receives therefore holds the key: the test
checks that nothing memlens writes does.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from security_support import MEM0_KEY, OPENAI_KEY, SECRETS, file_leaks, tree_leaks, warehouse_leaks

from memlens.config import ConfigError, load_config
from memlens.instrumentation import OpLogWriter, instrument
from memlens.instrumentation.metrics import MemlensMetrics


class FakePlatform(BaseHTTPRequestHandler):
    """Local fake of the Mem0 Platform endpoints MemoryClient uses (ping, add, search)."""

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/v1/ping/"):
            self._send(200, {"status": "ok", "user_email": "ops@example.com", "org_id": "org-test",
                             "project_id": "proj-test"})
        else:
            self._send(404, {"detail": "not found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path.startswith("/v3/memories/add/"):
            self._send(200, {"results": [{"id": "mem-1", "memory": "x", "event": "ADD"}]})
        elif self.path.startswith("/v3/memories/search/"):
            if "fail" in body.get("query", ""):
                self._send(401, {"detail": f"Invalid credentials: {self.headers.get('Authorization')}"})
            else:
                self._send(200, {"results": [{"id": "mem-1", "memory": "x", "score": 0.9, "user_id": "alice"}]})
        else:
            self._send(404, {"detail": "not found"})


@pytest.fixture
def platform_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePlatform)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _platform_calls(memory) -> None:
    secret_query = f"what is my key? it is {OPENAI_KEY}"
    memory.add(f"remember my api key {OPENAI_KEY}", user_id="alice", metadata={"api_key": OPENAI_KEY})
    memory.search(secret_query, filters={"user_id": "alice"}, top_k=5)
    with pytest.raises(Exception) as err:
        memory.search("please fail", filters={"user_id": "alice"})
    # The secret really was in flight: the app's own exception quotes it (that is the caller's business) ...
    assert MEM0_KEY in str(err.value) or MEM0_KEY in repr(err.value.__dict__)


def test_platform_key_and_secret_text_never_recorded(platform_url, tmp_path):
    from mem0 import MemoryClient

    metrics = MemlensMetrics()
    log_dir = tmp_path / "logs"
    with OpLogWriter(log_dir, service="secret-test") as writer:
        memory = instrument(MemoryClient(api_key=MEM0_KEY, host=platform_url), writer=writer, metrics=metrics)
        _platform_calls(memory)
    # ... but not the op log, nor the metrics exposition.
    assert tree_leaks(log_dir) == {}
    assert not [s for s in SECRETS if s.encode() in generate_latest(metrics.registry)]
    events = [json.loads(line) for p in sorted(log_dir.glob("*.jsonl")) for line in p.read_text().splitlines()]
    assert [(e["op"], e["status"]) for e in events] == [("add", "ok"), ("search", "ok"), ("search", "error")]
    assert all("query_text" not in e or e["query_text"] is None for e in events), "query text is off by default"
    assert events[1]["query_hash"] and len(events[1]["query_hash"]) == 32
    assert events[2]["error_type"] and OPENAI_KEY not in json.dumps(events[2])


def test_query_text_only_when_enabled(platform_url, tmp_path):
    from mem0 import MemoryClient

    with OpLogWriter(tmp_path, service="opt-in") as writer:
        memory = instrument(MemoryClient(api_key=MEM0_KEY, host=platform_url), writer=writer, store_query_text=True)
        memory.search("Where does Alice live?", filters={"user_id": "alice"})
    (event,) = [json.loads(x) for p in tmp_path.glob("*.jsonl") for x in p.read_text().splitlines()]
    assert event["query_text"] == "Where does Alice live?"
    assert tree_leaks(tmp_path) == {}


def test_user_ids_hashed_with_salt(platform_url, tmp_path):
    from mem0 import MemoryClient

    client = MemoryClient(api_key=MEM0_KEY, host=platform_url)
    for salt, folder in (("pepper-1", tmp_path / "a"), ("pepper-2", tmp_path / "b")):
        with OpLogWriter(folder, service="hashed") as writer:
            memory = instrument(client, writer=writer, id_salt=salt)
            memory.search("q", filters={"user_id": "alice"})
            memory.search("q2", filters={"user_id": "alice"})
    ids = {}
    for folder, salt in ((tmp_path / "a", "pepper-1"), (tmp_path / "b", "pepper-2")):
        text = "".join(p.read_text() for p in folder.glob("*.jsonl"))
        assert "alice" not in text
        users = {json.loads(x)["user_id"] for x in text.splitlines()}
        assert users == {hashlib.sha256(salt.encode() + b"\x00alice").hexdigest()[:32]}, "stable per salt"
        ids[salt] = users
    assert ids["pepper-1"] != ids["pepper-2"]


def test_hash_user_ids_config_requires_a_salt(platform_url, monkeypatch):
    from mem0 import MemoryClient

    cfg = load_config(overrides={"instrumentation": {"hash_user_ids": True}})
    monkeypatch.delenv("MEMLENS_ID_SALT", raising=False)
    with pytest.raises(ValueError, match="MEMLENS_ID_SALT"):
        instrument(MemoryClient(api_key=MEM0_KEY, host=platform_url), cfg=cfg)


def test_config_errors_name_the_field_not_the_secret(tmp_path):
    bad = tmp_path / "cfg.yaml"
    bad.write_text(f"instrumentation:\n  api_key: {OPENAI_KEY}\n  service: {{token: {MEM0_KEY}}}\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    message = str(err.value)
    assert "instrumentation.api_key" in message and "instrumentation.service" in message
    assert not [s for s in SECRETS if s in message]
    # The CLI prints the same message, and nothing else quotes the file.
    out = subprocess.run([sys.executable, "-m", "memlens.cli", "query", "stg_op_events", "--config", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "instrumentation.api_key" in out.stderr
    assert not [s for s in SECRETS if s in out.stdout + out.stderr]


@pytest.mark.mem0
def test_oss_memory_with_key_in_its_config_records_no_secret(tmp_path):
    """A real offline mem0.Memory whose LLM config holds an OpenAI key; add with infer=True fails on the (closed)
    LLM endpoint: the key is in the target's config and possibly in the error, never in the log or metrics."""
    from memlens.workloads.offline_mem0 import offline_config, prepare_offline_env

    prepare_offline_env(tmp_path / "mem0home")
    from mem0 import Memory

    config = offline_config(tmp_path)
    config["llm"]["config"]["api_key"] = OPENAI_KEY
    metrics = MemlensMetrics()
    log_dir = tmp_path / "logs"
    with OpLogWriter(log_dir, service="oss-secret") as writer:
        memory = instrument(Memory.from_config(config), writer=writer, metrics=metrics)
        memory.add(f"my key is {OPENAI_KEY}", user_id="bob", infer=False)
        memory.search(f"key {OPENAI_KEY}", filters={"user_id": "bob"})
        with pytest.raises(Exception):  # noqa: B017 - whatever the OpenAI client raises on a closed port
            memory.add("infer this", user_id="bob", infer=True)
    assert tree_leaks(log_dir) == {}
    assert OPENAI_KEY.encode() not in generate_latest(metrics.registry)
    ops = [json.loads(x)["op"] for p in log_dir.glob("*.jsonl") for x in p.read_text().splitlines()]
    assert sorted(ops) == ["add", "add", "search"]


def test_collected_warehouse_and_exports_hold_no_secret(platform_url, tmp_path):
    """Logs written through the instrumentation (plus a foreign line quoting a key in an unknown field and a broken
    line quoting one) → `memlens collect logs` → warehouse, quarantine, run log, CSV exports: no secret anywhere."""
    from mem0 import MemoryClient

    log_dir = tmp_path / "logs"
    with OpLogWriter(log_dir, service="secret-test") as writer:
        _platform_calls(instrument(MemoryClient(api_key=MEM0_KEY, host=platform_url), writer=writer))
    foreign = json.loads(next(log_dir.glob("*.jsonl")).read_text().splitlines()[0])
    foreign.update(event_id="f" * 32, debug_headers={"Authorization": f"Token {MEM0_KEY}"})
    (log_dir / "foreign.jsonl").write_text(
        json.dumps(foreign) + "\n" + f'{{"event_id": "x", "api_key": "{OPENAI_KEY}", "broken\n'
        + f"Authorization: Bearer {MEM0_KEY} not json at all\n", encoding="utf-8")
    warehouse = tmp_path / "wh.duckdb"
    env_cmd = [sys.executable, "-m", "memlens.cli"]
    out = subprocess.run([*env_cmd, "collect", "logs", "--warehouse", str(warehouse), "-q", str(log_dir)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert not [s for s in SECRETS if s in out.stdout + out.stderr]

    from memlens.warehouse import connect, view_names

    con = connect(warehouse)
    try:
        assert con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0] == 4
        assert con.execute("SELECT count(*) FROM raw_quarantine").fetchone()[0] == 2
        assert warehouse_leaks(con) == []
    finally:
        con.close()
    assert file_leaks(warehouse) == []
    # Exports: every view as CSV (what `memlens query VIEW --csv` prints), plus the CLI itself for one view.
    from memlens.queries import read_view

    con = connect(warehouse)
    try:
        leaks = {v: hits for v in view_names()
                 if (hits := [s for s in SECRETS if s in read_view(con, v).to_csv(index=False)])}
    finally:
        con.close()
    assert leaks == {}
    csv = subprocess.run([*env_cmd, "query", "stg_op_events", "--csv", "--warehouse", str(warehouse)],
                         capture_output=True, text=True, timeout=120)
    assert csv.returncode == 0 and csv.stdout.count("\n") == 5, csv.stderr
    assert not [s for s in SECRETS if s in csv.stdout + csv.stderr]


def test_redaction_patterns_cover_the_key_shapes():
    from memlens.collectors.base import excerpt, redact

    for text in (OPENAI_KEY, MEM0_KEY, f"Authorization: Bearer {MEM0_KEY}", f'"api_key": "{OPENAI_KEY}"',
                 f"Token {MEM0_KEY}", f"api-key={OPENAI_KEY[3:]}"):
        cleaned = redact(text)
        assert not [s for s in (*SECRETS, OPENAI_KEY[3:]) if s in cleaned], cleaned
    # A key straddling the excerpt cut is masked before cutting: no half-key survives.
    long = "x" * 190 + OPENAI_KEY
    assert OPENAI_KEY[:12] not in excerpt(long)


def test_no_secret_in_repo_defaults():
    """The shipped config and docs hold no real-looking key (only obvious placeholders)."""
    key_shape = re.compile(r"\b(?:sk|m0|pk|rk)-[A-Za-z0-9_\-]{20,}")
    root = Path(__file__).resolve().parent.parent
    hits = []
    for p in [root / "memlens" / "defaults.yaml", root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        hits += [f"{p.name}: {m.group(0)[:12]}..." for m in key_shape.finditer(p.read_text(encoding="utf-8"))]
    assert hits == []


def test_prometheus_credentials_never_stored_or_printed(tmp_path):
    """A Prometheus URL with user:key and an Authorization header from the env: neither reaches the warehouse
    (samples, checkpoints, run log) nor an error message, nor the exported rules and Grafana dashboard."""
    from fake_prometheus import free_port, serve_fake_prometheus

    from memlens.collectors.base import CollectorError
    from memlens.collectors.prometheus import collect_prometheus
    from memlens.warehouse import connect

    with serve_fake_prometheus() as (_, prom_url):
        cfg = load_config(overrides={"prometheus": {"timeout_s": 2, "retries": 0}})
        con = connect(tmp_path / "wh.duckdb")
        url = prom_url.replace("http://", f"http://admin:{MEM0_KEY}@")
        assert collect_prometheus(con, url, cfg, step=60).rows_loaded > 0
        with pytest.raises(CollectorError) as err:  # the same credentials against a closed port
            collect_prometheus(con, f"http://admin:{MEM0_KEY}@127.0.0.1:{free_port()}", cfg, step=60)
        assert MEM0_KEY not in str(err.value)
        assert warehouse_leaks(con) == []
        con.close()

    env = dict(os.environ, PROM_AUTH=f"Bearer {OPENAI_KEY}", MEMLENS_HOME=str(tmp_path))
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text("prometheus:\n  auth_header_env: PROM_AUTH\n", encoding="utf-8")
    for kind in ("alerts", "grafana"):
        out = tmp_path / f"export-{kind}.txt"
        run = subprocess.run([sys.executable, "-m", "memlens.cli", "export", kind, "--config", str(cfg_file),
                              "--out", str(out)], env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert out.stat().st_size > 1000
        assert file_leaks(out) == [] and OPENAI_KEY not in run.stdout + run.stderr


# Issue 12 #9: secret shapes seen in real logs, each with the part that must not survive. Made up, never valid.
SHAPES = {
    "basic auth in a URL": ("GET https://alice:Sup3rS3cretPass@api.example.com/v1 failed", "Sup3rS3cretPass"),
    "database URL password": ("dsn=postgresql://mem0:Db-Pa55w0rd-Xq9@db.internal:5432/mem0", "Db-Pa55w0rd-Xq9"),
    "AWS access key id": ("key id AKIAZ7Q3N5L2X8W4R6T1 in env", "AKIAZ7Q3N5L2X8W4R6T1"),
    "AWS secret key (named)": ("aws_secret_access_key=Zk9+Qw3/Rt7yUi1oPa5sDf8gHj2kLz4xCv6bNm0q", "Zk9+Qw3/Rt7yUi1o"),
    "AWS secret key (bare)": ("creds Zk9+Qw3/Rt7yUi1oPa5sDf8gHj2kLz4xCv6bNm0q end", "Zk9+Qw3/Rt7yUi1o"),
    "GitHub token": ("push with ghp_Xq7Lm2Nv9Rb4Tk6Wc1Yh8Jd3Gf5Ps0Ua2Qe4 now", "Xq7Lm2Nv9Rb4Tk6Wc1Yh8Jd3"),
    "GitHub fine-grained token": ("github_pat_11AB2CD3E0q7Lm2Nv9Rb4T_k6Wc1Yh8Jd3Gf5Ps0Ua2Qe4Xz", "11AB2CD3E0q7Lm2"),
    "JWT": ("session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ ok",
            "eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"),
    "Google API key": ("maps AIzaSyQ7mL2nV9rB4tK6wC1yH8jD3gF5pS0uA2q end", "AIzaSyQ7mL2nV9rB4tK6wC1yH8jD3gF5pS0uA2q"),
    "Slack webhook": ("post to https://hooks.slack.com/services/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",
                      "Xq7Lm2Nv9Rb4Tk6Wc1Yh8Jd3"),
    "Slack token": ("xoxb-1234567890-0987654321-Xq7Lm2Nv9Rb4Tk6W", "Xq7Lm2Nv9Rb4Tk6W"),
    "multi-word password": ("login failed password=correct horse battery staple", "horse battery staple"),
    "quoted multi-word password": ('{"db_password": "correct horse battery staple"}', "horse battery staple"),
    "password escaped inside JSON text": ('{"msg":"retry with password=\\"correct horse battery\\""}',
                                          "horse battery"),
    "client secret": ("client_secret: 9f8e7d6c5b4a3f2e1d0c", "9f8e7d6c5b4a3f2e1d0c"),
    "private key": ("-----BEGIN RSA PRIVATE KEY----- MIIEowIBAAKCAQEAxq7Lm2Nv9Rb4", "MIIEowIBAAKCAQEAxq7Lm2Nv9Rb4"),
    "OpenAI key": (f"key {OPENAI_KEY}", OPENAI_KEY[3:20]),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_secret_shape_is_redacted(shape):
    """The same pattern masks each shape in Python (run messages, rejected-line excerpts) and in DuckDB (RE2,
    the excerpts of lines that fail validation)."""
    import duckdb

    from memlens.collectors.redaction import REDACTED, SECRET_PATTERN, excerpt, redact

    text, secret = SHAPES[shape]
    py = redact(text)
    sql = duckdb.connect().execute("SELECT regexp_replace(?, ?, ?, 'g')",
                                   [text, SECRET_PATTERN, REDACTED]).fetchone()[0]
    assert secret not in py and REDACTED in py, py
    assert sql == py
    assert secret not in excerpt("x" * 180 + text)  # masked before the excerpt is cut


def test_quarantined_lines_keep_no_secret_in_clear(tmp_path):
    """Every shape inside broken op-log lines (invalid JSON, a wrong type, invalid UTF-8): the quarantine excerpts
    hold none of them, whichever path (DuckDB validation or Python's pre-parse rejection) quarantined the line."""
    from reliability_support import dumps, valid_event, write_jsonl

    from memlens.collectors.oplog import collect_oplogs
    from memlens.warehouse import connect

    lines: list[str | bytes] = []
    for i, (text, _) in enumerate(SHAPES.values()):
        ev = valid_event(i, seed=912)
        lines.append(dumps({**ev, "latency_ms": text}))  # wrong type: reason from DuckDB, excerpt via RE2
        lines.append(dumps(ev)[:-1] + ', "note": ' + json.dumps(text))  # cut: invalid JSON
        lines.append(text.encode() + b" \xff\xfe")  # invalid UTF-8: rejected in Python
    log = write_jsonl(tmp_path / "secrets.jsonl", lines)
    con = connect(":memory:")
    result = collect_oplogs(con, [log], load_config())
    assert result.rows_quarantined == len(lines)
    excerpts = "\n".join(e for (e,) in con.execute("SELECT excerpt FROM raw_quarantine").fetchall())
    assert [name for name, (_, secret) in SHAPES.items() if secret in excerpts] == []
