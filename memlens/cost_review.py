"""Weekly cost review for managers: the last 7 days vs the 7 before, month to date with a month-end projection
against the budget, and the one-page report (CSV, Markdown, HTML; every user-supplied text escaped).

Every figure is the metric layer's (sql/layer/cost.sql through memlens/layer.py) over the review's windows, with
the selection's service, user, agent, op and model filters; the month-end projection is the one of
memlens.optimize.forecast.project_month.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import duckdb
import pandas as pd

from memlens import figures, layer
from memlens.config import Config
from memlens.figures import format_value

COST_COLUMNS = ("embedding_cost_usd", "llm_cost_usd", "platform_cost_usd", "total_cost_usd")
WEEK_DAYS = 7


@dataclass(frozen=True)
class Window:
    first: date
    last: date  # inclusive
    ops: int
    searches: int
    embedding_cost_usd: float
    llm_cost_usd: float
    platform_cost_usd: float
    total_cost_usd: float
    cost_per_1k_oss: float | None  # figures cost_per_1k_oss / _platform over the window
    cost_per_1k_platform: float | None

    @property
    def label(self) -> str:
        return f"{self.first:%b %d} – {self.last:%b %d, %Y}"


@dataclass(frozen=True)
class MonthToDate:
    month_start: date
    days_elapsed: int
    days_in_month: int
    cost_usd: float
    projected_usd: float
    budget_usd: float

    @property
    def over_budget(self) -> bool:
        return self.projected_usd > self.budget_usd

    @property
    def budget_used(self) -> float | None:
        return self.cost_usd / self.budget_usd if self.budget_usd else None


@dataclass(frozen=True)
class WeeklyReview:
    as_of: date
    this_week: Window
    last_week: Window
    # op, last_week_usd, this_week_usd, delta_usd, delta_pct (None from $0), change (text), last/this_week_ops
    by_op: pd.DataFrame
    month: MonthToDate
    days_over_daily_budget: int
    daily_budget_usd: float

    @property
    def delta_usd(self) -> float:
        return self.this_week.total_cost_usd - self.last_week.total_cost_usd

    @property
    def delta_pct(self) -> float | None:
        return pct_change(self.last_week.total_cost_usd, self.this_week.total_cost_usd)


def pct_change(before: float, after: float) -> float | None:
    return (after - before) / before if before else None


def change_text(before: float | None, after: float | None) -> str:
    """The "change" cell of every view of the review (page, CSV, Markdown, HTML): "+12.5 %", or, where a
    percentage is undefined, "no change" ($0 both weeks), "new" (from $0) and "n/a" (a side without data)."""
    if before is None or after is None:
        return "n/a"
    if not before:
        return "no change" if not after else "new"
    return f"{(after - before) / before * 100:+.1f} %"


def days_filter(filters: layer.Filters, first: date, last: date) -> layer.Filters:
    """The selection's filters over whole UTC days first..last (inclusive)."""
    return filters.replace(start=datetime.combine(first, time.min),
                           end=datetime.combine(last + timedelta(days=1), time.min))


def _window(con: duckdb.DuckDBPyConnection, filters: layer.Filters, first: date, last: date,
            speed: layer.Speed) -> Window:
    sel = days_filter(filters, first, last)
    t = layer.one(layer.query(con, "cost", sel, speed=speed))
    per_1k = figures.values(con, ("cost_per_1k_oss", "cost_per_1k_platform"), sel, speed)
    return Window(first, last, int(t["ops"] or 0), int(t["searches"] or 0),
                  *(float(t[c] or 0.0) for c in COST_COLUMNS), per_1k["cost_per_1k_oss"],
                  per_1k["cost_per_1k_platform"])


