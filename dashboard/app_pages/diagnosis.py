"""Diagnosis: the reference's three decision trees, lit from the measured values, ending in actions."""

import streamlit as st

from dashboard import state
from memlens import diagnosis

ctx = state.current()
st.title("Diagnosis")
ctx.guard()
st.caption("The reference's decision trees, asked against your data in the current selection. Filled boxes are "
           "the questions answered *yes* and the actions they lead to; grey boxes had no data.")

results = diagnosis.evaluate_all(ctx.measured(), ctx.cfg)
for r in results:
    st.subheader(r.tree.title)
    left, right = st.columns([3, 2])
    with left:
        st.graphviz_chart(diagnosis.to_dot(r), width="stretch")
    with right:
        actions = r.actions()
        if not actions:
            unknown = [x for x in r.results if x.answer == "unknown"]
            if unknown and len(unknown) == len(r.results):
                st.info("Not enough data to answer these questions in the current selection.")
            else:
                st.success("No question answered yes: nothing to do here.", icon=":material/check_circle:")
        else:
            kind = st.success if not r.problem else st.warning
            kind("**Recommended actions**", icon=":material/task_alt:" if not r.problem else ":material/build:")
            for action, why, evidence in actions:
                st.markdown(f"- **{action}** — because {why}")
                for e in evidence:
                    st.markdown(f"    - {e}")
