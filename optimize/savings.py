"""Projected savings of each recommendation, computed on the user's own log: formula + evidence rows.

Every `Saving` holds totals over the analysed period and a 30-day projection (x 30 / period days). Latency
savings are summed milliseconds of caller wait; cost savings are USD priced from the config price table
(stg_op_costs). Where the log has no evidence (e.g. no search ever ran with a small top_k), the saving is 0
and `note` says why: memlens does not fill gaps with the reference's generic percentages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from memlens import layer
from memlens.config import Config
from memlens.optimize.archival import ArchivalReport
from memlens.optimize.cache_sim import CacheWhatIf
from memlens.optimize.dedup import DedupReport
from memlens.optimize.pruning import PruningReport
from memlens.resources import read_sql

DAYS_PER_MONTH = 30.0


@dataclass(frozen=True)
class Saving:
    key: str
    title: str
    formula: str
    latency_saved_ms: float = 0.0  # over the analysed period
    cost_saved_usd: float = 0.0  # over the analysed period (calls, tokens)
    storage_saved_usd_month: float = 0.0  # storage is billed per month already
    calls_affected: int = 0
    period_days: float = 1.0
    evidence: pd.DataFrame = field(default_factory=pd.DataFrame)
    note: str = ""

    @property
    def usd_month(self) -> float:
        return self.cost_saved_usd * DAYS_PER_MONTH / self.period_days + self.storage_saved_usd_month

    @property
    def latency_saved_s_month(self) -> float:
        return self.latency_saved_ms / 1000.0 * DAYS_PER_MONTH / self.period_days


def period_days(con: duckdb.DuckDBPyConnection) -> float:
    """Days the op log covers (at least one, so a short log is not extrapolated wildly)."""
    row = con.execute("SELECT epoch(max(ts)) - epoch(min(ts)) FROM raw_op_events").fetchone()
    return max((row[0] or 0.0) / 86400.0, 1.0)


OK_SEARCHES = layer.Filters(op="search", status="ok")  # what a change to the search arguments would speed up


def _searches_by(con: duckdb.DuckDBPyConnection, *keys: str) -> pd.DataFrame:
    """The layer's latency of successful searches per group: searches, avg_ms, p95_ms, avg_results, total_ms."""
    df = layer.latency(con, OK_SEARCHES, keys)  # op = search: its `ops` are the searches
    return df.drop(columns="searches").rename(columns={"ops": "searches", "avg_result_count": "avg_results"})


def lower_limit(con: duckdb.DuckDBPyConnection, cfg: Config, days: float) -> Saving:
    target = cfg.optimize.limit.recommended_top_k
    ev = _searches_by(con, "effective_limit").rename(columns={"effective_limit": "top_k"})
    ev = ev[ev["top_k"].notna()][["top_k", "searches", "avg_ms", "p95_ms", "avg_results"]].reset_index(drop=True)
    formula = (f"sum over top_k > {target} of searches(top_k) x (avg_ms(top_k) - avg_ms(k*)), k* = the largest "
               f"observed top_k <= {target} (reference 2.1: chat apps 3-5 results)")
    base = ev[ev["top_k"] <= target]
    over = ev[ev["top_k"] > target]
    if over.empty:
        return Saving("limit", f"Lower top_k to {target}", formula, period_days=days, evidence=ev,
                      note=f"no search asked for more than {target} results")
    if base.empty:
        return Saving("limit", f"Lower top_k to {target}", formula, calls_affected=int(over["searches"].sum()),
                      period_days=days, evidence=ev,
                      note=f"no search with top_k <= {target} in the log to measure against")
    ref = base.iloc[-1]
    gain = (over["avg_ms"] - ref["avg_ms"]).clip(lower=0) * over["searches"]
    return Saving("limit", f"Lower top_k to {target}", formula, latency_saved_ms=float(gain.sum()),
                  calls_affected=int(over["searches"].sum()), period_days=days, evidence=ev,
                  note=f"measured against top_k={int(ref['top_k'])} ({ref['avg_ms']:.1f} ms avg); "
                       f"results per search fall from {over['avg_results'].mean():.1f} to {ref['avg_results']:.1f}")


