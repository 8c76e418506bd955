"""Latency: percentiles over time per op, throughput, distribution, slow operations and query-shape impact."""

from datetime import timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from memlens.dashboard import state, ui

ctx = state.current()
st.title("Latency")
s = ctx.guard()
t = ctx.cfg.targets

c = st.columns(6)
c[0].metric("Operations", f"{s['ops']:,}")
c[1].metric("Average", ui.ms(s["avg_ms"]))
c[2].metric("P50", ui.ms(s["p50_ms"]))
c[3].metric("P95", ui.ms(s["p95_ms"]))
c[4].metric("P99", ui.ms(s["p99_ms"]))
c[5].metric(f"Slow (> {ctx.cfg.thresholds.slow_op_ms:.0f} ms)", ui.pct(s["slow_share"]))
st.caption("All operations in the selection (ok and error). The Overview judges the reference's query latency "
           "(search calls) against the targets.")

span = (s["last_ts"] - s["first_ts"]) if s["first_ts"] is not None else timedelta(0)
bucket = "1 hour" if span <= timedelta(days=3) else "1 day"
over = ctx.q("latency_over_time", bucket=bucket)
stat = st.segmented_control("Percentile", ["p50_ms", "p95_ms", "p99_ms", "avg_ms"], default="p95_ms",
                            format_func=lambda x: x.replace("_ms", "").upper().replace("AVG", "Average"))
stat = stat or "p95_ms"
target = {"p95_ms": t.latency_p95_ms, "p99_ms": t.latency_p99_ms, "avg_ms": t.latency_avg_ms}.get(stat)
st.plotly_chart(ui.line_chart(over, "bucket", stat, color="op", log_y=True, target=target, target_label="query target",
                              title=f"{stat[:-3].upper()} latency per {bucket[2:]} (log scale)", y_title="ms"),
                width="stretch")

left, right = st.columns(2)
with left:
    thr = over[over["op"] != "all"]
    fig = go.Figure([go.Bar(x=g["bucket"], y=g["ops_per_s"], name=op) for op, g in thr.groupby("op")])
    fig.update_layout(barmode="stack")
    st.plotly_chart(ui.style(fig, f"Throughput (operations/s, per {bucket[2:]})", "ops/s"), width="stretch")
with right:
    hist = ctx.q("latency_histogram")
    fig = go.Figure([go.Bar(x=g["bin_ms"], y=g["ops"], name=op) for op, g in hist.groupby("op")])
    fig.update_layout(barmode="stack", bargap=0.05)
    ui.log_axis(fig, "x", "latency (ms, log scale)")
    tallest = hist.groupby("bin_ms")["ops"].sum().max()
    ui.target_line(fig, "slow threshold", x=[ctx.cfg.thresholds.slow_op_ms] * 2, y=[0, tallest])
    st.plotly_chart(ui.style(fig, "Latency distribution", "operations"), width="stretch")

st.subheader("By operation")
ui.table(ctx.q("latency_by_op"), column_config={
    "avg_ms": st.column_config.NumberColumn("avg ms", format="%.1f"),
    "p50_ms": st.column_config.NumberColumn("P50 ms", format="%.1f"),
    "p95_ms": st.column_config.NumberColumn("P95 ms", format="%.1f"),
    "p99_ms": st.column_config.NumberColumn("P99 ms", format="%.1f"),
    "slow_share": st.column_config.NumberColumn("slow", format="percent"),
})

st.subheader("Slowest operations")
slow = ctx.q("slow_ops", limit=200)
if slow.empty:
    st.success(f"No operation slower than {ctx.cfg.thresholds.slow_op_ms:.0f} ms in the selection.")
else:
    st.caption(f"The {len(slow)} slowest operations over {ctx.cfg.thresholds.slow_op_ms:.0f} ms with their query "
               "shape (click a header to sort; — where it does not apply, e.g. top_k of an add). *limit passed* is "
               "the `limit` argument your code sent: mem0 2.2 OSS ignores it and returns top_k results.")
    ui.table(slow, height=320, dash=("top_k", "limit_passed", "result_count"), column_config={
        "ts": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "latency_ms": st.column_config.NumberColumn("latency ms", format="%.0f"),
        "user_id": st.column_config.Column("user"), "agent_id": st.column_config.Column("agent"),
        "filter_keys": st.column_config.Column("filters"), "result_count": st.column_config.Column("results"),
    })

RERANK_WORDS = {"true": "rerank on", "false": "rerank off"}
st.subheader("What the query shape costs you")
if ctx.on_demand("search latency by top_k, scope and rerank", "shape_deep"):
    shape = ctx.q("shape_impact")
    if shape.empty:
        st.info("No search calls in the selection: the impact of limit, filters and rerank is measured on searches.")
    else:
        st.caption("Search latency grouped by the result cap (top_k), the entity scope and reranking, from your own "
                   "calls. The reference expects 30-40 % less time from smaller limits, 40-60 % from filters and "
                   "about 2x from turning rerank off.")
        cols = st.columns(3)
        titles = {"top_k": "By result cap (top_k)", "scope": "By scope (filters)", "rerank": "By rerank"}
        for col, (dim, title) in zip(cols, titles.items(), strict=True):
            part = shape[shape["dimension"] == dim]
            if dim == "top_k":  # 5, 10, 20, 50 rather than by calls
                part = part.sort_values("value", key=lambda v: pd.to_numeric(v, errors="coerce"))
            with col:
                x = part["value"].astype(str).replace(RERANK_WORDS) if dim == "rerank" else part["value"].astype(str)
                fig = go.Figure([go.Bar(x=x, y=part["avg_ms"], name="avg", customdata=part["ops"],
                                        hovertemplate="%{x}: %{y:.0f} ms avg, %{customdata} calls"),
                                 go.Bar(x=x, y=part["p95_ms"], name="P95")])
                if dim == "scope":  # "user+agent" on two lines: five labels fit a third of the page unrotated
                    fig.update_traces(x=x.str.replace("+", "+<br>", regex=False))
                fig.update_xaxes(type="category", tickangle=0)
                st.plotly_chart(ui.style(fig, f"{title}: avg and P95", "ms", height=300), width="stretch")
                ui.table(part.drop(columns="dimension").assign(value=x), column_config={
                    "value": st.column_config.Column(dim),
                    "avg_ms": st.column_config.NumberColumn("avg ms", format="%.0f"),
                    "p50_ms": st.column_config.NumberColumn("P50 ms", format="%.0f"),
                    "p95_ms": st.column_config.NumberColumn("P95 ms", format="%.0f"),
                    "slow_share": st.column_config.NumberColumn("slow", format="percent"),
                })
