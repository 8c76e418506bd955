"""Buffered, rotating JSONL operation-log writer.

`write()` only appends the event to an in-memory list under a short lock, so it is safe (and cheap) from many
threads and from asyncio tasks (it never awaits, never encodes and never touches the file). The writer's
daemon thread encodes and writes a batch as soon as `flush_every` events are buffered and every
`flush_seconds`; `flush()`/`close()` and interpreter exit write what is left. Encoding happens outside the
buffer lock, so callers never wait for it.

Durability: events not yet written live only in this process's memory. A crash of the process loses at
most the events of the last `flush_seconds`, and never more than `_BACKLOG * flush_every`: should the
daemon thread fall that far behind (a starved CPU), the calling thread writes the backlog itself. A written
batch is in the OS (flushed, not fsynced): it survives a crash of the process, not of the machine.

Rotation happens between batches, so a line is never split across files; names are unique per process
(`-<pid>-<seq>`), so writers of several processes can share a folder.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import threading
import time
import weakref
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

_SEQ = itertools.count()  # process-wide: two writers for one service never pick the same file name
_ENCODE_ASCII = json.JSONEncoder(separators=(",", ":"), default=str).encode
_ORJSON_LINE = orjson.OPT_APPEND_NEWLINE
_BACKLOG = 4  # buffered batches beyond which write() stops leaving the writing to the daemon thread
_WRITERS: weakref.WeakSet[OpLogWriter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for writer in list(_WRITERS):
        writer._start_over_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)


class OpLogWriter:
    def __init__(self, log_dir: str | Path, service: str = "mem0-app", rotate_bytes: int = 64 * 1024 * 1024,
                 flush_every: int = 256, flush_seconds: float = 1.0):
        if rotate_bytes <= 0 or flush_every <= 0 or flush_seconds <= 0:
            raise ValueError("rotate_bytes, flush_every and flush_seconds must be positive")
        self.log_dir = Path(log_dir).expanduser()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.service = service
        self.rotate_bytes = rotate_bytes
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self.files: list[Path] = []  # every file this writer opened, in order
        self.events_written = 0
        self._buf: list[dict[str, Any]] = []
        self._buf_lock = threading.Lock()  # guards _buf only: held for an append
        self._io_lock = threading.Lock()  # one batch at a time reaches the file, in order
        self._fh: Any = None
        self._size = 0
        self._closed = False
        self._wake = threading.Event()  # close() was called
        self._full = threading.Event()  # flush_every events are buffered
        self._timer: threading.Thread | None = None
        atexit.register(self.close)
        _WRITERS.add(self)

    @classmethod
    def from_config(cls, cfg: Any, log_dir: str | Path | None = None, service: str | None = None) -> OpLogWriter:
        ic = cfg.instrumentation
        return cls(log_dir or cfg.log_dir(), service=service or ic.service, rotate_bytes=ic.rotate_bytes,
                   flush_every=ic.flush_every, flush_seconds=ic.flush_seconds)

    # -- public --------------------------------------------------------------------------------
    def write(self, event: dict[str, Any]) -> None:
        with self._buf_lock:
            if self._closed:
                raise ValueError(f"OpLogWriter for {self.log_dir} is closed")
            self._buf.append(event)
            n = len(self._buf)
            if self._timer is None:
                self._start_timer()
        if n == self.flush_every:
            self._full.set()  # the daemon thread writes the batch
        elif n >= _BACKLOG * self.flush_every:
            self.flush()  # it has fallen behind: bound what a crash could lose

    def flush(self) -> None:
        with self._io_lock:
            with self._buf_lock:
                batch, self._buf = self._buf, []
            if not batch:
                return
            try:
                self._write_batch(batch)  # under the I/O lock only: batches reach the file in order
            except OSError:
                with self._buf_lock:  # keep the events for the next attempt instead of dropping them
                    self._buf[:0] = batch
                raise

    def close(self) -> None:
        with self._buf_lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        self._full.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join(timeout=5)
        self.flush()
        with self._io_lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
        atexit.unregister(self.close)

    def __enter__(self) -> OpLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------
    def _start_over_in_child(self) -> None:
        """A forked child has no daemon thread and a copy of the parent's buffer and file: it drops the copied
        events (the parent writes them) and starts its own thread and file (names carry the pid)."""
        self._buf_lock, self._io_lock = threading.Lock(), threading.Lock()
        self._wake, self._full = threading.Event(), threading.Event()
        self._buf, self._timer, self._fh, self._size = [], None, None, 0
        self.files, self.events_written = [], 0

    def _start_timer(self) -> None:
        self._timer = threading.Thread(target=self._tick, name=f"memlens-oplog-{self.service}", daemon=True)
        self._timer.start()

    def _tick(self) -> None:
        while not self._wake.is_set():
            self._full.wait(self.flush_seconds)
            self._full.clear()
            if self._wake.is_set():
                return  # close() writes the rest
            try:
                self.flush()
            except OSError:  # a full disk must not kill the thread; the next flush retries the new events
                time.sleep(self.flush_seconds)

    def _open(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        while True:
            path = self.log_dir / f"oplog-{self.service}-{stamp}-{os.getpid()}-{next(_SEQ)}.jsonl"
            try:
                self._fh = open(path, "xb")  # noqa: SIM115 - kept open across batches
                break
            except FileExistsError:
                continue
        self._size = 0
        self.files.append(path)

    def _write_batch(self, batch: list[dict[str, Any]]) -> None:
        data = bytearray()
        for ev in batch:
            # appended and dropped one by one: holding thousands of orjson's results alive costs ~8x their
            # encoding (measured: 6.0 vs 0.75 µs per event), so no list of lines is built
            data += _encode_line(ev)
        size = len(data)
        if self._fh is not None and self._size and self._size + size > self.rotate_bytes:
            self._fh.close()
            self._fh = None
        if self._fh is None:
            self._open()
        self._fh.write(data)
        self._fh.flush()  # into the OS: a crash of this process loses at most the unflushed buffer
        self._size += size
        self.events_written += len(batch)


def _orjson_default(value: Any) -> Any:
    # what json's encoder does with these: a float subclass (numpy.float64) is a number, anything else its str()
    return float(value) if isinstance(value, float) else str(value)


def _encode_line(event: dict[str, Any]) -> bytes:
    """One JSON line, UTF-8: the json module's compact form, written by orjson (~15x faster; encoding was most of
    what an event cost). What orjson refuses (an int beyond 64 bits, a lone surrogate) goes through json with
    non-ASCII escaped, which is the same JSON value."""
    try:
        return orjson.dumps(event, default=_orjson_default, option=_ORJSON_LINE)
    except TypeError:
        return (_ENCODE_ASCII(event) + "\n").encode("ascii")
