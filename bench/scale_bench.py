"""The same warehouse on DuckDB and on ClickHouse (chdb, ClickHouse's engine in this process): load time and page
server time, for docs/scale.md.

    python bench/scale_bench.py [--events 10000000] [--repeats 1]

The DuckDB warehouse is bench/dashboard_bench.py's (the seeded 200,000-event demo through the real collectors,
replicated to `--events` with fresh event ids; built once, cached under bench/out/). Its raw tables are then loaded
into a ClickHouse warehouse (chdb, data folder under bench/out/) in inserts of memlens.clickhouse.INSERT_BATCH_ROWS
rows, timed, and the rollups built there, timed. Both engines then render every dashboard page through AppTest with
cold caches (st.cache_data cleared: the first visitor after a load) and warm. The baseline is DuckDB, same pages,
same run: the ratio is ClickHouse / DuckDB. chdb is one process on this machine: these figures say what the
translated SQL costs on ClickHouse's engine, not what a ClickHouse cluster on more cores would do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dashboard_bench import BUDGET_S, OUT, PAGES, build, time_pages


def load_clickhouse(duck_path: Path, url: str) -> tuple[int, float, float]:
    """Copy every raw table of the DuckDB warehouse into a new ClickHouse one; (events, load s, rollups s)."""
    import duckdb
    import pyarrow as pa

    from memlens import backend, rollups
    from memlens.clickhouse import INSERT_BATCH_ROWS
    from memlens.warehouse import connect, layout

    src = duckdb.connect(str(duck_path), read_only=True)
    ch = connect(url)
    try:
        t0 = time.perf_counter()
        for table in layout():
            if table in ("meta_warehouse", "cfg_settings", "cfg_prices"):
                continue  # written by connect()
            reader = src.execute(f'SELECT * FROM "{table}"').to_arrow_reader(INSERT_BATCH_ROWS)  # names: our layout
            for batch in reader:
                backend.insert(ch, table, pa.Table.from_batches([batch]))
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rollups.refresh(ch, full=True)
        rollup_s = time.perf_counter() - t0
        events = ch.execute("SELECT count(*) FROM raw_op_events").fetchone()[0]
    finally:
        ch.close()
        src.close()
    return events, load_s, rollup_s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    os.environ.setdefault("MEMLENS_HOME", tempfile.mkdtemp(prefix="memlens-bench-home-"))
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    duck = build(OUT / f"dashboard-{args.events}.duckdb", args.events)
    print(f"DuckDB warehouse ready in {time.perf_counter() - t0:.1f} s: {duck.name} "
          f"({duck.stat().st_size / 2**30:.2f} GiB)", file=sys.stderr)
    folder = OUT / f"chdb-{args.events}"
    shutil.rmtree(folder, ignore_errors=True)
    url = f"chdb://{folder}?database=memlens"
    events, load_s, rollup_s = load_clickhouse(duck, url)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"ClickHouse (chdb) warehouse: {events:,} events loaded in {load_s:.1f} s "
          f"({events / load_s:,.0f} rows/s), rollups built in {rollup_s:.1f} s, data folder {size / 2**30:.2f} GiB")
    duck_t = time_pages(duck, args.repeats)
    ch_t = time_pages(url, args.repeats)  # type: ignore[arg-type]  (a URL: time_pages only passes it on)
    n = f"{args.events / 1e6:g}M"
    print(f"dashboard page server time at {n} events, median of {args.repeats} (AppTest run; cold = caches cleared)")
    print(f"{'page':<13} {'DuckDB cold':>11} {'chdb cold':>10} {'ratio':>6} {'DuckDB warm':>12} {'chdb warm':>10}"
          f"  under {BUDGET_S:.0f} s (DuckDB / chdb)")
    for page in PAGES:
        (dc, dw), (cc, cw) = duck_t[page], ch_t[page]
        print(f"{page:<13} {dc:>10.2f}s {cc:>9.2f}s {cc / dc:>5.1f}x {dw:>11.2f}s {cw:>9.2f}s  "
              f"{'yes' if dc < BUDGET_S else 'NO'} / {'yes' if cc < BUDGET_S else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
