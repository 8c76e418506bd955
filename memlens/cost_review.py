"""The weekly cost review: one report for a manager, the same on the Cost page and from `memlens report weekly`.

A review covers one ISO week (Monday 00:00 to Monday 00:00 UTC; by default the last complete one) and compares it
with the week before. A week still in progress is reviewed only when asked (`partial=True`): it then runs to the
data's newest call and is compared with the same span of the previous week (Monday 00:00 to the same weekday and
time), and every figure says so. What it holds:

- totals and their week-over-week change, the change per model, user, agent, service and operation, and the top
  movers (the groups whose change explains the total's, in $ and %);
- the spend against the budgets set at the view's own scope (memlens.budgets: a view of one user is compared with
  that user's budgets, never the team's), per day and rolling 7 / 30 days;
- the month to date with the month-end projection and its interval (memlens.optimize.forecast.project_month);
- charts (inline SVG, memlens.svgchart), and the report as Markdown, HTML and CSV tables (one table per file;
  totals as rows of type `total`; numbers as plain numbers; every text cell injection-safe).

Every figure is the metric layer's (sql/layer through memlens/layer.py); changes are `layer.change` (the one
definition of change and change %, sql/layer/combine/change.sql). This module holds no SQL of its own.
"""

from __future__ import annotations

import calendar
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import duckdb
import pandas as pd

from memlens import budgets as bg
from memlens import figures, layer, svgchart
from memlens.config import Config
from memlens.figures import format_value
from memlens.safetext import md_escape
from memlens.safetext import to_csv as safe_csv

WEEK = timedelta(days=7)
_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
# Breakdowns: dimension → (metric, group columns, label of a missing key)
DIMENSIONS = ("model", "user", "agent", "service", "op")
DIMENSION_TEXT = {"model": "Model", "user": "User", "agent": "Agent", "service": "Service", "op": "Operation"}
_BY = {"user": ("user_id", "(no user)"), "agent": ("agent_id", "(no agent)"), "service": ("service", "(none)"),
       "op": ("op", "(none)")}
KIND_TEXT = {"embedding": "embedding", "llm": "LLM", "platform_call": "Platform call"}
MOVER_DIMENSIONS = ("user", "model", "op", "agent", "service")
MOVERS_PER_DIMENSION = 3
SHOWN_ROWS = 10  # rows of a breakdown the Markdown / HTML report lists (the CSV has all); the rest as one row
# Summary figures: key → (label, unit, metric column of `cost`, mode scope (None = all), additive)
SUMMARY: dict[str, tuple[str, str, str, str | None, bool]] = {
    "total_cost_usd": ("Total cost", "usd", "total_cost_usd", None, True),
    "embedding_cost_usd": ("Embedding cost", "usd", "embedding_cost_usd", None, True),
    "llm_cost_usd": ("LLM cost", "usd", "llm_cost_usd", None, True),
    "platform_cost_usd": ("Platform cost", "usd", "platform_cost_usd", None, True),
    "ops": ("Operations", "count", "ops", None, True),
    "searches": ("Searches", "count", "searches", None, True),
    "cost_per_1k_oss": (figures.FIGURES["cost_per_1k_oss"].label, "usd", "cost_per_1k_searches_usd", "oss", False),
    "cost_per_1k_platform": (figures.FIGURES["cost_per_1k_platform"].label, "usd", "cost_per_1k_searches_usd",
                             "platform", False),
}
CURRENT_COLOR, PREVIOUS_COLOR = "#1f77b4", "#b0b7c3"


class ReviewError(ValueError):
    """A week that cannot be reviewed as asked (a malformed name, a week not over yet without `partial`)."""


# ---- which week ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Week:
    """The reviewed span [start, end): a whole ISO week, or a partial one from its Monday to `end`."""

    monday: date
    end: datetime
    partial: bool

    @property
    def start(self) -> datetime:
        return datetime.combine(self.monday, time.min)

    @property
    def full_end(self) -> datetime:
        return self.start + WEEK

    @property
    def iso(self) -> str:
        y, w, _ = self.monday.isocalendar()
        return f"{y}-W{w:02d}"

    @property
    def previous_start(self) -> datetime:
        return self.start - WEEK

    @property
    def previous_end(self) -> datetime:
        return self.end - WEEK

    @property
    def last_day(self) -> date:
        """The last day the span reaches into."""
        return (self.end - timedelta(microseconds=1)).date()

    @property
    def elapsed_text(self) -> str:
        span = self.end - self.start
        return f"{span.days} d {span.seconds // 3600} h of 7 d"

    @property
    def current_label(self) -> str:
        return "this week so far" if self.partial else "this week"

    @property
    def previous_label(self) -> str:
        return "same span last week" if self.partial else "last week"

    @property
    def label(self) -> str:
        if self.partial:
            return (f"{self.iso} so far: {self.start:%a %b %d} 00:00 – {self.end:%a %b %d %H:%M} UTC "
                    f"(PARTIAL, {self.elapsed_text}), compared with {self.previous_start:%a %b %d} 00:00 – "
                    f"{self.previous_end:%a %b %d %H:%M} UTC")
        return (f"{self.iso}: {self.start:%a %b %d} – {self.last_day:%a %b %d, %Y} (UTC), compared with "
                f"{self.previous_start:%b %d} – {(self.start - timedelta(days=1)):%b %d}")


