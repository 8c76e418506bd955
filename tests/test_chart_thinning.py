"""What the browser is sent for long series and many intervals (dashboard/charts.py thin_series, merge_close):
hand-computed known answers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from memlens.dashboard.charts import band_x, band_y, merge_close, thin_series

T0 = datetime(2026, 11, 1)


def _series(values: list[float], name: str) -> pd.DataFrame:
    return pd.DataFrame({"t": [T0 + timedelta(minutes=i) for i in range(len(values))], "series": name,
                         "value": values})


def test_a_short_series_is_sent_whole():
    df = _series([1.0, 5.0, 2.0], "a")
    pd.testing.assert_frame_equal(thin_series(df, "t", "value", ["series"], max_points=4), df)


def test_a_long_series_keeps_each_spans_lowest_and_highest_point_in_time_order():
    # 8 points, at most 4: two spans of x (minutes 0-3 and 4-7); per span its min and its max
    values = [3.0, 9.0, 1.0, 4.0, 2.0, 2.5, 8.0, 7.0]
    df = pd.concat([_series(values, "long"), _series([5.0, 6.0], "short")], ignore_index=True)
    out = thin_series(df, "t", "value", ["series"], max_points=4)
    long = out[out["series"] == "long"]
    assert long["value"].tolist() == [9.0, 1.0, 2.0, 8.0]            # minutes 1, 2 | 4, 6
    assert [t.minute for t in long["t"]] == [1, 2, 4, 6]
    assert out[out["series"] == "short"]["value"].tolist() == [5.0, 6.0]  # under the limit: untouched


def test_a_peak_of_one_point_survives_thinning():
    values = [1.0] * 10_000
    values[6_789] = 500.0
    out = thin_series(_series(values, "a"), "t", "value", ["series"], max_points=100)
    assert len(out) <= 100 and out["value"].max() == 500.0


def test_intervals_closer_than_the_gap_merge_per_group():
    h = [T0 + timedelta(hours=i) for i in range(10)]
    df = pd.DataFrame({"rule": ["A", "A", "A", "A", "B"], "start": [h[0], h[1], h[5], h[2], h[0]],
                       "end": [h[1], h[4], h[6], h[3], h[9]]})
    # A: [0,1) [1,4) [2,3) touch or overlap -> [0,4), 3 episodes; [5,6) starts 1 h after 4: apart at a 1 h gap
    out = merge_close(df, "start", "end", ["rule"], timedelta(hours=1))
    assert out.to_dict("records") == [
        {"rule": "A", "start": h[0], "end": h[4], "count": 3},
        {"rule": "A", "start": h[5], "end": h[6], "count": 1},
        {"rule": "B", "start": h[0], "end": h[9], "count": 1}]
    # a 2 h gap joins A's two runs
    assert merge_close(df, "start", "end", ["rule"], timedelta(hours=2))["count"].tolist() == [4, 1]


def test_intervals_merge_without_groups():
    h = [T0 + timedelta(hours=i) for i in range(8)]
    df = pd.DataFrame({"start": [h[0], h[1], h[5]], "end": [h[2], h[3], h[6]]})
    assert merge_close(df, "start", "end", [], timedelta(hours=1)).to_dict("records") == [
        {"start": h[0], "end": h[3], "count": 2}, {"start": h[5], "end": h[6], "count": 1}]


def test_bands_are_closed_boxes_separated_by_gaps():
    t = [datetime(2026, 11, 2, h) for h in (1, 2, 5, 7)]
    x = band_x(pd.Series(t[0::2]), pd.Series(t[1::2]))
    assert x == [t[0], t[0], t[1], t[1], t[0], None, t[2], t[2], t[3], t[3], t[2], None]
    assert band_y(2, 0.0, 9.5) == [0.0, 9.5, 9.5, 0.0, 0.0, None] * 2
