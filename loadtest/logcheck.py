"""Check that every operation a run issued is in the warehouse exactly once (and nothing else is).

The load generator and the op log see each call from two sides. An issued call and a logged event
match on a signature both sides know: the op, its status, and what identifies it — the hashed query
of a search, the memory id of a get/update/delete, the ids an add created, the user of a get_all.
Comparing the two multisets finds lost, duplicated and foreign events.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import duckdb

from memlens.instrumentation.events import IdHasher, query_hash
from memlens.loadtest.driver import IssuedOp
from memlens.resources import read_sql

Signature = tuple[str, str, str | None, str | None]
PLAIN_IDS = IdHasher(None)  # ids logged as they are (instrumentation.hash_user_ids off)

_LOGGED_SQL = read_sql(__package__, "logged_events.sql")


def issued_signature(op: IssuedOp, hasher: IdHasher = PLAIN_IDS) -> Signature:
    """`hasher`: the instrumentation's user-id hashing when the config turns it on (identity otherwise)."""
    status = "ok" if op.ok else "error"
    user = hasher(op.user_id)
    if op.op == "search":
        return ("search", status, user, query_hash(op.text or ""))
    if op.op == "add":
        return ("add", status, user, ",".join(sorted(op.created_ids)) if op.ok else None)
    if op.op == "get_all":
        return ("get_all", status, user, None)
    return (op.op, status, None, op.memory_id)


def logged_signature(op: str, status: str, user_id: str | None, memory_id: str | None, qhash: str | None,
                     result_ids: list[str] | None) -> Signature:
    if op == "search":
        return ("search", status, user_id, qhash)
    if op == "add":
        return ("add", status, user_id, ",".join(sorted(result_ids or [])) if status == "ok" else None)
    if op == "get_all":
        return ("get_all", status, user_id, None)
    return (op, status, None, memory_id)


@dataclass(frozen=True)
class LogCheck:
    issued: int
    logged: int
    missing: int  # issued but not logged (or logged differently)
    extra: int  # logged but not issued, or logged more often than issued

    @property
    def exact(self) -> bool:
        return self.missing == 0 and self.extra == 0 and self.issued == self.logged

    def summary(self) -> str:
        if self.exact:
            return f"log check: {self.issued} ops issued, {self.logged} logged, each exactly once"
        return (f"log check FAILED: {self.issued} issued, {self.logged} logged, {self.missing} missing, "
                f"{self.extra} extra or duplicated")


def check_run_log(con: duckdb.DuckDBPyConnection, run_id: str, issued: list[IssuedOp],
                  hasher: IdHasher = PLAIN_IDS) -> LogCheck:
    want = Counter(issued_signature(op, hasher) for op in issued)
    got = Counter(logged_signature(*row) for row in con.execute(_LOGGED_SQL, [run_id]).fetchall())
    return LogCheck(sum(want.values()), sum(got.values()), sum((want - got).values()), sum((got - want).values()))
