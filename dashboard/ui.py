"""Small rendering helpers shared by the pages (no data logic here)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from memlens.figures import FIGURES, PHASE_LABELS, format_value
from memlens.health import Check

STATUS_COLOR = {"green": "green", "amber": "orange", "red": "red", "unknown": "gray"}
STATUS_WORD = {"green": "on target", "amber": "watch", "red": "off target", "unknown": "no data"}
OP_COLORS = {"all": "#444444"}
# One colour per phase on every chart: the PHASES of memlens/schema.py, then the unattributed rest ('other').
PHASE_COLORS = {"embedding": "#4c78a8", "vector_search": "#f58518", "vector_read": "#e45756",
                "vector_write": "#72b7b2", "rerank": "#54a24b", "llm": "#b279a2", "history": "#9d755d",
                "graph": "#eeca3b", "other": "#bab0ac"}


def badge(status: str) -> str:
    """Markdown for a coloured status badge (our own fixed words only)."""
    return f":{STATUS_COLOR[status]}-badge[{STATUS_WORD[status]}]"


def check_card(c: Check) -> None:
    with st.container(border=True, height="stretch"):
        st.markdown(f"**{c.label}**")
        st.markdown(f"### {format_value(c.measured, c.unit)}")
        st.markdown(f"{badge(c.status)} {c.target_text}")
        if c.hint:
            st.caption(c.hint)


def empty_warehouse() -> None:
    st.info(
        "**The warehouse holds no operations yet.**\n\n"
        "- Instrument your Mem0 (`instrument(Memory(), writer=OpLogWriter(log_dir))`) and load its logs with "
        "`memlens collect logs <log dir>`, or use **Data sources** → *Collect*.\n"
        "- Or try memlens on a labelled synthetic workload: `memlens demo`, or **Data sources** → *Load the demo*.",
        icon=":material/info:")


def no_match() -> None:
    st.info("No operations match the sidebar filters. Widen the time range or set the filters back to *All*.",
            icon=":material/filter_alt_off:")


def line_chart(df: pd.DataFrame, x: str, y: str, color: str | None = None, title: str = "", y_title: str = "",
               target: float | None = None, target_label: str = "target", percent: bool = False,
               log_y: bool = False) -> go.Figure:
    fig = go.Figure()
    groups = [(None, df)] if color is None else list(df.groupby(color, sort=False))
    for name, part in groups:
        fig.add_trace(go.Scatter(x=part[x], y=part[y], mode="lines+markers" if len(part) < 40 else "lines",
                                 name=str(name) if name is not None else label(y), line={"width": 2}))
    if target is not None and len(df):
        target_line(fig, target_label, x=[df[x].min(), df[x].max()], y=[target, target])
    style(fig, title, y_title, percent=percent, log_y=log_y)
    return fig


def phase_chart(df: pd.DataFrame, x: str, title: str) -> go.Figure:
    """Stacked bars of the layer metric `phases` (rows of one op): per x, the ms each phase took per call; the
    stack is the average latency of the timed calls. Phases in PHASE_COLORS order, each in its colour; phases
    that never ran in `df` are left out of the legend."""
    fig = go.Figure()
    for phase, colour in PHASE_COLORS.items():
        part = df[df["phase"] == phase]
        if part.empty or not (part["avg_ms"] > 0).any():
            continue
        fig.add_trace(go.Bar(x=part[x], y=part["avg_ms"], name=PHASE_LABELS[phase], marker_color=colour,
                             customdata=part["share"],
                             hovertemplate="%{y:.1f} ms per call (%{customdata:.0%} of the time)"))
    fig.update_layout(barmode="stack")
    return style(fig, title, "ms per call")


def target_line(fig: go.Figure, name: str, x: list, y: list, color: str = "#c0392b") -> go.Figure:
    """A dashed threshold drawn as a trace: unlike shapes, traces take data coordinates on log axes too."""
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, hoverinfo="skip",
                             line={"dash": "dash", "color": color, "width": 1.5}))
    return fig


def style(fig: go.Figure, title: str = "", y_title: str = "", percent: bool = False, log_y: bool = False,
          height: int = 340) -> go.Figure:
    # Below the plot, and below the x-axis title when there is one (else they overlap).
    legend_y = -0.35 if fig.layout.xaxis.title.text else -0.2
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                      legend={"orientation": "h", "y": legend_y, "yanchor": "top"}, yaxis_title=y_title,
                      hovermode="x unified")
    fig.update_xaxes(automargin=True)  # long category labels push the margin instead of being cut off
    fig.update_yaxes(automargin=True)
    if percent:
        fig.update_yaxes(tickformat=".0%")
    if log_y:
        log_axis(fig, "y")
    return fig


def log_axis(fig: go.Figure, axis: str = "y", title: str | None = None) -> go.Figure:
    """A log axis labelled at powers of ten only (1, 10, 100, 1,000, ...): plotly's default adds 2 and 5 between
    decades, which reads as "5, 2, 1000, 5, 2, 100"."""
    kw = {"type": "log", "dtick": 1, "tickformat": ",~r"}  # 1,000,000 not 1e+6
    if title is not None:
        kw["title"] = title
    (fig.update_xaxes if axis == "x" else fig.update_yaxes)(**kw)
    return fig


_WORDS = {"usd": "USD", "ms": "ms", "p50": "P50", "p95": "P95", "p99": "P99", "ttl": "TTL", "lru": "LRU", "pct": "%",
          "ops": "calls", "n": "count", "gb": "GB"}
_AS_IS = {"top_k", "query_hash", "event_id"}  # names the user knows from mem0 and the op log
MISSING = "—"


def label(column: str) -> str:
    """A column name in words: "total_cost_usd" → "total cost USD", "p95_ms" → "P95 ms"."""
    return column if column in _AS_IS else " ".join(_WORDS.get(w, w) for w in column.split("_"))


def table(df: pd.DataFrame, column_config: dict | None = None, dash: tuple[str, ...] = (), **kw) -> None:
    """st.dataframe with every column labelled in words (explicit `column_config` entries win) and missing text
    shown as "—" instead of "None"; `dash` names numeric columns to show as text with "—" where missing (a
    column that only applies to some rows, e.g. top_k of an add)."""
    shown = df.copy()
    for c in shown.columns:
        if c in dash:
            shown[c] = [MISSING if _missing(v) else f"{v:g}" if isinstance(v, float) else str(v) for v in shown[c]]
        elif pd.api.types.is_object_dtype(shown[c]) or pd.api.types.is_string_dtype(shown[c]):
            shown[c] = [MISSING if _missing(v) else v for v in shown[c]]
    config = {c: st.column_config.Column(label(str(c))) for c in df.columns} | (column_config or {})
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config, **kw)


def _missing(v: object) -> bool:
    """None, NaN, pd.NA, NaT; a list or array cell is a value (pd.isna of it would be an array)."""
    return v is None or (pd.api.types.is_scalar(v) and bool(pd.isna(v)))


def figure_label(key: str) -> str:
    """The one label of a registered figure (memlens/figures.py) that takes no config value."""
    return FIGURES[key].label


def projection_label(month_start: object, as_of: object, scope: str = "") -> str:
    """"Month-end projection (Nov 2026, as of Nov 22)": the month and day it projects from are part of its name."""
    return f"Month-end projection{scope} ({month_start:%b %Y}, as of {as_of:%b %d})"


def money(v: float | None) -> str:
    return format_value(v, "usd")


def pct(v: float | None) -> str:
    return format_value(v, "ratio")


def ms(v: float | None) -> str:
    return format_value(v, "ms")


def delta_pct(v: float | None) -> str | None:
    return None if v is None else f"{v * 100:+.1f} %"
