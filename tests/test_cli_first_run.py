"""A newcomer's first commands: collecting into a folder that does not exist yet, read commands given a
mistyped warehouse path, `memlens query` without a view, and commands that need the full install."""

from __future__ import annotations

import json
import sys

import pytest

from memlens.cli import main
from memlens.warehouse import view_names


def _one_event_log(folder):
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text(json.dumps({
        "schema_version": 1, "event_id": "e1", "ts": "2026-11-20T10:00:00Z", "service": "s", "mode": "oss",
        "call_mode": "sync", "op": "search", "latency_ms": 5.0, "status": "ok"}) + "\n")
    return folder


def test_collect_into_a_folder_that_does_not_exist_yet(tmp_path, capsys):
    logs = _one_event_log(tmp_path / "logs")
    warehouse = tmp_path / "not" / "yet" / "w.duckdb"
    assert main(["collect", "logs", str(logs), "-q", "--warehouse", str(warehouse)]) == 0
    assert "1 loaded" in capsys.readouterr().out
    assert warehouse.is_file()


def test_collect_into_the_default_data_dir_on_a_fresh_machine(tmp_path, monkeypatch, capsys):
    home = tmp_path / "fresh-home" / "memlens"
    monkeypatch.setenv("MEMLENS_HOME", str(home))
    assert main(["collect", "logs", str(_one_event_log(tmp_path / "logs")), "-q"]) == 0
    assert (home / "memlens.duckdb").is_file()


@pytest.mark.parametrize("argv", [["query", "stg_op_events"], ["advise"], ["dashboard"]])
def test_read_commands_do_not_create_a_mistyped_warehouse(tmp_path, capsys, argv):
    typo = tmp_path / "wherehouse.duckdb"
    assert main([*argv, "--warehouse", str(typo)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"memlens: no warehouse at {typo}") and err.count("\n") == 1, err
    assert not typo.exists()


def test_query_without_a_view_lists_the_metrics_and_views(capsys):
    assert main(["query"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("metrics (memlens query METRIC")
    views = out.split("views (memlens query VIEW):\n")[1]
    assert [line.strip() for line in views.splitlines()] == view_names()
    assert "\n  cost_by_model " in out and "\n  latency " in out


def test_a_command_of_the_full_install_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    """In a base install (instrumentation only) duckdb is absent: one line naming the extra, no traceback."""
    monkeypatch.setitem(sys.modules, "duckdb", None)  # `import duckdb` raises ModuleNotFoundError
    for name in [m for m in sys.modules if m.startswith("memlens.") and m.split(".")[1] in (
            "warehouse", "collectors", "queries")]:
        monkeypatch.delitem(sys.modules, name)
    assert main(["query", "stg_op_events", "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert capsys.readouterr().err == (
        "memlens: `memlens query` needs the full install (module duckdb is missing): "
        "pip install 'memlens[dashboard]'\n")
