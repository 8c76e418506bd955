"""Archival projection (reference 7.2 strategy 2): which tier each memory belongs in and what that saves.

A memory's recency is the time since it was last created, updated or accessed (search result, get,
update). Active: recency <= active_days (fast vector DB). Archive: <= archive_days (compressed JSON in
object storage). Cold: older (Glacier-class). Storage per memory = text + float32 vector; archived and
cold copies are compressed JSON (x archive_compression). Prices per GB-month from the config.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from memlens.config import Config
from memlens.optimize.inventory import storage_bytes

TIERS = ("active", "archive", "cold")


@dataclass(frozen=True)
class ArchivalReport:
    tiers: pd.DataFrame  # tier, memories, bytes_now, bytes_tiered, usd_per_gb_month, usd_month_tiered
    usd_month_now: float  # everything in the active tier
    usd_month_tiered: float
    saving_usd_month: float
    saving_share: float  # of today's storage bill


def assign_tiers(recency_days: np.ndarray, cfg: Config) -> np.ndarray:
    a = cfg.optimize.archival
    return np.where(recency_days <= a.active_days, "active",
                    np.where(recency_days <= a.archive_days, "archive", "cold"))


def archival_projection(mem: pd.DataFrame, cfg: Config, now: pd.Timestamp, dims: int) -> ArchivalReport:
    """`mem` = inventory.with_access(...); a memory with no timestamps at all counts as active."""
    a = cfg.optimize.archival
    price = a.usd_per_gb_month.model_dump()
    recency = ((now - mem["last_seen"]).dt.total_seconds() / 86400.0).fillna(0.0).to_numpy()
    tier = assign_tiers(recency, cfg)
    raw = storage_bytes(mem["text_bytes"], dims).to_numpy() if len(mem) else np.zeros(0, np.int64)
    stored = np.where(tier == "active", raw, raw * a.archive_compression)
    rows = []
    for t in TIERS:
        sel = tier == t
        rows.append({"tier": t, "memories": int(sel.sum()), "bytes_now": int(raw[sel].sum()),
                     "bytes_tiered": float(stored[sel].sum()), "usd_per_gb_month": price[t],
                     "usd_month_tiered": float(stored[sel].sum()) / 1e9 * price[t]})
    tiers = pd.DataFrame(rows)
    now_usd = float(raw.sum()) / 1e9 * price["active"]
    tiered_usd = float(tiers["usd_month_tiered"].sum())
    return ArchivalReport(tiers, now_usd, tiered_usd, now_usd - tiered_usd,
                          (now_usd - tiered_usd) / now_usd if now_usd else 0.0)
