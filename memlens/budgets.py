"""Cost budgets at the scopes people set them, and whether the spend kept to them.

A budget caps the cost of one scope (the team, a service, a user, an agent, or a combination) per UTC day (`1d`)
or over a rolling 7 or 30 days (`7d`, `30d`). The team's daily budget is `thresholds.daily_budget_usd`; the rest are
the config's `budgets:` list. (The team's calendar-month budget, `thresholds.monthly_budget_usd`, is judged against
the month-end projection: memlens.cost_review.MonthToDate.)

The spend is the metric layer's cost (sql/layer/cost.sql) over the budget's scope and window: the one cost
definition, priced from the config. A view filtered to one scope is compared with that scope's budgets only
(`at_scope`): one user's spend is never held against the team's budget. The weekly report, the Cost page and the
Prometheus budget rules (alerts/) all read the budgets from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

from memlens import layer
from memlens.config import Config

SCOPE_DIMS = ("service", "user", "agent")
PERIOD_DAYS = {"1d": 1, "7d": 7, "30d": 30}
PERIOD_TEXT = {"1d": "per UTC day", "7d": "rolling 7 days", "30d": "rolling 30 days"}
TEAM_DAILY = "team-daily"


@dataclass(frozen=True)
class Budget:
    name: str
    scope: tuple[tuple[str, str], ...]  # (dimension, value) in SCOPE_DIMS order; () = the whole team
    period: str  # 1d | 7d | 30d
    usd: float
    source: str  # the config key it comes from

    @property
    def scope_text(self) -> str:
        return ", ".join(f"{d}={v}" for d, v in self.scope) or "team"

    @property
    def period_text(self) -> str:
        return PERIOD_TEXT[self.period]

    @property
    def days(self) -> int:
        return PERIOD_DAYS[self.period]

    def filters(self) -> layer.Filters:
        return layer.Filters(**dict(self.scope))


def all_budgets(cfg: Config) -> list[Budget]:
    """The team's daily budget (thresholds.daily_budget_usd), then the config's `budgets:` in their order."""
    out = [Budget(TEAM_DAILY, (), "1d", cfg.thresholds.daily_budget_usd, "thresholds.daily_budget_usd")]
    for b in cfg.budgets:
        scope = tuple((d, getattr(b.scope, d)) for d in SCOPE_DIMS if getattr(b.scope, d) is not None)
        out.append(Budget(b.name, scope, b.period, b.usd, f"budgets.{b.name}"))
    return out


def view_scope(filters: layer.Filters) -> tuple[tuple[str, str], ...] | None:
    """The budget scope a filtered view is at: its service / user / agent; None when it also filters on something
    budgets are not set by (op, model, mode, status, tag): no budget compares with such a slice."""
    if filters.active() - set(SCOPE_DIMS):
        return None
    return tuple((d, getattr(filters, d)) for d in SCOPE_DIMS if getattr(filters, d) is not None)


def at_scope(budgets: list[Budget], filters: layer.Filters) -> list[Budget]:
    """The budgets set for exactly the view's scope (the team's for an unfiltered view)."""
    scope = view_scope(filters)
    return [] if scope is None else [b for b in budgets if b.scope == scope]


@dataclass(frozen=True)
class Status:
    """A budget checked over [start, end): for a daily budget every UTC day in it, for a rolling one the `days`
    days ending at `end`."""

    budget: Budget
    start: datetime
    end: datetime
    spent_usd: float  # daily: the costliest day's spend; rolling: the window's spend
    days_checked: int  # daily: days in the span; rolling: 1 window
    days_over: int  # daily: days above the budget; rolling: 1 when the window is above it
    worst_day: date | None  # daily: the costliest day
    partial: bool  # the span ends before the last day is over (a partial week)

    @property
    def over(self) -> bool:
        return self.days_over > 0

    @property
    def used(self) -> float | None:
        """Spent / budget (of the costliest day for a daily budget); None for a $0 budget."""
        return self.spent_usd / self.budget.usd if self.budget.usd else None

    @property
    def verdict(self) -> str:
        if self.budget.period == "1d":
            if not self.days_over:
                return f"within on all {self.days_checked} days"
            return f"over on {self.days_over} of {self.days_checked} days"
        return "over" if self.over else "within"


def check(con: duckdb.DuckDBPyConnection, budget: Budget, start: datetime, end: datetime,
          speed: layer.Speed = layer.EXACT) -> Status:
    """Budget `budget` over the span [start, end): a daily budget per UTC day of the span (the last day up to
    `end` when it is not midnight), a rolling one over its period ending at `end`."""
    scope = budget.filters()
    partial = (end.hour, end.minute, end.second, end.microsecond) != (0, 0, 0, 0)
    if budget.period == "1d":
        days = layer.query(con, "cost", scope.replace(start=start, end=end), ("bucket",), "day", speed)
        n_days = max((end - start + timedelta(microseconds=-1)).days + 1, 0)
        if days.empty:
            return Status(budget, start, end, 0.0, n_days, 0, None, partial)
        worst = days.loc[days["total_cost_usd"].idxmax()]
        over = int((days["total_cost_usd"] > budget.usd).sum())
        return Status(budget, start, end, float(worst["total_cost_usd"]), n_days, over,
                      worst["bucket"].date(), partial)
    window_start = end - timedelta(days=budget.days)
    spent = float(layer.one(layer.query(con, "cost", scope.replace(start=window_start, end=end), speed=speed))[
        "total_cost_usd"] or 0.0)
    return Status(budget, window_start, end, spent, 1, int(spent > budget.usd), None, partial)


def check_all(con: duckdb.DuckDBPyConnection, budgets: list[Budget], start: datetime, end: datetime,
              speed: layer.Speed = layer.EXACT) -> list[Status]:
    return [check(con, b, start, end, speed) for b in budgets]
