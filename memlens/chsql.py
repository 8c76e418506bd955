"""memlens SQL on ClickHouse: the project's SQL is written once, in DuckDB's dialect, and this module translates
each statement for ClickHouse with SQLGlot plus the rules SQLGlot gets wrong for us.

Measured with SQLGlot 30.30 against chdb 26.9 (tests/test_chsql.py runs cases of these rules on both engines):
- `quantile_cont(x, q)` / `quantile_cont(x, [qs])` become `PERCENTILE_CONT`, which ClickHouse lacks: here
  `quantileExactInclusive(q)(x)` / `quantilesExactInclusive(q1, q2, ...)(x)` (both = numpy's 'linear').
- `mode(x)` has no ClickHouse twin: the most frequent value through `topK(1, 1000)` (exact below 1000 distinct
  values; used for error types), NULL when nothing was counted.
- `TRY_CAST(text AS TIMESTAMPTZ)` would be a cast to whole-second `DateTime` that fails on bad text: here
  `parseDateTime64BestEffortOrNull(text, 6, 'UTC')` (µs, an offset converted, NULL when unreadable; it also reads a
  few forms DuckDB refuses, such as a bare unix time).
- `concat_ws` becomes CONCAT_WS over COALESCE(x, '') (separators around NULLs): here NULLs are dropped as
  DuckDB does (`arrayStringConcat(arrayFilter(...))`).
- `list_position(list, x)`: `indexOf`, NULL (not 0) when absent.
- `epoch(ts)` / `epoch_ns(ts)` / `epoch_ms(ts)`, `hash(...)`, `regexp_extract(s, p)`, `array_to_string`:
  ClickHouse functions of the same meaning (hash values differ between engines; they only key rows).
- `ORDER BY x` where `x` names an aggregate's alias that is also a column: ordered by the aggregate (ClickHouse,
  preferring column names to aliases, would read the column).
- A predicate in a select list is `Bool` (ClickHouse would return UInt8 0/1 where DuckDB returns booleans).
- A qualified column in a select list gets its bare name as alias (ClickHouse would name it `t.col`).
- `INSERT OR REPLACE` is a plain INSERT (the tables it writes replace by key: ReplacingMergeTree);
  `UPDATE` is a synchronous `ALTER TABLE ... UPDATE` (only small bookkeeping tables are updated); `DELETE FROM t`
  without a condition is `TRUNCATE`.
- Parameters (`?`, `$name`) become ClickHouse query parameters `{name:Type}`, typed from the Python value and sent
  apart from the text (bound on the server, never pasted); a None is the literal NULL.

Semantics the session settings bring in line (memlens.clickhouse.SETTINGS): `join_use_nulls` (an unmatched LEFT
JOIN side is NULL, not 0 / ''), `aggregate_functions_null_for_empty` (sum / max of no rows is NULL, as in SQL),
`session_timezone = 'UTC'`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.clickhouse import ClickHouse

_TOPK_CAPACITY = 1000  # topK(1, capacity): exact while a group has fewer distinct values than this


class TranslationError(ValueError):
    """A statement this module cannot translate for ClickHouse (names the statement)."""


# ---- parameters ------------------------------------------------------------------------------------------------

def ch_type(value: Any) -> str | None:
    """The ClickHouse type a Python parameter value is sent as; None for NULL (sent as the literal NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, datetime):
        return "DateTime64(6)"
    if isinstance(value, date):
        return "Date"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list | tuple):
        inner = {ch_type(v) for v in value if v is not None} or {"String"}
        if len(inner) != 1:
            raise TranslationError(f"a list parameter must hold one type, got {sorted(inner)}")
        return f"Array({inner.pop()})"
    if hasattr(value, "item"):  # numpy scalars
        return ch_type(value.item())
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return "DateTime64(6)"
    raise TranslationError(f"unsupported parameter type {type(value).__name__}")


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def param_text(value: Any, nested: bool = False) -> str:
    """A parameter value in ClickHouse's text form for query parameters (escaped, as the HTTP interface takes
    `param_<name>`): strings escaped, quoted only inside arrays."""
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise TranslationError("timestamps are naive UTC in memlens; got an aware datetime")
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ",".join("NULL" if v is None else param_text(v, nested=True) for v in value) + "]"
    if isinstance(value, str):
        text = value.translate(_ESCAPES)
        return "'" + text.replace("'", "\\'") + "'" if nested else text
    return repr(value)


