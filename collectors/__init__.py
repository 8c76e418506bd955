"""Collectors: op logs, Mem0 history DB, memory snapshots and Prometheus into the DuckDB warehouse."""
