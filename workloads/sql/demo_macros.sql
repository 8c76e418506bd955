-- Macros of the demo generator (workloads/demo.py): deterministic ids from the seed, so the same seed always
-- yields the same event ids, memory ids and query hashes (re-loading a demo is a no-op for the collectors).
CREATE OR REPLACE TEMP MACRO demo_uuid(txt) AS
    substr(md5(txt), 1, 8) || '-' || substr(md5(txt), 9, 4) || '-4' || substr(md5(txt), 14, 3) || '-a'
    || substr(md5(txt), 18, 3) || '-' || substr(md5(txt), 21, 12);
CREATE OR REPLACE TEMP MACRO demo_memory_id(seed, k) AS demo_uuid('memlens-demo-memory-' || seed || '-' || k);
CREATE OR REPLACE TEMP MACRO demo_user_id(u) AS CASE WHEN u >= 0 THEN 'demo-user-' || lpad(CAST(u AS VARCHAR), 4, '0') END;
CREATE OR REPLACE TEMP MACRO demo_ts(us) AS make_timestamp(us);
CREATE OR REPLACE TEMP MACRO demo_int(x) AS CASE WHEN x >= 0 THEN CAST(x AS BIGINT) END;
CREATE OR REPLACE TEMP MACRO demo_ms(x) AS CASE WHEN NOT isnan(x) THEN x END;  -- a phase's ms, nan = did not run
CREATE OR REPLACE TEMP MACRO demo_bool(x) AS CASE WHEN x >= 0 THEN x = 1 END;
-- Text key of memory k: about 6 % of memories repeat the previous memory's text exactly (mostly the same user:
-- consecutive memories come from the same add), so the snapshot has exact duplicates to find.
CREATE OR REPLACE TEMP MACRO demo_text_key(k) AS CASE WHEN k > 0 AND (k * 7919) % 100 < 6 THEN k - 1 ELSE k END;
-- Memory text of version v (0 = as added): a fact template, the key, padded to 30-149 bytes; revisions grow it.
CREATE OR REPLACE TEMP MACRO demo_memory_text(k, v) AS
    rpad(
        list_element(['Prefers vegetarian food', 'Works as a data engineer in Lisbon', 'Has a dog named Miso',
                      'Allergic to peanuts', 'Likes hiking on weekends', 'Uses VS Code with vim bindings',
                      'Plans a trip to Japan in spring', 'Is learning Portuguese', 'Drinks oat-milk flat whites',
                      'Prefers short answers with code examples', 'Support ticket about billing was resolved',
                      'Customer is on the enterprise plan'], 1 + CAST(demo_text_key(k) % 12 AS INTEGER))
        || ' #' || demo_text_key(k) || CASE WHEN v > 0 THEN ' (revision ' || v || ')' ELSE '' END || ' [demo]',
        CAST(30 + (demo_text_key(k) * 2654435761) % 120 + 9 * v AS INTEGER), ' and mentioned it again');
