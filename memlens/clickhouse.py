"""The warehouse on ClickHouse: the same tables, views, metric layer and collectors as on DuckDB, for data that
outgrows one machine (docs/scale.md).

`ClickHouseConnection` answers the warehouse interface every consumer uses (memlens.backend): `execute(sql,
params)` with bound parameters, then `fetchall()` / `fetchone()` / `df()` / `arrow()`; `executemany`;
`insert(table, arrow_table)`; `close()`. Statements are the project's own SQL, written once in DuckDB's dialect and
translated by memlens.chsql. Two transports carry them:
- `chdb`: ClickHouse's engine in this process (PyPI `chdb`), for tests and single-machine trials;
- `http`: a ClickHouse server through `clickhouse-connect` (HTTP, port 8123).

Tables (from the same sql/raw files, through DuckDB's reading of them, `memlens.warehouse.layout`) get engines
suited to the data: `raw_op_events` is a ReplacingMergeTree partitioned by month and ordered by (service, op, ts,
event_id), so an event delivered twice (at-least-once ingest) collapses to one row, with a bloom-filter index on
event_id for the collectors' duplicate probe; every table with a primary key in sql/raw is a ReplacingMergeTree on
that key (INSERT OR REPLACE = insert a newer row). Readers see replaced rows merged: the translation reads these
tables with FINAL. The rollups are ReplacingMergeTree tables keyed by their group columns, rebuilt for the days a
collection touched by `memlens.rollups.refresh` (re-aggregated rows replace the old ones by key): every collector
refreshes them, as on DuckDB (no materialized views: a view fed per insert would aggregate per insert block).

ClickHouse has no multi-statement transactions: BEGIN / COMMIT / ROLLBACK are accepted and do nothing. Writers
order their inserts instead (rows, then quarantine, then the checkpoint last), so a crash leaves at most one batch
to read again, which the duplicate probe and the replacing keys make harmless.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import sqlglot
from sqlglot import exp

from memlens import chsql

# Session settings that give ClickHouse DuckDB's (and SQL's) semantics where memlens relies on them.
SETTINGS: dict[str, Any] = {
    "join_use_nulls": 1,  # an unmatched outer-join side is NULL, not the type's default
    "aggregate_functions_null_for_empty": 1,  # sum / max / avg of no rows is NULL
    "session_timezone": "UTC",  # naive timestamps are UTC
    "do_not_merge_across_partitions_select_final": 1,  # FINAL dedups within a month: a duplicate has the same ts
    "group_by_use_nulls": 1,  # ROLLUP / GROUPING SETS mark the rolled-up keys NULL, as in DuckDB
    "prefer_column_name_to_alias": 1,  # `sum(x) AS x` beside `x / n`: x is the column, as in DuckDB
    "enable_named_columns_in_function_tuple": 1,  # tuple(x AS k): DuckDB's {'k': x} struct, read back as t.k
    "mutations_sync": 2,
}
INSERT_BATCH_ROWS = 100_000  # rows per INSERT: ClickHouse wants few, large inserts (one part each)

_DUCK_TO_CH = {"VARCHAR": "String", "BIGINT": "Int64", "INTEGER": "Int32", "SMALLINT": "Int16", "TINYINT": "Int8",
               "UBIGINT": "UInt64", "UINTEGER": "UInt32", "HUGEINT": "Int128", "DOUBLE": "Float64", "FLOAT": "Float32",
               "BOOLEAN": "Bool", "TIMESTAMP": "DateTime64(6)", "DATE": "Date", "VARCHAR[]": "Array(String)",
               "JSON": "String", "BLOB": "String"}


class ClickHouseError(duckdb.Error):
    """A statement ClickHouse refused. A subclass of the DuckDB error type on purpose: the warehouse interface has
    one error type, so a consumer's `except duckdb.Error` handles both engines."""


class ClickHouseCatalogError(ClickHouseError, duckdb.CatalogException):
    """A table or view that does not exist (ClickHouse codes 60 / 81)."""


def _error(exc: Exception, sql: str) -> ClickHouseError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    cls = ClickHouseCatalogError if re.search(r"Code: (60|81)\.", text) else ClickHouseError
    return cls(f"{text} [ClickHouse, in: {sql[:300]}]")


