"""Optimize: ranked recommendations with savings projected from this warehouse (all logic in `optimize/`).

Named optimization.py, not optimize.py: Streamlit puts this folder on sys.path, and the page would shadow
the `optimize` package.
"""

from functools import partial

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from memlens.dashboard import state, ui
from memlens.optimize.vector_store import cache_config_code
from memlens.safetext import to_csv as safe_csv

ctx = state.current()
st.title("Optimize")
ctx.guard()
st.caption("Every figure is computed on the whole warehouse (the sidebar filters do not apply): an exact replay "
           "of your search log for caching, your own latency by top_k / scope / rerank, your prices, your memories. "
           "Per-month figures scale the log's period to 30 days.")
adv = state.advice(ctx.path, ctx.load_key)
cfg = ctx.cfg

st.subheader("Recommendations, largest impact first")
calls_month = adv.usd_month_total - adv.archival.usd_month_now
st.caption("Impact = the larger of the share of the bill and the share of total caller wait that the change "
           f"removes. The bill here is calls + storage: {ui.money(calls_month)} of calls per 30 days (the layer's "
           f"cost of the whole log, scaled from its {adv.period_days:.1f} days) + "
           f"{ui.money(adv.archival.usd_month_now)} a month of storage (estimated: the memories' text and vectors at "
           "the active tier's $/GB-month; the Cost page prices calls only).")
ui.table(adv.table(), column_config={
    "usd_per_month": st.column_config.NumberColumn("USD / month", format="$%.4f"),
    "bill_share": st.column_config.NumberColumn("of calls + storage", format="percent"),
    "latency_saved_s_per_month": st.column_config.NumberColumn("wait saved s / month", format="%.1f"),
    "wait_share": st.column_config.NumberColumn("of wait", format="percent"),
})
for i, s in enumerate(adv.savings):  # an evidence table is sent when its expander is opened (on_change=rerun)
    evidence = st.expander(f"Evidence: {s.title}", key=f"evidence_{i}", on_change="rerun")
    if evidence.open:
        with evidence:
            st.text(f"Formula: {s.formula}")
            if s.note:
                st.text(s.note)
            ui.table(s.evidence)

# ---- cache what-if
c = adv.cache
st.subheader("Cache what-if (exact replay)")
target = c.target_hit_rate
size_text = "unbounded" if c.settings_max_entries is None else f"{c.settings_max_entries:,} entries"
st.caption(
    f"Replays the {c.requests:,} searches a memlens SearchCache would look up (a user id, scoped by nothing but user / "
    "agent / run ids, not bypassed) with the cache's own rules: one cache per service, keyed by user, agent, run, "
    "query and top_k / threshold / rerank, a user's writes delete that user's entries when they return, an entry "
    "expires TTL after the miss that stored it returned. **Could be served**: the share of searches repeating an "
    "earlier successful search with the same key made after the user's last write: what a cache that never expires "
    "and never fills serves, the ceiling of every TTL and size and of what any real cache measures here.")
m = st.columns(4)
m[0].metric("Measured hit rate", ui.pct(c.measured_hit_rate) if c.through_cache else "no cache",
            help=f"{c.measured_hits:,} hits of the {c.through_cache:,} searches a cache looked up (the log's hits "
            "and misses)")
m[1].metric(f"Replay at TTL {c.settings_ttl_s:g} s, {size_text}", ui.pct(c.settings_hit_rate),
            help="an exact replay of the SearchCache at optimize.cache.recommended_ttl_s / max_entries, over every "
            "cacheable search; the table below gives it for the searches that went through a cache too")
m[2].metric("Could be served", ui.pct(c.could_be_served_rate),
            help="an earlier successful search with the same key after the user's last write: no TTL or size does "
            "better")
reach = ("not reached" if c.ttl_for_target_s is None and c.lru_size_for_target is None else
         ("—" if c.ttl_for_target_s is None else f"{c.ttl_for_target_s:g} s") + " / "
         + ("—" if c.lru_size_for_target is None else f"{c.lru_size_for_target:,}"))
