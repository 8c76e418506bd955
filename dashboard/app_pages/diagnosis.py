"""Diagnosis: the reference's three decision trees, lit from the measured values, ending in actions and the
savings `optimize/` projects for them from this warehouse (the link lives in optimize/diagnosis_link.py)."""

import streamlit as st

from memlens import diagnosis, figures
from memlens.dashboard import sidebar, state, ui
from memlens.figures import FIGURES, format_value
from memlens.optimize.diagnosis_link import linked_savings

ctx = state.current()
st.title("Diagnosis")
ctx.guard()
st.caption("The reference's decision trees, asked against your data in the current selection. Red boxes are the "
           "questions answered *yes* and the actions they lead to, green *no*, grey had no data. Under each action, "
           "the saving projected from your own log and memories (whole warehouse, per 30 days; the sidebar "
           "filters do not apply), as ranked on **Optimize**.")
adv = state.advice(ctx.path, ctx.load_key) if ctx.on_demand("projected savings", key="diag_savings") else None

before = ctx.previous
if before is not None and ctx.on_demand("what changed against the week before", key="diag_changes"):
    st.subheader("What changed against the week before")
    ch = state.cached(ctx.path, ctx.load_key, "changes", "changes", ctx.filters, ctx.speed, before=before.key())
    st.caption("The selected window against the same window a week earlier: search time per phase, the users and "
               "the search shapes (top_k, scope, rerank) whose average latency grew most.")
    for line in ch.evidence() or ["Nothing grew against the week before."]:
        st.text(line)  # user ids are user text: shown as text, never as markdown
    cols = st.columns(3)
    ms = {c: st.column_config.NumberColumn(c.replace("_", " "), format="%.1f")
          for c in ("ms_now", "ms_before", "avg_ms_now", "avg_ms_before", "change_ms")}
    for col, table in zip(cols, (ch.phases.assign(phase=ch.phases["phase"].map(figures.PHASE_LABELS)), ch.users,
                                 ch.shapes), strict=True):
        with col:
            ui.table(table, column_config=ms)

phases = ctx.on_demand("where search time went (phase timings)", key="diag_phases")
measured = ctx.measured(with_phases=phases)
for r in diagnosis.evaluate_all(measured, ctx.cfg):
    st.subheader(r.tree.title)
    st.graphviz_chart(diagnosis.to_dot(r), width="stretch")
    if r.tree.key == "cache":
        could = FIGURES["could_be_served"]
        st.caption(f"**{could.label}** ({format_value(measured.could_be_served, could.unit)} in this selection): "
                   f"{could.help}. Of the searches a cache did look up: "
                   f"{format_value(measured.could_be_served_through_cache, could.unit)}, against a measured hit "
                   f"rate of {format_value(measured.hit_rate, 'ratio')}. The gap is what a longer TTL or a larger "
                   "cache can still win; Optimize replays your log at every TTL and size.")
    if not r.lit:
        if all(x.answer == "unknown" for x in r.results):
            st.info("Not enough data in the current selection to answer these questions.")
        else:
            st.success("No question answered yes: nothing to do here.", icon=":material/check_circle:")
        continue
    for x in r.lit:
        box = st.success if x.node.good else st.warning
        text = [f"**{x.node.question}** Yes: {x.measurement}.", "", "**Do:**"]
        text += [f"- {a}" for a in x.node.actions]
        if x.evidence:
            text += ["", "**Evidence from your data:**"] + [f"- {e}" for e in x.evidence]
        linked = linked_savings(x, adv.savings) if adv else []
        if linked:
            text += ["", "**Projected saving from your data:**"]
            for ls in linked:
                figures = ls.summary.replace("$", r"\$")  # two bare "$" in a box would render as LaTeX
                text += [f"- {ls.saving.title}: {figures}", f"  - formula: `{ls.saving.formula}`"]
        box("\n".join(text), icon=":material/task_alt:" if x.node.good else ":material/build:")
        if linked:
            sidebar.link(st, "app_pages/optimization.py", "Evidence and all recommendations on Optimize",
                         ":material/savings:")
