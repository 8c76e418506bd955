"""`memlens collect platform`: the Mem0 Platform's own operation log (`GET /v1/events/`) and totals (`GET /v1/stats/`).

`MemoryClient` wraps neither endpoint, so they are called over HTTP here, with the API key read from an environment
variable (`platform.api_key_env`, sent as `Authorization: Token <key>`, never stored, logged or put in a message).

Everything is fetched before the warehouse is opened for writing (a slow or failing Platform never holds the
collection lock): `fetch_platform` pages through the events from the newest back to where the last run ended
(raw_platform_checkpoints.resume_from, less `platform.overlap_s`), with a wall-clock deadline per request and per
run, retries with exponential backoff on connection errors and HTTP 5xx, and the server's Retry-After on HTTP 429.
`load_platform` then maps each finished event to an op event (mode platform; `latency` in ms, status SUCCEEDED ok /
FAILED error) and loads them through the op-log validation (collectors/mapped.py): idempotent by the event id
(`platform:<id>`). Events still PENDING or RUNNING are not loaded: the checkpoint stays at the oldest of them, so
the next run reads them again once they finished. A page that is not the documented shape is quarantined (its
number and what is wrong) and ends the paging; the checkpoint then does not move past what was not read.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import logging
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import duckdb
import requests

from memlens import backend, schema
from memlens.collectors.base import CollectorError, IngestResult, collection_run, redact, utcnow
from memlens.collectors.mapped import Mapped, MappedLoader, Unmappable
from memlens.config import Config

log = logging.getLogger(__name__)

SOURCE = "platform"
EVENT_OPS = {"ADD": "add", "SEARCH": "search", "GET": "get", "GET_ALL": "get_all", "UPDATE": "update",
             "DELETE": "delete", "DELETE_ALL": "delete_all", "HISTORY": "history"}
FINISHED = {"SUCCEEDED": "ok", "FAILED": "error"}
UNFINISHED = ("PENDING", "RUNNING")
STATS_COLUMNS = ("total_memories", "total_retrieval_events", "total_add_events", "total_api_retrieval_events",
                 "total_retrieval_events_limit", "total_users_with_memories", "total_agents_with_memories",
                 "total_runs_with_memories", "memories_per_user", "memories_per_agent", "memories_per_run")


def public_url(url: str) -> str:
    """The base URL as stored and shown: scheme, host, port and path; no credentials, no query."""
    parts = urlsplit(url.rstrip("/"))
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}{parts.path}"


def api_key(cfg: Config) -> str:
    key = os.environ.get(cfg.platform.api_key_env, "").strip()
    if not key:
        raise CollectorError(f"${cfg.platform.api_key_env} is not set: it must hold your Mem0 API key "
                             "(platform.api_key_env names the variable; the key is never stored)")
    return key


class RequestFailed(Exception):
    """A request that failed for good (after its retries); `status` is the last HTTP status, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class PlatformFetch:
    source_url: str
    events: list[tuple[int, dict]] = field(default_factory=list)  # (position in the run, event as returned)
    bad: list[Unmappable] = field(default_factory=list)  # malformed pages or events
    stats: dict[str, Any] | None = None
    pages: int = 0
    complete: bool = False  # paged back to the checkpoint (or the oldest event): the checkpoint may move
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0


