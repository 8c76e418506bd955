"""A local fake of Prometheus's range-query API (stdlib HTTP server on 127.0.0.1) with selectable failure modes:
ok, slow (each answer after `server.slow_s`, 2 s unless set, from call `server.slow_from_call` on), drip (the whole
answer one byte every 0.5 s), error500, error400 (Prometheus error JSON), garbage (HTML), partial (503 after 3
queries), warnings. Every answer holds a NaN and a +Inf point (its 2nd and 3rd) among finite ones, unless
`server.odd_points` is False.
`server.received_until` (epoch seconds, or None) stands for ingestion lag: points stamped later have not reached
this Prometheus yet and are left out of answers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakePrometheus(BaseHTTPRequestHandler):
    """Answers range queries according to `server.mode`; counts requests in `server.calls`."""

    def log_message(self, *args) -> None:
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _matrix(self, start: float, end: float, step: float, warnings: bool = False) -> bytes:
        n = int((end - start) / step) + 1
        until, odd = self.server.received_until, self.server.odd_points
        values = [[start + i * step, "NaN" if odd and i == 1 else "+Inf" if odd and i == 2 else f"{0.01 * (i + 1):.3f}"]
                  for i in range(n) if until is None or start + i * step <= until]
        body = {"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"service": "svc", "op": "search"}, "values": values}]}}
        if warnings:
            body["warnings"] = ["partial response: one store unavailable"]
        return json.dumps(body).encode()

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        srv = self.server
        srv.calls += 1
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode()) if length else {}
        form.update(parse_qs(urlsplit(self.path).query))
        start, end, step = (float(form[k][0].rstrip("s")) if k in form else 0.0 for k in ("start", "end", "step"))
        mode = srv.mode
        if mode == "slow" and srv.calls >= srv.slow_from_call:
            time.sleep(srv.slow_s)
            self._send(200, self._matrix(start, end, step or 60))
        elif mode == "drip":  # status line, headers and body: one byte every 0.5 s, until the client leaves
            body = self._matrix(start, end, step or 60)
            raw = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                   .encode() + body)
            try:
                for i in range(len(raw)):
                    self.wfile.write(raw[i:i + 1])
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass
            self.close_connection = True
        elif mode == "error500":
            self._send(500, b"internal error: out of memory")
        elif mode == "error400":
            self._send(400, json.dumps({"status": "error", "errorType": "bad_data",
                                        "error": "invalid parameter 'query': parse error"}).encode())
        elif mode == "garbage":
            self._send(200, b"<html>proxy login page</html>", "text/html")
        elif mode == "partial" and srv.calls > 3:  # the first queries answer, then the server goes away
            self._send(503, b"service unavailable")
        else:
            self._send(200, self._matrix(start, end, step or 60, warnings=mode == "warnings"))


@contextmanager
def serve_fake_prometheus(mode: str = "ok") -> Iterator[tuple[ThreadingHTTPServer, str]]:
    """(server, base URL); set `server.mode` to change the failure mode while it runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
    server.mode, server.calls, server.received_until, server.odd_points = mode, 0, None, True
    server.slow_s, server.slow_from_call = 2.0, 1
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A port nothing listens on (for a Prometheus that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
