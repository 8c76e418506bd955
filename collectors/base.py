"""What every collector shares: the result record, run bookkeeping, the writer lock, secret redaction."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import duckdb

from memlens import backend, resources
from memlens.collectors.redaction import EXCERPT_CHARS, REDACTED, SECRET_PATTERN, excerpt, redact
from memlens.config import Config
from memlens.schema import render_sql

WAREHOUSE_POLL_SECONDS = 0.05  # how often a collection retries opening a warehouse a reader holds


@cache
def read_sql(name: str) -> str:
    """A collector query from `collectors/sql/` (shipped in the package), its field-list slots filled from
    memlens/schema.py."""
    return render_sql(resources.read_sql(__package__, name))


def utcnow() -> datetime:
    """Naive UTC, the warehouse's TIMESTAMP convention."""
    return datetime.now(UTC).replace(tzinfo=None)


def display_path(path: Path) -> str:
    """Paths as stored in the warehouse and shown in messages: absolute, resolved (the checkpoint key), always
    valid text. A name that is not valid UTF-8 (Python holds its bytes as lone surrogates, which DuckDB and the
    terminal refuse) shows those bytes as `\\xNN` escapes; the file itself is still opened by its real name."""
    text = str(path.expanduser().resolve())
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class CollectorError(RuntimeError):
    """A collection that cannot run (locked warehouse, unreadable source); the warehouse is unchanged."""


class WarehouseLocked(CollectorError):
    """Another collection holds the warehouse's collection lock; the message names it."""


@dataclass
class IngestResult:
    run_id: str
    source: str
    files_seen: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rate = f", {self.rows_loaded / self.seconds:,.0f} rows/s" if self.seconds > 0 and self.rows_loaded else ""
        text = (f"{self.source}: {self.files_seen} file(s), {self.rows_loaded:,} loaded, "
                f"{self.rows_duplicate:,} duplicate, {self.rows_quarantined:,} quarantined, "
                f"{self.bytes_read:,} bytes in {self.seconds:.2f} s{rate} (run {self.run_id})")
        return "\n".join([text, *(f"  - {m}" for m in self.messages)])


def warehouse_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The file the collection lock of `con`'s warehouse sits next to: the DuckDB file, for a ClickHouse warehouse a
    file named after it in the user data folder (memlens.backend.lock_anchor), None for an in-memory warehouse."""
    if backend.dialect(con) == "clickhouse":
        return backend.lock_anchor(con.target.display())
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return Path(rows[0][0]) if rows and rows[0][0] else None


def lock_path(db_file: Path) -> Path:
    return db_file.with_name(db_file.name + ".collect.lock")


# Locks this process holds, by lock file, with the thread that took it: a collection started inside a
# `collection_warehouse` block (the CLI) re-enters its own lock; any other thread or process is refused.
_HELD: dict[str, int] = {}
_HELD_GUARD = threading.Lock()


@contextmanager
def writer_lock(db_file: Path | None, what: str) -> Iterator[None]:
    """Warehouse-wide collection lock: a flock'd file next to the DuckDB file, naming its holder.

    flock (not POSIX fcntl locks) so that two collections in the same process also exclude each other.
    Non-blocking: a second collection fails at once naming the holder instead of queueing behind it.
    """
    if db_file is None:  # in-memory warehouse: private to this connection, nothing to share
        yield
        return
    path = lock_path(db_file.expanduser().resolve())
    key, me = str(path), threading.get_ident()
    with _HELD_GUARD:
        nested = _HELD.get(key) == me
    if nested:
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # a first collection into a new folder
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # read-only storage, no permission: a collection cannot run there, reading still can
        raise CollectorError(f"cannot write to warehouse {db_file}: {exc.strerror} ({path.parent}); reading "
                             "commands (memlens query, the dashboard) still work there") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "holder unknown"
            raise WarehouseLocked(
                f"warehouse {db_file} is locked by another collection ({holder}); "
                f"wait for it to finish (lock file {path})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, {what}, since {utcnow():%Y-%m-%d %H:%M:%S} UTC".encode(), 0)
        with _HELD_GUARD:
            _HELD[key] = me
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD.pop(key, None)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_holder(db_file: Path) -> str | None:
    """What the collection lock file says about the collection holding the warehouse (pid, command, since)."""
    try:
        text = lock_path(db_file.expanduser().resolve()).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return text or None


def connect_waiting(path: Path, cfg: Config, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting up to collector.warehouse_wait_seconds while another process holds DuckDB's lock
    on the file (a page render reading, a collection writing) instead of failing on the first conflict; then one
    line naming the collection that holds it, when there is one."""
    from memlens.warehouse import WarehouseBusy, connect

    deadline = time.monotonic() + cfg.collector.warehouse_wait_seconds
    while True:
        try:
            return connect(path, cfg, read_only=read_only)
        except WarehouseBusy as exc:
            if time.monotonic() < deadline:
                time.sleep(WAREHOUSE_POLL_SECONDS)
                continue
            waited = f"waited {cfg.collector.warehouse_wait_seconds:g} s"
            anchor = backend.lock_anchor(backend.resolve(path))
            holder = lock_holder(anchor) if anchor is not None else None
            if holder:
                raise CollectorError(f"warehouse {path} is busy: a collection ({holder}) is writing to it ({waited}); "
                                     "try again when it finishes") from None
            raise CollectorError(f"{exc} ({waited} to {'read' if read_only else 'write'})") from None


