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
from memlens.config import Config, LlmPrice
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
_PROMPT_OVERHEAD_SQL = read_sql(__package__, "savings_llm_prompt_overhead.sql")


def prompt_overhead(con: duckdb.DuckDBPyConnection) -> tuple[float | None, pd.DataFrame]:
    """USD of the fixed part of one add's LLM prompt (averaged over the adds that ran the LLM, per model: the
    intercept of prompt tokens against messages per add, clipped to [0, the average prompt]), and the fit per model.
    None when no model's adds vary in message count (nothing to fit)."""
    fit = con.execute(_PROMPT_OVERHEAD_SQL).df()
    known = fit[fit["fixed_prompt_tokens"].notna() & fit["usd_per_prompt_token"].notna()]
    if known.empty:
        return None, fit
    fixed = known["fixed_prompt_tokens"].clip(lower=0).combine(known["avg_prompt_tokens"], min)
    usd = float((fixed * known["usd_per_prompt_token"] * known["adds"]).sum() / known["adds"].sum())
    return usd, fit


def batch_adds(con: duckdb.DuckDBPyConnection, cfg: Config, days: float) -> Saving:
    w = cfg.optimize.batching.window_s
    ev = con.execute(_BATCH_SQL, {"window": w}).df()
    overhead_usd, fit = prompt_overhead(con)
    formula = (f"calls saved = single-message adds - bursts (same user, <= {w:g} s apart); latency <= calls saved x "
               "avg add ms (upper bound: a batched call takes longer); cost = platform adds saved x add price + LLM "
               "adds saved x the fixed part of the extraction prompt (intercept of prompt tokens vs messages per add) "
               "x the input rate billed")
    if ev.empty:
        return Saving("batching", "Batch single adds", formula, period_days=days, evidence=ev,
                      note=f"no single adds of one user within {w:g} s of each other")
    ev["calls_saved"] = ev["single_adds"] - ev["bursts"]
    saved = int(ev["calls_saved"].sum())
    lat = float((ev["calls_saved"] * ev["avg_add_ms"]).sum())
    platform_share = (ev["platform_adds"] / ev["single_adds"]).fillna(0)
    llm_share = (ev["llm_adds"] / ev["single_adds"]).fillna(0)
    ev["llm_adds_saved"] = ev["calls_saved"] * llm_share
    ev["llm_usd_saved"] = ev["llm_adds_saved"] * (overhead_usd or 0.0)
    cost = float((ev["calls_saved"] * platform_share).sum() * cfg.prices.platform_per_call.get("add", 0.0)
                 + ev["llm_usd_saved"].sum())
    note = "memory.add(messages, user_id=...) once per burst (reference 6.1)"
    if overhead_usd is not None:
        rows = fit[fit["fixed_prompt_tokens"].notna()]
        note += "; fixed prompt " + ", ".join(
            f"{r.llm_model}: {max(r.fixed_prompt_tokens, 0):,.0f} of {r.avg_prompt_tokens:,.0f} tokens"
            for r in rows.itertuples()) + f" (${overhead_usd:.6f} per add)"
    elif ev["llm_adds"].sum() > 0:
        note += "; the LLM part is not projected: no model's adds vary in message count, so the fixed part of the " \
                "prompt cannot be told from the per-message part"
    return Saving("batching", "Batch single adds", formula, latency_saved_ms=lat, cost_saved_usd=cost,
                  calls_affected=saved, period_days=days, evidence=ev.head(50), note=note)


# ---- the LLM side of Mem0 (add with infer=True): read from the metric layer's cost figures --------------------

def _mix_cost(price: LlmPrice, input_tokens: float, cached: float, output: float) -> float:
    """USD of a token mix at `price` (cached prompt tokens at the cached rate, the input rate where it has none)."""
    cached_rate = price.input if price.cached_input is None else price.cached_input
    return ((input_tokens - cached) * price.input + cached * cached_rate + output * price.output) / 1e6


def switch_llm_model(con: duckdb.DuckDBPyConnection, cfg: Config, days: float,
                     filters: layer.Filters = layer.ALL) -> Saving:
    """The same extraction tokens priced at a cheaper LLM of the price table (optimize.llm.switch_to, or the
    cheapest for the logged token mix); the LLM cost of each model is the layer's cost_by_model."""
    by_model = layer.query(con, "cost_by_model", filters.replace(mode="oss"))
    ev = by_model[by_model["kind"] == "llm"].drop(columns=["kind"]).reset_index(drop=True)
    to = cfg.optimize.llm.switch_to
    formula = ("per LLM in use: cost_usd - (uncached prompt x input rate + cached prompt x cached rate + completion "
               "x output rate of the target) / 1e6, where the target costs less; target = optimize.llm.switch_to, "
               "else the cheapest of prices.llm for the logged token mix")
    if ev.empty:
        return Saving("llm_model", "Use a cheaper extraction LLM", formula, period_days=days, evidence=ev,
                      note="no add ran an LLM (infer=True) in the log")
    tokens = (float(ev["input_tokens"].sum()), float(ev["cached_input_tokens"].sum()), float(ev["output_tokens"].sum()))
    if to is None:
        to = min(sorted(cfg.prices.llm), key=lambda m: _mix_cost(cfg.prices.llm[m], *tokens))
    price = cfg.prices.llm.get(to)
    title = f"Extract memories with {to}"
    if price is None:
        return Saving("llm_model", title, formula, period_days=days, evidence=ev,
                      note=f"{to} has no price in prices.llm")
    ev["target"] = to
    ev["target_cost_usd"] = [_mix_cost(price, r.input_tokens, r.cached_input_tokens, r.output_tokens)
                             for r in ev.itertuples()]
    # a model without a price costs 0 in the log: nothing to compare, so nothing saved
    ev["saved_usd"] = (ev["cost_usd"] - ev["target_cost_usd"]).where(ev["priced"], 0.0).clip(lower=0)
    dearer = ev[ev["saved_usd"] > 0]
    unpriced = ev.loc[~ev["priced"], "model"].dropna().tolist()
    note = (f"the same prompts and completions at {to}'s prices; check extraction quality on a sample of your adds "
            "first (a smaller model may extract fewer or worse facts)" if len(dearer) else
            f"every LLM in use already costs no more than {to}")
    if unpriced:
        note += f"; not compared (no price): {', '.join(unpriced)}"
    return Saving("llm_model", title, formula, cost_saved_usd=float(dearer["saved_usd"].sum()),
                  calls_affected=int(dearer["events"].sum()), period_days=days, evidence=ev, note=note)


