"""The LLM side of the cost advice on hand-built logs, to the cent: a cheaper extraction model (from the price
table), infer=False for adds whose messages were already facts, skipping adds that stored nothing, and the LLM
part of batching (the fixed part of the extraction prompt); the cost decision tree's LLM branch."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from memlens import layer
from memlens.config import load_config
from memlens.diagnosis import COST, evaluate
from memlens.health import Measured
from memlens.optimize import savings as sv
from memlens.optimize.advise import build_advice
from memlens.optimize.diagnosis_link import linked_savings

T0 = datetime(2026, 11, 20, 12, 0, 0)
CFG = load_config()
INSERT = """INSERT INTO raw_op_events (schema_version, event_id, ts, service, mode, call_mode, op, user_id, agent_id,
    latency_ms, status, message_count, infer, memories_created, memories_updated, memories_deleted, embedding_model,
    embedding_tokens, llm_model, llm_input_tokens, llm_output_tokens, llm_cached_input_tokens, source_file,
    source_line, ingested_at)
    VALUES (3, $id, $ts, 'svc', 'oss', 'sync', 'add', $user, $agent, 1000, $status, $msgs, $infer, $created,
            $updated, $deleted, $emb_model, $emb, $llm, $llm_in, $llm_out, $cached, 'f', 1, $ts)"""


def add(con, *, s=0.0, user="u1", agent=None, status="ok", msgs=1, infer=True, created=None, updated=None,
        deleted=None, emb=None, llm="gpt-4o-mini", llm_in=None, llm_out=None, cached=None):
    con.execute(INSERT, {"id": uuid.uuid4().hex, "ts": T0 + timedelta(seconds=s), "user": user, "agent": agent,
                         "status": status, "msgs": msgs, "infer": infer, "created": created, "updated": updated,
                         "deleted": deleted, "emb_model": "text-embedding-3-small" if emb else None, "emb": emb,
                         "llm": llm if llm_in or llm_out else None, "llm_in": llm_in, "llm_out": llm_out,
                         "cached": cached})


def test_cheaper_extraction_model_from_the_price_table(con):
    # gpt-4o-mini: 600k uncached x $0.15 + 400k cached x $0.075 + 100k out x $0.60 = $0.18;
    # gpt-4.1-nano, the cheapest of the table for this mix: 600k x $0.10 + 400k x $0.025 + 100k x $0.40 = $0.11
    add(con, created=1, llm_in=1_000_000, cached=400_000, llm_out=100_000)
    add(con, created=1, llm="gpt-4.1-nano", llm_in=1_000_000)  # already the target: nothing to save
    add(con, created=1, llm="my-local-llm", llm_in=5_000)  # no price: not compared
    s = sv.switch_llm_model(con, CFG, 1.0)
    assert s.title == "Extract memories with gpt-4.1-nano"
    assert s.cost_saved_usd == pytest.approx(0.18 - 0.11) and s.calls_affected == 1
    ev = s.evidence.set_index("model")
    assert ev.loc["gpt-4o-mini", "cost_usd"] == pytest.approx(0.18)
    assert ev.loc["gpt-4o-mini", "target_cost_usd"] == pytest.approx(0.11)
    assert ev.loc["gpt-4.1-nano", "saved_usd"] == 0 and ev.loc["my-local-llm", "saved_usd"] == 0
    assert "not compared (no price): my-local-llm" in s.note
    assert s.usd_month == pytest.approx(0.07 * 30)


def test_switch_to_from_the_config(con):
    add(con, created=1, llm_in=1_000_000, cached=400_000, llm_out=100_000)
    dearer = load_config(overrides={"optimize": {"llm": {"switch_to": "gpt-4.1-mini"}}})
    s = sv.switch_llm_model(con, dearer, 1.0)  # $0.24 + $0.04 + $0.16 = $0.44 > $0.18
    assert s.cost_saved_usd == 0 and "already costs no more than gpt-4.1-mini" in s.note
    unknown = load_config(overrides={"optimize": {"llm": {"switch_to": "gpt-9"}}})
    assert "gpt-9 has no price in prices.llm" in sv.switch_llm_model(con, unknown, 1.0).note


def test_no_llm_no_saving(con):
    add(con, infer=False, created=1, emb=100)
    s = sv.switch_llm_model(con, CFG, 1.0)
    assert s.cost_saved_usd == 0 and "no add ran an LLM" in s.note


def _outcomes(con):
    # one memory per message, nothing else: $0.0015 + $0.0006 = $0.0021 of LLM (plus an embedding that stays)
    add(con, msgs=2, created=2, updated=0, deleted=0, emb=100, llm_in=10_000, llm_out=1_000)
    add(con, msgs=2, created=1, llm_in=10_000)  # the LLM merged two messages into one fact: other
    # stored nothing: LLM $0.00075 + $0.0003, embedding 1M x $0.02 = $0.02105
    add(con, msgs=1, created=0, updated=0, deleted=0, emb=1_000_000, llm_in=5_000, llm_out=500)
    add(con, msgs=1, created=0, updated=1, llm_in=5_000)  # updated a memory: other
    add(con, status="error", msgs=1, created=1, llm_in=5_000)  # failed: not judged
    add(con, infer=False, msgs=3, created=3, emb=300)  # infer=False already
    add(con, agent="bot", msgs=1, created=1, llm_in=20_000)  # $0.003


def test_infer_false_for_adds_that_were_already_facts(con):
    _outcomes(con)
    s = sv.infer_off_for_facts(con, 1.0)
    assert s.cost_saved_usd == pytest.approx(0.0021 + 0.003) and s.calls_affected == 2
    ev = s.evidence
    assert list(ev["agent_id"]) == ["bot", None]
    assert list(ev["adds"]) == [1, 1] and list(ev["adds_considered"]) == [1, 4]
    assert list(ev["share"]) == [1.0, 0.25] and list(ev["cost_usd"]) == pytest.approx([0.003, 0.0021])


def test_skip_adds_that_store_nothing(con):
    _outcomes(con)
    s = sv.skip_noop_adds(con, 1.0)
    assert s.cost_saved_usd == pytest.approx(0.02105) and s.calls_affected == 1
    (row,) = s.evidence.to_dict("records")
    assert (row["agent_id"], row["adds"], row["adds_considered"]) == (None, 1, 5)
    assert row["share"] == pytest.approx(0.2)


def test_the_outcomes_are_the_layers_cost_figures(con):
    _outcomes(con)
    by = layer.query(con, "cost", layer.Filters(op="add", status="ok"), ("add_outcome",)).set_index("add_outcome")
    assert by.loc["stored_nothing", "total_cost_usd"] == pytest.approx(0.02105)
    assert by.loc["one_per_message", "ops"] == 3  # the infer=False add counts here too (its messages stored as is)
    total = layer.one(layer.query(con, "cost"))
    assert total["llm_share"] == pytest.approx(total["llm_cost_usd"] / total["total_cost_usd"])


def test_batching_saves_the_fixed_part_of_the_prompt(con):
    # prompt tokens = 400 + 200 x messages on every add: the fixed part is 400 tokens = 400 x $0.15 / 1M = $0.00006
    for t in (0, 2, 4, 20):  # u1: four single adds in two bursts -> two calls saved
        add(con, s=t, msgs=1, created=1, llm_in=600, llm_out=50)
    add(con, s=1, user="u2", msgs=3, created=3, llm_in=1000, llm_out=50)  # a batch: fits the line, saves nothing
    usd, fit = sv.prompt_overhead(con)
    assert fit["fixed_prompt_tokens"].iloc[0] == pytest.approx(400) and usd == pytest.approx(400 * 0.15 / 1e6)
    s = sv.batch_adds(con, CFG, 1.0)
    assert s.calls_affected == 2 and s.cost_saved_usd == pytest.approx(2 * 400 * 0.15 / 1e6)
    assert "gpt-4o-mini: 400 of 680 tokens" in s.note


def test_batching_without_a_fit_says_so(con):
    for t in (0, 2):
        add(con, s=t, msgs=1, created=1, llm_in=600)
    s = sv.batch_adds(con, CFG, 1.0)
    assert s.calls_affected == 1 and s.cost_saved_usd == 0 and "cannot be told" in s.note


def test_cost_tree_llm_branch_and_its_savings(con):
    _outcomes(con)
    res = evaluate(COST, Measured(llm_share=0.9, add_avg_messages=1.5), CFG)
    llm = next(r for r in res.results if r.node.key == "llm")
    assert llm.answer == "yes" and llm.measurement == "LLM share of cost 90.0 % vs 40.0 %"
    assert evaluate(COST, Measured(llm_share=0.3), CFG).results[0].answer == "no"
    assert evaluate(COST, Measured(), CFG).results[0].answer == "unknown"
    advice = build_advice(con, CFG)
    linked = linked_savings(llm, advice.savings)
    assert [ls.saving.key for ls in linked] == ["llm_model", "infer_off", "batching", "noop_adds"]
    noop = next(ls.saving for ls in linked if ls.saving.key == "noop_adds")
    assert noop.usd_month == pytest.approx(0.02105 * 30)
