-- Helpers for collectors/oplog.py (temp macros, per connection).

-- The first of a list of field indexes, as a reason naming that field (NULL when the list is empty).
CREATE OR REPLACE TEMP MACRO ml_first_field(idx, names, what) AS
    CASE WHEN len(idx) > 0 THEN names[idx[1]] || what END;

-- Values of one of a closed set (the schema's choices); the value is cut to 40 characters in the reason.
CREATE OR REPLACE TEMP MACRO ml_choice_err(s, name, choices) AS
    CASE WHEN s IS NOT NULL AND NOT list_contains(choices, s)
         THEN name || ': unknown value "' || left(s, 40) || '" (expected one of ' || array_to_string(choices, ', ')
              || ')' END;

CREATE OR REPLACE TEMP MACRO ml_finite_err(x, name) AS
    CASE WHEN NOT isfinite(x) THEN name || ': not a finite number (' || x || ')' END;
