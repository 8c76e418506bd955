"""Small rendering helpers shared by the pages (no data logic here)."""

from __future__ import annotations

import numbers

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from memlens.dashboard import charts, colors, sidebar, timerange
from memlens.figures import FIGURES, format_value
from memlens.health import Check
from memlens.safetext import csv_cell

STATUS_COLOR = {"green": "green", "amber": "orange", "red": "red", "unknown": "gray"}
STATUS_WORD = {"green": "on target", "amber": "watch", "red": "off target", "unknown": "no data"}


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
    """One line per value of column `color`, each in its fixed colour (dashboard/colors.py)."""
    fig = go.Figure()
    groups = [(None, df)] if color is None else list(df.groupby(color, sort=False))
    kind = "op" if color in (None, "op") else color
    for name, part in groups:
        line = {"width": 2} if name is None else {"width": 2, "color": colors.color(kind, name)}
        fig.add_trace(go.Scatter(x=part[x], y=part[y], mode="lines+markers" if len(part) < 40 else "lines",
                                 name=str(name) if name is not None else label(y), line=line,
                                 meta={"kind": kind, "value": str(name)} if name is not None else None))
    if target is not None and len(df):
        target_line(fig, target_label, x=[df[x].min(), df[x].max()], y=[target, target])
    style(fig, title, y_title, percent=percent, log_y=log_y)
    return fig


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
                      legend={"orientation": "h", "y": legend_y, "yanchor": "top"}, hovermode="x unified")
    if y_title:
        fig.update_layout(yaxis_title=y_title)
    fig.update_xaxes(automargin=True)  # long category labels push the margin instead of being cut off
    fig.update_yaxes(automargin=True)
    if percent:
        fig.update_yaxes(tickformat=".0%")
    if log_y:
        log_axis(fig, "y")
    return fig


def log_axis(fig: go.Figure, axis: str = "y", title: str | None = None) -> go.Figure:
    """A log axis labelled 1-2-5 per decade over the traces' values (1, 2, 5, 10, 20, ..., 1,000): plotly's default
    labels only some of them ("5, 2, 1000, 5, 2, 100"), and decades alone leave 100 to 1,000 ms without a number."""
    values = [v for tr in fig.data for v in (getattr(tr, axis) if getattr(tr, axis) is not None else ())
              if isinstance(v, numbers.Real) and not isinstance(v, bool)]
    current = (fig.layout.xaxis if axis == "x" else fig.layout.yaxis).title.text
    text = title if title is not None else (current or "")
    charts.value_axis(fig, values, text.removesuffix(", log scale").removesuffix(" (log scale)"), axis, log=True)
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
            # csv_cell: the table's toolbar exports CSV, where `=HYPERLINK(...)` in a user id would run
            shown[c] = [MISSING if _missing(v) else csv_cell(v) for v in shown[c]]
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


def time_chart(fig: go.Figure, key: str, window: timerange.Window | None, where: object = None) -> None:
    """Render a chart over the window that zooms the whole page when dragged across: a box / x-range selection
    becomes the selection's time window (in the URL: the back button zooms out again)."""
    target = where or st
    if window is None:
        target.plotly_chart(fig, width="stretch")
        return
    fig.update_layout(dragmode="select", selectdirection="h")
    chart_key = f"{key}@{window.start:%Y%m%d%H%M}-{window.end:%Y%m%d%H%M}"  # a new window starts unselected

    def zoom() -> None:
        box = (st.session_state.get(chart_key) or {}).get("selection", {}).get("box") or []
        if box and len(box[0].get("x") or ()) >= 2:
            choice = timerange.brushed(window, box[0]["x"][0], box[0]["x"][-1])
            if choice is not None:
                sidebar.zoom(choice)

    target.plotly_chart(fig, width="stretch", key=chart_key, on_select=zoom, selection_mode=("box",),
                        config={"modeBarButtonsToRemove": ["lasso2d"]})
