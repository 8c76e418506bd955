"""Runs: the stored load-test, benchmark and comparison runs, any two side by side (logic in loadtest/runs_view)."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from memlens.dashboard import state, ui
from memlens.loadtest.runs_view import list_runs, run_label, side_by_side
from memlens.safetext import csv_frame


@st.cache_data(show_spinner=False, max_entries=8)
def _runs(path: str, load_key: tuple) -> pd.DataFrame:  # load_key: re-read when new data lands
    return state.holder(path).run(list_runs)


ctx = state.current()
st.title("Runs")
st.caption("Load tests, benchmarks and comparisons stored by `memlens loadtest | benchmark | compare`. Figures come "
           "from the metric layer over each run's events (tag = run id); the sidebar filters do not apply here.")
runs = _runs(ctx.path, ctx.load_key)
if runs.empty:
    st.info("No runs stored yet. Run `memlens loadtest --users 4 --duration 10 --ramp` or "
            "`memlens compare loadtest/scenarios/limit10.yaml loadtest/scenarios/limit5.yaml`.",
            icon=":material/info:")
    st.stop()

labels = {r["run_id"]: run_label(r) for _, r in runs.iterrows()}
ids = list(labels)
left, right = st.columns(2)
a_id = left.selectbox("Run A (baseline)", ids, index=min(1, len(ids) - 1), format_func=labels.get, key="run_a")
b_id = right.selectbox("Run B", ids, index=0, format_func=labels.get, key="run_b")

table = side_by_side(runs, a_id, b_id)
st.dataframe(csv_frame(table), hide_index=True, width="stretch",
             column_config={"B / A": st.column_config.NumberColumn("B / A", format="%.3f")})

pick = runs.set_index("run_id").loc[[a_id, b_id]]
fig = go.Figure([go.Bar(name=f"{name} · {rid}", x=["avg", "P50", "P95", "P99"],
                        y=[pick.loc[rid, c] for c in ("avg_ms", "p50_ms", "p95_ms", "p99_ms")])
                 for name, rid in (("A", a_id), ("B", b_id))])
st.plotly_chart(ui.style(fig, "Latency, A vs B", "ms"), width="stretch")

with st.expander(f"All {len(runs)} stored runs"):
    st.dataframe(csv_frame(runs), hide_index=True, width="stretch")
