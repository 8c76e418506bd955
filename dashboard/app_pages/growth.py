"""Growth & storage: memories and bytes over time (Mem0's history), per owner, week over week, snapshots."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from memlens import health
from memlens.dashboard import state, ui

ctx = state.current()
st.title("Growth & storage")
if ctx.empty and not ctx.load_key[4]:
    ui.empty_warehouse()
    st.stop()
st.caption("From Mem0's history store (memory ADD/UPDATE/DELETE) and memory snapshots. The time range, user and "
           "agent filters apply; service, operation and model do not (the history does not record them).")

growth = ctx.q("memory_growth_daily")
if growth.empty:
    st.info("**No memory history loaded.** Run `memlens collect history` (reads Mem0's `history.db`, by default "
            "`$MEM0_DIR/history.db` or `~/.mem0/history.db`) or `memlens collect snapshot`; the demo workload "
            "includes a history.", icon=":material/info:")
else:
    g = growth.assign(day=pd.to_datetime(growth["day"]))
    last = g.iloc[-1]
    weekly = g.set_index("day").resample("W-MON", label="left", closed="left").agg(
        {"memories_delta": "sum", "bytes_delta": "sum", "memories": "last", "bytes": "last"}).dropna().reset_index()
    weekly["memories_growth"] = weekly["memories_delta"] / (weekly["memories"] - weekly["memories_delta"])
    weekly["bytes_growth"] = weekly["bytes_delta"] / (weekly["bytes"] - weekly["bytes_delta"])
    m = ctx.measured()
    c = st.columns(4)
    c[0].metric("Memories held", f"{int(last['memories']):,}")
    c[1].metric("Text bytes held", f"{int(last['bytes']):,}")
    span_days = (g["day"].iloc[-1] - g["day"].iloc[0]).days
    c[2].metric("Growth, last 30 days", ui.pct(m.storage_growth_month),
                delta=None if m.storage_growth_month is not None else f"needs 30 days of history, has {span_days}",
                delta_color="off", delta_arrow="off",
                help=f"target < {ctx.cfg.targets.storage_growth_per_month:.0%} per month (bytes)")
    week = health.growth_over(7, list(g["day"].dt.date), [float(x) for x in g["bytes"]])
    c[3].metric("Growth, last 7 days", ui.pct(week),
                help=f"bytes; alert > {ctx.cfg.thresholds.storage_growth_per_week:.0%} per week")
    left, right = st.columns(2)
    fig = go.Figure(go.Scatter(x=g["day"], y=g["memories"], mode="lines", name="memories"))
    left.plotly_chart(ui.style(fig, "Memories held", "memories"), width="stretch")
    fig = go.Figure(go.Scatter(x=g["day"], y=g["bytes"], mode="lines", name="bytes", line={"color": "#8e44ad"}))
    right.plotly_chart(ui.style(fig, "Text bytes held", "bytes"), width="stretch")

    st.subheader("Week over week")
    ui.table(weekly.rename(columns={"day": "week"}), column_config={
        "week": st.column_config.DateColumn("week (Mon)"),
        "memories_growth": st.column_config.NumberColumn("memories growth", format="percent"),
        "bytes_growth": st.column_config.NumberColumn("bytes growth", format="percent"),
    })
    st.subheader("By owner")
    st.caption("Memories attributed to a user or agent via snapshots or the op logs' add results.")
    if ctx.on_demand("memories per user and agent", "owner_deep"):
        ui.table(ctx.q("memory_by_owner", limit=100))

snaps = ctx.q("snapshot_summary")
st.subheader("Snapshots")
if snaps.empty:
    st.caption("No snapshots yet: `memlens collect snapshot` records what a Mem0 instance holds now "
               "(sizes, hashes, owners; texts only if you opt in).")
else:
    ui.table(snaps)
