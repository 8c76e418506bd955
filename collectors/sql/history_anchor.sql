-- SQLite, on mem0's history DB: what identifies the rows already read (rowid <= ?), so that a re-created table
-- (Memory.reset() drops and re-creates `history` in the same file: rowids start again at 1) or a rewritten one
-- is told apart from the same table grown. One row: rows up to the rowid, the id (as bytes) of the first row and
-- of the row at that rowid (NULL when it is gone). Parameters: ? (rowid), ? (the same rowid).
SELECT count(*),
       (SELECT CAST(id AS BLOB) FROM history ORDER BY rowid LIMIT 1),
       (SELECT CAST(id AS BLOB) FROM history WHERE rowid = ?)
FROM history WHERE rowid <= ?
