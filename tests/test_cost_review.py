"""Known answers for the weekly cost review on a hand-built warehouse, complete and partial weeks, to the cent.

Prices (defaults.yaml): gpt-4o $2.50 / 1M input tokens (400k tokens = $1.00), gpt-4o-mini $0.15 / 1M input,
text-embedding-3-small $0.02 / 1M. The reviewed week is 2026-W47 (Mon Nov 16 – Sun Nov 22), the previous one W46.

    W46: Tue Nov 10 alice 2 gpt-4o adds ($2.00); Wed Nov 11 bob 5 searches ($0.10); Thu Nov 12 carol 1 mini add ($0.15)
    W47: Mon Nov 16 alice 3 adds ($3.00); Tue Nov 17 alice 6 adds ($6.00); Wed Nov 18 12:00 bob 10 searches ($0.20);
         Thu Nov 19 dave 2 mini adds ($0.30)
    W48 (partial, now Wed Nov 25 15:00): Mon Nov 23 alice 1 add ($1.00); Wed Nov 25 09:30 bob 1 search ($0.02)

alice and bob use chat-api / agent assistant; carol and dave support / agent bot.
"""

from __future__ import annotations

import io
from datetime import date, datetime

import pandas as pd
import pytest
from cost_review_support import BUDGETS, GPT4O, MINI, NOW, SMALL, insert_review_events
from view_support import event, insert_events

from memlens import budgets as bg
from memlens import cost_review as cr
from memlens import layer
from memlens.config import load_config
from memlens.warehouse import connect


@pytest.fixture(scope="module")
def wh():
    cfg = load_config(overrides={"budgets": BUDGETS})
    con = connect(":memory:", cfg)
    insert_review_events(con)
    yield con, cfg
    con.close()


