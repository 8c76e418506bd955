"""A LOCAL FAKE of the Mem0 Platform's `GET /v1/events/` and `GET /v1/stats/` (stdlib HTTP server on 127.0.0.1).

A stand-in: the hosted Platform cannot be reached from here. It serves the shapes of mem0's docs/openapi.json (a
paginated `count next previous results[]` list, newest event first; each event with id, event_type, status, payload,
metadata, results, created_at, updated_at, started_at, completed_at, latency in ms; the stats totals) and can fail
the way a real service does: 401 for a wrong key, 429 with Retry-After, 5xx, a malformed page.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

KEY = "m0-fake-platform-key-123456"
STATS = {"total_memories": 42, "total_retrieval_events": 17, "total_add_events": 9, "total_api_retrieval_events": 15,
         "total_retrieval_events_limit": 1000, "total_users_with_memories": 3, "total_agents_with_memories": 1,
         "total_runs_with_memories": 0, "memories_per_user": 14.0, "memories_per_agent": 42.0,
         "memories_per_run": 0.0}


def event(eid: str, event_type: str, status: str, created: str, latency: float | None, user: str | None = None,
          results: list | None = None) -> dict:
    return {"id": eid, "event_type": event_type, "status": status,
            "payload": {"user_id": user} if user else {}, "metadata": {}, "results": results or [],
            "created_at": created, "updated_at": created, "started_at": created,
            "completed_at": None if status in ("PENDING", "RUNNING") else created, "latency": latency}


class FakePlatform(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _send(self, code: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        srv = self.server
        url = urlsplit(self.path)
        srv.requests.append((url.path, self.headers.get("Authorization")))
        if self.headers.get("Authorization") != f"Token {KEY}":
            self._send(401, b'{"detail": "Invalid API key"}')
            return
        failure = srv.failures.pop(0) if srv.failures else None
        if failure == 429:
            self._send(429, b'{"detail": "Request was throttled."}', {"Retry-After": "1"})
            return
        if failure in (500, 502, 503):
            self._send(failure, b"upstream error")
            return
        if url.path == "/v1/stats/":
            self._send(200, json.dumps(srv.stats).encode())
            return
        if url.path != "/v1/events/":
            self._send(404, b'{"detail": "Not found."}')
            return
        q = parse_qs(url.query)
        page = int(q.get("page", ["1"])[0])
        size = int(q.get("page_size", ["100"])[0])
        if failure == "malformed":
            self._send(200, b'{"count": 3, "results": "oops')
            return
        events = sorted(srv.events, key=lambda e: e["created_at"], reverse=True)  # newest first
        chunk = events[(page - 1) * size: page * size]
        srv.pages_served += 1
        base = f"http://127.0.0.1:{srv.server_address[1]}/v1/events/"
        body = {"count": len(events),
                "next": f"{base}?page={page + 1}&page_size={size}" if page * size < len(events) else None,
                "previous": f"{base}?page={page - 1}&page_size={size}" if page > 1 else None,
                "results": chunk}
        self._send(200, json.dumps(body).encode())


@contextmanager
def serve_fake_platform(events: list[dict]) -> Iterator[tuple[ThreadingHTTPServer, str]]:
    """(server, base URL). `server.events` (mutable), `server.failures`: failures to serve next, in order (429, 500,
    502, 503, 'malformed'); `server.requests`: (path, Authorization) of every request."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePlatform)
    server.events, server.failures, server.requests, server.stats, server.pages_served = list(events), [], [], \
        dict(STATS), 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