def review(con: duckdb.DuckDBPyConnection, filters: layer.Filters, as_of: date, cfg: Config,
           speed: layer.Speed = layer.EXACT) -> WeeklyReview:
    """The 7 days ending `as_of` (inclusive) vs the 7 days before, and the month of `as_of` up to that day.
    `filters`: the selection's dimensions (its time range is replaced by the review's windows)."""
    from memlens.optimize.forecast import project_month

    this_first = as_of - timedelta(days=WEEK_DAYS - 1)
    last_last = this_first - timedelta(days=1)
    last_first = last_last - timedelta(days=WEEK_DAYS - 1)
    this_w, last_w = _window(con, filters, this_first, as_of, speed), _window(con, filters, last_first, last_last,
                                                                                speed)

    def per_op(first: date, last: date) -> pd.DataFrame:
        return layer.query(con, "cost", days_filter(filters, first, last), ("op",), speed=speed).set_index("op")[
            ["total_cost_usd", "ops"]].rename(columns={"total_cost_usd": "usd"})

    ops = per_op(last_first, last_last).merge(per_op(this_first, as_of), how="outer", left_index=True,
                                              right_index=True, suffixes=("_last", "_this")).fillna(0)
    by_op = pd.DataFrame({
        "op": ops.index,
        "last_week_usd": ops["usd_last"].to_numpy(),
        "this_week_usd": ops["usd_this"].to_numpy(),
    })
    by_op["delta_usd"] = by_op["this_week_usd"] - by_op["last_week_usd"]
    by_op["delta_pct"] = [pct_change(b, a) for b, a in zip(by_op["last_week_usd"], by_op["this_week_usd"],
                                                              strict=True)]
    by_op["change"] = [change_text(b, a) for b, a in zip(by_op["last_week_usd"], by_op["this_week_usd"],
                                                         strict=True)]
    by_op["last_week_ops"] = ops["ops_last"].astype(int).to_numpy()
    by_op["this_week_ops"] = ops["ops_this"].astype(int).to_numpy()
    by_op = by_op.sort_values(["this_week_usd", "op"], ascending=[False, True]).reset_index(drop=True)

    month_start = as_of.replace(day=1)
    daily = layer.query(con, "cost", days_filter(filters, month_start, as_of), ("bucket",), "day", speed)
    daily = daily.rename(columns={"bucket": "day"})[["day", "total_cost_usd"]]
    f = project_month(daily, cfg, as_of)
    month = MonthToDate(month_start, as_of.day, f.days_in_month or pd.Timestamp(as_of).days_in_month, f.spent_usd,
                        f.projected_usd, cfg.thresholds.monthly_budget_usd)

    week = layer.query(con, "cost", days_filter(filters, this_first, as_of), ("bucket",), "day", speed)
    over = int((week["total_cost_usd"] > cfg.thresholds.daily_budget_usd).sum())
    return WeeklyReview(as_of, this_w, last_w, by_op, month, over, cfg.thresholds.daily_budget_usd)


# ---- report rendering -------------------------------------------------------------------------------------------

def _usd(v: float | None) -> str:
    return format_value(v, "usd")


def _total_change(r: WeeklyReview) -> str:
    return change_text(r.last_week.total_cost_usd, r.this_week.total_cost_usd)


