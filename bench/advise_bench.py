"""`memlens advise` as a person meets it: seconds until the answer is printed, and until the first line.

    .venv/bin/python bench/advise_bench.py --warehouse PATH [--repeat 3]

Runs `memlens advise` as a subprocess on the warehouse (e.g. the 200,000-event demo of `memlens demo`), medians of
--repeat runs each of:
  - computed: the advice kept beside the warehouse removed first (optimize/stored_advice.py), so the command
    replays the search log and runs every analysis itself: what every run did before the advice was kept, and
    what the first reader after a collection into a warehouse without it waits;
  - kept: the advice of the current data already kept (what every run after `memlens collect` finds).
For both, the time to the first line on stderr/stdout (the progress steps) is printed too.
"""

from __future__ import annotations

import argparse
import os
import selectors
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from memlens.optimize.stored_advice import advice_file  # noqa: E402


def run_advise(warehouse: Path) -> tuple[float, float]:
    """(seconds to the first output line, seconds to exit)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "memlens.cli", "advise", "--warehouse", str(warehouse)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "MEM0_TELEMETRY": "False"})
    first = None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    sel.register(proc.stderr, selectors.EVENT_READ)
    open_streams = 2
    while open_streams:
        for key, _ in sel.select():
            line = key.fileobj.readline()
            if not line:
                sel.unregister(key.fileobj)
                open_streams -= 1
            elif first is None:
                first = time.perf_counter() - t0
    code = proc.wait()
    total = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"memlens advise exited {code}")
    return (first if first is not None else total), total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    wh = Path(args.warehouse)
    computed, kept = [], []
    for _ in range(args.repeat):  # alternating, so a change in the machine's load reaches both alike
        advice_file(wh).unlink(missing_ok=True)
        computed.append(run_advise(wh))
        kept.append(run_advise(wh))
    for name, runs in (("computed (nothing kept)", computed), ("kept since the collection", kept)):
        first = statistics.median(r[0] for r in runs)
        total = statistics.median(r[1] for r in runs)
        print(f"memlens advise, advice {name:<26}: first line after {first:6.2f} s, answer after {total:7.2f} s")
    ratio = statistics.median(r[1] for r in computed) / statistics.median(r[1] for r in kept)
    print(f"medians of {args.repeat} runs each on {wh}; computed / kept: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
