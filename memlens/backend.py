"""The one warehouse interface: where a warehouse is (a URL), and the few operations every consumer uses.

A warehouse is named by `warehouse.url` / `--warehouse`:
- `duckdb:///path/to/memlens.duckdb`, or a plain path: one DuckDB file (the default; memlens.warehouse);
- `clickhouse://user@host:8123/db` (`clickhouses://` over TLS): a ClickHouse server, its password read from the
  environment variable named by `warehouse.password_env` (never stored, never logged);
- `chdb:///path/to/folder` or `chdb://:memory:` (optional `?database=NAME`): ClickHouse's engine inside this process
  (PyPI `chdb`), for tests and single-machine trials.

The interface is the query surface both connections share, so no page or collector knows which engine it talks to:
`con.execute(sql, params)` with bound parameters (`?` or `$name`; SQL in DuckDB's dialect, which the ClickHouse
connection translates, memlens.chsql), then `.fetchall()`, `.fetchone()`, `.df()`, `.arrow()`; `con.executemany`;
`insert(con, table, arrow_table)` for batches; `transaction(con)` (a real transaction on DuckDB; on ClickHouse the
writers' order of inserts plus replacing keys stand in for it); `con.close()`. Errors are `duckdb.Error` on both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CLICKHOUSE_SCHEMES = ("clickhouse://", "clickhouses://", "chdb://")
DUCKDB_SCHEME = "duckdb://"


def is_clickhouse(target: str | Path | None) -> bool:
    return target is not None and str(target).startswith(CLICKHOUSE_SCHEMES)


def resolve(target: str | Path) -> str | Path:
    """A warehouse named by the user → a DuckDB file Path (plain paths, `duckdb:///path`, ':memory:') or the
    ClickHouse URL as given."""
    text = str(target)
    if is_clickhouse(text):
        return text
    if text.startswith(DUCKDB_SCHEME):
        rest = text[len(DUCKDB_SCHEME):]
        if rest in ("", ":memory:", "/:memory:"):
            return ":memory:"
        return Path(rest).expanduser()
    if text == ":memory:":
        return text
    return Path(text).expanduser()


def chosen(flag: str | None, cfg: Any) -> str | Path:
    """The warehouse a command works on: its --warehouse, else the config's (`$MEMLENS_WAREHOUSE`, `warehouse.url`,
    `warehouse.path`, the user data folder), resolved as above."""
    return resolve(flag) if flag else resolve(cfg.warehouse_url())


def display(target: str | Path, password_env: str | None = None) -> str:
    """The warehouse as messages name it (no secret: URLs never hold one)."""
    if is_clickhouse(target):
        from memlens.clickhouse import parse_url

        return parse_url(str(target), password_env).display()
    return str(target)


def exists(target: str | Path) -> bool:
    """Whether a DuckDB file is there; a ClickHouse warehouse is a database on a server: asked when opened."""
    return True if is_clickhouse(target) or str(target) == ":memory:" else Path(target).is_file()


def lock_anchor(target: str | Path) -> Path | None:
    """The file next to which this host's collection lock lives: the DuckDB file, or for ClickHouse a file in the
    user data folder named after the URL (several hosts collect into one cluster at once, each its own logs; one
    host runs one collection at a time)."""
    if str(target) == ":memory:" or "://:memory:" in str(target):
        return None
    if is_clickhouse(target):
        from memlens import paths

        digest = hashlib.sha256(display(target).encode()).hexdigest()[:16]  # one lock however the URL is spelt
        return paths.data_dir() / f"clickhouse-{digest}"
    return Path(target)


def dialect(con: Any) -> str:
    """'duckdb' or 'clickhouse': for the few places that must build different SQL (none of them a figure)."""
    return getattr(con, "dialect", "duckdb")


def table_names(con: Any) -> set[str]:
    """The tables (not views) of the warehouse."""
    if dialect(con) == "clickhouse":
        return {name for name, engine in con.tables().items() if "View" not in engine}
    return {name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = current_schema()").fetchall()}


def insert(con: Any, table: str, data: Any) -> int:
    """Append the rows of an Arrow table to `table`, columns matched by name; returns the row count."""
    if dialect(con) == "clickhouse":
        return con.insert(table, data)
    con.register("_memlens_insert", data)
    try:
        cols = ", ".join(f'"{c}"' for c in data.column_names)
        con.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM _memlens_insert')  # names from the table
    finally:
        con.unregister("_memlens_insert")
    return data.num_rows


def rows_with(con: Any, table: str, column: str, values: list[str]) -> Any:
    """The rows of `table` whose `column` is one of `values` (text), as an Arrow table; replaced rows merged."""
    if dialect(con) == "clickhouse":
        final = " FINAL" if con.reads_final(table) else ""
        return con.query_native(f"SELECT * FROM `{table}`{final} WHERE `{column}` IN {{values:Array(String)}}",
                                {"values": values})  # names from the caller's code, values bound
    return con.sql(f'SELECT * FROM "{table}" WHERE "{column}" IN (SELECT unnest($values))',
                   params={"values": values}).to_arrow_table()


@contextmanager
def duckdb_copy(con: Any, relations: tuple[str, ...]) -> Iterator[Any]:
    """`con` itself on DuckDB; for another engine an in-memory DuckDB holding a copy of `relations` (tables or views,
    read whole through `con`): for SQL that only DuckDB runs (sql/windows), over the same inputs."""
    if dialect(con) == "duckdb":
        yield con
        return
    import duckdb

    local = duckdb.connect(":memory:")
    try:
        local.execute("SET TimeZone = 'UTC'")
        for name in relations:
            rows = con.execute(f"SELECT * FROM {name}").arrow()  # names from the caller's code
            local.register("_memlens_copy", rows)
            local.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _memlens_copy')
            local.unregister("_memlens_copy")
        yield local
    finally:
        local.close()


@contextmanager
def transaction(con: Any) -> Iterator[None]:
    """One transaction on DuckDB; on ClickHouse the statements run in order (see memlens.clickhouse)."""
    if dialect(con) == "clickhouse":
        yield
        return
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
