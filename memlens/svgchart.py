"""Small self-contained SVG charts for reports: no JavaScript, no fonts or images fetched, so an HTML report opens
offline and in mail clients that show inline SVG, and the dashboard shows the very same picture.

Two shapes cover the weekly cost review: grouped vertical bars (a value per category for two series, with an
optional horizontal limit line) and horizontal bars that may go negative (changes). Every text that lands in the
SVG (titles, category names from the logs, tick labels) goes through `html.escape`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

FONT = "font-family:Helvetica,Arial,sans-serif"
GRID, AXIS, TEXT = "#e5e5e5", "#999999", "#333333"
LIMIT_SCALE = 4.0
Fmt = Callable[[float], str]


def _nice_max(v: float) -> float:
    """The smallest 1/2/2.5/5 x 10^k at or above v (the top of the axis)."""
    if v <= 0 or not math.isfinite(v):
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp >= v * 0.999999:
            return m * exp
    return 10 * exp


def _text(x: float, y: float, s: str, anchor: str = "start", size: int = 11, color: str = TEXT,
          weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{color}" '
            f'font-weight="{weight}" style="{FONT}">{html.escape(s)}</text>')


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def grouped_bars(title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float], str]],
                 fmt: Fmt, limit: tuple[str, float] | None = None, width: int = 640, height: int = 260) -> str:
    """Vertical bars: for each category one bar per series (name, values, colour), a legend, an optional dashed
    horizontal line (label, value) such as a daily budget. A limit far above the bars (over LIMIT_SCALE x the largest)
    is written in the corner instead of stretching the axis to it: the bars would flatten to nothing."""
    left, right, top, bottom = 64, 12, 34, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vals, _ in series for v in vals if v is not None and math.isfinite(v)]
    biggest = max([*values, 0.0])
    off_scale = limit is not None and limit[1] > 0 and biggest > 0 and limit[1] > LIMIT_SCALE * biggest
    top_v = _nice_max(max(biggest, 0.0 if limit is None or off_scale else limit[1]))
    y = lambda v: top + plot_h * (1 - v / top_v)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
           f'<rect width="{width}" height="{height}" fill="white"/>', _text(left, 18, title, size=13, weight="bold")]
    for i in range(5):
        v = top_v * i / 4
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}"/>')
        out.append(_text(left - 6, y(v) + 4, fmt(v), "end", 10, AXIS))
    n, k = max(len(categories), 1), max(len(series), 1)
    slot = plot_w / n
    bar = slot * 0.8 / k
    chars = max(4, min(32, int(slot / 6.5)))  # what fits under a bar at font size 10 (~6 px a character)
    for ci, cat in enumerate(categories):
        for si, (name, vals, color) in enumerate(series):
            v = vals[ci] if ci < len(vals) else 0.0
            if v is None or not math.isfinite(v) or v <= 0:
                continue
            x0 = left + ci * slot + slot * 0.1 + si * bar
            out.append(f'<rect x="{x0:.1f}" y="{y(v):.1f}" width="{bar:.1f}" height="{y(0) - y(v):.1f}" '
                       f'fill="{color}"><title>{html.escape(f"{cat}, {name}: {fmt(v)}")}</title></rect>')
        out.append(_text(left + (ci + 0.5) * slot, height - bottom + 15, _clip(cat, chars), "middle", 10))
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="{AXIS}"/>')
    if off_scale:
        out.append(_text(width - right - 2, 18, f"{limit[0]} {fmt(limit[1])} (above the scale)", "end", 10,
                         "#c0392b"))
    elif limit is not None and limit[1] > 0:
        ly = y(limit[1])
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{ly:.1f}" y2="{ly:.1f}" stroke="#c0392b" '
                   'stroke-dasharray="5,4"/>')
        out.append(_text(width - right - 2, ly - 4, f"{limit[0]} {fmt(limit[1])}", "end", 10, "#c0392b"))
    lx = left
    for name, _, color in series:
        out.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{color}"/>')
        out.append(_text(lx + 14, height - 5, name, size=10))
        lx += 24 + 6.5 * len(name)
    out.append("</svg>")
    return "".join(out)


def diverging_bars(title: str, labels: Sequence[str], values: Sequence[float], fmt: Fmt, width: int = 640,
                   up: str = "#c0392b", down: str = "#2e7d32", bar_h: int = 20) -> str:
    """Horizontal bars from a zero line, right for positive values (colour `up`), left for negative (`down`), the
    value written beside each bar: changes such as the week's top movers."""
    label_w, pad, top = 190, 70, 30
    height = top + bar_h * max(len(labels), 1) + 10
    plot_w = width - label_w - 2 * pad
    span = max([abs(v) for v in values if v is not None and math.isfinite(v)] + [0.0]) or 1.0
    has_neg = any(v < 0 for v in values if v is not None)
    zero = label_w + pad + (plot_w / 2 if has_neg else 0)
    scale = (plot_w / 2 if has_neg else plot_w) / span
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
           f'<rect width="{width}" height="{height}" fill="white"/>', _text(8, 18, title, size=13, weight="bold")]
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        yc = top + i * bar_h
        out.append(_text(label_w - 6, yc + bar_h * 0.65, _clip(lab, 30), "end", 11))
        if v is None or not math.isfinite(v):
            continue
        w = abs(v) * scale
        x0 = zero if v >= 0 else zero - w
        out.append(f'<rect x="{x0:.1f}" y="{yc + 3:.1f}" width="{max(w, 0.5):.1f}" height="{bar_h - 6}" '
                   f'fill="{up if v >= 0 else down}"><title>{html.escape(f"{lab}: {fmt(v)}")}</title></rect>')
        tx, anchor = (x0 + w + 4, "start") if v >= 0 else (x0 - 4, "end")
        out.append(_text(tx, yc + bar_h * 0.65, fmt(v), anchor, 10))
    out.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{top - 2}" y2="{height - 8}" stroke="{AXIS}"/>')
    out.append("</svg>")
    return "".join(out)
