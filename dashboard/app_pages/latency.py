"""Latency: why is it slow right now? Percentiles, errors and throughput over the selected window (split by operation,
service or mode, the same window a week earlier dotted), where the time went inside the calls (phases), the
slowest operations and the errors of the window, the distribution and the query-shape impact."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from memlens import figures, layer
from memlens.dashboard import charts, data, sidebar, state, timerange, ui

ctx = state.current()
st.title("Latency")
ctx.guard()
t = ctx.cfg.targets
window = ctx.window
before = ctx.previous

KPIS = ("ops", "avg_ms", "p50_ms", "p95_ms", "p99_ms", "slow_share")
earlier = ctx.figures(*KPIS, filters=before) if before is not None else {}
now = ctx.figures(*KPIS)
for col, key in zip(st.columns(len(KPIS)), KPIS, strict=True):
    old, new = earlier.get(key), now[key]
    delta = None if not old or new is None else f"{(new / old - 1) * 100:+.0f} %"
    ctx.show(col, key, new, delta=delta, delta_color="off" if key == "ops" else "inverse")
if window is not None:
    st.caption(f"{window.choice.label}: {window.describe()}. Changes and dotted lines: against the same window a "
               f"week earlier ({timerange.span_text(timerange.COMPARE_OFFSET)} before). All operations, ok and "
               "error; the Overview judges the reference's query latency (search calls) against the targets. Drag "
               "across a chart to zoom the whole page to that time; the browser's back button zooms out.")

SPLITS = {"service": "service", "op": "operation", "mode": "mode", "none": "total"}
STATS = {"p95_ms": "P95", "p50_ms": "P50", "p99_ms": "P99", "avg_ms": "average"}
left, right = st.columns([3, 2])
split = sidebar.url_choice("Split by", list(SPLITS), "split", "none", SPLITS.get, where=left)
stat = sidebar.url_choice("Latency", list(STATS), "stat", "p95_ms", STATS.get, where=right)
by = ("bucket",) if split == "none" else ("bucket", split)
key = None if split == "none" else split
grain = ctx.grain
# every value in the warehouse: each keeps its colour in any selection
held = ctx.q(data.options_query(ctx.speed), layer.ALL)
among = list(held[held["kind"] == split]["value"].dropna())
series = ctx.metric("latency", by, grain)
series_before = ctx.metric("latency", by, grain, filters=before) if before is not None else None

target = {"p95_ms": t.latency_p95_ms, "p99_ms": t.latency_p99_ms, "avg_ms": t.latency_avg_ms}.get(stat)
fig = charts.over_time(series, series_before, stat, key, window, among=among)
values = pd.concat([series[stat], series_before[stat] if series_before is not None else pd.Series(dtype=float)])
if target is not None and window is not None:
    ui.target_line(fig, f"search {STATS[stat]} target", x=[window.start, window.end], y=[target, target])
    values = pd.concat([values, pd.Series([target])])
ui.style(fig, f"{STATS[stat]} latency per {grain} (UTC)", height=400)
charts.value_axis(fig, values, "latency (ms)")
ui.time_chart(fig, "latency", window)

left, right = st.columns(2)
fig = charts.over_time(series, series_before, "error_rate", key, window, legend=False, among=among)
ui.style(fig, f"Error rate per {grain} (UTC)")
charts.value_axis(fig, [], "errors / calls", log=False)
fig.update_yaxes(tickformat=".1%")
ui.time_chart(fig, "errors", window, left)
fig = charts.over_time(series, series_before, "ops", key, window, legend=False, empty=0.0, among=among)
ui.style(fig, f"Throughput per {grain} (UTC)")
charts.value_axis(fig, [], f"calls per {grain}", log=False)
ui.time_chart(fig, "throughput", window, right)
st.caption("Colours as in the latency chart above; hover a line for its name.")

st.subheader("Where the time went")
timed = ctx.metric("phases", ("op",))
if timed.empty:
    st.info("No call in the selection has phase timings: they come from instrumented OSS calls (op-log schema v2) "
            "or OpenTelemetry child spans; Platform calls, cache hits and older logs record only the total.",
            icon=":material/info:")
else:
    ops_timed = list(timed.drop_duplicates("op").sort_values("timed_ops", ascending=False)["op"])
    default_op = "search" if "search" in ops_timed else ops_timed[0]
    phase_op = sidebar.url_choice("Operation", ops_timed, "phase_op", default_op)
    one_op = ctx.filters.replace(op=phase_op)
    per_bucket = ctx.metric("phases", ("bucket",), grain, filters=one_op)
    fig = charts.stacked_phases(per_bucket, window) if window is not None else go.Figure()
    ui.style(fig, f"{phase_op}: time per call by phase, per {grain} (UTC)")
    ui.time_chart(fig, "phases", window)
    share_now = ctx.metric("phases", filters=one_op)
    # per-phase percentiles scan every timed call of the window (no rollup holds them): asked for on large warehouses
    spread = (ctx.metric("phase_percentiles", filters=one_op)
              if ctx.on_demand("P50 / P95 per phase", "phase_percentiles") else None)
    share_before = ctx.metric("phases", filters=before.replace(op=phase_op)) if before is not None else None
    table = share_now[["phase", "avg_ms", "share"]].rename(columns={"avg_ms": "ms_per_call"})
    if spread is not None:
        table = table.merge(spread[["phase", "ran_ops", "p50_ms", "p95_ms"]], on="phase", how="left")
    if share_before is not None and not share_before.empty:
        table = table.merge(share_before[["phase", "avg_ms", "share"]].rename(
            columns={"avg_ms": "ms_per_call_week_before", "share": "share_week_before"}), on="phase", how="left")
        table["change_ms"] = table["ms_per_call"] - table["ms_per_call_week_before"]
    ran = (table.drop(columns=["phase"]).fillna(0) != 0).any(axis=1)
    table = table[ran]  # the phases this op never passed through, now or then, are left out
    table = table.assign(phase=table["phase"].map(figures.PHASE_LABELS))
    st.caption(f"Over the {int(share_now['timed_ops'].iloc[0]):,} {phase_op} calls with phase timings in the window "
               "(OSS calls that reached Mem0). *Mem0's own code* is the rest of each call: parsing, scoring and "
               "building results between the phases. The bars of a bucket add up to its average latency.")
    ui.table(table, column_config={
        "ms_per_call": st.column_config.NumberColumn("ms per call", format="%.1f"),
        "share": st.column_config.NumberColumn("share of time", format="percent"),
        "ran_ops": st.column_config.NumberColumn("calls that ran it"),
        "p50_ms": st.column_config.NumberColumn("P50 ms (when run)", format="%.1f"),
        "p95_ms": st.column_config.NumberColumn("P95 ms (when run)", format="%.1f"),
        "ms_per_call_week_before": st.column_config.NumberColumn("ms per call, week before", format="%.1f"),
        "share_week_before": st.column_config.NumberColumn("share, week before", format="percent"),
        "change_ms": st.column_config.NumberColumn("change (ms)", format="%+.1f"),
    })

st.subheader("Slowest operations in the window")
slow = ctx.metric("slow_ops", limit=200)
if slow.empty:
    st.success(f"No operation slower than {ctx.cfg.thresholds.slow_op_ms:.0f} ms in the window.")
else:
    st.caption(f"The {len(slow)} slowest operations over {ctx.cfg.thresholds.slow_op_ms:.0f} ms in the window, with "
               "their query shape (click a header to sort; — where it does not apply, e.g. top_k of an add). *limit "
               "passed* is the `limit` argument your code sent: mem0 2.2 OSS ignores it and returns top_k results.")
    ui.table(slow, height=320, dash=("top_k", "limit_passed", "result_count"), column_config={
        "ts": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "latency_ms": st.column_config.NumberColumn("latency ms", format="%.0f"),
        "user_id": st.column_config.Column("user"), "agent_id": st.column_config.Column("agent"),
        "filter_keys": st.column_config.Column("filters"), "result_count": st.column_config.Column("results"),
    })

st.subheader("Errors in the window")
failed = ctx.filters.replace(status="error")
errors = ctx.metric("ops", ("error_type",) if key is None else ("error_type", key), filters=failed)
if errors.empty:
    st.success("No failed call in the window.", icon=":material/check_circle:")
else:
    left, right = st.columns([2, 3])
    with left:
        st.caption(f"Failed calls by error type{'' if key is None else ' and ' + SPLITS[split]}.")
        cols = ["error_type", *([key] if key else []), "ops"]
        ui.table(errors.sort_values("ops", ascending=False)[cols].rename(columns={"ops": "errors"}), height=320)
    with right:
        st.caption("The latest failed calls (newest first, at most 200).")
        ui.table(ctx.metric("failed_ops", limit=200), height=320, column_config={
            "ts": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "latency_ms": st.column_config.NumberColumn("latency ms", format="%.0f"),
            "user_id": st.column_config.Column("user"), "agent_id": st.column_config.Column("agent")})

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

hist = layer.fold_histogram(ctx.metric("latency_histogram", ("op",)))
fig = charts.histogram(hist)
fig.update_layout(barmode="stack")
tallest = hist.groupby("bin_ms")["n"].sum().max()
ui.target_line(fig, "slow threshold", x=[ctx.cfg.thresholds.slow_op_ms] * 2, y=[0, tallest])
ui.style(fig, "Latency distribution in the window", "calls")
charts.value_axis(fig, hist["bin_ms"], "latency (ms)", axis="x", log=True)
st.plotly_chart(fig, width="stretch")

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
        for col, (shape_key, (name, title)) in zip(cols, SHAPES.items(), strict=True):
            part = ctx.metric("latency", (shape_key,), filters=search)
            if shape_key != "effective_limit":  # top_k reads 5, 10, 20, 50; the others by calls
                part = part.sort_values("ops", ascending=False)
            values = part[shape_key].astype("string").fillna("not recorded")
            x = values.replace(RERANK_WORDS) if shape_key == "rerank_requested" else values
            with col:
                fig = go.Figure([go.Bar(x=x, y=part["avg_ms"], name="avg", customdata=part["ops"],
                                        hovertemplate="%{x}: %{y:.0f} ms avg, %{customdata} calls"),
                                 go.Bar(x=x, y=part["p95_ms"], name="P95")])
                if shape_key == "scope":  # "user+agent" on two lines: five labels fit a third of the page unrotated
                    fig.update_traces(x=x.str.replace("+", "+<br>", regex=False))
                fig.update_xaxes(type="category", tickangle=0)
                st.plotly_chart(ui.style(fig, f"{title}: avg and P95", "latency (ms)", height=300), width="stretch")
                ui.table(pd.DataFrame({name: x, "ops": part["ops"], "avg_ms": part["avg_ms"],
                                       "p50_ms": part["p50_ms"], "p95_ms": part["p95_ms"],
                                       "slow_share": part["slow_share"]}), column_config={
                    "avg_ms": st.column_config.NumberColumn("avg ms", format="%.0f"),
                    "p50_ms": st.column_config.NumberColumn("P50 ms", format="%.0f"),
                    "p95_ms": st.column_config.NumberColumn("P95 ms", format="%.0f"),
                    "slow_share": st.column_config.NumberColumn("slow", format="percent"),
                })
