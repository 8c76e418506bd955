"""Known answers for the layer's cost figures, to the cent, with the default price table (plus one Platform price).

Default prices: text-embedding-3-small $0.02 / 1M tokens, text-embedding-3-large $0.13 / 1M, gpt-4o-mini
$0.15 / 1M input and $0.60 / 1M output. The Platform per-call price for search is set to $0.002 here.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from view_support import event, insert_events

from memlens import figures, layer
from memlens.config import load_config
from memlens.warehouse import connect

NOV2, NOV3, DEC1 = datetime(2026, 11, 2, 10), datetime(2026, 11, 3, 11), datetime(2026, 12, 1, 12)
SMALL, LARGE, MINI = "text-embedding-3-small", "text-embedding-3-large", "gpt-4o-mini"


@pytest.fixture
def costs():
    cfg = load_config(overrides={"prices": {"platform_per_call": {"search": 0.002}}})
    con = connect(":memory:", cfg)
    insert_events(con, [
        # $0.02: 1M embedding tokens of 3-small
        event(NOV2, "search", user_id="u1", agent_id="a1", embedding_model=SMALL, embedding_tokens=1_000_000),
        # $0.60 LLM (2M in x 0.15 + 0.5M out x 0.60) + $0.01 embedding (0.5M x 0.02)
        event(NOV2, "add", user_id="u1", agent_id="a1", infer=True, llm_model=MINI, llm_input_tokens=2_000_000,
              llm_output_tokens=500_000, embedding_model=SMALL, embedding_tokens=500_000, tokens_estimated=True),
        # $0.13: priced through the model's last path segment
        event(NOV3, "search", user_id="u2", embedding_model="openai/" + LARGE, embedding_tokens=1_000_000),
        # Platform: the per-call price only; its tokens run inside Mem0's service and are not priced again
        event(NOV3, "search", user_id="u2", mode="platform", embedding_model=SMALL, embedding_tokens=1000),
        # a model without a price row: costs 0 here, but is reported as unpriced
        event(NOV3, "add", user_id="u3", embedding_model="mystery-embed", embedding_tokens=1000),
        # $0.04 in December
        event(DEC1, "search", user_id="u1", embedding_model=SMALL, embedding_tokens=2_000_000),
    ])
    yield con
    con.close()


def rows(con, sql, params=()):
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def by(df, *keys):
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in df.to_dict("records")}


def cents(x):
    return round(x, 2)


def test_per_event_costs(costs):
    got = {r["event_id"]: r for r in rows(costs, "SELECT * FROM stg_op_costs")}
    totals = sorted(round(r["total_cost_usd"], 6) for r in got.values())
    assert totals == [0.0, 0.002, 0.02, 0.04, 0.13, 0.61]
    add = next(r for r in got.values() if r["llm_model"] == MINI)
    assert add["llm_input_cost_usd"] == pytest.approx(0.30) and add["llm_output_cost_usd"] == pytest.approx(0.30)
    assert add["embedding_cost_usd"] == pytest.approx(0.01)


def test_cost_by_op(costs):
    r = by(layer.query(costs, "cost", by=("mode", "op")), "mode", "op")
    s = r[("oss", "search")]
    assert s["ops"] == 3 and s["searches"] == 3
    assert cents(s["total_cost_usd"]) == 0.19 and s["embedding_share"] == pytest.approx(1.0)
    assert s["cost_per_1k_searches_usd"] == pytest.approx(0.19 * 1000 / 3)
    a = r[("oss", "add")]
    assert cents(a["total_cost_usd"]) == 0.61 and cents(a["llm_cost_usd"]) == 0.60
    assert a["embedding_share"] == pytest.approx(0.01 / 0.61)
    assert a["cost_per_1k_searches_usd"] != a["cost_per_1k_searches_usd"]  # NaN: no searches
    assert a["cost_per_1k_ops_usd"] == pytest.approx(610 / 2)
    assert not a["priced"] and a["unpriced_tokens"] == 1000 and a["estimated_token_events"] == 1
    p = r[("platform", "search")]
    assert p["platform_cost_usd"] == pytest.approx(0.002) and p["embedding_cost_usd"] == 0 and p["priced"]


def test_cost_by_user_and_agent(costs):
    u = by(layer.query(costs, "cost", by=("user_id",)), "user_id")
    assert cents(u["u1"]["total_cost_usd"]) == 0.67
    assert u["u2"]["total_cost_usd"] == pytest.approx(0.132)
    assert u["u3"]["total_cost_usd"] == 0 and not u["u3"]["priced"]
    a = by(layer.query(costs, "cost", by=("agent_id",)), "agent_id")
    assert cents(a["a1"]["total_cost_usd"]) == 0.63 and a["a1"]["ops"] == 2
    assert a[None]["total_cost_usd"] == pytest.approx(0.172) and a[None]["ops"] == 4


def test_cost_by_model(costs):
    m = by(layer.query(costs, "cost_by_model"), "kind", "model")
    small = m[("embedding", SMALL)]
    assert small["events"] == 3 and small["input_tokens"] == 3_500_000 and cents(small["cost_usd"]) == 0.07
    large = m[("embedding", "openai/" + LARGE)]
    assert large["usd_per_1m_input"] == pytest.approx(0.13) and cents(large["cost_usd"]) == 0.13
    llm = m[("llm", MINI)]
    assert (llm["input_tokens"], llm["output_tokens"]) == (2_000_000, 500_000) and cents(llm["cost_usd"]) == 0.60
    assert not m[("embedding", "mystery-embed")]["priced"]
    assert m[("embedding", "mystery-embed")]["unpriced_tokens"] == 1000
    plat = m[("platform_call", "search")]
    assert plat["usd_per_call"] == pytest.approx(0.002) and plat["events"] == 1
    total = 0.07 + 0.13 + 0.60 + 0.002
    assert llm["cost_share"] == pytest.approx(0.60 / total)
    assert sum(r["cost_share"] for r in m.values()) == pytest.approx(1.0)


def test_cost_per_day_and_month(costs):
    d = by(layer.query(costs, "cost", by=("bucket",), grain="day"), "bucket")
    assert cents(d[datetime(2026, 11, 2)]["total_cost_usd"]) == 0.63
    assert d[datetime(2026, 11, 3)]["total_cost_usd"] == pytest.approx(0.132)
    assert cents(d[datetime(2026, 12, 1)]["total_cost_usd"]) == 0.04
    m = by(layer.query(costs, "cost", by=("bucket",), grain="month"), "bucket")
    nov = m[datetime(2026, 11, 1)]
    assert nov["total_cost_usd"] == pytest.approx(0.762)
    assert nov["embedding_share"] == pytest.approx((0.02 + 0.01 + 0.13) / 0.762)
    assert cents(m[datetime(2026, 12, 1)]["total_cost_usd"]) == 0.04


def test_cost_per_1k_queries_is_per_mode(costs):
    nov = layer.Filters.days(date(2026, 11, 1), date(2026, 11, 30))
    f = figures.values(costs, ("cost_per_1k_oss", "cost_per_1k_platform", "total_cost_usd"), nov)
    # OSS: all OSS cost (0.02 + 0.61 + 0.13 + 0) / 2 OSS searches; Platform: $0.002 / 1 Platform search
    assert f["cost_per_1k_oss"] == pytest.approx(0.76 * 1000 / 2)
    assert f["cost_per_1k_platform"] == pytest.approx(2.0)
    assert f["total_cost_usd"] == pytest.approx(0.762)


def test_cached_prompt_tokens_priced_at_the_cached_rate():
    """gpt-4o-mini: $0.15 / 1M input, $0.075 / 1M cached input, $0.60 / 1M output (defaults.yaml). A model without a
    cached rate bills its cached tokens at the input rate; a cached count above the input count is capped."""
    cfg = load_config(overrides={"prices": {"llm": {"no-cache-rate": {"input": 1.0, "output": 2.0}}}})
    con = connect(":memory:", cfg)
    insert_events(con, [
        # 1M prompt tokens of which 600k cached: 400k x 0.15 + 600k x 0.075 = $0.06 + $0.045; + 100k x 0.60 = $0.06
        event(NOV2, "add", infer=True, llm_model=MINI, llm_input_tokens=1_000_000, llm_cached_input_tokens=600_000,
              llm_output_tokens=100_000),
        # no cached rate: 1M x $1.00 whatever the cache served
        event(NOV2, "add", infer=True, llm_model="no-cache-rate", llm_input_tokens=1_000_000,
              llm_cached_input_tokens=500_000, llm_output_tokens=0),
        # a provider's cached count above its prompt count: capped at the prompt (all 1000 cached: $0.000075)
        event(NOV3, "add", infer=True, llm_model=MINI, llm_input_tokens=1000, llm_cached_input_tokens=5000,
              llm_output_tokens=0),
    ])
    got = rows(con, "SELECT llm_model, llm_cached_input_tokens, llm_cached_input_usd_per_1m, llm_input_cost_usd, "
                    "llm_cost_usd FROM stg_op_costs ORDER BY llm_model, llm_input_tokens DESC")
    assert [(r["llm_model"], r["llm_cached_input_tokens"], r["llm_cached_input_usd_per_1m"]) for r in got] == [
        (MINI, 600_000, 0.075), (MINI, 1000, 0.075), ("no-cache-rate", 500_000, 1.0)]
    assert [round(r["llm_input_cost_usd"], 9) for r in got] == [0.105, 0.000075, 1.0]
    assert round(got[0]["llm_cost_usd"], 9) == 0.165
    model = layer.query(con, "cost_by_model").set_index("model")
    assert model.loc[MINI, "cached_input_tokens"] == 601_000 and model.loc[MINI, "usd_per_1m_cached_input"] == 0.075
    assert round(model.loc[MINI, "cost_usd"], 9) == 0.165075
    total = layer.one(layer.query(con, "cost"))
    assert total["llm_cached_input_tokens"] == 1_101_000 and round(total["llm_cost_usd"], 9) == 1.165075
    con.close()
