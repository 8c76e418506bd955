"""The DuckDB warehouse: open it, apply `sql/` layer by layer, load the config tables.

Layers are applied in order raw → staged → metrics, files sorted by name within a layer. Raw files
create tables (IF NOT EXISTS); staged and metrics files each hold one `CREATE OR REPLACE VIEW`, so
applying them at every connect is idempotent and picks up edited views.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from memlens.config import Config, default_config
from memlens.resources import model_files

LAYERS = ("raw", "staged", "metrics")


def view_names() -> list[str]:
    """Names of the staged and metrics views (file stem without its numeric order prefix)."""
    return [p.name.removesuffix(".sql").split("_", 1)[1] for layer in LAYERS[1:] for p in model_files(layer)]


def apply_layer(con: duckdb.DuckDBPyConnection, layer: str) -> None:
    for path in model_files(layer):
        try:
            con.execute(path.read_text(encoding="utf-8"))
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
    rows: list[tuple[str, str, float, float, float]] = []
    rows += [("embedding", m, p, 0.0, 0.0) for m, p in cfg.prices.embedding.items()]
    rows += [("llm", m, p.input, p.output, 0.0) for m, p in cfg.prices.llm.items()]
    rows += [("platform_call", op, 0.0, 0.0, p) for op, p in cfg.prices.platform_per_call.items()]
    con.execute("DELETE FROM cfg_prices")
    con.executemany("INSERT INTO cfg_prices VALUES (?, ?, ?, ?, ?)", rows)


def connect(path: str | Path | None = None, cfg: Config | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse with every table and view in place.

    `path=":memory:"` gives an in-memory warehouse (tests, benchmarks).
    """
    cfg = cfg or default_config()
    target = str(path) if path is not None else str(cfg.warehouse_path())
    if target != ":memory:":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(target)
    try:
        con.execute("SET TimeZone = 'UTC'")
        apply_layer(con, "raw")
        load_config_tables(con, cfg)  # views read the thresholds and prices from these tables
        apply_layer(con, "staged")
        apply_layer(con, "metrics")
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def open_warehouse(path: str | Path | None = None, cfg: Config | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, cfg)
    try:
        yield con
    finally:
        con.close()
