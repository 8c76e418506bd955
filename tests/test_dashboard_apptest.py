"""Every dashboard page under streamlit.testing.v1.AppTest against a known warehouse: no exception, the numbers
shown equal the views' values (and the hand-computed ones), filters change them, empty and demo states."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path

import pytest
import streamlit as st
from dashboard_fixtures import INGESTED, event, make_warehouse, select_days
from streamlit.testing.v1 import AppTest

from memlens import figures, layer, rollups
from memlens.warehouse import connect

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGES = ["overview", "latency", "cache", "cost", "growth", "diagnosis", "alerts", "sources"]


@pytest.fixture(autouse=True)
def no_auto_demo(tmp_path, monkeypatch):
    """Empty warehouses stay empty in these tests (the demo auto-load is covered by the browser test)."""
    cfg = tmp_path / "memlens.yaml"
    cfg.write_text("dashboard:\n  demo_when_empty: false\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg))
    monkeypatch.setenv("MEMLENS_HOME", str(tmp_path / "home"))  # the Alerts page's kept draft lives there
    st.cache_data.clear()
    st.cache_resource.clear()


def _history(path: Path) -> None:
    """3 memories added Nov 10 (100 bytes each), one deleted Nov 20: 2 memories / 200 bytes held."""
    con = connect(path)
    rows = [("h.db", f"h{i}", f"m{i}", "ADD", None, 100, datetime(2026, 11, 10), None, datetime(2026, 11, 10))
            for i in range(3)]
    rows.append(("h.db", "h9", "m0", "DELETE", 100, None, datetime(2026, 11, 20), None, datetime(2026, 11, 20)))
    con.executemany("INSERT INTO raw_memory_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, false, NULL, NULL, ?)",
                    [(*r, INGESTED) for r in rows])
    con.close()


@pytest.fixture
def warehouse(request, tmp_path, monkeypatch) -> Path | str:
    """The known warehouse: a DuckDB file, or (parametrised "clickhouse", see BOTH_ENGINES) the same rows in a
    ClickHouse database of this process's chdb engine, named by its URL."""
    if getattr(request, "param", "duckdb") == "clickhouse":
        path: Path | str = f"chdb://:memory:?database=dash_{uuid.uuid4().hex[:8]}"
    else:
        path = tmp_path / "known.duckdb"
    make_warehouse(path)
    _history(path)
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(path))
    yield path
    if isinstance(path, str):
        con = connect(path)
        con.command(f"DROP DATABASE {path.rsplit('=', 1)[1]}")
        con.close()


# The pages on both engines: the same known rows in a ClickHouse warehouse (chdb) show the same numbers.
BOTH_ENGINES = pytest.mark.parametrize("warehouse", ["duckdb", "clickhouse"], indirect=True)


def _view(path: Path, sql: str):
    con = connect(path)
    try:
        return con.execute(sql).fetchone()
    finally:
        con.close()


def _figures(path: Path, *keys: str, filters: layer.Filters = layer.ALL) -> dict:
    """The metric layer's values of these figures (what every page must show)."""
    con = connect(path)
    try:
        return figures.values(con, keys, filters)
    finally:
        con.close()


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    return at


