"""memlens dashboard entry point: `memlens dashboard` or `streamlit run dashboard/app.py`.

The frame of every page: the warehouse bootstrap (demo workload loaded into an empty default warehouse), the
sidebar's selection (time window and filters, kept in the URL: dashboard/sidebar.py), the demo banner, and the page
navigation. Pages are thin: they read `state.current()`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from memlens import rollups
from memlens.dashboard import data, sidebar, state, timerange
from memlens.resources import resource

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
    events = int(span["events"])
    first = span["first_day"] if events else None
    last = span["last_day"] if events else None
    opts = state.cached(path, load_key, "query", data.options_query(speed))
    options = {k: list(g["value"]) for k, g in opts.groupby("kind", sort=False)}
    selection, problems = sidebar.read(options)
    window = timerange.resolve(selection.choice, _ts(span["first_ts"]) if events else None,
                               _ts(span["last_ts"]) if events else None)
    sidebar.write(selection.params())
    sidebar.render(selection_box, selection, window, options, problems, datetime.now(UTC).replace(tzinfo=None))
    dims = data.Filters(**{param: selection.filters.get(param) for param in sidebar.FILTERS})
    filters = window.filters(dims) if window is not None else dims
    return state.Ctx(path, cfg, filters, load_key, first, last, events, int(span["demo_events"]), speed, window)


def _ts(value) -> datetime:
    return pd.Timestamp(value).to_pydatetime()


def navigation(where) -> None:
    """The page links, carrying the selection (st.navigation's own menu would drop the URL's parameters)."""
    for section, pages in PAGES.items():
        where.caption(section)
        for p in pages:
            where.page_link(p, label=p.title, icon=p.icon, query_params=sidebar.current(), width="stretch")


nav = st.navigation(PAGES, position="hidden")
st.sidebar.markdown("### memlens")
nav_box = st.sidebar.container()
selection_box = st.sidebar.container()
DEFAULT_PATH = str(state.config().default_warehouse_path())
PATH = st.sidebar.text_input("Warehouse (DuckDB file or URL)", value=str(state.config().warehouse_url()),
                             key="warehouse", help="A DuckDB file, or a URL: duckdb:///file, "
                             "clickhouse://user@host:8123/db, chdb:///folder (docs/scale.md). Defaults to "
                             "$MEMLENS_WAREHOUSE, else warehouse.url / warehouse.path of the config.").strip()
with state.holder(PATH).in_use():  # the file is open only while this script runs
    ctx = build_context(PATH, DEFAULT_PATH)
    if ctx is not None:
        state.set_current(ctx)
        if ctx.demo_events:
            share = "All" if ctx.demo_events == ctx.events else f"{ctx.demo_events:,} of {ctx.events:,}"
            st.warning(f"**Demo data** — {share} events shown here are synthetic rows from `memlens demo`, not "
                       "your Mem0. Load your own logs on **Data sources**.", icon=":material/science:")
        if ctx.speed.histogram_percentiles:
            st.caption(f"Latency percentiles (P50/P95/P99) come from the daily latency histograms, within "
                       f"{rollups.MAX_RELATIVE_ERROR * 100:.2f} % of the exact values, when the selection is whole "
                       f"UTC days filtered at most by service, mode and operation: this warehouse's {ctx.events:,} "
                       f"events are "
                       f"above dashboard.exact_percentile_max_events "
                       f"({ctx.cfg.dashboard.exact_percentile_max_events:,}). Counts, rates and costs are exact.")
        navigation(nav_box)
        nav.run()
    else:
        navigation(nav_box)
