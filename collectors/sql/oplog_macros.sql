-- Validation helpers for collectors/oplog.py (temp macros, per connection). Each *_err macro takes one
-- field of a parsed line (a JSON value, or NULL when absent / JSON null) and returns the reason it is
-- unusable, naming the field, or NULL when it is fine. Absent optional fields are fine.
CREATE OR REPLACE TEMP MACRO ml_required_err(v, name) AS
    CASE WHEN v IS NULL THEN 'missing required field ' || name END;

CREATE OR REPLACE TEMP MACRO ml_string_err(v, name) AS
    CASE WHEN v IS NOT NULL AND json_type(v) <> 'VARCHAR'
         THEN name || ': expected string, got ' || lower(json_type(v)) END;

-- Counts and sizes: JSON integers, 0 <= n <= INTEGER max.
CREATE OR REPLACE TEMP MACRO ml_count_err(v, name) AS
    CASE WHEN v IS NULL THEN NULL
         WHEN json_type(v) NOT IN ('BIGINT', 'UBIGINT')
         THEN name || ': expected integer, got ' || lower(json_type(v))
         WHEN TRY_CAST(v::VARCHAR AS INTEGER) IS NULL OR TRY_CAST(v::VARCHAR AS INTEGER) < 0
         THEN name || ': integer out of range (' || left(v::VARCHAR, 24) || ')' END;

CREATE OR REPLACE TEMP MACRO ml_number_err(v, name) AS
    CASE WHEN v IS NULL THEN NULL
         WHEN json_type(v) NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE')
         THEN name || ': expected number, got ' || lower(json_type(v))
         WHEN NOT isfinite(TRY_CAST(v::VARCHAR AS DOUBLE))
         THEN name || ': not a finite number (' || left(v::VARCHAR, 24) || ')' END;

CREATE OR REPLACE TEMP MACRO ml_bool_err(v, name) AS
    CASE WHEN v IS NOT NULL AND json_type(v) <> 'BOOLEAN'
         THEN name || ': expected boolean, got ' || lower(json_type(v)) END;

CREATE OR REPLACE TEMP MACRO ml_strings_err(v, name) AS
    CASE WHEN v IS NULL THEN NULL
         WHEN json_type(v) <> 'ARRAY' THEN name || ': expected array of strings, got ' || lower(json_type(v))
         WHEN len(list_filter(json_type(v, '$[*]'), lambda t: t <> 'VARCHAR')) > 0
         THEN name || ': expected array of strings, has a non-string element' END;

CREATE OR REPLACE TEMP MACRO ml_choice_err(s, name, choices) AS
    CASE WHEN s IS NOT NULL AND NOT list_contains(choices, s)
         THEN name || ': unknown value "' || left(s, 40) || '" (expected one of ' || array_to_string(choices, ', ')
              || ')' END;

-- JSON value -> typed column (NULL when absent or unusable; only used for lines that passed every check).
CREATE OR REPLACE TEMP MACRO ml_str(v) AS v ->> '$';
CREATE OR REPLACE TEMP MACRO ml_int(v) AS TRY_CAST(v::VARCHAR AS INTEGER);
CREATE OR REPLACE TEMP MACRO ml_double(v) AS TRY_CAST(v::VARCHAR AS DOUBLE);
CREATE OR REPLACE TEMP MACRO ml_bool(v) AS TRY_CAST(v::VARCHAR AS BOOLEAN);
CREATE OR REPLACE TEMP MACRO ml_strings(v) AS TRY_CAST(v AS VARCHAR[]);
-- ISO 8601 with or without offset; an offset is converted to UTC (the session time zone is UTC).
CREATE OR REPLACE TEMP MACRO ml_ts(v) AS TRY_CAST(TRY_CAST(v ->> '$' AS TIMESTAMPTZ) AS TIMESTAMP);