def _goto(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


@BOTH_ENGINES
def test_every_page_renders_without_exception(warehouse):
    at = _app()
    for page in PAGES:
        _goto(at, page)
        assert not at.error, f"{page}: {[e.value for e in at.error]}"
        assert at.title[0].value  # each page has its title


HISTOGRAM_LABEL = "come from the daily latency histograms, within 0.93 % of the exact values"


def test_histogram_percentiles_are_labelled_on_the_page(warehouse, tmp_path):
    """Above dashboard.exact_percentile_max_events (0 here) with current rollups, the pages read percentiles from
    the histograms and say so with the bound; at the default limit the known warehouse's percentiles are exact."""
    at = _app()
    assert not any(HISTOGRAM_LABEL in c.value for c in at.caption)
    (tmp_path / "memlens.yaml").write_text("dashboard:\n  demo_when_empty: false\n  exact_percentile_max_events: 0\n",
                                           encoding="utf-8")
    st.cache_data.clear()
    st.cache_resource.clear()
    con = connect(warehouse)
    rollups.refresh(con)
    con.close()
    at = _app()
    assert any(HISTOGRAM_LABEL in c.value for c in at.caption), [c.value for c in at.caption]


@BOTH_ENGINES
def test_overview_cards_equal_the_layer(warehouse):
    f = _figures(warehouse, "search_p99_ms", "hit_rate", "miss_penalty", "cost_per_1k_oss")
    p99, hit, penalty, per_1k = f["search_p99_ms"], f["hit_rate"], f["miss_penalty"], f["cost_per_1k_oss"]
    # The misses (bob's 20 searches of the batch service) have no uncached search of their service to be compared
    # with, so there is no miss penalty, and the card says why. (Against hits it read 300 / 40 = 7.50x.)
    assert (p99, round(hit, 4), penalty) == (300.0, 0.3333, None)
    at = _app()
    md = _markdown(at)
    assert "**Search latency P99**" in md and "### 300 ms" in md
    assert f"### {hit * 100:.1f} %" in md and "**Cache miss penalty (vs uncached)**" in md
    assert any(c.value.startswith("No baseline: needs successful cache misses") for c in at.caption)
    assert f"### ${per_1k:,.4f}" in md                      # $0.1033 per 1,000 searches
    # top problems: red first, furthest from target first — slow share 50 % vs alert 10 % (5×) leads
    assert "**1. Slow operations (> 200 ms): 50.0 %**" in md
    assert "Storage growth per month" in md


@BOTH_ENGINES
def test_latency_numbers_and_filters(warehouse):
    f = _figures(warehouse, "ops", "avg_ms", "p99_ms")
    ops, avg, p99 = f["ops"], f["avg_ms"], f["p99_ms"]
    at = _goto(_app(), "latency")
    m = _metrics(at)
    assert m["Operations"] == f"{ops:,}" == "40"
    assert m["Average latency (all operations)"] == f"{avg:,.0f} ms" == "185 ms"
    assert m["P99 latency (all operations)"] == f"{p99:,.0f} ms"
    assert m["Slow operations (> 200 ms)"] == "50.0 %"
    slow = _table(at, "limit_passed")                          # slowest operations of the window
    assert len(slow) == 20 and set(slow["latency_ms"]) == {300.0}
    # user alice: 10 searches at 40 ms + 10 adds at 100 ms
    at.sidebar.selectbox(key="f_user").set_value("alice").run()
    m = _metrics(at)
    assert (m["Operations"], m["Average latency (all operations)"], m["P99 latency (all operations)"]) == (
        "20", "70 ms", "100 ms")
    # + op add only
    at.sidebar.selectbox(key="f_op").set_value("add").run()
    assert _metrics(at)["Operations"] == "10"
    # time range alone: the second week holds 30 events
    at.sidebar.selectbox(key="f_user").set_value("All").run()
    at.sidebar.selectbox(key="f_op").set_value("All").run()
    select_days(at, date(2026, 11, 16), date(2026, 11, 22))
    assert _metrics(at)["Operations"] == "30"


def test_latency_phase_breakdown(warehouse):
    """Where the time went: the timed searches (bob's 20 misses of 300 ms: embedding 210, vector search 60, rest 30)
    lead; the adds (LLM 80, embedding 10, vector write 5, history 3 of 100 ms) one click away."""
    at = _goto(_app(), "latency")
    assert at.segmented_control(key="u_phase_op").value == "search"
    table = _table(at, "share").set_index("phase")
    assert list(table.index) == ["embedding", "vector search", "Mem0's own code"]
    assert list(table["share"]) == pytest.approx([0.7, 0.2, 0.1])
    assert list(table["ms_per_call"]) == pytest.approx([210.0, 60.0, 30.0])
    assert list(table["ran_ops"]) == [20, 20, 20]
    assert list(table["p95_ms"]) == pytest.approx([210.0, 60.0, 30.0])
    assert "Over the 20 search calls with phase timings" in _markdown(at) + "\n".join(c.value for c in at.caption)
    at.segmented_control(key="u_phase_op").set_value("add").run()
    table = _table(at, "share").set_index("phase")
    assert dict(table["share"]) == pytest.approx({"LLM": 0.8, "embedding": 0.1, "vector-store writes": 0.05,
                                                  "history DB": 0.03, "Mem0's own code": 0.02})


def _table(at: AppTest, column: str):
    """The dataframe on the page that has `column`."""
    (df,) = [d.value for d in at.dataframe if column in d.value.columns]
    return df


def test_filters_that_match_nothing_say_so(warehouse):
    at = _app()
    select_days(at, date(2026, 11, 9), date(2026, 11, 15))
    at.sidebar.selectbox(key="f_op").set_value("add").run()   # adds all happen in the second week
    assert not at.exception
    assert any("No operations match" in i.value for i in at.info)


@BOTH_ENGINES
def test_cache_page(warehouse):
    hits, misses = _view(warehouse, "SELECT count(*) FILTER (WHERE cache = 'hit'), count(*) FILTER (WHERE cache = "
                         "'miss') FROM raw_op_events")
    at = _goto(_app(), "cache")
    m = _metrics(at)
    assert m["Cache hit rate"] == f"{hits / (hits + misses) * 100:.1f} %" == "33.3 %"
    assert m["Cache miss penalty (vs uncached)"] == "n/a" and m["Cache requests"] == "30"
    assert any("Not measured here: no uncached searches to compare with" in c.value for c in at.caption)
    # alice's 10 searches are the only cacheable ones (bob's have no user): all 10 were hits
    assert m["Could be served by a cache"] == "100.0 %"
    by_query = at.dataframe[1].value
    assert by_query.iloc[0]["query_hash"] == "q-common" and by_query.iloc[0]["requests"] == 10
    assert "user preferences" in list(at.dataframe[2].value["data"])      # TTL guidance from the config


def test_diagnosis_defines_could_be_served_in_words(warehouse):
    from memlens.figures import FIGURES

    could = _figures(warehouse, "could_be_served")["could_be_served"]
    at = _goto(_app(), "diagnosis")
    caption = next(c.value for c in at.caption if c.value.startswith("**Could be served by a cache**"))
    assert could == 1.0 and "(100.0 % in this selection)" in caption  # alice's 10 searches, all hits
    assert FIGURES["could_be_served"].help in caption
    assert "repeat an earlier successful search with the same key" in caption


@BOTH_ENGINES
def test_cost_page_and_weekly_review(warehouse):
    total = _view(warehouse, "SELECT sum(total_cost_usd) FROM stg_op_costs")[0]
    at = _goto(_app(), "cost")
    m = _metrics(at)
    assert m["Cost in selection"] == f"${total:,.4f}" == "$0.0031"
    # Month to date Nov 1-22: $0.0031; the data starts Nov 9, so 14 observed days at $0.0031 / 14 a day and 8 days
    # left → $0.0031 + 8 x $0.0031 / 14 = $0.0049 (the projection of memlens.optimize.forecast, shown everywhere)
    assert m["Month to date (Nov 2026, up to Nov 22)"] == "$0.0031"
    assert m["Month-end projection (Nov 2026, as of Nov 22)"] == "$0.0049"
    assert "Total cost, this week (2026-W47)" not in m  # only the chosen tab runs
    at.session_state["cost_tab"] = "Weekly cost review"
    m = _metrics(at.run())
    # the review's default: the last complete ISO week with data, W47 = Nov 16-22 (the fixture's second week):
    # 20 searches x 2000 tokens x $0.02/1M + 10 adds x (1000 x $0.15 + 100 x $0.60)/1M = $0.0029
    assert m["Total cost, this week (2026-W47)"] == "$0.0029"
    assert m["Total cost, last week (2026-W46)"] == "$0.0002"
    assert m["Budgets exceeded, this week (2026-W47)"] == "0 of 1"  # the team's daily budget
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download CSV tables (zip)", "Download report (Markdown)", "Download report (HTML)"]
    at.sidebar.selectbox(key="f_user").set_value("alice").run()
    m = _metrics(at)
    assert m["Budgets exceeded, this week (2026-W47)"] == "0 of 0"  # never the team's budget for one user
    at.session_state["cost_tab"] = "Cost over time"
    m = _metrics(at.run())
    assert m["Cost in selection"] == "$0.0023"       # alice: 10 searches + 10 adds
    deltas = {x.label: x.delta for x in at.metric}
    assert deltas["Month-end projection (Nov 2026, as of Nov 22)"] == "no monthly budget at this scope"


@BOTH_ENGINES
def test_growth_page(warehouse):
    f = _figures(warehouse, "memories", "bytes")
    memories, size = f["memories"], f["bytes"]
    at = _goto(_app(), "growth")
    m = _metrics(at)
    assert m["Memories held"] == f"{memories:,}" == "2"
    assert m["Text bytes held"] == f"{size:,}" == "200"


def test_growth_page_without_history(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(make_warehouse(tmp_path / "nohist.duckdb")))
    at = _goto(_app(), "growth")
    assert any("memlens collect history" in i.value for i in at.info)


@BOTH_ENGINES
def test_diagnosis_lights_the_measured_path(warehouse):
    at = _goto(_app(), "diagnosis")
    lit = "\n".join(w.value for w in at.warning if "Demo data" not in w.value)
    # search avg 213 ms > 200 → yes; P50 300 > 200 → all slow; hit rate 33 % → second band; $0.10 > $0.02 per 1k
    assert "**Average latency > slow threshold?** Yes: average 213 ms vs 200 ms." in lit
    assert "**All queries slow?** Yes" in lit
    assert "**Hit rate in the second band?** Yes: hit rate 33.3 %" in lit
    assert "**Query costs high?** Yes" in lit
    assert "P99 latency > P99 threshold?" not in lit and "High variance?" not in lit
    assert "66.7 % of searches have no user/agent/run scope" in lit
    # the 20 timed searches: embedding 210 of 300 ms
    assert "**Embedding most of search time?** Yes: embedding is 70.0 % of search time vs 50.0 %." in lit
    assert "search time by phase (20 searches): embedding 70.0 %, vector search 20.0 %, Mem0's own code 10.0 %" in lit
    # against the week before (the default window, all data, Nov 9-23, vs Nov 2-16: week 1's 10 searches of alice)
    assert "What changed against the week before" in [h.value for h in at.subheader]


@BOTH_ENGINES
def test_sources_page(warehouse):
    at = _goto(_app(), "sources")
    m = _metrics(at)
    assert m["op events"] == "40" and m["quarantine"] == "1" and m["memory history"] == "4"
    reasons = next(d.value for d in at.dataframe if "lines" in d.value.columns)
    assert list(reasons["reason"]) == ["invalid JSON"]
    sources = at.dataframe[0].value  # each source with its last collection, counts and quarantine
    assert {"source", "last_run_at", "rows_loaded", "quarantined_lines", "rows_in_table"} <= set(sources.columns)


def test_sources_page_collects_traces_and_lists_the_source_and_its_spans(warehouse):
    from test_collect_otel import FIXTURES

    at = _goto(_app(), "sources")
    at.text_area(key="otel_paths").set_value(str(FIXTURES / "openlit-mem0.jsonl"))
    next(b for b in at.button if b.label == "Collect traces").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("12 loaded" in s.value for s in at.success), [s.value for s in at.success]
    at.run()
    sources = at.dataframe[0].value.set_index("source")
    assert sources.loc["otel", "rows_in_table"] == 12 and sources.loc["otel", "last_status"] == "ok"
    spans = next(d.value for d in at.dataframe if "disposition" in d.value.columns)
    # 27 spans: 12 operations, 1 `memory init`, 13 composite children and get_all_from_vector_store (vector_read)
    assert dict(spans.groupby("disposition")["spans"].sum()) == {"op": 12, "child": 13, "phase": 1, "ignored": 1}
    assert _metrics(at)["op events"] == "52"


def test_empty_warehouse_says_what_to_do(tmp_path, monkeypatch):
    path = tmp_path / "empty.duckdb"
    connect(path).close()
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(path))
    at = _app()
    assert not at.exception
    assert any("holds no operations yet" in i.value and "memlens demo" in i.value for i in at.info)
    for page in PAGES:
        _goto(at, page)
    assert [b.label for b in at.button][:2] == ["Collect", "Load the demo"]   # Data sources offers both


