"""Warehouse layout versions: new warehouses are stamped, older ones migrate in place in one transaction,
newer ones are refused; read-only opening never writes, and an unusable file is one clear line at once."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import duckdb
import pytest

from memlens import layer, warehouse
from memlens.cli import main
from memlens.warehouse import WAREHOUSE_VERSION, WarehouseError, WarehouseMissing, connect, layout

GOLDEN = Path(__file__).resolve().parent / "golden" / "warehouse-layout.txt"


def _layout_text() -> str:
    return "".join(f"{table}.{column} {dtype}{'' if nullable else ' NOT NULL'}\n"
                   for table, columns in sorted(layout().items()) for column, (dtype, nullable) in columns.items())


def test_the_layout_is_the_one_recorded_for_this_version():
    """Changing sql/raw changes what older warehouses must be migrated to: bump WAREHOUSE_VERSION with it."""
    recorded = GOLDEN.read_text(encoding="utf-8")
    version_line, body = recorded.split("\n", 1)
    assert version_line == f"# layout version {WAREHOUSE_VERSION}", (
        "tests/golden/warehouse-layout.txt records another version")
    assert body == _layout_text(), (
        "sql/raw changed: bump memlens.warehouse.WAREHOUSE_VERSION (only additive changes: new tables, nullable "
        "columns) and record the new layout in tests/golden/warehouse-layout.txt")


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _older_warehouse(path: Path) -> None:
    """A warehouse as memlens wrote it before versions were recorded: no meta_warehouse, and raw_op_events
    without a column a later version added (simulated with `tag`), holding one event."""
    con = connect(path)
    con.execute("DROP TABLE meta_warehouse")
    con.execute("DROP TABLE raw_op_events")
    cols = [(c, t, n) for c, (t, n) in layout()["raw_op_events"].items() if c != "tag"]
    con.execute("CREATE TABLE raw_op_events (" + ", ".join(
        f'"{c}" {t}{"" if n else " NOT NULL"}' for c, t, n in cols) + ")")
    con.execute(
        "INSERT INTO raw_op_events (schema_version, event_id, ts, service, mode, call_mode, op, latency_ms, status, "
        "source_file, source_line, ingested_at) VALUES (1, 'e1', TIMESTAMP '2026-11-01 10:00:00', 'svc', 'oss', "
        "'sync', 'search', 12.5, 'ok', 'a.jsonl', 1, TIMESTAMP '2026-11-02 00:00:00')")
    con.close()


def test_a_new_warehouse_is_stamped_with_this_version(tmp_path):
    with warehouse.open_warehouse(tmp_path / "new.duckdb") as con:
        assert con.execute("SELECT version FROM meta_warehouse").fetchall() == [(WAREHOUSE_VERSION,)]


def test_an_older_warehouse_is_migrated_in_place_keeping_its_rows(tmp_path, caplog):
    path = tmp_path / "old.duckdb"
    _older_warehouse(path)
    with duckdb.connect(str(path)) as raw:
        assert warehouse.stamped_version(raw) == 1
    with caplog.at_level(logging.WARNING, logger="memlens.warehouse"), warehouse.open_warehouse(path) as con:
        assert con.execute("SELECT version FROM meta_warehouse").fetchall() == [(WAREHOUSE_VERSION,)]
        assert con.execute("SELECT event_id, tag, latency_ms FROM raw_op_events").fetchall() == [("e1", None, 12.5)]
        # the views read the migrated table
        assert con.execute("SELECT count(*) FROM stg_op_events").fetchone()[0] == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"migrated warehouse {path} from layout version 1 to {WAREHOUSE_VERSION} "
        "(table meta_warehouse, raw_op_events.tag)"]
    # a second open has nothing to do
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="memlens.warehouse"), warehouse.open_warehouse(path):
        pass
    assert caplog.records == []


def test_a_layout_3_warehouse_gains_the_phase_columns_and_its_v1_events_read_as_no_breakdown(tmp_path, caplog):
    """Layout 3 (op-log schema v1, before the phase timings): opening it adds the eight nullable `*_ms` columns
    in place; its events keep their values, have no breakdown (nulls), and new v2 events load beside them."""
    from memlens.collectors.oplog import collect_oplogs
    from memlens.config import default_config
    from memlens.schema import PHASE_FIELDS

    path = tmp_path / "v3.duckdb"
    con = connect(path)
    for column in PHASE_FIELDS:
        con.execute(f'ALTER TABLE raw_op_events DROP COLUMN "{column}"')
    con.execute("UPDATE meta_warehouse SET version = 3")
    con.execute(
        "INSERT INTO raw_op_events (schema_version, event_id, ts, service, mode, call_mode, op, latency_ms, status, "
        "source_file, source_line, ingested_at) VALUES (1, 'old', TIMESTAMP '2026-11-01 10:00:00', 'svc', 'oss', "
        "'sync', 'search', 12.5, 'ok', 'a.jsonl', 1, TIMESTAMP '2026-11-02 00:00:00')")
    con.close()
    with caplog.at_level(logging.WARNING, logger="memlens.warehouse"), warehouse.open_warehouse(path) as con:
        assert con.execute("SELECT version FROM meta_warehouse").fetchall() == [(WAREHOUSE_VERSION,)]
        log = tmp_path / "new.jsonl"
        log.write_text('{"schema_version": 2, "event_id": "new", "ts": "2026-11-01T11:00:00Z", "service": "svc", '
                       '"mode": "oss", "call_mode": "sync", "op": "search", "latency_ms": 10.0, "status": "ok", '
                       '"embedding_ms": 6.5, "vector_search_ms": 2.25}\n')
        assert collect_oplogs(con, [log], default_config()).rows_loaded == 1
        assert con.execute("SELECT event_id, latency_ms, embedding_ms, vector_search_ms, llm_ms FROM raw_op_events "
                           "ORDER BY ts").fetchall() == [
            ("old", 12.5, None, None, None), ("new", 10.0, 6.5, 2.25, None)]
    assert [r.getMessage() for r in caplog.records] == [
        f"migrated warehouse {path} from layout version 3 to {WAREHOUSE_VERSION} ("
        + ", ".join(f"raw_op_events.{c}" for c in PHASE_FIELDS) + ")"]


def test_read_only_opening_of_an_older_warehouse_says_what_to_do_and_migrate_does_it(tmp_path, capsys):
    path = tmp_path / "old.duckdb"
    _older_warehouse(path)
    before = _file_digest(path)
    assert main(["query", "latency", "--warehouse", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"memlens: warehouse {path} has layout version 1, this memlens needs {WAREHOUSE_VERSION}: run "
                   f"`memlens migrate --warehouse {path}` once (adds what is new in place; nothing is lost)\n")
    assert _file_digest(path) == before
    assert main(["migrate", "--warehouse", str(path)]) == 0
    out = capsys.readouterr()
    assert f"from layout version 1 to {WAREHOUSE_VERSION}" in out.err
    assert out.out == f"warehouse {path} is at layout version {WAREHOUSE_VERSION}\n"
    assert main(["query", "stg_op_events", "--warehouse", str(path)]) == 0
    assert "e1" in capsys.readouterr().out


def test_a_change_no_additive_alter_can_make_is_refused_and_nothing_changes(tmp_path):
    path = tmp_path / "old.duckdb"
    _older_warehouse(path)
    with duckdb.connect(str(path)) as raw:
        raw.execute("ALTER TABLE raw_op_events DROP COLUMN service")  # a NOT NULL column an update cannot invent
    before = _file_digest(path)
    with pytest.raises(WarehouseError, match=r"cannot be migrated in place: raw_op_events\.service \(VARCHAR NOT "
                                             r"NULL\) is missing; collect into a new warehouse"):
        connect(path)
    with duckdb.connect(str(path), read_only=True) as raw:  # the transaction rolled back: still version 1
        assert warehouse.stamped_version(raw) == 1
        assert "tag" not in {c for (c,) in raw.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'raw_op_events'").fetchall()}
    assert before  # (the file may be checkpointed by DuckDB; its contents are what was checked above)


@pytest.mark.parametrize("read_only", [False, True])
def test_a_newer_warehouse_is_refused(tmp_path, read_only):
    path = tmp_path / "future.duckdb"
    connect(path).close()
    with duckdb.connect(str(path)) as raw:
        raw.execute("UPDATE meta_warehouse SET version = ?", [WAREHOUSE_VERSION + 1])
    with pytest.raises(WarehouseError) as info:
        connect(path, read_only=read_only)
    assert str(info.value) == (
        f"warehouse {path} has layout version {WAREHOUSE_VERSION + 1}, newer than this memlens "
        f"{warehouse.__version__} reads ({WAREHOUSE_VERSION}): upgrade memlens (pip install -U memlens)")


def test_read_only_opening_never_writes_the_file(tmp_path):
    path = tmp_path / "w.duckdb"
    connect(path).close()
    before = _file_digest(path)
    with warehouse.open_warehouse(path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM stg_op_facts").fetchone()[0] == 0
        assert layer.one(layer.latency(con))["ops"] == 0
        assert con.execute("SELECT count(*) FROM cfg_prices").fetchone()[0] > 0  # this connection's own copy
    assert _file_digest(path) == before
    assert not Path(f"{path}.wal").exists()


def test_read_only_opening_reads_the_current_config_not_the_stored_one(tmp_path):
    from memlens.config import load_config

    path = tmp_path / "w.duckdb"
    connect(path).close()
    cfg = load_config(overrides={"thresholds": {"slow_op_ms": 250}})
    with warehouse.open_warehouse(path, cfg, read_only=True) as con:
        assert con.execute("SELECT slow_op_ms FROM cfg_settings").fetchone()[0] == 250


def test_read_only_opening_of_a_missing_file_creates_nothing(tmp_path):
    path = tmp_path / "typo.duckdb"
    with pytest.raises(WarehouseMissing, match=rf"^no warehouse at {path} "):
        connect(path, read_only=True)
    assert not path.exists()


@pytest.mark.parametrize("kind", ["random bytes", "empty file", "cut in half"])
def test_an_unusable_file_is_one_clear_line_at_once(tmp_path, capsys, monkeypatch, kind):
    from memlens.collectors import base

    def no_waiting(seconds):  # "at once": an unusable file is not a busy one, nothing waits for it to free up
        raise AssertionError("waited for an unusable warehouse as if another process held it")

    monkeypatch.setattr(base.time, "sleep", no_waiting)
    path = tmp_path / "bad.duckdb"
    if kind == "random bytes":
        path.write_bytes(os.urandom(5000))
    elif kind == "empty file":
        path.write_bytes(b"")
    else:
        con = duckdb.connect(str(path))
        con.execute("CREATE TABLE a AS SELECT range AS x FROM range(1000000)")
        con.close()
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.jsonl").write_text("")
    for argv in (["query", "stg_op_events"], ["collect", "logs", str(logs), "-q"], ["advise"]):
        assert main([*argv, "--warehouse", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"memlens: {path} is not a usable DuckDB warehouse ("), (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err
