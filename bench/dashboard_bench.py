"""Per-page server time of the dashboard (AppTest run time: the whole script, queries included).

    python bench/dashboard_bench.py [--events 10000000] [--repeats 3]

Builds (once, cached under bench/out/) a warehouse of `--events` op events by loading the seeded demo workload
(200,000 events) through the real collector and replicating it with fresh event ids, then times every page
with cold caches (st.cache_data cleared before each run: what the first visitor after a load waits) and warm
(the same page again). The baseline is the same pages on the 200,000-event demo warehouse, measured in the same
run; the ratio shows how page time scales with the data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
PAGES = ["overview", "latency", "cache", "cost", "growth", "diagnosis", "optimization", "alerts", "sources", "runs"]
BASE_EVENTS = 200_000
BUDGET_S = 1.0


def build(path: Path, events: int) -> Path:
    """The demo through the real loaders, then replicated to `events` rows (new event ids, same timestamps)."""
    if path.exists():
        return path
    tmp_db = path.with_name(path.name + ".building")  # renamed when complete: a crash leaves no half warehouse
    for stale in path.parent.glob(tmp_db.name + "*"):
        stale.unlink()
    from memlens.config import load_config
    from memlens.warehouse import open_warehouse
    from memlens.workloads.demo import generate_demo, load_demo

    cfg = load_config()
    logs = Path(tempfile.mkdtemp(prefix="memlens-bench-")) / "logs"
    files = generate_demo(logs, events=BASE_EVENTS, days=28, users=200, seed=7)
    with open_warehouse(tmp_db, cfg) as con:
        load_demo(con, files, cfg)
        copies = events // BASE_EVENTS
        if copies > 1:
            con.execute("INSERT INTO raw_op_events SELECT e.* REPLACE (e.event_id || '-' || CAST(t.k AS VARCHAR) "
                        "AS event_id) FROM raw_op_events AS e, range(1, ?) AS t(k)", [copies])
        try:
            from memlens import rollups

            rollups.refresh(con)
        except ImportError:
            pass
        con.execute("CHECKPOINT")
    tmp_db.rename(path)
    return path


def time_pages(path: Path, repeats: int) -> dict[str, tuple[float, float]]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["MEMLENS_WAREHOUSE"] = str(path)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=600)
    at.run()  # opens the warehouse, fills the sidebar
    out: dict[str, tuple[float, float]] = {}
    for page in PAGES:
        cold, warm = [], []
        for _ in range(repeats):
            st.cache_data.clear()
            t0 = time.perf_counter()
            at.switch_page(f"app_pages/{page}.py").run()
            cold.append(time.perf_counter() - t0)
            if at.exception:
                raise RuntimeError(f"{page}: {at.exception[0].value}")
            t0 = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - t0)
        out[page] = (statistics.median(cold), statistics.median(warm))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("MEMLENS_HOME", tempfile.mkdtemp(prefix="memlens-bench-home-"))
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    base = build(OUT / f"dashboard-{BASE_EVENTS}.duckdb", BASE_EVENTS)
    big = build(OUT / f"dashboard-{args.events}.duckdb", args.events)
    print(f"warehouses ready in {time.perf_counter() - t0:.1f} s: {base.name}, {big.name}", file=sys.stderr)
    base_t = time_pages(base, args.repeats)
    big_t = time_pages(big, args.repeats)
    print(f"dashboard page server time, median of {args.repeats} (AppTest run; cold = caches cleared)")
    print(f"{'page':<11} {'200k cold':>10} {f'{args.events // 1_000_000}M cold':>10} {'ratio':>6} "
          f"{f'{args.events // 1_000_000}M warm':>10}  under {BUDGET_S:.0f} s")
    for page in PAGES:
        (bc, _), (c, w) = base_t[page], big_t[page]
        print(f"{page:<11} {bc:>9.3f}s {c:>9.3f}s {c / bc:>5.1f}x {w:>9.3f}s  {'yes' if c < BUDGET_S else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
