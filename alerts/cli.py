"""CLI of the Prometheus side: `memlens export alerts|grafana` and `memlens collect prometheus`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

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


def _utc(text: str | None) -> datetime | None:
    if text is None:
        return None
    if text == "now":
        return datetime.now(UTC)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_collect_prometheus(args: argparse.Namespace) -> int:
    from memlens.collectors.base import CollectorError
    from memlens.collectors.prometheus import collect_prometheus
    from memlens.warehouse import open_warehouse

    # The collector logs its errors for applications that configure logging; here they are printed once,
    # without a traceback, and without urllib3's retry chatter.
    logging.getLogger("memlens.collectors.prometheus").addHandler(logging.NullHandler())
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    cfg = _cfg(args)
    warehouse = Path(args.warehouse).expanduser() if args.warehouse else cfg.warehouse_path()
    try:
        start, end = _utc(args.start), _utc(args.end)
        with open_warehouse(warehouse, cfg) as con:
            result = collect_prometheus(con, args.url, cfg, start=start, end=end, step=args.step)
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


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ex = sub.add_parser("export", parents=[common], help="write alert-rules.yaml or a Grafana dashboard JSON",
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
