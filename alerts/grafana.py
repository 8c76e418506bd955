"""Grafana dashboard JSON for the memlens metrics, built with grafana-foundation-sdk.

The queries come from alerts/promql.py (the same PromQL as the rule file) filtered by the
`$service` / `$op` variables, over raw metrics so the dashboard works without the rule file.
Alert thresholds from the config are drawn as threshold lines. Same config → byte-identical JSON.
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as pq
from grafana_foundation_sdk.builders import timeseries as ts
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from memlens.alerts import promql
from memlens.alerts.model import query_thresholds
from memlens.alerts.rules import STORAGE_PERIOD
from memlens.config import Config

UID = "memlens-mem0"
TITLE = "Mem0 (memlens)"
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
SO = ("service", "op")
S = ("service",)
SEL_SO = 'service=~"$service",op=~"$op"'
SEL_S = 'service=~"$service"'
RATE = "$__rate_interval"


def _thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return (db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE)
            .steps([dm.Threshold(value=v, color=c) for v, c in steps]))


def _above(limit: float) -> db.ThresholdsConfig:
    """Green below, red from `limit` up (latency, error rate, cost, growth)."""
    return _thresholds((None, "green"), (limit, "red"))


def _below(limit: float) -> db.ThresholdsConfig:
    """Red below `limit`, green from it up (cache hit rate)."""
    return _thresholds((None, "red"), (limit, "green"))


def _query(ref: str, expr: str, legend: str) -> pq.Dataquery:
    return pq.Dataquery().ref_id(ref).expr(expr).legend_format(legend).range().datasource(DATASOURCE)


def _panel(title: str, description: str, unit: str, queries: list[pq.Dataquery],
           thresholds: db.ThresholdsConfig | None = None, width: int = 12) -> ts.Panel:
    p = (ts.Panel().title(title).description(description).unit(unit).datasource(DATASOURCE)
         .height(8).span(width).line_width(1).fill_opacity(10).targets(queries)
         .legend(cb.VizLegendOptions().show_legend(True).display_mode(cm.LegendDisplayMode.TABLE)
                 .placement(cm.LegendPlacement.BOTTOM).calcs(["mean", "max", "lastNotNull"])))
    if thresholds is not None:
        p = p.thresholds(thresholds).thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(cm.GraphTresholdsStyleMode.LINE_AND_AREA))
    return p


def _variables() -> list[db.DatasourceVariable | db.QueryVariable]:
    service = (db.QueryVariable("service").label("Service").datasource(DATASOURCE)
               .query(f"label_values({promql.OPERATIONS}, service)")
               .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dm.VariableSort.ALPHABETICAL_ASC)
               .multi(True).include_all(True).all_value(".*"))
    op = (db.QueryVariable("op").label("Operation").datasource(DATASOURCE)
          .query(f'label_values({promql.OPERATIONS}{{service=~"$service"}}, op)')
          .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dm.VariableSort.ALPHABETICAL_ASC)
          .multi(True).include_all(True).all_value(".*"))
    return [db.DatasourceVariable("datasource").label("Prometheus").type("prometheus"), service, op]


def panels(cfg: Config) -> list[tuple[str, list[ts.Panel]]]:
    """(row title, panels) in dashboard order."""
    t, th = query_thresholds(cfg), cfg.thresholds  # latency, slow share, errors: the search scope's thresholds
    latency = [
        _query("A", promql.quantile(0.50, SO, RATE, SEL_SO), "P50 {{op}} ({{service}})"),
        _query("B", promql.quantile(0.95, SO, RATE, SEL_SO), "P95 {{op}} ({{service}})"),
        _query("C", promql.quantile(0.99, SO, RATE, SEL_SO), "P99 {{op}} ({{service}})"),
    ]
    return [
        ("Latency", [
            _panel("Latency percentiles", f"P50/P95/P99 per operation from the histogram. Red from the P99 alert "
                   f"threshold of search ({t.p99_ms:g} ms); the P95 warning is {t.p95_ms:g} ms.", "s", latency,
                   _thresholds((None, "green"), (t.p95_ms / 1000, "orange"), (t.p99_ms / 1000, "red"))),
            _panel("Average latency", f"Mean duration per operation; warning above {t.avg_ms:g} ms.", "s",
                   [_query("A", promql.mean_latency(SO, RATE, SEL_SO), "{{op}} ({{service}})")],
                   _above(t.avg_ms / 1000)),
            _panel("Slow-operation share",
                   f"Share of calls slower than {t.slow_op_ms:g} ms; alert above {t.slow_op_share:.0%}.",
                   "percentunit",
                   [_query("A", promql.slower_than_ratio(
                       promql.le_for_ms(t.slow_op_ms, "slow_op_ms (scope of search)"), SO, RATE, SEL_SO),
                       "{{op}} ({{service}})")],
                   _above(t.slow_op_share)),
        ]),
        ("Traffic and errors", [
            _panel("Throughput", "Operations per second by operation and status.", "ops",
                   [_query("A", promql.ops_rate((*SO, "status"), RATE, SEL_SO), "{{op}} {{status}} ({{service}})")]),
            _panel("Error rate", f"Failed calls / all calls; alert above {t.error_rate:.0%}.", "percentunit",
                   [_query("A", promql.error_ratio(SO, RATE, SEL_SO), "{{op}} ({{service}})")],
                   _above(t.error_rate)),
        ]),
        ("Cache", [
            _panel("Cache hit rate", f"Hits / (hits + misses) of the search cache; alert below "
                   f"{th.cache_hit_rate_min:.0%}, target {cfg.targets.cache_hit_rate:.0%}.", "percentunit",
                   [_query("A", promql.cache_hit_ratio(SO, RATE, SEL_SO), "{{op}} ({{service}})")],
                   _thresholds((None, "red"), (th.cache_hit_rate_min, "orange"),
                               (cfg.targets.cache_hit_rate, "green"))),
        ]),
        ("Tokens and cost", [
            _panel("Tokens", "Tokens per second by kind (embedding, LLM input/output) and model.", "short",
                   [_query("A", promql.token_rate(("service", "kind", "model"), RATE, SEL_S),
                           "{{kind}} {{model}} ({{service}})")]),
            _panel("Cost rate (USD per day)", f"Token and Platform-call spend at the current rate, priced with the "
                   f"config's price table, scaled to a day; red above the daily budget (${th.daily_budget_usd:g}).",
                   "currencyUSD",
                   [_query("A", f"86400 * {promql.cost(cfg, 'rate', S, RATE, SEL_S)}", "{{service}}")],
                   _above(th.daily_budget_usd)),
        ]),
        ("Memory growth", [
            _panel("Memory changes", "Memories added, updated and deleted per second.", "ops",
                   [_query("A", f'sum by (service, event) (rate({promql.CHANGES}{{{SEL_S}}}[{RATE}]))',
                           "{{event}} ({{service}})")]),
            _panel("Stored memories: weekly growth at the current rate",
                   f"(adds - deletes per week at the current rate) / memories stored (counted by the "
                   f"instrumentation); the {STORAGE_PERIOD} alert compares with a week ago, red above "
                   f"{th.storage_growth_per_week:.0%}.", "percentunit",
                   [_query("A", promql.projected_weekly_growth(S, RATE, SEL_S), "{{service}}")],
                   _above(th.storage_growth_per_week)),
        ]),
    ]


def build(cfg: Config) -> db.Dashboard:
    d = (db.Dashboard(TITLE).uid(UID).tags(["mem0", "memlens"]).editable().timezone("utc")
         .time("now-6h", "now").refresh("1m").tooltip(dm.DashboardCursorSync.CROSSHAIR)
         .description("Mem0 latency, traffic, errors, cache, tokens, cost and growth from memlens instrumentation. "
                      "Generated by `memlens export grafana`; thresholds come from the memlens config.")
         .variables(_variables()))
    panel_id = 0
    for row, row_panels in panels(cfg):
        panel_id += 1
        d = d.with_row(db.Row(row).id(panel_id))
        for p in row_panels:
            panel_id += 1  # explicit ids: Grafana links and alerts refer to panels by id
            d = d.with_panel(p.id(panel_id))
    return d


def render_dashboard(cfg: Config) -> str:
    """Dashboard JSON (Grafana schemaVersion from the SDK model, sorted keys, trailing newline)."""
    return json.dumps(build(cfg).build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def expressions(dashboard_json: str) -> list[str]:
    """Every PromQL expression of the panels of a rendered dashboard."""
    doc = json.loads(dashboard_json)
    return [t["expr"] for p in doc.get("panels", []) for t in p.get("targets", []) if "expr" in t]
