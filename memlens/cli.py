"""`memlens` command line. Each subcommand is a thin shell over a module that does the work."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from memlens import backend
from memlens.config import Config, ConfigError, load_config

DESCRIPTION = """\
memlens: observability and cost analytics for Mem0.

Data flows one way: instrumented Mem0 -> operation logs / Prometheus metrics -> `memlens collect`
-> DuckDB warehouse -> SQL views -> `memlens query`, the dashboard and the alert exports.
"""


# Packages that add their own subcommands: each module has `register(subparsers, common_parent_parser)`.
COMMAND_MODULES: tuple[str, ...] = ("memlens.alerts.cli", "memlens.loadtest.cli", "memlens.optimize.cli",
                                  "memlens.report_cli")


def _cfg(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def _warehouse(args: argparse.Namespace, cfg: Config) -> str | Path:
    """--warehouse, else the config's: a DuckDB file Path, or a ClickHouse URL (memlens.backend)."""

    return backend.chosen(args.warehouse, cfg)


def _refresh_kept(args: argparse.Namespace, cfg: Config) -> None:
    """After a collection: the analyses kept per collection (memlens/kept.py) computed now, so that the first visitor
    of the Optimize, Diagnosis or Alerts & export page reads them instead of waiting for them."""
    from memlens.kept import refresh_after_collection

    refresh_after_collection(_warehouse(args, cfg), cfg, sys.stderr, quiet=getattr(args, "quiet", False))


def cmd_collect(args: argparse.Namespace) -> int:
    from memlens.collectors.base import collection_warehouse
    from memlens.collectors.oplog import collect_oplogs

    cfg = _cfg(args)
    paths = [Path(p) for p in args.paths] or [cfg.log_dir()]
    with collection_warehouse(_warehouse(args, cfg), cfg, "memlens collect logs") as con:
        result = collect_oplogs(con, paths, cfg, progress=not args.quiet)
    print(result.summary())
    _refresh_kept(args, cfg)
    return 0


def cmd_collect_history(args: argparse.Namespace) -> int:
    from memlens.collectors.base import collection_warehouse
    from memlens.collectors.history import collect_history, default_history_db

    cfg = _cfg(args)
    db = Path(args.db) if args.db else default_history_db()
    with collection_warehouse(_warehouse(args, cfg), cfg, "memlens collect history") as con:
        result = collect_history(con, db, cfg)
    print(result.summary())
    _refresh_kept(args, cfg)
    return 0


def cmd_collect_snapshot(args: argparse.Namespace) -> int:
    from memlens.collectors.base import collection_warehouse
    from memlens.collectors.snapshot import snapshot_from_cli

    cfg = _cfg(args)
    with collection_warehouse(_warehouse(args, cfg), cfg, "memlens collect snapshot") as con:
        result = snapshot_from_cli(con, args, cfg)
    print(result.summary())
    _refresh_kept(args, cfg)
    return 0


def cmd_collect_otel(args: argparse.Namespace) -> int:
    from memlens.collectors.base import collection_warehouse
    from memlens.collectors.otel import collect_otel

    cfg = _cfg(args)
    with collection_warehouse(_warehouse(args, cfg), cfg, "memlens collect otel") as con:
        result = collect_otel(con, [Path(p) for p in args.paths], cfg, progress=not args.quiet)
    print(result.summary())
    _refresh_kept(args, cfg)
    return 0


def cmd_collect_platform(args: argparse.Namespace) -> int:
    from memlens.collectors.platform import collect_platform_cli

    cfg = _cfg(args)
    code = collect_platform_cli(args, cfg, _warehouse(args, cfg))
    if code == 0:
        _refresh_kept(args, cfg)
    return code


def cmd_demo(args: argparse.Namespace) -> int:
    from memlens.workloads.demo import run_demo

    cfg = _cfg(args)
    code = run_demo(args, cfg, _warehouse(args, cfg))
    if code == 0 and not args.no_load:
        _refresh_kept(args, cfg)
    return code


def cmd_workload(args: argparse.Namespace) -> int:
    from memlens.workloads.real import run_workload

    cfg = _cfg(args)
    return run_workload(args, cfg, _warehouse(args, cfg))


