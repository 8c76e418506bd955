"""`promtool test rules` files for a generated rule file, derived from the same config (`memlens export all`).

For every threshold alert (per scope) and SLO alert: a synthetic series that breaches the threshold for longer
than `for:` (fires, with the exact labels and rendered annotations), the same series before `for:` has elapsed
(pending, not firing), one on the safe side (silent), flat counters = no traffic (silent), and for a
per-operation alert a breaching series of an operation no scope of that alert covers (silent: e.g. an
`add(infer=True)` taking seconds does not page on the search latency threshold). Expected values are computed
here from the series (histogram_quantile interpolation, ratios), and annotations are rendered like Prometheus'
template functions, so a wrong threshold, scope or formula fails.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from prometheus_client.utils import floatToGoString

from memlens.alerts import promql
from memlens.alerts.model import OP_LABEL_SETS, ThresholdAlert, matches, threshold_alerts
from memlens.alerts.rules import BURN_WINDOWS, budget_rule, rule_groups, slo_alert_rules, threshold_rule
from memlens.config import Config

SERVICE = "checkout"
LONG = 60       # samples of the per-minute scenarios
BUCKETS = promql.DURATION_BUCKETS_S


# ---- Prometheus template functions, as Go formats them ------------------------------------------------
def _g4(v: float) -> str:
    return f"{v:.4g}"


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
            return labels.get(expr.removeprefix("$labels."), "")
        if expr == "$value | humanizeDuration":
            return humanize_duration(value)
        if expr == "$value | humanizePercentage":
            return humanize_percentage(value)
        if expr == '$value | printf "%.2f"':
            return f"{value:.2f}"
        raise ValueError(f"template {expr!r} not handled by the test renderer")

    return re.sub(r"\{\{(.*?)\}\}", sub, template)


# ---- synthetic series -------------------------------------------------------------------------------
def series_labels(**kv: str) -> str:
    """`{k="v",...}` without empty values (an empty label is no label in Prometheus)."""
    return "{" + ",".join(f'{k}="{v}"' for k, v in kv.items() if v != "") + "}"


def _counter(per_step: float, steps: int) -> str:
    return f"0+{promql.num(per_step)}x{steps}"


def histogram(per_min: dict[float, float], steps: int = LONG, errors_per_min: float = 0.0, op: str = "search",
              infer: str = "", extra: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Histogram + ops counters for `per_min` {latency_s: calls per minute}; `errors_per_min` of them failed."""
    lab = {**(extra or {}), "service": SERVICE, "mode": "oss", "op": op, "call_mode": "sync", "status": "ok",
           "infer": infer}
    total = sum(per_min.values())
    series = []
    for le in [*BUCKETS, math.inf]:
        inc = sum(n for lat, n in per_min.items() if lat <= le)
        series.append({"series": f"{promql.DURATION}_bucket{series_labels(**lab, le=floatToGoString(le))}",
                       "values": _counter(inc, steps)})
    series.append({"series": f"{promql.DURATION}_count{series_labels(**lab)}", "values": _counter(total, steps)})
    series.append({"series": f"{promql.DURATION}_sum{series_labels(**lab)}",
                   "values": _counter(sum(lat * n for lat, n in per_min.items()), steps)})
    series.append({"series": f"{promql.OPERATIONS}{series_labels(**lab)}",
                   "values": _counter(total - errors_per_min, steps)})
    if errors_per_min:
        series.append({"series": f"{promql.OPERATIONS}{series_labels(**{**lab, 'status': 'error'})}",
                       "values": _counter(errors_per_min, steps)})
    return series


def bucket_above(threshold_s: float) -> tuple[float, float]:
    """(lo, hi] of the first bucket entirely above the threshold ((10 s, +Inf] past the last bound)."""
    lo_hi = list(zip((0.0, *BUCKETS[:-1]), BUCKETS, strict=True))
    return next(((lo, hi) for lo, hi in lo_hi if lo >= threshold_s), (BUCKETS[-1], math.inf))


def bucket_below(threshold_s: float) -> tuple[float, float]:
    """(lo, hi] of the last bucket entirely at or below the threshold (the first, (0, lowest bound], only for a
    threshold at the lowest bound)."""
    lo_hi = list(zip((0.0, *BUCKETS[:-1]), BUCKETS, strict=True))
    below = [(lo, hi) for lo, hi in lo_hi if hi <= threshold_s]
    if not below:
        raise ValueError(f"{threshold_s * 1000:g} ms is below the lowest latency bucket bound ({BUCKETS[0] * 1000:g} "
                         "ms): no histogram keeps it quiet")
    return below[-1]


