"""Cost: cost over time, breakdowns and top spenders, budgets, and the weekly cost review (the report `memlens
report weekly` writes: memlens.cost_review computes and words both)."""

from datetime import UTC, datetime, time, timedelta
from functools import partial

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from memlens import budgets, cost_review
from memlens.dashboard import state, ui
from memlens.safetext import md_escape

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

tab_cost, tab_break, tab_budget, tab_week, tab_advice = st.tabs([
    "Cost over time", "Breakdown & top spenders", "Budgets", "Weekly cost review", "Cost advice"],
    key="cost_tab", on_change="rerun")

if tab_cost.open:  # only the chosen tab runs (and is sent to the browser)
    with tab_cost:
        month = ctx.month()
        present = set(modes["mode"])
        shown = ["total_cost_usd"] + [f"cost_per_1k_{mode}" for mode in ("oss", "platform") if mode in present]
        c = st.columns(len(shown) + 2)
        for col, key in zip(c, shown, strict=False):
            ctx.show(col, key)
        if month:
            c[-2].metric(f"Month to date ({month.month_start:%b %Y}, up to {month.through:%b %d})",
                         ui.money(month.cost_usd),
                         help=f"{month.through.day} of {month.days_in_month} days, up to {month.through}")
            interval = (f"; {month.interval:.0%} interval {ui.money(month.low_usd)} – {ui.money(month.high_usd)}"
                        if month.low_usd is not None else "")
            verdict = ("no monthly budget at this scope" if month.budget_usd is None else
                       f"{'over' if month.over_budget else 'within'} {ui.money(month.budget_usd)} budget")
            c[-1].metric(ui.projection_label(month.month_start, month.through), ui.money(month.projected_usd),
                         delta=verdict, delta_color="red" if month.over_budget else "green", delta_arrow="off",
                         help="spent so far + the days left × the mean daily cost since the month's data starts"
                         f"{interval} (thresholds.monthly_budget_usd: the team's budget, shown for the team's view "
                         "only)")
        daily = ctx.metric("cost", ("bucket",), "day").rename(columns={"bucket": "day"})
        grain = st.segmented_control("Per", ["day", "week", "month"], default="day") or "day"
        per = daily.assign(day=pd.to_datetime(daily["day"]))
        if grain != "day":
            per = per.set_index("day").resample("W-MON" if grain == "week" else "MS", label="left",
                                                closed="left").sum(numeric_only=True).reset_index()
        fig = go.Figure([go.Bar(x=per["day"], y=per[col], name=name) for col, name in
                         (("embedding_cost_usd", "embedding"), ("llm_cost_usd", "LLM"),
                          ("platform_cost_usd", "Platform"))])
        fig.update_layout(barmode="stack")
        daily_budget = next((b for b in budgets.at_scope(budgets.all_budgets(ctx.cfg), ctx.no_time)
                             if b.period == "1d"), None)
        if grain == "day" and daily_budget and per["total_cost_usd"].max() > daily_budget.usd / 4:  # else it flattens
            fig.add_hline(y=daily_budget.usd, line_dash="dash", line_color="#c0392b",
                          annotation_text=f"daily budget ({daily_budget.scope_text})")
        st.plotly_chart(ui.style(fig, f"Cost per {grain} (USD)", "USD"), width="stretch")
        st.caption(f"Team budgets: daily {ui.money(th.daily_budget_usd)}, monthly {ui.money(th.monthly_budget_usd)} "
                   "(thresholds in the config); per service, user and agent: the Budgets tab.")

if tab_break.open:
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

