"""How long the alert backtest makes a person wait: the windowed figures (the Alerts page's first render, or
`memlens alerts backtest`) and the re-evaluation after a threshold edit (what every edit on the page costs).

    python bench/backtest_bench.py [--events 1000000] [--repeats 3]

Warehouses are built by bench/dashboard_bench.py's `build` (the seeded 200,000-event demo through the real loaders,
replicated to `--events`; cached under bench/out/). The baseline is the 200,000-event demo, measured in the same run;
ratios show how the backtest scales with the data. Prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from dashboard_bench import BASE_EVENTS, OUT, build  # noqa: E402


def measure(path: Path, repeats: int) -> dict[str, float]:
    import duckdb

    from memlens.alerts import backtest
    from memlens.config import load_config

    cfg = load_config()
    edited = load_config(None, overrides={"thresholds": {"p99_ms": 750}, "alerts": {"rules": {
        "p95_latency": {"severity": "warning", "for": "5m"}}}})
    times: dict[str, list[float]] = {"figures (first render, CLI)": [], "evaluate (each edit)": []}
    con = duckdb.connect(str(path), read_only=True)
    try:
        for _ in range(repeats):
            t = time.perf_counter()
            fig = backtest.figures(con, cfg)
            times["figures (first render, CLI)"].append(time.perf_counter() - t)
            t = time.perf_counter()
            backtest.evaluate(edited, fig)
            times["evaluate (each edit)"].append(time.perf_counter() - t)
    finally:
        con.close()
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    base = measure(build(OUT / f"dashboard-{BASE_EVENTS}.duckdb", BASE_EVENTS), args.repeats)
    big = measure(build(OUT / f"dashboard-{args.events}.duckdb", args.events), args.repeats)
    print(f"alert backtest, medians of {args.repeats} (s)")
    print(f"{'':32s} {BASE_EVENTS:>12,} {args.events:>12,}  ratio")
    for key in base:
        print(f"{key:32s} {base[key]:12.2f} {big[key]:12.2f}  {big[key] / base[key]:5.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
