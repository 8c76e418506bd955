"""The time window (dashboard/timerange.py): presets end with the bucket of the newest event, the grain follows the
window's length, the week-earlier window, brushing, and the URL form (hand-computed known answers)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from memlens.dashboard import timerange as tr
from memlens.dashboard.timerange import Choice, RangeError

FIRST = datetime(2026, 11, 2, 7, 12, 5)
NEWEST = datetime(2026, 11, 30, 14, 32, 17, 500000)


@pytest.mark.parametrize(("preset", "start", "end", "grain"), [
    ("15m", datetime(2026, 11, 30, 14, 18), datetime(2026, 11, 30, 14, 33), "minute"),
    ("1h", datetime(2026, 11, 30, 13, 33), datetime(2026, 11, 30, 14, 33), "minute"),
    ("6h", datetime(2026, 11, 30, 8, 33), datetime(2026, 11, 30, 14, 33), "minute"),
    ("24h", datetime(2026, 11, 29, 15, 0), datetime(2026, 11, 30, 15, 0), "hour"),
    ("7d", datetime(2026, 11, 23, 15, 0), datetime(2026, 11, 30, 15, 0), "hour"),
    ("30d", datetime(2026, 11, 1), datetime(2026, 12, 1), "day"),
    ("all", datetime(2026, 11, 2), datetime(2026, 12, 1), "day"),
])
def test_presets_end_with_the_bucket_of_the_newest_event(preset, start, end, grain):
    w = tr.resolve(Choice(preset), FIRST, NEWEST)
    assert (w.start, w.end, w.grain) == (start, end, grain)
    assert w.start <= NEWEST < w.end or preset == "all"
    assert w.newest == NEWEST


def test_a_newest_event_on_a_bucket_edge_is_inside_the_window():
    w = tr.resolve(Choice("24h"), FIRST, datetime(2026, 11, 30, 15, 0))
    assert (w.start, w.end) == (datetime(2026, 11, 29, 16), datetime(2026, 11, 30, 16))


def test_no_data_has_no_preset_window_but_an_absolute_range_has_one():
    assert tr.resolve(Choice("7d"), None, None) is None
    w = tr.resolve(Choice.absolute(datetime(2026, 11, 24, 10), datetime(2026, 11, 24, 16)), None, None)
    assert (w.span, w.grain) == (timedelta(hours=6), "minute")


@pytest.mark.parametrize(("span", "grain"), [
    (timedelta(minutes=1), "minute"), (timedelta(hours=12), "minute"), (timedelta(hours=12, minutes=1), "hour"),
    (timedelta(days=14), "hour"), (timedelta(days=14, hours=1), "day"), (timedelta(days=400), "day")])
def test_the_grain_follows_the_span(span, grain):
    assert tr.grain_for(span) == grain


def test_absolute_ranges_round_outwards_to_minutes_and_must_end_after_they_start():
    c = Choice.absolute(datetime(2026, 11, 24, 10, 0, 30), datetime(2026, 11, 24, 15, 59, 1))
    assert (c.start, c.end) == (datetime(2026, 11, 24, 10, 0), datetime(2026, 11, 24, 16, 0))
    with pytest.raises(RangeError, match="must end after it starts"):
        Choice.absolute(datetime(2026, 11, 24, 16), datetime(2026, 11, 24, 10))


def test_the_url_form_round_trips():
    assert Choice("7d").params() == {"range": "7d"}
    assert tr.parse({"range": "7d", "op": "search"}) == Choice("7d")
    c = Choice.absolute(datetime(2026, 11, 24, 10), datetime(2026, 11, 24, 16))
    assert c.params() == {"from": "2026-11-24T10:00", "to": "2026-11-24T16:00"}
    assert tr.parse(c.params()) == c
    assert tr.parse({"from": "2026-11-24T10:00Z", "to": "2026-11-24T12:00+01:00"}) == Choice.absolute(
        datetime(2026, 11, 24, 10), datetime(2026, 11, 24, 11))  # offsets converted to UTC
    assert tr.parse({"op": "search"}) is None  # no time in the URL
    bad_links = (({"range": "2w"}, "not one of"), ({"from": "yesterday", "to": "2026-11-24T10:00"}, "not a date-time"),
                 ({"from": "2026-11-24T10:00"}, "missing"))
    for bad, words in bad_links:
        with pytest.raises(RangeError, match=words):
            tr.parse(bad)


def test_the_compared_window_is_the_same_hours_a_week_earlier():
    w = tr.resolve(Choice("24h"), FIRST, NEWEST)
    e = w.earlier()
    assert (e.start, e.end, e.grain) == (datetime(2026, 11, 22, 15), datetime(2026, 11, 23, 15), "hour")
    assert e.start.weekday() == w.start.weekday()


def test_brushing_zooms_to_the_selected_buckets():
    w = tr.resolve(Choice("7d"), FIRST, NEWEST)  # hourly, 2026-11-23 15:00 → 2026-11-30 15:00
    c = tr.brushed(w, "2026-11-24 09:40:12.5", "2026-11-24 15:10")
    assert (c.start, c.end) == (datetime(2026, 11, 24, 9), datetime(2026, 11, 24, 16))  # whole hours, outwards
    assert tr.resolve(c, FIRST, NEWEST).grain == "minute"  # 7 h: per minute
    # the other direction, epoch milliseconds, and clamped to the window
    ms = (datetime(2026, 11, 23, 16, 30) - datetime(1970, 1, 1)).total_seconds() * 1000
    c = tr.brushed(w, ms, "2026-11-20 00:00")
    assert (c.start, c.end) == (datetime(2026, 11, 23, 15), datetime(2026, 11, 23, 17))
    # a selection that rounds to the whole window zooms by minutes instead; outside the window: nothing
    one_hour = tr.resolve(Choice.absolute(datetime(2026, 11, 24, 9), datetime(2026, 11, 24, 10)), FIRST, NEWEST)
    assert tr.brushed(one_hour, "2026-11-24 09:10:30", "2026-11-24 09:20") == Choice.absolute(
        datetime(2026, 11, 24, 9, 10), datetime(2026, 11, 24, 9, 20))
    assert tr.brushed(w, "2026-12-05", "2026-12-06") is None
    assert tr.brushed(w, "garbage", "2026-11-24") is None


def test_describe_and_span_text():
    w = tr.resolve(Choice("7d"), FIRST, NEWEST)
    assert w.describe() == "2026-11-23 15:00 → 2026-11-30 15:00 UTC (7 d, per hour)"
    assert tr.span_text(timedelta(days=1, hours=6, minutes=5)) == "1 d 6 h 5 min"
    assert tr.span_text(timedelta(seconds=20)) == "0 min"
