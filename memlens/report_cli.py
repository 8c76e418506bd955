"""`memlens report weekly`: the weekly cost review (memlens.cost_review) as Markdown, HTML or CSV, for cron and CI.

    memlens report weekly                                  # the last complete ISO week, Markdown on stdout
    memlens report weekly --week 2026-W47 --format html --out review.html
    memlens report weekly --partial --user alice           # the week so far, one user (against her budgets)
    memlens report weekly --format csv --out reports/      # one CSV per table in reports/
    memlens report weekly --fail-on-over-budget            # exit 3 when a budget of the scope was exceeded

It is the Cost page's weekly review: the same module computes and words both. Reads the warehouse read-only.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OVER_BUDGET_EXIT = 3
SCOPE_DIMS = ("service", "user", "agent", "op", "model")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    r = sub.add_parser("report", parents=[common], help="scheduled reports (the weekly cost review)",
                       description="Reports for cron and CI, the same as the dashboard's.")
    rsub = r.add_subparsers(dest="report", metavar="REPORT", required=True)
    w = rsub.add_parser("weekly", parents=[common], help="the weekly cost review of an ISO week",
                        description="The weekly cost review: total vs the previous week and vs the budgets of the "
                        "scope, breakdowns by model, user, agent, service and operation with week-over-week "
                        "changes, the top movers, month to date with the month-end projection, charts (HTML). "
                        "Default: the last complete ISO week (UTC).")
    w.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: the last complete week)")
    w.add_argument("--partial", action="store_true",
                   help="review the week in progress so far, compared with the same span of the week before "
                   "(every figure is labelled partial)")
    w.add_argument("--format", choices=["md", "html", "csv"], default="md", help="default md")
    w.add_argument("--out", help="file (md, html) or folder (csv: one file per table); md/html default to stdout, "
                   "csv to ./mem0-cost-review-<week>/; an existing folder gets the report's own file name")
    for dim in SCOPE_DIMS:
        w.add_argument(f"--{dim}", help=f"only this {dim} (budgets: only those set for this scope)")
    w.add_argument("--fail-on-over-budget", action="store_true",
                   help=f"exit {OVER_BUDGET_EXIT} when a budget of the scope was exceeded (for CI)")
    w.set_defaults(func=cmd_weekly)


def cmd_weekly(args: argparse.Namespace) -> int:
    from memlens import cost_review as cr
    from memlens import layer
    from memlens.cli import _cfg, _warehouse
    from memlens.warehouse import open_warehouse

    cfg = _cfg(args)
    filters = layer.Filters(**{d: getattr(args, d) for d in SCOPE_DIMS})
    now = datetime.now(UTC).replace(tzinfo=None)
    with open_warehouse(_warehouse(args, cfg), cfg, read_only=True) as con:
        try:
            span = layer.one(layer.query(con, "span", filters.no_time))
            week = cr.resolve_week(args.week, args.partial, now, span["last_ts"])
        except cr.ReviewError as exc:
            print(f"memlens report weekly: {exc}", file=sys.stderr)
            return 2
        speed = layer.speed_for(con, 0, cfg.dashboard.exact_percentile_max_events)
        report = cr.weekly(con, week, filters, cfg, speed)
    written = write(report, args.format, args.out)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    if args.fail_on_over_budget and any(s.over for s in report.budgets):
        over = ", ".join(s.budget.name for s in report.budgets if s.over)
        print(f"memlens report weekly: over budget: {over}", file=sys.stderr)
        return OVER_BUDGET_EXIT
    return 0


def write(report: Any, fmt: str, out: str | None) -> list[Path]:
    """Write the report; returns the files written (none when it went to stdout)."""
    from memlens import cost_review as cr

    stem = cr.file_stem(report)
    if fmt == "csv":
        folder = Path(out) if out else Path(stem)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, text in cr.csv_texts(report).items():
            path = folder / name
            path.write_text(text, encoding="utf-8", newline="")
            paths.append(path)
        return paths
    text = cr.to_markdown(report) if fmt == "md" else cr.to_html(report)
    if out in (None, "-"):
        sys.stdout.write(text)
        return []
    path = Path(out)
    if path.is_dir():
        path = path / f"{stem}.{fmt}"
    path.write_text(text, encoding="utf-8")
    return [path]
