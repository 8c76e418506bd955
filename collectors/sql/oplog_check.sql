-- oplog_checked: the lines of the current batch (view `oplog_chunk(line_no, line)`), parsed and validated.
-- grain: line_no (blank lines skipped). columns: line_no, reason (NULL here; set by oplog_reasons.sql on the
-- lines that are not fast_ok), is_json, is_object, ts_text (the raw ts), fast_ok (BOOLEAN loadable on the fast
-- path), then the schema-v1 columns typed as in raw_op_events.
--
-- A field is valid when its JSON type fits (a number is not a string, 1.5 is not an integer; absent or null
-- = not given) and its value casts to the column type (2^40 is not an INTEGER); ts must be an ISO 8601 string
-- (an offset is converted to UTC). Fast path, one parse per line: from_json reads every field as its JSON text,
-- each text becomes the field's typed value only when its JSON type fits (ml_json_* in oplog_macros.sql, the
-- same verdict as json_type) and it casts; a line is fast_ok when every field it gives has a typed value, its
-- keys are schema fields given once and the value checks hold (oplog_fast_ok.sql, shared with the typed Parquet
-- rows' check). Lines that miss it get per-field reasons in oplog_reasons.sql (which may find them fine: an
-- unknown extra key). The field lists ({{ op_event_* }} slots)
-- are generated from memlens/schema.py FIELDS (schema.render_sql).
-- $safe: false on a batch's first try, where each line is parsed without testing it first and a malformed line
-- makes the whole statement fail; the caller then runs it again with $safe true, which tests each line with
-- json_valid before parsing it (one more pass over every line, paid only by a batch that holds a malformed line).
-- Parameters (from memlens/schema.py and the config): $safe, $names (the schema's fields), $schema_version (highest supported),
-- $choices_<field> (the schema's choices), $max_latency_ms, $latest_ts (now + allowed clock skew), $earliest_ts
-- (collector.min_ts).
CREATE OR REPLACE TEMP TABLE oplog_checked AS
WITH lines AS (
    SELECT line_no, line, is_json,
           is_json AND (starts_with(line, '{') OR starts_with(ltrim(line), '{')) AS is_object
    FROM (SELECT line_no, line, CASE WHEN $safe THEN json_valid(line) ELSE true END AS is_json FROM oplog_chunk)
    -- blank lines are not records (the cheap test first: trimming every line costs as much as parsing it)
    WHERE starts_with(line, '{') OR trim(line, chr(32) || chr(9) || chr(10) || chr(13)) <> ''
), parsed AS (
    -- not $safe: every line is parsed (a malformed one fails the statement; the parser rejects what json_valid
    -- does), is_json is true. A line that is not an object reads as all NULL.
    SELECT line_no, line, is_json, is_object,
        CASE WHEN is_object OR NOT $safe THEN from_json(line, {{ op_event_json_structure }}) END AS t
    FROM lines
), texts AS (
    SELECT line_no, line, is_json, is_object, t, ml_json_string(t.ts) AS ts_text,
        {{ op_event_given_count }} AS n_given
    FROM parsed
), typed AS (
    SELECT line_no, is_json, is_object, ts_text, n_given, CASE WHEN is_object THEN json_keys(line) END AS keys,
        {{ op_event_typed_fields }}
    FROM texts
)
-- (the closing SELECT, the value checks: collectors/sql/oplog_fast_ok.sql, appended by oplog.check_lines)
