"""Alerts & export: edit the alert config (kept until discarded), see beside each threshold how often it would have
fired on this warehouse's history, and download what a monitoring repo holds (the same bytes as
`memlens export all --config <the downloaded config> --format prometheus-operator`)."""

from __future__ import annotations

import difflib
from datetime import datetime

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from memlens.config import ConfigError
from memlens.dashboard import charts, state, timerange, ui
from memlens.dashboard.charts import merge_close, thin_series

try:
    from memlens.alerts import backtest, draft, export, kept_figures, promql
    from memlens.alerts.rules import render_rules
except ImportError:
    st.title("Alerts & export")
    st.info("The alert exporters (`memlens.alerts`) are not installed in this build.")
    st.stop()

DRAFT = "alerts_draft"        # session: the kept draft (a dict), or None = the dashboard's own config
VERSION = "alerts_version"    # bumped when the draft changes: the editors restart from it
FORMAT = "prometheus-operator"

ctx = state.current()
st.title("Alerts & export")
if DRAFT not in st.session_state:
    st.session_state[DRAFT] = draft.read()  # kept across sessions and restarts in <data dir>/alerts-draft.yaml
st.session_state.setdefault(VERSION, 0)
v = st.session_state[VERSION]


def save(new) -> None:
    draft.write(new)
    st.session_state[DRAFT] = draft.as_dict(new)
    st.session_state[VERSION] += 1
    st.rerun()


# Everything below that only depends on the config (its loading, the edits applied, the exported files: rendering the
# promtool tests alone takes seconds) is computed once per config text, so a visit that edits nothing renders at once.
@st.cache_resource(show_spinner=False, max_entries=16)
def _config(kept_draft: dict | None, _base):
    """The config the page shows (the draft over the defaults, or the dashboard's own) and its text."""
    shown = draft.config(kept_draft, _base)
    return shown, export.render_config(shown)


@st.cache_resource(show_spinner=False, max_entries=16)
def _applied(config_text: str, scopes, thresholds, kinds, settings: dict, _cfg):
    """The edited tables and settings over the config of `config_text`, and the new config's text."""
    new = draft.apply(_cfg, scopes, thresholds, kinds, settings)
    return new, export.render_config(new)


@st.cache_resource(show_spinner="Rendering the exports…", max_entries=16)
def _exports(config_text: str, _cfg) -> tuple[dict[str, str], bytes]:
    """The files of `memlens export all` for the config of `config_text`, and their zip."""
    files = export.export_files(_cfg, FORMAT)
    return files, export.zip_bytes(files)


@st.cache_resource(show_spinner=False, max_entries=4)
def _rules(config_text: str, _cfg) -> str:
    return render_rules(_cfg)


try:
    cfg, cfg_text = _config(st.session_state[DRAFT], ctx.cfg)
except ConfigError as exc:
    st.error(f"The kept draft {draft.draft_path()} is not a valid config ({exc}); showing your config instead.")
    cfg, cfg_text = _config(None, ctx.cfg)

top = st.columns([4, 1])
if st.session_state[DRAFT] is None:
    top[0].caption("The alert rules, Grafana dashboard and their backtest for the config memlens runs with. Edit "
                   "below: edits apply at once, are kept (across pages and restarts) until you discard them, and "
                   "never touch your config file; download the edited config to use it with `memlens export all`.")
else:
    top[0].caption(f"Showing your **edited** alert config, kept in `{draft.draft_path()}` (your config file is "
                   "unchanged). Download it below as `memlens-alerts.yaml`.")
    if top[1].button("Discard edits", icon=":material/undo:"):
        draft.discard()
        st.session_state[DRAFT] = None
        st.session_state[VERSION] += 1
        st.rerun()


# ---- backtest (figures per load and figure parameters; thresholds are re-applied on every edit) ---------------------
@st.cache_resource(show_spinner=False, max_entries=8)
def _kept_figures(path: str, load_key: tuple, params: tuple, start: datetime | None, end: datetime | None, _cfg):
    """The figures kept since the collection (alerts/kept_figures.py) when they are of this view, else None."""
    return kept_figures.stored(path, load_key, _cfg, start, end)


@st.cache_resource(show_spinner="Replaying the alert rules over the history…", max_entries=8)
def _computed_figures(path: str, load_key: tuple, params: tuple, start: datetime | None, end: datetime | None,
                      keep: bool, _cfg):
    return state.holder(path).run(kept_figures.figures, _cfg, path, start, end, keep=keep)


@st.cache_resource(show_spinner=False, max_entries=32)  # a resource: read as is, not copied on each visit
def _backtest(path: str, load_key: tuple, params: tuple, start: datetime | None, end: datetime | None,
              config_text: str, _cfg, _fig):
    return kept_figures.evaluated(path, load_key, _cfg, start, end, _fig)


