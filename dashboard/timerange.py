"""The dashboard's time window as on-call uses it: a preset (last 15 min ... 30 d, or all the data) or an absolute
date-time range (typed, or brushed on a chart); the series grain that follows the window's length; the same window
a week earlier; and the URL form of the choice, so a link reproduces the view and the back button steps back.

"Last ..." presets end at the newest event in the warehouse, not at the wall clock: a warehouse is as current as
its last collection, and a window that ends at "now" after the logs stopped would show nothing and hide the
question "is the collector running?" behind an empty chart. The page says where the window ends and how long ago
that was. (The demo's data ends at its load: "Last 7 d" holds its incident and error burst.)

Windows are half-open [start, end) in UTC (naive datetimes, as the layer's Filters). A preset's end is the end of
the grain bucket holding the newest event, so every bucket of the series is whole (only the last one can be still
filling) and whole-hour / whole-day windows let the layer read the rollups.

Plain Python (no Streamlit): tested directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from memlens.layer import GRAINS, Filters

ALL = "all"
PRESETS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15), "1h": timedelta(hours=1), "6h": timedelta(hours=6),
    "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
}
LABELS = {"15m": "15 min", "1h": "1 h", "6h": "6 h", "24h": "24 h", "7d": "7 d", "30d": "30 d", ALL: "All"}
DEFAULT = ALL
# The compared window: the same hours a week earlier (same weekday, same time of day: load and latency follow both).
COMPARE_OFFSET = timedelta(days=7)
# The finest grain that keeps a series readable (at most 720 buckets): minutes up to 12 h (an incident brushed on
# an hourly chart, a few hours give or take, is seen by the minute), hours up to 14 days, days beyond.
GRAIN_LIMITS: tuple[tuple[str, timedelta | None], ...] = (
    ("minute", timedelta(hours=12)), ("hour", timedelta(days=14)), ("day", None))
URL_FORMAT = "%Y-%m-%dT%H:%M"
MINUTE = timedelta(minutes=1)


class RangeError(ValueError):
    """A time choice that cannot be used (e.g. from a hand-edited link): the message says what to fix."""


@dataclass(frozen=True)
class Choice:
    """What the user picked: a preset (a PRESETS key or ALL), or an absolute range [start, end) (preset None)."""

    preset: str | None = DEFAULT
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def absolute(cls, start: datetime, end: datetime) -> Choice:
        """[start, end) rounded outwards to whole minutes (the finest grain)."""
        start, end = floor(start, "minute"), ceil(end, "minute")
        if end <= start:
            raise RangeError(f"the range must end after it starts ({start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M})")
        return cls(None, start, end)

    def params(self) -> dict[str, str]:
        """The URL query parameters of this choice."""
        if self.preset is not None:
            return {"range": self.preset}
        assert self.start is not None and self.end is not None
        return {"from": self.start.strftime(URL_FORMAT), "to": self.end.strftime(URL_FORMAT)}

    @property
    def label(self) -> str:
        if self.preset == ALL:
            return "All data"
        if self.preset is not None:
            return f"Last {LABELS[self.preset]}"
        return "Custom range"


TIME_PARAMS = ("range", "from", "to")


def parse(params: Mapping[str, str]) -> Choice | None:
    """The time choice of URL query parameters; None when they hold none. Raises RangeError naming the bad value."""
    if "from" in params or "to" in params:
        try:
            start, end = _timestamp(params.get("from")), _timestamp(params.get("to"))
        except ValueError as exc:
            raise RangeError(f"{exc}: expected from= and to= as YYYY-MM-DDTHH:MM (UTC)") from None
        return Choice.absolute(start, end)
    preset = params.get("range")
    if preset is None:
        return None
    if preset not in PRESETS and preset != ALL:
        raise RangeError(f"range={preset!r} is not one of {', '.join([*PRESETS, ALL])}")
    return Choice(preset)


def _timestamp(text: str | None) -> datetime:
    if not text:
        raise ValueError("missing from= or to=")
    try:
        ts = pd.Timestamp(text)
    except ValueError:
        raise ValueError(f"not a date-time: {text!r}") from None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


def grain_for(span: timedelta) -> str:
    """The series grain for a window this long (minute, hour, day: the layer's grains)."""
    for grain, limit in GRAIN_LIMITS:
        if limit is None or span <= limit:
            return grain
    raise AssertionError("unreachable")


def floor(ts: datetime, grain: str) -> datetime:
    return pd.Timestamp(ts).floor(_freq(grain)).to_pydatetime()


def ceil(ts: datetime, grain: str) -> datetime:
    return pd.Timestamp(ts).ceil(_freq(grain)).to_pydatetime()


def _freq(grain: str) -> str:
    if grain not in ("minute", "hour", "day"):
        raise ValueError(f"no fixed-width grain {grain!r}")
    return {"minute": "min", "hour": "h", "day": "D"}[grain]


@dataclass(frozen=True)
class Window:
    """The resolved window: [start, end) in UTC, its series grain, and what it was chosen as."""

    start: datetime
    end: datetime
    grain: str
    choice: Choice
    newest: datetime | None = None  # the newest event, where "Last ..." presets end

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    @property
    def bucket(self) -> timedelta:
        return timedelta(seconds=GRAINS[self.grain] or 0)

    def filters(self, base: Filters) -> Filters:
        return base.replace(start=self.start, end=self.end)

    def earlier(self, offset: timedelta = COMPARE_OFFSET) -> Window:
        """The same window `offset` earlier, at the same grain (what the charts overlay)."""
        return Window(self.start - offset, self.end - offset, self.grain, Choice.absolute(
            self.start - offset, self.end - offset), self.newest)

    def describe(self) -> str:
        """'2026-11-23 15:00 → 2026-11-30 15:00 UTC (7 d, per hour)'."""
        return f"{_fmt(self.start)} → {_fmt(self.end)} UTC ({span_text(self.span)}, per {self.grain})"


def _fmt(ts: datetime) -> str:
    return f"{ts:%Y-%m-%d %H:%M}"


def span_text(span: timedelta) -> str:
    """'15 min', '6 h', '1 d 6 h', '7 d': a window's length in the largest whole units."""
    minutes = int(span.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins else ""]
    return " ".join(p for p in parts if p) or "0 min"


def resolve(choice: Choice, first_ts: datetime | None, last_ts: datetime | None) -> Window | None:
    """The window of `choice` over data from `first_ts` to `last_ts` (the oldest and newest events; None when the
    warehouse holds none: then only an absolute range has a window)."""
    if choice.preset is None:
        assert choice.start is not None and choice.end is not None
        return Window(choice.start, choice.end, grain_for(choice.end - choice.start), choice, last_ts)
    if first_ts is None or last_ts is None:
        return None
    if choice.preset == ALL:
        start, end = floor(first_ts, "day"), floor(last_ts, "day") + timedelta(days=1)
        return Window(start, end, grain_for(end - start), choice, last_ts)
    span = PRESETS[choice.preset]
    grain = grain_for(span)
    end = floor(last_ts, grain) + timedelta(seconds=GRAINS[grain] or 0)  # the bucket holding the newest event
    return Window(end - span, end, grain, choice, last_ts)


def brushed(window: Window, x0: object, x1: object) -> Choice | None:
    """The window a box / x-range selection from x0 to x1 (chart x values: date-time text or epoch milliseconds)
    zooms to: clamped to the current window, rounded outwards to its grain (to whole minutes when that would be the
    whole window again). None when the selection is not a narrower window."""
    try:
        a, b = sorted((_chart_time(x0), _chart_time(x1)))
    except (TypeError, ValueError):
        return None
    a, b = max(a, window.start), min(b, window.end)
    if b <= a:
        return None
    start, end = floor(a, window.grain), ceil(b, window.grain)
    if (start, end) == (window.start, window.end) or end - start < MINUTE:
        start, end = floor(a, "minute"), ceil(b, "minute")
    if (start, end) == (window.start, window.end) or end <= start:
        return None
    return Choice.absolute(start, end)


def _chart_time(x: object) -> datetime:
    if isinstance(x, (int, float)):
        return pd.Timestamp(x, unit="ms").to_pydatetime()
    return _timestamp(str(x))
