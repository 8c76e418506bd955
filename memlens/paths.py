"""Where memlens keeps its files by default (overridable by config and MEMLENS_HOME)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_dir() -> Path:
    """<user data dir>/memlens, or $MEMLENS_HOME when set (tests point it at a temp dir)."""
    home = os.environ.get("MEMLENS_HOME")
    return Path(home).expanduser() if home else Path(platformdirs.user_data_dir("memlens"))

