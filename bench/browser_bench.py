"""Pages as a person meets them: the dashboard in real headless Chromium, every sidebar page clicked and timed
until Streamlit is idle.

    .venv/bin/python bench/browser_bench.py [--warehouse PATH] [--repeat 3] [--no-refresh]

Without --warehouse it builds (once, kept under bench/out/) the 200,000-event demo with `memlens demo`, which is
what a person gets after a collection (the advice and the alert backtest's figures are computed then, see
memlens/kept.py).
Each repeat starts a fresh dashboard process on a free 127.0.0.1 port (empty caches: the first visitor after a
collection), opens the start page, clicks every page in the sidebar ("first"), then every page again ("again").
A page counts as shown when its title is on screen, Streamlit's running indicator is gone, no skeleton is left
and every Plotly chart has drawn. Prints medians per page against issue 16's budgets (start page < 2 s, first
visit < 2 s, repeat visit < 0.5 s); absolute seconds depend on the machine's load, so compare runs of one session.
Each repeat also times the floor, alternated with the dashboard so the same load reaches both: a bare two-page
Streamlit app (a title per page, BARE_APP) served and timed the same way, its start page and a click to its other
page. Each page's time is printed beside its excess over the floor: the part memlens adds to Streamlit's own.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from memlens.kept import ANALYSES

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
START_TITLE = "Overview"
# sidebar link (= the page's title, its h1), in the sidebar's order
PAGES = ["Overview", "Latency", "Cache", "Cost", "Growth & storage", "Diagnosis", "Optimize", "Alerts & export",
         "Data sources", "Runs"]
BUDGET_START_S, BUDGET_FIRST_S, BUDGET_AGAIN_S = 2.0, 2.0, 0.5
STABLE_S = 1.0  # idle for this long after it is first seen idle: the page is shown (see wait_shown)
IDLE_JS = """() => !document.querySelector('[data-testid="stStatusWidget"]')
                   && !document.querySelector('[data-stale="true"]')
                   && !document.querySelector('[data-testid="stSkeleton"]')
                   && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                          .every(c => c.querySelector('.main-svg'))"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_warehouse(events: int) -> Path:
    path = OUT / f"browser-demo-{events}.duckdb"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        print(f"building the {events:,}-event demo warehouse {path} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "memlens.cli", "demo", "--events", str(events), "--warehouse", str(path),
                        "--out", str(OUT / f"browser-demo-{events}-logs")], check=True)
    return path


# The floor: a bare Streamlit app (a title per page, linked in the sidebar as the dashboard links its pages), served and
# timed the same way in the same run. A page's time minus the floor is what memlens adds to Streamlit. Its "Chart"
# page draws one 3-point Plotly chart: the first page with a Plotly chart loads Streamlit's Plotly bundle (4.7 MB of
# JavaScript in Streamlit 1.67), whichever page it is.
BARE_APP = """import streamlit as st
import plotly.graph_objects as go


def chart():
    st.title("Chart")
    st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))


pages = [st.Page(lambda: st.title("Overview"), title="Overview", url_path="overview", default=True),
         st.Page(lambda: st.title("Other"), title="Other", url_path="other"),
         st.Page(chart, title="Chart", url_path="chart")]
nav = st.navigation(pages, position="hidden")
for p in pages:
    st.sidebar.page_link(p, label=p.title)
nav.run()
"""


class Dashboard:
    """`streamlit run <app>` on a free 127.0.0.1 port, from the repository root (its .streamlit/config.toml applies
    to both apps), stopped on exit. The dashboard (the default app) is started as `memlens dashboard` starts it,
    through memlens.dashboard.serve (which imports the pages' libraries first); the bare app by Streamlit itself."""

    def __init__(self, warehouse: Path | None, home: Path, app: Path = REPO / "dashboard" / "app.py") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MEMLENS_HOME": str(home), "MEM0_TELEMETRY": "False"}
        if warehouse is not None:
            env["MEMLENS_WAREHOUSE"] = str(warehouse)
        self.log = (home / "streamlit.log").open("w")
        launcher = "memlens.dashboard.serve" if app == REPO / "dashboard" / "app.py" else "streamlit"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", launcher, "run", str(app), "--server.port",
             str(self.port), "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false"], cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"streamlit did not start: {(home / 'streamlit.log').read_text()}") from None
                time.sleep(0.5)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def wait_shown(page, title: str) -> float:
    """Wait until the page `title` is shown; the perf_counter time it was first seen idle.

    Streamlit shows its running indicator (and a cached function's spinner) only some hundred milliseconds into a
    run, so a page whose title renders before a long computation looks idle for a moment: idle counts only when it
    still holds STABLE_S later (else the computation would be charged to the next page clicked)."""
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=300_000)
    while True:
        page.wait_for_function(IDLE_JS, timeout=300_000, polling=50)
        seen = time.perf_counter()
        page.wait_for_timeout(STABLE_S * 1000)
        if page.evaluate(IDLE_JS):
            return seen


def visit(page, title: str) -> float:
    """Click `title` in the sidebar; seconds until it is shown."""
    t0 = time.perf_counter()
    page.get_by_role("link", name=title, exact=True).first.click()
    return wait_shown(page, title) - t0


