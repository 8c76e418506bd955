"""Generated histories for the backtest tests: one set of calls, loaded as op-log rows into a warehouse AND written
as the Prometheus counters the instrumentation would have exported (scraped every minute), so that the
backtest and `promtool test rules` see the same history.

Times start at the Unix epoch: promtool's unit tests start there, and so do the backtest's evaluation steps.
A call at t counts in the first sample at or after t (the sample at minute m holds the calls of (m - 1, m]).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import yaml
from prometheus_client.utils import floatToGoString
from view_support import EVENT_COLUMNS, event

from memlens.alerts import promql
from memlens.alerts.backtest import Backtest
from memlens.alerts.model import threshold_alerts
from memlens.alerts.rules import rule_groups, slo_alert_rules, threshold_rule
from memlens.config import Config

EPOCH = datetime(1970, 1, 1)
EMBEDDING_MODEL = "text-embedding-3-large"


def calls(minutes: int, seed: int) -> list[dict[str, Any]]:
    """Calls of two services over `minutes`: a search latency incident, an error burst, a cache slump, LLM adds
    taking seconds, steady embedding spend and memories created by adds."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []

    def add(service: str, op: str, rate: float, median_ms: float, sigma: float, infer: bool | None = None,
            error_share=lambda m: 0.01, slow_factor=lambda m: 1.0, hit_share=None, tokens: int = 0,
            creates: int = 0) -> None:
        for m in range(minutes):
            for _ in range(rng.poisson(rate)):
                ts = EPOCH + timedelta(minutes=m, seconds=float(rng.uniform(0.001, 59.999)))
                lat = float(rng.lognormal(math.log(median_ms), sigma)) * slow_factor(m)
                fields: dict[str, Any] = {"service": service, "infer": infer}
                fields["status"] = "error" if rng.random() < error_share(m) else "ok"
                if fields["status"] == "error":
                    fields["error_type"] = "TimeoutError"
                if hit_share is not None:
                    fields["cache"] = "hit" if rng.random() < hit_share(m) else "miss"
                if tokens:
                    fields.update(embedding_model=EMBEDDING_MODEL, embedding_tokens=int(rng.integers(tokens // 2,
                                                                                                     tokens)))
                if creates and fields["status"] == "ok":
                    fields["memories_created"] = int(rng.integers(1, creates + 1))
                rows.append(event(ts, op=op, latency_ms=round(lat, 3), **fields))

    add("shop", "search", 6, 60, 0.6, slow_factor=lambda m: 8.0 if 120 <= m < 160 else 1.0,
        error_share=lambda m: 0.25 if 240 <= m < 255 else 0.01,
        hit_share=lambda m: 0.15 if 300 <= m < 360 else 0.45, tokens=400)
    add("shop", "add", 2, 1500, 0.4, infer=True, tokens=3000, creates=2)
    add("shop", "add", 2, 80, 0.5, infer=False, tokens=600, creates=1)
    add("shop", "get", 1, 20, 0.5, error_share=lambda m: 0.4 if 390 <= m < 405 else 0.0)
    add("ingest", "search", 2, 90, 0.5, hit_share=lambda m: 0.6, tokens=400)
    add("ingest", "add", 1, 70, 0.5, infer=False, tokens=800, creates=1)
    return rows


def load(con, rows: list[dict[str, Any]]) -> None:
    """Insert the rows in one statement (executemany takes seconds for thousands of rows)."""
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)  # noqa: F841 - read by DuckDB's replacement scan
    cols = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
    con.execute(f"INSERT INTO raw_op_events ({cols}) SELECT {cols} FROM frame")


def _step(ts: datetime, step_s: float) -> int:
    return math.ceil((ts - EPOCH).total_seconds() / step_s)


def _counter(per_step: np.ndarray) -> str:
    return " ".join(floatToGoString(float(v)) if float(v).is_integer() else repr(float(v))
                    for v in np.cumsum(per_step))


