"""The reference's three "Optimization Decision Trees" as data, evaluated against the measured values.

Each tree is an ordered list of questions. "Query Performance Issues" and "High Cost Issues" are checklists:
every question is asked and each yes adds its actions. "Low Cache Hit Rate" is a band lookup: exactly one
band matches. A question whose measurement is missing is "unknown" (never silently "no").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from memlens.config import Config
from memlens.figures import PHASE_LABELS
from memlens.health import Measured, format_value

Answer = Literal["yes", "no", "unknown"]
Test = Callable[[Measured, Config], tuple[bool | None, str]]


@dataclass(frozen=True)
class Node:
    key: str
    question: str
    actions: tuple[str, ...]
    test: Test
    evidence: Callable[[Measured], list[str]] = lambda m: []
    good: bool = False  # a "yes" here is good news (cache bands above the target)


@dataclass(frozen=True)
class Tree:
    key: str
    title: str
    kind: Literal["checklist", "bands"]
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class NodeResult:
    node: Node
    answer: Answer
    measurement: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class TreeResult:
    tree: Tree
    results: tuple[NodeResult, ...]

    @property
    def lit(self) -> list[NodeResult]:
        return [r for r in self.results if r.answer == "yes"]

    @property
    def path(self) -> list[str]:
        """Keys of the questions asked, in order (a band tree stops at the matching band)."""
        keys: list[str] = []
        for r in self.results:
            keys.append(r.node.key)
            if self.tree.kind == "bands" and r.answer == "yes":
                break
        return keys

    @property
    def problem(self) -> bool:
        return any(not r.node.good for r in self.lit)

    def actions(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(action, why: the measurement that led there, supporting evidence) for every lit question."""
        return [(a, r.measurement, r.evidence) for r in self.lit for a in r.node.actions]


def _pct(v: float | None) -> str:
    return format_value(v, "ratio")


def _ms(v: float | None) -> str:
    return format_value(v, "ms")


def _above(value: float | None, limit: float, fmt: Callable[[float | None], str], name: str) -> tuple[bool | None, str]:
    if value is None:
        return None, f"{name}: no data"
    return value > limit, f"{name} {fmt(value)} vs {fmt(limit)}"


def _shape_evidence(m: Measured) -> list[str]:
    out = []
    if m.search_avg_top_k is not None:
        out.append(f"searches ask for {m.search_avg_top_k:.1f} results on average (chat apps need 3-5)")
    if m.search_unscoped_share is not None:
        out.append(f"{_pct(m.search_unscoped_share)} of searches have no user/agent/run scope")
    return out


def _variance(m: Measured, cfg: Config) -> tuple[bool | None, str]:
    ratio, limit = m.variance_ratio, cfg.dashboard.latency_variance_ratio
    if ratio is None:
        return None, "P99 / P50: no data"
    return ratio >= limit, f"P99 / P50 = {ratio:.1f}× (P50 {_ms(m.p50_ms)}, P99 {_ms(m.p99_ms)}) vs {limit:.1f}×"


def _query_cost(m: Measured, cfg: Config) -> tuple[bool | None, str]:
    if not m.cost_per_1k:
        return None, "cost per 1,000 queries: no searches"
    parts, high = [], False
    platform_priced = any(cfg.prices.platform_per_call.values())
    for mode, value in sorted(m.cost_per_1k.items()):
        if mode == "platform" and not platform_priced:
            parts.append("platform unpriced (set prices.platform_per_call)")
            continue
        target = getattr(cfg.targets.cost_per_1k_queries_usd, mode)
        high |= value > target
        parts.append(f"{mode} {format_value(value, 'usd')} vs {format_value(target, 'usd')} per 1,000 queries")
    return (high if len(parts) > sum("unpriced" in p for p in parts) else None), "; ".join(parts)


