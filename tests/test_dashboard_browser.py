"""The real app in real headless Chromium: every page renders without an error element, the weekly report
downloads, and a screenshot per page is saved (copied to $MEMLENS_SCREENSHOTS when set, for review)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# url path → the page's title (h1)
PAGES = {
    "": "Overview", "latency": "Latency", "cache": "Cache", "cost": "Cost", "growth": "Growth & storage",
    "diagnosis": "Diagnosis", "optimization": "Optimize", "alerts": "Alerts & export", "sources": "Data sources",
    "runs": "Runs",
}
DEMO_EVENTS = 30_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory) -> Path:
    from memlens.collectors.oplog import collect_oplogs
    from memlens.config import load_config
    from memlens.warehouse import open_warehouse
    from memlens.workloads.demo import generate_demo

    root = tmp_path_factory.mktemp("browser")
    files = generate_demo(root / "demo-logs", events=DEMO_EVENTS, days=21, users=50, seed=3)
    path = root / "demo.duckdb"
    cfg = load_config()
    with open_warehouse(path, cfg) as con:
        try:  # the real demo loader (op logs, history, rollups)
            from memlens.workloads.demo import load_demo

            load_demo(con, files, cfg)
        except ImportError:  # a build without the history collector: op logs only
            collect_oplogs(con, [p for p in files if p.suffix == ".jsonl"], cfg)
    return path


@pytest.fixture(scope="module")
def app_url(demo_warehouse, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium not installed")
    port = _free_port()
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "MEMLENS_WAREHOUSE": str(demo_warehouse), "MEMLENS_HOME": str(home)}
    log = (home / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard" / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"streamlit did not start: {(home / 'streamlit.log').read_text()}") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _wait_rendered(page, title: str) -> None:
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60_000)
    # The script has finished when the "running" status widget is gone; lazily loaded elements (charts, tables)
    # show skeletons until their code arrives; every plotly chart has drawn its svg.
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')
                 && !document.querySelector('[data-testid="stSkeleton"]')
                 && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                        .every(c => c.querySelector('.main-svg'))""", timeout=90_000)
    page.wait_for_timeout(1000)


def _errors(page) -> list[str]:
    found = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return [found.nth(i).inner_text() for i in range(found.count())]


def test_every_page_renders_and_the_weekly_report_downloads(app_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
    shots = tmp_path / "screens"
    shots.mkdir()
    for path, title in PAGES.items():
        page.goto(f"{app_url}/{path}")
        _wait_rendered(page, title)
        assert _errors(page) == [], f"{title}: error element on the page"
        assert page.get_by_text("Demo data", exact=False).first.is_visible(), f"{title}: no demo banner"
        page.screenshot(path=str(shots / f"{path or 'overview'}.png"), full_page=True)

    page.goto(f"{app_url}/cost")
    _wait_rendered(page, "Cost")
    page.get_by_role("tab", name="Weekly cost review").click()
    button = page.get_by_role("button", name="Download report (HTML)")
    button.wait_for()
    with page.expect_download() as info:
        button.click()
    report = tmp_path / info.value.suggested_filename
    info.value.save_as(report)
    text = report.read_text(encoding="utf-8")
    assert report.name.startswith("mem0-cost-review-") and report.suffix == ".html"
    assert "Mem0 weekly cost review" in text and "Demo data" in text and "<table>" in text
    page.screenshot(path=str(shots / "cost-weekly-review.png"), full_page=True)

    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    csv_file = tmp_path / info.value.suggested_filename
    info.value.save_as(csv_file)
    assert csv_file.read_text(encoding="utf-8").splitlines()[-1].split(",")[2] == "TOTAL"

    target = os.environ.get("MEMLENS_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in shots.iterdir():
            shutil.copy(shot, Path(target) / shot.name)
