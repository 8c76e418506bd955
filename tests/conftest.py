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


@pytest.fixture
def con():
    """A fresh in-memory warehouse with every table and view, default config."""
    from memlens.warehouse import connect

    c = connect(":memory:")
    yield c
    c.close()
