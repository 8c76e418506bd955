"""Cache: hit rate over time, what could be served, the miss penalty against uncached searches, hit rate by user
and by query pattern, TTL guidance."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from memlens import figures
from memlens.dashboard import state, ui
from memlens.figures import FIGURES

ctx = state.current()
st.title("Cache")
ctx.guard()
t = ctx.cfg.targets

f = ctx.figures("hit_rate", "miss_penalty", "miss_baseline_ms", "cache_requests", "avg_hit_ms", "avg_miss_ms",
                "could_be_served", "could_be_served_through_cache")
if not f["cache_requests"]:
    st.info("**No cache outcomes in the selection.** Put memlens's search cache in front of Mem0 to measure it: "
            "`instrument(memory, cache=SearchCache(ttl_s=300, max_entries=10_000))` (or `RedisSearchCache`). "
            "The Optimize page replays your log through that cache at every TTL and size.",
            icon=":material/info:")
    ctx.show(st, "could_be_served", f["could_be_served"])
else:
    c = st.columns(4)
    for col, key in zip(c, ("hit_rate", "could_be_served_through_cache", "miss_penalty", "miss_baseline_ms"),
                        strict=True):
        ctx.show(col, key, f[key])
    c = st.columns(4)
    for col, key in zip(c, ("cache_requests", "avg_hit_ms", "avg_miss_ms", "could_be_served"), strict=True):
        ctx.show(col, key, f[key])
    cache_row = ctx.metric("cache")
    note = cache_row["miss_penalty_note"].iloc[0] if len(cache_row) else None
    st.caption("**Could be served**: " + FIGURES["could_be_served"].help + ". **Miss penalty**: "
               + FIGURES["miss_penalty"].help + "." + (f" Not measured here: {note}." if isinstance(note, str) else ""))

    daily = ctx.metric("ops", ("bucket",), "day")
    daily = daily[daily["cache_requests"] > 0].rename(columns={"bucket": "day"})
    fig = ui.line_chart(daily, "day", "hit_rate", title="Hit rate per day", target=t.cache_hit_rate,
                        target_label=f"target {t.cache_hit_rate:.0%}", percent=True)
    if len(daily):
        ui.target_line(fig, "alert", x=[daily["day"].min(), daily["day"].max()],
                       y=[ctx.cfg.thresholds.cache_hit_rate_min] * 2, color="#e67e22")
    left, right = st.columns(2)
    left.plotly_chart(fig, width="stretch")
    pen = go.Figure([go.Bar(x=daily["day"], y=daily["avg_hit_ms"], name="hit"),
                     go.Bar(x=daily["day"], y=daily["avg_miss_ms"], name="miss")])
    if f["miss_baseline_ms"] is not None and len(daily):
        ui.target_line(pen, f"uncached search {figures.format_value(f['miss_baseline_ms'], 'ms')} (miss penalty "
                       "baseline, whole selection)", x=[daily["day"].min(), daily["day"].max()],
                       y=[f["miss_baseline_ms"]] * 2, color="#c0392b")
    right.plotly_chart(ui.style(pen, "Average latency: hit vs miss (log scale)", "ms", log_y=True), width="stretch")

    fmt = {"hit_rate": st.column_config.NumberColumn("hit rate", format="percent"),
           "miss_penalty": st.column_config.NumberColumn("miss penalty", format="%.2f×")}
    if ctx.on_demand("hit rate by user and by query pattern", "cache_deep"):
        left, right = st.columns(2)
        with left:
            st.subheader("By user")
            st.caption("The 50 users with the most cache requests.")
            by_user = ctx.metric("ops", ("user_id",)).merge(ctx.metric("cache", ("user_id",)), on="user_id")
            by_user = by_user[by_user["cache_requests"] > 0].assign(lookups=lambda d: d["hits"] + d["misses"])
            by_user = by_user.sort_values(["lookups", "user_id"], ascending=[False, True]).head(50)
            ui.table(by_user[["user_id", "hits", "misses", "hit_rate", "miss_penalty"]].fillna(
                {"user_id": "(no user)"}), column_config=fmt)
        with right:
            st.subheader("By query pattern")
            st.caption("The 50 most requested normalised queries (hash of the query text, never the text itself).")
            by_query = ctx.metric("ops", ("query_hash",)).merge(ctx.metric("distinct_users", ("query_hash",)),
                                                                 on="query_hash")
            by_query = by_query[(by_query["cache_requests"] > 0) & by_query["query_hash"].notna()]
            by_query = by_query.sort_values(["cache_requests", "query_hash"], ascending=[False, True]).head(50)
            ui.table(by_query[["query_hash", "cache_requests", "users", "hits", "misses", "hit_rate"]].rename(
                columns={"cache_requests": "requests"}), column_config=fmt)

st.subheader("TTL guidance")
st.caption("From the reference. Invalidate a user's entries on every add/update/delete (memlens's caches do).")


def _minutes(lo: int, hi: int) -> str:
    return f"{lo // 60} min" if lo == hi else f"{lo // 60}-{hi // 60} min"


ttl = pd.DataFrame([{"data": k.replace("_", " "), "min TTL (s)": lo, "max TTL (s)": hi, "in minutes": _minutes(lo, hi)}
                    for k, (lo, hi) in ctx.cfg.ttl_guidelines.items()])
ui.table(ttl)