def _overall_cost(m: Measured, cfg: Config) -> tuple[bool | None, str]:
    th = cfg.thresholds
    if m.projected_month_usd is None and m.max_daily_cost_usd is None:
        return None, "cost: no data"
    over_month = m.projected_month_usd is not None and m.projected_month_usd > th.monthly_budget_usd
    over_day = m.max_daily_cost_usd is not None and m.max_daily_cost_usd > th.daily_budget_usd
    return over_month or over_day, (
        f"month-end projection {format_value(m.projected_month_usd, 'usd')} vs budget "
        f"{format_value(th.monthly_budget_usd, 'usd')}; highest day {format_value(m.max_daily_cost_usd, 'usd')} "
        f"vs {format_value(th.daily_budget_usd, 'usd')}")


def _band(lo_idx: int | None, hi_idx: int | None) -> Test:
    """Hit rate in [bands[lo], bands[hi]) of thresholds.low_cache_bands (None = open end)."""

    def test(m: Measured, cfg: Config) -> tuple[bool | None, str]:
        bands = cfg.thresholds.low_cache_bands
        lo = bands[lo_idx] if lo_idx is not None else None
        hi = bands[hi_idx] if hi_idx is not None else None
        if m.hit_rate is None:
            return None, "hit rate: no cache outcomes recorded"
        inside = (lo is None or m.hit_rate >= lo) and (hi is None or m.hit_rate < hi)
        span = f"{_pct(lo) if lo is not None else '0 %'} – {_pct(hi) if hi is not None else '100 %'}"
        return inside, f"hit rate {_pct(m.hit_rate)} (band {span})"

    return test


def _cache_evidence(m: Measured) -> list[str]:
    return [f"cache hit rate {_pct(m.hit_rate)}"] if m.hit_rate is not None else ["no cache in front of search"]


def _slow_share_evidence(m: Measured) -> list[str]:
    return [f"{_pct(m.slow_share)} of operations are slow"] if m.slow_share is not None else []


def _served_evidence(m: Measured) -> list[str]:
    """Could be served (sql/layer/cache_reuse.sql): the ceiling any TTL or size of a cache reaches."""
    out = []
    if m.could_be_served_through_cache is not None:
        out.append(f"of the searches your cache looked up, {_pct(m.could_be_served_through_cache)} could be served "
                   f"by a cache (hit rate {_pct(m.hit_rate)}): the rest are first asks or follow the user's write")
    if m.could_be_served is not None:
        out.append(f"{_pct(m.could_be_served)} of the cacheable searches could be served by a cache at all")
    return out


def _embedding_evidence(m: Measured) -> list[str]:
    # (Repeated query texts, what caching query embeddings saves, are counted by the linked saving itself.)
    return [f"adds carry {m.add_avg_messages:.1f} messages on average"] if m.add_avg_messages is not None else []


def _llm_evidence(m: Measured) -> list[str]:
    return [f"adds carry {m.add_avg_messages:.1f} messages on average"] if m.add_avg_messages is not None else []


def _phase_share(phase: str) -> Test:
    """One phase takes at least dashboard.phase_dominant_share of the searches' time (those with phase timings)."""

    def test(m: Measured, cfg: Config) -> tuple[bool | None, str]:
        limit = cfg.dashboard.phase_dominant_share
        if not m.search_phase_calls:
            return None, "no phase timings for searches (Platform calls, cache hits and schema-v1 logs have none)"
        share = m.search_phase_share.get(phase, 0.0)
        return share >= limit, f"{PHASE_LABELS[phase]} is {_pct(share)} of search time vs {_pct(limit)}"

    return test


def _phase_evidence(m: Measured) -> list[str]:
    ranked = sorted(m.search_phase_share.items(), key=lambda kv: -kv[1])
    parts = [f"{PHASE_LABELS.get(p, p)} {_pct(v)}" for p, v in ranked if v > 0]
    rest = 1.0 - sum(m.search_phase_share.values())
    return ([f"search time by phase ({m.search_phase_calls:,} searches): " + ", ".join(parts)
             + f", {PHASE_LABELS['other']} {_pct(max(rest, 0.0))}"] if parts else [])


def _growth(first: float | int | None, last: float | int | None) -> float | None:
    return None if first is None or last is None or not first else last / first - 1.0