def series(rows: list[dict[str, Any]], steps: int, step_s: float = 60.0) -> list[dict[str, str]]:
    """The instrumentation's counters for `rows`, one sample per step from 0 to `steps`, every series from 0."""
    df = pd.DataFrame(rows)
    df["k"] = np.ceil((df["ts"] - EPOCH).dt.total_seconds() / step_s).astype(int)
    df = df[df["k"] <= steps]
    df["infer_label"] = ["" if v is None or pd.isna(v) else ("true" if v else "false") for v in df["infer"]]
    df["seconds"] = df["latency_ms"] / 1000
    out: list[dict[str, str]] = []

    def labels(**kv: str) -> str:
        return "{" + ",".join(f'{k}="{v}"' for k, v in kv.items() if v != "") + "}"

    def emit(name: str, lab: str, ks: np.ndarray, weights: np.ndarray) -> None:
        per_step = np.bincount(ks, weights=weights, minlength=steps + 1)
        out.append({"series": name + lab, "values": _counter(per_step)})

    for (service, op, status, infer), g in df.groupby(["service", "op", "status", "infer_label"], sort=True):
        base = {"service": service, "mode": "oss", "op": op, "call_mode": "sync", "status": status, "infer": infer}
        ks = g["k"].to_numpy()
        for le in [*promql.DURATION_BUCKETS_S, math.inf]:
            emit(f"{promql.DURATION}_bucket", labels(**base, le=floatToGoString(le)), ks,
                 (g["seconds"].to_numpy() <= le).astype(float))
        emit(f"{promql.DURATION}_count", labels(**base), ks, np.ones(len(g)))
        emit(f"{promql.DURATION}_sum", labels(**base), ks, g["seconds"].to_numpy())
        emit(promql.OPERATIONS, labels(**base), ks, np.ones(len(g)))
    cached = df[df["cache"].notna()]
    for (service, op, outcome), g in cached.groupby(["service", "op", "cache"], sort=True):
        emit(promql.CACHE, labels(service=service, op=op, outcome=outcome), g["k"].to_numpy(), np.ones(len(g)))
    tok = df[df["embedding_tokens"].fillna(0) > 0]
    for (service, model), g in tok.groupby(["service", "embedding_model"], sort=True):
        emit(promql.TOKENS, labels(service=service, kind="embedding", model=model), g["k"].to_numpy(),
             g["embedding_tokens"].to_numpy(float))
    made = df[df["memories_created"].fillna(0) > 0]
    for service, g in made.groupby("service", sort=True):
        emit(promql.CHANGES, labels(service=service, event="add"), g["k"].to_numpy(),
             g["memories_created"].to_numpy(float))
    return out


def rules_without_annotations(cfg: Config) -> str:
    """The rule file minus annotations: firing does not depend on them, and promtool then compares labels only."""
    doc = rule_groups(cfg)
    for g in doc["groups"]:
        for r in g["rules"]:
            r.pop("annotations", None)
    return yaml.safe_dump(doc, sort_keys=False, width=4096)


def _rule_labels(cfg: Config) -> dict[str, dict[str, str]]:
    """{backtest rule key: the labels the alert rule adds}."""
    out = {a.key: threshold_rule(cfg, a)["labels"] for a in threshold_alerts(cfg)}
    out.update({r["alert"]: r["labels"] for r in slo_alert_rules(cfg)})
    return out


def firing_at(bt: Backtest, cfg: Config, t: datetime) -> dict[str, list[dict[str, Any]]]:
    """{alert name: the alerts the backtest says are firing at t, as promtool's exp_alerts}."""
    extra = _rule_labels(cfg)
    slow_le = {a.key: promql.le_for_ms(a.slow_op_ms, "slow_op_ms") for a in threshold_alerts(cfg) if a.slow_op_ms}
    out: dict[str, list[dict[str, Any]]] = {}
    for r in bt.rules:
        for e in r.fired:
            if e.fired_at <= t and (e.resolved_at is None or t < e.resolved_at):
                labels = {**dict(e.labels), **({"le": slow_le[r.key]} if r.key in slow_le else {}), **extra[r.key]}
                out.setdefault(r.alert, []).append({"exp_labels": labels})
    return out


def promtool_file(bt: Backtest, cfg: Config, rows: list[dict[str, Any]], steps: int, step_s: float,
                  rule_file: str, check_every: int = 1) -> str:
    """A promtool test asserting, at every `check_every`-th evaluation, exactly the alerts the backtest has firing."""
    names = sorted({r.alert for r in bt.rules})
    unit = "m" if step_s == 60 else "h"
    per = int(step_s / 60) if unit == "m" else int(step_s / 3600)
    checks = []
    for k in range(1, steps + 1, check_every):
        t = EPOCH + timedelta(seconds=k * step_s)
        firing = firing_at(bt, cfg, t)
        checks += [{"eval_time": f"{k * per}{unit}", "alertname": n, "exp_alerts": firing.get(n, [])} for n in names]
    order = [g["name"] for g in rule_groups(cfg)["groups"]]
    every = f"{per}{unit}"
    doc = {"rule_files": [rule_file], "evaluation_interval": every, "group_eval_order": order,
           "tests": [{"interval": every, "input_series": series(rows, steps, step_s), "alert_rule_test": checks}]}
    return json.dumps(doc, indent=0)  # JSON is YAML to promtool, and much faster to write than yaml.dump
