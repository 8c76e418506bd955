-- oplog_checked: the lines of the current batch (view `oplog_chunk(line_no, line)`), parsed and validated.
-- grain: line_no (blank lines skipped). columns: line_no, reason (NULL here; set by oplog_reasons.sql on the
-- lines that are not fast_ok), is_json, is_object, ts_text (the raw ts), dup_key (the first top-level key the
-- line gives twice, else NULL), fast_ok (BOOLEAN loadable on the fast path), then the schema-v1 columns typed
-- as in raw_op_events.
--
-- A field is valid when its JSON type fits (a number is not a string, 1.5 is not an integer; absent or null
-- = not given) and its value casts to the column type (2^40 is not an INTEGER); ts must be an ISO 8601 string
-- (an offset is converted to UTC). Fast path: one typed parse (from_json) and one pass for the JSON types of
-- all fields (json_type with every path, as text); each distinct type list (a log has a handful: the shapes
-- of its events) is matched once against $type_pattern, and the number of fields given must equal the number
-- of typed values (nothing failed to cast). Lines that miss it get per-field reasons in oplog_reasons.sql.
-- The field lists ({{ op_event_* }} slots) are generated from memlens/schema.py FIELDS (schema.render_sql).
-- $safe: false on a batch's first try, where each line is parsed without testing it first and a malformed line
-- makes the whole statement fail; the caller then runs it again with $safe true, which tests each line with
-- json_valid before parsing it (one more pass over every line, paid only by a batch that holds a malformed line).
-- Parameters (from memlens/schema.py and the config): $safe, $paths (JSON path per field), $type_pattern (regex over
-- the list of JSON types), $schema_version (highest supported), $choices_<field> (the schema's choices),
-- $max_latency_ms, $latest_ts (now + allowed clock skew), $earliest_ts (collector.min_ts).
CREATE OR REPLACE TEMP TABLE oplog_checked AS
WITH lines AS (
    SELECT line_no, line, is_json,
           is_json AND (starts_with(line, '{') OR starts_with(ltrim(line), '{')) AS is_object
    FROM (SELECT line_no, line, CASE WHEN $safe THEN json_valid(line) ELSE true END AS is_json FROM oplog_chunk)
    -- blank lines are not records (the cheap test first: trimming every line costs as much as parsing it)
    WHERE starts_with(line, '{') OR trim(line, chr(32) || chr(9) || chr(10) || chr(13)) <> ''
), parsed AS MATERIALIZED (
    -- not $safe: every line is parsed (a malformed one fails the statement; the parsers reject what json_valid
    -- does), is_json is true. The line itself is not kept: only what is read from it.
    SELECT line_no, is_json, is_object, t, ty::VARCHAR AS types,
        -- a key given twice makes the line ambiguous (DuckDB keeps the first value, Python's json and jq the
        -- last). A line whose number of keys equals the number of schema fields it gives has neither a repeated
        -- nor an unknown key; only the others (rare) have their keys listed to find the first repeated one.
        CASE WHEN ty IS NULL THEN NULL  -- not an object (or not JSON): not parsed again
             WHEN len(json_keys(line)) <> list_count(ty)
             THEN list_filter(json_keys(line), lambda k, i: list_position(json_keys(line), k) < i)[1] END AS dup_key
    FROM (
        SELECT line_no, line, is_json, is_object,
            CASE WHEN is_object OR NOT $safe THEN from_json(line, {{ op_event_json_structure }}) END AS t,
            CASE WHEN is_object OR NOT $safe THEN json_type(line, $paths) END AS ty
        FROM lines
    )
), signatures AS (
    -- a log has few distinct type lists (shapes of events): each is checked once, not once per line
    SELECT types, regexp_full_match(types, $type_pattern) AS types_ok,
           len($paths) - (length(types) - length(replace(types, 'NULL', ''))) // 4 AS n_given
    FROM (SELECT DISTINCT types FROM parsed WHERE types IS NOT NULL)
), typed AS (
    SELECT line_no, is_json, is_object, types_ok, n_given, dup_key, t,
        {{ op_event_typed_fields }},
        t.ts AS ts_text,
        -- typed values present: equal to the number of non-null fields only when every one of them cast
        {{ op_event_typed_count }} AS n_typed
    FROM parsed LEFT JOIN signatures USING (types)
)
SELECT line_no, NULL::VARCHAR AS reason, is_json, is_object, ts_text, dup_key,
    coalesce(is_object AND types_ok AND n_given = n_typed AND dup_key IS NULL
        AND service IS NOT NULL  -- NULL in any other required field fails a check below
        AND schema_version BETWEEN 1 AND $schema_version AND event_id <> ''
        AND coalesce(least({{ op_event_integers }}), 0) >= 0
        AND ts IS NOT NULL AND ts <= $latest_ts AND ts >= $earliest_ts
        AND isfinite(latency_ms) AND latency_ms >= 0 AND latency_ms < $max_latency_ms
        AND {{ op_event_finite_checks }}
        AND {{ op_event_nonnegative_checks }}
        AND {{ op_event_choice_checks }},
        false) AS fast_ok,
    {{ op_event_names }}
FROM typed;