# ---- where the warehouse is ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """A parsed ClickHouse warehouse URL (memlens.backend.parse). The password is never part of it: `password_env`
    names the environment variable that holds it."""

    transport: str  # chdb | http
    database: str
    path: str | None = None  # chdb: the engine's data folder (None: a temporary one for this process)
    host: str | None = None
    port: int | None = None
    user: str | None = None
    secure: bool = False
    password_env: str | None = None

    def display(self) -> str:
        """For messages and the run log: no secret (there is none in it)."""
        if self.transport == "chdb":
            return f"chdb://{self.path or ':memory:'}?database={self.database}"
        scheme = "clickhouses" if self.secure else "clickhouse"
        user = f"{self.user}@" if self.user else ""
        return f"{scheme}://{user}{self.host}:{self.port}/{self.database}"


_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def parse_url(url: str, password_env: str | None = None) -> Target:
    """`clickhouse://user@host:8123/db` (`clickhouses://` for TLS, port 8443), or `chdb:///data/dir` /
    `chdb://:memory:` with an optional `?database=NAME`. A password in the URL is refused: name an environment
    variable instead (warehouse.password_env)."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.scheme == "chdb":
        raw = unquote(url[len("chdb://"):].split("?", 1)[0])
        path = None if raw in ("", ":memory:") else os.path.abspath(os.path.expanduser(raw))
        database = query.get("database") or ("memlens" if path else f"mem_{uuid.uuid4().hex[:12]}")
        target = Target("chdb", database, path=path)
    elif parts.scheme in ("clickhouse", "clickhouses"):
        if parts.password is not None:
            raise ValueError("a password in the warehouse URL would be stored and logged: put it in an environment "
                             "variable and name it in warehouse.password_env (or --warehouse-password-env)")
        if not parts.hostname:
            raise ValueError(f"warehouse URL {url!r} names no host (clickhouse://user@host:8123/db)")
        secure = parts.scheme == "clickhouses"
        database = parts.path.strip("/") or "default"
        target = Target("http", database, host=parts.hostname, port=parts.port or (8443 if secure else 8123),
                        user=unquote(parts.username) if parts.username else None, secure=secure,
                        password_env=password_env)
    else:
        raise ValueError(f"not a ClickHouse warehouse URL: {url!r}")
    if not _DB_NAME.match(target.database):
        raise ValueError(f"database name {target.database!r}: letters, digits and _ only")
    return target


# ---- transports ----------------------------------------------------------------------------------------------

class _ChdbEngine:
    """The one embedded ClickHouse of this process (chdb allows one data folder per process)."""

    lock = threading.Lock()
    path: str | None = None
    temporary: str | None = None
    users = 0

    @classmethod
    def acquire(cls, path: str | None) -> str:
        with cls.lock:
            want = path or cls.temporary
            if cls.path is not None and want is not None and want != cls.path:
                raise ClickHouseError(f"chdb runs one ClickHouse engine per process and it is open at {cls.path}: "
                                      f"close that warehouse before opening {path}")
            if cls.path is None:
                if want is None:
                    cls.temporary = want = tempfile.mkdtemp(prefix="memlens-chdb-")
                    atexit.register(shutil.rmtree, want, True)
                cls.path = want
            cls.users += 1
            return cls.path

    @classmethod
    def release(cls) -> None:
        with cls.lock:
            cls.users -= 1


