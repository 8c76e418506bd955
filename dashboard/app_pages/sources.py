"""Data sources: what was collected when, row counts, quarantined lines with reasons, collect / load the demo."""

import os
from pathlib import Path

import duckdb
import streamlit as st

from memlens import backend
from memlens.collectors.base import CollectorError
from memlens.dashboard import state, ui

ctx = state.current()
st.title("Data sources")
st.caption(f"Warehouse: `{ctx.path}`")

counts = ctx.q("table_counts")
c = st.columns(len(counts))
for col, row in zip(c, counts.itertuples(), strict=True):
    col.metric(row.table.removeprefix("raw_").replace("_", " "), f"{row.rows:,}")
if ctx.demo_events:
    st.caption(f"{ctx.demo_events:,} of the {ctx.events:,} operation events are demo rows.")

st.subheader("Sources")
status = ctx.q("source_status")
if status.empty:
    st.info("Nothing collected yet: op logs, OpenTelemetry traces or the Mem0 Platform below.")
else:
    st.caption("Each collector's last collection, what it loaded over all runs, its quarantined records and the rows "
               "it holds now.")
    ui.table(status)

left, right = st.columns(2)
with left, st.container(border=True):
    st.markdown("**Collect operation logs**")
    st.caption("Schema-v1 JSONL (.jsonl, .jsonl.gz, .log) or Parquet files or folders. Incremental and idempotent: "
               "only new bytes are read, re-loaded events are skipped, bad lines are quarantined.")
    paths_text = st.text_area("Paths (one per line)", value=str(ctx.cfg.log_dir()), height=68)
    if st.button("Collect", icon=":material/download:", type="primary"):
        paths = [Path(p.strip()).expanduser() for p in paths_text.splitlines() if p.strip()]
        missing = [str(p) for p in paths if not p.exists()]
        if missing or not paths:
            st.error(f"Not found: {', '.join(missing) or '(no path given)'}")
        else:
            from memlens.collectors.oplog import collect_oplogs

            bar = st.progress(0.0, text="Starting…")

            def progress(done: int, total: int, current: str) -> None:
                bar.progress(min(done / total, 1.0) if total else 1.0,
                             text=f"{done / 2**20:,.1f} of {total / 2**20:,.1f} MiB · {Path(current).name}")

            try:
                with state.write_access(ctx.path, "dashboard: collect logs") as con:
                    result = collect_oplogs(con, paths, ctx.cfg, progress=progress)
            except (CollectorError, duckdb.Error) as exc:
                bar.empty()
                st.error(f"The collection did not run: {exc}")
            else:
                bar.progress(1.0, text="Done")
                st.success(result.summary())
                st.button("Show the new data", on_click=st.rerun)
with right, st.container(border=True):
    st.markdown("**Load the demo workload**")
    st.caption("Writes a synthetic, seeded workload (28 days, 200,000 events, 200 users, with a Mem0 history) and "
               "loads it through the same collectors. Every row is marked as demo and labelled on every page.")
    if ctx.events and ctx.events != ctx.demo_events:
        st.warning("This warehouse holds your own data: demo rows would be mixed in (still labelled). Use another "
                   "warehouse path in the sidebar to keep them apart.")
    if st.button("Load the demo", icon=":material/science:"):
        from memlens.workloads.demo import load_default_demo

        bar = st.progress(0.0, text="Writing the demo workload (synthetic op logs and a Mem0 history)…")
        try:
            with state.write_access(ctx.path, "dashboard: load the demo") as con:
                loaded = load_default_demo(con, ctx.cfg, progress=lambda text, share: bar.progress(share, text=text))
        except (CollectorError, duckdb.Error) as exc:
            bar.empty()
            st.error(f"The demo was not loaded: {exc}")
        else:
            if loaded is None:  # loading it again would only repeat the same events
                bar.empty()
                st.info("This warehouse holds the demo already.")
            else:
                bar.progress(1.0, text="Done")
                st.success(f"Demo loaded: {loaded.oplog.summary()}")
                st.button("Show the demo", on_click=st.rerun)

otel_box, platform_box = st.columns(2)
with otel_box, st.container(border=True):
    st.markdown("**Collect OpenTelemetry traces**")
    st.caption("OTLP JSON Lines files (.jsonl, .jsonl.gz) from the Collector's file exporter or "
               "opentelemetry-exporter-otlp-json-file. OpenLIT's Mem0 spans and the GenAI memory conventions become "
               "operations; other spans are counted below.")
    otel_text = st.text_area("Trace files or folders (one per line)", key="otel_paths", height=68)
    if st.button("Collect traces", icon=":material/timeline:"):
        paths = [Path(p.strip()).expanduser() for p in otel_text.splitlines() if p.strip()]
        missing = [str(p) for p in paths if not p.exists()]
        if missing or not paths:
            st.error(f"Not found: {', '.join(missing) or '(no path given)'}")
        else:
            from memlens.collectors.otel import collect_otel

            try:
                with state.write_access(ctx.path, "dashboard: collect otel") as con:
                    result = collect_otel(con, paths, ctx.cfg)
            except (CollectorError, duckdb.Error) as exc:
                st.error(f"The collection did not run: {exc}")
            else:
                st.success(result.summary())
                st.button("Show the new data", key="otel_done", on_click=st.rerun)
with platform_box, st.container(border=True):
    st.markdown("**Collect from the Mem0 Platform**")
    key_env = ctx.cfg.platform.api_key_env
    st.caption(f"Pages through GET /v1/events/ and records a GET /v1/stats/ snapshot. The API key is read from "
               f"${key_env} ({'set' if os.environ.get(key_env) else 'not set'}), never stored.")
    platform_url = st.text_input("API base URL", value=ctx.cfg.platform.url)
    if st.button("Collect from the Platform", icon=":material/cloud_download:"):
        from memlens.collectors.platform import collect_platform

        with st.spinner("Fetching events (the warehouse stays open for reading meanwhile)…"):
            try:
                result = collect_platform(backend.resolve(ctx.path), ctx.cfg, platform_url, open_for_write=lambda: (
                    state.write_access(ctx.path, "dashboard: collect platform")))
            except (CollectorError, duckdb.Error) as exc:
                st.error(f"The collection did not run: {exc}")
            else:
                st.success(result.summary())
                st.button("Show the new data", key="platform_done", on_click=st.rerun)

spans = ctx.q("otel_span_counts")
if not spans.empty:
    st.subheader("OpenTelemetry spans")
    unknown = int(spans.loc[spans["disposition"] == "unknown", "spans"].sum())
    st.caption(f"What each span read became: op (an operation), phase / child (inside one), ignored (known, not an "
               f"operation), late, unknown ({unknown:,} spans no mapping names; see docs/inputs.md).")
    ui.table(spans)
stats = ctx.q("platform_stats")
if not stats.empty:
    st.subheader("Mem0 Platform totals")
    ui.table(stats)

st.subheader("Collection runs")
runs = ctx.q("ingest_runs", limit=100)
if runs.empty:
    st.info("No collection has run yet. Collect logs above or run `memlens collect logs <dir>`.")
else:
    ui.table(runs)

st.subheader("Quarantine")
reasons = ctx.q("quarantine_reasons")
if reasons.empty:
    st.success("No quarantined input: every line read was loaded.", icon=":material/check_circle:")
else:
    st.caption("Input the collectors could not load, grouped by reason. Nothing is dropped silently: fix the "
               "producer, then collect again.")
    ui.table(reasons)
    with st.expander("The latest 200 quarantined lines"):
        ui.table(ctx.q("quarantine_rows", limit=200))
