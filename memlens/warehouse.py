"""The DuckDB warehouse: open it, keep its tables at this memlens's version, apply the views, load the config.

Layers are applied in order raw → staged → metrics, files sorted by name within a layer (`memlens.sql`
package data). Raw files create tables (IF NOT EXISTS); staged and metrics files each hold one
`CREATE OR REPLACE VIEW`, so applying them at every connect is idempotent and picks up edited views.

Versions: `meta_warehouse` records the layout version of the raw tables (`WAREHOUSE_VERSION`). Opening an
older warehouse for writing migrates it in place in one transaction (new tables, new nullable columns: the
only changes a version may make); a newer one is refused. Opening read-only (`read_only=True`: `memlens
query`, `advise`, the dashboard's page renders) never writes to the file: the config tables and the views are
TEMP objects of the connection, and a missing file is an error instead of a new empty warehouse.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import duckdb

from memlens import __version__
from memlens.config import Config, default_config
from memlens.resources import model_files
from memlens.schema import render_sql

LAYERS = ("raw", "staged", "metrics")
WAREHOUSE_VERSION = 6
"""Layout version of the raw tables. 1: warehouses made before versions were recorded (no meta_warehouse).
3: raw_otel_span_counts, raw_platform_stats, raw_platform_checkpoints (`memlens collect otel | platform`).
4: raw_op_events gains the phase timings of op-log schema v2 (`*_ms`, nullable).
5: raw_op_events.llm_cached_input_tokens (op-log schema v3), cfg_prices.usd_per_1m_cached_input (nullable).
6: op-log content identity (raw_ingest_checkpoints.file_ctime, prefix_sha; raw_quarantine.line_key).
Bump it with every change to sql/raw (only additive: tables, nullable columns) and record the new layout in
tests/golden/warehouse-layout.txt (tests/test_warehouse_versions.py says so when they differ)."""
CONFIG_TABLES = ("cfg_settings", "cfg_prices")  # rewritten from the typed config at every connect
_CREATE_OR_REPLACE = re.compile(r"\bCREATE OR REPLACE (VIEW|MACRO|TABLE)\b")

log = logging.getLogger(__name__)


class WarehouseError(RuntimeError):
    """A warehouse that cannot be opened as asked; the message is one line that says what to do."""


class WarehouseMissing(WarehouseError):
    """A read was asked of a warehouse file that does not exist."""


class WarehouseBusy(WarehouseError):
    """Another process holds DuckDB's lock on the file (a collection writing, a page render reading)."""


def view_names() -> list[str]:
    """Names of the staged and metrics views (file name without its numeric order prefix)."""
    return [p.name.removesuffix(".sql").split("_", 1)[1] for layer in LAYERS[1:] for p in model_files(layer)]


def apply_layer(con: duckdb.DuckDBPyConnection, layer: str, *, temp: bool = False) -> None:
    """Run a layer's files. `temp`: as TEMP objects of this connection (a read-only connection)."""
    for path in model_files(layer):
        text = render_sql(path.read_text(encoding="utf-8"))
        if temp:
            text = _CREATE_OR_REPLACE.sub(r"CREATE OR REPLACE TEMP \1", text)
        try:
            con.execute(text)
        except duckdb.Error as exc:
            raise RuntimeError(f"sql/{layer}/{path.name}: {exc}") from exc


