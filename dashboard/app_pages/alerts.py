"""Alerts & export: edit the thresholds, preview and download alert-rules.yaml and the Grafana dashboard JSON."""

import difflib

import streamlit as st

from dashboard import state
from memlens.config import ConfigError, load_config

ctx = state.current()
st.title("Alerts & export")
st.caption("Prometheus alert rules and a Grafana dashboard over the metrics `instrument(..., metrics=...)` exports. "
           "Edit the thresholds below; the files change as you type. Nothing is written to your config.")
th = ctx.cfg.thresholds

with st.form("thresholds", border=True):
    c = st.columns(4)
    edits = {
        "p99_ms": c[0].number_input("P99 latency > (ms)", 1.0, value=float(th.p99_ms), key="thr_p99_ms", step=50.0),
        "p95_ms": c[1].number_input("P95 latency > (ms)", 1.0, value=float(th.p95_ms), key="thr_p95_ms", step=25.0),
        "avg_ms": c[2].number_input("Average latency > (ms)", 1.0, value=float(th.avg_ms), key="thr_avg_ms", step=10.0),
        "slow_op_ms": c[3].number_input("Slow operation > (ms)", 1.0, value=float(th.slow_op_ms), key="thr_slow_op_ms", step=25.0),
        "error_rate": c[0].number_input("Error rate >", 0.0, 1.0, value=float(th.error_rate), key="thr_error_rate", step=0.01),
        "slow_op_share": c[1].number_input("Slow share >", 0.0, 1.0, value=float(th.slow_op_share), key="thr_slow_op_share", step=0.01),
        "cache_hit_rate_min": c[2].number_input("Cache hit rate <", 0.0, 1.0, value=float(th.cache_hit_rate_min), key="thr_cache_hit_rate_min",
                                                step=0.05),
        "storage_growth_per_week": c[3].number_input("Storage growth per week >", 0.0,
                                                     value=float(th.storage_growth_per_week), key="thr_storage_growth_per_week", step=0.05),
        "daily_budget_usd": c[0].number_input("Daily budget (USD)", 0.0, value=float(th.daily_budget_usd), key="thr_daily_budget_usd", step=1.0),
    }
    st.form_submit_button("Apply", icon=":material/refresh:")

try:
    edited = load_config(overrides={"thresholds": edits})
except ConfigError as exc:
    st.error(f"Invalid thresholds: {exc}")
    st.stop()

try:
    from alerts.grafana import render_dashboard
    from alerts.rules import render_rules
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
