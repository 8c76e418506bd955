"""Cost: daily/weekly/monthly cost, breakdowns and top spenders, month to date vs budget, weekly review."""

from datetime import date

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from memlens import cost_review
from memlens.dashboard import state, ui

ctx = state.current()
st.title("Cost")
ctx.guard()
th = ctx.cfg.thresholds
modes = ctx.metric("cost", ("mode",))

if int(modes["unpriced_tokens"].sum()) or int(modes["unpriced_calls"].sum()):
    st.warning(f"Some usage has no price in the config ({int(modes['unpriced_tokens'].sum()):,} tokens, "
               f"{int(modes['unpriced_calls'].sum()):,} Platform calls): it counts as $0 here. Add the models to "
               "`prices` in your config.", icon=":material/price_change:")
if "platform" in set(modes["mode"]) and not any(ctx.cfg.prices.platform_per_call.values()):
    st.info("Platform calls are priced at $0 until you set `prices.platform_per_call` from your Mem0 plan.")

tab_cost, tab_break, tab_week = st.tabs(["Cost over time", "Breakdown & top spenders", "Weekly cost review"])

with tab_cost:
    review = ctx.review()
    present = set(modes["mode"])
    shown = ["total_cost_usd"] + [f"cost_per_1k_{mode}" for mode in ("oss", "platform") if mode in present]
    c = st.columns(len(shown) + 2)
    for col, key in zip(c, shown, strict=False):
        ctx.show(col, key)
    if review:
        m = review.month
        c[-2].metric(f"Month to date ({m.month_start:%b %Y}, up to {review.as_of:%b %d})", ui.money(m.cost_usd),
                     help=f"{m.days_elapsed} of {m.days_in_month} days, up to {review.as_of}")
        c[-1].metric(ui.projection_label(m.month_start, review.as_of), ui.money(m.projected_usd),
                     delta=f"{'over' if m.over_budget else 'within'} {ui.money(m.budget_usd)} budget",
                     delta_color="red" if m.over_budget else "green", delta_arrow="off",
                     help="spent so far + the days left × the mean daily cost since the month's data starts "
                     "(thresholds.monthly_budget_usd)")
    daily = ctx.metric("cost", ("bucket",), "day").rename(columns={"bucket": "day"})
    grain = st.segmented_control("Per", ["day", "week", "month"], default="day") or "day"
    per = daily.assign(day=pd.to_datetime(daily["day"]))
    if grain != "day":
        per = per.set_index("day").resample("W-MON" if grain == "week" else "MS", label="left",
                                            closed="left").sum(numeric_only=True).reset_index()
    fig = go.Figure([go.Bar(x=per["day"], y=per[col], name=name) for col, name in
                     (("embedding_cost_usd", "embedding"), ("llm_cost_usd", "LLM"), ("platform_cost_usd", "Platform"))])
    fig.update_layout(barmode="stack")
    if grain == "day" and per["total_cost_usd"].max() > th.daily_budget_usd / 4:  # else the line flattens the bars
        fig.add_hline(y=th.daily_budget_usd, line_dash="dash", line_color="#c0392b", annotation_text="daily budget")
    st.plotly_chart(ui.style(fig, f"Cost per {grain} (USD)", "USD"), width="stretch")
    st.caption(f"Daily budget {ui.money(th.daily_budget_usd)}, monthly {ui.money(th.monthly_budget_usd)} "
               "(thresholds in the config).")