# ---- translation -----------------------------------------------------------------------------------------------

def _fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _parametric(name: str, params: Sequence[exp.Expression], args: Sequence[exp.Expression]) -> exp.Expression:
    """A parametric aggregate `name(params)(args)` (quantilesExactInclusive(0.5, 0.95)(x))."""
    return exp.ParameterizedAgg(this=name, expressions=list(params), params=list(args))


def _quantile(value: exp.Expression, q: exp.Expression) -> exp.Expression:
    """OrNull: no values → NULL (one quantile) or [] (several: indexing it gives NULL, see _rewrite's Bracket)."""
    if isinstance(q, exp.Array):
        return _parametric("quantilesExactInclusiveOrNull", q.expressions, [value])
    return _parametric("quantileExactInclusiveOrNull", [q], [value])


def _mode(agg: exp.Expression, value: exp.Expression) -> exp.Expression:
    """The most frequent value, NULL when none: topK(1, capacity)(x)[1], with `agg` the (maybe FILTERed) topK."""
    return exp.If(this=_fn("empty", agg.copy()), true=exp.Null(), false=_fn("arrayElement", agg, exp.Literal.number(1)))


def _topk(value: exp.Expression) -> exp.Expression:
    return _parametric("topK", [exp.Literal.number(1), exp.Literal.number(_TOPK_CAPACITY)], [value])


_TIMESTAMPS = (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ, exp.DataType.Type.DATETIME)
_PREDICATES = (exp.Predicate, exp.Connector, exp.Not)


def _rewrite(node: exp.Expression) -> exp.Expression:
    """One node, bottom-up (sqlglot's transform)."""
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.Mode):
        value = node.this.this
        return _mode(exp.Filter(this=_topk(value.copy()), expression=node.expression.copy()), value)
    if isinstance(node, exp.Mode) and not isinstance(node.parent, exp.Filter):
        return _mode(_topk(node.this.copy()), node.this)
    if isinstance(node, exp.PercentileCont):
        return _quantile(node.this, node.expression)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "quantile_cont":
        return _quantile(*node.expressions)
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:  # list[i]: NULL past the end, as in DuckDB
        index = node.expressions[0]
        if isinstance(index, exp.Literal) and not index.is_string:  # sqlglot holds DuckDB's 1-based index as 0-based
            return _fn("arrayElementOrNull", node.this, exp.Literal.number(int(index.name) + 1))
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.TIMESTAMPTZ:  # text → instant, µs, in UTC
        parse = "parseDateTime64BestEffortOrNull" if isinstance(node, exp.TryCast) else "parseDateTime64BestEffort"
        return _fn(parse, _fn("toString", node.this), exp.Literal.number(6), exp.Literal.string("UTC"))
    if isinstance(node, exp.DataType) and node.this in _TIMESTAMPS:  # sqlglot writes DateTime: whole seconds
        return exp.DataType.build("Nullable(DateTime64(6))", dialect="clickhouse")
    if isinstance(node, exp.LogicalAnd | exp.LogicalOr):  # bool_and / bool_or
        agg = exp.Min if isinstance(node, exp.LogicalAnd) else exp.Max
        return exp.cast(agg(this=_fn("toUInt8", node.this)), exp.DataType.build("Nullable(Bool)", dialect="clickhouse"))
    if isinstance(node, exp.Struct):  # {'k': v, ...} → a named tuple (enable_named_columns_in_function_tuple)
        items = []
        for e in node.expressions:
            if not isinstance(e, exp.PropertyEQ | exp.Slice | exp.Alias):
                raise TranslationError("a struct literal without field names")
            key, value = (e.alias, e.this) if isinstance(e, exp.Alias) else (e.this.name, e.expression)
            items.append(exp.alias_(value, key, quoted=True))
        return _fn("tuple", *items)
    if isinstance(node, exp.ConcatWs):
        sep, *parts = node.expressions
        x = exp.to_identifier("x")
        keep = exp.Lambda(this=exp.Not(this=exp.Is(this=exp.column(x), expression=exp.Null())), expressions=[x])
        return _fn("arrayStringConcat", _fn("arrayFilter", keep, exp.Array(expressions=parts)), sep)
    if isinstance(node, exp.ArrayToString):
        return _fn("arrayStringConcat", node.this, node.expression)
    if isinstance(node, exp.RegexpExtract):
        group = node.args.get("group")
        if group is not None and group.name not in ("", "0"):
            raise TranslationError("regexp_extract with a capture group index")
        return _fn("extract", node.this, node.expression)
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        if name == "list_has_all":
            return _fn("hasAll", *node.expressions)
        if name in ("list_position", "array_position"):  # 1-based; NULL when absent, as in DuckDB (indexOf: 0)
            return _fn("nullIf", _fn("indexOf", *node.expressions), exp.Literal.number(0))
        if name == "hash":  # a row key: cityHash64 of the values as text (NULLs hashed too, as DuckDB does)
            return _fn("cityHash64", _fn("toString", exp.Tuple(expressions=node.expressions)))
        if name in ("epoch", "epoch_ms", "epoch_ns", "epoch_us"):
            ts = exp.cast(node.expressions[0], exp.DataType.build("Nullable(DateTime64(6))", dialect="clickhouse"))
            micros = _fn("toUnixTimestamp64Micro", ts)
            scale = {"epoch": exp.Literal.number("1e6"), "epoch_ms": exp.Literal.number(1000)}.get(name)
            if name == "epoch_ns":
                return exp.Mul(this=micros, expression=exp.Literal.number(1000))
            return micros if scale is None else exp.Div(this=micros, expression=scale)
    if isinstance(node, exp.TimeToUnix):  # epoch() as parsed by sqlglot
        ts = exp.cast(node.this, exp.DataType.build("Nullable(DateTime64(6))", dialect="clickhouse"))
        return exp.Div(this=_fn("toUnixTimestamp64Micro", ts), expression=exp.Literal.number("1e6"))
    return node


