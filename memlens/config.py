"""Typed configuration: `defaults.yaml` (documented, from the reference) overlaid with the user's file."""

from __future__ import annotations

import os
import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from memlens import paths
from memlens.resources import read_text


class _Strict(BaseModel):
    # allow_inf_nan=False: YAML's .inf / .nan are refused everywhere (a budget of .inf makes an alert that can
    # never fire, a NaN target compares false with everything), with the key named in the error.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


NonNegative = Annotated[float, Field(ge=0)]  # prices: 0 = free, never negative
Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class WarehouseCfg(_Strict):
    path: str | None = None
    url: str | None = None  # duckdb:///file, clickhouse://user@host:8123/db, chdb:///folder (memlens.backend)
    password_env: str | None = None  # the environment variable holding a ClickHouse password (never the password)


class CostPer1k(_Strict):
    platform: float = Field(ge=0)
    oss: float = Field(ge=0)


class Targets(_Strict):
    latency_avg_ms: float = Field(gt=0)
    latency_p95_ms: float = Field(gt=0)
    latency_p99_ms: float = Field(gt=0)
    cache_hit_rate: float = Field(ge=0, le=1)
    cache_miss_penalty: float = Field(gt=0)
    cost_per_1k_queries_usd: CostPer1k
    storage_growth_per_month: float = Field(ge=0)
    embedding_cost_share: float = Field(ge=0, le=1)
    cpu_avg: float = Field(ge=0, le=1)
    memory_avg: float = Field(ge=0, le=1)


class Thresholds(_Strict):
    slow_op_ms: float = Field(gt=0)
    slow_op_share: float = Field(ge=0, le=1)
    p99_ms: float = Field(gt=0)
    avg_ms: float = Field(gt=0)
    p95_ms: float = Field(gt=0)
    error_rate: float = Field(ge=0, le=1)
    cache_hit_rate_min: float = Field(ge=0, le=1)
    storage_growth_per_week: float = Field(ge=0)
    daily_budget_usd: float = Field(ge=0)
    monthly_budget_usd: float = Field(ge=0)
    low_cache_bands: tuple[float, float, float]

    @model_validator(mode="after")
    def _bands_ordered(self) -> Thresholds:
        if not 0 <= self.low_cache_bands[0] < self.low_cache_bands[1] < self.low_cache_bands[2] <= 1:
            raise ValueError("low_cache_bands must be increasing rates between 0 and 1")
        return self


class LlmPrice(_Strict):
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    # prompt tokens the provider served from its prompt cache (op-log llm_cached_input_tokens); None = billed at
    # the input rate
    cached_input: float | None = Field(default=None, ge=0)


class Prices(_Strict):
    embedding: dict[str, NonNegative]
    llm: dict[str, LlmPrice]
    platform_per_call: dict[str, NonNegative]


BudgetPeriod = Literal["1d", "7d", "30d"]  # a UTC day; rolling 7 and 30 days (Prometheus' increase[7d] / [30d])


class BudgetScope(_Strict):
    """Whose spend a budget caps: the calls of this service / user / agent (all set ones must match); none set =
    the whole team. Values are matched against the ids as the op log records them (hashed when
    instrumentation.hash_user_ids is on)."""

    service: str | None = Field(default=None, min_length=1)
    user: str | None = Field(default=None, min_length=1)
    agent: str | None = Field(default=None, min_length=1)


