"""memlens dashboard entry point: `memlens dashboard` or `streamlit run dashboard/app.py`.

The frame of every page: the warehouse bootstrap (demo workload loaded into an empty default warehouse), the
sidebar filters, the demo banner, and the page navigation. Pages are thin: they read `state.current()`.
"""

from __future__ import annotations

import os
from datetime import date, timedelta

import streamlit as st

from memlens.dashboard import data, state
from memlens.resources import resource

ALL_LABEL = "All"

st.set_page_config(page_title="memlens — Mem0 observability", page_icon=":material/monitoring:", layout="wide")


def page(file: str, title: str, icon: str, default: bool = False) -> st.Page:
    return st.Page(str(resource("memlens.dashboard", "app_pages", file)), title=title, icon=icon, default=default)


PAGES = {
    "Monitor": [
        page("overview.py", "Overview", ":material/monitor_heart:", default=True),
        page("latency.py", "Latency", ":material/speed:"),
        page("cache.py", "Cache", ":material/cached:"),
        page("cost.py", "Cost", ":material/payments:"),
        page("growth.py", "Growth & storage", ":material/database:"),
    ],
    "Act": [
        page("diagnosis.py", "Diagnosis", ":material/account_tree:"),
        page("optimization.py", "Optimize", ":material/savings:"),
        page("alerts.py", "Alerts & export", ":material/notifications:"),
    ],
    "Data": [
        page("sources.py", "Data sources", ":material/input:"),
        page("runs.py", "Runs", ":material/compare_arrows:"),
    ],
}


def _choice(label: str, options: list[str], key: str) -> str | None:
    value = st.sidebar.selectbox(label, [ALL_LABEL, *options], key=key)
    return None if value == ALL_LABEL else value


def _time_range(first: date | None, last: date | None) -> tuple[date | None, date | None]:
    if first is None or last is None:
        return None, None
    picked = st.sidebar.date_input("Time range (UTC days)", value=(first, last), min_value=first,
                                   max_value=last + timedelta(days=1), key="time_range", format="YYYY-MM-DD")
    if isinstance(picked, date):
        return picked, picked
    if len(picked) == 1:  # the second click of a range is pending
        return picked[0], picked[0]
    return picked[0], picked[1]


def build_context(path: str, default_path: str) -> state.Ctx | None:
    cfg = state.config()
    try:
        demo_here = path == default_path or bool(os.environ.get("MEMLENS_DASHBOARD_DEMO"))  # `memlens dashboard --demo`
        boot = state.bootstrap(path, cfg.dashboard.demo_when_empty and demo_here)
        h = state.holder(path)
        try:
            load_key = h.last_load_key = h.run(data.load_key)
        except data.WarehouseUnavailable:
            if h.last_load_key is None:
                raise
            # A collection in another process holds the file: keep serving the aggregates cached at the last load.
            load_key = h.last_load_key
            st.info("A collection is writing to the warehouse: showing the data as of its last load. Reload when "
                    "it has finished to see the new rows.", icon=":material/sync:")
        speed = state.speed(path, load_key, int(load_key[0]))  # load_key starts with the event count
        span = state.cached(path, load_key, "query", "data_span").iloc[0]
    except data.WarehouseUnavailable as exc:
        st.error(f"**The warehouse cannot be opened.** {exc}\n\nIf a collection is running, wait for it to finish "
                 "and reload; otherwise check the path in the sidebar.", icon=":material/error:")
        return None
    if boot.message:
        st.toast(boot.message)
    first = span["first_day"] if span["events"] else None
    last = span["last_day"] if span["events"] else None
    start, end = _time_range(first, last)
    opts = state.cached(path, load_key, "query", "filter_options")
    options = {k: list(g["value"]) for k, g in opts.groupby("kind", sort=False)}
    filters = data.Filters.days(
        start, end,
        service=_choice("Service", options.get("service", []), "f_service"),
        user=_choice("User", options.get("user", []), "f_user"),
        agent=_choice("Agent", options.get("agent", []), "f_agent"),
        op=_choice("Operation", options.get("op", []), "f_op"),
        model=_choice("Model", options.get("model", []), "f_model"),
    )
    return state.Ctx(path, cfg, filters, load_key, first, last, int(span["events"]), int(span["demo_events"]), speed)


nav = st.navigation(PAGES)
st.sidebar.markdown("### memlens")
DEFAULT_PATH = str(state.config().default_warehouse_path())
PATH = st.sidebar.text_input("Warehouse (DuckDB file)", value=str(state.config().warehouse_path()), key="warehouse",
                             help="Defaults to $MEMLENS_WAREHOUSE or warehouse.path of the config.").strip()
with state.holder(PATH).in_use():  # the file is open only while this script runs
    ctx = build_context(PATH, DEFAULT_PATH)
    if ctx is not None:
        state.set_current(ctx)
        if ctx.demo_events:
            share = "All" if ctx.demo_events == ctx.events else f"{ctx.demo_events:,} of {ctx.events:,}"
            st.warning(f"**Demo data** — {share} events shown here are synthetic rows from `memlens demo`, not "
                       "your Mem0. Load your own logs on **Data sources**.", icon=":material/science:")
        nav.run()
