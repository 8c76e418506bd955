"""The Alerts page's edited config: tables to edit, edits back into a config, kept in a file until discarded.

The draft IS the downloadable config file (`export.render_config`): the page's config is
`load_config(None, overrides=<draft>)`, which is exactly what `memlens export all --config <draft>` loads, so the
page's downloads and that command's files are the same bytes. Plain Python (no Streamlit): tested directly.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from memlens import paths
from memlens.alerts.export import render_config
from memlens.alerts.model import KINDS, threshold_alerts
from memlens.config import Config, ConfigError, load_config

FILE = "alerts-draft.yaml"
SCOPED_FIELDS = ("p99_ms", "p95_ms", "avg_ms", "error_rate", "slow_op_share")  # one per per-operation kind
PERCENT = frozenset({"error_rate", "slow_op_share", "cache_hit_rate_min", "storage_growth_per_week"})
OFF = None  # an empty threshold cell: no such alert for the scope


def draft_path() -> Path:
    return paths.data_dir() / FILE


def read(path: Path | None = None) -> dict[str, Any] | None:
    """The kept draft, or None (no draft, or one that is not a mapping)."""
    path = path or draft_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def write(cfg: Config, path: Path | None = None) -> str:
    """Keep the config as the draft (the same text as the download); returns the text."""
    path = path or draft_path()
    text = render_config(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a file
    return text


def discard(path: Path | None = None) -> None:
    (path or draft_path()).unlink(missing_ok=True)


def config(draft: dict[str, Any] | None, base: Config) -> Config:
    """The config the page shows and exports: the draft over the defaults, or the dashboard's own config."""
    return base if draft is None else load_config(None, overrides=draft)


def as_dict(cfg: Config) -> dict[str, Any]:
    return yaml.safe_load(render_config(cfg))


# ---- tables -----------------------------------------------------------------------------------------------------
def _shown(field: str, value: float | None) -> float | None:
    """Config value → table cell (ratios as %)."""
    if value is None:
        return None
    return round(value * 100, 6) if field in PERCENT else value


def _stored(field: str, cell: Any) -> float | None:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell == "":
        return None
    value = float(cell)
    return value / 100 if field in PERCENT else value


def unit(field: str) -> str:
    return "%" if field in PERCENT else "USD" if field == "daily_budget_usd" else "ms"


def scope_table(cfg: Config) -> pd.DataFrame:
    """One row per scope: its name, the op / infer matchers, and the latency that counts as slow."""
    rows = []
    for name, sc in cfg.alerts.scopes.items():
        if sc is None:
            continue
        slow = sc.slow_op_ms if "slow_op_ms" in sc.model_fields_set else cfg.thresholds.slow_op_ms
        rows.append({"scope": name, "op": sc.match.get("op", ""), "infer": sc.match.get("infer", ""),
                     "slow_op_ms": slow})
    return pd.DataFrame(rows, columns=["scope", "op", "infer", "slow_op_ms"])


def threshold_table(cfg: Config) -> pd.DataFrame:
    """One row per possible rule (every per-operation kind in every scope, then the service-wide kinds) with its
    threshold in the table's unit; an empty threshold = the rule is off."""
    rows = []
    for kind in KINDS:
        if kind.scoped:
            for name, sc in cfg.alerts.scopes.items():
                if sc is None:
                    continue
                value = getattr(sc, kind.field) if kind.field in sc.model_fields_set else \
                    getattr(cfg.thresholds, kind.field)
                rows.append({"rule": f"{kind.key}@{name}", "alert": kind.title, "scope": name,
                             "when": ">" if kind.above else "<", "threshold": _shown(kind.field, value),
                             "unit": unit(kind.field)})
        else:
            rows.append({"rule": kind.key, "alert": kind.title, "scope": "(per service)",
                         "when": ">" if kind.above else "<",
                         "threshold": _shown(kind.field, getattr(cfg.thresholds, kind.field)),
                         "unit": unit(kind.field)})
    return pd.DataFrame(rows, columns=["rule", "alert", "scope", "when", "threshold", "unit"])


def labels_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items())