@st.cache_resource(show_spinner=False, max_entries=32)
def _series(path: str, load_key: tuple, params: tuple, start: datetime | None, end: datetime | None,
            config_text: str, rule: str, _bt, _cfg, _fig):
    """What the chart of `rule` draws: its figure per series, thinned (each peak kept)."""
    return thin_series(backtest.rule_series(_bt, _cfg, _fig, rule), "t", "value", ["series"])


p = ctx.filters.params()
start, end = p["start"], p["end"]
fig = bt = None
if not ctx.empty:
    try:
        params = backtest.figure_params(cfg)
        fig = _kept_figures(ctx.path, ctx.load_key, params, start, end, cfg)
        # Else a scan of every call of the range; on a large warehouse only when asked, so the page opens at once.
        # The view memlens opens with (its config, the default range) is kept for the next visitor.
        if fig is None and ctx.on_demand("the backtest (how often each rule would have fired)", "alerts_backtest"):
            opening = (ctx.window is not None and ctx.window.choice.preset == timerange.DEFAULT
                       and params == backtest.figure_params(ctx.cfg))
            fig = _computed_figures(ctx.path, ctx.load_key, params, start, end, opening, cfg)
        if fig is not None:
            bt = _backtest(ctx.path, ctx.load_key, params, start, end, cfg_text, cfg, fig)
    except ValueError as exc:
        st.error(f"The backtest cannot run with this config: {exc}")
summary = backtest.summary_table(bt).set_index("rule") if bt is not None else None

# ---- thresholds, with the backtest beside each ---------------------------------------------------------------------
st.subheader("Thresholds")
where = "the whole history" if start is None else "the sidebar's time range"
st.caption(f"One row per rule; an empty threshold turns it off. *Would have fired* = on {where} of this warehouse, "
           f"with the same windows and `for:` as the exported rules (details and how this differs from Prometheus "
           "under *Backtest* below).")
table = draft.threshold_table(cfg)
if summary is not None:
    for column, source, cast, missing in (("would have fired", "times_fired", int, None),
                                          ("firing in total", "firing", str, ""),
                                          ("series that fired", "series_fired", int, None),
                                          ("longest", "longest", str, "")):
        table[column] = [cast(summary.loc[r, source]) if r in summary.index else missing for r in table["rule"]]
edited = st.data_editor(
    table, key=f"thr_{v}", hide_index=True, width="stretch", disabled=[c for c in table.columns if c != "threshold"],
    height=35 * (len(table) + 1) + 3,  # every rule visible: no scrolling inside the grid
    column_config={"rule": None, "alert": st.column_config.TextColumn("alert"),
                   "when": st.column_config.TextColumn("fires when", width="small"),
                   "threshold": st.column_config.NumberColumn("threshold", min_value=0.0, format="%g"),
                   "would have fired": st.column_config.NumberColumn("would have fired (times)"),
                   "firing in total": st.column_config.TextColumn(
                       "firing in total", help="Time during which at least one of the rule's series fired"),
                   "series that fired": st.column_config.NumberColumn(
                       "series that fired", help="Label sets (e.g. services) that fired; each is its own alert")})

c1, c2 = st.columns(2)
with c1:
    st.markdown("**Scopes** — which calls each per-operation rule covers")
    scopes = st.data_editor(
        draft.scope_table(cfg), key=f"scopes_{v}", hide_index=True, num_rows="dynamic", width="stretch",
        column_config={"scope": st.column_config.TextColumn("scope", help="lower-case name, e.g. add_infer"),
                       "op": st.column_config.TextColumn("op matcher", help='search, "=~get|get_all", "!~search|add"'),
                       "infer": st.column_config.TextColumn("infer matcher", help="true / false on adds; empty: any"),
                       "slow_op_ms": st.column_config.SelectboxColumn(
                           "slow = slower than (ms)", options=[b * 1000 for b in promql.DURATION_BUCKETS_S],
                           help="a histogram bucket bound (the slow-share rule reads that bucket)")})
with c2:
    st.markdown("**Rules** — severity, how long the condition must hold, extra labels")
    kinds = st.data_editor(
        draft.kind_table(cfg), key=f"kinds_{v}", hide_index=True, width="stretch", disabled=["kind", "alert"],
        column_config={"kind": None,
                       "severity": st.column_config.SelectboxColumn("severity",
                                                                    options=["critical", "warning", "info"]),
                       "for": st.column_config.TextColumn("for", help="a Prometheus duration: 30s, 5m, 1h"),
                       "labels": st.column_config.TextColumn("labels", help="team=mem0, page=no")})

