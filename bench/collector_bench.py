"""Collector resource bench (issue 12 #11, #12, #13): memory and time as a person meets them, each case in its own
process (peak resident memory is the process's, read from getrusage), against a baseline measured in the same run.

    .venv/bin/python bench/collector_bench.py parquet [--rows 150000 600000] [--repeat 3]
    .venv/bin/python bench/collector_bench.py smallfiles [--files 2000] [--lines 3] [--repeat 3]
    .venv/bin/python bench/collector_bench.py prometheus [--points 1000000] [--repeat 1]

- parquet: `collect logs` of N events as one Parquet file vs the same events as JSONL (the baseline: read through
  collector.read_bytes already); peak resident MB above the process's resident size before collecting.
- smallfiles: `collect logs` of F files of L lines each into a file warehouse vs the same F*L lines in one file
  (baseline); seconds, medians.
- prometheus: `collect prometheus` (the 14 queries of the default config) over a range of `points` steps of 1 s
  against a local stand-in Prometheus (tests/fake_prometheus.py: a stdlib HTTP server on 127.0.0.1, one series
  per query) vs a process that only opens the warehouse; peak resident MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"


def _peak_mb() -> float:
    """VmHWM: the peak resident size of this program (getrusage's ru_maxrss keeps the forked parent's size)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _use_source(src: str) -> None:
    """Import memlens from `src` (a tree laid out as the installed package: src/memlens/...) instead of this
    checkout: to measure the code before a change in the same run (--src)."""
    sys.path.insert(0, src)
    sys.meta_path[:] = [m for m in sys.meta_path if "editable" not in type(m).__module__.lower()
                        and "__editable__" not in str(m)]


def child(kind: str, args: list[str]) -> None:
    """One measured collection in this process: prints {"seconds", "peak_mb", "base_mb", ...} as JSON."""
    if os.environ.get("MEMLENS_BENCH_SRC"):
        _use_source(os.environ["MEMLENS_BENCH_SRC"])
    sys.path.insert(0, str(TESTS))
    from memlens.config import load_config
    from memlens.warehouse import connect

    work = Path(args[0])
    cfg = load_config()
    con = connect(work / "wh.duckdb", cfg)
    base = _rss_mb()
    t0 = time.perf_counter()
    out: dict = {}
    if kind in ("oplog", "none"):
        from memlens.collectors.oplog import collect_oplogs

        if kind == "oplog":
            r = collect_oplogs(con, [Path(p) for p in args[1:]], cfg)
            out = {"loaded": r.rows_loaded, "quarantined": r.rows_quarantined}
    elif kind == "prometheus":
        from memlens.collectors.prometheus import collect_prometheus

        url, hours = args[1], float(args[2])
        from datetime import UTC, datetime, timedelta

        end = datetime(2026, 11, 1, tzinfo=UTC)
        r = collect_prometheus(con, url, cfg, start=end - timedelta(hours=hours), end=end, step="1s")
        out = {"loaded": r.rows_loaded}
    seconds = time.perf_counter() - t0
    con.close()
    peak = _peak_mb()
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "base_mb": base, **out}))