def _signed_pct(v: float) -> str:
    return ("+" if v >= 0 else "−") + _pct(abs(v))


def _vector_growth(m: Measured, cfg: Config) -> tuple[bool | None, str]:
    limit = cfg.dashboard.vector_search_growth
    p95 = _growth(m.vector_search_p95_first_ms, m.vector_search_p95_last_ms)
    if p95 is None:
        return None, "vector search P95: no phase timings at both ends of the selection"
    grew = _growth(m.memories_first, m.memories_last)
    text = (f"vector search daily P95 {_ms(m.vector_search_p95_first_ms)} → {_ms(m.vector_search_p95_last_ms)} "
            f"({_signed_pct(p95)}) vs +{_pct(limit)}")
    if grew is None:
        return None, text + "; memories held: unknown (no Mem0 history loaded)"
    text += f"; memories {m.memories_first:,} → {m.memories_last:,} ({_signed_pct(grew)})"
    return p95 >= limit and grew > 0, text


def _embedding_phase_evidence(m: Measured) -> list[str]:
    return _phase_evidence(m) + _served_evidence(m)


def _vector_phase_evidence(m: Measured) -> list[str]:
    return _phase_evidence(m) + _shape_evidence(m)


SLOW = Tree("slow", "Query performance issues", "checklist", (
    Node("avg", "Average latency > slow threshold?",
         ("Reduce the search limit (top_k)", "Add filters (scope by user_id / agent_id / run_id)"),
         lambda m, c: _above(m.avg_ms, c.thresholds.slow_op_ms, _ms, "average"), _shape_evidence),
    Node("p99", "P99 latency > P99 threshold?", ("Add caching", "Optimize the vector store indexes"),
         lambda m, c: _above(m.p99_ms, c.thresholds.p99_ms, _ms, "P99"), _cache_evidence),
    Node("variance", "High variance?", ("Check the slow queries and optimize those specifically",),
         _variance, _slow_share_evidence),
    Node("all_slow", "All queries slow?", ("Database infrastructure issue", "Check that the indexes exist",
                                          "Check connection pooling", "Check the database's CPU, memory and disk"),
         lambda m, c: _above(m.p50_ms, c.thresholds.slow_op_ms, _ms, "median (P50)")),
    # where the time went (phase timings, OSS): which part of a search to work on
    Node("phase_embedding", "Embedding most of search time?",
         ("Add caching", "Cache embeddings", "Use a smaller embedding model",
          "Use a faster embedding endpoint (same region as the app, or a local model)"),
         _phase_share("embedding"), _embedding_phase_evidence),
    Node("phase_vector_search", "Vector search most of search time?",
         ("Reduce the search limit (top_k)", "Add filters (scope by user_id / agent_id / run_id)",
          "Optimize the vector store indexes"),
         _phase_share("vector_search"), _vector_phase_evidence),
    Node("phase_rerank", "Reranking most of search time?",
         ("Rerank only where it changes the answer", "Reduce the search limit (top_k)", "Use a lighter reranker"),
         _phase_share("rerank"), _phase_evidence),
    Node("vector_growth", "Vector search P95 grew with collection size?",
         ("Prune low-value memories", "Archive old memories", "Deduplicate memories",
          "Optimize the vector store indexes"),
         _vector_growth, _phase_evidence),
))

COST = Tree("cost", "High cost issues", "checklist", (
    # memlens's LLM branch: in Mem0 OSS an add with infer=True runs the extraction LLM, often most of the bill
    Node("llm", "LLM costs high?",
         ("Use a cheaper extraction LLM", "Add already-structured facts with infer=False", "Batch messages per add",
          "Skip adds that store nothing"),
         lambda m, c: _above(m.llm_share, c.optimize.llm.cost_share_high, _pct, "LLM share of cost"),
         _llm_evidence),
    Node("embedding", "Embedding costs high?",
         ("Use a smaller embedding model", "Batch operations", "Cache embeddings"),
         lambda m, c: _above(m.embedding_share, c.targets.embedding_cost_share, _pct, "embedding share of cost"),
         _embedding_evidence),
    Node("storage", "Storage costs high?", ("Deduplicate memories", "Archive old memories", "Prune low-value memories"),
         lambda m, c: _above(m.storage_growth_month, c.targets.storage_growth_per_month, _pct, "storage growth/month")),
    Node("query", "Query costs high?", ("Reduce search frequency", "Implement caching"), _query_cost,
         lambda m: [f"{m.searches:,} searches in the selection", *_served_evidence(m)]),
    Node("overall", "Overall cost high?", ("Review all the strategies above",), _overall_cost),
))

