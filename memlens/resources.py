"""The SQL text memlens ships inside its package, read as package resources (`importlib.resources`).

Works the same from a checkout (editable install), an installed wheel or a zip: nothing is read relative to
a repository root. A package keeps its fixed queries in a `sql/` folder beside its modules; the warehouse
models live in the `memlens.sql` package (`raw/`, `staged/`, `metrics/`, `rollups/`).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

MODELS = "memlens.sql"  # the warehouse's SQL models (the repository's top-level sql/ folder)


def resource(package: str, *parts: str) -> Traversable:
    """A file or folder shipped in `package` (a dotted package name)."""
    return files(package).joinpath(*parts)


@cache
def read_text(package: str, *parts: str) -> str:
    """Text of a file shipped in `package`. Cached: package files do not change while memlens runs."""
    return resource(package, *parts).read_text(encoding="utf-8")


def read_sql(package: str, name: str) -> str:
    """Text of `name` in the `sql/` folder of `package` (call with `__package__`)."""
    return read_text(package, "sql", name)


def model_files(*folder: str) -> list[Traversable]:
    """The `.sql` files of a folder of the warehouse models, in name order (their apply order)."""
    return sorted((p for p in resource(MODELS, *folder).iterdir() if p.name.endswith(".sql")),
                  key=lambda p: p.name)
