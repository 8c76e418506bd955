"""CLI of the Prometheus side: `memlens export alerts|grafana` and `memlens collect prometheus`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from memlens import backend

if TYPE_CHECKING:
    from memlens.config import Config


def _cfg(args: argparse.Namespace):
    from memlens.config import load_config

    return load_config(args.config)


def _write(text: str, out: str | None) -> int:
    """Write to `out` (only when the content changed, so mtime-based tools see no change) or stdout."""
    if not out or out == "-":
        sys.stdout.write(text)
        return 0
    path = Path(out)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        print(f"{path}: unchanged", file=sys.stderr)
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"{path}: written", file=sys.stderr)
    return 0


def _export(render: Callable[[Config], str], args: argparse.Namespace) -> int:
    """Render one artefact from the config and write it (a config the renderer rejects exits 2)."""
    try:
        text = render(_cfg(args))
    except ValueError as exc:
        print(f"memlens: {exc}", file=sys.stderr)
        return 2
    return _write(text, args.out)


def cmd_export_alerts(args: argparse.Namespace) -> int:
    from memlens.alerts.rules import render_rules

    return _export(render_rules, args)


def cmd_export_grafana(args: argparse.Namespace) -> int:
    from memlens.alerts.grafana import render_dashboard

    return _export(render_dashboard, args)


def cmd_export_all(args: argparse.Namespace) -> int:
    """Every file of a monitoring repo into one folder."""
    from memlens.alerts.export import export_files

    try:
        files = export_files(_cfg(args), args.format)
    except ValueError as exc:
        print(f"memlens: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        print(f"memlens: --out {out} is a file, not a folder", file=sys.stderr)
        return 2
    for name, text in files.items():
        _write(text, str(out / name))
    return 0


def cmd_alerts_backtest(args: argparse.Namespace) -> int:
    """When each alert of the config would have fired on the warehouse's history."""
    import pandas as pd

    from memlens import safetext
    from memlens.alerts import backtest
    from memlens.warehouse import open_warehouse

    cfg = _cfg(args)
    warehouse = backend.chosen(args.warehouse, cfg)
    try:
        start, end = _utc(args.since), _utc(args.end)
        with open_warehouse(warehouse, cfg, read_only=True) as con:
            if args.days is not None:
                last = end or backtest.history_end(con)
                start = None if last is None else last - timedelta(days=args.days)
            bt = backtest.run(con, cfg, end=_naive(end), start=_naive(start))
    except ValueError as exc:
        print(f"memlens alerts backtest: {exc}", file=sys.stderr)
        return 2
    if bt is None:
        print("memlens alerts backtest: the warehouse holds no operations (collect logs, or run `memlens demo`)",
              file=sys.stderr)
        return 1
    table = backtest.summary_table(bt)
    episodes = backtest.episode_table(bt, args.rule)
    if args.rule and args.rule not in set(table["rule"]):
        print(f"memlens alerts backtest: no rule {args.rule!r}; rules: {', '.join(table['rule'])}", file=sys.stderr)
        return 2
    if args.format == "csv":
        out = episodes if args.episodes or args.rule else table
        safetext.to_csv(out, sys.stdout)  # the one CSV writer: formula cells neutralised
        return 0
    span = f"{bt.start or 'the first call'} .. {bt.end} UTC, evaluated every {cfg.alerts.evaluation_interval}"
    print(f"Backtest of {len(bt.rules)} rules on {warehouse} ({span})\n")
    shown = table[table["rule"] == args.rule] if args.rule else table
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.max_colwidth", 40):
        print(shown.drop(columns=["alert", "firing_hours"]).to_string(index=False))
        if args.episodes or args.rule:
            print()
            print(episodes.to_string(index=False) if len(episodes) else "(never fired)")
    print("\nHow this differs from Prometheus:")
    for note in bt.notes:
        print(f"  - {note}")
    return 0