def scope_searches(con: duckdb.DuckDBPyConnection, days: float) -> Saving:
    ev = _searches_by(con, "scope")
    ev = ev.assign(is_unscoped=ev["scope"] == "none")[["scope", "is_unscoped", "searches", "avg_ms", "avg_results"]]
    formula = "unscoped searches x (avg_ms(unscoped) - avg_ms(scoped))  (reference 2.2: filter by user/agent/run)"
    un, sc = ev[ev["is_unscoped"]], ev[~ev["is_unscoped"]]
    if un.empty or sc.empty:
        return Saving("scope", "Scope unscoped searches", formula, period_days=days, evidence=ev,
                      note="no unscoped searches" if un.empty else "no scoped searches to compare with")
    n_un = int(un["searches"].sum())
    avg_un = float((un["avg_ms"] * un["searches"]).sum() / n_un)
    avg_sc = float((sc["avg_ms"] * sc["searches"]).sum() / sc["searches"].sum())
    return Saving("scope", "Scope unscoped searches", formula, latency_saved_ms=n_un * max(avg_un - avg_sc, 0.0),
                  calls_affected=n_un, period_days=days, evidence=ev,
                  note=f"unscoped {avg_un:.1f} ms vs scoped {avg_sc:.1f} ms avg")


def rerank_off(con: duckdb.DuckDBPyConnection, cfg: Config, days: float) -> Saving:
    k = cfg.optimize.rerank.simple_max_top_k
    shapes = _searches_by(con, "effective_limit", "rerank_requested")
    simple = shapes[shapes["effective_limit"] <= k].groupby("rerank_requested", as_index=False)[
        ["searches", "total_ms"]].sum()  # sums re-add exactly; the mean is their ratio
    ev = simple.assign(avg_ms=simple["total_ms"] / simple["searches"])[["rerank_requested", "searches", "avg_ms"]]
    formula = (f"simple searches (top_k <= {k}) with rerank x (avg_ms(rerank) - avg_ms(no rerank))  "
               "(reference 2.3: rerank=False for simple queries)")
    on, off = ev[ev["rerank_requested"]], ev[~ev["rerank_requested"]]
    if on.empty or off.empty:
        return Saving("rerank", "Turn rerank off for simple searches", formula, period_days=days, evidence=ev,
                      note="no reranked simple searches" if on.empty else "no un-reranked searches to compare")
    n, d = int(on["searches"].iloc[0]), float(on["avg_ms"].iloc[0] - off["avg_ms"].iloc[0])
    return Saving("rerank", "Turn rerank off for simple searches", formula, latency_saved_ms=n * max(d, 0.0),
                  calls_affected=n, period_days=days, evidence=ev,
                  note=f"rerank adds {d:.1f} ms per simple search here; accuracy may drop slightly")


def caching(sim: CacheWhatIf, days: float) -> Saving:
    c = sim.ttl_curve
    ev = c[["ttl_s", "hit_rate", "hits", "latency_saved_ms", "cost_saved_usd"]]
    size = "unbounded" if sim.settings_max_entries is None else f"{sim.settings_max_entries:,} entries"
    formula = (f"searches a SearchCache(TTL {sim.settings_ttl_s:g} s, {size}) serves in an exact replay of the log "
               f"that no cache served already x (avg of the cacheable searches no cache served "
               f"{sim.avg_miss_latency_ms:.1f} ms - hit "
               f"{sim.hit_latency_ms:.1f} ms [{sim.hit_latency_source}]); cost = priced cost of those searches")
    could = sim.could_be_served_rate
    ceiling = "n/a" if could is None else f"{could:.1%}"
    target = (f"{sim.target_hit_rate:.0%} target reached at fixed TTL {sim.ttl_for_target_s:g} s (no size bound)"
              if sim.ttl_for_target_s is not None else
              f"{sim.target_hit_rate:.0%} target not reached by a TTL of the grid (a cache that never expires "
              f"could serve {ceiling})")
    if sim.settings_new_hits == 0:
        target = ("no search this cache would serve that a cache in the log did not serve already; "
                  if sim.requests else "no cacheable search (with a user id) in the log; ") + target
    return Saving("cache", f"Cache searches (TTL {sim.settings_ttl_s:g} s, {size})", formula,
                  latency_saved_ms=sim.settings_latency_saved_ms, cost_saved_usd=sim.settings_cost_saved_usd,
                  calls_affected=sim.settings_new_hits, period_days=days, evidence=ev.reset_index(drop=True),
                  note=target)


def switch_embedding_model(con: duckdb.DuckDBPyConnection, cfg: Config, days: float) -> Saving:
    to = cfg.optimize.embedding.switch_to
    price_to = cfg.prices.embedding.get(to)
    models = layer.query(con, "cost_by_model")
    models = models[(models["kind"] == "embedding") & models["model"].notna()]
    ev = pd.DataFrame({"embedding_model": models["model"], "calls": models["events"],
                       "tokens": models["input_tokens"], "usd_per_1m": models["usd_per_1m_input"],
                       "cost_usd": models["cost_usd"]}).sort_values("cost_usd", ascending=False).reset_index(drop=True)
    formula = f"tokens(model) x (price(model) - price({to})) / 1e6 for models priced above {to} (reference 4.1)"
    if price_to is None:
        return Saving("embedding", f"Switch embeddings to {to}", formula, period_days=days, evidence=ev,
                      note=f"{to} has no price in prices.embedding")
    ev["usd_per_1m_target"] = price_to
    dearer = ev[ev["usd_per_1m"].fillna(0) > price_to]
    saved = float(((dearer["usd_per_1m"] - price_to) * dearer["tokens"] / 1e6).sum())
    return Saving("embedding", f"Switch embeddings to {to}", formula, cost_saved_usd=saved,
                  calls_affected=int(dearer["calls"].sum()), period_days=days, evidence=ev,
                  note="" if len(dearer) else f"no model priced above {to} in use")


