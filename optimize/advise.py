"""All analyses in one pass, recommendations ranked by projected savings (used by `memlens advise` and the page)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from memlens.config import Config
from optimize import savings as sv
from optimize.archival import ArchivalReport, archival_projection
from optimize.cache_sim import CacheWhatIf, load_trace, simulate
from optimize.dedup import DedupReport, dedup_report
from optimize.forecast import Forecast, forecast
from optimize.inventory import access_stats, data_now, embedding_dims, load_memories, with_access
from optimize.pruning import PruningReport, pruning_candidates
from optimize.vector_store import StoreAdvice, advise_store


@dataclass(frozen=True)
class Advice:
    savings: list[sv.Saving]  # ranked: most USD per month first, then most latency per month
    cache: CacheWhatIf
    dedup: DedupReport
    pruning: PruningReport
    archival: ArchivalReport
    forecast: Forecast
    store: StoreAdvice
    period_days: float

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "rank": i + 1, "recommendation": s.title, "usd_per_month": s.usd_month,
            "latency_saved_s_per_month": s.latency_saved_s_month, "calls_or_memories": s.calls_affected,
            "formula": s.formula, "note": s.note,
        } for i, s in enumerate(self.savings)])


def rank(savings: list[sv.Saving]) -> list[sv.Saving]:
    return sorted(savings, key=lambda s: (-s.usd_month, -s.latency_saved_s_month, s.key))


def build_advice(con: duckdb.DuckDBPyConnection, cfg: Config, vectors: dict[str, np.ndarray] | None = None,
                 vectors_source: str = "none", has_postgres: bool = False) -> Advice:
    days = sv.period_days(con)
    cache = simulate(load_trace(con), cfg)
    _, dims = embedding_dims(con, cfg)
    memories = load_memories(con)
    access = access_stats(con)
    now = data_now(con) or pd.Timestamp.now("UTC").tz_localize(None)
    mem = with_access(memories, access)
    dedup = dedup_report(memories, cfg, dims, vectors, vectors_source, access)
    pruning = pruning_candidates(mem, cfg, now, dims, set(dedup.merge_ids["merge_id"]))
    archival = archival_projection(mem, cfg, now, dims)
    items = [
        sv.caching(cache, days),
        sv.lower_limit(con, cfg, days),
        sv.scope_searches(con, days),
        sv.rerank_off(con, cfg, days),
        sv.switch_embedding_model(con, cfg, days),
        sv.batch_adds(con, cfg, days),
        sv.reembedding(con, days),
        sv.dedup_saving(dedup, days),
        sv.pruning_saving(pruning, days),
        sv.archival_saving(archival, days),
    ]
    return Advice(rank(items), cache, dedup, pruning, archival, forecast(con, cfg),
                  advise_store(con, cfg, dims, has_postgres), days)