def load_config_tables(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    """Rewrite cfg_settings / cfg_prices from the typed config (parameterised, never pasted)."""
    t = cfg.thresholds
    con.execute("DELETE FROM cfg_settings")
    con.execute(
        "INSERT INTO cfg_settings VALUES (?, ?, ?, ?, ?)",
        [t.slow_op_ms, t.slow_op_share, t.error_rate, cfg.targets.cache_hit_rate, t.storage_growth_per_week],
    )
    rows: list[tuple[str, str, float, float, float, float | None]] = []
    rows += [("embedding", m, p, 0.0, 0.0, None) for m, p in cfg.prices.embedding.items()]
    rows += [("llm", m, p.input, p.output, 0.0, p.cached_input) for m, p in cfg.prices.llm.items()]
    rows += [("platform_call", op, 0.0, 0.0, p, None) for op, p in cfg.prices.platform_per_call.items()]
    con.execute("DELETE FROM cfg_prices")
    con.executemany("INSERT INTO cfg_prices (kind, model, usd_per_1m_input, usd_per_1m_output, usd_per_call, "
                    "usd_per_1m_cached_input) VALUES (?, ?, ?, ?, ?, ?)", rows)


_COLUMNS_SQL = """
    SELECT table_name, column_name, data_type, is_nullable
    FROM duckdb_columns()
    WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal
    ORDER BY table_name, column_index
"""


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, tuple[str, bool]]]:
    """table → column → (type, nullable), of the tables in the file (views have no rows in duckdb_tables)."""
    tables = {name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main'").fetchall()}
    out: dict[str, dict[str, tuple[str, bool]]] = {}
    for table, column, dtype, nullable in con.execute(_COLUMNS_SQL).fetchall():
        if table in tables:
            out.setdefault(table, {})[column] = (dtype, nullable)
    return out


@cache
def layout() -> dict[str, dict[str, tuple[str, bool]]]:
    """The raw tables as this memlens creates them: table → column → (type, nullable)."""
    scratch = duckdb.connect(":memory:")
    try:
        apply_layer(scratch, "raw")
        return _columns(scratch)
    finally:
        scratch.close()


def stamped_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The warehouse's layout version: None for a new (empty) file, 1 for one made before versions existed."""
    tables = {name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main'").fetchall()}
    if "meta_warehouse" in tables:
        row = con.execute("SELECT max(version) FROM meta_warehouse").fetchone()
        if row and row[0] is not None:
            return int(row[0])
    return 1 if "raw_op_events" in tables else None


def _newer(path: str, version: int) -> WarehouseError:
    return WarehouseError(f"warehouse {path} has layout version {version}, newer than this memlens "
                          f"{__version__} reads ({WAREHOUSE_VERSION}): upgrade memlens (pip install -U memlens)")


def migrate(con: duckdb.DuckDBPyConnection, path: str) -> list[str]:
    """Bring the raw tables to WAREHOUSE_VERSION in one transaction; returns what was added (empty when the
    warehouse was current or new). Refuses a newer warehouse, and a change no additive ALTER can make."""
    version = stamped_version(con)
    if version is not None and version > WAREHOUSE_VERSION:
        raise _newer(path, version)
    if version == WAREHOUSE_VERSION:
        apply_layer(con, "raw")  # IF NOT EXISTS: nothing to do on a current warehouse
        return []
    added: list[str] = []
    con.execute("BEGIN TRANSACTION")
    try:
        have = _columns(con)
        apply_layer(con, "raw")  # the tables this version added
        added += [f"table {t}" for t in layout() if t not in have]
        for table, columns in layout().items():
            for column, (dtype, nullable) in columns.items():
                if table not in have:
                    break
                present = have[table].get(column)
                if present is None and not nullable:
                    raise WarehouseError(
                        f"warehouse {path} cannot be migrated in place: {table}.{column} ({dtype} NOT NULL) is "
                        "missing; collect into a new warehouse (--warehouse NEW.duckdb)")
                if present is None:
                    con.execute(f'ALTER TABLE {table} ADD COLUMN "{column}" {dtype}')  # names from our own DDL
                    added.append(f"{table}.{column}")
                elif present[0] != dtype:
                    raise WarehouseError(
                        f"warehouse {path} cannot be migrated in place: {table}.{column} is {present[0]}, this "
                        f"memlens needs {dtype}; collect into a new warehouse (--warehouse NEW.duckdb)")
        con.execute("DELETE FROM meta_warehouse")
        con.execute("INSERT INTO meta_warehouse VALUES (?, ?, now()::TIMESTAMP)", [WAREHOUSE_VERSION, __version__])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    if version is not None:
        log.warning("migrated warehouse %s from layout version %s to %s (%s)", path, version, WAREHOUSE_VERSION,
                    ", ".join(added) or "version recorded")
    return added


def _open(target: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(target, read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseBusy(f"warehouse {target} is open in another process: {exc}") from None
        raise WarehouseError(f"{target} is not a usable DuckDB warehouse ({exc}); point --warehouse at another "
                             "file, or move this one away and collect again") from None
    except duckdb.Error as exc:
        raise WarehouseError(f"{target} is not a usable DuckDB warehouse ({exc})") from None


def connect(path: str | Path | None = None, cfg: Config | None = None, *,
            read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with every table and view in place (created or migrated when writing).

    `path` is a warehouse URL or a DuckDB file (memlens.backend): a ClickHouse URL opens it through
    memlens.clickhouse (same tables, views and guarantees). `path=":memory:"` gives an in-memory DuckDB warehouse
    (tests, benchmarks). `read_only`: never creates or writes the file (a missing file is WarehouseMissing; an
    older layout says how to upgrade it).
    """
    from memlens import backend

    cfg = cfg or default_config()
    where = backend.resolve(path if path is not None else cfg.warehouse_url())
    if backend.is_clickhouse(where):
        try:
            from memlens import clickhouse
        except ImportError as exc:
            raise WarehouseError(f"a ClickHouse warehouse needs the ClickHouse extra: pip install "
                                 f"'memlens[clickhouse]' ({exc})") from None
        try:
            return clickhouse.connect(clickhouse.parse_url(str(where), cfg.warehouse.password_env), cfg,
                                      read_only=read_only)
        except (ValueError, clickhouse.ClickHouseError) as exc:
            if isinstance(exc, WarehouseError):
                raise
            raise WarehouseError(str(exc)) from None
    target = str(where)
    in_memory = target == ":memory:"
    if read_only and not in_memory and not Path(target).is_file():
        raise WarehouseMissing(f"no warehouse at {target} (check --warehouse / $MEMLENS_WAREHOUSE, or load data "
                               "first with `memlens collect logs` or `memlens demo`)")
    if not in_memory:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    con = _open(target, read_only and not in_memory)
    try:
        con.execute("SET TimeZone = 'UTC'")
        if read_only and not in_memory:
            version = stamped_version(con)
            if version is not None and version > WAREHOUSE_VERSION:
                raise _newer(target, version)
            if version is None:
                raise WarehouseMissing(f"{target} holds no memlens warehouse (no tables); load data first with "
                                       "`memlens collect logs` or `memlens demo`")
            if version < WAREHOUSE_VERSION:
                raise WarehouseError(f"warehouse {target} has layout version {version}, this memlens needs "
                                     f"{WAREHOUSE_VERSION}: run `memlens migrate --warehouse {target}` once "
                                     "(adds what is new in place; nothing is lost)")
            for table in CONFIG_TABLES:  # this connection's own copy, from the current config
                con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM main.{table} LIMIT 0")
        else:
            migrate(con, target)
        load_config_tables(con, cfg)  # views read the thresholds and prices from these tables
        temp = read_only and not in_memory
        apply_layer(con, "staged", temp=temp)
        apply_layer(con, "metrics", temp=temp)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def open_warehouse(path: str | Path | None = None, cfg: Config | None = None, *,
                   read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, cfg, read_only=read_only)
    try:
        yield con
    finally:
        con.close()
