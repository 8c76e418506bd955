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

-- Helpers for collectors/sql/oplog_check.sql: a value given as its JSON text (from_json to JSON; NULL = absent or
-- JSON null) to the value of the field's JSON type, NULL when the JSON type differs (json_type's verdict, without
-- parsing the line again). A JSON text starts with '"' only when it is a string; a number's text is digits only
-- (an optional minus first) when json_type calls it an integer (BIGINT, UBIGINT), not DOUBLE.
CREATE OR REPLACE TEMP MACRO ml_json_string(v) AS
    CASE WHEN starts_with(v::VARCHAR, '"') THEN CASE WHEN contains(v::VARCHAR, '\') THEN json_extract_string(v, '$')
                                                     ELSE (v::VARCHAR)[2:-2] END END;

-- the text of an integer (a number without fraction or exponent); the caller casts it to the column's type
CREATE OR REPLACE TEMP MACRO ml_json_integer(v) AS
    CASE WHEN regexp_full_match(v::VARCHAR, '-?[0-9]+') THEN v::VARCHAR END;

-- (the text of a string, an array, an object or a boolean does not cast to DOUBLE)
CREATE OR REPLACE TEMP MACRO ml_json_number(v) AS TRY_CAST(v::VARCHAR AS DOUBLE);

CREATE OR REPLACE TEMP MACRO ml_json_boolean(v) AS CASE v::VARCHAR WHEN 'true' THEN true WHEN 'false' THEN false END;

-- an array's items as text (a number item as its digits), as from_json reads a VARCHAR[] field
CREATE OR REPLACE TEMP MACRO ml_json_list(v) AS
    CASE WHEN starts_with(v::VARCHAR, '[') THEN from_json(v, '["VARCHAR"]') END;
