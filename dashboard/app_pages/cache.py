"""Cache: hit rate over time, miss penalty, hit rate by user and by query pattern, TTL guidance."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from memlens.dashboard import state, ui

ctx = state.current()
st.title("Cache")
s = ctx.guard()
t = ctx.cfg.targets

requests = s["cache_hits"] + s["cache_misses"] + s["cache_bypasses"]
if not requests:
    st.info("**No cache outcomes in the selection.** Put memlens's search cache in front of Mem0 to measure it: "
            "`instrument(memory, cache=SearchCache(ttl_s=300, max_entries=10_000))` (or `RedisSearchCache`). "
            "The Optimize page can estimate what a cache would have served from your logs.",
            icon=":material/info:")
else:
    c = st.columns(4)
    c[0].metric("Hit rate", ui.pct(s["hit_rate"]), help=f"hits / (hits + misses); target > {t.cache_hit_rate:.0%}")
    c[1].metric("Miss penalty", "n/a" if s["miss_penalty"] is None else f"{s['miss_penalty']:.2f}×",
                help=f"average miss latency / average hit latency; target < {t.cache_miss_penalty:.0f}×")
    c[2].metric("Cache requests", f"{requests:,}", help="calls with a cache outcome (hit, miss or bypass)")
    c[3].metric("Avg hit / miss", f"{ui.ms(s['avg_hit_ms'])} / {ui.ms(s['avg_miss_ms'])}")

    daily = ctx.q("cache_over_time")
    fig = ui.line_chart(daily, "day", "hit_rate", title="Hit rate per day", target=t.cache_hit_rate,
                        target_label=f"target {t.cache_hit_rate:.0%}", percent=True)
    if len(daily):
        ui.target_line(fig, "alert", x=[daily["day"].min(), daily["day"].max()],
                       y=[ctx.cfg.thresholds.cache_hit_rate_min] * 2, color="#e67e22")
    left, right = st.columns(2)
    left.plotly_chart(fig, width="stretch")
    pen = go.Figure([go.Bar(x=daily["day"], y=daily["avg_hit_ms"], name="hit"),
                     go.Bar(x=daily["day"], y=daily["avg_miss_ms"], name="miss")])
    right.plotly_chart(ui.style(pen, "Average latency: hit vs miss (log scale)", "ms", log_y=True), width="stretch")

    fmt = {"hit_rate": st.column_config.NumberColumn("hit rate", format="percent"),
           "miss_penalty": st.column_config.NumberColumn("miss penalty", format="%.2f×")}
    if ctx.on_demand("hit rate by user and by query pattern", "cache_deep"):
        left, right = st.columns(2)
        with left:
            st.subheader("By user")
            st.caption("The 50 users with the most cache requests.")
            ui.table(ctx.q("cache_by_user", limit=50), column_config=fmt)
        with right:
            st.subheader("By query pattern")
            st.caption("The 50 most requested normalised queries (hash of the query text, never the text itself).")
            ui.table(ctx.q("cache_by_query", limit=50), column_config=fmt)

st.subheader("TTL guidance")
st.caption("From the reference. Invalidate a user's entries on every add/update/delete (memlens's caches do).")


def _minutes(lo: int, hi: int) -> str:
    return f"{lo // 60} min" if lo == hi else f"{lo // 60}-{hi // 60} min"


ttl = pd.DataFrame([{"data": k.replace("_", " "), "min TTL (s)": lo, "max TTL (s)": hi, "in minutes": _minutes(lo, hi)}
                    for k, (lo, hi) in ctx.cfg.ttl_guidelines.items()])
ui.table(ttl)