def monday_of(d: date) -> date:
    return d - timedelta(days=d.weekday())


def parse_week(text: str) -> date:
    """The Monday of an ISO week written `2026-W47`."""
    m = _ISO_WEEK.match(text.strip())
    if not m:
        raise ReviewError(f"week {text!r}: write it as YYYY-Www, e.g. 2026-W47")
    try:
        return date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise ReviewError(f"week {text!r}: {m.group(1)} has no ISO week {int(m.group(2))}") from None


def _next_minute(ts: datetime) -> datetime:
    """The start of the minute after the one `ts` is in: a half-open window ending there includes `ts`."""
    return ts.replace(second=0, microsecond=0) + timedelta(minutes=1)


def resolve_week(week: str | None, partial: bool, now: datetime, data_end: datetime | None = None) -> Week:
    """The span to review. `now`: the wall clock (naive UTC); `data_end`: the newest call's start (a partial week
    runs to the end of that call's minute when that is before `now`: collection lags the clock).

    Default: the last complete ISO week (`partial`: the week in progress). A named week must be over unless
    `partial` is given, and a partial review is only of the week in progress."""
    this_monday = monday_of(now.date())
    monday = parse_week(week) if week else this_monday - (timedelta(0) if partial else WEEK)
    start = datetime.combine(monday, time.min)
    if start > now:
        raise ReviewError(f"{Week(monday, start + WEEK, False).iso} has not started yet (now {now:%Y-%m-%d %H:%M} UTC)")
    if monday == this_monday:
        if not partial:
            raise ReviewError(f"{Week(monday, start + WEEK, False).iso} is not over until {start + WEEK:%Y-%m-%d} "
                              "00:00 UTC: review the week so far with --partial, or name a complete week")
        end = min(now, _next_minute(data_end)) if data_end is not None and data_end >= start else now
        return Week(monday, max(end, start + timedelta(minutes=1)), True)
    if partial:
        raise ReviewError(f"{Week(monday, start + WEEK, False).iso} is complete; --partial is for the week in "
                          "progress")
    return Week(monday, start + WEEK, False)


# ---- the figures --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MonthToDate:
    """The month of the review's last day up to its last complete day, and the month-end projection."""

    month_start: date
    through: date  # the last day counted (a partial week's running day is left out: it is not over)
    days_in_month: int
    cost_usd: float
    projected_usd: float
    low_usd: float | None  # the projection's interval (None with fewer than optimize.forecast.min_days days)
    high_usd: float | None
    interval: float
    budget_usd: float | None  # the team's monthly budget; None at a narrower scope (no monthly budget there)

    @property
    def over_budget(self) -> bool | None:
        return None if self.budget_usd is None else self.projected_usd > self.budget_usd

    @property
    def budget_used(self) -> float | None:
        return self.cost_usd / self.budget_usd if self.budget_usd else None


def month_to_date(con: duckdb.DuckDBPyConnection, filters: layer.Filters, through: date, cfg: Config,
                  speed: layer.Speed = layer.EXACT) -> MonthToDate:
    """Month to date up to `through` (inclusive) for the selection's dimensions, with the month-end projection
    (memlens.optimize.forecast.project_month, the one projection); judged against the monthly budget only for
    the team's view."""
    from memlens.optimize.forecast import project_month

    month_start = through.replace(day=1)
    daily = layer.query(con, "cost", filters.replace(start=datetime.combine(month_start, time.min),
                                                     end=datetime.combine(through + timedelta(days=1), time.min)),
                        ("bucket",), "day", speed)
    daily = daily.rename(columns={"bucket": "day"})[["day", "total_cost_usd"]]
    f = project_month(daily, cfg, through)
    team = bg.view_scope(filters) == ()
    return MonthToDate(month_start, through, calendar.monthrange(through.year, through.month)[1], f.spent_usd,
                       f.projected_usd, f.low_usd, f.high_usd, f.interval,
                       cfg.thresholds.monthly_budget_usd if team else None)