@contextmanager
def collection_warehouse(path: Path, cfg: Config, what: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """Take the collection lock, then open the warehouse: a second collection is refused by our lock, naming
    its holder, before it could trip over DuckDB's own file lock. DuckDB's own file lock is also taken by
    readers (the dashboard holds the file while a page renders): wait for a gap (connect_waiting). `path` is a
    DuckDB file or a warehouse URL (memlens.backend); a ClickHouse warehouse's lock lives in the user data folder."""
    with writer_lock(backend.lock_anchor(backend.resolve(path)), what):
        try:
            con = connect_waiting(path, cfg)
        except duckdb.Error as exc:
            where = backend.resolve(path)
            full = no_space_message(exc, None if backend.is_clickhouse(where) else Path(where))
            if full:
                raise CollectorError(full) from None
            raise
        try:
            close_stale_runs(con)
            yield con
        finally:
            con.close()


def close_stale_runs(con: duckdb.DuckDBPyConnection) -> None:
    """Runs still marked running when a collection takes the warehouse were stopped without finishing (the
    process was killed, the machine went down): the collection lock proves nobody runs them. Mark them so."""
    with suppress(duckdb.Error):  # bookkeeping only (a read-only or full warehouse keeps them as they are)
        con.execute("UPDATE raw_ingest_runs SET status = 'interrupted', finished_at = ?, message = "
                    "concat_ws('; ', message, 'stopped without finishing (the process ended before it could say "
                    "why); what it committed is kept') WHERE status = 'running'", [utcnow()])


@contextmanager
def reading_warehouse(path: Path, cfg: Config) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse read-only for a read command (`memlens query`), waiting while a collection writes."""
    con = connect_waiting(path, cfg, read_only=True)
    try:
        yield con
    finally:
        con.close()


class RunBook:
    """One row in raw_ingest_runs per collection: written 'running' at start, finished with counts."""

    def __init__(self, con: duckdb.DuckDBPyConnection, source: str, target: str) -> None:
        self.con = con
        self.result = IngestResult(run_id=uuid.uuid4().hex, source=source)
        self._t0 = time.perf_counter()
        con.execute(
            "INSERT INTO raw_ingest_runs (run_id, source, target, started_at, status) VALUES (?, ?, ?, ?, 'running')",
            [self.result.run_id, source, redact(target), utcnow()],
        )

    def finish(self, status: str, message: str | None = None) -> IngestResult:
        r = self.result
        r.seconds = time.perf_counter() - self._t0
        text = redact("; ".join([*r.messages, *([message] if message else [])]))[:2000] or None
        self.con.execute(
            "UPDATE raw_ingest_runs SET finished_at = ?, files_seen = ?, rows_loaded = ?, rows_duplicate = ?, "
            "rows_quarantined = ?, status = ?, message = ? WHERE run_id = ?",
            [utcnow(), r.files_seen, r.rows_loaded, r.rows_duplicate, r.rows_quarantined, status, text, r.run_id],
        )
        return r


@contextmanager
def collection_run(con: duckdb.DuckDBPyConnection, source: str, target: str) -> Iterator[RunBook]:
    """Lock the warehouse, book a run, and record its outcome (also when it fails)."""
    db_file = warehouse_file(con)
    with writer_lock(db_file, f"memlens collect {source}"):
        book = RunBook(con, source, target)
        try:
            yield book
        except BaseException as caught:  # each batch rolled its own transaction back: record why the run stopped
            exc = swallowed_interrupt(caught) or caught
            full = no_space_message(exc, db_file if backend.dialect(con) == "duckdb" else None)  # not the lock's
            if isinstance(exc, KeyboardInterrupt):  # Ctrl-C, or SIGTERM (memlens.cli turns it into Interrupted)
                status, text = "interrupted", f"interrupted ({exc.args[0] if exc.args else 'SIGINT'})"
            else:
                status, text = "error", full or f"{type(exc).__name__}: {exc}"
            with suppress(duckdb.Error):  # a broken connection (or a full disk) must not hide the original error
                book.finish(status, text)
            if full:
                raise CollectorError(full) from None
            if exc is not caught:
                raise exc from None
            raise
        book.finish("ok")


_SWALLOWED = re.compile(r"\b(?:KeyboardInterrupt|Interrupted): ?(SIG[A-Z]+)?")


def swallowed_interrupt(exc: BaseException) -> KeyboardInterrupt | None:
    """A Ctrl-C or SIGTERM that lands inside DuckDB comes out as DuckDB's own error: "… failed: KeyboardInterrupt"
    while it calls back into Python (reading an Arrow table's schema in `register`), "Query interrupted" while a
    query runs. It is still the interrupt (the run is interrupted, not failed): returned as a KeyboardInterrupt
    carrying the signal's name (memlens.stopping says which arrived)."""
    from memlens import stopping

    if not isinstance(exc, duckdb.Error | RuntimeError):
        return None
    m = _SWALLOWED.search(str(exc))
    if m:
        return KeyboardInterrupt(m.group(1) or (stopping.received[-1] if stopping.received else "SIGINT"))
    if "Query interrupted" in str(exc) and stopping.received:
        return KeyboardInterrupt(stopping.received[-1])
    return None


def no_space_message(exc: BaseException, db_file: Path | None) -> str | None:
    """One line for a full disk (DuckDB reports it inside a commit or write error), or None for other errors."""
    if not ((isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left on device" in str(exc)):
        return None
    where = device_of(db_file) if db_file is not None else "the device holding the warehouse"
    what = f"warehouse {db_file}" if db_file is not None else "the warehouse"
    return (f"no space left on {where} while writing {what}: the transaction in progress was rolled back and "
            "everything committed before is kept; free some space and run the same command again (it "
            "continues where it stopped)")


def device_of(path: Path) -> str:
    """The filesystem holding `path`: its device and mount point (from /proc/self/mounts), for messages."""
    d = path.resolve()
    while not d.exists() and d.parent != d:
        d = d.parent
    try:
        dev = os.stat(d).st_dev
        while d.parent != d and os.stat(d.parent).st_dev == dev:
            d = d.parent
        mounts = [line.split()[:2] for line in Path("/proc/self/mounts").read_text().splitlines()]
    except OSError:
        return str(d)
    source = next((src for src, point in reversed(mounts) if point == str(d)), None)
    return f"{source} (mounted at {d})" if source else str(d)


def refresh_rollups(con: duckdb.DuckDBPyConnection, result: IngestResult) -> None:
    """Rebuild the dashboard's rollup tables (memlens.rollups) after new rows landed. The rows are committed
    already: a failing refresh is reported in the run's messages, not raised."""
    from memlens import rollups

    try:
        rollups.refresh(con)
    except duckdb.Error as exc:
        result.messages.append(f"rollup refresh failed ({type(exc).__name__}: {exc}); the dashboard reads raw rows")


__all__ = ["EXCERPT_CHARS", "REDACTED", "SECRET_PATTERN", "CollectorError", "IngestResult", "WarehouseLocked",
           "collection_run", "collection_warehouse", "excerpt", "read_sql", "redact", "refresh_rollups", "utcnow",
           "writer_lock"]