def _add_outcomes(con: duckdb.DuckDBPyConnection, filters: layer.Filters) -> pd.DataFrame:
    """The layer's cost of successful OSS adds per service, agent, infer and add_outcome (stg_op_costs)."""
    return layer.query(con, "cost", filters.replace(op="add", mode="oss", status="ok"),
                       ("service", "agent_id", "infer", "add_outcome"))


def _outcome_evidence(df: pd.DataFrame, outcome: str, cost_col: str, infer_only: bool) -> pd.DataFrame:
    """Per service and agent: the adds considered (infer=True ones only, or all), those with `outcome`, their
    share and their cost."""
    base = df[df["infer"].fillna(False).astype(bool)] if infer_only else df
    keys = ["service", "agent_id"]
    total = base.groupby(keys, dropna=False, as_index=False)["ops"].sum().rename(columns={"ops": "adds_considered"})
    hit = base[base["add_outcome"] == outcome].groupby(keys, dropna=False, as_index=False).agg(
        adds=("ops", "sum"), cost_usd=(cost_col, "sum"))
    for df_ in (total, hit):  # a key column of missing ids only comes back as float: match on one type
        df_[keys] = df_[keys].astype(object).where(df_[keys].notna(), None)
    ev = total.merge(hit, on=keys, how="inner")
    ev["share"] = ev["adds"] / ev["adds_considered"]
    ev[keys] = ev[keys].astype(object).where(ev[keys].notna(), None)  # groupby turned a missing id into NaN
    return ev.sort_values(["cost_usd", "service"], ascending=[False, True]).reset_index(drop=True)


def infer_off_for_facts(con: duckdb.DuckDBPyConnection, days: float, filters: layer.Filters = layer.ALL) -> Saving:
    """infer=True adds whose LLM stored exactly one memory per message and changed nothing else: the messages were
    already one fact each, so infer=False would have stored them without the LLM call."""
    df = _add_outcomes(con, filters)
    ev = _outcome_evidence(df, "one_per_message", "llm_cost_usd", infer_only=True)
    formula = ("LLM cost of the infer=True adds that created exactly one memory per message and updated / deleted "
               "nothing (add_outcome = one_per_message): with infer=False Mem0 stores each message as it is, with "
               "no LLM call (the embedding stays)")
    title = "Add already-structured facts with infer=False"
    if ev.empty:
        return Saving("infer_off", title, formula, period_days=days, evidence=ev,
                      note="no infer=True add stored exactly one memory per message")
    return Saving("infer_off", title, formula, cost_saved_usd=float(ev["cost_usd"].sum()),
                  calls_affected=int(ev["adds"].sum()), period_days=days, evidence=ev,
                  note="where the caller already holds clean facts (forms, profile fields, tool results); infer=False "
                       "also skips Mem0's dedup and update against existing memories, so keep infer=True for "
                       "conversation")


def skip_noop_adds(con: duckdb.DuckDBPyConnection, days: float, filters: layer.Filters = layer.ALL) -> Saving:
    """Adds that created, updated and deleted nothing: all they cost (LLM and embedding) bought nothing."""
    ev = _outcome_evidence(_add_outcomes(con, filters), "stored_nothing", "total_cost_usd", infer_only=False)
    formula = ("cost (LLM + embedding) of the successful adds that created, updated and deleted nothing "
               "(add_outcome = stored_nothing): the most a pre-check that skips them could save")
    title = "Skip adds that store nothing"
    if ev.empty:
        return Saving("noop_adds", title, formula, period_days=days, evidence=ev,
                      note="every add stored or changed a memory")
    return Saving("noop_adds", title, formula, cost_saved_usd=float(ev["cost_usd"].sum()),
                  calls_affected=int(ev["adds"].sum()), period_days=days, evidence=ev,
                  note="an upper bound: skip greetings, acknowledgements and repeated messages before calling add (a "
                       "length / pattern filter, or a hash of each user's recent messages)")


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
