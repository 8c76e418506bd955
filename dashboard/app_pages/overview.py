"""Overview / health: the reference's targets next to the measured values, and the top three problems."""

import streamlit as st

from memlens import health
from memlens.dashboard import sidebar, state, ui

ctx = state.current()
st.title("Overview")
ctx.guard()
ops = ctx.figures("ops")["ops"]
span = ctx.metric("span").iloc[0]
st.caption(f"{ops:,} operations from {span['first_ts']:%Y-%m-%d %H:%M} to {span['last_ts']:%Y-%m-%d %H:%M} UTC. "
           "Latency targets are the reference's *query* latency: search calls only (the Latency page shows all "
           "operations, named so).")

m = ctx.measured()
checks = health.checks(m, ctx.cfg)
problems = health.top_problems(checks)

st.subheader("Top problems")
if not problems:
    st.success("Every measured figure meets its target.", icon=":material/check_circle:")
for i, c in enumerate(problems, start=1):
    with st.container(border=True):
        left, right = st.columns([4, 1])
        left.markdown(f"**{i}. {c.label}: {health.format_value(c.measured, c.unit)}** ({c.target_text}) "
                      f"{ui.badge(c.status)}")
        if c.tree:
            sidebar.link(right, "app_pages/diagnosis.py", "Diagnose", ":material/account_tree:")
        elif c.key == "error_rate":
            sidebar.link(right, "app_pages/latency.py", "Latency", ":material/speed:")

st.subheader("Targets")
for start in range(0, len(checks), 4):  # one row of equal-height cards at a time
    for col, c in zip(st.columns(4), checks[start:start + 4], strict=False):
        with col:
            ui.check_card(c)

st.caption("Green meets the target; amber misses it by up to "
           f"{ctx.cfg.dashboard.amber_margin:.0%} (or has not crossed its alert threshold yet); red is beyond. "
           "Targets and thresholds come from the config (`memlens/defaults.yaml`).")