def to_csv(r: WeeklyReview) -> str:
    """The per-op table plus a total row, machine-readable (plain numbers, no currency signs; delta_pct is blank
    where it is undefined, and `change` holds the same words as the reports)."""
    table = r.by_op.copy()
    total = pd.DataFrame([{
        "op": "TOTAL", "last_week_usd": r.last_week.total_cost_usd, "this_week_usd": r.this_week.total_cost_usd,
        "delta_usd": r.delta_usd, "delta_pct": r.delta_pct, "change": _total_change(r),
        "last_week_ops": r.last_week.ops, "this_week_ops": r.this_week.ops,
    }])
    table = pd.concat([table, total], ignore_index=True)
    buf = io.StringIO()
    table.insert(0, "this_week", f"{r.this_week.first}..{r.this_week.last}")
    table.insert(1, "last_week", f"{r.last_week.first}..{r.last_week.last}")
    table.to_csv(buf, index=False, float_format="%.6f")
    return buf.getvalue()


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def md_escape(text: str) -> str:
    """Backslash-escape Markdown punctuation (and so HTML brackets) in user-supplied text."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def _summary_rows(r: WeeklyReview) -> list[tuple[str, str, str, str]]:
    tw, lw = r.this_week, r.last_week
    return [
        ("Total cost", _usd(lw.total_cost_usd), _usd(tw.total_cost_usd),
         change_text(lw.total_cost_usd, tw.total_cost_usd)),
        ("Embedding cost", _usd(lw.embedding_cost_usd), _usd(tw.embedding_cost_usd),
         change_text(lw.embedding_cost_usd, tw.embedding_cost_usd)),
        ("LLM cost", _usd(lw.llm_cost_usd), _usd(tw.llm_cost_usd), change_text(lw.llm_cost_usd, tw.llm_cost_usd)),
        ("Platform cost", _usd(lw.platform_cost_usd), _usd(tw.platform_cost_usd),
         change_text(lw.platform_cost_usd, tw.platform_cost_usd)),
        ("Operations", f"{lw.ops:,}", f"{tw.ops:,}", change_text(lw.ops, tw.ops)),
        (figures.FIGURES["cost_per_1k_oss"].label, _usd(lw.cost_per_1k_oss), _usd(tw.cost_per_1k_oss),
         change_text(lw.cost_per_1k_oss, tw.cost_per_1k_oss)),
        (figures.FIGURES["cost_per_1k_platform"].label, _usd(lw.cost_per_1k_platform),
         _usd(tw.cost_per_1k_platform), change_text(lw.cost_per_1k_platform, tw.cost_per_1k_platform)),
    ]


def _month_line(r: WeeklyReview) -> str:
    m = r.month
    verdict = "over" if m.over_budget else "within"
    return (f"Month to date ({m.month_start:%B %Y}, {m.days_elapsed} of {m.days_in_month} days): "
            f"{_usd(m.cost_usd)}; month-end projection {_usd(m.projected_usd)}, {verdict} the "
            f"{_usd(m.budget_usd)} budget. Days over the {_usd(r.daily_budget_usd)} daily budget this week: "
            f"{r.days_over_daily_budget}.")


def to_markdown(r: WeeklyReview, scope: str = "all data", demo: bool = False) -> str:
    """One page: headline, summary table, per-op table, month to date. `scope` is user text: escaped."""
    lines = [f"# Mem0 weekly cost review — week ending {r.as_of:%Y-%m-%d}", ""]
    if demo:
        lines += ["**Demo data**: these figures come from the synthetic `memlens demo` workload.", ""]
    lines += [f"Scope: {md_escape(scope)}. This week = {r.this_week.label}; last week = {r.last_week.label}.", "",
              f"**Total: {_usd(r.this_week.total_cost_usd)}** ({_total_change(r)} vs "
              f"{_usd(r.last_week.total_cost_usd)} last week).", "",
              "| | last week | this week | change |", "|---|---:|---:|---:|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _summary_rows(r)]
    lines += ["", "## By operation", "", "| op | last week | this week | change | calls this week |",
              "|---|---:|---:|---:|---:|"]
    for row in r.by_op.itertuples():
        lines.append(f"| {md_escape(row.op)} | {_usd(row.last_week_usd)} | {_usd(row.this_week_usd)} | "
                     f"{row.change} | {row.this_week_ops:,} |")
    lines += ["", "## Month to date", "", _month_line(r), ""]
    return "\n".join(lines)


_CSS = ("body{font-family:Helvetica,Arial,sans-serif;max-width:760px;margin:24px auto;color:#222}"
        "table{border-collapse:collapse;width:100%;margin:8px 0 16px}"
        "th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:right}"
        "th:first-child,td:first-child{text-align:left}.demo{background:#fff3cd;padding:6px 10px}")


def to_html(r: WeeklyReview, scope: str = "all data", demo: bool = False) -> str:
    """Standalone one-page HTML; every text cell goes through html.escape."""
    e = html.escape

    def table(head: list[str], rows: list[list[str]]) -> str:
        th = "".join(f"<th>{e(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"

    title = f"Mem0 weekly cost review — week ending {r.as_of:%Y-%m-%d}"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>"]
    if demo:
        parts.append("<p class='demo'><b>Demo data</b>: synthetic figures from the memlens demo workload.</p>")
    parts.append(f"<p>Scope: {e(scope)}. This week = {e(r.this_week.label)}; last week = {e(r.last_week.label)}.</p>")
    parts.append(f"<p><b>Total: {e(_usd(r.this_week.total_cost_usd))}</b> ({e(_total_change(r))} vs "
                 f"{e(_usd(r.last_week.total_cost_usd))} last week).</p>")
    parts.append(table(["", "last week", "this week", "change"], [list(x) for x in _summary_rows(r)]))
    parts.append("<h2>By operation</h2>")
    parts.append(table(["op", "last week", "this week", "change", "calls this week"],
                       [[str(x.op), _usd(x.last_week_usd), _usd(x.this_week_usd), x.change,
                         f"{x.this_week_ops:,}"] for x in r.by_op.itertuples()]))
    parts.append(f"<h2>Month to date</h2><p>{e(_month_line(r))}</p></body></html>")
    return "".join(parts)