with st.expander("SLOs, labels, runbook link, budget", expanded=False):
    slo = cfg.alerts.slo
    s1, s2, s3 = st.columns(3)
    avail = s1.number_input("Availability SLO (% of calls succeed; 0 = none)", 0.0, 99.999,
                            value=(slo.availability_objective or 0.0) * 100, step=0.1, format="%.3f", key=f"avail_{v}")
    lat = s2.number_input("Latency SLO (% of calls fast enough; 0 = none)", 0.0, 99.999,
                          value=(slo.latency_objective or 0.0) * 100, step=0.1, format="%.3f", key=f"lat_{v}")
    bounds = [b * 1000 for b in promql.DURATION_BUCKETS_S]
    lat_ms = s3.selectbox("fast enough = within (ms)", bounds, index=bounds.index(slo.latency_threshold_ms)
                          if slo.latency_threshold_ms in bounds else 0, key=f"latms_{v}")
    s4, s5, s6 = st.columns(3)
    page_for = s4.text_input("SLO page for:", slo.page_for, key=f"pagefor_{v}")
    ticket_for = s5.text_input("SLO ticket for:", slo.ticket_for, key=f"ticketfor_{v}")
    lat_match = s6.text_input("latency SLO covers", draft.matchers_text(slo.latency_match), key=f"latmatch_{v}",
                              help='matchers on op / infer, e.g. op="search"')
    runbook = st.text_input("Runbook base URL (absolute; runbook_url = this + #section)", cfg.alerts.runbook_base_url,
                            key=f"runbook_{v}")
    l1, l2, l3 = st.columns(3)
    selector = l1.text_input("Selector on every metric", draft.matchers_text(cfg.alerts.selector), key=f"sel_{v}",
                             help='e.g. environment="prod", service=~"chat-.*"')
    keep = l2.text_input("Labels kept through aggregations", ", ".join(cfg.alerts.keep_labels), key=f"keep_{v}",
                         help="e.g. environment")
    labels = l3.text_input("Labels on every alert", draft.labels_text(cfg.alerts.labels), key=f"labels_{v}",
                           help="e.g. team=memory-platform")
    monthly = st.number_input("Monthly budget (USD, Cost page)", 0.0, value=cfg.thresholds.monthly_budget_usd,
                              step=10.0, key=f"monthly_{v}")

try:
    settings = {
        "alerts.slo.availability_objective": avail / 100 if avail else None,
        "alerts.slo.latency_objective": lat / 100 if lat else None,
        "alerts.slo.latency_threshold_ms": lat_ms, "alerts.slo.page_for": page_for.strip(),
        "alerts.slo.ticket_for": ticket_for.strip(),
        "alerts.slo.latency_match": draft.parse_matchers(lat_match, "latency SLO covers"),
        "alerts.runbook_base_url": runbook.strip(),
        "alerts.selector": draft.parse_matchers(selector, "selector"),
        "alerts.keep_labels": [k.strip() for k in keep.split(",") if k.strip()],
        "alerts.labels": draft.parse_labels(labels, "labels on every alert"),
        "thresholds.monthly_budget_usd": monthly,
    }
    new, new_text = _applied(cfg_text, scopes, edited, kinds, settings, cfg)
    if new_text != cfg_text:
        save(new)
except (ConfigError, ValueError) as exc:
    st.error(f"Not applied: {exc}", icon=":material/error:")

# ---- backtest --------------------------------------------------------------------------------------------------------
st.subheader("Backtest")
if bt is None:
    st.info("No backtest: no calls in the warehouse or the selected time range, or (on a large warehouse) it is "
            "switched off above.")
