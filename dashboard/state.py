"""Streamlit glue: the cached read-only connection, cached aggregates, and the per-run context pages read.

Aggregates are cached with `st.cache_data` keyed on (warehouse path, load key, query, filters, parameters):
the load key changes whenever anything is loaded, so new data shows up without a TTL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from memlens import backend, budgets, cost_review, figures, health, layer, window_change
from memlens.config import Config, load_config
from memlens.dashboard import data, timerange, ui
from memlens.health import Measured
from memlens.optimize.advise import Advice, CostAdvice
from memlens.optimize.stored_advice import current_advice, current_cost_advice
from memlens.warehouse import connect

CTX_KEY = "_memlens_ctx"


class Holder:
    """One read-only connection per warehouse, shared by every session; queries are serialised by a lock
    (a DuckDB connection is not safe for concurrent use, and the filter macros live on this connection).

    The file is open only while some session's script runs (`in_use`): between page renders DuckDB's file lock
    is released, so `memlens collect` in another process can write, and the next render sees its load.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._users = 0
        self.last_load_key: tuple | None = None  # served from the cache while a collection holds the file

    @contextmanager
    def in_use(self) -> Iterator[None]:
        with self.lock:
            self._users += 1
        try:
            yield
        finally:
            with self.lock:
                self._users -= 1
                if self._users == 0:
                    self.close()

    def run(self, fn, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            if self._con is None:
                self._con = data.open_readonly(self.path)
            return fn(self._con, *args, **kwargs)

    def close(self) -> None:
        with self.lock:
            if self._con is not None:
                self._con.close()
                self._con = None


@st.cache_resource(show_spinner=False)
def config() -> Config:
    return load_config()


@st.cache_resource(show_spinner=False)
def holder(path: str) -> Holder:
    return Holder(path)


class DemoStatus:
    """The first start's demo load shown step by step with a progress bar (it takes tens of seconds). Created on
    the first report only: a warehouse that holds data starts without it."""

    def __init__(self) -> None:
        self.box: Any = None
        self.bar: Any = None

    def __call__(self, text: str, share: float) -> None:
        if self.box is None:
            self.box = st.status("First start: loading the demo workload into the empty warehouse…", expanded=True)
            with self.box:
                self.bar = st.progress(0.0)
        self.bar.progress(share, text=text)

    def finish(self, boot: data.Bootstrap | None) -> None:
        """Close the box: done (`boot`), or failed (None: the error is shown by the caller)."""
        if self.box is None:
            return
        if boot is None:
            self.box.update(label="The demo workload could not be loaded", state="error", expanded=False)
        else:
            self.box.update(label=boot.message or "Warehouse ready", state="complete", expanded=False)


@st.cache_resource(show_spinner=False)
def _bootstrapped() -> tuple[threading.Lock, dict[tuple[str, bool], data.Bootstrap]]:
    return threading.Lock(), {}


def bootstrap(path: str, load_demo: bool) -> data.Bootstrap:
    """Once per process and warehouse (not `st.cache_resource`: it would replay the progress elements on every
    rerun). Other sessions wait on the lock while the first one loads the demo."""
    lock, done = _bootstrapped()
    key = (path, load_demo)
    with lock:
        if key not in done:
            status = DemoStatus()
            try:
                done[key] = data.bootstrap(path, config(), load_demo_if_empty=load_demo, progress=status)
            finally:
                status.finish(done.get(key))
    return done[key]


@contextmanager
def write_access(path: str, what: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for a collection run, under the collectors' warehouse lock (a running
    `memlens collect` refuses us, naming itself). The shared read-only connection is closed first (DuckDB allows
    one configuration per file in a process) and reopens lazily afterwards."""
    from memlens.collectors.base import writer_lock

    h = holder(path)
    with writer_lock(backend.lock_anchor(path), what), h.lock:
        h.close()
        con = connect(path, config())
        try:
            yield con
        finally:
            con.close()


def _run(con: duckdb.DuckDBPyConnection, kind: str, name: Any, filters: data.Filters, speed: data.Speed,
         by: tuple[str, ...], grain: str | None, extra: dict[str, Any]) -> Any:
    if kind == "query":
        return data.run(con, name, filters, **extra)
    if kind == "metric":
        if extra.pop("total", False):  # one more row per bucket for the whole selection (op 'all')
            return layer.with_total(con, name, filters, by, grain, speed, **extra)
        return layer.query(con, name, filters, by, grain, speed, **extra)
    if kind == "figures":
        return figures.values(con, name, filters, speed)
    if kind == "measured":
        return health.measure(con, filters, speed, **extra)
    if kind == "changes":  # the selection against extra["before"], the same window a week earlier
        return window_change.changes(con, filters, data.Filters(**dict(extra["before"])), speed)
    if kind == "review":
        week = cost_review.Week(extra["monday"], extra["end"], extra["partial"])
        return cost_review.weekly(con, week, filters, config(), speed)
    if kind == "month":
        return cost_review.month_to_date(con, filters, extra["through"], config(), speed)
    if kind == "budgets":
        return budgets.check_all(con, budgets.all_budgets(config()), extra["start"], extra["end"], speed)
    raise ValueError(kind)


@st.cache_data(show_spinner=False, max_entries=1024)
def _cached(path: str, load_key: tuple, kind: str, name: Any, filters_key: tuple, speed: data.Speed,
            by: tuple[str, ...], grain: str | None, extra: tuple) -> Any:
    return holder(path).run(_run, kind, name, data.Filters(**dict(filters_key)), speed, by, grain, dict(extra))


def cached(path: str, load_key: tuple, kind: str, name: Any, filters: data.Filters = data.ALL,
           speed: data.Speed = data.EXACT, by: tuple[str, ...] = (), grain: str | None = None, **extra: Any) -> Any:
    """A page query, metric or set of figures, cached until the warehouse's next load."""
    try:
        return _cached(path, load_key, kind, name, filters.key(), speed, tuple(by), grain, tuple(sorted(extra.items())))
    except data.WarehouseUnavailable:  # not cached, and a collection holds the file: say so, do not fail the page
        st.info("This view is not cached yet and a collection is writing to the warehouse; it shows once the "
                "collection has finished.", icon=":material/sync:")
        st.stop()


@st.cache_resource(show_spinner="Replaying the search log through a what-if cache…", max_entries=4)
def advice(path: str, load_key: tuple) -> Advice:
    """Every `optimize/` analysis on the whole warehouse for the Optimize and Diagnosis pages: the one kept beside
    the warehouse since the last collection when it is current (stored_advice), else computed once per load
    (load_key: recompute when new data lands)."""
    return holder(path).run(current_advice, config(), path)


@st.cache_resource(show_spinner="Projecting the cost levers from your log…", max_entries=4)
def cost_advice(path: str, load_key: tuple) -> CostAdvice:
    """The Cost page's cost advice on the whole warehouse, once per load: the levers of the advice kept since the
    last collection when it is current (no scan of the events), else projected now (stored_advice)."""
    return holder(path).run(current_cost_advice, config(), path)


@st.cache_data(show_spinner=False, max_entries=16)
def speed(path: str, load_key: tuple, events: int) -> data.Speed:
    return holder(path).run(data.speed_for, events, config())


@dataclass(frozen=True)
class Ctx:
    path: str
    cfg: Config
    filters: data.Filters
    load_key: tuple
    data_first: date | None  # first and last day with data (the chosen range is in `filters`)
    data_last: date | None
    events: int
    demo_events: int
    speed: data.Speed = data.EXACT
    window: timerange.Window | None = None  # the selected time window (None: no data and no custom range)

    @property
    def empty(self) -> bool:
        return self.events == 0

    def q(self, name: str, filters: data.Filters | None = None, **extra: Any) -> pd.DataFrame:
        """A page query of dashboard/queries.sql (not a figure: load key, filter choices, Data sources)."""
        return cached(self.path, self.load_key, "query", name, self.filters if filters is None else filters,
                      self.speed, **extra)

    def metric(self, name: str, by: tuple[str, ...] = (), grain: str | None = None,
               filters: data.Filters | None = None, total: bool = False, **params: Any) -> pd.DataFrame:
        """A metric of the layer (sql/layer) over the selection, grouped by `by`; `total` adds the rows of the
        whole selection with the last key set to 'all' (layer.with_total)."""
        if total:
            params["total"] = True
        return cached(self.path, self.load_key, "metric", name, self.filters if filters is None else filters,
                      self.speed, tuple(by), grain, **params)

    def figures(self, *keys: str, filters: data.Filters | None = None) -> dict[str, Any]:
        """The registered figures `keys` (memlens/figures.py) for the selection."""
        return cached(self.path, self.load_key, "figures", tuple(keys), self.filters if filters is None else filters,
                      self.speed)

    def show(self, col: Any, key: str, value: Any = None, **kw: Any) -> None:
        """st.metric of a registered figure under its one label, formatted by its unit."""
        f = figures.FIGURES[key]
        v = self.figures(key)[key] if value is None else value
        col.metric(f.label_for(self.cfg), figures.format_value(v, f.unit), help=kw.pop("help", f.help) or None, **kw)

    @property
    def grain(self) -> str:
        """The series grain that follows the window's length (minute, hour, day)."""
        return self.window.grain if self.window is not None else "day"

    @property
    def previous(self) -> data.Filters | None:
        """The selection's filters over the same window a week earlier (what the charts compare with)."""
        return self.window.earlier().filters(self.filters) if self.window is not None else None

    @property
    def no_time(self) -> data.Filters:
        """The sidebar filters without the time range (month to date and the weekly review pick their days)."""
        return self.filters.no_time

    @property
    def as_of(self) -> date | None:
        """The last day of the selection (or of the data): the day the review and the month to date end."""
        end = self.filters.end
        return (end - timedelta(microseconds=1)).date() if end is not None else self.data_last

    def review(self, week: cost_review.Week) -> cost_review.WeeklyReport:
        """The weekly cost review of `week` with the sidebar's filters (not its time range): the report `memlens
        report weekly` writes."""
        return cached(self.path, self.load_key, "review", "review", self.no_time, self.speed, monday=week.monday,
                      end=week.end, partial=week.partial)

    def month(self, through: date | None = None) -> cost_review.MonthToDate | None:
        """Month to date up to `through` (default: the selection's last day) with the month-end projection."""
        through = through or self.as_of
        if through is None:
            return None
        return cached(self.path, self.load_key, "month", "month", self.no_time, self.speed, through=through)

    def budgets(self, start: datetime, end: datetime) -> list[budgets.Status]:
        """Every configured budget (each at its own scope) checked over [start, end)."""
        return cached(self.path, self.load_key, "budgets", "budgets", data.ALL, self.speed, start=start, end=end)

    def guard(self) -> None:
        """Stop the page with what to do next when there is nothing to show."""
        if self.empty:
            ui.empty_warehouse()
            st.stop()
        if not self.figures("ops")["ops"]:
            ui.no_match()
            st.stop()

    def on_demand(self, what: str, key: str) -> bool:
        """Whether to run a scan of the raw events the rollups cannot answer. Small warehouses: always; large
        ones (histogram percentiles): when the user asks, so every page still opens in under a second."""
        if not self.speed.histogram_percentiles:
            return True
        return st.toggle(f"Show {what}", key=key, value=False,
                         help=f"Scans the {self.events:,} raw events (a few seconds at this size).")

    def measured(self, with_phases: bool = False) -> Measured:
        """The selection's Measured; `with_phases` adds where its searches' time went (a scan of the timed events)."""
        month = self.month()
        return cached(self.path, self.load_key, "measured", "measured", self.filters, self.speed,
                      projected_month_usd=month.projected_usd if month else None, with_phases=with_phases)


def set_current(ctx: Ctx) -> None:
    st.session_state[CTX_KEY] = ctx


def current() -> Ctx:
    return st.session_state[CTX_KEY]