@dataclass(frozen=True)
class WeeklyReport:
    week: Week
    scope: layer.Filters  # the view's dimensions (no time range)
    summary: pd.DataFrame  # figure, label, unit, previous, current, delta, delta_pct
    breakdowns: dict[str, pd.DataFrame]  # dimension → key, previous_usd, current_usd, delta_usd, delta_pct,
    #                                      share_of_change, previous_calls, current_calls (largest this week first)
    movers: pd.DataFrame  # dimension, key, previous_usd, current_usd, delta_usd, delta_pct, share_of_change
    daily: pd.DataFrame  # day_index, current_day, previous_day, current_usd, previous_usd
    budgets: list[bg.Status]
    budget_note: str  # which budgets the view is compared with, and why (never the team's for a narrower view)
    month: MonthToDate | None
    data_end: datetime | None  # the warehouse's newest call in the view's scope (any time)
    demo_ops: int
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None, microsecond=0))

    def value(self, key: str, side: str = "current") -> float | None:
        row = self.summary.set_index("figure").loc[key]
        return layer.plain(row[side])

    @property
    def total(self) -> float:
        return float(self.value("total_cost_usd") or 0.0)

    @property
    def previous_total(self) -> float:
        return float(self.value("total_cost_usd", "previous") or 0.0)

    @property
    def delta_usd(self) -> float:
        return float(self.value("total_cost_usd", "delta") or 0.0)

    @property
    def delta_pct(self) -> float | None:
        return self.value("total_cost_usd", "delta_pct")

    @property
    def scope_text(self) -> str:
        return scope_text(self.scope)

    @property
    def daily_limit(self) -> tuple[str, float] | None:
        """The daily budget of the view's scope, drawn on the daily chart."""
        daily = next((s.budget for s in self.budgets if s.budget.period == "1d"), None)
        return ("daily budget", daily.usd) if daily else None


def scope_text(filters: layer.Filters) -> str:
    parts = [f"{d}={getattr(filters, d)}" for d in layer.FILTER_DIMS if getattr(filters, d) is not None]
    return ", ".join(parts) or "all services, users, agents, operations and models"


def _windows(filters: layer.Filters, week: Week) -> tuple[layer.Filters, layer.Filters]:
    return (filters.replace(start=week.start, end=week.end),
            filters.replace(start=week.previous_start, end=week.previous_end))


def _summary(con: duckdb.DuckDBPyConnection, filters: layer.Filters, week: Week, speed: layer.Speed) -> pd.DataFrame:
    cur, prev = _windows(filters, week)
    additive = [k for k, v in SUMMARY.items() if v[4]]
    ch = layer.change(con, "cost", cur, prev, values=[SUMMARY[k][2] for k in additive], speed=speed)
    rows = []
    for key in SUMMARY:
        label, unit, column, mode, is_additive = SUMMARY[key]
        if is_additive:
            part = ch
        else:
            sel = figures.scoped(cur, (("mode", mode),))
            part = None if sel is None else layer.change(con, "cost", sel, figures.scoped(prev, (("mode", mode),)),
                                                         values=[column], zero_fill=False, speed=speed)
        r = layer.one(part) if part is not None else {}
        rows.append({"figure": key, "label": label, "unit": unit,
                     **{c: r.get(f"{column}_{c}") for c in ("previous", "current", "delta", "delta_pct")}})
    return pd.DataFrame(rows)


def _breakdown(con: duckdb.DuckDBPyConnection, dim: str, filters: layer.Filters, week: Week,
               speed: layer.Speed) -> pd.DataFrame:
    cur, prev = _windows(filters, week)
    if dim == "model":
        ch = layer.change(con, "cost_by_model", cur, prev, values=("cost_usd", "events"), on=("kind", "model"),
                          speed=speed)
        keys = [f"{m if isinstance(m, str) else '(unnamed)'} ({KIND_TEXT.get(k, k)})"
                for k, m in zip(ch["kind"], ch["model"], strict=True)]
        value, calls = "cost_usd", "events"
    else:
        col, missing = _BY[dim]
        ch = layer.change(con, "cost", cur, prev, (col,), values=("total_cost_usd", "ops"), speed=speed)
        keys = [k if isinstance(k, str) else missing for k in ch[col]]
        value, calls = "total_cost_usd", "ops"
    return pd.DataFrame({
        "key": keys,
        "previous_usd": ch[f"{value}_previous"].astype(float), "current_usd": ch[f"{value}_current"].astype(float),
        "delta_usd": ch[f"{value}_delta"].astype(float), "delta_pct": ch[f"{value}_delta_pct"].astype(float),
        "share_of_change": ch[f"{value}_share_of_change"].astype(float),
        "previous_calls": ch[f"{calls}_previous"].astype("int64"),
        "current_calls": ch[f"{calls}_current"].astype("int64"),
    })