if tab_budget.open:
    with tab_budget:
        if ctx.as_of is None:
            st.info("No cost data.")
        else:
            end = datetime.combine(ctx.as_of + timedelta(days=1), time.min)
            statuses = ctx.budgets(end - timedelta(days=7), end)
            here = {b.name for b in budgets.at_scope([s.budget for s in statuses], ctx.no_time)}
            st.caption(f"Every budget at its own scope, up to the end of {ctx.as_of:%b %d, %Y} (the selection's last "
                       "day): a daily budget on each of the 7 days before, a rolling one over its period ending then. "
                       "Set them in the config: `budgets:` per service, user or agent (the team's daily budget is "
                       "`thresholds.daily_budget_usd`). The weekly report compares a view with its own scope's "
                       "budgets; the ones marked *this view* apply to the sidebar's selection.")
            rows = pd.DataFrame([{
                "budget": s.budget.name, "scope": s.budget.scope_text, "period": s.budget.period_text,
                "budget_usd": s.budget.usd, "spent_usd": s.spent_usd, "used": s.used, "status": s.verdict,
                "window": f"{s.start:%b %d %H:%M} – {s.end:%b %d %H:%M} UTC", "this_view": s.budget.name in here,
            } for s in statuses])
            over = [s for s in statuses if s.over]
            c = st.columns(2)
            c[0].metric("Budgets set", f"{len(statuses):,}")
            c[1].metric("Budgets exceeded (last 7 days)", f"{len(over):,}",
                        delta=", ".join(s.budget.name for s in over) or None, delta_color="red", delta_arrow="off")
            fig = go.Figure(go.Bar(x=rows["used"].fillna(0), y=rows["budget"], orientation="h",
                                   marker_color=["#c0392b" if o else "#2e7d32" for o in rows["status"].str.startswith(
                                       "over")]))
            fig.add_vline(x=1.0, line_dash="dash", line_color="#555555")
            fig.update_yaxes(autorange="reversed", type="category")
            fig.update_xaxes(tickformat=".0%")
            st.plotly_chart(ui.style(fig, "Spent / budget (daily budgets: the costliest day)",
                                     height=120 + 28 * len(rows)), width="stretch")
            ui.table(rows, column_config={
                "budget_usd": st.column_config.NumberColumn("budget", format="$%.2f"),
                "spent_usd": st.column_config.NumberColumn("spent (daily: costliest day)", format="$%.4f"),
                "used": st.column_config.NumberColumn("used", format="percent"),
                "this_view": st.column_config.CheckboxColumn("this view"),
            })

if tab_week.open:
    with tab_week:
        now = datetime.now(UTC).replace(tzinfo=None)
        mondays = cost_review.week_choices(ctx.data_first, ctx.data_last, now)
        this_monday = cost_review.monday_of(now.date())
        complete = [m for m in mondays if m != this_monday]

        def week_name(m) -> str:
            w = cost_review.Week(m, datetime.combine(m, time.min) + cost_review.WEEK, False)
            if m == this_monday:
                return f"{w.iso} (in progress: the week so far, partial)"
            return f"{w.iso} ({m:%b %d} – {w.last_day:%b %d})"

        default = complete[0] if complete else mondays[0]
        monday = st.selectbox("Week (ISO, UTC)", mondays, index=mondays.index(default), format_func=week_name,
                              key="review_week")
        if monday == this_monday:
            last_ts = ctx.metric("span", filters=ctx.no_time)["last_ts"].iloc[0]
            week = cost_review.resolve_week(None, True, now, None if pd.isna(last_ts) else last_ts.to_pydatetime())
        else:
            week = cost_review.Week(monday, datetime.combine(monday, time.min) + cost_review.WEEK, False)
        r = ctx.review(week)
        st.caption("Uses the sidebar's service, user, agent, op and model filters, not its time range. The same report "
                   f"as `memlens report weekly --week {week.iso}{' --partial' if week.partial else ''}` with those "
                   "filters.")
        if week.partial:
            st.warning(f"PARTIAL WEEK — {week.label}. Every figure covers this span only.", icon=":material/timelapse:")
        else:
            st.caption(week.label)
        warn = cost_review.data_warning(r)
        if warn:
            st.info(warn)
        c = st.columns(4)
        prev_monday = week.monday - cost_review.WEEK
        c[0].metric(f"Total cost, {week.current_label} ({week.iso})", ui.money(r.total),
                    delta=f"{cost_review.signed_usd(r.delta_usd)} "
                          f"({cost_review.change_text(r.delta_pct, r.previous_total, r.total)})",
                    delta_color="inverse")
        c[1].metric(f"Total cost, {week.previous_label} ({prev_monday:%G-W%V})", ui.money(r.previous_total))
        if r.month:
            m = r.month
            c[2].metric(ui.projection_label(m.month_start, m.through), ui.money(m.projected_usd),
                        delta=("no monthly budget at this scope" if m.budget_usd is None else
                               f"{'over' if m.over_budget else 'within'} {ui.money(m.budget_usd)} budget"),
                        delta_color="red" if m.over_budget else "green", delta_arrow="off",
                        help=cost_review.month_line(r))
        c[3].metric(f"Budgets exceeded, {week.current_label} ({week.iso})", f"{sum(s.over for s in r.budgets)} of "
                    f"{len(r.budgets)}", help=r.budget_note)
        st.markdown(f"**{md_escape(cost_review.headline(r))}**")
        charts = cost_review.charts(r)
        left, right = st.columns(2)
        left.image(charts["daily"], width="stretch")
        right.image(charts["movers"], width="stretch")
        st.subheader("Top movers")
        ui.table(cost_review.change_in_words(r.movers), column_config={
            "previous_usd": st.column_config.NumberColumn(week.previous_label, format="$%.4f"),
            "current_usd": st.column_config.NumberColumn(week.current_label, format="$%.4f"),
            "delta_usd": st.column_config.NumberColumn("change", format="%+.4f"),
            "delta_pct": st.column_config.TextColumn("change %"),
            "share_of_change": st.column_config.NumberColumn("share of the change", format="percent"),
        })
        st.subheader("Budgets")
        st.caption(r.budget_note + ".")
        for s in r.budgets:
            (st.error if s.over else st.success)(cost_review.budget_line(s))
        st.subheader("Month to date")
        st.write(cost_review.month_line(r))
        st.subheader("Breakdowns")
        for tab, dim in zip(st.tabs([f"By {cost_review.DIMENSION_TEXT[d].lower()}" for d in cost_review.DIMENSIONS]),
                            cost_review.DIMENSIONS, strict=True):
            with tab:
                if dim == "model":
                    st.image(charts["model"], width="stretch")
                ui.table(cost_review.change_in_words(r.breakdowns[dim]), column_config={
                    "key": st.column_config.TextColumn(cost_review.DIMENSION_TEXT[dim]),
                    "previous_usd": st.column_config.NumberColumn(week.previous_label, format="$%.4f"),
                    "current_usd": st.column_config.NumberColumn(week.current_label, format="$%.4f"),
                    "delta_usd": st.column_config.NumberColumn("change", format="%+.4f"),
                    "delta_pct": st.column_config.TextColumn("change %"),
                    "share_of_change": st.column_config.NumberColumn("share of the change", format="percent"),
                    "previous_calls": st.column_config.NumberColumn(f"calls {week.previous_label}"),
                    "current_calls": st.column_config.NumberColumn(f"calls {week.current_label}"),
                })
        stem = cost_review.file_stem(r)
        d = st.columns(3)
        # the files are made when a button is clicked (a callable), not on every visit
        d[0].download_button("Download CSV tables (zip)", partial(cost_review.csv_zip, r), f"{stem}-csv.zip",
                             "application/zip", icon=":material/table:")
        d[1].download_button("Download report (Markdown)", partial(cost_review.to_markdown, r), f"{stem}.md",
                             "text/markdown", icon=":material/description:")
        d[2].download_button("Download report (HTML)", partial(cost_review.to_html, r), f"{stem}.html", "text/html",
                             icon=":material/html:")

