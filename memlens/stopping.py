"""Which stop signal (SIGINT, SIGTERM) this process received while memlens.cli.main() ran.

A signal's handler raises where the main thread is; when that is inside DuckDB, DuckDB reports its own error
("Query interrupted", or "… failed: KeyboardInterrupt") instead of the exception the handler raised. The
collectors read `received` to tell such an error from a real failure (collectors/base.py `swallowed_interrupt`).
No imports: the base install (instrumentation only) loads it too."""

from __future__ import annotations

received: list[str] = []