CACHE = Tree("cache", "Low cache hit rate", "bands", (
    Node("lt30", "Hit rate in the lowest band?", ("Caching the wrong queries? Review the cache keys",),
         _band(None, 0), _served_evidence),
    Node("30_60", "Hit rate in the second band?", ("Increase the TTL", "Cache more query patterns"), _band(0, 1),
         _served_evidence),
    Node("60_80", "Hit rate in the third band?", ("Good: minor tuning possible",), _band(1, 2), good=True),
    Node("gt80", "Hit rate above the last band?", ("Excellent: no action needed",), _band(2, None), good=True),
))

TREES: tuple[Tree, ...] = (SLOW, COST, CACHE)


def evaluate(tree: Tree, m: Measured, cfg: Config) -> TreeResult:
    results = []
    for node in tree.nodes:
        ok, measurement = node.test(m, cfg)
        answer: Answer = "unknown" if ok is None else ("yes" if ok else "no")
        results.append(NodeResult(node, answer, measurement, tuple(node.evidence(m)) if ok else ()))
    return TreeResult(tree, tuple(results))


def evaluate_all(m: Measured, cfg: Config) -> list[TreeResult]:
    return [evaluate(t, m, cfg) for t in TREES]


_FILL = {"yes": "#f8d7da", "no": "#e8f5e9", "unknown": "#eeeeee"}
_GOOD_FILL = "#c8e6c9"


def _dot_label(*lines: str) -> str:
    """A quoted DOT label: each line escaped, joined by DOT's centred line break."""
    return '"' + "\\n".join(x.replace("\\", "\\\\").replace('"', '\\"') for x in lines) + '"'


def to_dot(result: TreeResult) -> str:
    """Graphviz DOT: questions top to bottom, each with a yes-edge to its actions beside it; lit nodes filled.

    Only our own question/action texts and formatted numbers go into the labels.
    """
    lines = ["digraph G {", "nodesep=0.4; ranksep=0.3;",
             'node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
             'edge [fontname="Helvetica", fontsize=10];']
    on_path = set(result.path)
    prev = None
    for i, r in enumerate(result.results):
        q, a = f"q{i}", f"a{i}"
        lit = r.answer == "yes"
        fill = (_GOOD_FILL if r.node.good else _FILL["yes"]) if lit else _FILL[r.answer]
        pen = "2.5" if lit else ("1.2" if r.node.key in on_path else "0.6")
        label = _dot_label(r.node.question, r.measurement, f"→ {r.answer.upper()}")
        lines.append(f'{q} [label={label}, fillcolor="{fill}", penwidth={pen}];')
        afill = fill if lit else "#ffffff"
        actions = _dot_label(*(f"• {x}" for x in r.node.actions))
        lines.append(f'{a} [label={actions}, shape=note, fillcolor="{afill}", '
                     f'fontcolor="{"black" if lit else "gray55"}", color="{"black" if lit else "gray70"}"];')
        lines.append(f'{q} -> {a} [label="yes", color="{"black" if lit else "gray75"}", penwidth={pen}];')
        if prev is not None:
            lines.append(f'{prev} -> {q} [label="{"no" if result.tree.kind == "bands" else "next"}", '
                         f'color="{"black" if r.node.key in on_path else "gray75"}"];')
        lines.append(f"{{rank=same; {q}; {a};}}")
        prev = q
    lines.append("}")
    return "\n".join(lines)
