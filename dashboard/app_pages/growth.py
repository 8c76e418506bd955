"""Growth & storage: memories and bytes over time (Mem0's history), per owner, week over week, snapshots."""

import plotly.graph_objects as go
import streamlit as st

from memlens.dashboard import state, ui

ctx = state.current()
st.title("Growth & storage")
if ctx.empty and not ctx.load_key[4]:
    ui.empty_warehouse()
    st.stop()
st.caption("From Mem0's history store (memory ADD/UPDATE/DELETE) and memory snapshots. The time range, user and "
           "agent filters apply; service, operation and model do not (the history does not record them).")

growth = ctx.metric("memory_growth", grain="day")
if growth.empty:
    st.info("**No memory history loaded.** Run `memlens collect history` (reads Mem0's `history.db`, by default "
            "`$MEM0_DIR/history.db` or `~/.mem0/history.db`) or `memlens collect snapshot`; the demo workload "
            "includes a history.", icon=":material/info:")
else:
    f = ctx.figures("memories", "bytes", "storage_growth_month", "storage_growth_month_estimate",
                    "storage_growth_week")
    c = st.columns(4)
    ctx.show(c[0], "memories", f["memories"])
    ctx.show(c[1], "bytes", f["bytes"])
    if f["storage_growth_month"] is not None or f["storage_growth_month_estimate"] is None:
        ctx.show(c[2], "storage_growth_month", f["storage_growth_month"],
                 help=f"target < {ctx.cfg.targets.storage_growth_per_month:.0%} per month (bytes); needs 30 days "
                 "of history (7 for an estimate)")
    else:
        ctx.show(c[2], "storage_growth_month_estimate", f["storage_growth_month_estimate"],
                 help=f"less than 30 days of history: the 7-day growth x 30 / 7; target < "
                 f"{ctx.cfg.targets.storage_growth_per_month:.0%} per month (bytes)")
    ctx.show(c[3], "storage_growth_week", f["storage_growth_week"],
             help=f"bytes; alert > {ctx.cfg.thresholds.storage_growth_per_week:.0%} per week")
    left, right = st.columns(2)
    fig = go.Figure(go.Scatter(x=growth["bucket"], y=growth["memories"], mode="lines", name="memories"))
    left.plotly_chart(ui.style(fig, "Memories held", "memories"), width="stretch")
    fig = go.Figure(go.Scatter(x=growth["bucket"], y=growth["bytes"], mode="lines", name="bytes",
                               line={"color": "#8e44ad"}))
    right.plotly_chart(ui.style(fig, "Text bytes held", "bytes"), width="stretch")

    st.subheader("Week over week")
    weekly = ctx.metric("memory_growth", grain="week")
    ui.table(weekly[["bucket", "memories_delta", "bytes_delta", "memories", "bytes", "memories_growth",
                     "bytes_growth"]].rename(columns={"bucket": "week"}), column_config={
        "week": st.column_config.DateColumn("week (Mon)"),
        "memories_growth": st.column_config.NumberColumn("memories growth", format="percent"),
        "bytes_growth": st.column_config.NumberColumn("bytes growth", format="percent"),
    })
    st.subheader("By owner")
    st.caption("Memories attributed to a user or agent via snapshots or the op logs' add results.")
    if ctx.on_demand("memories per user and agent", "owner_deep"):
        ui.table(ctx.metric("memory_by_owner", limit=100))

snaps = ctx.q("snapshot_summary")
st.subheader("Snapshots")
if snaps.empty:
    st.caption("No snapshots yet: `memlens collect snapshot` records what a Mem0 instance holds now "
               "(sizes, hashes, owners; texts only if you opt in).")
else:
    ui.table(snaps)
