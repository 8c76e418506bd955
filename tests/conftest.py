"""Test-wide environment: nothing touches $HOME, the network or a hub."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Before anything imports mem0 or transformers.
_HOME = Path(tempfile.mkdtemp(prefix="memlens-test-home-"))
os.environ["MEM0_TELEMETRY"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["MEM0_DIR"] = str(_HOME / "mem0")
os.environ["MEMLENS_HOME"] = str(_HOME / "memlens")
os.environ.pop("MEMLENS_CONFIG", None)
os.environ.pop("MEMLENS_WAREHOUSE", None)


# The metric layer's known-answer tests run on both engines: DuckDB and ClickHouse (in-process, chdb).
ENGINES = {"duckdb": ":memory:", "clickhouse": "chdb://:memory:"}
BOTH_ENGINES = ("test_layer_", "test_views_")


def pytest_generate_tests(metafunc):
    """The metric layer's tests (test_layer_*, test_views_*), and tests marked `both_engines` (the collectors'
    guarantees), run on both engines."""
    if "con" not in metafunc.fixturenames:
        return
    layer_test = metafunc.module.__name__.startswith(BOTH_ENGINES) \
        and metafunc.module.__name__ not in ("test_layer_parity", "test_views_catalog")
    if layer_test or metafunc.definition.get_closest_marker("both_engines"):
        metafunc.parametrize("con", list(ENGINES), indirect=True)


@pytest.fixture(scope="session")
def _clickhouse_warehouse():
    """One ClickHouse warehouse (chdb, in-process) for the session: creating its tables and views costs ~2 s, so
    each test gets it emptied instead (engine_support.empty)."""
    from memlens.warehouse import connect

    c = connect(ENGINES["clickhouse"])
    yield c
    c.close()


@pytest.fixture
def con(request):
    """A fresh in-memory warehouse with every table and view, default config (DuckDB unless parametrised)."""
    from memlens.warehouse import connect

    if getattr(request, "param", "duckdb") == "clickhouse":
        from engine_support import empty

        c = request.getfixturevalue("_clickhouse_warehouse")
        empty(c)
        yield c
        return
    c = connect(ENGINES["duckdb"])
    yield c
    c.close()
