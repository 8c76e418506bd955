"""memlens.chsql, one case per translation rule: the same DuckDB-dialect statement run on DuckDB and, translated,
on ClickHouse (chdb) gives the same rows, which are also the hand-computed answer."""

from __future__ import annotations

from datetime import datetime

import pytest

from memlens.warehouse import connect

CASES = [
    # quantile_cont = numpy 'linear' on both: [1, 2, 3, 10] → P50 2.5, P90 7.9
    ("SELECT p50, q[2] FROM (SELECT quantile_cont(x, 0.5) AS p50, quantile_cont(x, [0.5, 0.9]) AS q "
     "FROM (SELECT unnest([1, 2, 3, 10]) :: DOUBLE AS x))", [(2.5, pytest.approx(7.9))]),
    ("SELECT mode(x) FROM (SELECT unnest(['a', 'b', 'b']) AS x)", [("b",)]),
    ("SELECT concat_ws('/', 'a', NULL, 'c')", [("a/c",)]),
    ("SELECT TRY_CAST(TRY_CAST('2026-11-20T12:30:00.250+02:00' AS TIMESTAMPTZ) AS TIMESTAMP), "
     "TRY_CAST('not a time' AS TIMESTAMPTZ) IS NULL", [(datetime(2026, 11, 20, 10, 30, 0, 250000), True)]),
    ("SELECT list_position(['x', 'y'], 'y'), list_position(['x', 'y'], 'z')", [(2, None)]),
    ("SELECT s.k FROM (SELECT {'k': 7} AS s)", [(7,)]),
    ("SELECT 1 < 2 AS yes", [(True,)]),
    ("SELECT epoch(TIMESTAMP '2026-01-01 00:00:01')", [(1767225601.0,)]),
    ("SELECT g, any_value(v) AS v FROM (SELECT 1 AS g, 20 AS v UNION ALL SELECT 2, 10) GROUP BY g ORDER BY v",
     [(2, 10), (1, 20)]),
    ("SELECT [1, 2, 3][2], [1, 2, 3][5]", [(2, None)]),
]


@pytest.fixture(scope="module")
def engines():
    duck, ch = connect(":memory:"), connect("chdb://:memory:")
    yield duck, ch
    duck.close()
    ch.close()


@pytest.mark.parametrize(("sql", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_rule_gives_duckdbs_answer_on_clickhouse(engines, sql, expected):
    duck, ch = engines
    assert duck.execute(sql).fetchall() == expected
    assert ch.execute(sql).fetchall() == expected