def top_movers(breakdowns: dict[str, pd.DataFrame], per_dimension: int = MOVERS_PER_DIMENSION) -> pd.DataFrame:
    """The groups whose cost moved most (by |change in $|), `per_dimension` per dimension of MOVER_DIMENSIONS,
    with the share of the total change each explains."""
    parts = []
    for dim in MOVER_DIMENSIONS:
        df = breakdowns[dim]
        moved = df[df["delta_usd"].abs() > 1e-12]
        moved = moved.assign(_abs=moved["delta_usd"].abs()).sort_values(["_abs", "key"], ascending=[False, True])
        parts.append(moved.head(per_dimension).drop(columns="_abs").assign(dimension=dim))
    cols = ["dimension", "key", "previous_usd", "current_usd", "delta_usd", "delta_pct", "share_of_change"]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    return out[cols].reset_index(drop=True) if len(out) else pd.DataFrame(columns=cols)


def _daily(con: duckdb.DuckDBPyConnection, filters: layer.Filters, week: Week, speed: layer.Speed) -> pd.DataFrame:
    cur, prev = _windows(filters, week)
    days = (week.end - week.start + timedelta(microseconds=-1)).days + 1
    out = pd.DataFrame({"day_index": range(days)})
    out["current_day"] = [week.monday + timedelta(days=i) for i in range(days)]
    out["previous_day"] = [week.monday - WEEK + timedelta(days=i) for i in range(days)]
    for side, sel, first in (("current", cur, week.monday), ("previous", prev, week.monday - WEEK)):
        per_day = layer.query(con, "cost", sel, ("bucket",), "day", speed)
        by_day = {pd.Timestamp(b).date(): float(v) for b, v in zip(per_day["bucket"], per_day["total_cost_usd"],
                                                                     strict=True)}
        out[f"{side}_usd"] = [by_day.get(first + timedelta(days=i), 0.0) for i in range(days)]
    return out


def _budget_note(filters: layer.Filters, shown: list[bg.Budget]) -> str:
    scope = bg.view_scope(filters)
    if scope is None:
        return ("No budget applies: budgets are set per team, service, user or agent, and this view is also "
                "filtered by operation, model or mode.")
    where = ", ".join(f"{d}={v}" for d, v in scope) or "the team"
    if not shown:
        return f"No budget is set for {where} (the config's `budgets:`); the team's budgets do not apply to it."
    return f"Budgets set for {where}" + ("" if scope else " (the team's daily budget and the config's team budgets)")


def weekly(con: duckdb.DuckDBPyConnection, week: Week, filters: layer.Filters, cfg: Config,
           speed: layer.Speed = layer.EXACT) -> WeeklyReport:
    """The review of `week` for the selection's dimensions (`filters`; its time range is ignored)."""
    scope = filters.no_time
    breakdowns = {dim: _breakdown(con, dim, scope, week, speed) for dim in DIMENSIONS}
    applicable = bg.at_scope(bg.all_budgets(cfg), scope)
    statuses = bg.check_all(con, applicable, week.start, week.end, speed)
    through: date | None = week.last_day
    if week.partial:  # the running day is not over: the month counts whole days, up to the day before
        through = week.last_day - timedelta(days=1)
        if through.month != week.last_day.month:
            through = None  # the first of the month: no complete day of it yet
    month = month_to_date(con, scope, through, cfg, speed) if through is not None else None
    span = layer.one(layer.query(con, "span", scope))
    return WeeklyReport(
        week=week, scope=scope, summary=_summary(con, scope, week, speed), breakdowns=breakdowns,
        movers=top_movers(breakdowns), daily=_daily(con, scope, week, speed), budgets=statuses,
        budget_note=_budget_note(scope, applicable), month=month, data_end=span["last_ts"],
        demo_ops=int(layer.one(layer.query(con, "span", _windows(scope, week)[0]))["demo_ops"] or 0))


# ---- text pieces shared by every format and the page ----------------------------------------------------------

def usd(v: float | None) -> str:
    return format_value(v, "usd")


def signed_usd(v: float | None) -> str:
    if v is None:
        return "n/a"
    return ("+" if v > 0 else "-" if v < 0 else "±") + format_value(abs(v), "usd")


def change_text(delta_pct: float | None, previous: float | None, current: float | None) -> str:
    """The "change" words of every view: "+12.5 %", or where a percentage is undefined "new" (from 0), "no change"
    (0 both weeks), "n/a" (a side without data)."""
    if previous is None or current is None or pd.isna(previous) or pd.isna(current):
        return "n/a"
    if not previous:
        return "no change" if not current else "new"
    return f"{delta_pct * 100:+.1f} %"