class PlatformClient:
    """GET with a wall-clock deadline per request and per run, retries with backoff, Retry-After on 429."""

    def __init__(self, url: str, key: str, cfg: Config, run_deadline: float) -> None:
        self.base = url.rstrip("/") + "/"
        self.origin = urlsplit(self.base)[:2]
        self.p = cfg.platform
        self.run_deadline = run_deadline
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {key}", "Accept": "application/json"})
        self.session.trust_env = False  # no proxy or netrc credentials picked up behind the user's back
        self.waited_429 = 0

    def close(self) -> None:
        self.session.close()

    def _once(self, url: str) -> requests.Response:
        deadline = min(time.monotonic() + self.p.timeout_s, self.run_deadline)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("run deadline reached")
        resp = self.session.get(url, timeout=(remaining, remaining), stream=True, allow_redirects=False)
        body = bytearray()
        for chunk in resp.iter_content(1 << 16):  # each read is bounded by the timeout; the whole by the deadline
            body += chunk
            if time.monotonic() > deadline:
                resp.close()
                raise TimeoutError(f"no complete answer within {self.p.timeout_s:g} s (platform.timeout_s)")
        resp._content = bytes(body)
        return resp

    def get(self, url: str, what: str) -> requests.Response:
        if urlsplit(url)[:2] != self.origin:  # never send the API key to another host (a `next` link elsewhere)
            raise RequestFailed(f"{what}: the Platform pointed to another host ({public_url(url)}); not followed")
        wait = self.p.backoff_s
        for attempt in range(self.p.retries + 1):
            last = attempt == self.p.retries
            try:
                resp = self._once(url)
            except (requests.ConnectionError, requests.Timeout, TimeoutError) as exc:
                reason = str(exc) if isinstance(exc, TimeoutError) else type(exc).__name__
                if last or time.monotonic() + wait > self.run_deadline:
                    raise RequestFailed(f"{what}: {redact(reason)} (after {attempt + 1} attempt(s))") from None
            else:
                if resp.status_code in (401, 403):
                    raise RequestFailed(f"{what}: HTTP {resp.status_code}, the Platform refused the API key "
                                        f"(check ${self.p.api_key_env})", resp.status_code)
                if resp.status_code == 429:
                    wait = _retry_after(resp, wait)
                    if wait > self.p.max_wait_s:
                        raise RequestFailed(f"{what}: HTTP 429, rate limited; Retry-After {wait:g} s is over "
                                            f"platform.max_wait_s {self.p.max_wait_s:g}", 429)
                    self.waited_429 += 1
                    if last:
                        raise RequestFailed(f"{what}: HTTP 429, still rate limited after {attempt + 1} attempt(s)",
                                            429)
                elif resp.status_code >= 500:
                    if last:
                        raise RequestFailed(f"{what}: HTTP {resp.status_code} (after {attempt + 1} attempt(s))",
                                            resp.status_code)
                elif resp.status_code != 200:
                    raise RequestFailed(f"{what}: HTTP {resp.status_code}", resp.status_code)
                else:
                    return resp
            if time.monotonic() + wait > self.run_deadline:
                raise RequestFailed(f"{what}: the run deadline (platform.run_deadline_s) leaves no time to retry")
            time.sleep(wait)
            wait = max(wait * 2, self.p.backoff_s)
        raise AssertionError("unreachable")


def _retry_after(resp: requests.Response, default: float) -> float:
    value = resp.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            pass
    return default


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as naive UTC, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)).replace(tzinfo=None)


def fetch_platform(cfg: Config, url: str | None = None, *, resume_from: datetime | None = None,
                   max_pages: int | None = None, key: str | None = None) -> PlatformFetch:
    """Page through /v1/events/ back to `resume_from` (less platform.overlap_s) and read /v1/stats/; no warehouse."""
    p = cfg.platform
    url = url or p.url
    key = key or api_key(cfg)
    t0 = time.monotonic()
    out = PlatformFetch(public_url(url))
    client = PlatformClient(url, key, cfg, t0 + p.run_deadline_s)
    stop_before = resume_from - timedelta(seconds=p.overlap_s) if resume_from else None
    max_pages = max_pages or p.max_pages
    position = 0
    try:
        next_url: str | None = urljoin(client.base, f"v1/events/?page_size={p.page_size}")
        while next_url is not None:
            if out.pages >= max_pages:
                out.messages.append(f"stopped after {out.pages} page(s) (max pages); the rest next run")
                break
            page_no = out.pages + 1
            try:
                resp = client.get(next_url, f"GET /v1/events/ page {page_no}")
            except RequestFailed as exc:
                if exc.status in (401, 403) or not out.pages:
                    raise CollectorError(f"Platform at {out.source_url}: {exc}") from None
                out.messages.append(f"stopped: {exc}; what was fetched is loaded, the rest next run")
                break
            out.pages += 1
            page, problem = _page(resp)
            if problem:
                out.bad.append(Unmappable(page_no, f"GET /v1/events/ page {page_no}: {problem}", resp.text[:800]))
                out.messages.append(f"page {page_no} is malformed ({problem}); paging stopped there")
                break
            times = []
            for i, ev in enumerate(page["results"]):
                position += 1
                if not isinstance(ev, dict):
                    out.bad.append(Unmappable(position, f"page {page_no} results[{i}]: not an event object",
                                              json.dumps(ev, default=str)))
                    continue
                out.events.append((position, ev))
                times.append(parse_time(ev.get("created_at")))
            next_url = page.get("next") or None
            if next_url is not None:
                next_url = urljoin(client.base, next_url)
            known = [t for t in times if t is not None]
            newest_first = known == sorted(known, reverse=True)
            if stop_before and known and newest_first and known[-1] < stop_before:
                next_url = None  # paged back past the checkpoint
            if next_url is None:
                out.complete = True
        try:
            resp = client.get(urljoin(client.base, "v1/stats/"), "GET /v1/stats/")
            stats = resp.json()
            if isinstance(stats, dict):
                out.stats = stats
            else:
                out.messages.append("GET /v1/stats/: not a JSON object; no snapshot taken")
        except (RequestFailed, ValueError) as exc:
            out.messages.append(f"no stats snapshot: {exc}")
    finally:
        client.close()
    if client.waited_429:
        out.messages.append(f"rate limited {client.waited_429} time(s) (HTTP 429): waited as the Platform asked")
    out.seconds = time.monotonic() - t0
    return out