def floor_session(browser) -> dict[str, float]:
    """The bare app (BARE_APP): its start page, then a click to its other page and to its chart page and back, twice
    ("first", "again"), timed as the dashboard's pages are."""
    with tempfile.TemporaryDirectory(prefix="memlens-browser-floor-") as home:
        app_file = Path(home) / "bare_app.py"
        app_file.write_text(BARE_APP)
        app = Dashboard(None, Path(home), app_file)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            times: dict[str, float] = {}
            t0 = time.perf_counter()
            page.goto(app.url)
            times["start"] = wait_shown(page, "Overview") - t0
            for rnd in ("first", "again"):
                times[f"click|{rnd}"] = visit(page, "Other")
                times[f"chart|{rnd}"] = visit(page, "Chart")
                visit(page, "Overview")
            page.close()
            return times
        finally:
            app.stop()


def one_session(browser, warehouse: Path, shots: Path | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="memlens-browser-bench-") as home:
        app = Dashboard(warehouse, Path(home))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            times: dict[str, float] = {}
            t0 = time.perf_counter()
            page.goto(app.url)
            times["start"] = wait_shown(page, START_TITLE) - t0
            for rnd in ("first", "again"):
                for title in PAGES[1:] + PAGES[:1]:  # Overview last: it was the start page
                    times[f"{title}|{rnd}"] = visit(page, title)
                    if shots is not None and rnd == "first":
                        page.screenshot(path=str(shots / f"{title.split()[0].lower()}.png"))
            page.close()
            return times
        finally:
            app.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", help="an existing warehouse (default: the demo, built once under bench/out/)")
    ap.add_argument("--events", type=int, default=200_000, help="demo events when building (default 200000)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-refresh", action="store_true",
                    help="time the warehouse as it is (skip bringing its rollups and kept analyses up to date)")
    ap.add_argument("--screenshots", help="save a screenshot of each page's first visit here (last repeat)")
    ap.add_argument("--compare-kept", choices=sorted(ANALYSES),
                    help="each repeat runs two sessions: without this analysis kept since the collection (the pages "
                    "compute it, as before it was kept; the baseline) and with it")
    args = ap.parse_args()
    warehouse = Path(args.warehouse) if args.warehouse else demo_warehouse(args.events)
    shots = Path(args.screenshots) if args.screenshots else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    from memlens import rollups
    from memlens.config import load_config
    from memlens.kept import kept_file, refresh_after_collection
    from memlens.warehouse import open_warehouse

    # the state a collection leaves with this code (a warehouse built by another version holds stale rollups and kept
    # analyses)
    if not args.no_refresh:
        cfg = load_config()
        with open_warehouse(warehouse, cfg) as con:
            rollups.refresh(con)
        refresh_after_collection(warehouse, cfg, sys.stdout)

    runs: list[dict[str, float]] = []
    baseline: list[dict[str, float]] = []
    floors: list[dict[str, float]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for i in range(args.repeat):
                if args.compare_kept:  # the session computes it on its page's first visit (and keeps it)
                    kept_file(warehouse, args.compare_kept).unlink(missing_ok=True)
                    baseline.append(one_session(browser, warehouse, None))
                floors.append(floor_session(browser))  # alternated with the dashboard: the same load reaches both
                runs.append(one_session(browser, warehouse, shots if i == args.repeat - 1 else None))
                print(f"session {i + 1}/{args.repeat} done", flush=True)
        finally:
            browser.close()

    def med(key: str, of: list[dict[str, float]] = runs) -> float:
        return statistics.median(r[key] for r in of)

    if baseline:
        print(f"\nbaseline, {args.compare_kept} not kept (computed by the first visit), medians of {args.repeat} "
              "sessions:")
        for title in PAGES:
            print(f"{title:<22} {med(f'{title}|first', baseline):7.2f} {med(f'{title}|again', baseline):7.2f}")
    floor_start, floor_first, floor_again, chart_first, chart_again = (
        med(k, floors) for k in ("start", "click|first", "click|again", "chart|first", "chart|again"))
    print(f"\n{warehouse} — medians of {args.repeat} fresh dashboard sessions, seconds until the page is shown; "
          "'+' = above the floor (a bare two-page Streamlit app served and timed alike in the same run: what "
          "memlens adds)")
    print(f"{'floor (bare Streamlit)':<22} start {floor_start:5.2f}   click: first {floor_first:5.2f}, again "
          f"{floor_again:5.2f}; to a page with one small Plotly chart: first {chart_first:5.2f} (the first Plotly "
          f"chart of a session loads Plotly's bundle), again {chart_again:5.2f}")
    start = med("start")
    print(f"{'start page (Overview)':<22} {start:7.2f} (+{start - floor_start:.2f})   budget < {BUDGET_START_S:g} s: "
          f"{'met' if start < BUDGET_START_S else 'NOT met'}")
    print(f"{'page':<22} {'first':>7} {'(+)':>7} {'again':>7} {'(+)':>7}   budgets: first < {BUDGET_FIRST_S:g} s, "
          f"again < {BUDGET_AGAIN_S:g} s (Overview's first is its second visit: it was the start page)")
    met = 0
    for title in PAGES:
        first, again = med(f"{title}|first"), med(f"{title}|again")
        ok = first < BUDGET_FIRST_S and again < BUDGET_AGAIN_S
        met += ok
        print(f"{title:<22} {first:7.2f} {first - floor_first:+7.2f} {again:7.2f} {again - floor_again:+7.2f}   "
              f"{'met' if ok else 'NOT met'}")
    print(f"budgets met on {met} of {len(PAGES)} pages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