def change_in_words(table: pd.DataFrame) -> pd.DataFrame:
    """A movers or breakdown table with `delta_pct` as change_text's words ("new", "no change", "+12.5 %"): what a
    page shows instead of an empty cell where the percentage is undefined."""
    words = [change_text(d, p, c) for d, p, c in
             zip(table["delta_pct"], table["previous_usd"], table["current_usd"], strict=True)]
    return table.assign(delta_pct=words)


def share_text(v: float | None) -> str:
    if v is None or pd.isna(v) or v == 0:
        return ""
    pct = v * 100
    return f"{pct:.0f} % of the change" if abs(pct) >= 1 else f"{pct:.1f} % of the change"


def _fmt(v: float | None, unit: str) -> str:
    return format_value(None if v is None or pd.isna(v) else v, unit)


def headline(r: WeeklyReport) -> str:
    cur = r.week.current_label
    text = (f"Total {cur}: {usd(r.total)}, {signed_usd(r.delta_usd)} "
            f"({change_text(r.delta_pct, r.previous_total, r.total)}) vs {usd(r.previous_total)} "
            f"{r.week.previous_label}.")
    drivers = [f"{DIMENSION_TEXT[m.dimension].lower()} {m.key} {signed_usd(m.delta_usd)}"
               + (f" ({m.share_of_change * 100:.0f} % of the change)" if pd.notna(m.share_of_change) else "")
               for m in r.movers.groupby("dimension", sort=False).head(1).itertuples()
               if m.dimension in ("user", "model", "op")]
    if drivers and abs(r.delta_usd) > 1e-12:
        text += " Biggest movers: " + "; ".join(drivers) + "."
    return text


def budget_line(s: bg.Status) -> str:
    b = s.budget
    if b.period == "1d":
        worst = f"; costliest day {s.worst_day:%a %b %d} {usd(s.spent_usd)}" if s.worst_day else ""
        part = " (the last day so far)" if s.partial else ""
        return f"{b.name} ({b.scope_text}, {usd(b.usd)} {b.period_text}): {s.verdict}{part}{worst}"
    used = f", {s.used * 100:.0f} % used" if s.used is not None else ""
    return (f"{b.name} ({b.scope_text}, {usd(b.usd)} {b.period_text}): {s.verdict} — {usd(s.spent_usd)} in "
            f"{s.start:%b %d %H:%M} – {s.end:%b %d %H:%M} UTC{used}")


def month_line(r: WeeklyReport) -> str:
    m = r.month
    if m is None:
        return "Month to date: no complete day of this month yet."
    interval = (f" ({m.interval:.0%} interval {usd(m.low_usd)} – {usd(m.high_usd)})" if m.low_usd is not None
                else " (too few days for an interval)")
    text = (f"Month to date ({m.month_start:%B %Y}, through {m.through:%b %d}): {usd(m.cost_usd)}; month-end "
            f"projection {usd(m.projected_usd)}{interval}")
    if m.budget_usd is None:
        return text + "; no monthly budget at this scope (the team's monthly budget does not apply)."
    return text + f", {'over' if m.over_budget else 'within'} the {usd(m.budget_usd)} monthly budget."


def data_warning(r: WeeklyReport) -> str | None:
    """A complete week whose data stops before its end (collection behind): the last days may be missing."""
    if r.week.partial or r.data_end is None or r.data_end >= r.week.end - timedelta(hours=1):
        return None
    return (f"The warehouse's newest call in this scope is from {r.data_end:%Y-%m-%d %H:%M} UTC, before the "
            "week ends: collect first if calls after that are missing.")


def _shown(df: pd.DataFrame, n: int = SHOWN_ROWS) -> pd.DataFrame:
    """The first `n` rows, the rest summed into one "N others" row (the totals stay whole)."""
    if len(df) <= n:
        return df
    rest = df.iloc[n:]
    other = {"key": f"{len(rest)} others", **{c: rest[c].sum() for c in ("previous_usd", "current_usd", "delta_usd",
                                                                         "previous_calls", "current_calls")}}
    other["delta_pct"] = other["delta_usd"] / other["previous_usd"] if other["previous_usd"] else float("nan")
    other["share_of_change"] = rest["share_of_change"].sum(min_count=1)
    return pd.concat([df.iloc[:n], pd.DataFrame([other])], ignore_index=True)


