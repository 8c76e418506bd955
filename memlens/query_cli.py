"""`memlens query`: print any metric of the layer (sql/layer) for a selection, or one of the remaining views.

    memlens query                                  # lists the metrics (and views)
    memlens query cost --by mode --from 2026-11-01 --to 2026-11-08 --service chat-api
    memlens query latency --by bucket,op --grain hour --csv
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd

from memlens import layer

TEXT_FILTERS = tuple(d for d in layer.FILTER_DIMS if d != "tagged")


def add_arguments(q: argparse.ArgumentParser) -> None:
    q.add_argument("name", nargs="?", help="a metric (see the list without a name) or a view")
    q.add_argument("--by", default="", help="comma-separated group keys, e.g. op or bucket,op")
    q.add_argument("--grain", choices=list(layer.GRAINS), help="bucket width for --by bucket")
    q.add_argument("--from", dest="start", type=_when, help="UTC start (YYYY-MM-DD or YYYY-MM-DDTHH:MM), inclusive")
    q.add_argument("--to", dest="end", type=_until, help="UTC end: a day is inclusive, a date-time exclusive")
    for dim in TEXT_FILTERS:
        q.add_argument(f"--{dim}", help=f"only this {dim}")
    q.add_argument("--csv", action="store_true", help="CSV on stdout")
    q.add_argument("--limit", type=int, default=None, help="at most this many rows (and a metric's $limit)")


def _when(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or date-time: {text!r}") from None


def _until(text: str) -> datetime:
    when = _when(text)
    if len(text) == 10:  # a day: up to its end
        return datetime.combine(date.fromisoformat(text) + timedelta(days=1), time.min)
    return when


def listing() -> str:
    """The metrics (with what they can be grouped by) and the views, as `memlens query` without a name prints."""
    from memlens.warehouse import view_names

    lines = ["metrics (memlens query METRIC [--by KEYS] [--grain G] [--from DAY] [--to DAY] [--service S] ...):"]
    for row in layer.catalog().itertuples():
        lines.append(f"  {row.metric:<20} {row.description}")
        if row.by:
            lines.append(f"  {'':<20} --by: {row.by}")
    lines.append("views (memlens query VIEW):")
    lines += [f"  {v}" for v in view_names()]
    return "\n".join(lines)


def run(con: Any, args: argparse.Namespace) -> pd.DataFrame:
    """The metric (or view) `args.name` for the selection the arguments describe."""
    from memlens.queries import read_view
    from memlens.warehouse import view_names

    if args.name in view_names():
        return read_view(con, args.name, limit=args.limit)
    filters = layer.Filters(args.start, args.end, **{d: getattr(args, d) for d in TEXT_FILTERS})
    by = tuple(k.strip() for k in args.by.split(",") if k.strip())
    m = layer.metric(args.name) if args.name != "latency" else None
    params = {p: args.limit or 50 for p in (m.params if m else ())}
    from memlens import rollups

    speed = layer.Speed(rollups_fresh=rollups.is_fresh(con))  # rollups where they answer; percentiles exact
    df = layer.query(con, args.name, filters, by, args.grain, speed, **params)
    return df.head(args.limit) if args.limit is not None else df


def print_frame(df: pd.DataFrame, as_csv: bool, name: str) -> None:
    if as_csv:
        from memlens.safetext import to_csv

        to_csv(df, sys.stdout)  # text cells that would run as spreadsheet formulas are neutralised
    elif df.empty:
        print(f"{name}: no rows (collect some logs first, or run `memlens demo`)")
    else:
        with pd.option_context("display.max_columns", None, "display.width", 200):
            print(df.to_string(index=False))