def cmd_query(args: argparse.Namespace) -> int:
    from memlens import layer, query_cli
    from memlens.collectors.base import reading_warehouse
    from memlens.warehouse import view_names

    cfg = _cfg(args)
    known = set(layer.metrics()) | {"latency"} | set(view_names())
    if args.name not in known:
        if args.name:
            print(f"unknown metric or view {args.name!r}; available:", file=sys.stderr)
        (sys.stderr if args.name else sys.stdout).write(query_cli.listing() + "\n")  # one write: `| head` is fine
        return 2 if args.name else 0
    with reading_warehouse(_warehouse(args, cfg), cfg) as con:  # read-only; waits while a collection writes
        try:
            df = query_cli.run(con, args)
        except layer.LayerError as exc:
            print(f"memlens query: {exc}", file=sys.stderr)
            return 2
    query_cli.print_frame(df, args.csv, args.name)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from memlens.collectors.base import collection_warehouse
    from memlens.warehouse import WAREHOUSE_VERSION, WarehouseMissing

    cfg = _cfg(args)
    path = _warehouse(args, cfg)
    if not backend.exists(path):
        raise WarehouseMissing(f"no warehouse at {path}")
    with collection_warehouse(path, cfg, "memlens migrate"):  # connect() migrates, under the collection lock
        pass
    print(f"warehouse {path} is at layout version {WAREHOUSE_VERSION}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from memlens.schema import markdown_table

    print(markdown_table())
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Start the Streamlit app bound to localhost."""
    import importlib.util

    if importlib.util.find_spec("streamlit") is None:
        raise ModuleNotFoundError("No module named 'streamlit'", name="streamlit")
    if args.warehouse:
        warehouse = backend.resolve(args.warehouse)
        if not backend.exists(warehouse) and not args.demo:
            print(f"memlens: no warehouse at {warehouse} (check the path; `--demo` creates it with the demo "
                  "workload)", file=sys.stderr)
            return 2
        os.environ["MEMLENS_WAREHOUSE"] = str(warehouse)
    if args.demo:
        os.environ["MEMLENS_DASHBOARD_DEMO"] = "1"  # load the demo into this warehouse when it has no events
    import tomllib

    from memlens.resources import read_text, resource

    settings = tomllib.loads(read_text("memlens.dashboard", "streamlit.toml"))
    flags = [f"--{section}.{key}={value if not isinstance(value, bool) else str(value).lower()}"
             for section, values in settings.items() for key, value in values.items()]
    app = resource("memlens.dashboard", "app.py")
    # Streamlit's command line, after the pages' libraries are imported (memlens/dashboard/serve.py)
    argv = [sys.executable, "-m", "memlens.dashboard.serve", "run", str(app), *flags, "--server.address", args.address,
            "--server.port", str(args.port)]
    if args.config:
        os.environ["MEMLENS_CONFIG"] = args.config
    os.execv(sys.executable, argv)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="YAML config overriding memlens/defaults.yaml (or $MEMLENS_CONFIG)")
    common.add_argument("--warehouse", help="DuckDB file or warehouse URL: duckdb:///file, "
                        "clickhouse://user@host:8123/db, chdb:///folder (default: config warehouse.url / "
                        "warehouse.path, else the user data dir)")

    p = argparse.ArgumentParser(prog="memlens", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("collect", parents=[common], help="load logs, history, snapshots, metrics into the warehouse",
                       description="Load data into DuckDB. `memlens collect` alone = `memlens collect logs` on the "
                       "instrumentation log dir.")
    c.set_defaults(func=cmd_collect, paths=[], quiet=False)
    csub = c.add_subparsers(dest="collect_source", metavar="SOURCE")
    lg = csub.add_parser("logs", parents=[common], help="operation logs (JSONL, .jsonl.gz, Parquet)",
                         description="Load operation logs (schema v1 or v2; JSONL, .jsonl.gz, Parquet; files or "
                         "folders). Incremental (a checkpoint per file: only new files and new bytes are read), "
                         "idempotent by event_id, bad lines quarantined with file, line and reason.")
    lg.add_argument("paths", nargs="*", help="log files or folders (default: the instrumentation log dir)")
    lg.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    lg.set_defaults(func=cmd_collect)
    h = csub.add_parser("history", parents=[common], help="Mem0's SQLite history store (ADD/UPDATE/DELETE events)",
                        description="Copy Mem0's history DB (memory ADD/UPDATE/DELETE events) for growth analyses. "
                        "Read with sqlite3 in read-only mode; incremental and idempotent.")
    h.add_argument("--db", help="history.db path (default: $MEM0_DIR/history.db or ~/.mem0/history.db)")
    h.set_defaults(func=cmd_collect_history)
    s = csub.add_parser("snapshot", parents=[common], help="snapshot the memories a Mem0 instance holds now",
                        description="Store the current memories (sizes, hashes, timestamps, owners) of an OSS "
                        "mem0.Memory (from a mem0 config file) or the Platform (MEM0_API_KEY) as a snapshot.")
    s.add_argument("--mem0-config", help="JSON/YAML mem0 config for Memory.from_config (OSS)")
    s.add_argument("--platform", action="store_true", help="use MemoryClient with $MEM0_API_KEY")
    s.add_argument("--user", action="append", default=[], help="limit to these user ids (repeatable)")
    s.add_argument("--store-text", action="store_true", help="also store memory texts (off by default)")
    s.set_defaults(func=cmd_collect_snapshot)
    ot = csub.add_parser("otel", parents=[common], help="OpenTelemetry traces (OTLP JSON Lines files)",
                         description="Load the Mem0 operations of OTLP JSON Lines trace files (one TracesData per "
                         "line: .jsonl, .jsonl.gz; files or folders), as the OpenTelemetry Collector's file exporter "
                         "or opentelemetry-exporter-otlp-json-file write them. Spans are mapped to op events by the "
                         "mapping files (OpenLIT's Mem0 spans, the GenAI memory conventions; docs/inputs.md). "
                         "Incremental, idempotent by trace/span id, bad lines quarantined, unknown spans counted.")
    ot.add_argument("paths", nargs="+", help="trace files or folders")
    ot.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ot.set_defaults(func=cmd_collect_otel)
    pf = csub.add_parser("platform", parents=[common], help="the Mem0 Platform's own events and stats",
                         description="Page through the Mem0 Platform's GET /v1/events/ (each event's type, status and "
                         "latency become an op event, mode platform) and record a GET /v1/stats/ snapshot. The API "
                         "key is read from an environment variable (platform.api_key_env, default MEM0_API_KEY), "
                         "never stored. Everything is fetched before the warehouse is opened for writing.")
    pf.add_argument("--url", help="API base URL (default: platform.url)")
    pf.add_argument("--max-pages", type=int, default=None, help="stop after this many event pages")
    pf.set_defaults(func=cmd_collect_platform)
    importlib.import_module("memlens.alerts.cli").add_collect_prometheus(csub, common)  # Prometheus range queries

    d = sub.add_parser("demo", parents=[common], help="generate a labelled synthetic demo workload and load it",
                       description="Write synthetic but realistic schema-v1 logs (diurnal load, heavy-tailed "
                       "latency, heavy users, repeated queries, slow outliers, errors, unscoped searches). "
                       "Every row is marked demo=true and the dashboard labels it as demo data.")
    d.add_argument("--events", type=int, default=200_000, help="number of events (default 200000)")
    d.add_argument("--days", type=int, default=28, help="days of history ending now (default 28)")
    d.add_argument("--users", type=int, default=200, help="simulated users (default 200)")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--out", help="folder for the JSONL files (default: <data dir>/demo-logs)")
    d.add_argument("--no-load", action="store_true", help="only write the logs, do not collect them")
    d.add_argument("--if-empty", action="store_true", help="do nothing when the warehouse already has events")
    d.set_defaults(func=cmd_demo)

    w = sub.add_parser("workload", parents=[common], help="drive a real offline mem0.Memory, instrumented",
                       description="Run N simulated users against a real mem0.Memory (local MiniLM embedder, "
                       "in-process Qdrant, infer=False, telemetry off) with a mix of add/search/update/delete, "
                       "instrumented, so the logs hold real measured latencies; then collect them.")
    w.add_argument("--users", type=int, default=8,
                   help="simulated users (default 8); call counts are Zipf-like: user 0 is the heaviest")
    w.add_argument("--ops", type=int, default=400, help="total operations (default 400)")
    w.add_argument("--seed", type=int, default=11, help="seed of the user mix (same seed, same calls)")
    w.add_argument("--async", dest="use_async", action="store_true", help="use AsyncMemory")
    w.add_argument("--out", help="folder for the op logs (default: <data dir>/workload-logs)")
    w.add_argument("--no-load", action="store_true", help="only write the logs, do not collect them")
    w.add_argument("--cache-ttl", type=float, default=None, metavar="SECONDS",
                   help="serve user-scoped searches from an instrumented in-process cache with this TTL "
                   "(off by default; the reference suggests 300-900 s for user preferences)")
    w.set_defaults(func=cmd_workload)

    q = sub.add_parser("query", parents=[common], help="print a metric (or view) as a table or CSV",
                       description="Print a metric of the metric layer (sql/layer) for a selection: time range, "
                       "service, user, agent, op, model, grouped by --by. Run without a name to list them. "
                       "Reads the warehouse read-only (never creates one).")
    importlib.import_module("memlens.query_cli").add_arguments(q)
    q.set_defaults(func=cmd_query)

    mg = sub.add_parser("migrate", parents=[common], help="upgrade an older warehouse in place",
                        description="Bring a warehouse made by an earlier memlens to this version's layout (new "
                        "tables and columns, added in one transaction; nothing is removed). Collections and the "
                        "dashboard do this by themselves when they open it for writing.")
    mg.set_defaults(func=cmd_migrate)

    sc = sub.add_parser("schema", help="print the operation-log schema (v2) as a Markdown table")
    sc.set_defaults(func=cmd_schema)

    db = sub.add_parser("dashboard", parents=[common], help="start the Streamlit dashboard (localhost)")
    db.add_argument("--address", default="127.0.0.1")
    db.add_argument("--port", type=int, default=8501)
    db.add_argument("--demo", action="store_true",
                    help="load the labelled demo workload into the warehouse when it has no events (automatic for "
                    "the default warehouse on first start)")
    db.set_defaults(func=cmd_dashboard)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub, common)
    return p


# Modules of the full install (`pip install 'memlens[dashboard]'`); the base install only instruments Mem0.
FULL_INSTALL_MODULES = frozenset({"duckdb", "streamlit", "pandas", "plotly", "pyarrow", "numpy", "tqdm",
                                  "grafana_foundation_sdk", "prometheus_api_client", "threadpoolctl", "mem0"})


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's to fix: printed as one line, exit 2 (imported only when they can be)."""
    errors: list[type[BaseException]] = [ConfigError, FileNotFoundError, PermissionError]
    try:
        from memlens.collectors.base import CollectorError
        from memlens.warehouse import WarehouseError
    except ModuleNotFoundError:  # base install: those commands cannot run anyway
        return tuple(errors)
    return (*errors, CollectorError, WarehouseError)


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is (like Ctrl-C's KeyboardInterrupt): a collection stops between two
    statements, its open transaction rolls back, and its run is recorded as interrupted."""


def _stop_on_sigterm():
    """Turn SIGTERM into Interrupted (SIGINT stays KeyboardInterrupt) while main() runs, noting which arrived in
    memlens.stopping; returns what puts the previous handlers back (main() also runs inside other programs, such as
    a test process, whose own signal handling must survive it)."""
    import signal
    import threading

    from memlens import stopping

    def stop(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        stopping.received.append(name)  # what an error DuckDB raises instead is told apart by
        raise Interrupted(name) if signum == signal.SIGTERM else KeyboardInterrupt()

    if threading.current_thread() is not threading.main_thread():  # (main() also runs inside tests' threads)
        return lambda: None
    stopping.received.clear()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    return lambda: [signal.signal(sig, handler) for sig, handler in previous.items()]


def main(argv: list[str] | None = None) -> int:
    import logging

    args = build_parser().parse_args(argv)
    warehouse_log = logging.getLogger("memlens.warehouse")  # migrations are announced on stderr
    announce = logging.StreamHandler(sys.stderr)
    announce.setFormatter(logging.Formatter("memlens: %(message)s"))
    warehouse_log.addHandler(announce)
    restore_sigterm = _stop_on_sigterm()
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: one line, no traceback
        # Interrupted carries SIGTERM; an interrupt DuckDB swallowed carries its signal's name too
        name = str(exc.args[0]) if exc.args and str(exc.args[0]).startswith("SIG") else "SIGINT"
        print(f"memlens: interrupted ({name}); everything committed before is kept: run the same command again to "
              "continue", file=sys.stderr)
        return 143 if name == "SIGTERM" else 130
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in FULL_INSTALL_MODULES:
            raise
        print(f"memlens: `memlens {args.command}` needs the full install (module {exc.name} is missing): "
              "pip install 'memlens[dashboard]'", file=sys.stderr)
        return 2
    except _user_errors() as exc:
        print(f"memlens: {exc}", file=sys.stderr)
        return 2
    finally:
        restore_sigterm()
        warehouse_log.removeHandler(announce)


if __name__ == "__main__":
    raise SystemExit(main())