def _breakdown_rows(r: WeeklyReport, dim: str) -> list[list[str]]:
    return [[str(x.key), usd(x.previous_usd), usd(x.current_usd), signed_usd(x.delta_usd),
             change_text(x.delta_pct, x.previous_usd, x.current_usd), share_text(x.share_of_change),
             f"{int(x.current_calls):,}"] for x in _shown(r.breakdowns[dim]).itertuples()]


def _breakdown_head(r: WeeklyReport, dim: str) -> list[str]:
    return [DIMENSION_TEXT[dim], r.week.previous_label, r.week.current_label, "change", "change %",
            "share of the change", f"calls {r.week.current_label}"]


def _summary_rows(r: WeeklyReport) -> list[list[str]]:
    return [[x.label, _fmt(x.previous, x.unit), _fmt(x.current, x.unit),
             signed_usd(x.delta) if x.unit == "usd" and pd.notna(x.delta) else
             (f"{x.delta:+,.0f}" if pd.notna(x.delta) else "n/a"),
             change_text(x.delta_pct, x.previous, x.current)] for x in r.summary.itertuples()]


def _mover_rows(r: WeeklyReport) -> list[list[str]]:
    return [[DIMENSION_TEXT[m.dimension], str(m.key), usd(m.previous_usd), usd(m.current_usd), signed_usd(m.delta_usd),
             change_text(m.delta_pct, m.previous_usd, m.current_usd), share_text(m.share_of_change)]
            for m in r.movers.itertuples()]


def title(r: WeeklyReport) -> str:
    return f"Mem0 weekly cost review — {r.week.iso}" + (" (PARTIAL WEEK)" if r.week.partial else "")


# ---- charts ----------------------------------------------------------------------------------------------------

def _axis_usd(v: float) -> str:
    return f"${v:,.2f}" if v >= 0.1 or v == 0 else f"${v:.4f}"


def chart_daily(r: WeeklyReport) -> str:
    cats = [f"{d:%a %d}" for d in r.daily["current_day"]]
    suffix = " (partial week)" if r.week.partial else ""
    return svgchart.grouped_bars(f"Cost per day, {r.week.current_label} vs {r.week.previous_label}{suffix}", cats,
                                 [(r.week.previous_label, list(r.daily["previous_usd"]), PREVIOUS_COLOR),
                                  (r.week.current_label, list(r.daily["current_usd"]), CURRENT_COLOR)],
                                 _axis_usd, r.daily_limit)


def chart_movers(r: WeeklyReport) -> str:
    m = r.movers
    labels = [f"{DIMENSION_TEXT[d].lower()}: {k}" for d, k in zip(m["dimension"], m["key"], strict=True)]
    suffix = " (partial week, same span)" if r.week.partial else ""
    return svgchart.diverging_bars(f"Top movers: change in cost vs {r.week.previous_label}{suffix}", labels,
                                   list(m["delta_usd"]), signed_usd)


def chart_breakdown(r: WeeklyReport, dim: str = "model") -> str:
    df = r.breakdowns[dim]
    df = _shown(df[(df["previous_usd"] != 0) | (df["current_usd"] != 0)], 6)  # what cost nothing both weeks: tables
    suffix = " (partial week)" if r.week.partial else ""
    return svgchart.grouped_bars(f"Cost by {DIMENSION_TEXT[dim].lower()}{suffix}", [str(k) for k in df["key"]],
                                 [(r.week.previous_label, list(df["previous_usd"]), PREVIOUS_COLOR),
                                  (r.week.current_label, list(df["current_usd"]), CURRENT_COLOR)], _axis_usd,
                                 height=280)


def charts(r: WeeklyReport) -> dict[str, str]:
    """The report's charts as SVG text, by name (the HTML embeds them; the Cost page shows them)."""
    return {"daily": chart_daily(r), "movers": chart_movers(r), "model": chart_breakdown(r, "model")}


# ---- Markdown ----------------------------------------------------------------------------------------------------

