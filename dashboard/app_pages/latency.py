"""Latency: percentiles over time per op, throughput, distribution, where the time went (phases), slow operations and
query-shape impact."""

from datetime import timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from memlens import figures, layer
from memlens.dashboard import state, ui

ctx = state.current()
st.title("Latency")
ctx.guard()
t = ctx.cfg.targets

c = st.columns(6)
for col, key in zip(c, ("ops", "avg_ms", "p50_ms", "p95_ms", "p99_ms", "slow_share"), strict=True):
    ctx.show(col, key)
st.caption("All operations in the selection (ok and error). The Overview judges the reference's query latency "
           "(search calls) against the targets.")

first = ctx.filters.start or pd.Timestamp(ctx.data_first)
last = ctx.filters.end or pd.Timestamp(ctx.data_last) + timedelta(days=1)
grain = "hour" if last - first <= timedelta(days=3) else "day"
over = ctx.metric("latency", ("bucket", "op"), grain, total=True)
stat = st.segmented_control("Percentile", ["p50_ms", "p95_ms", "p99_ms", "avg_ms"], default="p95_ms",
                            format_func=lambda x: x.replace("_ms", "").upper().replace("AVG", "Average"))
stat = stat or "p95_ms"
target = {"p95_ms": t.latency_p95_ms, "p99_ms": t.latency_p99_ms, "avg_ms": t.latency_avg_ms}.get(stat)
st.plotly_chart(ui.line_chart(over, "bucket", stat, color="op", log_y=True, target=target, target_label="query target",
                              title=f"{stat[:-3].upper()} latency per {grain} (log scale)", y_title="ms"),
                width="stretch")

left, right = st.columns(2)
with left:
    thr = over[over["op"] != "all"]
    fig = go.Figure([go.Bar(x=g["bucket"], y=g["ops_per_s"], name=op) for op, g in thr.groupby("op")])
    fig.update_layout(barmode="stack")
    st.plotly_chart(ui.style(fig, f"Throughput (operations/s, per {grain})", "ops/s"), width="stretch")
with right:
    hist = layer.fold_histogram(ctx.metric("latency_histogram", ("op",)))
    fig = go.Figure([go.Bar(x=g["bin_ms"], y=g["n"], name=op) for op, g in hist.groupby("op")])
    fig.update_layout(barmode="stack", bargap=0.05)
    ui.log_axis(fig, "x", "latency (ms, log scale)")
    tallest = hist.groupby("bin_ms")["n"].sum().max()
    ui.target_line(fig, "slow threshold", x=[ctx.cfg.thresholds.slow_op_ms] * 2, y=[0, tallest])
    st.plotly_chart(ui.style(fig, "Latency distribution", "operations"), width="stretch")

st.subheader("By operation")
by_op = ctx.metric("latency", ("op",), total=True)
by_op = pd.concat([by_op[by_op["op"] == "all"], by_op[by_op["op"] != "all"].sort_values("ops", ascending=False)])
ui.table(by_op[["op", "ops", "errors", "avg_ms", "p50_ms", "p95_ms", "p99_ms", "slow_share"]], column_config={
    "avg_ms": st.column_config.NumberColumn("avg ms", format="%.1f"),
    "p50_ms": st.column_config.NumberColumn("P50 ms", format="%.1f"),
    "p95_ms": st.column_config.NumberColumn("P95 ms", format="%.1f"),
    "p99_ms": st.column_config.NumberColumn("P99 ms", format="%.1f"),
    "slow_share": st.column_config.NumberColumn("slow", format="percent"),
})