def _naive(value: datetime | None) -> datetime | None:
    """UTC without tzinfo, as the warehouse stores timestamps."""
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _utc(text: str | None) -> datetime | None:
    if text is None:
        return None
    if text == "now":
        return datetime.now(UTC)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_collect_prometheus(args: argparse.Namespace) -> int:
    from memlens.collectors.base import CollectorError
    from memlens.collectors.prometheus import collect_prometheus_into

    # The collector logs its errors for applications that configure logging; here they are printed once,
    # without a traceback.
    logging.getLogger("memlens.collectors.prometheus").addHandler(logging.NullHandler())
    cfg = _cfg(args)
    warehouse = backend.chosen(args.warehouse, cfg)
    try:
        start, end = _utc(args.start), _utc(args.end)
        # The warehouse is held only to read the checkpoints and to store: a slow Prometheus keeps nobody out.
        result = collect_prometheus_into(warehouse, args.url, cfg, start=start, end=end, step=args.step)
    except CollectorError as exc:
        print(f"memlens collect prometheus: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"memlens collect prometheus: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0


def add_collect_prometheus(csub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`memlens collect prometheus` (registered under the core `collect` command)."""
    pr = csub.add_parser(
        "prometheus", parents=[common], help="range-query the memlens metrics from a Prometheus server",
        description="Pull latency percentiles (histogram_quantile over the bucket rates), op and error rates, "
        "cache hit ratio, tokens, cost rate, memory changes and process CPU/RSS from Prometheus into "
        "raw_prom_samples. Incremental (a checkpoint per query) and idempotent. A down, slow or refusing "
        "Prometheus is an error and leaves the warehouse unchanged. Connection settings: `prometheus:` in "
        "the config (the auth header is read from the env var named by prometheus.auth_header_env).")
    pr.add_argument("--url", help="Prometheus base URL (default: prometheus.url of the config)")
    pr.add_argument("--start", help="UTC start, ISO 8601 (default: after the last checkpoint, else end - window)")
    pr.add_argument("--end", help="UTC end, ISO 8601 or 'now' (default: the last complete step)")
    pr.add_argument("--step", help="resolution, e.g. 15s or 1m (default: prometheus.step)")
    pr.set_defaults(func=cmd_collect_prometheus)


def _add_backtest(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    al = sub.add_parser("alerts", parents=[common], help="backtest the alert rules on the warehouse's history",
                        description="Alert tools. `memlens alerts backtest`: for every rule of the config (same "
                        "thresholds, windows and for: as `memlens export alerts`), how many times it would have "
                        "fired on the warehouse's own history, for how long, and when.")
    asub = al.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    b = asub.add_parser("backtest", parents=[common], help="how often each alert would have fired",
                        description="Replay every alert rule of the config over the op log, evaluation by "
                        "evaluation (alerts.evaluation_interval), as Prometheus would have: windowed figures "
                        "from sql/windows (histogram_quantile over the metric buckets), pending, for:, firing, "
                        "resolved. Prints one row per rule and the ways this differs from Prometheus.")
    b.add_argument("--since", help="UTC start, ISO 8601 (default: the first call)")
    b.add_argument("--days", type=float, help="only the last N days of history")
    b.add_argument("--end", help="UTC end, ISO 8601 or 'now' (default: the last call)")
    b.add_argument("--rule", help="one rule (e.g. p99_latency@search) with every time it fired")
    b.add_argument("--episodes", action="store_true", help="also list every time each rule fired")
    b.add_argument("--format", choices=("text", "csv"), default="text",
                   help="csv: the summary (or with --episodes/--rule the episodes), formula-safe")
    b.set_defaults(func=cmd_alerts_backtest)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    _add_backtest(sub, common)
    ex = sub.add_parser("export", parents=[common],
                        help="write alert rules, a Grafana dashboard, or all a monitoring repo holds",
                        description="Generate files for your monitoring repo from the config's thresholds. "
                        "Deterministic: the same config gives byte-identical files.")
    esub = ex.add_subparsers(dest="export_kind", metavar="KIND", required=True)
    a = esub.add_parser("alerts", parents=[common], help="Prometheus rule file (recording rules, alerts, SLOs)",
                        description="Prometheus rule file: recording rules (level:metric:operations), threshold "
                        "alerts with for:, severity and runbook_url, multi-window multi-burn-rate SLO alerts. "
                        "Check it with `promtool check rules FILE`.")
    a.add_argument("--out", help="output file (default: stdout)")
    a.set_defaults(func=cmd_export_alerts)
    g = esub.add_parser("grafana", parents=[common], help="Grafana dashboard JSON",
                        description="Grafana dashboard (import via Dashboards → New → Import) with a Prometheus "
                        "datasource variable, service/op variables and the alert thresholds drawn.")
    g.add_argument("--out", help="output file (default: stdout)")
    g.set_defaults(func=cmd_export_grafana)
    al = esub.add_parser("all", parents=[common], help="everything a monitoring repo holds, into one folder",
                         description="alert-rules.yaml, its promtool unit tests (alert-rules.test.yaml, "
                         "alert-rules-long.test.yaml), grafana-dashboard.json, grafana-provisioning.yaml, the config "
                         "they come from (memlens-alerts.yaml) and a README.md saying how to check them; with "
                         "--format prometheus-operator also prometheus-rule.yaml (a PrometheusRule resource). "
                         "Files whose content did not change are left untouched.")
    al.add_argument("--out", required=True, help="output folder (created if missing)")
    al.add_argument("--format", choices=("prometheus", "prometheus-operator"), default="prometheus",
                    help="prometheus-operator: also the rules as a PrometheusRule custom resource")
    al.set_defaults(func=cmd_export_all)
