"""The weekly cost review's HTML in real headless Chromium: it opens offline (no request leaves the file), its charts
draw, its tables hold the report's figures; a screenshot is saved (copied to $MEMLENS_SCREENSHOTS when set)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from cost_review_support import BUDGETS, NOW, insert_review_events

from memlens import cost_review as cr
from memlens import layer
from memlens.config import load_config
from memlens.warehouse import connect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _reports() -> dict[str, cr.WeeklyReport]:
    cfg = load_config(overrides={"budgets": BUDGETS})
    con = connect(":memory:", cfg)
    insert_review_events(con)
    end = layer.one(layer.query(con, "span"))["last_ts"]
    out = {name: cr.weekly(con, cr.resolve_week(week, partial, NOW, end), layer.ALL, cfg)
           for name, week, partial in (("complete", "2026-W47", False), ("partial", None, True))}
    con.close()
    return out


@pytest.mark.parametrize("kind", ["complete", "partial"])
def test_html_report_in_chromium(kind, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium not installed")
    from playwright.sync_api import sync_playwright

    r = _reports()[kind]
    report = tmp_path / f"{cr.file_stem(r)}.html"
    report.write_text(cr.to_html(r), encoding="utf-8")
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1200})
        page.on("request", lambda req: requests.append(req.url))
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        assert requests == [report.as_uri()]  # nothing fetched: charts and styles are inline
        assert errors == []
        assert page.title() == cr.title(r)
        svgs = page.locator("figure svg")
        assert svgs.count() == 3
        for i in range(3):
            box = svgs.nth(i).bounding_box()
            assert box and box["width"] > 500 and box["height"] > 100
        assert page.locator("figure svg rect[fill='#1f77b4']").count() >= 3  # this week's bars were drawn
        headline = page.locator("p.headline").inner_text()
        assert headline == cr.headline(r)
        if kind == "partial":
            assert page.locator("p.partial").inner_text().startswith("PARTIAL WEEK — 2026-W48 so far")
            assert "$1.02" in headline and "same span last week" in headline
        else:
            assert "$9.50" in headline and page.locator("li.over").count() == 1  # the team's daily budget
            cells = page.locator("table").nth(0).locator("tbody tr").first.locator("td").all_inner_texts()
            assert cells == ["Total cost", "$2.25", "$9.50", "+$7.25", "+322.2 %"]
        shot = tmp_path / f"cost-review-{kind}.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    target = os.environ.get("MEMLENS_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / shot.name)
