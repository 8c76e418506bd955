"""Backtest: when each alert of a config would have fired on the warehouse's own history.

The windowed figures come from the SQL of `sql/windows/` (one definition, the recording rules' arithmetic over the
op log); this module applies each rule's threshold and `for:` to them, evaluation by evaluation, as Prometheus'
rule manager does: a condition that holds makes the alert pending, one that has held for `for:` makes it fire,
the first evaluation where it does not hold (or has no sample: no traffic) resolves it.

Where the op-log evaluation differs from Prometheus' is listed in APPROXIMATIONS (shown by the CLI and the page).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from memlens import backend
from memlens.alerts import promql
from memlens.alerts.model import KIND, ThresholdAlert, matches, threshold_alerts
from memlens.alerts.rules import BURN_WINDOWS, COST_PERIOD, STORAGE_PERIOD
from memlens.config import Config
from memlens.resources import MODELS, read_text

# What the op log can filter on (alerts.selector labels beyond these are not in the op log: ignored here).
LOG_LABELS = ("service", "mode", "call_mode", "op", "infer")
SERIES = ("service", "op", "infer")

APPROXIMATIONS = (
    "Percentiles are Prometheus' histogram_quantile over the instrumentation's buckets (1 ms … 10 s), computed from "
    "the op log's latencies: the figure the rule sees, not the exact percentile of the Latency page. They can differ "
    "by up to the width of the bucket around the threshold (for 500 ms: 400–500 and 500–750 ms).",
    "A call counts at its timestamp; Prometheus counts it at the first scrape after it, so an episode can start or "
    "end up to one scrape interval later there, and the first calls of a newly started process are invisible to "
    "rate() until its second scrape.",
    "Evaluations run every alerts.evaluation_interval on the clock (t = 0, 1m, 2m, …); Prometheus offsets each "
    "rule group by a fixed fraction of the interval.",
    "Counters never reset here: a process restart resets the stored-memory counts the storage-growth rule reads.",
    "Cost is the op log's (stg_op_costs: OSS pays its tokens, Platform its per-call prices); the rule prices the "
    "token counters of every mode.",
    "A value exactly at a threshold (e.g. 5 errors in 100 calls = 5 %) does not exceed it here; Prometheus' "
    "floating-point rates can land on either side of it.",
)


def seconds(duration: str) -> float:
    """Seconds of a Prometheus duration (`5m`, `1h30m`, `250ms`)."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"{duration!r} is not a Prometheus duration")
    return float(sum(int(n) * units[u] for n, u in parts))


def _steps(duration: str, step_s: float, field_name: str) -> int:
    n = seconds(duration) / step_s
    if abs(n - round(n)) > 1e-9 or round(n) < 1:
        raise ValueError(f"{field_name}={duration} is not a whole number of alerts.evaluation_interval "
                         f"({step_s:g} s): the backtest evaluates every interval")
    return round(n)


# ---- figures (SQL) -----------------------------------------------------------------------------------------
def _matchers(labels: dict[str, str]) -> list[dict[str, str]]:
    from memlens.alerts.model import split_matcher

    out = []
    for col, value in labels.items():
        if col in LOG_LABELS:
            op, val = split_matcher(value)
            out.append({"col": col, "op": op, "val": val})
    return out


def ignored_selector_labels(cfg: Config) -> list[str]:
    """alerts.selector labels the op log does not hold (e.g. environment): the backtest covers every row."""
    return [k for k in cfg.alerts.selector if k not in LOG_LABELS]


def _sql(name: str) -> str:
    return read_text(MODELS, "windows", name)