else:
    fired = [r for r in bt.rules if r.fired]
    span = f"{bt.start or 'first call'} … {bt.end:%Y-%m-%d %H:%M} UTC"
    st.caption(f"{len(fired)} of {len(bt.rules)} rules would have fired over {span}, evaluated every "
               f"{cfg.alerts.evaluation_interval}. The same from the command line: "
               "`memlens alerts backtest --config memlens-alerts.yaml`.")
    episodes = backtest.episode_table(bt)
    if len(episodes):
        # episodes of a rule closer than ~a pixel (1/1000 of the span) drawn as one bar, with how many it holds
        pixel = (bt.end - episodes["fired_at"].min()) / 1000
        bars = merge_close(episodes.assign(end=episodes["resolved_at"].fillna(bt.end)), "fired_at", "end", ["rule"],
                           pixel).rename(columns={"count": "episodes"})
        tl = px.timeline(bars, x_start="fired_at", x_end="end", y="rule", color="rule", hover_data=["episodes"])
        tl.update_yaxes(title=None, autorange="reversed")
        tl.update_layout(showlegend=False)  # the rule names are the y axis already
        st.plotly_chart(ui.style(tl, "When each rule would have been firing", height=max(260, 28 * len(fired) + 120)),
                        width="stretch", key="bt_timeline")
    else:
        st.success("No rule would have fired.")
    pick = st.selectbox("Look at one rule", [r.key for r in bt.rules], key="bt_rule",
                        index=next((i for i, r in enumerate(bt.rules) if r.fired), 0))
    rule = bt.rule(pick)
    one = backtest.episode_table(bt, pick)
    series = _series(ctx.path, ctx.load_key, params, start, end, cfg_text, pick, bt, cfg, fig)
    if len(series):
        kind = backtest.KIND.get(pick.split("@")[0])
        scale = 100 if kind is None or kind.field in draft.PERCENT else 1  # ratios shown in %, as in the table
        chart = go.Figure()
        firing = merge_close(one.assign(end=one["resolved_at"].fillna(bt.end)), "fired_at", "end", [],
                             (series["t"].max() - series["t"].min()) / 1000)
        if len(firing):  # the firing spans as one filled trace under the lines (hundreds of shapes drew slowly)
            lo, hi = float(series["value"].min() * scale), float(series["value"].max() * scale)
            if rule.threshold is not None:
                lo, hi = min(lo, rule.threshold * scale), max(hi, rule.threshold * scale)
            chart.add_trace(go.Scatter(x=charts.band_x(firing["fired_at"], firing["end"]),
                                       y=charts.band_y(len(firing), lo, hi), fill="toself", mode="none",
                                       fillcolor="rgba(255,0,0,0.12)", name="firing", hoverinfo="skip"))
        for name, part in series.groupby("series", sort=True):  # SVG lines: thinned, no WebGL context needed
            chart.add_trace(go.Scatter(x=part["t"], y=part["value"] * scale, mode="lines", name=str(name),
                                       line={"width": 1}))
        if rule.threshold is not None:
            ui.target_line(chart, f"threshold {backtest.threshold_text(rule)}", x=[series["t"].min(),
                           series["t"].max()], y=[rule.threshold * scale] * 2)
        unit = draft.unit(kind.field) if kind is not None else "% (long window)"
        st.plotly_chart(ui.style(chart, f"{pick}: the figure the rule compares (red: firing)", unit),
                        width="stretch", key="bt_series")
    if len(one):
        ui.table(one.drop(columns=["rule", "alert"]))
    with st.expander("How the backtest differs from Prometheus"):
        st.markdown("\n".join(f"- {n}" for n in bt.notes))

# ---- downloads ------------------------------------------------------------------------------------------------------
st.subheader("Download")
try:
    files, zipped = _exports(cfg_text, cfg)
except ValueError as exc:
    st.error(f"The exports cannot be made from this config: {exc}")
    st.stop()
st.caption("The same bytes as `memlens export all --config memlens-alerts.yaml --format prometheus-operator "
           "--out DIR`. Check them with `promtool check rules alert-rules.yaml` and "
           "`promtool test rules alert-rules.test.yaml alert-rules-long.test.yaml`.")
d1, d2 = st.columns(2)
d1.download_button("Download the config (memlens-alerts.yaml)", files[export.CONFIG], export.CONFIG,
                   "application/yaml", icon=":material/settings:", key="dl_config", type="primary")
d2.download_button("Download everything (.zip)", zipped, "memlens-monitoring.zip",
                   "application/zip", icon=":material/folder_zip:", key="dl_zip")
cols = st.columns(4)
for i, name in enumerate(n for n in files if n != export.CONFIG):
    cols[i % 4].download_button(name, files[name], name, "application/json" if name.endswith(".json") else
                                "text/markdown" if name.endswith(".md") else "application/yaml",
                                icon=":material/download:", key=f"dl_{name}")
base_rules, rules = _rules(_config(None, ctx.cfg)[1], ctx.cfg), files[export.RULES]
diff = list(difflib.unified_diff(base_rules.splitlines(), rules.splitlines(), "your config", "edited", lineterm="",
                                 n=1))
if diff:
    with st.expander(f"What your edits change in alert-rules.yaml ({sum(1 for d in diff if d[:1] in '+-') - 2} "
                     "lines)"):
        st.code("\n".join(diff), language="diff")
# only the chosen file is sent and highlighted (st.tabs on_change=rerun)
tab_rules, tab_grafana = st.tabs(["alert-rules.yaml", "Grafana dashboard JSON"], key="alerts_file",
                                 on_change="rerun")
if tab_rules.open:
    with tab_rules:
        st.code(rules, language="yaml", height=400)
if tab_grafana.open:
    with tab_grafana:
        st.code(files[export.DASHBOARD], language="json", height=400)