if tab_advice.open:
    with tab_advice:
        adv = state.cost_advice(ctx.path, ctx.load_key)
        st.caption(f"What would cut the calls' cost, projected from the whole warehouse's log "
                   f"({adv.period_days:.1f} days scaled to 30; the sidebar filters do not apply), largest first "
                   "in dollars. Each projection is "
                   "against today's log, so they overlap (an add you skip saves nothing by a cheaper model too). "
                   "Caching and storage levers: the Optimize page; the cost decision tree: the Diagnosis page.")
        table = adv.table()
        c = st.columns(2)
        c[0].metric("Calls' cost per 30 days", ui.money(adv.usd_month_calls))
        c[1].metric("Largest lever per 30 days", ui.money(table["usd_per_month"].iloc[0]) if len(table) else "–",
                    help=table["recommendation"].iloc[0] if len(table) else None)
        fig = go.Figure(go.Bar(x=table["usd_per_month"], y=table["recommendation"], orientation="h"))
        fig.update_yaxes(autorange="reversed", type="category")
        fig.update_xaxes(title="USD per 30 days", tickprefix="$")
        st.plotly_chart(ui.style(fig, "Projected saving (USD per 30 days)", height=140 + 34 * len(table)),
                        width="stretch")
        ui.table(table, column_config={
            "usd_per_month": st.column_config.NumberColumn("USD / 30 days", format="$%.4f"),
            "share_of_call_cost": st.column_config.NumberColumn("of the calls' cost", format="percent"),
        })
        for s in adv.levers:
            with st.expander(f"Evidence: {s.title}"):
                st.text(f"Formula: {s.formula}")
                if s.note:
                    st.text(s.note)
                ui.table(s.evidence)
