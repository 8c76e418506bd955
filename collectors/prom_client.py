"""A small client for Prometheus's range-query API with wall-clock deadlines (stdlib http.client).

Libraries built on requests/urllib3 time out per socket operation: a server that sends one byte every half second
never trips a 1 s timeout and can hold a collection for minutes. Here each request has a deadline
(prometheus.timeout_s from its start) and so does the whole run (prometheus.deadline_s): a watchdog shuts the
socket down when the earlier of the two passes, wherever the request is (connecting, sending, waiting for the
headers, reading the body), and the caller gets one clear CollectorError.

Retried (prometheus.retries times, with a short backoff, within the deadlines): connection failures and HTTP 502,
503, 504. Not retried: a request that ran out of time, other HTTP errors, an answer that is not Prometheus JSON.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlencode, urlsplit

from memlens.collectors.base import CollectorError, redact

RETRY_STATUSES = (502, 503, 504)
BACKOFF_S = 0.2
READ_BYTES = 1 << 16


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect: scheme, host, port, path prefix, headers (credentials never shown)."""
    scheme: str
    host: str
    port: int
    prefix: str
    headers: dict[str, str]
    verify_tls: bool
    public: str  # the URL as stored and shown: no user:password, no query string


def endpoint(url: str, public: str, auth_header: str | None, verify_tls: bool) -> Endpoint:
    """Parse `url`. Credentials: the configured Authorization header wins over user:password in the URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CollectorError(f"prometheus URL {public!r} is not an http(s) URL")
    headers = {"Accept": "application/json", "User-Agent": "memlens"}
    if auth_header:
        headers["Authorization"] = auth_header
    elif parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Endpoint(parts.scheme, parts.hostname, port, parts.path.rstrip("/"), headers, verify_tls, public)


class _Expired(Exception):
    """The watchdog shut the socket: `which` deadline passed ('request' or 'run')."""

    def __init__(self, which: str) -> None:
        super().__init__(which)
        self.which = which


class PromClient:
    """Range queries against one Prometheus, each within `timeout_s`, all of them before `run_deadline`
    (time.monotonic() value)."""

    def __init__(self, ep: Endpoint, timeout_s: float, retries: int, run_deadline: float, deadline_s: float) -> None:
        self.ep, self.timeout_s, self.retries = ep, timeout_s, retries
        self.run_deadline, self.deadline_s = run_deadline, deadline_s
        self.requests = 0

    def query_range(self, name: str, expr: str, start: float, end: float, step: float) -> list[dict]:
        """The `result` list of a matrix answer (each: metric labels, values [[ts, "value"], ...])."""
        params = urlencode({"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"})
        path = f"{self.ep.prefix}/api/v1/query_range?{params}"
        attempt = 0
        while True:
            try:
                status, body = self._get(path)
            except _Expired as exp:
                if exp.which == "run":
                    raise CollectorError(f"Prometheus at {self.ep.public}: the collection ran out of time "
                                         f"({self.deadline_s:g} s, prometheus.deadline_s) during query {name}; "
                                         "nothing was stored") from None
                raise CollectorError(f"Prometheus at {self.ep.public} did not answer query {name} within "
                                     f"{self.timeout_s:g} s (prometheus.timeout_s)") from None
            except (OSError, http.client.HTTPException) as exc:
                if attempt < self.retries and self._can_wait(attempt):
                    attempt += 1
                    continue
                raise CollectorError(f"cannot reach Prometheus at {self.ep.public} ({_reason(exc)}); is it running "
                                     "and is prometheus.url / --url right?") from None
            if status in RETRY_STATUSES:
                if attempt < self.retries and self._can_wait(attempt):
                    attempt += 1
                    continue
                raise CollectorError(f"Prometheus at {self.ep.public} answered HTTP {status} to query {name} (also "
                                     "after prometheus.retries); it may be overloaded or restarting, try again later")
            return _matrix(self.ep.public, name, status, body)

    def _can_wait(self, attempt: int) -> bool:
        pause = BACKOFF_S * 2 ** attempt
        if time.monotonic() + pause >= self.run_deadline:
            return False
        time.sleep(pause)
        return True

    def _get(self, path: str) -> tuple[int, bytes]:
        """One GET within min(request deadline, run deadline): (status, body)."""
        started = time.monotonic()
        request_deadline = started + self.timeout_s
        deadline = min(request_deadline, self.run_deadline)
        which = "request" if request_deadline <= self.run_deadline else "run"
        if deadline <= started:
            raise _Expired("run")
        self.requests += 1
        conn = self._connection(deadline - started)
        fired = threading.Event()

        def expire() -> None:  # unblocks whatever the request thread waits for
            fired.set()
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            conn.request("GET", path, headers=self.ep.headers)
            resp = conn.getresponse()
            chunks = []
            while data := resp.read(READ_BYTES):
                chunks.append(data)
            if fired.is_set():  # the body may look complete after the shutdown: it is not
                raise _Expired(which)
            return resp.status, b"".join(chunks)
        except (OSError, http.client.HTTPException, ssl.SSLError):
            if fired.is_set() or time.monotonic() >= deadline:
                raise _Expired(which) from None
            raise
        finally:
            watchdog.cancel()
            conn.close()

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.ep.scheme == "https":
            ctx = ssl.create_default_context()
            if not self.ep.verify_tls:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(self.ep.host, self.ep.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection(self.ep.host, self.ep.port, timeout=timeout)


def _matrix(public: str, name: str, status: int, body: bytes) -> list[dict]:
    """The series of a Prometheus range-query answer, or a CollectorError saying what is wrong with it."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if status != 200:
        error = doc.get("error") if isinstance(doc, dict) else None
        detail = error if isinstance(error, str) else body[:300].decode("utf-8", "replace")
        raise CollectorError(f"Prometheus at {public} rejected query {name} (HTTP Status Code {status}: "
                             f"{redact(detail)}); check the URL, the credentials and the Prometheus version")
    try:
        if not isinstance(doc, dict) or doc.get("status") != "success":
            raise ValueError(f"status {doc.get('status') if isinstance(doc, dict) else None!r}, not 'success'")
        data = doc["data"]
        if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise ValueError(f"resultType {data.get('resultType')!r}, not a matrix")
        return data["result"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        shown = body[:80].decode("utf-8", "replace")
        raise CollectorError(f"Prometheus at {public} gave an unusable answer to {name}: {type(exc).__name__}: "
                             f"{redact(str(exc))[:200]} (answer began {redact(shown)!r})") from None


def _reason(exc: BaseException) -> str:
    """The OS-level cause of a connection error ("Connection refused", "Name or service not known")."""
    if isinstance(exc, ssl.SSLError):
        return redact(f"SSL: {exc.reason or exc}")
    if isinstance(exc, socket.gaierror):
        return redact(exc.strerror or str(exc))
    if isinstance(exc, OSError) and exc.strerror:
        return redact(exc.strerror)
    return type(exc).__name__
