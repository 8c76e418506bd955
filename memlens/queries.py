"""Reading views for the CLI and the dashboard: view names are checked against `sql/`, values are bound."""

from __future__ import annotations

import duckdb
import pandas as pd

from memlens.warehouse import view_names


def read_view(con: duckdb.DuckDBPyConnection, view: str, limit: int | None = None) -> pd.DataFrame:
    if view not in view_names():
        raise KeyError(f"unknown view {view!r}")
    # The name is one of the files in sql/ (checked above); only it is interpolated, as a quoted identifier.
    rel = con.table(view)
    if limit is not None:
        rel = rel.limit(limit)
    return rel.df()
