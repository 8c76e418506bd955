-- The embedding model most adds recorded (any status): at most one row; a tie goes to the first name.
-- Columns: embedding_model. No parameters.
SELECT embedding_model FROM raw_op_events WHERE op = 'add' AND embedding_model IS NOT NULL
GROUP BY embedding_model ORDER BY count(*) DESC, embedding_model LIMIT 1
