"""One reader for the fixed SQL text a package keeps next to its modules (`<package>/sql/<name>.sql`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def read_sql(where: str | Path, name: str) -> str:
    """Text of `name` in the `sql/` folder beside module file `where` (or in directory `where` itself).

    Cached: the files ship with the package and do not change while it runs.
    """
    base = Path(where).resolve()
    folder = base if base.is_dir() else base.parent / "sql"
    return (folder / name).read_text(encoding="utf-8")