class _Chdb:
    def __init__(self, target: Target) -> None:
        try:
            from chdb import session
        except ImportError as exc:
            raise ClickHouseError("the chdb warehouse needs the ClickHouse extra: pip install 'memlens[clickhouse]' "
                                  f"({exc})") from None
        path = _ChdbEngine.acquire(target.path)
        try:
            self.session = session.Session(path)
        except Exception as exc:
            _ChdbEngine.release()
            raise ClickHouseError(f"cannot open the chdb warehouse folder {path}: another process has it open (chdb "
                                  f"allows one process per folder: use a ClickHouse server to share it), or it is "
                                  f"not a chdb data folder ({str(exc).strip().splitlines()[0][:200]})") from None
        self.database = target.database
        self.lock = threading.RLock()
        self.command(f"CREATE DATABASE IF NOT EXISTS {self.database}", {})
        for key, value in SETTINGS.items():
            self.command(f"SET {key} = {value!r}" if isinstance(value, str) else f"SET {key} = {value}", {})
        self.command(f"USE {self.database}", {})

    def query_arrow(self, sql: str, params: Mapping[str, Any]) -> pa.Table:
        with self.lock:
            try:
                result = self.session.query(sql, "ArrowTable", params={k: chsql.param_text(v)
                                                                         for k, v in params.items()} or None)
            except Exception as exc:
                raise _error(exc, sql) from None
        return result if isinstance(result, pa.Table) else pa.table({})

    def command(self, sql: str, params: Mapping[str, Any]) -> None:
        with self.lock:
            try:
                self.session.query(sql, "Null", params={k: chsql.param_text(v) for k, v in params.items()} or None)
            except Exception as exc:
                raise _error(exc, sql) from None

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        cols = ", ".join(f"`{c}`" for c in data.column_names)
        with self.lock:
            try:
                # chdb reads the Arrow table in place: the Python() table function looks the name up in this frame
                arrow_batch = data  # noqa: F841
                self.session.query(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM Python(arrow_batch)", "Null")
            except Exception as exc:
                raise _error(exc, f"INSERT INTO {table}") from None

    def close(self) -> None:
        with self.lock:
            try:
                if self.database.startswith("mem_"):  # a `chdb://:memory:` warehouse lives as long as its connection
                    self.session.query(f"DROP DATABASE IF EXISTS {self.database}", "Null")
            finally:
                self.session.close()
                _ChdbEngine.release()


class _Http:
    def __init__(self, target: Target) -> None:
        try:
            import clickhouse_connect
        except ImportError as exc:
            raise ClickHouseError("a ClickHouse server warehouse needs the ClickHouse extra: pip install "
                                  f"'memlens[clickhouse]' ({exc})") from None
        password = ""
        if target.password_env:
            if target.password_env not in os.environ:
                raise ClickHouseError(f"warehouse.password_env names ${target.password_env}, which is not set")
            password = os.environ[target.password_env]
        self.database = target.database
        self.lock = threading.RLock()
        try:
            self.client = clickhouse_connect.get_client(
                host=target.host, port=target.port, username=target.user or "default", password=password,
                secure=target.secure, database="default", settings={k: v for k, v in SETTINGS.items()
                                                                    if k != "mutations_sync"},
                autogenerate_session_id=False)
            self.client.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
            self.client.database = self.database
        except Exception as exc:
            raise ClickHouseError(f"cannot reach ClickHouse at {target.display()}: "
                                  f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from None

    def query_arrow(self, sql: str, params: Mapping[str, Any]) -> pa.Table:
        with self.lock:
            try:
                return self.client.query_arrow(sql, parameters=dict(params) or None)
            except Exception as exc:
                raise _error(exc, sql) from None

    def command(self, sql: str, params: Mapping[str, Any]) -> None:
        with self.lock:
            try:
                self.client.command(sql, parameters=dict(params) or None, settings={"mutations_sync": 2}
                                    if sql.startswith("ALTER") else None)
            except Exception as exc:
                raise _error(exc, sql) from None

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        with self.lock:
            try:
                self.client.insert_arrow(table, data)
            except Exception as exc:
                raise _error(exc, f"INSERT INTO {table}") from None

    def close(self) -> None:
        self.client.close()


def _arrow_ch_type(t: pa.DataType) -> str:
    """The ClickHouse column type for an Arrow one (register: batches the collectors hand over)."""
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"Array({_arrow_ch_type(t.value_type).removeprefix('Nullable(').removesuffix(')')})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t):
        base = "String"
    elif pa.types.is_boolean(t):
        base = "Bool"
    elif pa.types.is_integer(t):
        base = f"{'U' if pa.types.is_unsigned_integer(t) else ''}Int{t.bit_width}"
    elif pa.types.is_floating(t):
        base = f"Float{max(t.bit_width, 32)}"
    elif pa.types.is_timestamp(t):
        base = "DateTime64(6)"
    elif pa.types.is_date(t):
        base = "Date"
    elif pa.types.is_null(t):
        base = "String"
    else:
        raise ClickHouseError(f"no ClickHouse type for Arrow {t}")
    return f"Nullable({base})"


# ---- the connection ------------------------------------------------------------------------------------------

_NO_OP = re.compile(r"^\s*(BEGIN(\s+TRANSACTION)?|COMMIT|ROLLBACK|CHECKPOINT|SET\s+TimeZone\b.*)\s*;?\s*$", re.I)
_QUERY = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Describe)


def _naive_utc(table: pa.Table) -> pa.Table:
    """Timestamps come back tagged UTC (session_timezone): memlens's convention is naive UTC, as DuckDB returns."""
    cols = []
    for field, col in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            col = col.cast(pa.timestamp(field.type.unit))
        elif pa.types.is_fixed_size_binary(field.type) or pa.types.is_binary(field.type):
            col = col.cast(pa.string())
        cols.append(col)
    return pa.table(cols, names=table.column_names)


class ClickHouseConnection:
    """A warehouse connection on ClickHouse with the query surface of a DuckDB connection (memlens.backend)."""

    dialect = "clickhouse"

    def __init__(self, target: Target, read_only: bool = False) -> None:
        self.target = target
        self.read_only = read_only
        self.transport = _Chdb(target) if target.transport == "chdb" else _Http(target)
        self._result: pa.Table | None = None
        self._final_tables: frozenset[str] = frozenset()
        self._registered: dict[str, str] = {}  # name in our SQL → the Memory table holding it (register)
        self.closed = False

    # -- statements
    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> ClickHouseConnection:
        if _NO_OP.match(sql):
            self._result = None
            return self
        statements, values = chsql.translate(sql, params, self._final_tables, self._registered)
        self._result = None
        for text, is_query in statements:
            used = {k: v for k, v in values.items() if "{" + k + ":" in text}
            if is_query:
                self._result = _naive_utc(self.transport.query_arrow(text, used))
            else:
                self.transport.command(text, used)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> ClickHouseConnection:
        for row in rows:
            self.execute(sql, row)
        return self

    def sql(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> ClickHouseConnection:
        return self.execute(sql, params)

    def command(self, text: str) -> None:
        """A statement in ClickHouse's own dialect (DDL this module writes)."""
        self.transport.command(text, {})

    def query_native(self, text: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """A query in ClickHouse's own dialect (catalog look-ups of this module)."""
        return _naive_utc(self.transport.query_arrow(text, params or {}))

    # -- results
    def arrow(self) -> pa.Table:
        return self._result if self._result is not None else pa.table({})

    fetch_arrow_table = to_arrow_table = arrow

    def df(self) -> pd.DataFrame:
        """As DuckDB's .df(): integer columns holding NULLs as pandas' nullable integers, dates as datetime64."""
        table = self.arrow()
        if table.num_rows == 0:  # as DuckDB: empty text columns are object (pandas cannot merge empty Arrow strings)
            return pd.DataFrame({f.name: pd.Series([], dtype=object if pa.types.is_string(f.type)
                                                   or pa.types.is_large_string(f.type)
                                                   else f.type.to_pandas_dtype()) for f in table.schema})
        df = table.to_pandas(date_as_object=False)
        for field, col in zip(table.schema, table.columns, strict=True):
            if pa.types.is_null(field.type):  # a figure over a NULL parameter (NULL / x): DuckDB types it DOUBLE
                df[field.name] = np.nan
            elif pa.types.is_integer(field.type) and col.null_count:
                df[field.name] = col.to_pandas(types_mapper={field.type: pd.Int64Dtype()}.get)
        return df

    fetchdf = df

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        """As DuckDB's: a numpy array per column, a masked array where the column holds NULLs."""
        out: dict[str, np.ndarray] = {}
        for name, col in zip(self.arrow().column_names, self.arrow().columns, strict=True):
            values = col.to_numpy(zero_copy_only=False)
            if col.null_count:
                values = np.ma.masked_array(values, mask=col.is_null().to_numpy(zero_copy_only=False))
            out[name] = values
        return out

    def fetchall(self) -> list[tuple]:
        table = self.arrow()
        cols = [c.to_pylist() for c in table.columns]
        return list(zip(*cols, strict=True)) if cols else []

    def fetchone(self) -> tuple | None:
        rows = self.fetchall()
        return rows[0] if rows else None

    @property
    def description(self) -> list[tuple]:
        return [(name, None, None, None, None, None, None) for name in self.arrow().column_names]

    # -- writes
    def insert(self, table: str, data: pa.Table) -> int:
        """Append Arrow rows to `table`, in inserts of INSERT_BATCH_ROWS rows (columns matched by name)."""
        for batch in data.to_batches(max_chunksize=INSERT_BATCH_ROWS):
            if batch.num_rows:
                self.transport.insert_arrow(table, pa.Table.from_batches([batch]))
        return data.num_rows

    def register(self, name: str, data: pa.Table | pd.DataFrame) -> None:
        """Rows our SQL reads as table `name` (DuckDB's register: an Arrow table or a pandas DataFrame): held in a
        Memory table of a unique name on the server, so collections from several hosts never meet; dropped by
        unregister() or close()."""
        if isinstance(data, pd.DataFrame):
            data = pa.Table.from_pandas(data, preserve_index=False)
        self.unregister(name)
        real = f"_memlens_{uuid.uuid4().hex[:12]}_{name}"
        cols = ", ".join(f"`{f.name}` {_arrow_ch_type(f.type)}" for f in data.schema)
        self.transport.command(f"CREATE TABLE `{real}` ({cols}) ENGINE = Memory", {})
        self._registered[name] = real
        if data.num_rows:
            self.transport.insert_arrow(real, data)

    def unregister(self, name: str) -> None:
        real = self._registered.pop(name, None)
        if real is not None:
            self.transport.command(f"DROP TABLE IF EXISTS `{real}`", {})

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield  # no multi-statement transactions in ClickHouse: see the module docstring

    def close(self) -> None:
        if not self.closed:
            try:
                for name in list(self._registered):
                    self.unregister(name)
            finally:
                self.closed = True
                self.transport.close()

    def __enter__(self) -> ClickHouseConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- catalog
    def tables(self) -> dict[str, str]:
        """name → engine of this database's tables and views."""
        t = self.query_native("SELECT name, engine FROM system.tables WHERE database = currentDatabase()")
        return dict(zip(t.column("name").to_pylist(), t.column("engine").to_pylist(), strict=True))

    def columns(self) -> dict[str, dict[str, str]]:
        t = self.query_native("SELECT table, name, type FROM system.columns WHERE database = currentDatabase() "
                              "ORDER BY table, position")
        out: dict[str, dict[str, str]] = {}
        for table, name, typ in zip(*(t.column(c).to_pylist() for c in ("table", "name", "type")), strict=True):
            out.setdefault(table, {})[name] = typ
        return out

    def set_final_tables(self, names: frozenset[str]) -> None:
        self._final_tables = frozenset(names)

    def reads_final(self, table: str) -> bool:
        """Whether `table` replaces rows by key (read with FINAL to see them merged)."""
        return table in self._final_tables


# ---- the layout: tables, views, versions ---------------------------------------------------------------------

EVENTS_TABLE = "raw_op_events"
# raw_op_events: idempotent at-least-once ingest (same event_id, same row: one after merging / FINAL), monthly
# partitions (a month's data can be dropped or moved whole), the order the pages filter and group by.
EVENTS_ENGINE = ("ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (service, op, ts, event_id)")
EVENTS_INDEX = "INDEX event_id_bloom event_id TYPE bloom_filter(0.01) GRANULARITY 4"
VERSION_TABLE = "meta_warehouse"


def ch_type(duck_type: str, nullable: bool) -> str:
    """The ClickHouse column type for a DuckDB one (arrays cannot be Nullable in ClickHouse: empty = none)."""
    base = _DUCK_TO_CH.get(duck_type.upper())
    if base is None:
        raise ClickHouseError(f"no ClickHouse type for DuckDB {duck_type}")
    return base if (not nullable or base.startswith("Array")) else f"Nullable({base})"


@cache
def primary_keys() -> dict[str, tuple[str, ...]]:
    """table → primary-key columns, as sql/raw declares them (read through DuckDB, the files' own dialect)."""
    from memlens.warehouse import apply_layer

    scratch = duckdb.connect(":memory:")
    try:
        apply_layer(scratch, "raw")
        rows = scratch.execute("SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                               "WHERE constraint_type = 'PRIMARY KEY'").fetchall()
    finally:
        scratch.close()
    return {table: tuple(cols) for table, cols in rows}


def replacing_tables() -> frozenset[str]:
    """Tables read with FINAL: the event table and every table with a primary key."""
    return frozenset({EVENTS_TABLE, *primary_keys()})


def table_ddl(table: str, columns: Mapping[str, tuple[str, bool]]) -> str:
    keys = primary_keys().get(table)
    cols = [f"`{c}` {ch_type(t, n and not (keys and c in keys))}" for c, (t, n) in columns.items()]
    if table == EVENTS_TABLE:
        engine = EVENTS_ENGINE
        cols.append(EVENTS_INDEX)
    elif keys:
        engine = f"ENGINE = ReplacingMergeTree ORDER BY ({', '.join(f'`{k}`' for k in keys)})"
    else:
        engine = "ENGINE = MergeTree ORDER BY tuple()"
    return f"CREATE TABLE IF NOT EXISTS `{table}` (\n    " + ",\n    ".join(cols) + f"\n) {engine}"


def stamped_version(con: ClickHouseConnection) -> int | None:
    tables = con.tables()
    if VERSION_TABLE in tables:
        row = con.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()
        if row and row[0] is not None:
            return int(row[0])
    return 1 if EVENTS_TABLE in tables else None


def migrate(con: ClickHouseConnection) -> list[str]:
    """Create the raw tables, or add what this version added (tables, nullable columns), and stamp the version.
    The same rules as memlens.warehouse.migrate; ClickHouse runs the ALTERs one by one (no transaction)."""
    from memlens import __version__
    from memlens.warehouse import WAREHOUSE_VERSION, WarehouseError, layout

    where = con.target.display()
    version = stamped_version(con)
    if version is not None and version > WAREHOUSE_VERSION:
        raise WarehouseError(f"warehouse {where} has layout version {version}, newer than this memlens "
                             f"{__version__} reads ({WAREHOUSE_VERSION}): upgrade memlens")
    have = con.columns()
    added: list[str] = []
    for table, columns in layout().items():
        if table not in have:
            con.command(table_ddl(table, columns))
            added.append(f"table {table}")
            continue
        for column, (dtype, nullable) in columns.items():
            if column in have[table]:
                continue
            if not nullable:
                raise WarehouseError(f"warehouse {where} cannot be migrated in place: {table}.{column} ({dtype} NOT "
                                     "NULL) is missing; collect into a new database")
            con.command(f"ALTER TABLE `{table}` ADD COLUMN `{column}` {ch_type(dtype, True)}")
            added.append(f"{table}.{column}")
    if version != WAREHOUSE_VERSION:
        con.command(f"TRUNCATE TABLE {VERSION_TABLE}")
        con.execute(f"INSERT INTO {VERSION_TABLE} VALUES (?, ?, ?)",
                    [WAREHOUSE_VERSION, __version__, _utcnow()])
    return added


def _utcnow():
    from memlens.collectors.base import utcnow

    return utcnow()


def apply_views(con: ClickHouseConnection) -> None:
    """The staged and metric views, from the same sql/ files as on DuckDB, translated."""
    from memlens.resources import model_files
    from memlens.schema import render_sql

    for layer in ("staged", "metrics"):
        for path in model_files(layer):
            try:
                con.execute(render_sql(path.read_text(encoding="utf-8")))
                _bare_names(con, path.name.removesuffix(".sql").split("_", 1)[1])
            except (ClickHouseError, chsql.TranslationError) as exc:
                raise ClickHouseError(f"sql/{layer}/{path.name} on ClickHouse: {exc}") from None


def _bare_names(con: ClickHouseConnection, view: str) -> None:
    """`SELECT h.*` over a join names a column `h.memory_id` in ClickHouse when another side has one too (DuckDB
    names it `memory_id`): give such a view its bare names back by selecting through it."""
    names = con.query_native(f"DESCRIBE TABLE `{view}`").column("name").to_pylist()
    dotted = [n for n in names if "." in n]
    if not dotted:
        return
    body = con.query_native("SELECT as_select FROM system.tables WHERE database = currentDatabase() AND name = "
                            "{v:String}", {"v": view}).column("as_select").to_pylist()[0]
    cols = ", ".join(f"`{n}` AS `{n.rsplit('.', 1)[1]}`" if "." in n else f"`{n}`" for n in names)
    con.command(f"CREATE OR REPLACE VIEW `{view}` AS SELECT {cols} FROM ({body})")


def connect(target: Target, cfg, *, read_only: bool = False) -> ClickHouseConnection:
    """Open a ClickHouse warehouse with every table and view in place (created or migrated when writing).
    `read_only`: nothing is created or written; the tables, views and config tables are the writer's."""
    from memlens.warehouse import WAREHOUSE_VERSION, WarehouseError, WarehouseMissing, load_config_tables

    con = ClickHouseConnection(target, read_only)
    try:
        con.set_final_tables(replacing_tables() | rollup_tables())
        if read_only:
            version = stamped_version(con)
            if version is None:
                raise WarehouseMissing(f"{target.display()} holds no memlens warehouse (no tables); load data first "
                                       "with `memlens collect logs` or `memlens demo`")
            if version != WAREHOUSE_VERSION:
                raise WarehouseError(f"warehouse {target.display()} has layout version {version}, this memlens "
                                     f"needs {WAREHOUSE_VERSION}: run `memlens migrate` with a memlens of that version")
        else:
            migrate(con)
            load_config_tables(con, cfg)
            apply_views(con)
    except BaseException:
        con.close()
        raise
    return con


# ---- rollups ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rollup:
    table: str
    select: str  # the rollup's SELECT in DuckDB's dialect, with $since
    keys: tuple[str, ...]  # its group columns: the replacing key


@cache
def rollups() -> tuple[Rollup, ...]:
    """The rollup definitions of sql/rollups (the same files DuckDB runs): each file's SELECT and group columns."""
    from memlens import rollups as duck_rollups

    out = []
    for path in duck_rollups.rollup_files():
        create = sqlglot.parse_one(path.read_text(encoding="utf-8"), read="duckdb")
        select = create.expression
        select.set("order", None)
        keys = tuple(e.alias_or_name for e in select.expressions if not e.find(exp.AggFunc))
        out.append(Rollup(duck_rollups._table_name(path), select.sql("duckdb"), keys))
    return tuple(out)


def rollup_tables() -> frozenset[str]:
    return frozenset(r.table for r in rollups())


def refresh_rollups(con: ClickHouseConnection, *, full: bool = False):
    """memlens.rollups.refresh on ClickHouse: the same SELECTs, into ReplacingMergeTree tables keyed by their group
    columns. Incremental (only rows appended since the last refresh, same config): the days from the earliest new
    event's day are aggregated again and their rows replace the old ones by key (groups never vanish: events are only
    appended). Otherwise the tables are built anew."""
    import time

    from memlens import rollups as duck_rollups
    from memlens.resources import MODELS, read_text

    t0 = time.perf_counter()
    con.set_final_tables(replacing_tables() | rollup_tables())
    key = duck_rollups.settings_key(con)
    since = None if full else duck_rollups._incremental_since(con, key)
    rows: dict[str, int] = {}
    for r in rollups():
        if since is None:
            con.command(f"DROP TABLE IF EXISTS `{r.table}`")
            statements, values = chsql.translate(r.select, {"since": None}, con._final_tables)
            order = ", ".join(f"`{k}`" for k in r.keys) or "tuple()"
            con.transport.command(
                f"CREATE TABLE `{r.table}` ENGINE = ReplacingMergeTree ORDER BY ({order}) "
                f"SETTINGS allow_nullable_key = 1 AS {statements[0][0]}", values)
        else:
            con.execute(f"INSERT INTO {r.table} {r.select}", {"since": since})
        rows[r.table] = con.execute(f"SELECT count(*) FROM {r.table}").fetchone()[0]
    state = sqlglot.parse_one(read_text(MODELS, "rollups", duck_rollups.STATE_FILE), read="duckdb").expression
    seconds = time.perf_counter() - t0
    statements, values = chsql.translate(state.sql("duckdb"), {"settings_key": key, "per_decade":
                                                                duck_rollups.HIST_PER_DECADE, "seconds": seconds},
                                         con._final_tables)
    con.command("DROP TABLE IF EXISTS agg_refresh_state")
    con.transport.command(f"CREATE TABLE agg_refresh_state ENGINE = MergeTree ORDER BY tuple() AS {statements[0][0]}",
                          values)
    return duck_rollups.RefreshResult(time.perf_counter() - t0, rows, since)