def _page(resp: requests.Response) -> tuple[dict, str | None]:
    """The page, or what is wrong with it (the documented shape: count, next, previous, results[])."""
    try:
        page = json.loads(resp.content)
    except (ValueError, UnicodeDecodeError) as exc:
        return {}, f"not JSON ({str(exc)[:80]})"
    if not isinstance(page, dict):
        return {}, f"expected an object with results, got {type(page).__name__}"
    if not isinstance(page.get("results"), list):
        return {}, "results: missing or not a list"
    if page.get("next") is not None and not isinstance(page.get("next"), str):
        return {}, "next: not a URL string"
    return page, None


def map_event(ev: dict, cfg: Config) -> tuple[dict | None, str | None]:
    """(op event, None), (None, reason naming the field) for an unusable event, or (None, None) while unfinished."""
    status = ev.get("status")
    if status in UNFINISHED:
        return None, None
    eid = ev.get("id")
    if not isinstance(eid, (str, int)) or isinstance(eid, bool) or eid == "":
        return None, "id: missing or not a string"
    etype = ev.get("event_type")
    if etype not in EVENT_OPS:
        return None, f'event_type: unknown value "{str(etype)[:40]}" (expected one of {", ".join(EVENT_OPS)})'
    if status not in FINISHED:
        return None, f'status: unknown value "{str(status)[:40]}" (expected one of PENDING, RUNNING, FAILED, ' \
                     'SUCCEEDED)'
    started = parse_time(ev.get("started_at")) or parse_time(ev.get("created_at"))
    if started is None:
        return None, "started_at, created_at: no usable ISO 8601 time"
    latency = ev.get("latency")
    if latency is None:
        completed = parse_time(ev.get("completed_at"))
        if completed is None or parse_time(ev.get("started_at")) is None:
            return None, "latency: missing (and no started_at/completed_at to measure it)"
        latency = (completed - started).total_seconds() * 1000.0
    if isinstance(latency, bool) or not isinstance(latency, (int, float)):
        return None, f"latency: expected a number of milliseconds, got {type(latency).__name__}"
    event: dict[str, Any] = {
        "schema_version": schema.SCHEMA_VERSION, "event_id": f"platform:{eid}",
        "ts": started.isoformat(timespec="microseconds") + "Z", "service": cfg.platform.service,
        "mode": "platform", "call_mode": "sync", "op": EVENT_OPS[etype], "latency_ms": float(latency),
        "status": FINISHED[status],
    }
    payload = ev.get("payload") if isinstance(ev.get("payload"), dict) else {}
    # entity ids: top level of the request (add), inside its filters (search, get_all), or in the event metadata
    scopes = [d for d in (payload, payload.get("filters"), ev.get("metadata")) if isinstance(d, dict)]
    for name in ("user_id", "agent_id", "run_id"):
        value = next((d[name] for d in scopes if isinstance(d.get(name), str) and d[name]), None)
        if value is not None:
            event[name] = value
    if event["op"] == "search" and event["status"] == "ok" and isinstance(ev.get("results"), list):
        event["result_count"] = len(ev["results"])
    return event, None


@dataclass
class LoadSummary:
    pending: int = 0
    newest: tuple[datetime, str] | None = None
    oldest_pending: datetime | None = None


