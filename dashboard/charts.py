"""Time-series charts of the selected window, built from the layer's aggregated series (never raw points): one
line per split value (operation, service, mode) in its fixed colour (dashboard/colors.py), the same window a week
earlier overlaid dotted, time on x over the whole window (UTC: the chart titles say so), and y axes that say their
unit with readable ticks (log axes labelled 1-2-5 per decade: 100, 200, 500, 1,000 ms).

Plain plotly (no Streamlit): the pages render what these return; tests read the figures' data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from memlens.dashboard import colors
from memlens.dashboard.timerange import COMPARE_OFFSET, Window
from memlens.figures import PHASE_LABELS

BEFORE = "week before"
LOG_SPREAD = 20.0  # a latency axis goes log when its largest value is this many times its smallest


def ticks_125(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks per decade covering [lo, hi] (lo > 0): the labels of a readable log axis."""
    if lo <= 0 or hi <= 0:
        raise ValueError("a log axis needs positive values")
    lo, hi = min(lo, hi), max(lo, hi)
    out: list[float] = []
    for exp in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            out.append(round(m * 10.0 ** exp, 10))
    below = [t for t in out if t <= lo]
    above = [t for t in out if t >= hi]
    first, last = (below[-1] if below else out[0]), (above[0] if above else out[-1])
    return [t for t in out if first <= t <= last]


def tick_text(v: float) -> str:
    return f"{v:,.0f}" if v >= 1 else f"{v:g}"


def value_axis(fig: go.Figure, values: pd.Series | list[float], title: str, axis: str = "y",
               log: bool | None = None) -> go.Figure:
    """A value axis titled with its unit: log with explicit 1-2-5 ticks when `log` (None: when the positive values
    spread over more than LOG_SPREAD x), else linear from 0."""
    positive = [float(v) for v in values if v is not None and not pd.isna(v) and float(v) > 0]
    if log is None:
        log = bool(positive) and max(positive) / min(positive) > LOG_SPREAD
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    if log and positive:
        t = ticks_125(min(positive), max(positive))
        update(type="log", tickvals=t, ticktext=[tick_text(v) for v in t], title=f"{title}, log scale",
               range=[math.log10(t[0]), math.log10(t[-1])])
    else:
        update(type="linear", title=title, rangemode="tozero", tickformat=",~r")
    return fig


MAX_FILLED_BUCKETS = 5000  # a series over more buckets than this is drawn from its rows only


def _every_bucket(part: pd.DataFrame, y: str, start: datetime, end: datetime, step: timedelta,
                  empty: float | None) -> pd.DataFrame:
    """`part`'s (bucket, y) on every bucket of [start, end): a bucket without calls is `empty` (0 for counts and
    rates of calls; None for latency, which then shows as a gap instead of a line drawn across it)."""
    part = part[["bucket", y]].assign(bucket=pd.to_datetime(part["bucket"])).sort_values("bucket")
    if not step or (end - start) / step > MAX_FILLED_BUCKETS:
        return part
    grid = pd.DataFrame({"bucket": pd.date_range(start, end, freq=step, inclusive="left")})
    out = grid.merge(part, on="bucket", how="left")
    return out.fillna({y: empty}) if empty is not None else out


def over_time(now: pd.DataFrame, before: pd.DataFrame | None, y: str, split: str | None, window: Window,
              kind: str | None = None, legend: bool = True, empty: float | None = None,
              among: Sequence[str] | None = None) -> go.Figure:
    """One line per value of `split` (None: a single line for the total) of column `y` over every bucket of the
    window, and the same series of `before` (the window a week earlier) moved onto it, dotted (its hover says when
    it was). `empty`: the value of a bucket without calls (0 for counts; None: a gap). `kind`: what the split values
    are, for their colour (default: the split column), `among` all of its values (colors.color)."""
    kind = kind or split or "op"
    fig = go.Figure()
    frames = [(now, False)] + ([(before, True)] if before is not None else [])
    for frame, earlier in frames:
        groups = [(colors.TOTAL, frame)] if split is None else list(frame.groupby(split, sort=True))
        shift = COMPARE_OFFSET if earlier else timedelta(0)
        for name, part in groups:
            part = _every_bucket(part, y, window.start - shift, window.end - shift, window.bucket, empty)
            x = pd.to_datetime(part["bucket"]) + (COMPARE_OFFSET if earlier else timedelta(0))
            color = colors.color(kind, name, among)
            label = f"{name} · {BEFORE}" if earlier else str(name)
            fig.add_trace(go.Scatter(
                x=x, y=part[y], name=label, legendgroup=str(name), showlegend=legend and not earlier,
                # markers where a line alone would hide points: few of them, or lone ones between gaps
                mode="lines+markers" if part[y].notna().sum() < 40 or part[y].isna().any() else "lines",
                line={"color": color, "width": 1.2 if earlier else 2, "dash": "dot" if earlier else "solid"},
                marker={"color": color, "size": 4 if len(part) < 200 else 3}, opacity=0.6 if earlier else 1.0,
                customdata=pd.to_datetime(part["bucket"]).dt.strftime("%Y-%m-%d %H:%M") if earlier else None,
                hovertemplate=(f"{label} (%{{customdata}}): %{{y:,.4~r}}<extra></extra>" if earlier
                               else f"{label}: %{{y:,.4~r}}<extra></extra>"),
                meta={"kind": kind, "value": str(name), "earlier": earlier}))
    if before is not None and legend:  # one legend entry says what the dotted lines are
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"dotted: the {BEFORE}",
                                 line={"color": "#888888", "dash": "dot", "width": 1.2}, hoverinfo="skip"))
    fig.update_xaxes(range=[window.start, window.end], type="date")
    return fig