def _md_table(head: list[str], rows: list[list[str]], first_is_text: bool = True) -> list[str]:
    align = ["---" if i == 0 and first_is_text else "---:" for i in range(len(head))]
    out = ["| " + " | ".join(md_escape(h) for h in head) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return out


def to_markdown(r: WeeklyReport) -> str:
    """The one-page report as Markdown; every text from the logs or the config is escaped (one inline run)."""
    lines = [f"# {md_escape(title(r))}", ""]
    if r.week.partial:
        lines += [f"**PARTIAL WEEK**: {md_escape(r.week.label)}. Every figure covers this span only.", ""]
    else:
        lines += [md_escape(r.week.label), ""]
    if r.demo_ops:
        lines += ["**Demo data**: these figures come from the synthetic `memlens demo` workload.", ""]
    warn = data_warning(r)
    if warn:
        lines += [f"**Note**: {md_escape(warn)}", ""]
    lines += [f"Scope: {md_escape(r.scope_text)}.", "", f"**{md_escape(headline(r))}**", ""]
    lines += _md_table(["", r.week.previous_label, r.week.current_label, "change", "change %"], _summary_rows(r))
    lines += ["", "## Top movers", ""]
    lines += (_md_table(["dimension", "", r.week.previous_label, r.week.current_label, "change", "change %",
                         "share of the change"], _mover_rows(r)) if len(r.movers) else ["Nothing changed."])
    lines += ["", "## Budgets", "", md_escape(r.budget_note) + ".", ""]
    lines += [f"- {md_escape(budget_line(s))}" for s in r.budgets]
    lines += ["", "## Month to date", "", md_escape(month_line(r)), ""]
    for dim in DIMENSIONS:
        lines += [f"## By {DIMENSION_TEXT[dim].lower()}", ""]
        lines += [*_md_table(_breakdown_head(r, dim), _breakdown_rows(r, dim)), ""]
    lines += [f"_Generated {r.generated_at:%Y-%m-%d %H:%M} UTC by memlens from the op log; prices from the config._",
              ""]
    return "\n".join(lines)


# ---- HTML ------------------------------------------------------------------------------------------------------

_CSS = ("body{font-family:Helvetica,Arial,sans-serif;max-width:900px;margin:24px auto;color:#222;padding:0 12px}"
        "h1{font-size:24px}h2{font-size:18px;margin-top:28px}"
        "table{border-collapse:collapse;width:100%;margin:8px 0 16px;font-size:14px}"
        "th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:right}"
        "th:first-child,td:first-child{text-align:left}td.t{text-align:left}"
        ".note{background:#fff3cd;padding:6px 10px}.partial{background:#ffe0b2;padding:8px 10px;font-weight:bold}"
        ".headline{font-size:17px}.over{color:#c0392b;font-weight:bold}.within{color:#2e7d32}"
        "figure{margin:12px 0}figcaption{font-size:12px;color:#666}")


def to_html(r: WeeklyReport) -> str:
    """A standalone one-page HTML report with its charts inline (SVG): nothing is fetched when it opens. Every text
    cell goes through html.escape."""
    e = html.escape

    def table(head: list[str], rows: list[list[str]], text_cols: int = 1) -> str:
        th = "".join(f"<th>{e(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td{' class=t' if i < text_cols else ''}>{e(c)}</td>"
                                        for i, c in enumerate(row)) + "</tr>" for row in rows)
        return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"

    c = charts(r)
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(title(r))}</title>"
             f"<style>{_CSS}</style></head><body><h1>{e(title(r))}</h1>"]
    if r.week.partial:
        parts.append(f"<p class='partial'>PARTIAL WEEK — {e(r.week.label)}. Every figure covers this span only.</p>")
    else:
        parts.append(f"<p>{e(r.week.label)}</p>")
    if r.demo_ops:
        parts.append("<p class='note'><b>Demo data</b>: synthetic figures from the memlens demo workload.</p>")
    warn = data_warning(r)
    if warn:
        parts.append(f"<p class='note'>{e(warn)}</p>")
    parts.append(f"<p>Scope: {e(r.scope_text)}.</p><p class='headline'><b>{e(headline(r))}</b></p>")
    parts.append(table(["", r.week.previous_label, r.week.current_label, "change", "change %"], _summary_rows(r)))
    parts.append(f"<figure>{c['daily']}</figure>")
    parts.append("<h2>Top movers</h2>")
    if len(r.movers):
        parts.append(f"<figure>{c['movers']}</figure>")
        parts.append(table(["dimension", "", r.week.previous_label, r.week.current_label, "change", "change %",
                            "share of the change"], _mover_rows(r), 2))
    else:
        parts.append("<p>Nothing changed.</p>")
    parts.append(f"<h2>Budgets</h2><p>{e(r.budget_note)}.</p><ul>")
    parts += [f"<li class='{'over' if s.over else 'within'}'>{e(budget_line(s))}</li>" for s in r.budgets]
    parts.append(f"</ul><h2>Month to date</h2><p>{e(month_line(r))}</p>")
    parts.append(f"<h2>By model</h2><figure>{c['model']}</figure>")
    for dim in DIMENSIONS:
        if dim != "model":
            parts.append(f"<h2>By {e(DIMENSION_TEXT[dim].lower())}</h2>")
        parts.append(table(_breakdown_head(r, dim), _breakdown_rows(r, dim)))
    parts.append(f"<p style='font-size:12px;color:#666'>Generated {r.generated_at:%Y-%m-%d %H:%M} UTC by memlens "
                 "from the op log; prices from the config.</p></body></html>")
    return "".join(parts)


