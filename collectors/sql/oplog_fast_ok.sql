-- The value checks of a line (or a typed Parquet row), shared by both checks: the closing SELECT of the statement
-- that makes oplog_checked, over the CTE `typed` (line_no, is_json, is_object, ts_text, n_given: fields given,
-- keys: the line's keys (NULL for a typed row, whose columns are unique), then the fields typed as in
-- raw_op_events; NULL where the JSON type or the cast failed). Prepended by oplog_check.sql (JSON lines) or
-- oplog.check_rows (typed rows). fast_ok: every field given has a typed value, every key is a schema field given
-- once, and the values pass. Lines that are not fast_ok get their reason from oplog_reasons.sql (the definition).
-- Parameters: $names (the schema's fields), $schema_version (highest supported), $choices_<field> (the schema's
-- choices), $max_latency_ms, $latest_ts (now + allowed clock skew), $earliest_ts (collector.min_ts).
SELECT line_no, NULL::VARCHAR AS reason, is_json, is_object, ts_text,
    coalesce(is_object AND n_given = {{ op_event_typed_count }}
        -- every key is a schema field given once: as many keys as fields given, else (explicit nulls) no key
        -- repeated and none unknown (CASE: the lists are only compared on those lines)
        AND CASE WHEN keys IS NULL OR len(keys) = n_given THEN true
                 ELSE len(list_distinct(keys)) = len(keys) AND list_has_all($names, keys) END
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