def parse_labels(text: str, what: str) -> dict[str, str]:
    """`team=mem0, page=no` → {"team": "mem0", "page": "no"}."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", part)
        if not m:
            raise ConfigError(f"{what}: {part!r} is not label=value")
        out[m.group(1)] = m.group(2).strip()
    return out


def parse_matchers(text: str, what: str) -> dict[str, str]:
    """`environment="prod", service=~"chat-.*"` (PromQL style, quotes optional) → config matchers."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*\"?(.*?)\"?", part)
        if not m:
            raise ConfigError(f"{what}: {part!r} is not a label matcher like environment=\"prod\"")
        name, op, value = m.groups()
        out[name] = value if op == "=" else op + value
    return out


def matchers_text(matchers: dict[str, str]) -> str:
    from memlens.alerts.model import split_matcher

    return ", ".join(f'{k}{split_matcher(v)[0]}"{split_matcher(v)[1]}"' for k, v in matchers.items())


def kind_table(cfg: Config) -> pd.DataFrame:
    """One row per kind of threshold alert: its Prometheus name, severity, for: and extra labels."""
    rows = []
    for kind in KINDS:
        rule = getattr(cfg.alerts.rules, kind.key)
        rows.append({"kind": kind.key, "alert": kind.alert, "severity": rule.severity, "for": rule.for_,
                     "labels": labels_text(rule.labels)})
    return pd.DataFrame(rows, columns=["kind", "alert", "severity", "for", "labels"])


# ---- edits → config ---------------------------------------------------------------------------------------------
def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def apply(cfg: Config, scopes: pd.DataFrame, thresholds: pd.DataFrame, kinds: pd.DataFrame,
          settings: dict[str, Any]) -> Config:
    """The edited tables and settings as a new config (raises ConfigError/ValueError naming what is wrong).

    A threshold equal to what the scope had keeps its origin (a value that follows `thresholds:` keeps
    following it); an edited one becomes the scope's own; an emptied one turns the rule off.
    """
    d = as_dict(cfg)
    a = d["alerts"]
    old_scopes = {k: v for k, v in (a.get("scopes") or {}).items() if v is not None}
    new_scopes: dict[str, Any] = {}
    for row in scopes.to_dict("records"):
        name = str(row.get("scope") or "").strip()
        if not name:
            continue
        if name in new_scopes:
            raise ConfigError(f"alerts.scopes: {name!r} appears twice")
        match = {k: str(row.get(k) or "").strip() for k in ("op", "infer")}
        sc = dict(old_scopes.get(name, {}))
        sc["match"] = {k: v for k, v in match.items() if v}
        slow = _stored("slow_op_ms", row.get("slow_op_ms"))
        if not _same(slow, sc.get("slow_op_ms", cfg.thresholds.slow_op_ms)):
            sc["slow_op_ms"] = slow
        new_scopes[name] = sc
    by_rule = {r["rule"]: r for r in thresholds.to_dict("records")}
    old = threshold_table(cfg).set_index("rule")
    for kind in KINDS:
        if kind.scoped:
            for name, sc in new_scopes.items():
                row = by_rule.get(f"{kind.key}@{name}")
                if row is None:
                    continue
                value = _stored(kind.field, row.get("threshold"))
                before = old["threshold"].get(f"{kind.key}@{name}") if f"{kind.key}@{name}" in old.index else "new"
                if before == "new" or not _same(value, _stored(kind.field, before)):
                    sc[kind.field] = value
        else:
            row = by_rule.get(kind.key)
            value = _stored(kind.field, row.get("threshold")) if row else getattr(cfg.thresholds, kind.field)
            if value is None:
                raise ConfigError(f"thresholds.{kind.field}: the {kind.title} alert needs a threshold")
            d["thresholds"][kind.field] = value
    a["scopes"] = {**new_scopes, **{n: None for n in old_scopes if n not in new_scopes}}
    for row in kinds.to_dict("records"):
        rule = {"severity": row["severity"], "for": str(row["for"]).strip()}
        labels = parse_labels(row.get("labels") or "", f"alerts.rules.{row['kind']}")
        if labels:  # none = the defaults' none (the draft is read over the defaults)
            rule["labels"] = labels
        a["rules"][row["kind"]] = rule
    for key, value in settings.items():  # dotted paths: "alerts.slo.page_for", "thresholds.monthly_budget_usd"
        node = d
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        old_value = node.get(leaf)
        numbers = isinstance(value, int | float) and isinstance(old_value, int | float)
        if numbers and _same(float(value), float(old_value)):
            continue  # a percent shown and read back (99.9 % → 0.999) is the same number, not an edit
        node[leaf] = value
    new = load_config(None, overrides=d)
    threshold_alerts(new)  # overlapping scopes: a clear error now, not at download time
    return new