def histogram(df: pd.DataFrame, per_decade: int = 10) -> go.Figure:
    """layer.fold_histogram rows (bin_ms, op, n) as bars stacked by op, each bar as wide as its log bin."""
    step = 10 ** (1 / per_decade)
    return go.Figure([go.Bar(x=g["bin_ms"], y=g["n"], width=g["bin_ms"] * (step - 1), offset=0, name=str(op),
                             marker={"color": colors.color("op", op), "line": {"width": 0}},
                             meta={"kind": "op", "value": str(op)},
                             hovertemplate=f"{op}: %{{y:,}} calls from %{{x:,.4~r}} ms<extra></extra>")
                      for op, g in df.groupby("op")])


def stacked_phases(df: pd.DataFrame, window: Window) -> go.Figure:
    """Bars per bucket of the layer's `phases` (avg ms per timed call), stacked by phase in a call's order: their
    height is the timed calls' average latency."""
    fig = go.Figure()
    for _, part in df.sort_values(["phase_order", "bucket"]).groupby("phase_order", sort=True):
        phase = str(part["phase"].iloc[0])
        if not (part["avg_ms"] > 0).any():  # a phase this op never passed through: not in the legend
            continue
        name = PHASE_LABELS[phase]
        fig.add_trace(go.Bar(x=pd.to_datetime(part["bucket"]), y=part["avg_ms"], name=name,
                             marker={"color": colors.color("phase", phase)},
                             customdata=part["share"], meta={"kind": "phase", "value": phase},
                             hovertemplate=f"{name}: %{{y:,.1f}} ms (%{{customdata:.0%}})<extra></extra>"))
    fig.update_layout(barmode="stack", bargap=0.1)
    fig.update_xaxes(range=[window.start, window.end], type="date")
    fig.update_yaxes(title="ms per call", rangemode="tozero", tickformat=",~r")
    return fig


# ---- thinning what the browser is sent -----------------------------------------------------------------------------
def thin_series(df: pd.DataFrame, x: str, y: str, by: Sequence[str], max_points: int = 2000) -> pd.DataFrame:
    """Each series of `by` with at most `max_points` rows: a longer one is cut into max_points // 2 equal spans of
    x and keeps, per span, its rows of smallest and largest y (in x order). A line through them draws every peak and
    dip a chart's pixels can show, at a fraction of the points (a rule's 112k evaluations were 4.5 MB of JSON)."""
    keys = list(by)
    parts = []
    for _, part in (df.groupby(keys, sort=False, dropna=False) if keys else [((), df)]):
        if len(part) <= max_points:
            parts.append(part)
            continue
        t = pd.to_datetime(part[x]).to_numpy("datetime64[ns]").astype(np.int64)
        spans = max_points // 2
        span = (t - t.min()) * spans // (t.max() - t.min() + 1)
        grouped = part[y].groupby(span)
        rows = np.union1d(grouped.idxmin().to_numpy(), grouped.idxmax().to_numpy())
        parts.append(part.loc[rows].sort_values(x, kind="stable"))
    return pd.concat(parts) if parts else df


def merge_close(df: pd.DataFrame, start: str, end: str, by: Sequence[str], gap: timedelta) -> pd.DataFrame:
    """Intervals [start, end) per group of `by` merged when the next starts less than `gap` after the end of those
    before it (a gap narrower than a pixel is not seen anyway): columns by, start, end, and `count` merged."""
    keys = list(by)
    d = df.sort_values([*keys, start], kind="stable").reset_index(drop=True)
    if d.empty:
        return d.assign(count=pd.Series(dtype="int64"))[[*keys, start, end, "count"]]
    reach = d.groupby(keys, sort=False)[end].cummax() if keys else d[end].cummax()
    prev_reach = reach.groupby([d[k] for k in keys], sort=False).shift() if keys else reach.shift()
    new = prev_reach.isna() | (d[start] - prev_reach >= gap)
    run = new.cumsum()
    out = d.groupby(run).agg(**{k: (k, "first") for k in keys}, **{start: (start, "min"), end: (end, "max"),
                                "count": (start, "size")})
    return out.reset_index(drop=True)


def band_x(starts: pd.Series, ends: pd.Series) -> list:
    """x of spans [start, end) drawn as one filled trace (with band_y): each span a closed box, None between boxes."""
    out: list = []
    for a, b in zip(starts, ends, strict=True):
        out += [a, a, b, b, a, None]
    return out


def band_y(n: int, low: float, high: float) -> list:
    """y of `n` boxes from `low` to `high` (see band_x)."""
    return [low, high, high, low, low, None] * n
