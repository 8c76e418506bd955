"""One label, one value: every page rendered (AppTest) on a fixed warehouse for several filter selections; every
figure it shows is collected with its label; a label never shows two values within a selection, and each
registered figure equals the metric layer's value for that selection (memlens/figures.py, memlens/layer.py)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest
import streamlit as st
from dashboard_fixtures import INGESTED, make_warehouse, select_days
from streamlit.testing.v1 import AppTest

from memlens import figures
from memlens.config import load_config
from memlens.dashboard.state import CTX_KEY
from memlens.warehouse import connect

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGES = ["overview", "latency", "cache", "cost", "growth", "diagnosis", "sources"]
# Figures shown that are not metric-layer figures of the selection, and where they are checked instead.
NOT_LAYER = {
    re.compile(r"^(op events|memory history|memory snapshots|quarantine|ingest runs)$"): "Data sources: table sizes",
    re.compile(r"^Month to date \(.*\)$"): "cost_review / forecast: tests/test_dashboard_logic.py",
    re.compile(r"^Month-end projection.*$"): "forecast.project_month: tests/test_optimize_savings.py",
    re.compile(r"^Total cost, (this week|this week so far|last week|same span last week) \(\d{4}-W\d{2}\)$"):
        "the weekly review: tests/test_cost_review.py",
    re.compile(r"^Budgets (set|exceeded.*)$"): "memlens.budgets: tests/test_cost_review.py",
    re.compile(r"^(Calls' cost|Largest lever) per 30 days$"): "optimize.advise.build_cost_advice (whole warehouse): "
                                                              "tests/test_optimize_llm_savings.py",
}
SELECTIONS = {
    "all": {},
    "second week": {"time_range": (date(2026, 11, 16), date(2026, 11, 22))},
    "user alice": {"f_user": "alice"},
    "service batch": {"f_service": "batch"},
    "op add": {"f_op": "add"},
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = make_warehouse(tmp_path_factory.mktemp("consistency") / "known.duckdb")
    con = connect(path)
    rows = [("h.db", f"h{i}", f"m{i}", "ADD", None, 100 + i, datetime(2026, 11, 10 + i), None,
             datetime(2026, 11, 10 + i)) for i in range(3)]
    con.executemany("INSERT INTO raw_memory_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, false, NULL, NULL, ?)",
                    [(*r, INGESTED) for r in rows])
    con.close()
    return path


def shown(at: AppTest) -> list[tuple[str, str]]:
    """(label, value) of every st.metric and every health card / top problem on the current page."""
    out = [(m.label, m.value) for m in at.main.metric]
    md = [m.value for m in at.main.markdown]
    for i, text in enumerate(md):
        card = re.fullmatch(r"\*\*(.+)\*\*", text)
        if card and i + 1 < len(md) and md[i + 1].startswith("### "):  # ui.check_card: label, then value
            out.append((card.group(1), md[i + 1][4:]))
        problem = re.match(r"\*\*\d+\. (.+): (.+)\*\* \(", text)  # top problems: "**1. label: value** (target)"
        if problem:
            out.append((problem.group(1), problem.group(2)))
    return out


def conflicts(seen: dict[str, set[str]]) -> dict[str, set[str]]:
    return {label: values for label, values in seen.items() if len(values) > 1}


def check_selection(rendered: dict[str, list[tuple[str, str]]], expected: dict[str, str]) -> list[str]:
    """Problems in one selection's pages: a label with two values, a registered figure off the layer's value, or a
    figure that is neither registered nor listed in NOT_LAYER."""
    seen: dict[str, set[str]] = defaultdict(set)
    where: dict[str, set[str]] = defaultdict(set)
    for page, pairs in rendered.items():
        for label, value in pairs:
            seen[label].add(value)
            where[label].add(page)
    problems = [f"{label!r} shows {sorted(v)} on {sorted(where[label])}" for label, v in conflicts(seen).items()]
    for label, values in seen.items():
        if label in expected:
            if values != {expected[label]}:
                problems.append(f"{label!r} shows {sorted(values)}, the layer says {expected[label]!r}")
        elif not any(p.match(label) for p in NOT_LAYER):
            problems.append(f"{label!r} ({sorted(where[label])}) is not a registered figure")
    return problems


def test_the_checker_catches_two_values_and_off_values():
    rendered = {"overview": [("Cache hit rate", "33.3 %")], "cache": [("Cache hit rate", "35.0 %")],
                "cost": [("Cost in selection", "$1.00"), ("Mystery figure", "1")]}
    problems = check_selection(rendered, {"Cache hit rate": "33.3 %", "Cost in selection": "$2.00"})
    assert any("shows ['33.3 %', '35.0 %']" in p for p in problems)
    assert any("'Cost in selection' shows ['$1.00'], the layer says '$2.00'" in p for p in problems)
    assert any("'Mystery figure'" in p and "not a registered figure" in p for p in problems)
    assert check_selection({"a": [("Cache hit rate", "33.3 %")]}, {"Cache hit rate": "33.3 %"}) == []


def test_every_page_shows_each_figure_once_and_as_the_layer_computes_it(warehouse, tmp_path, monkeypatch):
    cfg_file = tmp_path / "memlens.yaml"
    cfg_file.write_text("dashboard:\n  demo_when_empty: false\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg_file))
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(warehouse))
    cfg = load_config(str(cfg_file))
    labels = {f.label_for(cfg): f for f in figures.FIGURES.values()}
    checked: set[str] = set()
    for name, widgets in SELECTIONS.items():
        st.cache_data.clear()
        st.cache_resource.clear()
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        for key, value in widgets.items():
            if key == "time_range":
                select_days(at, *value)
            else:
                at.sidebar.selectbox(key=key).set_value(value).run()
        ctx = at.session_state[CTX_KEY]
        rendered = {}
        for page in PAGES:
            at.switch_page(f"app_pages/{page}.py").run()
            assert not at.exception, (name, page, [e.value for e in at.exception])
            rendered[page] = shown(at)
        shown_labels = {label for pairs in rendered.values() for label, _ in pairs}
        con = connect(warehouse)
        try:
            keys = [labels[label].key for label in shown_labels if label in labels]
            values = figures.values(con, keys, ctx.filters, ctx.speed)
        finally:
            con.close()
        expected = {figures.FIGURES[k].label_for(cfg): figures.format_value(v, figures.FIGURES[k].unit)
                    for k, v in values.items()}
        assert check_selection(rendered, expected) == [], name
        checked |= set(expected)
    # The selections reach the figures that matter on every page (not a test that passes by showing nothing).
    assert {"Search latency P95", "P95 latency (all operations)", "Cache hit rate", "Cost in selection",
            "Cost per 1,000 queries (OSS)", "Memories held", "Operations"} <= checked
