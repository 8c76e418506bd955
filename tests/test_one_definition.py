"""One definition per figure: a figure's SQL lives in sql/layer and nowhere else. A scan of the shipped source
(every .sql and .py file outside sql/layer and tests/) for what would be a second definition: a query that names
a column after a figure of the layer, a percentile function, or a ratio the layer computes written again."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from memlens import figures, layer

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("sql", "dashboard", "memlens", "optimize", "loadtest", "alerts", "collectors", "workloads",
           "instrumentation")
PERCENTILE = re.compile(r"\b(quantile_cont|quantile_disc|approx_quantile|percentile_cont|percentile_disc|"
                        r"quantile|median)\(", re.IGNORECASE)
# Ratios of the layer written again: in SQL (over sums / counts) or over pandas columns.
RATIO = re.compile(
    r"hits\)?\s*/\s*nullif\(\s*(sum\()?\s*hits"                                   # hit rate
    r"|\*\s*1000(\.0)?\s*/\s*(nullif\(|sum\(|count\()"                             # cost per 1,000
    r"|(count|sum)\([^;\n]{0,60}\)\s*/\s*(nullif\(\s*)?(count\(\*\)|sum\(ops\))"       # error / slow share
    r"|\[[\"']hits[\"']\]\s*/\s*\(|\[[\"']total_cost_usd[\"']\]\s*\*\s*1000",           # the same in pandas
    re.IGNORECASE)
# Not op-log figures: Prometheus' own quantiles and ratios (alerts, the Prometheus collector and its view), the
# load generator's client-side timings, the simulator's and the forecast's own statistics.
ALLOWED = {
    "sql/metrics/300_metric_prom_ops.sql": "Prometheus' quantiles and ratios, pivoted per op",
    "alerts/promql.py": "PromQL", "alerts/grafana.py": "PromQL", "alerts/rules.py": "PromQL",
    "collectors/prometheus.py": "PromQL", "loadtest/stats.py": "client-side timings of the load generator",
    "optimize/cache_sim.py": "what-if replay statistics", "optimize/forecast.py": "bootstrap interval",
    # The alert rules' figures as Prometheus evaluates them: sums over the sliding window (t - window, t] at each
    # evaluation step, percentiles by histogram_quantile over the metric buckets (docs/alerts.md, backtest).
    "sql/windows/window_op_figures.sql": "the rules' sliding-window figures (Prometheus semantics)",
    "sql/windows/window_service_ratios.sql": "the SLO burn-rate ratios over sliding windows",
    "sql/windows/window_service_cost_growth.sql": "the cost and growth rules' sliding windows",
}


def _figure_columns() -> set[str]:
    """The registered figures computed as ratios, averages or percentiles: what must not be defined twice."""
    cols = {f.column for f in figures.FIGURES.values() if f.unit not in ("count", "bytes", "usd")}
    return cols | {"cost_per_1k_searches_usd", *layer.PCT_COLUMNS}


def _sources() -> list[Path]:
    out = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            if path.suffix in (".sql", ".py") and not rel.startswith("sql/layer/") and "__pycache__" not in rel:
                out.append(path)
    return out


def _code(path: Path) -> str:
    """The file without comments (SQL `--`, Python `#`) and without Python docstrings (prose)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        tree = ast.parse(text)
        lines = text.splitlines()
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
                for i in range(body[0].lineno - 1, body[0].end_lineno):
                    lines[i] = ""
        text = "\n".join(lines)
    marker = "--" if path.suffix == ".sql" else "#"
    return "\n".join(line.split(marker)[0] for line in text.splitlines())


def test_the_layer_defines_the_figures_the_scan_looks_for():
    cols = _figure_columns()
    assert {"error_rate", "hit_rate", "slow_share", "miss_penalty", "cost_per_1k_searches_usd", "embedding_share",
            "avg_ms", "p95_ms", "storage_growth_month", "storage_growth_month_estimate"} <= cols
    layer_sql = "\n".join(m.sql for m in layer.metrics().values())
    assert all(re.search(rf"\bAS\s+{c}\b", layer_sql) for c in cols)  # each is a column of the layer


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_figure_is_defined_outside_the_layer(path):
    rel = path.relative_to(ROOT).as_posix()
    if rel in ALLOWED:
        pytest.skip(ALLOWED[rel])
    code = _code(path)
    named = {n.lower() for n in re.findall(r"\bAS\s+(\w+)", code, re.IGNORECASE)} & _figure_columns()
    assert not named, f"{rel} computes {sorted(named)}: read them from the metric layer (sql/layer)"
    assert not PERCENTILE.search(code), f"{rel} takes a percentile: use layer.percentiles / layer.latency"
    hit = RATIO.search(code)
    assert hit is None, f"{rel} writes a layer ratio again: {hit.group(0)!r}"


def test_the_scan_finds_a_second_definition(tmp_path):
    """The scan is not blind: the copies this work removed would be found."""
    copies = {
        "view.sql": "SELECT count(*) FILTER (WHERE is_error) / count(*) AS error_rate FROM stg_op_events",
        "pct.sql": "SELECT quantile_cont(latency_ms, 0.95) FROM stg_op_events",
        "page.py": '"""A docstring may say hits / nullif(hits + misses) in prose."""\n'
                   'rate = df["hits"] / (df["hits"] + df["misses"])\n',
    }
    for name, text in copies.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    sql_named = {n.lower() for n in re.findall(r"\bAS\s+(\w+)", _code(tmp_path / "view.sql"), re.I)}
    assert sql_named & _figure_columns() == {"error_rate"}
    assert RATIO.search(_code(tmp_path / "view.sql"))
    assert PERCENTILE.search(_code(tmp_path / "pct.sql"))
    assert RATIO.search("sum(hits) / nullif(sum(hits) + sum(misses), 0)")
    assert RATIO.search(_code(tmp_path / "page.py"))
    assert RATIO.search("SELECT c.total_cost_usd * 1000.0 / nullif(l.searches, 0) AS x")