def _projections(tree: exp.Expression) -> None:
    """Booleans stay booleans; qualified columns keep their bare names."""
    for select in tree.find_all(exp.Select):
        new = []
        for item in select.expressions:
            target = item.this if isinstance(item, exp.Alias) else item
            if isinstance(target, _PREDICATES):
                cast = exp.cast(target.copy(), exp.DataType.build("Nullable(Bool)", dialect="clickhouse"))
                item = exp.alias_(cast, item.alias) if isinstance(item, exp.Alias) else exp.alias_(
                    cast, target.sql("duckdb")[:60])
            elif isinstance(item, exp.Column) and item.table and not isinstance(item.this, exp.Star):
                item = exp.alias_(item, item.name)
            new.append(item)
        select.set("expressions", new)
        _order_by_aggregate_aliases(select)


def _order_by_aggregate_aliases(select: exp.Select) -> None:
    """`any_value(ts) AS ts ... ORDER BY ts`: DuckDB orders by the alias; ClickHouse (prefer_column_name_to_alias)
    would read the column, which is not aggregated: order by the aggregate itself."""
    order = select.args.get("order")
    if order is None:
        return
    aggregates = {item.alias: item.this for item in select.expressions
                  if isinstance(item, exp.Alias) and item.this.find(exp.AggFunc)}
    for column in list(order.find_all(exp.Column)):
        if not column.table and column.name in aggregates:
            column.replace(aggregates[column.name].copy())


def _statement(tree: exp.Expression) -> exp.Expression:
    if isinstance(tree, exp.Insert) and tree.args.get("alternative"):
        tree.set("alternative", None)  # INSERT OR REPLACE: the table replaces by key
    if isinstance(tree, exp.Delete) and not tree.args.get("where"):
        return exp.Command(this="TRUNCATE", expression=f"TABLE {tree.this.sql('clickhouse')}")
    return tree


def _update_sql(tree: exp.Update) -> str:
    sets = ", ".join(e.sql("clickhouse") for e in tree.expressions)
    where = tree.args["where"].this.sql("clickhouse") if tree.args.get("where") else "1"
    return f"ALTER TABLE {tree.this.sql('clickhouse')} UPDATE {sets} WHERE {where} SETTINGS mutations_sync = 2"


