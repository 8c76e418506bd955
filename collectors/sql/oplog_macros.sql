-- Helpers for collectors/sql/oplog_reasons.sql (temp macros, per connection): each returns the reason a value
-- is unusable, naming the field, or NULL when it is fine.

-- Values of one of a closed set (the schema's choices); the value is cut to 40 characters in the reason.
CREATE OR REPLACE TEMP MACRO ml_choice_err(s, name, choices) AS
    CASE WHEN s IS NOT NULL AND NOT list_contains(choices, s)
         THEN name || ': unknown value "' || left(s, 40) || '" (expected one of ' || array_to_string(choices, ', ')
              || ')' END;

CREATE OR REPLACE TEMP MACRO ml_finite_err(x, name) AS
    CASE WHEN NOT isfinite(x) THEN name || ': not a finite number (' || x || ')' END;

-- Durations (the schema's nonnegative fields, e.g. the phase timings).
CREATE OR REPLACE TEMP MACRO ml_negative_err(x, name) AS
    CASE WHEN x < 0 THEN name || ': negative (' || x || ')' END;
