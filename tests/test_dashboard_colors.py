"""One colour per operation (and per phase) on every chart of every page (dashboard/colors.py): the charts each page
builds under AppTest, read back from the figures the browser would get, whatever the split, filter or window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit as st
from dashboard_fixtures import make_warehouse
from streamlit.testing.v1 import AppTest

from memlens.dashboard import colors
from memlens.dashboard.charts import BEFORE
from memlens.figures import PHASE_LABELS
from memlens.schema import OPS

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGES = ["overview", "latency", "cache", "cost", "growth", "diagnosis", "optimization", "alerts", "sources", "runs"]
PHASE_BY_LABEL = {v: k for k, v in PHASE_LABELS.items()}


@pytest.fixture(autouse=True)
def app_env(tmp_path, monkeypatch):
    cfg = tmp_path / "memlens.yaml"
    cfg.write_text("dashboard:\n  demo_when_empty: false\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg))
    monkeypatch.setenv("MEMLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(make_warehouse(tmp_path / "known.duckdb")))
    st.cache_data.clear()
    st.cache_resource.clear()


def _traces(at: AppTest) -> list[tuple[str, str, str | None, str | None]]:
    """(chart title, trace name, colour, kind) of every trace of every plotly chart on the page; kind is what the
    chart split by (the trace's meta), when the chart says."""
    out = []
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        title = (spec.get("layout", {}).get("title") or {}).get("text", "")
        for tr in spec["data"]:
            colour = (tr.get("line") or {}).get("color") or (tr.get("marker") or {}).get("color")
            kind = (tr.get("meta") or {}).get("kind") if isinstance(tr.get("meta"), dict) else None
            out.append((title, str(tr.get("name")), colour if isinstance(colour, str) else None, kind))
    return out


def _page(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    at.run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_every_chart_maps_each_op_and_phase_to_one_colour():
    seen: dict[str, set[str]] = {}
    charts_with_ops: set[str] = set()
    views = [(p, {"split": "op"}) for p in PAGES] + [
        ("latency", {"split": "op", "range": "7d"}),          # another window
        ("latency", {"split": "op", "op": "add"}),            # add alone keeps add's colour
        ("latency", {"split": "op", "phase_op": "add"}),      # the adds' phases
    ]
    for page, params in views:
        for title, name, colour, kind in _traces(_page(page, **params)):
            base = name.removesuffix(f" · {BEFORE}")
            if base in OPS:
                assert colour == colors.OP[base], (page, params, title, name, colour)
                seen.setdefault(f"op:{base}", set()).add(colour)
                charts_with_ops.add(f"{page}:{title}")
            elif kind == "phase":  # ("embedding" is also a cost component on the Cost page)
                assert colour == colors.PHASE[PHASE_BY_LABEL[base]], (page, params, title, name, colour)
                seen.setdefault(f"phase:{base}", set()).add(colour)
    # every op and phase drawn had one colour; search and add were drawn on several charts (not a vacuous pass)
    assert all(len(c) == 1 for c in seen.values()), seen
    assert {"op:search", "op:add", "phase:embedding", "phase:LLM"} <= set(seen)
    assert len(charts_with_ops) >= 4, charts_with_ops
    assert colors.OP["search"] != colors.OP["add"]


def test_other_split_values_keep_their_colour_whatever_else_is_shown():
    """Services are not fixed in colors.py: each takes the colour of its place among the warehouse's services
    (batch, chat-api), the same in every selection, and two services never share one."""
    both = {n: c for _, n, c, _ in _traces(_page("latency", split="service"))}
    alone = {n: c for _, n, c, _ in _traces(_page("latency", split="service", service="batch"))}
    assert both["batch"] == alone["batch"] == colors.PALETTE[0]
    assert both["chat-api"] == colors.PALETTE[1]
