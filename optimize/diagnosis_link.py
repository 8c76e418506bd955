"""Links the Diagnosis page's decision-tree actions to the savings `optimize/` projects from the user's own data.

The trees (memlens/diagnosis.py) carry the reference's action texts; `optimize/savings.py` computes a `Saving`
per recommendation. ACTION_SAVINGS maps each action text to the Saving keys that quantify it; an empty tuple
means no analysis measures that action (infrastructure checks, "no action needed"). Every action of every tree
must appear here (a test enforces it), so a new action cannot silently go unlinked.
"""

from __future__ import annotations

from dataclasses import dataclass

from memlens.diagnosis import NodeResult
from memlens.health import format_value
from memlens.optimize.savings import Saving

ACTION_SAVINGS: dict[str, tuple[str, ...]] = {
    # Query performance issues
    "Reduce the search limit (top_k)": ("limit",),
    "Add filters (scope by user_id / agent_id / run_id)": ("scope",),
    "Add caching": ("cache",),
    "Optimize the vector store indexes": (),
    "Check the slow queries and optimize those specifically": ("limit", "scope", "rerank"),
    "Database infrastructure issue": (),
    "Check that the indexes exist": (),
    "Check connection pooling": (),
    "Check the database's CPU, memory and disk": (),
    "Use a faster embedding endpoint (same region as the app, or a local model)": (),
    "Rerank only where it changes the answer": ("rerank",),
    "Use a lighter reranker": (),
    # High cost issues
    "Use a cheaper extraction LLM": ("llm_model",),
    "Add already-structured facts with infer=False": ("infer_off",),
    "Batch messages per add": ("batching",),
    "Skip adds that store nothing": ("noop_adds",),
    "Use a smaller embedding model": ("embedding",),
    "Batch operations": ("batching",),
    "Cache embeddings": ("reembed",),
    "Deduplicate memories": ("dedup",),
    "Archive old memories": ("archival",),
    "Prune low-value memories": ("pruning",),
    # Repeated searches are the part of the search frequency a cache removes: the what-if replay measures it.
    "Reduce search frequency": ("cache",),
    "Implement caching": ("cache",),
    "Review all the strategies above": ("llm_model", "infer_off", "noop_adds", "embedding", "batching", "reembed",
                                        "dedup", "archival", "pruning", "cache"),
    # Low cache hit rate
    "Caching the wrong queries? Review the cache keys": ("cache",),
    "Increase the TTL": ("cache",),
    "Cache more query patterns": ("cache",),
    "Good: minor tuning possible": ("cache",),
    "Excellent: no action needed": (),
}


@dataclass(frozen=True)
class LinkedSaving:
    saving: Saving
    actions: tuple[str, ...]  # the node's actions this saving quantifies, in the node's order

    @property
    def summary(self) -> str:
        """'$0.0123 / month, 4.2 s less wait / month' (the figures the Optimize page ranks by); a zero part is
        left out, and a saving with neither says why (its note: e.g. no search asked for more results)."""
        s = self.saving
        parts = ([f"{format_value(s.usd_month, 'usd')} / month"] if s.usd_month > 0 else []) + \
                ([f"{s.latency_saved_s_month:,.1f} s less wait / month"] if s.latency_saved_s_month > 0 else [])
        return ", ".join(parts) or "nothing to save in this log" + (f" ({s.note})" if s.note else "")


def linked_savings(result: NodeResult, savings: list[Saving]) -> list[LinkedSaving]:
    """The savings behind a node's actions, each once, in the order of the first action it backs.

    Raises KeyError for an action missing from ACTION_SAVINGS (a tree edited without its link).
    """
    by_key = {s.key: s for s in savings}
    order: list[str] = []
    backs: dict[str, list[str]] = {}
    for action in result.node.actions:
        for key in ACTION_SAVINGS[action]:
            if key not in by_key:
                continue
            if key not in backs:
                order.append(key)
                backs[key] = []
            backs[key].append(action)
    return [LinkedSaving(by_key[k], tuple(backs[k])) for k in order]