class BudgetCfg(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")  # a Prometheus label value and a file-safe id
    scope: BudgetScope = BudgetScope()
    period: BudgetPeriod
    usd: float = Field(ge=0, allow_inf_nan=False)


class InstrumentationCfg(_Strict):
    service: str
    log_dir: str | None = None
    rotate_bytes: int = Field(gt=0)
    flush_every: int = Field(gt=0)
    flush_seconds: float = Field(gt=0)
    store_query_text: bool = False
    hash_user_ids: bool = False


class CollectorCfg(_Strict):
    max_line_bytes: int = Field(gt=0)
    batch_lines: int = Field(gt=0)
    read_bytes: int = Field(gt=0)
    max_latency_ms: float = Field(gt=0)
    max_future_seconds: float = Field(ge=0)
    min_ts: date
    sqlite_timeout_seconds: float = Field(ge=0)
    warehouse_wait_seconds: float = Field(ge=0)
    snapshot_max_memories: int = Field(gt=0)
    platform_page_size: int = Field(gt=0)


class DashboardCfg(_Strict):
    amber_margin: float = Field(gt=0)
    latency_variance_ratio: float = Field(gt=1)
    phase_dominant_share: float = Field(gt=0, le=1)
    vector_search_growth: float = Field(gt=0)
    demo_when_empty: bool
    exact_percentile_max_events: int = Field(ge=0)


_DURATION = r"^([0-9]+(ms|s|m|h|d|w|y))+$"  # a Prometheus duration


class PrometheusCfg(_Strict):
    url: str
    timeout_s: float = Field(gt=0)
    deadline_s: float = Field(gt=0)
    lookback: str = Field(pattern=_DURATION)
    retries: int = Field(ge=0)
    verify_tls: bool = True
    auth_header_env: str | None = None
    window: str = Field(pattern=_DURATION)
    step: str = Field(pattern=_DURATION)
    process_job: str | None = None
    vector_points_metric: str | None = Field(default=None, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class PlatformCfg(_Strict):
    url: str
    api_key_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    service: str
    page_size: int = Field(gt=0, le=1000)
    timeout_s: float = Field(gt=0)
    retries: int = Field(ge=0)
    backoff_s: float = Field(ge=0)
    max_wait_s: float = Field(ge=0)
    run_deadline_s: float = Field(gt=0)
    max_pages: int = Field(gt=0)
    overlap_s: float = Field(ge=0)


# Label names and PromQL matchers of the alert selectors: `value` (equality) or `=value`, `!=value`, `=~regex`,
# `!~regex` (RE2, anchored like Prometheus).
_LABEL = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
_MATCHER = re.compile(r"^(=~|!~|!=|=)?(.*)$", re.DOTALL)
# Labels of the memlens operation metrics a scope can match (the op log has the same two fields).
OP_LABELS = ("op", "infer")


def _label_value(value: Any) -> Any:
    """YAML reads `infer: true` as a boolean; label values are text ("true", as the metrics write it)."""
    return str(value).lower() if isinstance(value, bool) else value


Matchers = dict[str, Annotated[str, BeforeValidator(_label_value)]]


def _check_matchers(matchers: dict[str, str], allowed: tuple[str, ...] | None = None) -> dict[str, str]:
    for label, value in matchers.items():
        if not re.match(_LABEL, label) or label.startswith("__"):
            raise ValueError(f"{label!r} is not a Prometheus label name")
        if allowed is not None and label not in allowed:
            raise ValueError(f"{label!r}: a scope matches on {', '.join(allowed)} only")
        op, body = _MATCHER.match(value).groups()  # type: ignore[union-attr]
        if op in ("=~", "!~"):
            try:
                re.compile(body)
            except re.error as exc:
                raise ValueError(f"{label}: bad regex {body!r}: {exc}") from exc
    return matchers


class AlertScopeCfg(_Strict):
    """The calls one set of per-operation alerts covers (label matchers) and their thresholds.

    A threshold left out is the `thresholds:` value of the same name; `null` means no such alert for this scope.
    """

    match: Matchers
    p99_ms: float | None = Field(default=None, gt=0)
    p95_ms: float | None = Field(default=None, gt=0)
    avg_ms: float | None = Field(default=None, gt=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    slow_op_ms: float | None = Field(default=None, gt=0)
    slow_op_share: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _labels(self) -> AlertScopeCfg:
        _check_matchers(self.match, OP_LABELS)
        return self


class AlertRuleCfg(_Strict):
    severity: Literal["critical", "warning", "info"]
    for_: str = Field(alias="for", pattern=_DURATION)
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _label_names(self) -> AlertRuleCfg:
        _check_matchers(dict.fromkeys(self.labels, ""))
        return self


class AlertRulesCfg(_Strict):
    """Severity, `for:` and extra labels of each threshold alert (the SLO alerts: `alerts.slo`)."""

    p99_latency: AlertRuleCfg
    p95_latency: AlertRuleCfg
    avg_latency: AlertRuleCfg
    error_rate: AlertRuleCfg
    slow_share: AlertRuleCfg
    cache_hit_rate: AlertRuleCfg
    daily_cost: AlertRuleCfg
    storage_growth: AlertRuleCfg
    # every budget of `budgets:` (alerts Mem0CostOverBudget, one per budget)
    budget: AlertRuleCfg = Field(default_factory=lambda: AlertRuleCfg(severity="warning", **{"for": "15m"}))


class SloCfg(_Strict):
    availability_objective: float | None = Field(default=None, gt=0, lt=1)
    availability_match: Matchers = Field(default_factory=dict)
    latency_objective: float | None = Field(default=None, gt=0, lt=1)
    latency_threshold_ms: float = Field(gt=0)
    latency_match: Matchers = Field(default_factory=dict)
    page_for: str = Field(pattern=_DURATION)
    ticket_for: str = Field(pattern=_DURATION)

    @model_validator(mode="after")
    def _labels(self) -> SloCfg:
        _check_matchers(self.availability_match, OP_LABELS)
        _check_matchers(self.latency_match, OP_LABELS)
        return self


class AlertExportCfg(_Strict):
    """Where the files of `memlens export all` go, as the files themselves say it."""

    grafana_folder: str
    grafana_dashboards_path: str
    prometheus_rule_name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    prometheus_rule_namespace: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    prometheus_rule_labels: dict[str, str] = Field(default_factory=dict)


class AlertsCfg(_Strict):
    rate_window: str = Field(pattern=_DURATION)
    evaluation_interval: str = Field(pattern=_DURATION)
    runbook_base_url: str
    selector: Matchers = Field(default_factory=dict)
    keep_labels: tuple[str, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    scopes: dict[str, AlertScopeCfg | None]  # null removes a default scope
    rules: AlertRulesCfg
    slo: SloCfg
    export: AlertExportCfg

    @field_validator("runbook_base_url")
    @classmethod
    def _absolute(cls, url: str) -> str:
        # Alertmanager and Grafana open runbook_url as is: a relative path is a dead link there.
        if not re.match(r"^https?://[^\s/?#]+[^\s#]*$", url):
            raise ValueError(f"must be an absolute http(s) URL without #fragment (the runbook page), got {url!r}")
        return url

    @model_validator(mode="after")
    def _labels(self) -> AlertsCfg:
        _check_matchers(self.selector)
        _check_matchers(dict.fromkeys((*self.keep_labels, *self.labels), ""))
        clash = {"service", "op", "infer", "le", "severity", "scope"} & {*self.keep_labels, *self.labels}
        if clash:
            raise ValueError(f"labels {sorted(clash)} are set by memlens itself")
        for name in self.scopes:
            if not re.match(r"^[a-z][a-z0-9_]*$", name):
                raise ValueError(f"scope name {name!r}: lower-case letters, digits and _ only")
        return self


class OptimizeCacheCfg(_Strict):
    ttl_grid_s: tuple[Positive, ...]
    recommended_ttl_s: float = Field(gt=0)
    max_entries: int | None = Field(default=10_000, gt=0)
    lru_sizes: tuple[PositiveInt, ...]
    hit_latency_ms: float | None = Field(default=None, ge=0)
    assumed_hit_latency_ms: float = Field(ge=0)


class OptimizeLimitCfg(_Strict):
    recommended_top_k: int = Field(gt=0)


class OptimizeBatchingCfg(_Strict):
    window_s: float = Field(gt=0)


class OptimizeRerankCfg(_Strict):
    simple_max_top_k: int = Field(gt=0)


class OptimizeEmbeddingCfg(_Strict):
    switch_to: str
    dims: dict[str, PositiveInt]
    default_dims: int = Field(gt=0)


class OptimizeLlmCfg(_Strict):
    # the extraction LLM a switch is projected to; None = the cheapest of prices.llm for the logged token mix
    switch_to: str | None = None
    # "LLM costs high?" of the cost decision tree: the LLM's share of all cost above this
    cost_share_high: float = Field(default=0.40, gt=0, le=1)


class OptimizeDedupCfg(_Strict):
    merge_threshold: float = Field(gt=0, le=1)
    review_threshold: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> OptimizeDedupCfg:
        if self.review_threshold > self.merge_threshold:
            raise ValueError("review_threshold must be <= merge_threshold")
        return self


class OptimizePruningCfg(_Strict):
    stale_days: float = Field(gt=0)
    score_threshold: float


class TierPrices(_Strict):
    active: float = Field(ge=0)
    archive: float = Field(ge=0)
    cold: float = Field(ge=0)


class OptimizeArchivalCfg(_Strict):
    active_days: float = Field(gt=0)
    archive_days: float = Field(gt=0)
    archive_compression: float = Field(gt=0, le=1)
    usd_per_gb_month: TierPrices

    @model_validator(mode="after")
    def _ordered(self) -> OptimizeArchivalCfg:
        if self.active_days >= self.archive_days:
            raise ValueError("active_days must be < archive_days")
        return self


class OptimizeVectorStoreCfg(_Strict):
    horizon_months: float = Field(gt=0)
    prototype_max_vectors: int = Field(gt=0)
    pgvector_max_vectors: int = Field(gt=0)
    enterprise_min_vectors: int = Field(gt=0)
    traffic_ops_per_s: tuple[Positive, Positive]
    pool_sizes: tuple[PositiveInt, PositiveInt, PositiveInt]
    hnsw_m: int = Field(gt=0)
    hnsw_ef_construct: int = Field(gt=0)
    quantile: float = Field(gt=0, le=1)


class OptimizeForecastCfg(_Strict):
    bootstrap_samples: int = Field(gt=0)
    interval: float = Field(gt=0, lt=1)
    min_days: int = Field(gt=0)


class OptimizeCfg(_Strict):
    cache: OptimizeCacheCfg
    limit: OptimizeLimitCfg
    batching: OptimizeBatchingCfg
    rerank: OptimizeRerankCfg
    embedding: OptimizeEmbeddingCfg
    llm: OptimizeLlmCfg = Field(default_factory=OptimizeLlmCfg)
    dedup: OptimizeDedupCfg
    pruning: OptimizePruningCfg
    archival: OptimizeArchivalCfg
    vector_store: OptimizeVectorStoreCfg
    forecast: OptimizeForecastCfg


class Config(_Strict):
    warehouse: WarehouseCfg
    targets: Targets
    thresholds: Thresholds
    prices: Prices
    ttl_guidelines: dict[str, tuple[PositiveInt, PositiveInt]]
    instrumentation: InstrumentationCfg
    collector: CollectorCfg
    dashboard: DashboardCfg
    prometheus: PrometheusCfg
    platform: PlatformCfg
    alerts: AlertsCfg
    optimize: OptimizeCfg
    budgets: tuple[BudgetCfg, ...] = ()

    @model_validator(mode="after")
    def _budget_names_unique(self) -> Config:
        seen: set[str] = set()
        for b in self.budgets:
            if b.name in seen:
                raise ValueError(f"budgets: the name {b.name!r} is used twice (each budget needs its own name)")
            seen.add(b.name)
        return self

    @model_validator(mode="after")
    def _ranges(self) -> Config:
        for name, (low, high) in self.ttl_guidelines.items():
            if low > high:
                raise ValueError(f"ttl_guidelines.{name}: [min, max] with min <= max, got [{low}, {high}]")
        return self

    def warehouse_path(self) -> Path:
        """$MEMLENS_WAREHOUSE (what `--warehouse` sets for the dashboard), else the default."""
        env = os.environ.get("MEMLENS_WAREHOUSE")
        return Path(env).expanduser() if env else self.default_warehouse_path()

    def warehouse_url(self) -> str | Path:
        """The warehouse to use, as memlens.backend names it: $MEMLENS_WAREHOUSE, else `warehouse.url`, else the
        DuckDB file of warehouse_path()."""
        env = os.environ.get("MEMLENS_WAREHOUSE")
        if env:
            return env if "://" in env else Path(env).expanduser()
        if self.warehouse.url:
            return self.warehouse.url
        return self.default_warehouse_path()

    def default_warehouse_path(self) -> Path:
        """`warehouse.path` of the config, else `<user data dir>/memlens.duckdb`: the warehouse the dashboard may
        fill with the demo on its first start (an explicit path never gets it unasked: a typo stays a typo)."""
        if self.warehouse.path:
            return Path(self.warehouse.path).expanduser()
        return paths.data_dir() / "memlens.duckdb"

    def log_dir(self) -> Path:
        if self.instrumentation.log_dir:
            return Path(self.instrumentation.log_dir).expanduser()
        return paths.data_dir() / "oplogs"


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the field."""


# Label sets are replaced whole, never merged: a scope's `match: {op: add}` must not keep a default `infer`.
_REPLACED = frozenset({"match", "selector", "availability_match", "latency_match", "labels", "prometheus_rule_labels"})


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: a user's price table adds or overrides models instead of replacing the table."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in _REPLACED:
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _parse_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: top level must be a mapping, got {type(data).__name__}")
    return data


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    return _parse_yaml(text, str(path))


def defaults_text() -> str:
    """The documented defaults (`memlens/defaults.yaml`, shipped in the package)."""
    return read_text(__package__, "defaults.yaml")


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults, then the file at `path` (or $MEMLENS_CONFIG), then `overrides`, validated."""
    data = _parse_yaml(defaults_text(), "memlens/defaults.yaml")
    source = "defaults"
    path = path or os.environ.get("MEMLENS_CONFIG")
    if path:
        data = _merge(data, _read_yaml(Path(path)))
        source = str(path)
    if overrides:
        data = _merge(data, overrides)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            ": ".join(filter(None, [".".join(str(p) for p in err["loc"]), err["msg"].removeprefix("Value error, ")]))
            for err in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from exc


@cache
def default_config() -> Config:
    return load_config()