with tab_break:
    limit = 15
    left, right = st.columns(2)
    by_model = ctx.metric("cost_by_model").assign(
        key=lambda d: d["kind"] + ": " + d["model"].fillna("(unnamed)"))
    by_model = by_model.rename(columns={"events": "ops", "cost_usd": "total_cost_usd"})
    breakdowns = (
        (left, ctx.metric("cost", ("op",)).rename(columns={"op": "key"}), "By operation"),
        (right, by_model[["key", "ops", "total_cost_usd"]], "By model"),
        (left, ctx.metric("cost", ("user_id",)).rename(columns={"user_id": "key"}).fillna({"key": "(no user)"}),
         "Top spenders: users"),
        (right, ctx.metric("cost", ("agent_id",)).rename(columns={"agent_id": "key"}).fillna({"key": "(no agent)"}),
         "By agent"))
    for col, df, title in breakdowns:
        df = df.sort_values(["total_cost_usd", "ops"], ascending=False).head(limit)
        df = df[[c for c in ("key", "ops", "total_cost_usd", "embedding_cost_usd", "llm_cost_usd",
                             "platform_cost_usd") if c in df.columns]]
        with col:
            fig = go.Figure(go.Bar(x=df["total_cost_usd"], y=df["key"].astype(str), orientation="h"))
            fig.update_yaxes(autorange="reversed", type="category")
            st.plotly_chart(ui.style(fig, title, height=300), width="stretch")
            with st.expander("table"):
                ui.table(df)

with tab_week:
    last = ctx.as_of
    as_of = st.date_input("Week ending (inclusive)", value=last, max_value=ctx.data_last, key="review_as_of")
    r = ctx.review(as_of if isinstance(as_of, date) else last)
    st.caption("The 7 days ending on that day vs the 7 days before. Uses the sidebar's service, user, agent, op and "
               "model filters, not its time range.")
    if r is None:
        st.info("No cost data to review.")
    else:
        c = st.columns(4)
        c[0].metric(f"This week ({r.this_week.label})", ui.money(r.this_week.total_cost_usd),
                    delta=ui.delta_pct(r.delta_pct), delta_color="inverse")
        c[1].metric(f"Last week ({r.last_week.label})", ui.money(r.last_week.total_cost_usd))
        c[2].metric(f"{ui.figure_label('cost_per_1k_oss')}, this week", ui.money(r.this_week.cost_per_1k_oss),
                    delta=ui.delta_pct(cost_review.pct_change(r.last_week.cost_per_1k_oss or 0,
                                                              r.this_week.cost_per_1k_oss or 0)),
                    delta_color="inverse")
        c[3].metric(ui.projection_label(r.month.month_start, r.as_of), ui.money(r.month.projected_usd),
                    delta=f"{'over' if r.month.over_budget else 'within'} {ui.money(r.month.budget_usd)} budget",
                    delta_color="red" if r.month.over_budget else "green", delta_arrow="off")
        ui.table(r.by_op, column_config={
            "last_week_usd": st.column_config.NumberColumn("last week $", format="$%.4f"),
            "this_week_usd": st.column_config.NumberColumn("this week $", format="$%.4f"),
            "delta_usd": st.column_config.NumberColumn("change (USD)", format="%+.4f"),
            "delta_pct": None,  # shown as `change`: words where a percentage is undefined ($0 last week)
            "change": st.column_config.TextColumn("change"),
            "last_week_ops": st.column_config.NumberColumn("calls last week"),
            "this_week_ops": st.column_config.NumberColumn("calls this week"),
        })
        scope = ", ".join(f"{k}={v}" for k, v in (("service", ctx.filters.service), ("user", ctx.filters.user),
                          ("agent", ctx.filters.agent), ("op", ctx.filters.op), ("model", ctx.filters.model)) if v)
        scope = scope or "all services, users, agents, operations and models"
        demo = bool(ctx.demo_events)
        md = cost_review.to_markdown(r, scope, demo)
        stem = f"mem0-cost-review-{r.as_of:%Y-%m-%d}"
        d = st.columns(3)
        d[0].download_button("Download CSV", cost_review.to_csv(r), f"{stem}.csv", "text/csv",
                             icon=":material/table:")
        d[1].download_button("Download report (Markdown)", md, f"{stem}.md", "text/markdown",
                             icon=":material/description:")
        d[2].download_button("Download report (HTML)", cost_review.to_html(r, scope, demo), f"{stem}.html",
                             "text/html", icon=":material/html:")
        with st.expander("Report preview", expanded=False):
            st.markdown(md)
