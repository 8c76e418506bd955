-- meta_warehouse: which layout version of the raw tables this warehouse holds (memlens/warehouse.py
-- WAREHOUSE_VERSION), stamped when it is created or migrated.
-- grain: one row. columns: version (layout version), memlens_version (the memlens that stamped it),
-- stamped_at (UTC).
CREATE TABLE IF NOT EXISTS meta_warehouse (
    version          INTEGER NOT NULL,
    memlens_version  VARCHAR NOT NULL,
    stamped_at       TIMESTAMP NOT NULL
);