st.subheader("Where the time went")
if ctx.on_demand("where the time went (phase timings)", "phases"):
    per_bucket = ctx.metric("phases", ("bucket", "op"), grain)
    if per_bucket.empty:
        st.info("No phase timings in the selection. OSS calls instrumented by memlens (op-log schema v2) or traced "
                "with OpenTelemetry child spans have them; Platform calls, cache hits and older logs have only the "
                "total.")
    else:
        # every timed call has one row per phase and one 'other' row: count the calls on the 'other' rows
        timed = per_bucket[per_bucket["phase"] == "other"].groupby("op")["calls"].sum().sort_values(ascending=False)
        op = st.segmented_control("Operation", list(timed.index), default=timed.index[0], key="phase_op") \
            or timed.index[0]
        st.plotly_chart(ui.phase_chart(per_bucket[per_bucket["op"] == op], "bucket",
                                       f"{op}: time per call by phase, per {grain}"), width="stretch")
        whole = ctx.metric("phases", ("op",))
        whole = whole[(whole["op"] == op) & (whole["ran_calls"] > 0)].sort_values("share", ascending=False)
        st.caption(f"Over the {int(timed[op]):,} {op} calls with phase timings in the selection (OSS calls that "
                   "reached Mem0). *Mem0's own code* is the rest of each call: parsing, scoring and building results "
                   "between the phases.")
        ui.table(whole.assign(phase=whole["phase"].map(figures.PHASE_LABELS))[
            ["phase", "share", "avg_ms", "ran_calls", "p50_ms", "p95_ms"]], column_config={
            "share": st.column_config.NumberColumn("share of time", format="percent"),
            "avg_ms": st.column_config.NumberColumn("ms per call", format="%.1f"),
            "ran_calls": st.column_config.NumberColumn("calls that ran it"),
            "p50_ms": st.column_config.NumberColumn("P50 ms (when run)", format="%.1f"),
            "p95_ms": st.column_config.NumberColumn("P95 ms (when run)", format="%.1f"),
        })

st.subheader("Slowest operations")
slow = ctx.metric("slow_ops", limit=200)
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

RERANK_WORDS = {"True": "rerank on", "False": "rerank off"}
SHAPES = {"effective_limit": ("top_k", "By result cap (top_k)"), "scope": ("scope", "By scope (filters)"),
          "rerank_requested": ("rerank", "By rerank")}
st.subheader("What the query shape costs you")
search = figures.scoped(ctx.filters, figures.SEARCH)
if ctx.on_demand("search latency by top_k, scope and rerank", "shape_deep"):
    if search is None or not ctx.figures("searches")["searches"]:
        st.info("No search calls in the selection: the impact of limit, filters and rerank is measured on searches.")
    else:
        st.caption("Search latency grouped by the result cap (top_k), the entity scope and reranking, from your own "
                   "calls. The reference expects 30-40 % less time from smaller limits, 40-60 % from filters and "
                   "about 2x from turning rerank off.")
        cols = st.columns(3)
        for col, (key, (name, title)) in zip(cols, SHAPES.items(), strict=True):
            part = ctx.metric("latency", (key,), filters=search)
            if key != "effective_limit":  # top_k reads 5, 10, 20, 50; the others by calls
                part = part.sort_values("ops", ascending=False)
            values = part[key].astype("string").fillna("not recorded")
            x = values.replace(RERANK_WORDS) if key == "rerank_requested" else values
            with col:
                fig = go.Figure([go.Bar(x=x, y=part["avg_ms"], name="avg", customdata=part["ops"],
                                        hovertemplate="%{x}: %{y:.0f} ms avg, %{customdata} calls"),
                                 go.Bar(x=x, y=part["p95_ms"], name="P95")])
                if key == "scope":  # "user+agent" on two lines: five labels fit a third of the page unrotated
                    fig.update_traces(x=x.str.replace("+", "+<br>", regex=False))
                fig.update_xaxes(type="category", tickangle=0)
                st.plotly_chart(ui.style(fig, f"{title}: avg and P95", "ms", height=300), width="stretch")
                ui.table(pd.DataFrame({name: x, "ops": part["ops"], "avg_ms": part["avg_ms"],
                                       "p50_ms": part["p50_ms"], "p95_ms": part["p95_ms"],
                                       "slow_share": part["slow_share"]}), column_config={
                    "avg_ms": st.column_config.NumberColumn("avg ms", format="%.0f"),
                    "p50_ms": st.column_config.NumberColumn("P50 ms", format="%.0f"),
                    "p95_ms": st.column_config.NumberColumn("P95 ms", format="%.0f"),
                    "slow_share": st.column_config.NumberColumn("slow", format="percent"),
                })