_BATCH_SQL = read_sql(__package__, "savings_batch_adds.sql")


def batch_adds(con: duckdb.DuckDBPyConnection, cfg: Config, days: float) -> Saving:
    w = cfg.optimize.batching.window_s
    ev = con.execute(_BATCH_SQL, {"window": w}).df()
    formula = (f"calls saved = single-message adds - bursts (same user, <= {w:g} s apart); latency <= calls saved x "
               "avg add ms (upper bound: a batched call takes longer); cost = platform adds saved x add price")
    if ev.empty:
        return Saving("batching", "Batch single adds", formula, period_days=days, evidence=ev,
                      note=f"no single adds of one user within {w:g} s of each other")
    ev["calls_saved"] = ev["single_adds"] - ev["bursts"]
    saved = int(ev["calls_saved"].sum())
    lat = float((ev["calls_saved"] * ev["avg_add_ms"]).sum())
    platform_share = (ev["platform_adds"] / ev["single_adds"]).fillna(0)
    cost = float((ev["calls_saved"] * platform_share).sum() * cfg.prices.platform_per_call.get("add", 0.0))
    return Saving("batching", "Batch single adds", formula, latency_saved_ms=lat, cost_saved_usd=cost,
                  calls_affected=saved, period_days=days, evidence=ev.head(50),
                  note="memory.add(messages, user_id=...) once per burst (reference 6.1)")


_REEMBED_SQL = read_sql(__package__, "savings_reembedding.sql")


def reembedding(con: duckdb.DuckDBPyConnection, days: float) -> Saving:
    ev = con.execute(_REEMBED_SQL).df()
    formula = ("embedding cost of every search whose (user, query_hash) was embedded before "
               "(an embedding cache never goes stale: reference 4.3)")
    if ev.empty:
        return Saving("reembed", "Cache query embeddings", formula, period_days=days, evidence=ev,
                      note="no query embedded twice")
    return Saving("reembed", "Cache query embeddings", formula, cost_saved_usd=float(ev["cost_usd"].sum()),
                  calls_affected=int(ev["repeats"].sum()), period_days=days, evidence=ev.head(50))


def dedup_saving(rep: DedupReport, days: float) -> Saving:
    ev = pd.DataFrame([{"memories": rep.memories, "redundant": rep.redundant_memories,
                        "redundant_bytes": rep.redundant_bytes, "result_slots": rep.result_slots,
                        "redundant_result_slots": rep.redundant_result_slots}])
    return Saving("dedup", "Merge duplicate memories", "redundant bytes (text + float32 vector) x active tier "
                  f"$/GB-month; exact text hash or cosine >= {rep.merge_threshold}",
                  storage_saved_usd_month=rep.storage_usd_month, calls_affected=rep.redundant_memories,
                  period_days=days, evidence=ev,
                  note=f"vectors: {rep.vectors_source}; {rep.redundant_result_slots} of {rep.result_slots} "
                       "search results were duplicates")


def pruning_saving(rep: PruningReport, days: float) -> Saving:
    return Saving("pruning", "Prune low-value memories", "candidate bytes x active tier $/GB-month "
                  f"(never returned, top score < {rep.score_threshold}, redundant, idle > {rep.stale_days:g} d)",
                  storage_saved_usd_month=rep.storage_usd_month, calls_affected=len(rep.candidates),
                  period_days=days, evidence=rep.by_reason,
                  note="" if rep.retrieval_evidence else "the log has no search result ids: only redundant and "
                  "idle memories are judged (instrument searches to record result_ids)")


def archival_saving(rep: ArchivalReport, days: float) -> Saving:
    return Saving("archival", "Tier storage (active / archive / cold)",
                  "sum over tiers of bytes x tier $/GB-month vs everything in the active tier",
                  storage_saved_usd_month=rep.saving_usd_month,
                  calls_affected=int(rep.tiers.loc[rep.tiers["tier"] != "active", "memories"].sum()),
                  period_days=days, evidence=rep.tiers, note=f"{rep.saving_share:.0%} of the storage bill")
