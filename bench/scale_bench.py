"""The same warehouse on DuckDB and on ClickHouse (chdb, ClickHouse's engine in this process): load time and the
time of the pages' queries, for docs/scale.md. Two modes:

    python bench/scale_bench.py queries [--events 10000000] [--repeat 3]
    python bench/scale_bench.py pages [--events 400000] [--repeat 1]

`queries` (the issue's 10M figure): N synthetic events are generated inside DuckDB (bench/layer_bench_events.sql,
the shape of `memlens demo`), then the same raw_op_events rows are loaded into a ClickHouse warehouse (chdb, data
folder under bench/out/) in inserts of memlens.clickhouse.INSERT_BATCH_ROWS rows, timed; the rollups are built on
both, timed; then each dashboard question of bench/layer_bench.py (the memlens.layer calls the pages make: cost,
calls/errors/cache, latency histogram, P50/P95/P99) is answered on both engines from the events (exact) and from
the rollups (fast path), engines alternating within each repeat: medians, ratio chdb / DuckDB, and whether the two
engines give the same frame.

`pages`: the DuckDB warehouse is bench/dashboard_bench.py's (the seeded 200,000-event demo through the real
collectors, replicated to `--events` with fresh event ids; built once, cached under bench/out/). Its raw tables are
then loaded into a ClickHouse warehouse, timed, and both engines render every dashboard page through AppTest with
cold caches (st.cache_data cleared: the first visitor after a load) and warm.

The baseline is DuckDB, same data, same run. chdb is one process on this machine: these figures say what the
translated SQL costs on ClickHouse's engine, not what a ClickHouse cluster on more cores would do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dashboard_bench import BUDGET_S, OUT, PAGES, build, time_pages


def load_clickhouse(duck_path: Path, url: str | Path) -> tuple[int, float, float]:
    """Copy every raw table of the DuckDB warehouse into a new warehouse (a ClickHouse URL, or a DuckDB file: the same
    inserts, for the baseline); (events, load s, rollups s)."""
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
            reader = src.sql(f'SELECT * FROM "{table}"').to_arrow_reader(INSERT_BATCH_ROWS)  # names: our layout
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


def _folder_gib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**30


def queries(events: int, repeat: int) -> None:
    """The `queries` mode (module docstring)."""
    import pandas as pd
    from layer_bench import END, FAST, PERCENTILES, QUESTIONS

    from memlens import layer
    from memlens.clickhouse import INSERT_BATCH_ROWS
    from memlens.warehouse import connect

    source = OUT / f"scale-{events}-source.duckdb"  # the generated rows, loaded from here into both engines
    source.unlink(missing_ok=True)
    gen = connect(source)
    t0 = time.perf_counter()
    gen.execute((Path(__file__).resolve().parent / "layer_bench_events.sql").read_text(encoding="utf-8"),
                {"n": events, "end": END})
    gen.close()
    print(f"{events:,} events generated in {time.perf_counter() - t0:.1f} s (inside DuckDB: the source of both loads)")
    duck_path = OUT / f"scale-{events}.duckdb"
    duck_path.unlink(missing_ok=True)
    folder = OUT / f"chdb-scale-{events}"
    shutil.rmtree(folder, ignore_errors=True)
    url = f"chdb://{folder}?database=memlens"
    for engine, target in (("DuckDB", duck_path), ("ClickHouse (chdb)", url)):
        n, load_s, rollup_s = load_clickhouse(source, target)
        print(f"{engine}: {n:,} events loaded in {load_s:.1f} s ({n / load_s:,.0f} rows/s, inserts of "
              f"{INSERT_BATCH_ROWS:,} rows), rollups built in {rollup_s:.1f} s")
    source.unlink()
    print(f"sizes: DuckDB file {duck_path.stat().st_size / 2**30:.2f} GiB, "
          f"chdb data folder {_folder_gib(folder):.2f} GiB")
    duck = connect(duck_path)
    ch = connect(url)
    engines = {"duckdb": duck, "chdb": ch}
    calls: list[tuple[str, str, object]] = []
    for name, metric, f, by, grain in QUESTIONS:
        for path, speed in (("exact", layer.Speed()), ("fast", FAST)):
            calls.append((name, path, lambda con, m=metric, f=f, b=by, g=grain, s=speed: layer.query(con, m, f, b, g,
                                                                                                     s)))
    for name, f, by, grain in PERCENTILES:
        for path, speed in (("exact", layer.Speed()), ("fast", FAST)):
            calls.append((name, path, lambda con, f=f, b=by, g=grain, s=speed: layer.percentiles(con, f, b, g, s)))
    times: dict[tuple[str, str, str], list[float]] = {}
    answers: dict[tuple[str, str, str], pd.DataFrame] = {}
    for r in range(repeat):
        for name, path, fn in calls:
            order = ("duckdb", "chdb") if r % 2 == 0 else ("chdb", "duckdb")  # alternate: load reaches both alike
            for engine in order:
                t0 = time.perf_counter()
                answers[name, path, engine] = fn(engines[engine])  # type: ignore[operator]
                times.setdefault((name, path, engine), []).append(time.perf_counter() - t0)
    ch.close()
    duck.close()
    print(f"\n{events:,} events: the dashboard's layer questions, median of {repeat} (seconds; engines alternating)")
    print(f"{'question':44s} {'path':5s} {'DuckDB':>8s} {'chdb':>8s} {'chdb/DuckDB':>11s}  same answer")
    for name, path, _ in calls:
        d = statistics.median(times[name, path, "duckdb"])
        c = statistics.median(times[name, path, "chdb"])
        a, b = answers[name, path, "duckdb"], answers[name, path, "chdb"]
        keys = [k for k in a.columns if a[k].dtype == object or str(a[k].dtype).startswith(("datetime", "string"))]
        try:
            a, b = (x.sort_values(keys).reset_index(drop=True) if keys else x for x in (a, b))
            pd.testing.assert_frame_equal(a, b[a.columns], check_dtype=False, rtol=1e-6)
            same = "yes"
        except (AssertionError, KeyError) as exc:
            same = f"NO ({str(exc).splitlines()[0][:60]})"
        print(f"{name:44s} {path:5s} {d:8.3f} {c:8.3f} {c / d:10.1f}x  {same}")


def pages(events: int, repeat: int) -> None:
    """The `pages` mode (module docstring)."""
    t0 = time.perf_counter()
    duck = build(OUT / f"dashboard-{events}.duckdb", events)
    print(f"DuckDB warehouse ready in {time.perf_counter() - t0:.1f} s: {duck.name} "
          f"({duck.stat().st_size / 2**30:.2f} GiB)", file=sys.stderr)
    folder = OUT / f"chdb-{events}"
    shutil.rmtree(folder, ignore_errors=True)
    url = f"chdb://{folder}?database=memlens"
    n, load_s, rollup_s = load_clickhouse(duck, url)
    print(f"ClickHouse (chdb) warehouse: {n:,} events loaded in {load_s:.1f} s "
          f"({n / load_s:,.0f} rows/s), rollups built in {rollup_s:.1f} s, data folder {_folder_gib(folder):.2f} GiB")
    duck_t = time_pages(duck, repeat)
    ch_t = time_pages(url, repeat)  # type: ignore[arg-type]  (a URL: time_pages only passes it on)
    label = f"{events / 1e6:g}M"
    print(f"dashboard page server time at {label} events, median of {repeat} (AppTest run; cold = caches cleared)")
    print(f"{'page':<13} {'DuckDB cold':>11} {'chdb cold':>10} {'ratio':>6} {'DuckDB warm':>12} {'chdb warm':>10}"
          f"  under {BUDGET_S:.0f} s (DuckDB / chdb)")
    for page in PAGES:
        (dc, dw), (cc, cw) = duck_t[page], ch_t[page]
        print(f"{page:<13} {dc:>10.2f}s {cc:>9.2f}s {cc / dc:>5.1f}x {dw:>11.2f}s {cw:>9.2f}s  "
              f"{'yes' if dc < BUDGET_S else 'NO'} / {'yes' if cc < BUDGET_S else 'NO'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("queries", "pages"))
    ap.add_argument("--events", type=int)
    ap.add_argument("--repeat", type=int)
    args = ap.parse_args()
    os.environ.setdefault("MEMLENS_HOME", tempfile.mkdtemp(prefix="memlens-bench-home-"))
    OUT.mkdir(parents=True, exist_ok=True)
    if args.mode == "queries":
        queries(args.events or 10_000_000, args.repeat or 3)
    else:
        pages(args.events or 400_000, args.repeat or 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
