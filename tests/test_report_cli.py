"""`memlens report weekly`: the three formats written as asked, one-line errors, the CI exit code, and on the demo
the same figures as the Cost page's weekly review (AppTest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
import yaml
from cost_review_support import BUDGETS, insert_review_events
from streamlit.testing.v1 import AppTest

from memlens import cost_review as cr
from memlens import layer
from memlens.cli import main
from memlens.config import load_config
from memlens.optimize.advise import build_cost_advice
from memlens.warehouse import connect

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def known(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("report")
    cfg_path = root / "memlens.yaml"
    cfg_path.write_text(yaml.safe_dump({"budgets": BUDGETS}), encoding="utf-8")
    path = root / "known.duckdb"
    con = connect(path, load_config(cfg_path))
    insert_review_events(con)
    con.close()
    return path, cfg_path


def _run(known, *args: str) -> int:
    path, cfg = known
    return main(["report", "weekly", "--warehouse", str(path), "--config", str(cfg), *args])


def test_csv_folder_one_table_per_file(known, tmp_path, capsys):
    out = tmp_path / "w47"
    assert _run(known, "--week", "2026-W47", "--format", "csv", "--out", str(out)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["breakdown.csv", "budgets.csv", "daily.csv", "month.csv",
                                                     "movers.csv", "summary.csv"]
    s = pd.read_csv(out / "summary.csv").set_index("figure")
    assert (s.loc["total_cost_usd", "previous"], s.loc["total_cost_usd", "current"]) == (
        pytest.approx(2.25), pytest.approx(9.50))
    assert not s["partial"].any() and (s["week"] == "2026-W47").all()
    assert "wrote " in capsys.readouterr().err


def test_markdown_and_html(known, tmp_path, capsys):
    assert _run(known, "--week", "2026-W47") == 0  # Markdown on stdout
    md = capsys.readouterr().out
    assert md.startswith("# Mem0 weekly cost review — 2026\\-W47") and r"\$9\.50" in md
    folder = tmp_path / "reports"
    folder.mkdir()
    assert _run(known, "--week", "2026-W47", "--format", "html", "--out", str(folder), "--user", "alice") == 0
    page = (folder / "mem0-cost-review-2026-W47.html").read_text(encoding="utf-8")  # a folder: the report's name
    assert "<svg" in page and "Scope: user=alice." in page and "alice-week" in page and "team-daily" not in page


def test_errors_are_one_line_and_over_budget_fails_ci(known, capsys):
    assert _run(known, "--week", "2026-47") == 2
    assert capsys.readouterr().err.strip() == ("memlens report weekly: week '2026-47': write it as YYYY-Www, "
                                               "e.g. 2026-W47")
    now = datetime.now(UTC).replace(tzinfo=None).date()
    this_week = f"{now:%G-W%V}"
    assert _run(known, "--week", this_week) == 2
    assert "--partial" in capsys.readouterr().err
    assert _run(known, "--week", "2026-W47", "--fail-on-over-budget", "--out", "-") == cr_over_exit()
    assert capsys.readouterr().err.strip().endswith("over budget: team-daily")
    assert _run(known, "--week", "2026-W47", "--service", "chat-api", "--fail-on-over-budget") == 0  # none set


def cr_over_exit() -> int:
    from memlens.report_cli import OVER_BUDGET_EXIT

    return OVER_BUDGET_EXIT


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from memlens.workloads.demo import generate_demo, load_demo

    root = tmp_path_factory.mktemp("demo-report")
    files = generate_demo(root / "logs", events=20_000, days=21, users=40, seed=5)
    path = root / "demo.duckdb"
    con = connect(path, load_config())
    load_demo(con, files, load_config())
    con.close()
    return path


def test_demo_report_equals_the_cost_pages_review(demo, tmp_path, monkeypatch):
    """The CLI's default week (the last complete one) and the page's default review: the same figures."""
    out = tmp_path / "csv"
    assert main(["report", "weekly", "--warehouse", str(demo), "--format", "csv", "--out", str(out)]) == 0
    summary = pd.read_csv(out / "summary.csv").set_index("figure")
    week = summary["week"].iloc[0]
    now = datetime.now(UTC).replace(tzinfo=None)
    assert week == f"{now.date() - timedelta(days=7):%G-W%V}"  # the last complete ISO week
    breakdown = pd.read_csv(out / "breakdown.csv", keep_default_na=False, na_values=[""])
    assert summary.loc["total_cost_usd", "current"] > 0 and len(breakdown[breakdown["section"] == "user"]) > 10

    cfg = tmp_path / "memlens.yaml"
    cfg.write_text("dashboard:\n  demo_when_empty: false\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg))
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(demo))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("app_pages/cost.py").run()
    at.session_state["cost_tab"] = "Weekly cost review"  # only the chosen tab runs
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    prev = pd.read_csv(out / "summary.csv")["previous_start"].iloc[0][:10]
    prev_week = f"{datetime.fromisoformat(prev):%G-W%V}"
    assert metrics[f"Total cost, this week ({week})"] == cr.usd(summary.loc["total_cost_usd", "current"])
    assert metrics[f"Total cost, last week ({prev_week})"] == cr.usd(summary.loc["total_cost_usd", "previous"])
    # every breakdown table on the page holds the CLI's rows and numbers
    frames = [d.value for d in at.dataframe]
    for dim in cr.DIMENSIONS:
        cli = breakdown[(breakdown["section"] == dim) & (breakdown["row_type"] == "item")].reset_index(drop=True)
        page = next(f for f in frames if "key" in f and "share_of_change" in f and "current_calls" in f
                    and set(f["key"].astype(str)) == set(cli["key"].astype(str)))
        page = page.set_index("key").loc[cli["key"]]
        for col in ("previous_usd", "current_usd", "delta_usd"):
            assert list(page[col]) == pytest.approx(list(cli[col]), abs=1e-12), (dim, col)
        assert list(page["current_calls"]) == list(cli["current_calls"])
    movers = pd.read_csv(out / "movers.csv")
    page_movers = next(f for f in frames if "dimension" in f)
    assert list(page_movers["key"]) == list(movers["key"].astype(str))
    assert list(page_movers["delta_usd"]) == pytest.approx(list(movers["delta_usd"]))
    # and the same report object: headline and month line as the page writes them
    con = connect(demo, load_config(), read_only=True)
    try:
        r = cr.weekly(con, cr.resolve_week(week, False, now), layer.ALL, load_config())
    finally:
        con.close()
    assert any(cr.headline(r) in m.value.replace("\\", "") for m in at.markdown)
    assert r.demo_ops > 0 and "Demo data" in cr.to_markdown(r)
    # the Cost advice tab: the levers build_cost_advice projects from the same warehouse, largest in dollars first;
    # on the demo (adds with infer=True are most of the bill) the LLM levers lead
    con = connect(demo, load_config(), read_only=True)
    try:
        adv = build_cost_advice(con, load_config())
    finally:
        con.close()
    at.session_state["cost_tab"] = "Cost advice"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    page_adv = next(d.value for d in at.dataframe if "share_of_call_cost" in d.value)
    assert list(page_adv["recommendation"]) == [s.title for s in adv.levers]
    assert list(page_adv["usd_per_month"]) == pytest.approx([s.usd_month for s in adv.levers])
    assert list(page_adv["usd_per_month"]) == sorted(page_adv["usd_per_month"], reverse=True)
    assert adv.levers[0].key == "llm_model" and {s.key for s in adv.levers[:3]} == {"llm_model", "infer_off",
                                                                                   "noop_adds"}