def test_demo_banner_only_with_demo_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(make_warehouse(tmp_path / "demo.duckdb", demo=True)))
    at = _app()
    assert any(w.value.startswith("**Demo data** — All events") for w in at.warning)
    st.cache_resource.clear()
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(make_warehouse(tmp_path / "real.duckdb")))
    at = _app()
    assert not any("Demo data" in w.value for w in at.warning)


def test_unknown_query_name_and_missing_parameter(warehouse):
    from memlens.dashboard import data

    con = data.open_readonly(warehouse)
    try:
        with pytest.raises(KeyError):
            data.run(con, "raw_op_events; DROP TABLE raw_op_events")
        with pytest.raises(ValueError, match="limit"):
            data.run(con, "ingest_runs")
        with pytest.raises(layer.LayerError, match="unknown metric"):
            layer.query(con, "ops; DROP TABLE raw_op_events")
        with pytest.raises(layer.LayerError, match="limit"):
            layer.query(con, "slow_ops")
        # a filter value is bound, never pasted: a quote in it is just a value that matches nothing
        assert layer.query(con, "ops", data.Filters(user="x' OR '1'='1"))["ops"].iloc[0] == 0
    finally:
        con.close()


def _write_log(path: Path, n: int) -> Path:
    import json

    lines = []
    for i in range(n):
        e = {k: v for k, v in event(1000 + i).items() if k not in ("source_file", "source_line", "ingested_at")}
        e["ts"] = "2026-11-21T10:00:00Z"
        lines.append(json.dumps(e))
    lines.append("{not json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@BOTH_ENGINES
def test_collect_button_loads_logs_and_the_pages_follow(warehouse, tmp_path):
    log = _write_log(tmp_path / "oplog-extra.jsonl", 5)
    at = _goto(_app(), "sources")
    at.text_area[0].set_value(str(log))
    next(b for b in at.button if b.label == "Collect").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("5 loaded" in s.value for s in at.success), [s.value for s in at.success]
    at.run()  # the next run sees the new load key: fresh aggregates
    m = _metrics(at)
    assert m["op events"] == "45" and m["quarantine"] == "2"


def test_collect_refused_while_another_collection_holds_the_lock(warehouse, tmp_path):
    import threading

    from memlens.collectors.base import writer_lock

    log = _write_log(tmp_path / "oplog-extra.jsonl", 1)
    at = _goto(_app(), "sources")
    at.text_area[0].set_value(str(log))
    holding, release = threading.Event(), threading.Event()

    def other_collection() -> None:  # the lock is re-entrant per thread: hold it from another one
        with writer_lock(warehouse, "test: another collection"):
            holding.set()
            release.wait(30)

    t = threading.Thread(target=other_collection)
    t.start()
    assert holding.wait(10)
    try:
        next(b for b in at.button if b.label == "Collect").click().run()
    finally:
        release.set()
        t.join()
    assert not at.exception
    assert any("locked by another collection" in e.value for e in at.error)
    assert _metrics(at)["op events"] == "40"


def test_new_data_loaded_elsewhere_shows_on_the_next_render(warehouse):
    at = _goto(_app(), "latency")
    assert _metrics(at)["Operations"] == "40"
    # Between renders the dashboard holds no connection: another writer (here: this process) can load.
    con = connect(warehouse)
    try:
        con.execute("INSERT INTO raw_op_events SELECT * REPLACE (event_id || '-new' AS event_id, "
                    "ingested_at + INTERVAL 1 HOUR AS ingested_at) FROM raw_op_events WHERE op = 'add'")
    finally:
        con.close()
    at.run()
    assert _metrics(at)["Operations"] == "50"