def mid(bucket: tuple[float, float]) -> float:
    return (bucket[0] + bucket[1]) / 2 if bucket[1] != math.inf else 2 * bucket[0]


def quantile_in(bucket: tuple[float, float], q: float) -> float:
    """histogram_quantile when every observation is in one bucket: linear interpolation inside it (in the
    +Inf bucket: the highest finite bound)."""
    return bucket[0] + (bucket[1] - bucket[0]) * q if bucket[1] != math.inf else bucket[0]


def _minutes(d: str) -> int:
    return int(d[:-1]) * {"m": 1, "h": 60, "d": 1440}[d[-1]]


# ---- cases ------------------------------------------------------------------------------------------
class Cases:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        # Raw series carry every selector label (they must pass alerts.selector) and the kept labels, which
        # pass through to the alerts; a selector label that is not kept is summed away.
        self.kept = {k: _satisfying(cfg.alerts.selector[k]) if k in cfg.alerts.selector else f"{k}-1"
                     for k in cfg.alerts.keep_labels}
        self.extra = {**{k: _satisfying(v) for k, v in cfg.alerts.selector.items() if k != "service"}, **self.kept}
        self.service = _satisfying(cfg.alerts.selector["service"]) if "service" in cfg.alerts.selector else SERVICE
        self.tests: list[dict[str, Any]] = []       # evaluated every minute
        self.long_tests: list[dict[str, Any]] = []  # day/week windows: evaluated every hour
        self.long = False

    def expect(self, rule: dict[str, Any], labels: dict[str, str], value: float) -> dict[str, Any]:
        shown = {k: v for k, v in labels.items() if v != ""}
        ann = {k: render(v, shown, value) if k != "runbook_url" else v for k, v in rule["annotations"].items()}
        return {"exp_labels": {**shown, **rule["labels"]}, "exp_annotations": ann}

    def add(self, title: str, series: list[dict[str, str]], checks: list[tuple[str, str, list]],
            interval: str = "1m") -> None:
        (self.long_tests if self.long else self.tests).append({
            "name": title,
            "interval": interval,
            "input_series": series,
            "alert_rule_test": [{"eval_time": t, "alertname": a, "exp_alerts": exp} for t, a, exp in checks],
        })

    def standard(self, title: str, rule: dict[str, Any], breach: list, quiet: list, idle: list,
                 labels: dict[str, str], value: float, fire_at: str | None = None, interval: str = "1m",
                 pending_at: str | None = None) -> None:
        """Fires on `breach` once `for:` has passed (and not before), silent on `quiet` and `idle`."""
        name = rule["alert"]
        for_min = _minutes(rule["for"])
        fire_at = fire_at or f"{for_min + 5}m"
        pending_at = pending_at or f"{for_min}m"  # breached since 1m: still pending at `for`
        self.add(f"{title}: breach held longer than for: fires", breach,
                 [(pending_at, name, []), (fire_at, name, [self.expect(rule, labels, value)])], interval)
        self.add(f"{title}: below threshold: silent", quiet, [(fire_at, name, [])], interval)
        self.add(f"{title}: no traffic: silent", idle, [(fire_at, name, [])], interval)

    def _op_labels(self, a: ThresholdAlert) -> tuple[str, str] | None:
        """A label set the alert's scope matches (None when no instrumented op does)."""
        assert a.scope is not None
        return next(((op, inf) for op, inf in OP_LABEL_SETS if matches(a.scope.match, {"op": op, "infer": inf})), None)

    def _uncovered(self, a: ThresholdAlert, alerts: list[ThresholdAlert]) -> tuple[str, str] | None:
        """A label set no scope of this alert kind covers: a breach there must stay silent."""
        same = [b for b in alerts if b.kind.key == a.kind.key and b.scope is not None]
        return next(((op, inf) for op, inf in OP_LABEL_SETS
                     if not any(matches(b.scope.match, {"op": op, "infer": inf}) for b in same)), None)

    def scoped(self, a: ThresholdAlert, alerts: list[ThresholdAlert]) -> None:
        rule = threshold_rule(self.cfg, a)
        found = self._op_labels(a)
        if found is None:
            return
        op, infer = found
        labels = {**self.kept, "service": self.service, "op": op, "infer": infer}
        hist = self._hist(op, infer)
        t = a.threshold
        title = f"{a.kind.alert} [{a.scope.name if a.scope else ''}]"
        if a.kind.quantile is not None:
            q = a.kind.quantile
            hot, ok = bucket_above(t / 1000), bucket_below(t / 1000)
            breach, value = hist({mid(hot): 10}), quantile_in(hot, q)
            quiet = hist({mid(ok): 10})
            outside = ({mid(hot): 10},)
        elif a.kind.key == "avg_latency":
            breach, value, quiet = hist({1.5 * t / 1000: 10}), 1.5 * t / 1000, hist({0.5 * t / 1000: 10})
            outside = ({1.5 * t / 1000: 10},)
        elif a.kind.key == "error_rate":
            fast = {0.004: 100}  # 4 ms: every latency alert stays quiet
            bad, ok_n = min(100, math.floor(t * 100) + 10), max(0, math.ceil(t * 100) - 1)
            breach, value, quiet = hist(fast, errors_per_min=bad), bad / 100, hist(fast, errors_per_min=ok_n)
            outside = (fast, bad)
        else:  # slow_share
            slow_b, fast_b = bucket_above((a.slow_op_ms or 0) / 1000), bucket_below((a.slow_op_ms or 0) / 1000)
            bad, ok_n = min(100, math.floor(t * 100) + 10), max(0, math.ceil(t * 100) - 1)
            breach = hist({mid(slow_b): bad, mid(fast_b): 100 - bad})
            quiet, value = hist({mid(slow_b): ok_n, mid(fast_b): 100 - ok_n}), 1 - (100 - bad) / 100
            labels["le"] = promql.le_for_ms(a.slow_op_ms or 0, "slow_op_ms")
            outside = ({mid(slow_b): bad, mid(fast_b): 100 - bad},)
        self.standard(title, rule, breach, quiet, hist({0.004: 0}), labels, value)
        other = self._uncovered(a, alerts)
        if other is not None:
            o_op, o_inf = other
            per_min, *errors = outside
            series = histogram(per_min, errors_per_min=errors[0] if errors else 0.0, op=o_op, infer=o_inf,
                               extra=self.extra)
            self.add(f"{title}: {o_op}{f' infer={o_inf}' if o_inf else ''} is outside every scope: silent",
                     _with_service(series, self.service), [(f"{_minutes(rule['for']) + 5}m", rule["alert"], [])])

    def _hist(self, op: str, infer: str):
        def make(per_min: dict[float, float], errors_per_min: float = 0.0) -> list[dict[str, str]]:
            return _with_service(histogram(per_min, errors_per_min=errors_per_min, op=op, infer=infer,
                                           extra=self.extra), self.service)
        return make

    def build(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        cfg = self.cfg
        alerts = threshold_alerts(cfg)
        for a in alerts:
            if a.scope is not None:
                self.scoped(a, alerts)
        by_kind = {a.kind.key: a for a in alerts if a.scope is None}
        so = {**self.kept, "service": self.service, "op": "search"}
        s_only = {**self.kept, "service": self.service}
        raw_so, raw_s = {**self.extra, **so}, {**self.extra, **s_only}

        # Cache: hits / (hits + misses); 50 bypassed calls a minute must not count.
        a = by_kind["cache_hit_rate"]

        def cache(hits: float, misses: float) -> list[dict[str, str]]:
            return [{"series": f"{promql.CACHE}{series_labels(**raw_so, outcome=o)}", "values": _counter(n, LONG)}
                    for o, n in (("hit", hits), ("miss", misses), ("bypass", 50))]

        bad_hit = max(0, math.floor(a.threshold * 100) - 10)
        ok_hit = min(100, math.ceil(a.threshold * 100) + 10)
        self.standard(a.kind.alert, threshold_rule(cfg, a), cache(bad_hit, 100 - bad_hit),
                      cache(ok_hit, 100 - ok_hit), cache(0, 0), so, bad_hit / 100)

        # Daily cost: the dearest embedding model, tokens at a steady rate; increase over 1 d = 1440 minutes.
        a = by_kind["daily_cost"]
        model, usd_per_1m = max(cfg.prices.embedding.items(), key=lambda kv: (kv[1], kv[0]))
        if usd_per_1m > 0:
            def spend(usd_per_day: float) -> list[dict[str, str]]:
                per_min = usd_per_day / 1440 / (usd_per_1m / 1e6)
                return [{"series": f"{promql.TOKENS}{series_labels(**raw_s, kind='embedding', model=model)}",
                         "values": _counter(per_min, 1600)}]

            # At twice the budget per day the rolling 24 h crosses the budget after 12 h: pending just after.
            # Evaluated hourly (the "long" file): true from 12 h on, so still pending at 12 h; from 24 h on the
            # rolling day holds twice the budget.
            budget = a.threshold
            self.long = True
            self.standard(a.kind.alert, threshold_rule(cfg, a), spend(2 * budget), spend(0.5 * budget), spend(0),
                          s_only, 2 * budget, fire_at=f"{max(26, 12 + math.ceil(_minutes(a.rule.for_) / 60) + 1)}h",
                          pending_at="12h")
            self.long = False

        # Storage growth: 1000 memories for a week, then a step to 1000 * (1 + growth); hourly samples,
        # evaluated hourly (the "long" file), so every evaluation lands on a sample.
        a = by_kind["storage_growth"]
        g = a.threshold
        for_h = max(1, math.ceil(_minutes(a.rule.for_) / 60))

        def stored(after: float) -> list[dict[str, str]]:
            return [
                {"series": f"{promql.CHANGES}{series_labels(**raw_s, event='add')}",
                 "values": f"1000+0x167 {promql.num(after)}+0x{for_h + 5}"},
                {"series": f"{promql.CHANGES}{series_labels(**raw_s, event='delete')}",
                 "values": f"0+0x{168 + for_h + 5}"},
            ]

        idle_store = [{"series": f"{promql.CHANGES}{series_labels(**raw_s, event='add')}",
                       "values": f"0+0x{168 + for_h + 5}"}]
        self.long = True
        self.standard(a.kind.alert, threshold_rule(cfg, a), stored(1000 * (1 + 2 * g)), stored(1000 * (1 + g / 2)),
                      idle_store, s_only, 2 * g, interval="1h", fire_at=f"{168 + for_h + 2}h", pending_at="168h")
        self.long = False
        self.slo(s_only)
        self.budgets()
        return self.tests, self.long_tests

    def budgets(self) -> None:
        """Budgets (the config's `budgets:`): a steady spend of the dearest embedding model at twice the budget per
        period on the budget's own series fires once the rolling period holds it and `for:` has passed (and not at
        half the period, when it only reaches the budget); half the budget, no spend and another scope's spend stay
        silent. A service (or team) budget reads the service's token counter, a user or agent budget the budget
        counter labelled with its name. Hourly samples, evaluated hourly (the "long" file)."""
        cfg = self.cfg
        model, usd_per_1m = max(cfg.prices.embedding.items(), key=lambda kv: (kv[1], kv[0]))
        if usd_per_1m <= 0:
            return
        self.long = True
        for b in cfg.budgets:
            if b.usd <= 0:
                continue
            rule = budget_rule(cfg, b)
            hours = {"1d": 24, "7d": 168, "30d": 720}[b.period]
            for_h = max(1, math.ceil(_minutes(rule["for"]) / 60))
            steps = hours + for_h + 6
            per_scope = b.scope.user is not None or b.scope.agent is not None
            metric = promql.BUDGET_TOKENS if per_scope else promql.TOKENS
            service = b.scope.service or self.service

            def spend(usd_per_period: float, labels: dict[str, str], metric: str = metric,
                      hours: int = hours, steps: int = steps) -> list[dict[str, str]]:
                per_h = usd_per_period / hours / (usd_per_1m / 1e6)
                return [{"series": f"{metric}{series_labels(**labels, kind='embedding', model=model)}",
                         "values": _counter(per_h, steps)}]

            own = {**self.extra, "service": service, **({"budget": b.name} if per_scope else {})}
            other = ({**own, "budget": f"{b.name}-other"} if per_scope
                     else {**own, "service": f"{service}-other"} if b.scope.service is not None else None)
            title = f"{rule['alert']} [{b.name}]"
            self.standard(title, rule, spend(2 * b.usd, own), spend(0.5 * b.usd, own), spend(0, own),
                          {"budget": b.name}, 2 * b.usd, interval="1h", fire_at=f"{hours + for_h + 2}h",
                          pending_at=f"{hours // 2}h")
            if other is not None:  # the same spend outside the budget's scope
                self.add(f"{title}: another scope's spend: silent", spend(2 * b.usd, other),
                         [(f"{hours + for_h + 2}h", rule["alert"], [])], "1h")
        self.long = False

    def slo(self, s_only: dict[str, str]) -> None:
        """Burn rates: the share of bad calls, steady, so every window sees the same ratio."""
        cfg = self.cfg
        slo = cfg.alerts.slo
        rules = {r["alert"]: r for r in slo_alert_rules(cfg)}
        page_factor = max(f for *_, f, page in BURN_WINDOWS if page)
        slow_factor = max(f for *_, f, page in BURN_WINDOWS if not page)
        min_page = min(f for *_, f, page in BURN_WINDOWS if page)
        ok_s = 0.004
        for kind, objective, match in (("availability", slo.availability_objective, slo.availability_match),
                                       ("latency", slo.latency_objective, slo.latency_match)):
            if objective is None:
                continue
            found = next(((op, inf) for op, inf in OP_LABEL_SETS if matches(match, {"op": op, "infer": inf})), None)
            if found is None:
                continue
            op, infer = found
            budget = 1 - objective
            shares = {"Fast": min(1.0, 1.4 * page_factor * budget),
                      "Slow": (slow_factor + min_page) / 2 * budget}  # ticket, but below every page factor
            quiet = 0.5 * budget

            def calls(share: float, total: float = 10000, kind: str = kind, op: str = op,
                      infer: str = infer) -> list[dict[str, str]]:
                bad = share * total
                if kind == "availability":
                    series = histogram({ok_s: total}, errors_per_min=bad, op=op, infer=infer, extra=self.extra)
                else:
                    slow_bucket = bucket_above(slo.latency_threshold_ms / 1000)
                    series = histogram({mid(slow_bucket): bad, ok_s: total - bad}, op=op, infer=infer,
                                       extra=self.extra)
                return _with_service(series, self.service)

            for speed, share in shares.items():
                name = f"Mem0{kind.capitalize()}SLOBurnRate{speed}"
                self.standard(name, rules[name], calls(share), calls(quiet), calls(0, total=0), s_only, share)


def _satisfying(value: str) -> str:
    """A label value a config matcher accepts (for the synthetic series)."""
    from memlens.alerts.model import split_matcher

    op, body = split_matcher(value)
    if op == "=":
        return body
    for candidate in (body.split("|")[0].replace(".*", "x").replace("\\", ""), "x", "prod", "other-1"):
        if matches({"v": value}, {"v": candidate}):
            return candidate
    raise ValueError(f"no simple label value satisfies the matcher {value!r}; write the promtool cases by hand")


def _with_service(series: list[dict[str, str]], service: str) -> list[dict[str, str]]:
    if service == SERVICE:
        return series
    return [{**s, "series": s["series"].replace(f'service="{SERVICE}"', f'service="{service}"')} for s in series]


# libyaml's emitter when PyYAML has it: the same bytes as the pure-Python one (tests/test_alerts_export.py), ~6x faster
# on the 160 kB minute-evaluated file (0.66 -> 0.10 s: the Alerts page renders it on its first visit)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
HEADER = ("# Generated by memlens from the config (`memlens export all`): promtool unit tests of the generated rules.\n"
          "# Run: promtool test rules {name}\n")


def render_tests(cfg: Config, rule_file: str) -> dict[str, str]:
    """{file name: promtool test file}: minute-evaluated cases and hour-evaluated day/week-window cases."""
    minute, hour = Cases(cfg).build()
    # Recording rules first at every evaluation time, as the file lists them (promtool's order is otherwise
    # random, and an alert reading an hour-old recorded sample sees nothing after the 5 m lookback).
    order = [g["name"] for g in rule_groups(cfg)["groups"]]
    docs = {"alert-rules.test.yaml": ("1m", minute), "alert-rules-long.test.yaml": ("1h", hour)}
    return {name: HEADER.format(name=name) + yaml.dump(
                {"rule_files": [rule_file], "evaluation_interval": every, "group_eval_order": order, "tests": tests},
                Dumper=DUMPER, sort_keys=False, width=4096)
            for name, (every, tests) in docs.items()}
