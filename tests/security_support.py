"""Secret scanners for the security tests: files (plain and gzip), warehouse tables (every text column), text."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb

# Real-looking credentials (right prefixes and lengths, never valid anywhere).
OPENAI_KEY = "sk-proj-Zq8vN3kLm2Xr7Tb5Wc1Yh9Jd4Gf6Ps0Ua8Qe3Ri7To5Vy2Bn4Mx6Kz1Lw9Hs3Dj"
MEM0_KEY = "m0-Qm7Rk2Vn9Xb4Tz6Wc1Lp8Hd3Gs5Fj0Ya2Ue7Io4Kq9Mv3Nr6Bx1Zt8Cw"
SECRETS = (OPENAI_KEY, MEM0_KEY)


def file_leaks(path: Path, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    """Secrets found in a file's bytes (gzip files are decompressed first)."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return [s for s in secrets if s.encode() in data]


def tree_leaks(root: Path, secrets: tuple[str, ...] = SECRETS) -> dict[str, list[str]]:
    """Every file under root holding a secret (names relative to root)."""
    found = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and (hits := file_leaks(p, secrets)):
            found[str(p.relative_to(root))] = hits
    return found


def warehouse_leaks(con: duckdb.DuckDBPyConnection, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    """`table.column` of every base-table text column holding a secret (DuckDB compresses strings, so a byte scan
    of the file is not enough: each column is searched, the secret bound as a parameter)."""
    cols = con.execute(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE t.table_type = 'BASE TABLE' AND (c.data_type LIKE 'VARCHAR%' OR c.data_type LIKE '%[]' "
        "OR c.data_type LIKE 'STRUCT%' OR c.data_type = 'JSON')").fetchall()
    hits = []
    for table, col in cols:
        for secret in secrets:
            # Identifiers come from the catalog (quoted); the secret is a bound parameter.
            sql = f'SELECT count(*) FROM "{table}" WHERE contains(CAST("{col}" AS VARCHAR), ?)'
            if con.execute(sql, [secret]).fetchone()[0]:
                hits.append(f"{table}.{col}")
    return hits