@lru_cache(maxsize=512)
def _parsed(sql: str) -> tuple[exp.Expression, ...]:
    try:
        trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    except sqlglot.errors.ParseError as exc:
        raise TranslationError(f"cannot parse for ClickHouse: {str(exc).splitlines()[0]}: {sql[:200]!r}") from None
    out = []
    for tree in trees:
        tree = tree.transform(_rewrite)
        _projections(tree)
        out.append(_statement(tree))
    return tuple(out)


def _final(tree: exp.Expression, tables: frozenset[str]) -> None:
    """Read the replacing tables merged (FINAL): a row replaced by a newer one, or delivered twice, counts once."""
    for table in list(tree.find_all(exp.Table)):
        if table.name not in tables or table.args.get("db") or not isinstance(table.parent, exp.From | exp.Join):
            continue
        table.replace(exp.Final(this=table.copy()))


_QUERIES = (exp.Query, exp.Describe)


@lru_cache(maxsize=2048)
def _translate(sql: str, types: tuple[tuple[str, str | None], ...], final_tables: frozenset[str],
               renames: tuple[tuple[str, str], ...] = ()) -> tuple[tuple[str, bool], ...]:
    typed = dict(types)
    renamed = dict(renames)
    out = []
    counter = 0
    for tree in _parsed(sql):
        tree = tree.copy()
        for table in tree.find_all(exp.Table):
            if table.name in renamed and not table.args.get("db"):
                table.set("this", exp.to_identifier(renamed[table.name], quoted=True))
        positional = [n for n in tree.find_all(exp.Placeholder, bfs=False) if n.name in ("", "?")]
        for node in positional:  # depth-first = the order the `?` appear in the text
            counter += 1
            node.set("this", f"p{counter}")
        for node in list(tree.find_all(exp.Placeholder)):
            name = node.name
            if name not in typed:
                raise TranslationError(f"no value for parameter {name!r}")
            kind = typed[name]
            if kind is None:
                node.replace(exp.Null())
            else:
                node.set("kind", exp.Var(this=kind))
        for trunc in list(tree.find_all(exp.TimestampTrunc, exp.DateTrunc)):
            if isinstance(trunc.args.get("unit"), exp.Null):  # date_trunc(NULL, ts) is NULL in DuckDB, an error here
                trunc.replace(exp.cast(exp.Null(), exp.DataType.build("Nullable(DateTime64(6))", dialect="clickhouse")))
        if final_tables:
            _final(tree, final_tables)
        if isinstance(tree, exp.Update):
            out.append((_update_sql(tree), False))
        elif isinstance(tree, exp.Command):
            out.append((f"{tree.name} {tree.expression}", False))
        else:
            out.append((tree.sql(dialect=_Dialect), isinstance(tree, _QUERIES)))
    return tuple(out)


def translate(sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None,
              final_tables: frozenset[str] = frozenset(), renames: Mapping[str, str] | None = None,
              ) -> tuple[list[tuple[str, bool]], dict[str, Any]]:
    """DuckDB-dialect `sql` (one or more statements) and its parameters → ClickHouse statements (text, returns
    rows) and the query parameters to send with them (name → value; NULLs are already literals in the text).
    Tables named in `final_tables` are read with FINAL; a table named in `renames` is read under its new name."""
    if params is None:
        named: dict[str, Any] = {}
    elif isinstance(params, Mapping):
        named = dict(params)
    else:
        named = {f"p{i + 1}": v for i, v in enumerate(params)}
    types = tuple(sorted((k, ch_type(v)) for k, v in named.items()))
    statements = _translate(sql, types, final_tables, tuple(sorted((renames or {}).items())))
    return list(statements), {k: v for k, v in named.items() if v is not None}


class _Dialect(ClickHouse):
    """ClickHouse as sqlglot writes it, with query parameters written `{name:Type}` (no space: the form
    clickhouse-connect recognises as server-side binding)."""

    class Generator(ClickHouse.Generator):
        def placeholder_sql(self, expression: exp.Placeholder) -> str:
            return f"{{{expression.name}:{self.sql(expression, 'kind')}}}"