def cents(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def _report(wh, week: str | None = None, partial: bool = False, **dims) -> cr.WeeklyReport:
    con, cfg = wh
    w = cr.resolve_week(week, partial, NOW, layer.one(layer.query(con, "span"))["last_ts"])
    return cr.weekly(con, w, layer.Filters(**dims), cfg)


def test_week_resolution():
    assert cr.parse_week("2026-W47") == date(2026, 11, 16)
    w = cr.resolve_week(None, False, NOW)  # the last complete ISO week
    assert (w.iso, w.start, w.end, w.partial) == ("2026-W47", datetime(2026, 11, 16), datetime(2026, 11, 23), False)
    p = cr.resolve_week(None, True, NOW, data_end=datetime(2026, 11, 25, 9, 30))
    assert (p.iso, p.end, p.previous_end) == ("2026-W48", datetime(2026, 11, 25, 9, 31), datetime(2026, 11, 18, 9, 31))
    assert cr.resolve_week(None, True, NOW).end == NOW  # no data this week: up to now
    with pytest.raises(cr.ReviewError, match="not over until 2026-11-30 00:00 UTC"):
        cr.resolve_week("2026-W48", False, NOW)
    with pytest.raises(cr.ReviewError, match="complete; --partial is for the week in progress"):
        cr.resolve_week("2026-W47", True, NOW)
    with pytest.raises(cr.ReviewError, match="has not started yet"):
        cr.resolve_week("2026-W50", True, NOW)
    for bad in ("2026-47", "2026-W54", "W47"):
        with pytest.raises(cr.ReviewError, match="week"):
            cr.parse_week(bad)


def test_complete_week_totals_deltas_and_movers(wh):
    r = _report(wh, "2026-W47")
    s = r.summary.set_index("figure")
    assert (cents(r.previous_total), cents(r.total), cents(r.delta_usd)) == (2.25, 9.50, 7.25)
    assert r.delta_pct == pytest.approx(7.25 / 2.25)
    assert (cents(s.loc["llm_cost_usd", "current"]), cents(s.loc["embedding_cost_usd", "current"])) == (9.30, 0.20)
    assert (s.loc["ops", "previous"], s.loc["ops", "current"], s.loc["searches", "current"]) == (8, 21, 10)
    assert s.loc["cost_per_1k_oss", "current"] == pytest.approx(9.50 / 10 * 1000)  # $950 per 1,000 searches
    assert s.loc["cost_per_1k_oss", "previous"] == pytest.approx(2.25 / 5 * 1000)
    assert pd.isna(s.loc["cost_per_1k_platform", "current"])  # no Platform calls: no figure, not $0
    users = r.breakdowns["user"].set_index("key")
    assert list(users.index) == ["alice", "dave", "bob", "carol"]  # largest this week first
    assert {k: (cents(v.previous_usd), cents(v.current_usd), cents(v.delta_usd)) for k, v in users.iterrows()} == {
        "alice": (2.00, 9.00, 7.00), "dave": (0.00, 0.30, 0.30), "bob": (0.10, 0.20, 0.10), "carol": (0.15, 0.0, -0.15)}
    assert users.loc["alice", "share_of_change"] == pytest.approx(7.00 / 7.25)
    assert users.loc["carol", "delta_pct"] == pytest.approx(-1.0) and pd.isna(users.loc["dave", "delta_pct"])
    assert cr.change_text(users.loc["dave", "delta_pct"], 0.0, 0.30) == "new"
    assert (users.loc["alice", "previous_calls"], users.loc["alice", "current_calls"]) == (2, 9)
    models = r.breakdowns["model"].set_index("key")
    assert {k: cents(v) for k, v in models["current_usd"].items()} == {
        "gpt-4o (LLM)": 9.00, "gpt-4o-mini (LLM)": 0.30, "text-embedding-3-small (embedding)": 0.20}
    assert cents(r.breakdowns["op"].set_index("key").loc["add", "delta_usd"]) == 7.15
    assert {k: cents(v) for k, v in r.breakdowns["service"].set_index("key")["current_usd"].items()} == {
        "chat-api": 9.20, "support": 0.30}
    assert {k: cents(v) for k, v in r.breakdowns["agent"].set_index("key")["previous_usd"].items()} == {
        "assistant": 2.10, "bot": 0.15}
    movers = r.movers[r.movers["dimension"] == "user"]
    assert list(movers["key"]) == ["alice", "dave", "carol"]  # by |change|, three per dimension
    text = cr.headline(r)
    assert text.startswith("Total this week: $9.50, +$7.25 (+322.2 %) vs $2.25 last week.")
    assert "user alice +$7.00 (97 % of the change)" in text and "model gpt-4o (LLM) +$7.00" in text
    assert "operation add +$7.15 (99 % of the change)" in text
    assert list(r.daily["current_usd"].round(2)) == [3.0, 6.0, 0.2, 0.3, 0.0, 0.0, 0.0]
    assert list(r.daily["previous_usd"].round(2)) == [0.0, 2.0, 0.1, 0.15, 0.0, 0.0, 0.0]


def test_complete_week_budgets_and_month(wh):
    r = _report(wh, "2026-W47")
    by = {s.budget.name: s for s in r.budgets}
    assert list(by) == ["team-daily", "team-30d"]  # the team's view: the team's budgets only
    daily = by["team-daily"]
    assert (daily.days_checked, daily.days_over, daily.worst_day, cents(daily.spent_usd)) == (
        7, 1, date(2026, 11, 17), 6.00)
    assert daily.used == pytest.approx(6.00 / 5.00) and daily.verdict == "over on 1 of 7 days"
    rolling = by["team-30d"]  # Oct 24 .. Nov 22: every call before W48
    assert (rolling.start, rolling.end, cents(rolling.spent_usd), rolling.over) == (
        datetime(2026, 10, 24), datetime(2026, 11, 23), 11.75, False)
    assert rolling.used == pytest.approx(11.75 / 20)
    m = r.month  # Nov 1..22; data from Nov 10: 13 observed days, 8 left -> 11.75 + 8 x 11.75 / 13
    assert (m.through, cents(m.cost_usd), m.budget_usd, m.over_budget) == (date(2026, 11, 22), 11.75, 150.0, False)
    assert m.projected_usd == pytest.approx(11.75 + 8 * 11.75 / 13)
    assert m.low_usd <= m.projected_usd <= m.high_usd
    assert "within the $150.00 monthly budget" in cr.month_line(r)


def test_budgets_at_the_views_own_scope(wh):
    alice = _report(wh, "2026-W47", user="alice")
    assert [s.budget.name for s in alice.budgets] == ["alice-week"]  # never the team's daily budget
    (s,) = alice.budgets
    assert (cents(s.spent_usd), s.over, s.used) == (9.00, True, pytest.approx(9.00 / 8.00))
    assert alice.month.budget_usd is None and "no monthly budget at this scope" in cr.month_line(alice)
    assert cents(alice.total) == 9.00 and cents(alice.previous_total) == 2.00
    support = _report(wh, "2026-W47", service="support")
    (d,) = support.budgets
    assert (d.budget.name, d.days_over, d.worst_day, cents(d.spent_usd)) == (
        "support-daily", 1, date(2026, 11, 19), 0.30)
    bob = _report(wh, "2026-W47", user="bob")
    assert bob.budgets == [] and "No budget is set for user=bob" in bob.budget_note
    by_op = _report(wh, "2026-W47", op="add")
    assert by_op.budgets == [] and "also filtered by operation" in by_op.budget_note


def test_partial_week_like_for_like(wh):
    r = _report(wh, partial=True)  # W48 up to the newest call's minute: Mon Nov 23 00:00 - Wed Nov 25 09:31
    assert (r.week.iso, r.week.partial, r.week.end) == ("2026-W48", True, datetime(2026, 11, 25, 9, 31))
    # the same span of W47: Nov 16 00:00 - Nov 18 09:31 (alice's $9.00; bob's Nov 18 12:00 searches are after it)
    assert (cents(r.previous_total), cents(r.total), cents(r.delta_usd)) == (9.00, 1.02, -7.98)
    assert r.delta_pct == pytest.approx(-7.98 / 9.00)
    assert list(r.daily["current_day"]) == [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]
    (daily, rolling) = r.budgets
    assert (daily.days_checked, daily.days_over, daily.partial, cents(daily.spent_usd)) == (3, 0, True, 1.00)
    assert (rolling.end, cents(rolling.spent_usd)) == (datetime(2026, 11, 25, 9, 31), 12.77)
    m = r.month  # whole days only: through Tue Nov 24, 15 observed days, 6 left
    assert (m.through, cents(m.cost_usd)) == (date(2026, 11, 24), 12.75)
    assert m.projected_usd == pytest.approx(12.75 + 6 * 12.75 / 15)
    assert cr.headline(r).startswith("Total this week so far: $1.02, -$7.98 (-88.7 %) vs $9.00 same span last week.")


def test_every_format_says_partial(wh):
    r = _report(wh, partial=True)
    md, page = cr.to_markdown(r), cr.to_html(r)
    assert "PARTIAL WEEK" in md and "PARTIAL WEEK" in page and "same span last week" in md
    assert page.count("(partial week") >= 3  # every chart's title
    for name, df in cr.csv_tables(r).items():
        assert df["partial"].all() and (df["week"] == "2026-W48").all(), name


def test_csv_tables_read_back_to_the_same_numbers(wh):
    r = _report(wh, "2026-W47")
    texts = cr.csv_texts(r)
    assert sorted(texts) == ["breakdown.csv", "budgets.csv", "daily.csv", "month.csv", "movers.csv", "summary.csv"]
    back = {name: pd.read_csv(io.StringIO(text)) for name, text in texts.items()}
    b = back["breakdown.csv"]
    assert set(b["section"]) == set(cr.DIMENSIONS) and set(b["row_type"]) == {"item", "total"}
    for dim in cr.DIMENSIONS:  # the items of each section add up to its total row
        part = b[b["section"] == dim]
        items, total = part[part["row_type"] == "item"], part[part["row_type"] == "total"].iloc[0]
        assert items["current_usd"].sum() == pytest.approx(total["current_usd"]) == pytest.approx(9.50)
        assert items["previous_usd"].sum() == pytest.approx(total["previous_usd"]) == pytest.approx(2.25)
        assert b["current_usd"].dtype == float and b["current_calls"].dtype == "int64"
    alice = b[(b["section"] == "user") & (b["key"] == "alice")].iloc[0]
    assert (alice["delta_usd"], alice["delta_pct"]) == (pytest.approx(7.0), pytest.approx(3.5))
    s = back["summary.csv"].set_index("figure")
    assert s.loc["total_cost_usd", "current"] == pytest.approx(r.total) and s.loc["ops", "current"] == 21
    bud = back["budgets.csv"].set_index("budget")
    assert bud.loc["team-daily", "days_over"] == 1 and bud.loc["team-daily", "worst_day"] == "2026-11-17"
    assert bud.loc["team-30d", "spent_usd"] == pytest.approx(11.75) and bud.loc["team-30d", "status"] == "within"
    mo = back["month.csv"].iloc[0]
    assert mo["projected_usd"] == pytest.approx(r.month.projected_usd) and not mo["over_budget"]
    assert list(back["daily.csv"]["current_usd"]) == pytest.approx([3.0, 6.0, 0.2, 0.3, 0.0, 0.0, 0.0])


def test_reports_are_injection_safe(wh):
    con, cfg = wh
    insert_events(con, [event(datetime(2026, 11, 20, 9), user_id="=HYPERLINK(\"http://x\")", service="<script>x",
                              op="add", infer=True, llm_model=MINI, llm_input_tokens=10, llm_output_tokens=0)])
    try:
        r = cr.weekly(con, cr.resolve_week("2026-W47", False, NOW), layer.ALL, cfg)
        page, md = cr.to_html(r), cr.to_markdown(r)
        assert "<script>" not in page and "&lt;script&gt;x" in page
        assert "<script>" not in md and "\\<script\\>x" in md
        csv_text = cr.csv_texts(r)["breakdown.csv"]
        assert "'=HYPERLINK" in csv_text and ",=HYPERLINK" not in csv_text
    finally:
        con.execute("DELETE FROM raw_op_events WHERE service = '<script>x'")


def test_budget_config_is_validated():
    from memlens.config import ConfigError

    with pytest.raises(ConfigError, match=r"budgets\.0\.usd"):
        load_config(overrides={"budgets": [{"name": "x", "period": "1d", "usd": -1}]})
    with pytest.raises(ConfigError, match=r"budgets\.0\.usd"):
        load_config(overrides={"budgets": [{"name": "x", "period": "1d", "usd": float("inf")}]})
    with pytest.raises(ConfigError, match=r"budgets\.0\.period"):
        load_config(overrides={"budgets": [{"name": "x", "period": "2w", "usd": 1}]})
    with pytest.raises(ConfigError, match="used twice"):
        load_config(overrides={"budgets": [{"name": "x", "period": "1d", "usd": 1}] * 2})
    with pytest.raises(ConfigError, match=r"budgets\.0\.scope\.team"):
        load_config(overrides={"budgets": [{"name": "x", "period": "1d", "usd": 1, "scope": {"team": "a"}}]})
    cfg = load_config(overrides={"budgets": BUDGETS})
    assert [(b.name, b.scope, b.period) for b in bg.all_budgets(cfg)] == [
        ("team-daily", (), "1d"), ("alice-week", (("user", "alice"),), "7d"),
        ("support-daily", (("service", "support"),), "1d"), ("team-30d", (), "30d")]


def test_daily_chart_marks_the_scope_budget(wh):
    r = _report(wh, "2026-W47")
    svg = cr.chart_daily(r)
    assert svg.startswith("<svg") and "daily budget $5.00" in svg and "Mon 16" in svg
    assert "user: alice" in cr.chart_movers(r)


def test_change_words_where_a_percentage_is_undefined():
    """W47 vs W46 of a small warehouse: add $1 → $1.50 (+50 %), delete $0 both weeks, search $0 → $0.20 (new)."""
    con = connect(":memory:")
    gpt = dict(infer=True, llm_model=GPT4O, llm_output_tokens=0)
    insert_events(con, [
        event(datetime(2026, 11, 10, 9), "add", llm_input_tokens=400_000, **gpt),
        event(datetime(2026, 11, 20, 9), "add", llm_input_tokens=600_000, **gpt),
        *[event(datetime(2026, 11, 10, 9), "delete") for _ in range(3)],
        *[event(datetime(2026, 11, 20, 9), "delete") for _ in range(4)],
        *[event(datetime(2026, 11, 20, 9), "search", embedding_model=SMALL, embedding_tokens=2_000_000)
          for _ in range(5)],
    ])
    r = cr.weekly(con, cr.resolve_week("2026-W47", False, NOW), layer.ALL, load_config())
    ops = r.breakdowns["op"].set_index("key")
    assert [cr.change_text(x.delta_pct, x.previous_usd, x.current_usd) for x in ops.itertuples()] == [
        "+50.0 %", "new", "no change"]  # add, search, delete: by this week's cost
    assert cr.change_text(None, None, 1.0) == "n/a"
    # what the Cost page's tables show in "change %": the same words, never an empty "None" cell
    assert list(cr.change_in_words(r.breakdowns["op"])["delta_pct"]) == ["+50.0 %", "new", "no change"]
    md = cr.to_markdown(r)
    # (Markdown punctuation is escaped, `$` too: GitHub would read "$0.20 ... $0.30" as math)
    assert r"| delete | \$0\.0000 | \$0\.0000 | ±\$0\.0000 | no change |  | 4 |" in md
    assert r"| search | \$0\.0000 | \$0\.2000 | \+\$0\.2000 | new | 29 % of the change | 5 |" in md
    assert "None" not in md and "nan" not in md
    assert r"| Cost per 1,000 queries \(OSS\) | n/a | \$340\.00 | n/a | n/a |" in md  # no searches last week
    page = cr.to_html(r)
    assert "<td class=t>delete</td><td>$0.0000</td><td>$0.0000</td><td>±$0.0000</td><td>no change</td>" in page
    b = pd.read_csv(io.StringIO(cr.csv_texts(r)["breakdown.csv"]))
    delete = b[(b["section"] == "op") & (b["key"] == "delete")].iloc[0]
    assert pd.isna(delete["delta_pct"]) and delete["delta_usd"] == 0 and delete["current_calls"] == 4
    con.close()


def test_a_budget_far_above_the_bars_is_written_not_drawn():
    from memlens import svgchart

    far = svgchart.grouped_bars("t", ["a"], [("s", [1.0], "#000")], str, ("daily budget", 5.0))
    assert "daily budget 5.0 (above the scale)" in far and "stroke-dasharray" not in far
    near = svgchart.grouped_bars("t", ["a"], [("s", [2.0], "#000")], str, ("daily budget", 5.0))
    assert "stroke-dasharray" in near and "above the scale" not in near