m[3].metric(f"TTL / LRU size for {target:.0%}", reach,
            help="smallest TTL of the grid (no size bound) / smallest LRU size (no expiry) reaching the target; "
            "neither can beat what could be served")
story = c.story()
for col in story.columns[2:]:  # the same format as the figures above
    story[col] = [ui.pct(v) if v is not None and v == v else "—" for v in story[col]]
ui.table(story)

ttl_fig = go.Figure()
ttl_fig.add_trace(go.Scatter(x=c.ttl_curve["ttl_s"], y=c.ttl_curve["hit_rate"], mode="lines+markers",
                             name="fixed expiry, no size bound (replayed per TTL)"))
ttl_fig.add_hline(y=target, line_dash="dash", line_color="#2e7d32", annotation_text=f"target {target:.0%}")
if c.could_be_served_rate is not None:
    ttl_fig.add_hline(y=c.could_be_served_rate, line_dash="dot", line_color="#555555",
                      annotation_text=f"could be served {c.could_be_served_rate:.1%}")
palette = ["rgba(31,119,180,0.15)", "rgba(255,127,14,0.15)", "rgba(44,160,44,0.15)", "rgba(148,103,189,0.15)"]
# The guidance bands are traces, not shapes: plotly.py's add_vrect misplaces shapes on a log axis.
for (name, (lo, hi)), color in zip(cfg.ttl_guidelines.items(), palette * 2, strict=False):
    span = f"{lo:g} s" if lo == hi else f"{lo:g}-{hi:g} s"
    label = f"guidance: {name.replace('_', ' ')} ({span})"
    if lo == hi:
        ttl_fig.add_trace(go.Scatter(x=[lo, lo], y=[0, 1], mode="lines", name=label,
                                     line={"dash": "dot", "color": color.replace("0.15", "0.9")}))
    else:
        ttl_fig.add_trace(go.Scatter(x=[lo, hi, hi, lo, lo], y=[0, 0, 1, 1, 0], fill="toself", fillcolor=color,
                                     mode="lines", line={"width": 0}, name=label))
ui.log_axis(ttl_fig, "x", "TTL (s)")
left, right = st.columns(2)
left.plotly_chart(ui.style(ttl_fig, "Hit rate by TTL, with the reference's TTL guidance", percent=True),
                  width="stretch")
lru = c.lru_table()
lru_fig = go.Figure(go.Scatter(x=lru["size"], y=lru["hit_rate"], mode="lines", line_shape="hv", name="LRU"))
lru_fig.add_hline(y=target, line_dash="dash", line_color="#2e7d32", annotation_text=f"target {target:.0%}")
ui.log_axis(lru_fig, "x", "cache entries per service")
right.plotly_chart(ui.style(lru_fig, "Hit rate by LRU size, no expiry (stack distances)", percent=True),
                   width="stretch")
st.caption(f"Savings per TTL count the searches no cache served already and assume a hit takes "
           f"{c.hit_latency_ms:.1f} ms ({c.hit_latency_source}) instead of {c.avg_miss_latency_ms:.1f} ms, the "
           "average of the successful cacheable searches no cache served. The TTL curve equals the exact replay when "
           "a user's calls do not overlap in time. The LRU curve keeps an invalidated entry until it is evicted (a "
           "lower bound for the real cache, which deletes it; the replay above deletes it).")
ui.table(c.ttl_curve, column_config={
    "hit_rate": st.column_config.NumberColumn("hit rate", format="percent"),
    "cost_saved_usd": st.column_config.NumberColumn("cost saved", format="$%.6f"),
    "latency_saved_ms": st.column_config.NumberColumn("wait saved ms", format="%.0f")})
kind = st.radio("Cache code for the simulated settings", ["lru", "redis"], horizontal=True, key="opt_cache_kind")
ttl_pick = c.ttl_for_target_s or c.settings_ttl_s
st.code(cache_config_code(kind, ttl_pick, c.lru_size_for_target or max(cfg.optimize.cache.lru_sizes)),
        language="python")