def _run(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> pd.DataFrame:
    con.execute(_sql("macros.sql"))
    # DuckDB plans an ASOF join it estimates small as a nested loop: quadratic on a month of steps.
    con.execute("SET asof_loop_join_threshold = 0")
    sql = _sql(name)
    wanted = set(re.findall(r"\$(\w+)", sql))
    return con.execute(sql, {k: v for k, v in params.items() if k in wanted}).df()


@dataclass
class Figures:
    """The windowed figures of one config's rules (what the thresholds are compared with)."""

    step_s: float
    start: datetime | None
    end: datetime
    op: dict[float, pd.DataFrame]     # slow_ms → window_op_figures at the rate window
    ratios: pd.DataFrame | None       # window_service_ratios at the SLO windows (None: no SLO)
    service: pd.DataFrame             # window_service_cost_growth
    ratio_wide: dict[str, pd.DataFrame] = field(default_factory=dict)  # error_ratio / slow_ratio: (service, k) x window


def figure_params(cfg: Config) -> tuple:
    """What `figures` depends on (thresholds and for: do not): a cache key that survives threshold edits."""
    a = cfg.alerts
    slow = sorted({x.slow_op_ms for x in threshold_alerts(cfg) if x.slow_op_ms is not None})
    slo = a.slo
    return (a.evaluation_interval, a.rate_window, tuple(sorted(a.selector.items())), tuple(slow),
            slo.availability_objective is not None or slo.latency_objective is not None, slo.latency_threshold_ms,
            tuple(sorted(slo.availability_match.items())), tuple(sorted(slo.latency_match.items())))


def history_end(con: duckdb.DuckDBPyConnection) -> datetime | None:
    row = con.execute("SELECT max(ts) FROM raw_op_events").fetchone()
    return row[0] if row else None


def figures(con: duckdb.DuckDBPyConnection, cfg: Config, end: datetime | None = None,
            start: datetime | None = None) -> Figures | None:
    """Every windowed figure the config's rules read, from the op log up to `end` (default: its last call).
    None when the warehouse holds no calls."""
    end = end or history_end(con)
    if end is None:
        return None
    # sql/windows runs in DuckDB (TEMP macros with lambdas, ASOF joins): on another engine, over a copy of the
    # layer's relations it reads, made in this process (docs/scale.md says what that costs).
    with backend.duckdb_copy(con, WINDOW_INPUTS) as local:
        return _figures(local, cfg, end, start)


WINDOW_INPUTS = ("stg_op_facts", "stg_op_events", "stg_op_costs")  # what sql/windows reads


def _figures(con: duckdb.DuckDBPyConnection, cfg: Config, end: datetime, start: datetime | None) -> Figures:
    a = cfg.alerts
    step_s = seconds(a.evaluation_interval)
    edges = [0.0, *(b * 1000 for b in promql.DURATION_BUCKETS_S), promql.DURATION_BUCKETS_S[-1] * 1000]
    base = {"step_s": step_s, "end": end, "start": start, "matchers": _matchers(a.selector), "edges_ms": edges}
    rate_steps = _steps(a.rate_window, step_s, "alerts.rate_window")
    slow = sorted({x.slow_op_ms for x in threshold_alerts(cfg) if x.slow_op_ms is not None} or {0.0})
    op = {ms: _with_pair(_run(con, "window_op_figures.sql", {**base, "window_steps": rate_steps, "slow_ms": ms}))
          for ms in slow}
    ratios = None
    if a.slo.availability_objective is not None or a.slo.latency_objective is not None:
        windows = sorted({_steps(w, step_s, "SLO window") for lg, sh, *_ in BURN_WINDOWS for w in (lg, sh)})
        ratios = _run(con, "window_service_ratios.sql", {
            **base, "windows_steps": windows, "slow_ms": a.slo.latency_threshold_ms,
            "avail_matchers": _matchers(a.slo.availability_match),
            "latency_matchers": _matchers(a.slo.latency_match)})
    service = _run(con, "window_service_cost_growth.sql", {
        **base, "cost_steps": _steps(COST_PERIOD, step_s, "the daily cost window"),
        "growth_steps": _steps(STORAGE_PERIOD, step_s, "the storage growth window")})
    wide = {} if ratios is None else {
        col: ratios.set_index(["service", "k", "window_steps"])[col].unstack("window_steps").reset_index()
        for col in ("error_ratio", "slow_ratio")}
    return Figures(step_s, start, end, op, ratios, service, wide)


# ---- the rule manager ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Episode:
    """One alert instance (a series) from the first evaluation its condition held to the first it did not."""

    labels: tuple[tuple[str, str], ...]
    pending_at: datetime
    fired_at: datetime | None       # None: resolved before `for:` had passed (pending only)
    resolved_at: datetime | None    # None: still holding at the last evaluation of the history
    last_at: datetime               # the last evaluation at which it held
    peak: float                     # the worst value of the figure while firing (while pending if it never fired)

    @property
    def firing_seconds(self) -> float:
        """From firing to resolved (to the last evaluation when still firing at the end)."""
        if self.fired_at is None:
            return 0.0
        return ((self.resolved_at or self.last_at) - self.fired_at).total_seconds()


@dataclass
class RuleResult:
    key: str                 # p99_latency@search, error_rate@other, Mem0AvailabilitySLOBurnRateFast, ...
    alert: str
    title: str
    scope: str | None
    threshold: float | None
    for_: str
    severity: str
    figure: str              # the column compared, for charts
    episodes: list[Episode] = field(default_factory=list)

    @property
    def fired(self) -> list[Episode]:
        return [e for e in self.episodes if e.fired_at is not None]

    @property
    def times_fired(self) -> int:
        return len(self.fired)

    @property
    def firing_seconds(self) -> float:
        """Time during which at least one series fired (overlapping series count once): never more than the range."""
        spans = sorted((e.fired_at, e.resolved_at or e.last_at) for e in self.fired)
        total, open_from, open_to = 0.0, None, None
        for start, end in spans:
            if open_to is None or start > open_to:
                if open_to is not None:
                    total += (open_to - open_from).total_seconds()
                open_from, open_to = start, end
            else:
                open_to = max(open_to, end)
        if open_to is not None:
            total += (open_to - open_from).total_seconds()
        return total

    @property
    def series_firing_seconds(self) -> float:
        """Firing time summed over the series (three services firing for an hour each: 3 h)."""
        return sum(e.firing_seconds for e in self.fired)

    @property
    def series_fired(self) -> int:
        return len({e.labels for e in self.fired})

    @property
    def pending_only(self) -> int:
        return sum(e.fired_at is None for e in self.episodes)


@dataclass
class Backtest:
    start: datetime | None
    end: datetime
    step_s: float
    rules: list[RuleResult]
    notes: list[str]

    def rule(self, key: str) -> RuleResult:
        return next(r for r in self.rules if r.key == key)


def _ts(k: int, step_s: float) -> datetime:
    return datetime.fromtimestamp(k * step_s, UTC).replace(tzinfo=None)


def episodes(ks: np.ndarray, values: np.ndarray, labels: tuple[tuple[str, str], ...], for_steps: int, end_k: int,
             step_s: float, above: bool = True) -> list[Episode]:
    """Alert episodes of one series from the evaluation steps `ks` (sorted) where its condition held."""
    if len(ks) == 0:
        return []
    breaks = np.flatnonzero(np.diff(ks) != 1) + 1
    starts = np.r_[0, breaks]
    ends = np.r_[breaks, len(ks)] - 1
    k0, k1 = ks[starts], ks[ends]
    fired = k1 >= k0 + for_steps
    # the worst value while firing (while pending for a run that never fired): one reduceat over [from, end]
    first = np.where(fired, starts + for_steps, starts)
    bounds = np.column_stack([first, ends + 1]).ravel()
    padded = np.r_[values, values[-1]]  # reduceat needs every index < len
    worst = (np.maximum if above else np.minimum).reduceat(padded, bounds)[::2]
    out = []
    for a, b, f, w in zip(k0.tolist(), k1.tolist(), fired.tolist(), worst.tolist(), strict=True):
        out.append(Episode(labels, _ts(a, step_s), _ts(a + for_steps, step_s) if f else None,
                           None if b >= end_k else _ts(b + 1, step_s), _ts(b, step_s), w))
    return out


def _series_episodes(df: pd.DataFrame, held: pd.Series, value: pd.Series, keys: Iterable[str], for_steps: int,
                     end_k: int, step_s: float, above: bool) -> list[Episode]:
    """Episodes of every series of `df`, which is ordered by (keys..., k) (the window queries' ORDER BY)."""
    keys = list(keys)
    mask = held.fillna(False).to_numpy(bool)
    if not mask.any():
        return []
    part = df.loc[mask, keys]
    ks = df["k"].to_numpy(np.int64)[mask]
    vals = value.to_numpy(float)[mask]
    # a new series wherever any key changes from the row before
    change = np.zeros(len(part), dtype=bool)
    change[0] = True
    for key in keys:
        col = part[key].to_numpy()
        change[1:] |= col[1:] != col[:-1]
    edges = [*np.flatnonzero(change).tolist(), len(part)]
    out: list[Episode] = []
    for a, b in itertools.pairwise(edges):
        labels = tuple((n, str(part[n].iat[a])) for n in keys if str(part[n].iat[a]) != "")
        out += episodes(ks[a:b], vals[a:b], labels, for_steps, end_k, step_s, above)
    return out


def _with_pair(df: pd.DataFrame) -> pd.DataFrame:
    """Adds `op_infer` ("add|true"), categorical: scopes are matched once per distinct pair, not per row."""
    return df.assign(op_infer=(df["op"] + "|" + df["infer"]).astype("category"))


def _scope_rows(df: pd.DataFrame, a: ThresholdAlert) -> pd.Series:
    """The rows of the series the alert's scope selects."""
    if a.scope is None:
        return pd.Series(True, index=df.index)
    pairs = df["op_infer"] if "op_infer" in df.columns else _with_pair(df)["op_infer"]
    inside = [p for p in pairs.cat.categories
              if matches(a.scope.match, dict(zip(("op", "infer"), p.split("|", 1), strict=True)))]
    return pd.Series(pairs.isin(inside).to_numpy(bool), index=df.index)


def _figure(a: ThresholdAlert) -> str:
    return {"p99_latency": "hist_p99_ms", "p95_latency": "hist_p95_ms", "avg_latency": "avg_ms",
            "error_rate": "error_rate", "slow_share": "slow_share", "cache_hit_rate": "cache_hit_rate",
            "daily_cost": "cost_usd", "storage_growth": "growth_ratio"}[a.kind.key]


def evaluate(cfg: Config, fig: Figures) -> Backtest:
    """Apply the config's thresholds and `for:` to the figures (cheap: re-run on every edit)."""
    step_s = fig.step_s
    end_k = math.ceil((fig.end if fig.end.tzinfo else fig.end.replace(tzinfo=UTC)).timestamp() / step_s)
    rules: list[RuleResult] = []
    for a in threshold_alerts(cfg):
        col = _figure(a)
        for_steps = math.ceil(seconds(a.rule.for_) / step_s)
        result = RuleResult(a.key, a.kind.alert, a.kind.title, a.scope.name if a.scope else None, a.threshold,
                            a.rule.for_, a.rule.severity, col)
        if a.kind.scoped or a.kind.key == "cache_hit_rate":
            df = fig.op[a.slow_op_ms if a.kind.key == "slow_share" else next(iter(fig.op))]
            keys = SERIES if a.kind.scoped else ("service", "op")
            if a.kind.key == "cache_hit_rate":  # the cache counters carry no infer label: per (service, op)
                df = _cache_by_op(df)
            value = df[col]  # latency figures are in ms, like their thresholds
            held = (value > a.threshold if a.kind.above else value < a.threshold) & _scope_rows(df, a)
        else:
            df, keys = fig.service, ("service",)
            value = df[col]
            held = value > a.threshold
        result.episodes = _series_episodes(df, held, value, keys, for_steps, end_k, step_s, a.kind.above)
        rules.append(result)
    rules += _slo_results(cfg, fig, end_k)
    notes = list(APPROXIMATIONS)
    ignored = ignored_selector_labels(cfg)
    if ignored:
        notes.append(f"alerts.selector matches on {', '.join(ignored)}, which the op log does not hold: the backtest "
                     "covers every call of the warehouse.")
    return Backtest(fig.start, fig.end, step_s, rules, notes)


def _cache_by_op(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby(["service", "op", "k"], as_index=False, sort=True)[["cache_hits", "cache_lookups"]].sum()
    g = g[g["cache_lookups"] > 0]
    return g.assign(cache_hit_rate=g["cache_hits"] / g["cache_lookups"], infer="")


def _slo_results(cfg: Config, fig: Figures, end_k: int) -> list[RuleResult]:
    slo = cfg.alerts.slo
    out: list[RuleResult] = []
    if fig.ratios is None:
        return out
    for kind, objective, col in (("availability", slo.availability_objective, "error_ratio"),
                                 ("latency", slo.latency_objective, "slow_ratio")):
        if objective is None:
            continue
        budget = 1 - objective
        wide = fig.ratio_wide[col]
        for page in (True, False):
            held = pd.Series(False, index=wide.index)
            for long, short, factor, is_page in BURN_WINDOWS:
                if is_page != page:
                    continue
                lg, sh = (_steps(w, fig.step_s, "SLO window") for w in (long, short))
                held |= (wide[lg] > factor * budget) & (wide[sh] > factor * budget)
            long_w = _steps(next(lg for lg, _, _, p in BURN_WINDOWS if p == page), fig.step_s, "SLO window")
            name = f"Mem0{kind.capitalize()}SLOBurnRate{'Fast' if page else 'Slow'}"
            for_ = slo.page_for if page else slo.ticket_for
            res = RuleResult(name, name, f"{kind} SLO burn rate ({'page' if page else 'ticket'})", None, None, for_,
                             "critical" if page else "warning", col)
            res.episodes = _series_episodes(wide, held, wide[long_w], ("service",),
                                            math.ceil(seconds(for_) / fig.step_s), end_k, fig.step_s, True)
            out.append(res)
    return out


def rule_series(bt: Backtest, cfg: Config, fig: Figures, key: str) -> pd.DataFrame:
    """The figure a rule compares, per series over time (t, series, value): what the page charts."""
    cols = ["t", "series", "value"]
    if key.startswith("Mem0") and key.endswith(("Fast", "Slow")):
        if fig.ratios is None:
            return pd.DataFrame(columns=cols)
        long_w = next(lg for lg, _, _, page in BURN_WINDOWS if page == key.endswith("Fast"))
        r = fig.ratios[fig.ratios["window_steps"] == _steps(long_w, fig.step_s, "SLO window")]
        col = "error_ratio" if "Availability" in key else "slow_ratio"
        return pd.DataFrame({"t": r["t"], "series": r["service"], "value": r[col]}).dropna()
    a = next(x for x in threshold_alerts(cfg) if x.key == key)
    col = _figure(a)
    if a.kind.scoped:
        df = fig.op[a.slow_op_ms if a.kind.key == "slow_share" else next(iter(fig.op))]
        df = df[_scope_rows(df, a).to_numpy(bool)]
        names = df["service"] + " " + df["op"] + df["infer"].map(lambda i: f" infer={i}" if i else "")
    elif a.kind.key == "cache_hit_rate":
        df = _cache_by_op(fig.op[next(iter(fig.op))])
        names = df["service"] + " " + df["op"]
    else:
        df = fig.service
        names = df["service"]
    t = df["t"] if "t" in df.columns else pd.to_datetime(df["k"] * fig.step_s, unit="s")
    return pd.DataFrame({"t": t.to_numpy(), "series": names.to_numpy(), "value": df[col].to_numpy()}).dropna()


# ---- tables (CLI, page, CSV) ------------------------------------------------------------------------------------
def threshold_text(r: RuleResult) -> str:
    """The rule's condition in words: "> 500 ms", "< 50 %", "> $5", or the SLO's burn-rate windows."""
    if r.threshold is None:
        return "burn rate (SLO)"
    kind = KIND[r.key.split("@")[0]]
    op = ">" if kind.above else "<"
    if r.figure.endswith("_ms"):
        return f"{op} {r.threshold:g} ms"
    if r.figure == "cost_usd":
        return f"{op} ${r.threshold:g}"
    return f"{op} {r.threshold * 100:g} %"


def _dur(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if hours < 48 else f"{hours / 24:.1f} d"


def summary_table(bt: Backtest) -> pd.DataFrame:
    """One row per rule: how often it would have fired and for how long: `firing` while any series fired, and
    `series_firing` summed over the `series_fired` series (the two differ when series overlap)."""
    rows = []
    for r in bt.rules:
        fired = r.fired
        longest = max((e.firing_seconds for e in fired), default=0.0)
        rows.append({
            "rule": r.key, "alert": r.alert, "scope": r.scope or "", "threshold": threshold_text(r),
            "for": r.for_, "severity": r.severity, "times_fired": r.times_fired,
            "firing": _dur(r.firing_seconds), "firing_hours": round(r.firing_seconds / 3600, 2),
            "series_fired": r.series_fired, "series_firing": _dur(r.series_firing_seconds) if fired else "",
            "longest": _dur(longest) if fired else "", "pending_only": r.pending_only,
            "last_fired_at": max((e.fired_at for e in fired), default=None),
        })
    return pd.DataFrame(rows)


def episode_table(bt: Backtest, rule: str | None = None) -> pd.DataFrame:
    """One row per time a rule fired: its series, when it went pending, fired and resolved, its worst value."""
    rows = []
    for r in bt.rules:
        if rule is not None and r.key != rule:
            continue
        for e in r.fired:
            rows.append({"rule": r.key, "alert": r.alert,
                         "series": ", ".join(f"{k}={v}" for k, v in e.labels),
                         "pending_at": e.pending_at, "fired_at": e.fired_at, "resolved_at": e.resolved_at,
                         "firing_minutes": round(e.firing_seconds / 60, 1), "worst_value": e.peak})
    return pd.DataFrame(rows, columns=["rule", "alert", "series", "pending_at", "fired_at", "resolved_at",
                                       "firing_minutes", "worst_value"])


def run(con: duckdb.DuckDBPyConnection, cfg: Config, end: datetime | None = None,
        start: datetime | None = None) -> Backtest | None:
    fig = figures(con, cfg, end, start)
    return None if fig is None else evaluate(cfg, fig)


__all__ = ["APPROXIMATIONS", "KIND", "Backtest", "Episode", "Figures", "RuleResult", "evaluate", "figures", "run"]
