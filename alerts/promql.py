"""PromQL over the memlens metrics, shared by the rule file, the Grafana dashboard and the collector.

Metric names and labels are the instrumentation contract (instrumentation/metrics.py). Every ratio
divides by `(denominator > 0)` so that no traffic gives no sample instead of NaN or ±Inf, and the
numerators fall back to `denominator * 0` so a service without errors shows 0 %, not a gap.
"""

from __future__ import annotations

from prometheus_client.utils import floatToGoString

from memlens.alerts.model import split_matcher
from memlens.config import Config

DURATION = "memlens_mem0_operation_duration_seconds"
OPERATIONS = "memlens_mem0_operations_total"
ERRORS = "memlens_mem0_errors_total"
RESULTS = "memlens_mem0_results_total"
TOKENS = "memlens_mem0_tokens_total"
# The same counters for the calls of a budget's user / agent scope (labelled by budget, never by user id).
BUDGET_TOKENS = "memlens_mem0_budget_tokens_total"
BUDGET_OPERATIONS = "memlens_mem0_budget_operations_total"
CACHE = "memlens_mem0_cache_requests_total"
CHANGES = "memlens_mem0_memory_changes_total"

# Histogram bounds in seconds (contract); thresholds that need a bucket (slow share, latency SLO) must be one.
DURATION_BUCKETS_S = (.001, .0025, .005, .01, .025, .05, .075, .1, .15, .2, .3, .4, .5, .75, 1, 2.5, 5, 10)

WEEK_S = 604800
_ERROR = 'status="error"'
_HIT = 'outcome="hit"'
_LOOKUP = 'outcome=~"hit|miss"'
_ADD = 'event="add"'
_DELETE = 'event="delete"'


def num(x: float) -> str:
    """A float as PromQL/YAML text: short, exact enough, identical on every run."""
    return f"{x:.10g}"


def le_for_ms(ms: float, field: str) -> str:
    """The `le` label value of the bucket bound equal to `ms`, as prometheus_client writes it."""
    seconds = ms / 1000
    for bound in DURATION_BUCKETS_S:
        if abs(bound - seconds) < 1e-12:
            return floatToGoString(bound)
    bounds = ", ".join(f"{b * 1000:g}" for b in DURATION_BUCKETS_S)
    raise ValueError(f"{field}={ms:g} ms is not a bucket bound of {DURATION} (ms: {bounds})")


def repr_label(value: str) -> str:
    """A PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def matchers(labels: dict[str, str]) -> str:
    """Config matchers ({"op": "search", "infer": "=~true|false"}) as PromQL matcher text, in the given order."""
    parts = []
    for name, value in labels.items():
        op, body = split_matcher(value)
        parts.append(f"{name}{op}{repr_label(body)}")
    return ",".join(parts)


def _sel(*matchers: str) -> str:
    inner = ",".join(m for m in matchers if m)
    return "{" + inner + "}" if inner else ""


def _by(labels: tuple[str, ...]) -> str:
    return f"sum by ({', '.join(labels)})" if labels else "sum"


def ops_rate(by: tuple[str, ...], window: str, match: str = "") -> str:
    return f"{_by(by)} (rate({OPERATIONS}{_sel(match)}[{window}]))"


def quantile(q: float, by: tuple[str, ...], window: str, match: str = "") -> str:
    return f"histogram_quantile({num(q)}, {_by((*by, 'le'))} (rate({DURATION}_bucket{_sel(match)}[{window}])))"


def mean_latency(by: tuple[str, ...], window: str, match: str = "") -> str:
    return (f"{_by(by)} (rate({DURATION}_sum{_sel(match)}[{window}]))\n"
            f"/ ({_by(by)} (rate({DURATION}_count{_sel(match)}[{window}])) > 0)")


def _ratio(num_expr: str, den_expr: str) -> str:
    return f"({num_expr}\n or {den_expr} * 0)\n/ ({den_expr} > 0)"


def error_ratio(by: tuple[str, ...], window: str, match: str = "") -> str:
    failed = f"{_by(by)} (rate({OPERATIONS}{_sel(match, _ERROR)}[{window}]))"
    return _ratio(failed, ops_rate(by, window, match))


def slower_than_ratio(le: str, by: tuple[str, ...], window: str, match: str = "") -> str:
    """Share of operations slower than the bucket bound `le` (1 - fast / all)."""
    fast = f"{_by(by)} (rate({DURATION}_bucket{_sel(match, 'le=' + repr_label(le))}[{window}]))"
    total = f"{_by(by)} (rate({DURATION}_count{_sel(match)}[{window}]))"
    return f"1 - {fast}\n/ ({total} > 0)"


def cache_hit_ratio(by: tuple[str, ...], window: str, match: str = "") -> str:
    """Hits / (hits + misses); bypassed calls never looked in the cache, so they do not count."""
    hits = f"{_by(by)} (rate({CACHE}{_sel(match, _HIT)}[{window}]))"
    lookups = f"{_by(by)} (rate({CACHE}{_sel(match, _LOOKUP)}[{window}]))"
    return _ratio(hits, lookups)


def token_rate(by: tuple[str, ...], window: str, match: str = "") -> str:
    return f"{_by(by)} (rate({TOKENS}{_sel(match)}[{window}]))"


def _price_terms(cfg: Config, tokens: str = TOKENS, operations: str = OPERATIONS) -> list[tuple[str, str, float]]:
    """(metric, matchers, USD per unit) for every priced quantity of the config's price table."""
    terms: list[tuple[str, str, float]] = []
    for model, usd_per_1m in sorted(cfg.prices.embedding.items()):
        terms.append((tokens, f'kind="embedding",model={repr_label(model)}', usd_per_1m / 1e6))
    for model, price in sorted(cfg.prices.llm.items()):
        terms.append((tokens, f'kind="llm_input",model={repr_label(model)}', price.input / 1e6))
        terms.append((tokens, f'kind="llm_output",model={repr_label(model)}', price.output / 1e6))
        # llm_cached_input counts the part of llm_input the provider served from its prompt cache: those tokens
        # are priced at the cached rate, i.e. (cached - input) on top of the input rate (the warehouse's rule)
        if price.cached_input is not None and price.cached_input != price.input:
            terms.append((tokens, f'kind="llm_cached_input",model={repr_label(model)}',
                          (price.cached_input - price.input) / 1e6))
    # Platform per-call prices only when set: a zero price adds nothing but a long term.
    for op, usd in sorted(cfg.prices.platform_per_call.items()):
        if usd > 0:
            terms.append((operations, f'mode="platform",op={repr_label(op)}', usd))
    return terms


