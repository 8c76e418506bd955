"""`promtool test rules` cases for the generated rule file, derived from a config's thresholds.

For every alert: a synthetic series that breaches the threshold for longer than `for:` (fires, with the
exact labels and rendered annotations), the same series checked before `for:` has elapsed (pending, not
firing), one that stays on the safe side (silent), and flat counters = no traffic (silent).
Expected values are computed here from the series (histogram_quantile interpolation, ratios), and the
annotations rendered like Prometheus's template functions, so a wrong threshold or formula fails.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from prometheus_client.utils import floatToGoString

from memlens.alerts import promql
from memlens.alerts.rules import BURN_WINDOWS, rule_groups
from memlens.config import Config

SERVICE = "checkout"
OP = "search"
LONG = 60       # samples of the per-minute scenarios
QUIET_AT = "40m"
BUCKETS = promql.DURATION_BUCKETS_S


# ---- Prometheus template functions, as Go formats them ------------------------------------------------
def _g4(v: float) -> str:
    text = f"{v:.4g}"
    return text


def humanize_duration(v: float) -> str:
    if v == 0:
        return "0s"
    if abs(v) >= 1:
        if abs(v) >= 60:
            raise ValueError("durations >= 60 s are not used by these cases")
        return f"{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{_g4(v)}{prefix}s"


def humanize_percentage(v: float) -> str:
    return f"{_g4(v * 100)}%"


def render(template: str, labels: dict[str, str], value: float) -> str:
    def sub(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        if expr.startswith("$labels."):
            return labels[expr.removeprefix("$labels.")]
        if expr == "$value | humanizeDuration":
            return humanize_duration(value)
        if expr == "$value | humanizePercentage":
            return humanize_percentage(value)
        if expr == '$value | printf "%.2f"':
            return f"{value:.2f}"
        raise ValueError(f"template {expr!r} not handled by the test renderer")

    return re.sub(r"\{\{(.*?)\}\}", sub, template)


# ---- synthetic series -------------------------------------------------------------------------------
def _labels(**kv: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in kv.items()) + "}"


def _counter(per_step: float, steps: int) -> str:
    return f"0+{promql.num(per_step)}x{steps}"


def histogram(per_min: dict[float, float], steps: int = LONG, errors_per_min: float = 0.0) -> list[dict[str, str]]:
    """Histogram + ops counters for `per_min` {latency_s: calls per minute}; `errors_per_min` of them failed."""
    lab = {"service": SERVICE, "mode": "oss", "op": OP, "call_mode": "sync", "status": "ok"}
    total = sum(per_min.values())
    series = []
    for le in [*BUCKETS, math.inf]:
        inc = sum(n for lat, n in per_min.items() if lat <= le)
        series.append({"series": f"{promql.DURATION}_bucket{_labels(**lab, le=floatToGoString(le))}",
                       "values": _counter(inc, steps)})
    series.append({"series": f"{promql.DURATION}_count{_labels(**lab)}", "values": _counter(total, steps)})
    series.append({"series": f"{promql.DURATION}_sum{_labels(**lab)}",
                   "values": _counter(sum(lat * n for lat, n in per_min.items()), steps)})
    series.append({"series": f"{promql.OPERATIONS}{_labels(**lab)}", "values": _counter(total - errors_per_min, steps)})
    if errors_per_min:
        series.append({"series": f"{promql.OPERATIONS}{_labels(**{**lab, 'status': 'error'})}",
                       "values": _counter(errors_per_min, steps)})
    return series


def bucket_above(threshold_s: float) -> tuple[float, float]:
    """(lo, hi] of the first bucket entirely above the threshold."""
    lo_hi = list(zip((0.0, *BUCKETS[:-1]), BUCKETS, strict=True))
    return next((lo, hi) for lo, hi in lo_hi if lo >= threshold_s)


def bucket_below(threshold_s: float) -> tuple[float, float]:
    """(lo, hi] of the last bucket entirely at or below the threshold (not the first: lo > 0)."""
    lo_hi = list(zip((0.0, *BUCKETS[:-1]), BUCKETS, strict=True))
    return [(lo, hi) for lo, hi in lo_hi if hi <= threshold_s and lo > 0][-1]


def mid(bucket: tuple[float, float]) -> float:
    return (bucket[0] + bucket[1]) / 2


def quantile_in(bucket: tuple[float, float], q: float) -> float:
    """histogram_quantile when every observation is in one bucket: linear interpolation inside it."""
    return bucket[0] + (bucket[1] - bucket[0]) * q


# ---- cases ------------------------------------------------------------------------------------------
def _alerts_by_name(cfg: Config) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rule_groups(cfg)["groups"] for r in g["rules"] if "alert" in r}


def _minutes(d: str) -> int:
    return int(d[:-1]) * {"m": 1, "h": 60, "d": 1440}[d[-1]]


class Cases:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.alerts = _alerts_by_name(cfg)
        self.tests: list[dict[str, Any]] = []       # evaluated every minute
        self.long_tests: list[dict[str, Any]] = []  # day/week windows: evaluated every hour
        self.long = False

    def expect(self, name: str, labels: dict[str, str], value: float) -> dict[str, Any]:
        rule = self.alerts[name]
        all_labels = {**labels, **rule["labels"]}
        ann = {k: render(v, {**labels}, value) if k != "runbook_url" else v for k, v in rule["annotations"].items()}
        return {"exp_labels": all_labels, "exp_annotations": ann}

    def add(self, title: str, series: list[dict[str, str]], checks: list[tuple[str, str, list]],
            interval: str = "1m") -> None:
        (self.long_tests if self.long else self.tests).append({
            "name": title,
            "interval": interval,
            "input_series": series,
            "alert_rule_test": [{"eval_time": t, "alertname": a, "exp_alerts": exp} for t, a, exp in checks],
        })

    def standard(self, name: str, breach: list, quiet: list, idle: list, labels: dict[str, str], value: float,
                 fire_at: str | None = None, interval: str = "1m", pending_at: str | None = None) -> None:
        """Fires on `breach` once `for:` has passed (and not before), silent on `quiet` and `idle`."""
        for_min = _minutes(self.alerts[name]["for"])
        fire_at = fire_at or f"{for_min + 5}m"
        pending_at = pending_at or f"{for_min}m"  # breached since 1m: still pending at `for`
        self.add(f"{name}: breach held longer than for: fires", breach,
                 [(pending_at, name, []), (fire_at, name, [self.expect(name, labels, value)])], interval)
        self.add(f"{name}: below threshold: silent", quiet, [(fire_at, name, [])], interval)
        self.add(f"{name}: no traffic: silent", idle, [(fire_at, name, [])], interval)

    def build(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        t, cfg = self.cfg.thresholds, self.cfg
        so = {"service": SERVICE, "op": OP}
        s_only = {"service": SERVICE}
        idle_hist = histogram({mid(bucket_above(t.p99_ms / 1000)): 0})

        # Latency percentiles: every call in one bucket, so P = lo + (hi - lo) * q exactly.
        for name, q, thr in (("Mem0HighP99Latency", 0.99, t.p99_ms), ("Mem0HighP95Latency", 0.95, t.p95_ms)):
            hot, ok = bucket_above(thr / 1000), bucket_below(thr / 1000)
            self.standard(name, histogram({mid(hot): 10}), histogram({mid(ok): 10}), idle_hist, so,
                          quantile_in(hot, q))
        hot_mean, ok_mean = 1.5 * t.avg_ms / 1000, 0.5 * t.avg_ms / 1000
        self.standard("Mem0HighAverageLatency", histogram({hot_mean: 10}), histogram({ok_mean: 10}), idle_hist, so,
                      hot_mean)

        # Error rate: 100 calls a minute, some failed.
        bad_err = min(100, math.floor(t.error_rate * 100) + 10)
        ok_err = max(0, math.ceil(t.error_rate * 100) - 1)
        fast = {mid(bucket_below(t.p95_ms / 1000)): 100}
        self.standard("Mem0HighErrorRate", histogram(fast, errors_per_min=bad_err),
                      histogram(fast, errors_per_min=ok_err), histogram({mid(bucket_below(t.p95_ms / 1000)): 0}),
                      so, bad_err / 100)

        # Slow share: s of 100 calls a minute above thresholds.slow_op_ms.
        slow_b, fast_b = bucket_above(t.slow_op_ms / 1000), bucket_below(t.slow_op_ms / 1000)
        bad_slow = min(100, math.floor(t.slow_op_share * 100) + 10)
        ok_slow = max(0, math.ceil(t.slow_op_share * 100) - 1)
        self.standard("Mem0SlowOperationShareHigh",
                      histogram({mid(slow_b): bad_slow, mid(fast_b): 100 - bad_slow}),
                      histogram({mid(slow_b): ok_slow, mid(fast_b): 100 - ok_slow}),
                      histogram({mid(slow_b): 0}), so, 1 - (100 - bad_slow) / 100)

        # Cache: hits / (hits + misses); 50 bypassed calls a minute must not count.
        def cache(hits: float, misses: float) -> list[dict[str, str]]:
            return [{"series": f"{promql.CACHE}{_labels(**so, outcome=o)}", "values": _counter(n, LONG)}
                    for o, n in (("hit", hits), ("miss", misses), ("bypass", 50))]

        bad_hit = max(0, math.floor(t.cache_hit_rate_min * 100) - 10)
        ok_hit = min(100, math.ceil(t.cache_hit_rate_min * 100) + 10)
        self.standard("Mem0LowCacheHitRate", cache(bad_hit, 100 - bad_hit), cache(ok_hit, 100 - ok_hit),
                      cache(0, 0), so, bad_hit / 100)

        # Daily cost: the dearest embedding model, tokens at a steady rate; increase over 1 d = 1440 minutes.
        model, usd_per_1m = max(cfg.prices.embedding.items(), key=lambda kv: (kv[1], kv[0]))
        if usd_per_1m > 0:
            def spend(usd_per_day: float) -> list[dict[str, str]]:
                per_min = usd_per_day / 1440 / (usd_per_1m / 1e6)
                return [{"series": f"{promql.TOKENS}{_labels(service=SERVICE, kind='embedding', model=model)}",
                         "values": _counter(per_min, 1600)}]

            # At twice the budget per day the rolling 24 h crosses the budget after 12 h: pending just after.
            # Evaluated hourly (the "long" file): true from 12 h on, so still pending at 12 h.
            budget = t.daily_budget_usd
            self.long = True
            self.standard("Mem0DailyCostOverBudget", spend(2 * budget), spend(0.5 * budget), spend(0), s_only,
                          2 * budget, fire_at="26h", pending_at="12h")
            self.long = False

        # Storage growth: 1000 memories for a week, then a step to 1000 * (1 + growth); hourly samples,
        # evaluated hourly (the "long" file), so every evaluation lands on a sample.
        g = t.storage_growth_per_week
        for_h = max(1, math.ceil(_minutes(self.alerts["Mem0StorageGrowthHigh"]["for"]) / 60))

        def stored(after: float) -> list[dict[str, str]]:
            return [
                {"series": f"{promql.CHANGES}{_labels(service=SERVICE, event='add')}",
                 "values": f"1000+0x167 {promql.num(after)}+0x{for_h + 5}"},
                {"series": f"{promql.CHANGES}{_labels(service=SERVICE, event='delete')}",
                 "values": f"0+0x{168 + for_h + 5}"},
            ]

        idle_store = [{"series": f"{promql.CHANGES}{_labels(service=SERVICE, event='add')}",
                       "values": f"0+0x{168 + for_h + 5}"}]
        self.long = True
        self.standard("Mem0StorageGrowthHigh", stored(1000 * (1 + 2 * g)), stored(1000 * (1 + g / 2)), idle_store,
                      s_only, 2 * g, interval="1h", fire_at=f"{168 + for_h + 2}h", pending_at="168h")
        self.long = False

        # SLO burn rates: the share of bad calls, steady, so every window sees the same ratio.
        slo = cfg.alerts.slo
        page_factor = max(f for *_, f, page in BURN_WINDOWS if page)
        slow_factor = max(f for *_, f, page in BURN_WINDOWS if not page)
        min_page = min(f for *_, f, page in BURN_WINDOWS if page)
        ok_b = mid(bucket_below(t.p95_ms / 1000))
        for kind, objective in (("availability", slo.availability_objective), ("latency", slo.latency_objective)):
            if objective is None:
                continue
            budget = 1 - objective
            shares = {"Fast": min(1.0, 1.4 * page_factor * budget),
                      "Slow": (slow_factor + min_page) / 2 * budget}  # ticket, but below every page factor
            quiet = 0.5 * budget

            def calls(share: float, total: float = 10000, kind: str = kind) -> list[dict[str, str]]:
                bad = share * total
                if kind == "availability":
                    return histogram({ok_b: total}, errors_per_min=bad)
                slow_bucket = bucket_above(slo.latency_threshold_ms / 1000)
                return histogram({mid(slow_bucket): bad, ok_b: total - bad})

            for speed, share in shares.items():
                name = f"Mem0{kind.capitalize()}SLOBurnRate{speed}"
                self.standard(name, calls(share), calls(quiet), calls(0, total=0), s_only, share)
        return self.tests, self.long_tests


HEADER = "# Generated by scripts/update_golden.py from the config: promtool unit tests of the generated rules.\n"


def render_tests(cfg: Config, rule_file: str) -> dict[str, str]:
    """{file name: promtool test file}: minute-evaluated cases and hour-evaluated day/week-window cases."""
    minute, hour = Cases(cfg).build()
    # Recording rules first at every evaluation time, as the file lists them (promtool's order is otherwise
    # random, and an alert reading an hour-old recorded sample sees nothing after the 5 m lookback).
    order = [g["name"] for g in rule_groups(cfg)["groups"]]
    docs = {"alert-rules.test.yaml": ("1m", minute), "alert-rules-long.test.yaml": ("1h", hour)}
    return {name: HEADER + yaml.safe_dump({"rule_files": [rule_file], "evaluation_interval": every,
                                           "group_eval_order": order, "tests": tests},
                                          sort_keys=False, width=4096)
            for name, (every, tests) in docs.items()}
