"""Pruning candidates (reference 7.2 strategy 4): memories that cost storage and query time but never help.

Reasons, each stated per memory:
- never_returned: no search in the log returned it (meaningful once the log covers the memory's life);
- low_score: returned, but only by searches whose *top* score stayed below the threshold. The log keeps the
  best score per search, not per result, so this is one-sided: such a memory surely never scored above it;
- redundant: a near/exact duplicate that dedup would merge into an older memory;
- stale: created, updated and last accessed more than `stale_days` ago.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from memlens.config import Config
from memlens.optimize.inventory import storage_bytes

REASONS = ("never_returned", "low_score", "redundant", "stale")


@dataclass(frozen=True)
class PruningReport:
    candidates: pd.DataFrame  # memory_id, owner, reasons, times_returned, best_top_score, last_seen, bytes
    by_reason: pd.DataFrame  # reason, memories, bytes
    memories: int
    candidate_bytes: int
    storage_usd_month: float
    stale_days: float
    score_threshold: float
    retrieval_evidence: bool  # the log records which memories searches returned (else those reasons are off)


def pruning_candidates(mem: pd.DataFrame, cfg: Config, now: pd.Timestamp, dims: int,
                       redundant_ids: set[str] | frozenset[str] = frozenset(),
                       retrieval_evidence: bool | None = None) -> PruningReport:
    """`mem` = inventory.with_access(load_memories, access_stats); `now` = inventory.data_now.

    `retrieval_evidence`: whether the log says which memories searches returned (default: any memory was
    returned at all). Without it "never returned" would flag every memory, so both retrieval reasons are off.
    """
    p = cfg.optimize.pruning
    if retrieval_evidence is None:
        retrieval_evidence = bool(len(mem)) and int(mem["times_returned"].sum()) > 0
    returned = mem["times_returned"].to_numpy()
    flags = pd.DataFrame({
        "never_returned": (returned == 0) & retrieval_evidence,
        "low_score": (returned > 0) & (mem["best_top_score"].fillna(np.inf).to_numpy() < p.score_threshold),
        "redundant": mem["memory_id"].isin(redundant_ids).to_numpy(),
        "stale": ((now - mem["last_seen"]) > pd.Timedelta(days=p.stale_days)).fillna(False).to_numpy(),
    })
    any_flag = flags.any(axis=1).to_numpy()
    # the reasons of each memory as text: one code per combination of flags (16), joined once per combination
    code = sum(flags[k].to_numpy().astype(np.int64) << i for i, k in enumerate(REASONS))
    texts = np.array([",".join(k for i, k in enumerate(REASONS) if c >> i & 1) for c in range(1 << len(REASONS))],
                     dtype=object)
    reasons = pd.Series(texts[code], index=flags.index) if len(flags) else flags
    nbytes = storage_bytes(mem["text_bytes"], dims) if len(mem) else pd.Series([], dtype="int64")
    cand = mem.loc[any_flag, ["memory_id", "owner", "times_returned", "best_top_score", "last_seen"]].copy()
    cand["reasons"] = reasons[any_flag] if len(flags) else []
    cand["bytes"] = nbytes[any_flag]
    by_reason = pd.DataFrame([{"reason": k, "memories": int(flags[k].sum()),
                               "bytes": int(nbytes[flags[k].to_numpy()].sum())} for k in REASONS])
    total = int(cand["bytes"].sum())
    return PruningReport(cand.reset_index(drop=True), by_reason, len(mem), total,
                         total / 1e9 * cfg.optimize.archival.usd_per_gb_month.active, p.stale_days, p.score_threshold,
                         retrieval_evidence)