def load_platform(con: duckdb.DuckDBPyConnection, fetched: PlatformFetch, cfg: Config) -> IngestResult:
    """Load what `fetch_platform` returned: op events, quarantined records, the stats snapshot and the checkpoint,
    in one transaction."""
    key = f"platform:{fetched.source_url}"
    with collection_run(con, SOURCE, fetched.source_url) as book:
        result = book.result
        result.files_seen = fetched.pages
        events: list[Mapped] = []
        bad = list(fetched.bad)
        s = LoadSummary()
        for position, ev in fetched.events:
            created = parse_time(ev.get("created_at"))
            if created is not None and (s.newest is None or created > s.newest[0]):
                s.newest = (created, str(ev.get("id")))
            mapped, reason = map_event(ev, cfg)
            if mapped is not None:
                events.append(Mapped(mapped, position, f"event {str(ev.get('id'))[:64]}"))
            elif reason is not None:
                bad.append(Unmappable(position, f"event {str(ev.get('id'))[:64]}: {reason}",
                                      json.dumps(ev, default=str)))
            else:
                s.pending += 1
                if created is not None and (s.oldest_pending is None or created < s.oldest_pending):
                    s.oldest_pending = created
        now = utcnow()
        run_id = result.run_id

        def also(c: duckdb.DuckDBPyConnection) -> None:
            if fetched.stats is not None:
                values = [_stat(fetched.stats.get(k), k) for k in STATS_COLUMNS]
                c.execute(f"INSERT OR REPLACE INTO raw_platform_stats (source_url, taken_at, run_id, "
                          f"{', '.join(STATS_COLUMNS)}) VALUES (?, ?, ?, {', '.join('?' * len(STATS_COLUMNS))})",
                          [fetched.source_url, now, run_id, *values])
            row = c.execute("SELECT resume_from, newest_event_at, newest_event_id FROM raw_platform_checkpoints "
                            "WHERE source_url = ?", [fetched.source_url]).fetchall()
            before = row[0] if row else (None, None, None)
            resume = before[0]
            if fetched.complete:  # everything back to the old checkpoint was read: it may move
                resume = s.oldest_pending or (s.newest[0] if s.newest else before[0])
            newest = s.newest if s.newest and (before[1] is None or s.newest[0] >= before[1]) else before[1:]
            c.execute("INSERT INTO raw_platform_checkpoints VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                      "resume_from = excluded.resume_from, newest_event_at = excluded.newest_event_at, "
                      "newest_event_id = excluded.newest_event_id, "
                      "events_seen = raw_platform_checkpoints.events_seen + excluded.events_seen, "
                      "updated_at = excluded.updated_at",
                      [fetched.source_url, resume, newest[0] if newest else None, newest[1] if newest else None,
                       len(fetched.events), now])

        # Events are read again in the overlap window: one already quarantined is not quarantined twice.
        seen = {r for (r,) in con.execute("SELECT reason FROM raw_quarantine WHERE source = ? AND source_file = ?",
                                          [SOURCE, key]).fetchall()}
        bad = [b for b in bad if redact(b.reason)[:1000] not in seen]
        MappedLoader(con, cfg, result, SOURCE).commit(key, events, bad, also)
        result.messages.append(
            f"{len(fetched.events)} events in {fetched.pages} page(s) from {fetched.source_url} "
            f"(fetch {fetched.seconds:.2f} s)" + (f", {s.pending} still pending or running (read again next run)"
                                                  if s.pending else "")
            + ("" if fetched.stats is None else ", stats snapshot taken"))
        result.messages += fetched.messages
    return result


def _stat(value: Any, name: str) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if name.startswith("memories_per_") else int(value)


def read_resume_from(path: Path, cfg: Config, source_url: str) -> datetime | None:
    """The checkpoint, read with a short read-only open (no lock held while fetching); None for a new warehouse."""
    from memlens.warehouse import WarehouseError, connect

    if not backend.exists(path):
        return None
    try:
        con = connect(path, cfg, read_only=True)
    except (WarehouseError, duckdb.Error):  # older layout, busy, ...: page back without a checkpoint (re-read
        return None                         # events are duplicates, not loaded twice)
    try:
        rows = con.execute("SELECT resume_from FROM raw_platform_checkpoints WHERE source_url = ?",
                           [source_url]).fetchall()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return rows[0][0] if rows else None


def collect_platform(path: Path, cfg: Config, url: str | None = None, max_pages: int | None = None, *,
                     open_for_write: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]] | None = None
                     ) -> IngestResult:
    """Fetch (no warehouse held), then load under the collection lock. `open_for_write`: how to open the warehouse
    for writing (the dashboard passes its own, which first closes its shared read-only connection)."""
    from memlens.collectors.base import collection_warehouse

    source = public_url(url or cfg.platform.url)
    key = api_key(cfg)  # before anything: a missing key is one line, nothing fetched or written
    fetched = fetch_platform(cfg, url, resume_from=read_resume_from(path, cfg, source), max_pages=max_pages, key=key)
    opener = open_for_write or (lambda: collection_warehouse(path, cfg, "memlens collect platform"))
    with opener() as con:
        return load_platform(con, fetched, cfg)


def collect_platform_cli(args: argparse.Namespace, cfg: Config, path: Path) -> int:
    result = collect_platform(path, cfg, args.url, args.max_pages)
    print(result.summary())
    return 0
