"""Scenario files: defaults, validation errors naming file/line/field, no secrets, stable hashes, examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from memlens.loadtest.scenario import ScenarioError, default_scenario, load_scenario, parse_scenario

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "loadtest" / "scenarios").glob("*.yaml"))


def test_defaults_are_a_search_heavy_offline_run():
    s = parse_scenario("name: x\n")
    assert s.mem0.backend == "offline" and s.mode == "thread" and s.users == 4
    w = s.mix.weights()
    assert w["search"] == max(w.values()) and sum(w.values()) == pytest.approx(1.0)
    assert not s.cache.enabled and s.search.top_k == 10


def test_error_names_file_line_and_field(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("name: bad\nusers: 2\nsearch:\n  top_k: 0\n  rerank: maybe\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(f)
    msg = str(exc.value)
    assert f"{f} line 4: search.top_k: Input should be greater than 0" in msg
    assert f"{f} line 5: search.rerank:" in msg


def test_unknown_key_is_an_error_with_its_line():
    with pytest.raises(ScenarioError, match=r"s.yaml line 3: mix.serach: Extra inputs are not permitted"):
        parse_scenario("name: x\nmix:\n  serach: 0.5\n", "s.yaml")


def test_bad_yaml_and_non_mapping():
    with pytest.raises(ScenarioError, match="invalid YAML"):
        parse_scenario("name: [x\n", "s.yaml")
    with pytest.raises(ScenarioError, match="top level must be a mapping"):
        parse_scenario("- a\n", "s.yaml")
    with pytest.raises(ScenarioError, match="scenario file not found"):
        load_scenario("/nonexistent/s.yaml")


def test_all_zero_mix_is_rejected():
    text = "name: x\nmix: {search: 0, add: 0, update: 0, delete: 0, get: 0, get_all: 0}\n"
    with pytest.raises(ScenarioError, match="at least one op weight"):
        parse_scenario(text)


def test_secrets_are_refused_and_names_the_key():
    text = ("name: x\nmem0:\n  backend: config\n  config:\n    embedder:\n      provider: openai\n"
            "      config: {api_key: sk-live-123}\n")
    with pytest.raises(ScenarioError, match=r"line 2: mem0: .*`embedder.config.api_key` holds a secret"):
        parse_scenario(text)
    with pytest.raises(ScenarioError, match="needs a `config` mapping"):
        parse_scenario("name: x\nmem0: {backend: config}\n")


def test_config_hash_ignores_names_and_follows_settings():
    a = parse_scenario("name: a\ndescription: one\n")
    b = parse_scenario("name: b\ndescription: two\n")
    c = parse_scenario("name: a\nsearch: {top_k: 5}\n")
    assert a.config_hash() == b.config_hash() != c.config_hash()
    assert len(a.config_hash()) == 16


def test_overrides_apply_and_are_validated():
    s = parse_scenario("name: x\nmode: thread\n", overrides={"mode": "async", "seed": 3})
    assert s.mode == "async" and s.seed == 3
    with pytest.raises(ScenarioError, match="mode"):
        parse_scenario("name: x\n", overrides={"mode": "fork"})


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_parses(path):
    s = load_scenario(path)
    assert s.name == path.stem


def test_example_pairs_differ_only_in_their_subject():
    by = {p.stem: load_scenario(p) for p in EXAMPLES}
    assert (by["limit10"].search.top_k, by["limit5"].search.top_k) == (10, 5)
    assert (by["cache-off"].cache.enabled, by["cache-on"].cache.enabled) == (False, True)
    assert (by["rerank-off"].search.rerank, by["rerank-on"].search.rerank) == (False, True)
    for a, b in (("limit10", "limit5"), ("cache-off", "cache-on"), ("rerank-off", "rerank-on")):
        assert by[a].mix == by[b].mix and by[a].seed == by[b].seed and by[a].users == by[b].users


def test_default_scenario_builder():
    assert default_scenario(users=3).users == 3
