"""Alerts & export: edit the thresholds, preview and download alert-rules.yaml and the Grafana dashboard JSON."""

import difflib

import streamlit as st

from memlens.config import ConfigError, load_config
from memlens.dashboard import state

ctx = state.current()
st.title("Alerts & export")
st.caption("Prometheus alert rules and a Grafana dashboard over the metrics `instrument(..., metrics=...)` exports. "
           "Edit the thresholds and press *Apply*: the files below follow. Nothing is written to your config.")
th = ctx.cfg.thresholds

# (threshold, label, min, max, step): the alert thresholds of the reference, editable here
FIELDS = (
    ("p99_ms", "P99 latency > (ms)", 1.0, None, 50.0),
    ("p95_ms", "P95 latency > (ms)", 1.0, None, 25.0),
    ("avg_ms", "Average latency > (ms)", 1.0, None, 10.0),
    ("slow_op_ms", "Slow operation > (ms)", 1.0, None, 25.0),
    ("error_rate", "Error rate > (0-1)", 0.0, 1.0, 0.01),
    ("slow_op_share", "Slow share > (0-1)", 0.0, 1.0, 0.01),
    ("cache_hit_rate_min", "Cache hit rate < (0-1)", 0.0, 1.0, 0.05),
    ("storage_growth_per_week", "Storage growth per week > (0-1)", 0.0, None, 0.05),
    ("daily_budget_usd", "Daily budget (USD)", 0.0, None, 1.0),
)

with st.form("thresholds", border=True):
    cols = st.columns(4)
    edits = {name: cols[i % 4].number_input(label, lo, hi, value=float(getattr(th, name)), step=step,
                                            key=f"thr_{name}")
             for i, (name, label, lo, hi, step) in enumerate(FIELDS)}
    st.form_submit_button("Apply", icon=":material/refresh:")

try:
    edited = load_config(overrides={"thresholds": edits})
except ConfigError as exc:
    st.error(f"Invalid thresholds: {exc}")
    st.stop()

try:
    from memlens.alerts.grafana import render_dashboard
    from memlens.alerts.rules import render_rules
except ImportError:
    st.info("The alert exporters (`alerts.rules`, `alerts.grafana`) are not installed in this build.")
    st.stop()

rules, base_rules = render_rules(edited), render_rules(ctx.cfg)
grafana = render_dashboard(edited)

tab_rules, tab_grafana = st.tabs(["alert-rules.yaml", "Grafana dashboard JSON"])
with tab_rules:
    st.download_button("Download alert-rules.yaml", rules, "alert-rules.yaml", "application/yaml",
                       icon=":material/download:")
    diff = list(difflib.unified_diff(base_rules.splitlines(), rules.splitlines(), "config", "edited", lineterm="", n=1))
    if diff:
        with st.expander(f"What your edits change ({sum(1 for d in diff if d[:1] in '+-') - 2} lines)",
                         expanded=True):
            st.code("\n".join(diff), language="diff")
    st.code(rules, language="yaml", height=500)
with tab_grafana:
    st.download_button("Download memlens-grafana.json", grafana, "memlens-grafana.json", "application/json",
                       icon=":material/download:")
    st.code(grafana, language="json", height=500)