# ---- memories
st.subheader("Duplicates, pruning, archival")
d, p, a = adv.dedup, adv.pruning, adv.archival
m = st.columns(4)
m[0].metric("Memories (latest snapshot)", f"{d.memories:,}")
m[1].metric("To merge", f"{d.redundant_memories:,}", help=f"exact text hash, or cosine >= {d.merge_threshold} "
            f"(vectors: {d.vectors_source}); {d.review_threshold}-{d.merge_threshold} is listed for review")
m[2].metric("Pruning candidates", f"{len(p.candidates):,}", help=f"never returned, top score < "
            f"{p.score_threshold}, redundant, or idle > {p.stale_days:g} days")
m[3].metric("Archival saving / month", ui.money(a.saving_usd_month), help=f"{a.saving_share:.0%} of storage")
if d.memories == 0:
    st.info("No memory snapshot in the warehouse: run `memlens collect snapshot` to analyse duplicates, pruning "
            "and archival.", icon=":material/info:")
left, right = st.columns(2)
with left:
    st.caption("Duplicate pairs (first 200)")
    ui.table(d.pairs.head(200))
    st.download_button("Download ids to merge (CSV)", partial(safe_csv, d.merge_ids), "memlens-merge-ids.csv",
                       "text/csv", disabled=d.merge_ids.empty)
with right:
    st.caption("Pruning candidates by reason")
    ui.table(p.by_reason.assign(reason=p.by_reason["reason"].str.replace("_", " ")))
    st.caption("Storage tiers")
    ui.table(a.tiers)

# ---- forecast
f = adv.forecast
st.subheader("Month-end cost forecast")
if f.month is None:
    st.info("No priced calls yet.", icon=":material/info:")
else:
    m = st.columns(3)
    label = ui.projection_label(f.month, f.daily["day"].iloc[-1], ", whole warehouse")
    m[0].metric(label, ui.money(f.projected_usd),
                help=f"spent {ui.money(f.spent_usd)} + {f.days_in_month - f.days_elapsed} days x "
                f"{ui.money(f.mean_daily_usd)}/day")
    m[1].metric(f"{f.interval:.0%} interval", "n/a" if f.low_usd is None else
                f"{ui.money(f.low_usd)} – {ui.money(f.high_usd)}", help="bootstrap of the remaining days")
    m[2].metric("Chance over budget", "n/a" if f.p_over_budget is None else ui.pct(f.p_over_budget),
                help=f"monthly budget {ui.money(f.budget_usd)}")
    daily = f.daily
    fig = go.Figure(go.Bar(x=daily["day"], y=daily["total_cost_usd"], name="daily cost"))
    cum = np.cumsum(daily["total_cost_usd"].to_numpy())
    fig.add_trace(go.Scatter(x=daily["day"], y=cum, name="month to date", yaxis="y2"))
    end = (f.month + pd.offsets.MonthEnd(0)).date()
    fig.add_trace(go.Scatter(x=[daily["day"].iloc[-1], end], y=[cum[-1], f.projected_usd], name="projection",
                             line_dash="dash", yaxis="y2"))
    if f.low_usd is not None:
        fig.add_trace(go.Scatter(x=[end, end], y=[f.low_usd, f.high_usd], mode="lines+markers",
                                 name=f"{f.interval:.0%} interval", yaxis="y2"))
    # Both axes from zero with their own round ticks (synced ticks gave 0.183, 0.285, ... and a negative one).
    fig.update_layout(yaxis={"rangemode": "tozero"}, yaxis2={
        "overlaying": "y", "side": "right", "title": "USD cumulative", "rangemode": "tozero", "tickmode": "auto",
        "showgrid": False})
    left, right = st.columns(2)
    left.plotly_chart(ui.style(fig, "Daily cost and month-end projection", "USD / day"), width="stretch")
    with right:
        st.caption("Drivers this month (share of cost, projected month-end)")
        ui.table(f.drivers,
                     column_config={"share": st.column_config.NumberColumn("share", format="percent")})

# ---- vector store
s = adv.store
st.subheader(f"Vector store: {s.store}")
for reason in s.reasons:
    st.text(f"• {reason}")
st.code(s.code, language="python")
