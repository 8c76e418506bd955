"""The alert backtest's figures of the Alerts & export page's opening view, computed once per collection and kept
beside the warehouse (memlens/kept.py).

Replaying every rule over the history (backtest.figures) scans every call: tens of seconds on the 200,000-event
demo. Threshold and `for:` edits only re-apply the thresholds over the figures (backtest.evaluate, cheap). So the
figures the page opens with (the config memlens runs with, the dashboard's default time range) are computed right
after each collection (`memlens collect ...`, `memlens demo`) or by the first page that finds none, and kept in
`<warehouse file>.backtest.pickle`, keyed by the data's load key, the figure parameters with the time range, and a
digest of the code (the alerts package, the SQL). The page reads them when its figure parameters and time range
equal the kept ones; any other view (an edited rate window, another range) is computed when shown. The rules
applied to them with that config (backtest.evaluate, ~0.4 s at 10M events) are kept too,
`<warehouse file>.backtest-evaluated.pickle`, keyed by the whole config as well.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

from memlens import kept
from memlens.alerts import backtest
from memlens.config import Config

ProgressFn = Callable[[str], None]
CODE = ("memlens.alerts", "memlens.sql")  # backtest.py, its rules and PromQL model; sql/windows


def figures_file(warehouse: str | Path) -> Path:
    return kept.kept_file(warehouse, "backtest")


def figures_state(load_key: tuple, cfg: Config, start: datetime | None, end: datetime | None,
                  *more: object) -> tuple:
    """What the figures depend on: the code, the data, the config's figure parameters (not its thresholds) and the
    time range [start, end); `more`: what a result computed from them depends on besides."""
    def at(ts: datetime | None) -> str | None:
        return None if ts is None else ts.isoformat()  # a datetime and an equal pandas Timestamp: one key

    return kept.state(kept.code_digest(*CODE), load_key, (backtest.figure_params(cfg), at(start), at(end), *more))


def stored(warehouse: str | Path, load_key: tuple, cfg: Config, start: datetime | None,
           end: datetime | None) -> backtest.Figures | None:
    """The kept figures when they are of this load, figure parameters and range, else None (no query: the page
    reads them with the load key it has)."""
    return kept.stored(figures_file(warehouse), figures_state(load_key, cfg, start, end))


def figures(con: duckdb.DuckDBPyConnection, cfg: Config, warehouse: str | Path, start: datetime | None,
            end: datetime | None, keep: bool = True) -> backtest.Figures | None:
    """backtest.figures(con, cfg, end, start): the kept ones when current, else computed (and kept when `keep`).
    None when the warehouse holds no calls."""
    from memlens.dashboard.data import load_key

    state = figures_state(load_key(con), cfg, start, end)
    path = figures_file(warehouse)
    fig = kept.stored(path, state)
    if fig is None:
        fig = backtest.figures(con, cfg, end, start)
        if fig is not None and keep:
            kept.keep(path, state, fig)
    return fig


def evaluation_file(warehouse: str | Path) -> Path:
    return kept.kept_file(warehouse, "backtest-evaluated")


def evaluation_state(load_key: tuple, cfg: Config, start: datetime | None, end: datetime | None) -> tuple:
    """What an evaluation depends on: everything the figures do, and the whole config (thresholds, `for:`)."""
    return figures_state(load_key, cfg, start, end, cfg.model_dump_json())


def evaluated(warehouse: str | Path, load_key: tuple, cfg: Config, start: datetime | None, end: datetime | None,
              fig: backtest.Figures) -> backtest.Backtest:
    """backtest.evaluate(cfg, fig): the one kept since the collection when it is of this config and view (the
    opening view of the config memlens runs with: the Alerts page's first visit), else evaluated now (not kept: an
    edited draft must not replace the opening view's)."""
    bt = kept.stored(evaluation_file(warehouse), evaluation_state(load_key, cfg, start, end))
    return bt if bt is not None else backtest.evaluate(cfg, fig)


def opening_range(con: duckdb.DuckDBPyConnection) -> tuple[datetime, datetime] | None:
    """The dashboard's default time range over this warehouse's calls ([start, end) of the sidebar's default
    preset); None when it holds none."""
    from memlens.dashboard import timerange

    first, last = con.execute("SELECT min(ts), max(ts) FROM raw_op_events").fetchone()
    window = timerange.resolve(timerange.Choice(timerange.DEFAULT), first, last)
    return None if window is None else (window.start, window.end)


def refresh_after_collection(con: duckdb.DuckDBPyConnection, cfg: Config, warehouse: str | Path,
                             progress: ProgressFn | None = None) -> None:
    """Right after a collection: the figures of the page's opening view for the new data, unless kept already, so
    that its first visitor reads them instead of waiting for them."""
    if str(warehouse) == ":memory:":
        return
    span = opening_range(con)
    if span is None:
        return
    start, end = span
    t0 = time.perf_counter()
    if progress:
        progress(f"replaying the alert rules over {start:%Y-%m-%d} … {end:%Y-%m-%d}")
    fig = figures(con, cfg, warehouse, start, end)
    if fig is not None:  # and the rules applied to them with the config memlens runs with, as the page opens
        from memlens.dashboard.data import load_key

        path, state = evaluation_file(warehouse), evaluation_state(load_key(con), cfg, start, end)
        if kept.stored(path, state) is None:  # unless kept already (a collection that loaded nothing new)
            kept.keep(path, state, backtest.evaluate(cfg, fig))
    if progress:
        progress(f"done in {time.perf_counter() - t0:.1f} s")
