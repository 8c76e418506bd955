"""Month-end cost projection with an interval, and who drives it: the one definition of "month-end projection"
(the Cost page, the weekly review, Diagnosis and Optimize all show this one).

The month is the UTC calendar month of the as-of day (default: the newest day in the data). Observed days run
from the first day with data in that month (the log may start mid-month) to the as-of day; days in between
without calls count as $0.
Projection = spent so far + remaining days x mean daily cost of the month's observed days. Interval: bootstrap
of the remaining days' total, each remaining day drawn with replacement from the month's observed daily costs
(a fixed seed makes it reproducible).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from memlens import layer
from memlens.config import Config

_SEED = 20260101  # fixed: the same data gives the same interval



@dataclass(frozen=True)
class Forecast:
    month: pd.Timestamp | None
    days_in_month: int
    days_elapsed: int  # days of the month up to the newest data day
    days_observed: int  # of those, days since the data starts (the mean daily cost's base)
    spent_usd: float
    mean_daily_usd: float
    projected_usd: float
    low_usd: float | None  # interval bounds; None with fewer than min_days days
    high_usd: float | None
    interval: float
    budget_usd: float
    p_over_budget: float | None
    daily: pd.DataFrame  # day, total_cost_usd (month so far, zero-filled)
    drivers: pd.DataFrame  # kind (user | op), driver, cost_usd, ops, share, projected_usd


def project_month(daily: pd.DataFrame, cfg: Config, as_of: date | None = None) -> Forecast:
    """`daily`: day, total_cost_usd (the layer's cost per day). Pure: no database. `as_of`: the last day of the
    month so far (default: the newest day in `daily`)."""
    f = cfg.optimize.forecast
    budget = cfg.thresholds.monthly_budget_usd
    if daily.empty:
        return Forecast(None, 0, 0, 0, 0.0, 0.0, 0.0, None, None, f.interval, budget, None,
                        pd.DataFrame({"day": [], "total_cost_usd": []}), pd.DataFrame())
    days = pd.to_datetime(daily["day"])
    last = pd.Timestamp(as_of) if as_of is not None else days.max()
    month = last.to_period("M").to_timestamp()
    n_month = calendar.monthrange(last.year, last.month)[1]
    full = pd.date_range(max(month, days[days >= month].min()), last, freq="D")
    costs = (pd.Series(daily["total_cost_usd"].to_numpy(float), index=days).groupby(level=0).sum()
             .reindex(full, fill_value=0.0))
    spent, observed = float(costs.sum()), len(full)
    elapsed = last.day
    remaining = n_month - elapsed
    mean = spent / observed
    projected = spent + remaining * mean
    low = high = p_over = None
    if observed >= f.min_days:
        rng = np.random.default_rng(_SEED)
        draws = rng.choice(costs.to_numpy(), size=(f.bootstrap_samples, remaining), replace=True)
        totals = spent + draws.sum(axis=1)
        tail = (1 - f.interval) / 2
        low, high = (float(x) for x in np.quantile(totals, [tail, 1 - tail]))
        p_over = float((totals > budget).mean()) if budget > 0 else None
    out = pd.DataFrame({"day": full.date, "total_cost_usd": costs.to_numpy()})
    return Forecast(month, n_month, elapsed, observed, spent, mean, projected, low, high, f.interval, budget,
                    p_over, out, pd.DataFrame())


def forecast(con: duckdb.DuckDBPyConnection, cfg: Config) -> Forecast:
    daily = layer.query(con, "cost", by=("bucket",), grain="day").rename(columns={"bucket": "day"})
    fc = project_month(daily[["day", "total_cost_usd"]], cfg)
    if fc.month is None:
        return fc
    start = fc.month.to_pydatetime()
    month = layer.Filters(start, (fc.month + pd.offsets.MonthBegin(1)).to_pydatetime())
    parts = []
    for kind, key, missing in (("user", "user_id", "(none)"), ("op", "op", None)):
        part = layer.query(con, "cost", month, (key,))
        parts.append(pd.DataFrame({"kind": kind, "driver": part[key].fillna(missing) if missing else part[key],
                                   "cost_usd": part["total_cost_usd"], "ops": part["ops"]}))
    drivers = pd.concat(parts, ignore_index=True)
    if not drivers.empty:
        drivers["share"] = drivers["cost_usd"] / drivers.groupby("kind")["cost_usd"].transform("sum").replace(0, np.nan)
        # A driver keeps its share of the month's run-rate.
        drivers["projected_usd"] = drivers["share"].fillna(0) * fc.projected_usd
        drivers = drivers.sort_values(["kind", "cost_usd"], ascending=[True, False]).reset_index(drop=True)
    return Forecast(**{**fc.__dict__, "drivers": drivers})
