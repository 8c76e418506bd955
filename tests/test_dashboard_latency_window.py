"""The Latency page as on-call uses it, under AppTest on the known warehouse (tests/dashboard_fixtures.py): the
series over the selected window split by op with the same window a week earlier, the error rate over time, the
slowest operations and the errors OF THE WINDOW. Hand-computed answers.

known_events(): week 1 (Nov 9-15) 10 searches at 01:00, 40 ms; week 2 (Nov 16-22) 20 searches at 02:00, 300 ms
(3 a day, 2 on Nov 22) and 10 adds at 03:00, 100 ms (2 a day Nov 16-18, then 1), the Nov 16 add a TimeoutError.
"Last 7 d" ends with the hour of the newest event (Nov 22 03:00): [Nov 15 04:00, Nov 22 04:00), per hour; the
week before is [Nov 8 04:00, Nov 15 04:00), holding week 1's searches.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from dashboard_fixtures import make_warehouse
from streamlit.testing.v1 import AppTest

from memlens.dashboard.charts import BEFORE

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def app_env(tmp_path, monkeypatch):
    cfg = tmp_path / "memlens.yaml"
    cfg.write_text("dashboard:\n  demo_when_empty: false\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg))
    monkeypatch.setenv("MEMLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(make_warehouse(tmp_path / "known.duckdb")))
    st.cache_data.clear()
    st.cache_resource.clear()


def _latency(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    at.run()
    at.switch_page("app_pages/latency.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _values(v) -> list:
    """A trace's x or y as plotly serialised it (a list, or a typed array in base64)."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v or [])


def _chart(at: AppTest, title_start: str) -> tuple[dict[str, pd.Series], dict]:
    """The chart whose title starts with `title_start`: {trace name: y indexed by x (datetime)}, and its layout."""
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        if (spec["layout"].get("title") or {}).get("text", "").startswith(title_start):
            return ({t["name"]: pd.Series(_values(t.get("y")), index=pd.to_datetime(_values(t.get("x"))), dtype=float)
                     for t in spec["data"] if t.get("x") is not None and None not in _values(t.get("x"))},
                    spec["layout"])
    raise AssertionError(f"no chart titled {title_start!r}")


def _table(at: AppTest, column: str) -> pd.DataFrame:
    (df,) = [d.value for d in at.dataframe if column in d.value.columns]
    return df


def test_last_7_days_split_by_op_with_the_week_before():
    at = _latency(range="7d", split="op")
    kpi = {m.label: (m.value, m.delta) for m in at.metric}
    assert kpi["Operations"] == ("30", "+200 %")           # 30 calls vs 10 the week before
    series, layout = _chart(at, "P95 latency per hour")
    assert set(series) == {"add", "search", f"search · {BEFORE}", "search P95 target"}
    assert len(series["search"]) == 7 * 24                 # every hour of the window; no call: a gap
    assert series["search"].dropna().to_dict() == {datetime(2026, 11, d, 2): 300.0 for d in range(16, 23)}
    assert series["add"].dropna().to_dict() == {datetime(2026, 11, d, 3): 100.0 for d in range(16, 23)}
    # the week before's searches (Nov 9-15 01:00, 40 ms) drawn a week later, on this window's time axis
    assert series[f"search · {BEFORE}"].dropna().to_dict() == {datetime(2026, 11, d, 1): 40.0 for d in range(16, 23)}
    assert layout["xaxis"]["range"][0].startswith("2026-11-15T04:00")
    assert layout["yaxis"]["title"]["text"].startswith("latency (ms)")
    # error rate: the one failed add of the two on Nov 16 03:00
    errors, _ = _chart(at, "Error rate per hour")
    assert errors["add"].dropna().to_dict() == {datetime(2026, 11, 16, 3): 0.5,
                                                **{datetime(2026, 11, d, 3): 0.0 for d in range(17, 23)}}
    assert (errors["search"].dropna() == 0).all()
    # throughput: calls per hour, 0 in the hours without calls
    calls, _ = _chart(at, "Throughput per hour")
    assert len(calls["search"]) == 7 * 24 and calls["search"].sum() == 20 and calls["add"].sum() == 10
    assert calls["search"][datetime(2026, 11, 16, 2)] == 3 and calls["search"][datetime(2026, 11, 16, 3)] == 0
    assert calls[f"search · {BEFORE}"].sum() == 10
    # the errors of the window: by type and op, and the failed call itself
    (by_type,) = [d.value for d in at.dataframe if list(d.value.columns) == ["error_type", "op", "errors"]]
    assert by_type.to_dict("records") == [{"error_type": "TimeoutError", "op": "add", "errors": 1}]
    (call,) = [d.value for d in at.dataframe if "event_id" in d.value.columns and "error_type" in d.value.columns]
    assert call[["ts", "op", "error_type", "user_id"]].to_dict("records") == [
        {"ts": pd.Timestamp("2026-11-16 03:00"), "op": "add", "error_type": "TimeoutError", "user_id": "alice"}]


def test_the_slowest_operations_and_errors_are_those_of_the_window():
    """Last 24 h: [Nov 21 04:00, Nov 22 04:00) holds the two Nov 22 searches (300 ms) and one add; no error."""
    at = _latency(range="24h")
    slow = _table(at, "limit_passed")
    assert len(slow) == 2 and set(slow["ts"]) == {pd.Timestamp("2026-11-22 02:00")}
    assert any("No failed call in the window" in s.value for s in at.success)
    # the whole range has all 20 slow searches and the error
    at = _latency(range="all")
    assert len(_table(at, "limit_passed")) == 20
    assert not any("No failed call" in s.value for s in at.success)


def test_split_by_service():
    at = _latency(range="7d", split="service")
    series, _ = _chart(at, "P95 latency per hour")
    # week 2: batch = bob's searches, chat-api = alice's adds; the week before: chat-api (alice's searches)
    assert set(series) == {"batch", "chat-api", f"chat-api · {BEFORE}", "search P95 target"}
    assert set(series["batch"].dropna()) == {300.0} and set(series["chat-api"].dropna()) == {100.0}