def run_child(kind: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "_child", kind, *args], capture_output=True, text=True,
                         check=False, env=dict(os.environ, MEM0_TELEMETRY="False"))
    if out.returncode != 0:
        raise SystemExit(f"child {kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def bench_parquet(rows_list: list[int], repeat: int) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    import pyarrow.parquet as pq
    from ingest_bench import generate, write_jsonl

    print(f"{'rows':>9}  {'format':<8} {'peak MB above start':>20} {'seconds':>8}  (median of {repeat})")
    for rows in rows_list:
        with tempfile.TemporaryDirectory(prefix="memlens-bench-") as tmp:
            tmp = Path(tmp)
            table = generate(rows, seed=11)
            pq.write_table(table, tmp / "events.parquet", row_group_size=rows)  # one row group: the hard case
            jsonl = write_jsonl(table, tmp / "jsonl")
            res = {}
            for name, paths in (("jsonl", [str(p) for p in jsonl]), ("parquet", [str(tmp / "events.parquet")])):
                runs = []
                for i in range(repeat):
                    work = tmp / f"w-{name}-{i}"
                    work.mkdir()
                    runs.append(run_child("oplog", str(work), *paths))
                    assert runs[-1]["loaded"] == rows, runs[-1]
                res[name] = (statistics.median(r["peak_mb"] - r["base_mb"] for r in runs), _median(runs, "seconds"))
                print(f"{rows:>9,}  {name:<8} {res[name][0]:>20,.0f} {res[name][1]:>8.1f}")
            print(f"{'':>9}  parquet / jsonl peak memory: {res['parquet'][0] / res['jsonl'][0]:.2f}x")


def bench_smallfiles(files: int, lines: int, repeat: int) -> None:
    from reliability_support import dumps, iter_events

    with tempfile.TemporaryDirectory(prefix="memlens-bench-") as tmp:
        tmp = Path(tmp)
        many, one = tmp / "many", tmp / "one"
        many.mkdir()
        one.mkdir()
        events = [dumps(e) for e in iter_events(files * lines, seed=21)]
        for f in range(files):
            (many / f"oplog-{f:05d}.jsonl").write_text("\n".join(events[f * lines:(f + 1) * lines]) + "\n")
        (one / "oplog.jsonl").write_text("\n".join(events) + "\n")
        res = {}
        for name, folder in (("one file", one), (f"{files:,} files", many)):
            runs = []
            for i in range(repeat):
                work = tmp / f"w-{name.replace(' ', '')}-{i}"
                work.mkdir()
                runs.append(run_child("oplog", str(work), str(folder)))
                assert runs[-1]["loaded"] == files * lines, runs[-1]
            res[name] = _median(runs, "seconds")
            print(f"{files * lines:,} lines in {name:<12} {res[name]:>7.2f} s  (median of {repeat})")
        print(f"ratio {files:,} files / one file: {res[f'{files:,} files'] / res['one file']:.1f}x")


def bench_prometheus(points: int, repeat: int) -> None:
    sys.path.insert(0, str(TESTS))
    from fake_prometheus import serve_fake_prometheus

    with tempfile.TemporaryDirectory(prefix="memlens-bench-") as tmp, serve_fake_prometheus("ok") as (_, url):
        tmp = Path(tmp)
        hours = (points - 1) / 3600  # 1 s step: `points` points per query
        base = run_child("none", str(tmp))
        runs = []
        for i in range(repeat):
            work = tmp / f"w-{i}"
            work.mkdir()
            runs.append(run_child("prometheus", str(work), url, str(hours)))
        loaded = runs[-1]["loaded"]
        peak = statistics.median(r["peak_mb"] for r in runs)
        print(f"14 queries x {points:,} points ({loaded:,} rows loaded): peak resident {peak:,.0f} MB, "
              f"{_median(runs, 'seconds'):.1f} s; an idle process: {base['peak_mb']:,.0f} MB (median of {repeat})")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_child":
        child(sys.argv[2], sys.argv[3:])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", help="measure the memlens package found in this folder (laid out as installed: "
                   "SRC/memlens/collectors/...) instead of this checkout, e.g. the code before a change")
    sub = p.add_subparsers(dest="case", required=True)
    a = sub.add_parser("parquet")
    a.add_argument("--rows", type=int, nargs="+", default=[150_000, 600_000])
    a.add_argument("--repeat", type=int, default=3)
    b = sub.add_parser("smallfiles")
    b.add_argument("--files", type=int, default=2000)
    b.add_argument("--lines", type=int, default=3)
    b.add_argument("--repeat", type=int, default=3)
    c = sub.add_parser("prometheus")
    c.add_argument("--points", type=int, default=1_000_000)
    c.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    if args.src:
        os.environ["MEMLENS_BENCH_SRC"] = args.src
    sys.path.insert(0, str(TESTS))
    if args.case == "parquet":
        bench_parquet(args.rows, args.repeat)
    elif args.case == "smallfiles":
        bench_smallfiles(args.files, args.lines, args.repeat)
    else:
        bench_prometheus(args.points, args.repeat)


if __name__ == "__main__":
    main()