def cost(cfg: Config, func: str, by: tuple[str, ...], window: str, match: str = "", tokens: str = TOKENS,
         operations: str = OPERATIONS) -> str:
    """USD per second (`func="rate"`) or USD in the window (`func="increase"`), priced with PromQL constants.
    `tokens` / `operations`: the counters to price (the budget counters for a user or agent budget)."""
    terms = [f"{func}({metric}{_sel(match, m)}[{window}]) * {num(price)}"
             for metric, m, price in _price_terms(cfg, tokens, operations)]
    return f"{_by(by)} (\n    " + "\n  or ".join(terms) + "\n)"


def stored_memories(by: tuple[str, ...], offset: str = "", match: str = "") -> str:
    """Memories added minus deleted, from the change counters (the counters' lifetime is the horizon)."""
    off = f" offset {offset}" if offset else ""
    added = f"{_by(by)} ({CHANGES}{_sel(match, _ADD)}{off})"
    deleted = f"{_by(by)} ({CHANGES}{_sel(match, _DELETE)}{off})"
    return f"({added} - ({deleted} or {added} * 0))"


def storage_growth(by: tuple[str, ...], period: str, match: str = "") -> str:
    """Growth of the stored-memory count over `period`, relative to its size `period` ago."""
    before = stored_memories(by, period, match)
    return f"{stored_memories(by, '', match)}\n/ ({before} > 0) - 1"


def projected_weekly_growth(by: tuple[str, ...], window: str, match: str = "") -> str:
    """Net memories added per week at the current rate, relative to the stored count (data from the start,
    unlike `storage_growth`, which needs a week of history)."""
    added = f"{_by(by)} (rate({CHANGES}{_sel(match, _ADD)}[{window}]))"
    deleted = f"{_by(by)} (rate({CHANGES}{_sel(match, _DELETE)}[{window}]))"
    return f"({added} - ({deleted} or {added} * 0)) * {WEEK_S}\n/ ({stored_memories(by, '', match)} > 0)"


# Where OSS calls spent their time (instrumentation/metrics.py: one observation per phase a call ran).
PHASE_DURATION = "memlens_mem0_phase_duration_seconds"


def phase_quantile(q: float, by: tuple[str, ...], window: str, match: str = "") -> str:
    """Quantile of the time calls spent in a phase (over the calls that ran it); `by` should hold `phase`."""
    return (f"histogram_quantile({num(q)}, {_by((*by, 'le'))} "
            f"(rate({PHASE_DURATION}_bucket{_sel(match)}[{window}])))")


def phase_seconds_rate(by: tuple[str, ...], window: str, match: str = "") -> str:
    """Seconds spent in each phase per second of wall time: stacked per op, where the time went."""
    return f"{_by(by)} (rate({PHASE_DURATION}_sum{_sel(match)}[{window}]))"