# ---- CSV ---------------------------------------------------------------------------------------------------------

def csv_tables(r: WeeklyReport) -> dict[str, pd.DataFrame]:
    """The report as machine-readable tables, one per file name: plain numbers (USD, counts, ratios 0..1; empty
    where undefined), every row saying its week and whether the week is partial, totals as rows of type `total`."""
    w = r.week
    stamp = {"week": w.iso, "partial": w.partial, "window_start": w.start, "window_end": w.end,
             "previous_start": w.previous_start, "previous_end": w.previous_end}
    summary = r.summary[["figure", "label", "unit", "previous", "current", "delta", "delta_pct"]]
    total = r.summary.set_index("figure").loc[["total_cost_usd", "ops"]]
    parts = []
    for dim in DIMENSIONS:
        df = r.breakdowns[dim].assign(section=dim, row_type="item")
        tot = pd.DataFrame([{"section": dim, "row_type": "total", "key": "total",
                             "previous_usd": total.loc["total_cost_usd", "previous"],
                             "current_usd": total.loc["total_cost_usd", "current"],
                             "delta_usd": total.loc["total_cost_usd", "delta"],
                             "delta_pct": total.loc["total_cost_usd", "delta_pct"],
                             "share_of_change": 1.0 if abs(r.delta_usd) >= 1e-9 else None,
                             "previous_calls": int(total.loc["ops", "previous"]),
                             "current_calls": int(total.loc["ops", "current"])}])
        parts += [df, tot]
    breakdown = pd.concat(parts, ignore_index=True)[
        ["section", "row_type", "key", "previous_usd", "current_usd", "delta_usd", "delta_pct", "share_of_change",
         "previous_calls", "current_calls"]]
    movers = r.movers.assign(rank=r.movers.groupby("dimension").cumcount() + 1)[
        ["dimension", "rank", "key", "previous_usd", "current_usd", "delta_usd", "delta_pct", "share_of_change"]]
    budgets = pd.DataFrame([{
        "budget": s.budget.name, "scope": s.budget.scope_text, "period": s.budget.period, "budget_usd": s.budget.usd,
        "checked_start": s.start, "checked_end": s.end, "spent_usd": s.spent_usd, "used": s.used,
        "days_checked": s.days_checked, "days_over": s.days_over, "worst_day": s.worst_day,
        "status": "over" if s.over else "within"} for s in r.budgets],
        columns=["budget", "scope", "period", "budget_usd", "checked_start", "checked_end", "spent_usd", "used",
                 "days_checked", "days_over", "worst_day", "status"])
    m = r.month
    month = pd.DataFrame([{
        "month": m.month_start, "through": m.through, "days_in_month": m.days_in_month, "cost_usd": m.cost_usd,
        "projected_usd": m.projected_usd, "low_usd": m.low_usd, "high_usd": m.high_usd, "interval": m.interval,
        "budget_usd": m.budget_usd, "over_budget": m.over_budget} for m in [m] if m is not None],
        columns=["month", "through", "days_in_month", "cost_usd", "projected_usd", "low_usd", "high_usd", "interval",
                 "budget_usd", "over_budget"])
    tables = {"summary": summary, "breakdown": breakdown, "movers": movers, "daily": r.daily, "budgets": budgets,
              "month": month}
    return {name: df.assign(**stamp)[[*stamp, *df.columns]] for name, df in tables.items()}


def csv_texts(r: WeeklyReport) -> dict[str, str]:
    """File name → CSV text (memlens.safetext.to_csv: formula-looking text cells neutralised, CRLF lines)."""
    return {f"{name}.csv": safe_csv(df) for name, df in csv_tables(r).items()}


def csv_zip(r: WeeklyReport) -> bytes:
    """The CSV tables in one zip (the Cost page's download; the CLI writes them into a folder)."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in csv_texts(r).items():
            z.writestr(f"{file_stem(r)}/{name}", text)
    return buf.getvalue()


def week_choices(first: date, last: date, now: datetime) -> list[date]:
    """Mondays of the weeks from the one holding `first` to the one holding `last` (not past `now`'s), newest
    first: what the Cost page offers to review."""
    first, last = (d.date() if isinstance(d, datetime) else d for d in (first, last))  # pandas Timestamps too
    newest = min(monday_of(last), monday_of(now.date()))
    out, m = [], newest
    while m >= monday_of(first):
        out.append(m)
        m -= WEEK
    return out


def file_stem(r: WeeklyReport) -> str:
    return f"mem0-cost-review-{r.week.iso}" + ("-partial" if r.week.partial else "")


