"""The user mix of `memlens workload`: seeded, repeatable streams of real Mem0 calls per simulated user.

Shape (what the dashboard's pages need to see in real logs): search-heavy; some users far heavier
than others (Zipf); repeated questions (so a cache can hit); adds of one or several messages;
updates, gets, history and deletes of the user's own memories; a few calls on ids that do not exist
(real Mem0 errors); a few agent-only get_all/search (no user scope); some `limit=` searches (ignored
by mem0 2.2.1, which applies top_k) and some explicit top_k/threshold/rerank.

Each user draws from its own `random.Random(f"{seed}:{index}")`, so a user's calls do not depend on
how threads or tasks interleave. `run_mix` / `run_mix_async` drive any Memory-like object (plain or
instrumented) and return what they issued.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

# op -> weight of the mix (relative)
WEIGHTS: dict[str, float] = {
    "search": 40, "add": 20, "get_all": 7, "get": 7, "update": 8, "delete": 4, "history": 3,
    "agent_search": 3, "agent_get_all": 2, "bad_id": 2, "delete_all": 0.3,
}
REPEAT_QUERY_SHARE = 0.6  # searches that re-ask one of the user's earlier questions
LIMIT_SHARE = 0.12  # searches passing `limit=` (a stray parameter in mem0 2.2.1)
TOP_K_CHOICES = (None, None, None, 5, 10)  # None: mem0's default top_k
AGENTS = ("support-bot", "travel-agent", "coach")

_SUBJECTS = ("coffee", "hiking", "jazz", "python", "sushi", "running", "chess", "gardening", "cycling",
             "photography", "tea", "skiing", "baking", "podcasts", "yoga", "board games", "sci-fi novels",
             "climbing", "pottery", "opera", "surfing", "knitting", "italian food", "early mornings")
_FACTS = ("likes {s}", "dislikes {s}", "started {s} last year", "wants to get better at {s}",
          "spends weekends on {s}", "asked for recommendations about {s}", "prefers {s} in the evening",
          "recently gave up {s}", "talks about {s} with friends", "is planning a trip around {s}")
_QUESTIONS = ("what does the user think about {s}?", "does the user like {s}", "any plans involving {s}?",
              "how often does the user do {s}", "recommend something related to {s}",
              "what changed recently about {s}")
MISSING_ID = "00000000-0000-4000-8000-000000000000"  # a well-formed id that no memory has


@dataclass(frozen=True)
class Call:
    """One Mem0 call: `getattr(memory, op)(*args, **kwargs)`."""

    op: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass
class MixReport:
    issued: Counter = field(default_factory=Counter)  # op -> calls made
    errors: Counter = field(default_factory=Counter)  # op -> calls that raised
    error_types: Counter = field(default_factory=Counter)  # exception class name -> count
    memory_ids: set[str] = field(default_factory=set)  # ids created by adds
    calls: list[Call] = field(default_factory=list)  # every call in issue order per user (when kept)

    def merge(self, other: MixReport) -> None:
        self.issued.update(other.issued)
        self.errors.update(other.errors)
        self.error_types.update(other.error_types)
        self.memory_ids |= other.memory_ids
        self.calls.extend(other.calls)

    @property
    def total(self) -> int:
        return sum(self.issued.values())

    def issue(self, call: Call, keep_calls: bool) -> None:
        self.issued[call.op] += 1
        if keep_calls:
            self.calls.append(call)

    def failed(self, call: Call, exc: Exception) -> None:
        self.errors[call.op] += 1
        self.error_types[type(exc).__name__] += 1


class UserMix:
    """One simulated user: decides its next call and learns the ids its adds created."""

    def __init__(self, user_id: str, seed: int, index: int):
        self.user_id = user_id
        self.rng = random.Random(f"{seed}:{index}")
        self.agent = AGENTS[index % len(AGENTS)]
        self.known_ids: list[str] = []
        self.past_queries: list[str] = []
        self._ops = list(WEIGHTS)
        self._weights = [WEIGHTS[o] for o in self._ops]

    def _fact(self) -> str:
        return "the user " + self.rng.choice(_FACTS).format(s=self.rng.choice(_SUBJECTS))

    def _query(self) -> str:
        if self.past_queries and self.rng.random() < REPEAT_QUERY_SHARE:
            return self.rng.choice(self.past_queries[-12:])
        q = self.rng.choice(_QUESTIONS).format(s=self.rng.choice(_SUBJECTS))
        self.past_queries.append(q)
        return q

    def next_call(self) -> Call:
        kind = self.rng.choices(self._ops, self._weights)[0]
        if kind in ("update", "delete", "get", "history") and not self.known_ids:
            kind = "add"  # nothing of its own yet
        uid = self.user_id
        if kind == "search":
            kwargs: dict[str, Any] = {"filters": {"user_id": uid}}
            if self.rng.random() < LIMIT_SHARE:
                kwargs["limit"] = self.rng.choice((3, 5, 10))
            else:
                top_k = self.rng.choice(TOP_K_CHOICES)
                if top_k is not None:
                    kwargs["top_k"] = top_k
            if self.rng.random() < 0.1:
                kwargs["threshold"] = 0.3
            if self.rng.random() < 0.05:
                kwargs["rerank"] = True
            return Call("search", (self._query(),), kwargs)
        if kind == "agent_search":
            return Call("search", (self._query(),), {"filters": {"agent_id": self.agent}})
        if kind == "agent_get_all":
            return Call("get_all", (), {"filters": {"agent_id": self.agent}})
        if kind == "add":
            if self.rng.random() < 0.25:
                messages: Any = [{"role": "user", "content": self._fact()},
                                 {"role": "assistant", "content": "Noted: " + self._fact()}]
            else:
                messages = self._fact()
            kwargs = {"user_id": uid, "infer": False}
            if self.rng.random() < 0.3:
                kwargs["agent_id"] = self.agent
            return Call("add", (messages,), kwargs)
        if kind == "get_all":
            kwargs = {"filters": {"user_id": uid}}
            if self.rng.random() < 0.3:
                kwargs["top_k"] = 50
            return Call("get_all", (), kwargs)
        if kind == "update":
            return Call("update", (self.rng.choice(self.known_ids),), {"text": self._fact()})
        if kind == "delete":
            mid = self.known_ids.pop(self.rng.randrange(len(self.known_ids)))
            return Call("delete", (mid,))
        if kind in ("get", "history"):
            return Call(kind, (self.rng.choice(self.known_ids),))
        if kind == "bad_id":  # a real Mem0 error: update/delete of an id that does not exist
            if self.rng.random() < 0.5:
                return Call("update", (MISSING_ID,), {"text": self._fact()})
            return Call("delete", (MISSING_ID,))
        if kind == "delete_all":
            self.known_ids.clear()
            return Call("delete_all", (), {"user_id": uid})
        raise AssertionError(kind)

    def learn(self, call: Call, result: Any) -> list[str]:
        """Remember the ids an add created; returns them."""
        new: list[str] = []
        if call.op == "add" and isinstance(result, dict):
            for item in result.get("results") or []:
                if isinstance(item, dict) and item.get("event") == "ADD" and item.get("id"):
                    new.append(str(item["id"]))
        self.known_ids.extend(new)
        return new


def user_ids(users: int) -> list[str]:
    return [f"user-{i:03d}" for i in range(users)]


def schedule(users: int, ops: int, seed: int) -> list[int]:
    """How many ops each user makes: Zipf-like (user i weighs 1/(i+1)), seeded, summing to `ops`."""
    if users <= 0 or ops < 0:
        raise ValueError("users must be > 0 and ops >= 0")
    rng = random.Random(f"{seed}:schedule")
    weights = [1.0 / (i + 1) for i in range(users)]
    counts = [0] * users
    for i in rng.choices(range(users), weights, k=ops):
        counts[i] += 1
    return counts


def _one_user(memory: Any, user: UserMix, n: int, keep_calls: bool, tick: Callable[[], None]) -> MixReport:
    report = MixReport()
    for _ in range(n):
        call = user.next_call()
        report.issue(call, keep_calls)
        try:
            result = getattr(memory, call.op)(*call.args, **call.kwargs)
        except Exception as exc:
            report.failed(call, exc)
        else:
            report.memory_ids.update(user.learn(call, result))
        tick()
    return report


def run_mix(memory: Any, *, users: int, ops: int, seed: int, threads: int = 4, keep_calls: bool = False,
            progress: Callable[[int], None] | None = None) -> MixReport:
    """Run the mix on a sync Memory with `threads` workers (each user is served by one worker)."""
    counts = schedule(users, ops, seed)
    mixes = [UserMix(uid, seed, i) for i, uid in enumerate(user_ids(users))]
    lock = threading.Lock()

    def tick() -> None:
        if progress is not None:
            with lock:
                progress(1)

    report = MixReport()
    with ThreadPoolExecutor(max_workers=max(1, min(threads, users))) as pool:
        futures = [pool.submit(_one_user, memory, m, n, keep_calls, tick) for m, n in zip(mixes, counts, strict=True)]
        for f in futures:
            report.merge(f.result())
    return report


async def run_mix_async(memory: Any, *, users: int, ops: int, seed: int, concurrency: int = 8,
                        keep_calls: bool = False, progress: Callable[[int], None] | None = None) -> MixReport:
    """Run the mix on an AsyncMemory: one task per user, at most `concurrency` calls in flight."""
    counts = schedule(users, ops, seed)
    mixes = [UserMix(uid, seed, i) for i, uid in enumerate(user_ids(users))]
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(user: UserMix, n: int) -> MixReport:
        report = MixReport()
        for _ in range(n):
            call = user.next_call()
            report.issue(call, keep_calls)
            async with gate:
                try:
                    result = await getattr(memory, call.op)(*call.args, **call.kwargs)
                except Exception as exc:
                    report.failed(call, exc)
                else:
                    report.memory_ids.update(user.learn(call, result))
            if progress is not None:
                progress(1)
        return report

    total = MixReport()
    for r in await asyncio.gather(*(one(m, n) for m, n in zip(mixes, counts, strict=True))):
        total.merge(r)
    return total
