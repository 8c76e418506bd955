-- Names the problem of every line of oplog_checked that missed the fast path (fast_ok false): the first
-- failing check, naming the field (the definition of a valid line; the fast path only ever accepts lines it finds
-- fine). Lines that turn out fine (an unknown extra key, an explicit null) keep
-- reason NULL and load. Field lists: {{ op_event_* }} slots, generated from memlens/schema.py. Parameters: as oplog_check.sql, plus $paths (JSON path per field), $names, $allowed (JSON types accepted per field),
-- $expected (their description), $required (per field) and $int_names (the integer fields), in schema order.
UPDATE oplog_checked AS o SET reason = r.reason
FROM (
    WITH slow AS (
        SELECT c.*, line,
            CASE WHEN is_object THEN json_type(line, $paths) END AS ty,
            [{{ op_event_typed_nulls }}] AS typed_null,
            [{{ op_event_integers }}] AS ints
        FROM oplog_checked c JOIN oplog_chunk USING (line_no)
        WHERE NOT c.fast_ok
    ), slow_checked AS (
        SELECT *,
            -- a key given twice makes the line ambiguous (DuckDB keeps the first value, Python's json and jq the
            -- last). A line whose number of keys equals the number of schema fields it gives (null or not) has
            -- neither a repeated nor an unknown key; the others have their keys listed to find a repeated one.
            CASE WHEN is_object AND len(json_keys(line)) <> list_count(ty)
                 THEN list_filter(json_keys(line), lambda k, i: list_position(json_keys(line), k) < i)[1] END
                AS dup_key,
            list_filter(range(1, len($names) + 1), lambda i: $required[i] AND coalesce(ty[i], 'NULL') = 'NULL')
                AS missing,
            list_filter(range(1, len($names) + 1),
                        lambda i: NOT list_contains($allowed[i], coalesce(ty[i], 'NULL'))) AS wrong_type,
            list_filter(range(1, len($names) + 1), lambda i: coalesce(ty[i], 'NULL') <> 'NULL' AND typed_null[i])
                AS uncastable,
            list_filter(range(1, len(ints) + 1), lambda i: ints[i] < 0) AS negative
        FROM slow
    )
    SELECT line_no,
        coalesce(
            CASE WHEN NOT is_json THEN 'invalid JSON (truncated or malformed line)' END,
            CASE WHEN NOT is_object THEN 'not a JSON object (got ' || lower(json_type(line)) || ')' END,
            CASE WHEN dup_key IS NOT NULL THEN 'duplicate key ' || dup_key || ' (JSON readers disagree on which '
                 || 'value counts: the line is ambiguous)' END,
            CASE WHEN schema_version > $schema_version OR schema_version < 1
                 THEN 'schema_version ' || schema_version || ' not supported (this collector reads 1..'
                      || $schema_version || ')' END,
            CASE WHEN len(missing) > 0 THEN 'missing required field ' || $names[missing[1]] END,
            CASE WHEN len(wrong_type) > 0 THEN $names[wrong_type[1]] || ': expected ' || $expected[wrong_type[1]]
                      || ', got ' || lower(ty[wrong_type[1]]) END,
            CASE WHEN len(uncastable) > 0
                 THEN $names[uncastable[1]] || ': not readable as ' || $expected[uncastable[1]] || ' ('
                      || lower(ty[uncastable[1]]) || ' "' || left(json_extract_string(line, $paths[uncastable[1]]), 40)
                      || '")' END,
            CASE WHEN len(negative) > 0 THEN $int_names[negative[1]] || ': negative (' || ints[negative[1]] || ')' END,
            CASE WHEN event_id = '' THEN 'event_id: empty string' END,
            CASE WHEN ts IS NULL THEN 'ts: not an ISO 8601 timestamp ("' || left(ts_text, 40) || '")' END,
            CASE WHEN ts > $latest_ts THEN 'ts: ' || strftime(ts, '%Y-%m-%dT%H:%M:%S') || ' is in the future' END,
            CASE WHEN ts < $earliest_ts THEN 'ts: ' || strftime(ts, '%Y-%m-%dT%H:%M:%S') || ' is before collector.min_ts '
                 || strftime($earliest_ts, '%Y-%m-%d') END,
            ml_finite_err(latency_ms, 'latency_ms'),
            CASE WHEN latency_ms < 0 THEN 'latency_ms: negative (' || latency_ms || ')' END,
            CASE WHEN latency_ms >= $max_latency_ms
                 THEN 'latency_ms: ' || latency_ms || ' is not below collector.max_latency_ms ' || $max_latency_ms END,
            {{ op_event_finite_reasons }},
            {{ op_event_nonnegative_reasons }},
            {{ op_event_choice_reasons }}
        ) AS reason
    FROM slow_checked
) AS r
WHERE o.line_no = r.line_no;
