"""`memlens loadtest`, `memlens benchmark`, `memlens compare`: thin shells over loadtest.flows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from memlens import backend
from memlens.config import Config, ConfigError, load_config

SCENARIO_HELP = ("scenario YAML, or the name of a built-in one (limit10, cache-on, ...: loadtest/scenarios/); its "
                 "optional `memlens:` section overrides memlens settings such as prices, over $MEMLENS_CONFIG and "
                 "the defaults. Default: the built-in scenario")


def _scenario(path: str | None, overrides: dict):
    from memlens.loadtest.scenario import default_scenario, load_scenario

    return load_scenario(path, overrides) if path else default_scenario(**overrides)


def _cfg(memlens_config: str | None, scenario) -> Config:
    return load_config(memlens_config, overrides=scenario.memlens or None)


def _warehouse(args: argparse.Namespace, cfg: Config) -> str | Path:
    return backend.chosen(args.warehouse, cfg)


def _log_root(args: argparse.Namespace) -> Path:
    from memlens import paths

    return Path(args.logs).expanduser() if args.logs else paths.data_dir() / "loadtest-logs"


def _guard(fn):
    """Scenario errors are user errors: one clear line, exit 2 (like memlens config errors)."""
    def wrapper(args: argparse.Namespace) -> int:
        from memlens.loadtest.scenario import ScenarioError

        try:
            return fn(args)
        except (ScenarioError, ConfigError) as exc:
            print(f"memlens: {exc}", file=sys.stderr)
            return 2
    return wrapper


@_guard
def cmd_loadtest(args: argparse.Namespace) -> int:
    from memlens.loadtest.flows import run_loadtest
    from memlens.loadtest.report import loadtest_report
    from memlens.warehouse import open_warehouse

    overrides = {k: v for k, v in (("mode", args.mode), ("seed", args.seed)) if v is not None}
    scenario = _scenario(args.scenario, overrides)
    cfg = _cfg(None, scenario)
    users = args.users or scenario.users
    duration = args.duration or scenario.duration_s
    with open_warehouse(_warehouse(args, cfg), cfg) as con:
        result = run_loadtest(con, cfg, scenario, _log_root(args), users=users, duration_s=duration,
                              ramp=args.ramp, progress=not args.quiet)
    print(loadtest_report(result, cfg))
    return 0 if all(c.exact for c in result.checks.values()) else 1


@_guard
def cmd_benchmark(args: argparse.Namespace) -> int:
    from memlens.loadtest.flows import run_benchmark
    from memlens.loadtest.report import compare_report
    from memlens.warehouse import open_warehouse

    scenario = _scenario(args.scenario, {})
    cfg = _cfg(None, scenario)
    with open_warehouse(_warehouse(args, cfg), cfg) as con:
        result = run_benchmark(con, cfg, scenario, _log_root(args), rounds=args.rounds, progress=not args.quiet)
    print(compare_report(result, title=f"benchmark {scenario.name}: cache effect"))
    return 0 if all(c.exact for c in result.checks.values()) else 1


@_guard
def cmd_compare(args: argparse.Namespace) -> int:
    from memlens.loadtest.flows import run_compare
    from memlens.loadtest.report import compare_report
    from memlens.loadtest.scenario import load_scenario
    from memlens.warehouse import open_warehouse

    a, b = load_scenario(args.a), load_scenario(args.b)
    cfg = _cfg(args.config, a)
    with open_warehouse(_warehouse(args, cfg), cfg) as con:
        result = run_compare(con, cfg, a, b, _log_root(args), rounds=args.rounds, progress=not args.quiet)
    print(compare_report(result))
    return 0 if all(c.exact for c in result.checks.values()) else 1


def _warehouse_option(p: argparse.ArgumentParser) -> None:
    # Not the shared `common` parent: here --config names the scenario (the memlens config comes from
    # $MEMLENS_CONFIG and the scenario's `memlens:` section), and argparse cannot re-define a parent's option
    # without mutating the parent for every other subcommand.
    p.add_argument("--warehouse", help="DuckDB file (default: config warehouse.path or the user data dir)")


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--logs", help="root folder for the runs' op logs (default: <data dir>/loadtest-logs)")
    p.add_argument("-q", "--quiet", action="store_true", help="no live progress display")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    lt = sub.add_parser(
        "loadtest", help="N concurrent users against a real Mem0",
        description="Drive a real Mem0 (offline by default: local MiniLM, in-process Qdrant) with N concurrent "
        "simulated users for S seconds (search-heavy mix with adds, updates, deletes and repeated queries), "
        "instrumented and tagged with a run id; then load the logs and print throughput, avg/P50/P95/P99, error "
        "rate and cost per 1,000 operations from the warehouse. --ramp first runs 1, 2, 4, ... users.")
    _warehouse_option(lt)
    lt.add_argument("--config", dest="scenario", metavar="SCENARIO.yaml", help=SCENARIO_HELP)
    lt.add_argument("--users", type=int, help="concurrent users (default: the scenario's)")
    lt.add_argument("--duration", type=float, help="seconds per run (default: the scenario's duration_s)")
    lt.add_argument("--mode", choices=("async", "thread"), help="asyncio + AsyncMemory, or threads + Memory")
    lt.add_argument("--seed", type=int, help="override the scenario's seed")
    lt.add_argument("--ramp", action="store_true", help="run 1, 2, 4, ... users (each --duration s) up to --users")
    _run_options(lt)
    lt.set_defaults(func=cmd_loadtest, config=None)

    bm = sub.add_parser(
        "benchmark", help="fixed seeded scenario: latency, cache effect",
        description="Run a fixed, seeded scenario (ops_per_user per user) without and with the instrumented "
        "search cache, alternately for several rounds, and report latency under load, throughput, cache "
        "effect and cost per 1,000 operations, as ratios with their spread.")
    _warehouse_option(bm)
    bm.add_argument("--config", dest="scenario", metavar="SCENARIO.yaml", help=SCENARIO_HELP)
    bm.add_argument("--rounds", type=int, help="rounds (default: the scenario's)")
    _run_options(bm)
    bm.set_defaults(func=cmd_benchmark, config=None)

    cp = sub.add_parser(
        "compare", parents=[common], help="A/B: the same seeded scenario on two Mem0 configs, alternately",
        description="Run the same seeded workload (A's seed, users, ops_per_user, mix) on scenario A and "
        "scenario B alternately (A B A B ...) so machine noise cancels, and report every metric's ratio B/A "
        "with its median, min–max and a bootstrap interval over the rounds. --config is the memlens config.")
    cp.add_argument("a", metavar="A.yaml", help="scenario A (the baseline)")
    cp.add_argument("b", metavar="B.yaml", help="scenario B")
    cp.add_argument("--rounds", type=int, help="A/B rounds (default: A's `rounds`)")
    _run_options(cp)
    cp.set_defaults(func=cmd_compare)
