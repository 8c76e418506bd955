"""What each simulated user does next: a seeded, repeatable stream of Mem0 operations.

Every user has its own `random.Random` seeded from (scenario seed, round, user index), so a
scenario issues the same requests on config A and config B. Updates, deletes and gets target the
user's own memories (those it preloaded or added), in an order that depends only on the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from memlens.loadtest.scenario import OPS_IN_MIX, Mix
from memlens.workloads import mix as mix_vocabulary

# The same vocabulary as `memlens workload` (workloads/mix.py), so load-test texts look like its texts.
# The load test needs its own plan: scenario-set weights, think time, a seed per round (A and B get the
# same stream), and a duration stop; workloads.mix has fixed weights and a fixed op count per user.
_SUBJECTS, _FACTS, _QUESTIONS = mix_vocabulary._SUBJECTS, mix_vocabulary._FACTS, mix_vocabulary._QUESTIONS
REPEAT_WINDOW = 20  # a repeated question is one of the user's last 20 distinct questions


@dataclass(frozen=True)
class OpRequest:
    op: str
    text: str | None = None  # add/update: memory text; search: the query
    memory_id: str | None = None  # get/update/delete


class UserPlan:
    """One simulated user: chooses ops by the mix weights and remembers the ids it owns."""

    def __init__(self, user_id: str, mix: Mix, seed: int, round_no: int, index: int,
                 known_ids: list[str] | None = None) -> None:
        self.user_id = user_id
        self.mix = mix
        self.rng = random.Random(f"{seed}:{round_no}:{index}")
        # shared with the target across runs, so later rounds touch what earlier rounds left
        self.known_ids: list[str] = known_ids if known_ids is not None else []
        self.past_queries: list[str] = []
        weights = mix.weights()
        self._ops = [op for op in OPS_IN_MIX if weights[op] > 0]
        self._weights = [weights[op] for op in self._ops]

    def fact(self) -> str:
        return "the user " + self.rng.choice(_FACTS).format(s=self.rng.choice(_SUBJECTS))

    def query(self) -> str:
        if self.past_queries and self.rng.random() < self.mix.repeat_query_share:
            return self.rng.choice(self.past_queries[-REPEAT_WINDOW:])  # repeated questions: what a cache serves
        q = self.rng.choice(_QUESTIONS).format(s=self.rng.choice(_SUBJECTS))
        self.past_queries.append(q)
        return q

    def next(self) -> OpRequest:
        op = self.rng.choices(self._ops, self._weights)[0]
        if op in ("update", "delete", "get") and not self.known_ids:
            op = "add"  # nothing to touch yet: a real user would first tell us something
        if op == "search":
            return OpRequest("search", text=self.query())
        if op == "add":
            return OpRequest("add", text=self.fact())
        if op == "get_all":
            return OpRequest("get_all")
        target = self.rng.choice(self.known_ids)
        return OpRequest(op, text=self.fact() if op == "update" else None, memory_id=target)

    def think_s(self) -> float:
        mean = self.mix.think_time_ms / 1000.0
        return self.rng.expovariate(1.0 / mean) if mean > 0 else 0.0

    def observe(self, req: OpRequest, result: object) -> list[str]:
        """Update the owned ids after a successful call; returns ids an add created."""
        if req.op == "delete" and req.memory_id in self.known_ids:
            self.known_ids.remove(req.memory_id)
        if req.op == "add":
            created = added_ids(result)
            self.known_ids.extend(created)
            return created
        return []


def added_ids(result: object) -> list[str]:
    """Memory ids an add returned (OSS and Platform both answer {"results": [{"id": ..., "event": "ADD"}]})."""
    rows = result.get("results", []) if isinstance(result, dict) else result if isinstance(result, list) else []
    return [r["id"] for r in rows if isinstance(r, dict) and r.get("id") and r.get("event", "ADD") == "ADD"]
