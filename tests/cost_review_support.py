"""The hand-built warehouse of the weekly cost review tests (see tests/test_cost_review.py for its figures)."""

from __future__ import annotations

from datetime import datetime

from view_support import event, insert_events

GPT4O, MINI, SMALL = "gpt-4o", "gpt-4o-mini", "text-embedding-3-small"
NOW = datetime(2026, 11, 25, 15, 0)
BUDGETS = [
    {"name": "alice-week", "scope": {"user": "alice"}, "period": "7d", "usd": 8.0},
    {"name": "support-daily", "scope": {"service": "support"}, "period": "1d", "usd": 0.25},
    {"name": "team-30d", "period": "30d", "usd": 20.0},
]


def _calls(ts: datetime, n: int, user: str, kind: str) -> list[dict]:
    svc, agent = ("chat-api", "assistant") if user in ("alice", "bob") else ("support", "bot")
    price = {"gpt4o": dict(op="add", infer=True, llm_model=GPT4O, llm_input_tokens=400_000, llm_output_tokens=0),
             "mini": dict(op="add", infer=True, llm_model=MINI, llm_input_tokens=1_000_000, llm_output_tokens=0),
             "search": dict(op="search", embedding_model=SMALL, embedding_tokens=1_000_000)}[kind]
    return [event(ts, user_id=user, agent_id=agent, service=svc, **price) for _ in range(n)]


def insert_review_events(con) -> None:
    rows = [
        _calls(datetime(2026, 11, 10, 9), 2, "alice", "gpt4o"),
        _calls(datetime(2026, 11, 11, 9), 5, "bob", "search"),
        _calls(datetime(2026, 11, 12, 9), 1, "carol", "mini"),
        _calls(datetime(2026, 11, 16, 9), 3, "alice", "gpt4o"),
        _calls(datetime(2026, 11, 17, 9), 6, "alice", "gpt4o"),
        _calls(datetime(2026, 11, 18, 12), 10, "bob", "search"),
        _calls(datetime(2026, 11, 19, 9), 2, "dave", "mini"),
        _calls(datetime(2026, 11, 23, 10), 1, "alice", "gpt4o"),
        _calls(datetime(2026, 11, 25, 9, 30), 1, "bob", "search"),
    ]
    insert_events(con, [e for part in rows for e in part])
