"""The typed config: reference defaults, user overrides, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from memlens.config import ConfigError, load_config


def test_defaults_are_the_reference_numbers():
    cfg = load_config()
    assert (cfg.targets.latency_avg_ms, cfg.targets.latency_p95_ms, cfg.targets.latency_p99_ms) == (100, 200, 500)
    assert cfg.targets.cache_hit_rate == 0.70 and cfg.targets.cache_miss_penalty == 2.0
    assert cfg.targets.embedding_cost_share == 0.40 and cfg.targets.storage_growth_per_month == 0.10
    assert cfg.targets.cost_per_1k_queries_usd.platform == 0.10 and cfg.targets.cost_per_1k_queries_usd.oss == 0.02
    t = cfg.thresholds
    assert (t.p99_ms, t.avg_ms, t.p95_ms, t.slow_op_ms) == (500, 100, 200, 200)
    assert (t.error_rate, t.cache_hit_rate_min, t.storage_growth_per_week, t.slow_op_share) == (0.05, 0.5, 0.2, 0.1)
    assert cfg.prices.embedding["text-embedding-3-small"] == 0.02
    assert cfg.prices.embedding["text-embedding-3-large"] == 0.13
    assert cfg.prices.embedding["text-embedding-ada-002"] == 0.10
    assert cfg.ttl_guidelines["user_preferences"] == (300, 900)
    assert cfg.ttl_guidelines["session_context"] == (60, 120)
    assert cfg.instrumentation.store_query_text is False


def test_user_file_merges_into_defaults(tmp_path: Path):
    f = tmp_path / "my.yaml"
    f.write_text("thresholds:\n  slow_op_ms: 150\nprices:\n  embedding:\n    my-embedder: 0.05\n")
    cfg = load_config(f)
    assert cfg.thresholds.slow_op_ms == 150
    assert cfg.thresholds.p99_ms == 500  # untouched default
    assert cfg.prices.embedding["my-embedder"] == 0.05
    assert cfg.prices.embedding["text-embedding-3-small"] == 0.02  # merged, not replaced


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("thresholds:\n  slow_op_ms: -3\n", "thresholds.slow_op_ms"),
        ("thresholds:\n  error_rate: lots\n", "thresholds.error_rate"),
        ("targets:\n  latency_p95: 200\n", "targets.latency_p95"),  # typo'd key is an error, not ignored
        ("- a\n- b\n", "top level must be a mapping"),
        ("thresholds: [\n", "invalid YAML"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path: Path, text: str, fragment: str):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert fragment in str(err.value)
    assert str(f) in str(err.value)


def test_missing_config_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("thresholds:\n  daily_budget_usd: .inf\n", "thresholds.daily_budget_usd: Input should be a finite number"),
        ("targets:\n  latency_p95_ms: .nan\n", "targets.latency_p95_ms: Input should be a finite number"),
        ("targets:\n  latency_p99_ms: -500\n", "targets.latency_p99_ms: Input should be greater than 0"),
        ("targets:\n  cache_hit_rate: 1.5\n", "targets.cache_hit_rate: Input should be less than or equal to 1"),
        ("prices:\n  embedding:\n    my-model: -0.01\n", "prices.embedding.my-model: Input should be greater than"),
        ("prices:\n  llm:\n    m: {input: .inf, output: 1}\n", "prices.llm.m.input: Input should be a finite number"),
        ("ttl_guidelines:\n  session_context: [120, 60]\n", "ttl_guidelines.session_context: [min, max] with min"),
        ("thresholds:\n  low_cache_bands: [0.6, 0.3, 0.8]\n", "thresholds: low_cache_bands must be increasing"),
        ("optimize:\n  cache:\n    ttl_grid_s: [60, -.inf]\n", "optimize.cache.ttl_grid_s.1: Input should be a finite"),
    ],
)
def test_non_finite_and_out_of_range_values_are_refused_naming_the_key(tmp_path: Path, text: str, fragment: str):
    """Issue 12 #19: `.inf` / `.nan` / negative values would make alerts that never fire (`> inf`) or targets that
    compare false with everything; they are refused with the key named."""
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert fragment in str(err.value), str(err.value)


def test_export_with_an_infinite_budget_fails_in_one_line(tmp_path: Path):
    import subprocess
    import sys

    f = tmp_path / "inf.yaml"
    f.write_text("thresholds:\n  daily_budget_usd: .inf\n")
    out = subprocess.run([sys.executable, "-m", "memlens.cli", "export", "alerts", "--config", str(f)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        f"memlens: {f}: thresholds.daily_budget_usd: Input should be a finite number"]
