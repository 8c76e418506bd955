"""Helpers for tests that run on both engines (DuckDB and ClickHouse through chdb)."""

from __future__ import annotations

from memlens.config import Config, default_config
from memlens.warehouse import load_config_tables

KEEP = {"meta_warehouse"}  # the layout version stamp


def empty(con, cfg: Config | None = None) -> None:
    """Empty every table of a ClickHouse warehouse (rollups too) and reload the config tables: a fresh warehouse
    without re-creating its tables and views."""
    for table, engine in con.tables().items():
        if table not in KEEP and "View" not in engine:
            con.command(f"TRUNCATE TABLE `{table}`")
    load_config_tables(con, cfg or default_config())
