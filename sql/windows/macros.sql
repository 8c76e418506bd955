-- window macros: helpers of the sliding-window queries in this folder (TEMP: installed on the connection,
-- read-only ones included, before a window query runs).
-- grain: scalar macros. columns: none.
-- window_step(ts, step_s): the evaluation step that first counts a call stamped ts: ceil(ts / step) in steps of
--   step_s seconds since the epoch. The rate window (t - window, t] evaluated at t = step * step_s holds it.
CREATE OR REPLACE TEMP MACRO window_step(ts, step_s) AS CAST(ceil(epoch_us(ts) / (step_s * 1000000.0)) AS BIGINT);
-- window_infer(infer): the `infer` label value the instrumentation writes: 'true'/'false' on adds, '' elsewhere.
CREATE OR REPLACE TEMP MACRO window_infer(infer) AS
    CASE WHEN infer IS NULL THEN '' WHEN infer THEN 'true' ELSE 'false' END;
-- window_match_one(op, val, v): one PromQL matcher (op = != =~ !~; regexes fully anchored, RE2 in both) on v.
CREATE OR REPLACE TEMP MACRO window_match_one(op, val, v) AS
    CASE op WHEN '=' THEN v = val WHEN '!=' THEN v <> val WHEN '=~' THEN regexp_full_match(v, val)
            ELSE NOT regexp_full_match(v, val) END;
-- window_match(matchers, service, mode, call_mode, op, infer): every matcher (STRUCT(col, op, val)[]) holds on
--   the call's labels; no matchers = true.
CREATE OR REPLACE TEMP MACRO window_match(matchers, service, mode, call_mode, op, infer) AS coalesce(list_bool_and(
    list_transform(matchers, lambda m: window_match_one(m.op, m.val,
        CASE m.col WHEN 'service' THEN service WHEN 'mode' THEN mode WHEN 'call_mode' THEN call_mode
                   WHEN 'op' THEN op ELSE infer END))), true);
-- window_hist_quantile(edges, buckets, q): Prometheus' histogram_quantile(q) over the calls of a window, given as their
--   sorted bucket numbers (bucket b = (edges[b], edges[b + 1]]; edges = 0, the finite bounds, the last bound again
--   for +Inf). The rank q * calls falls in the first bucket whose cumulative count reaches it: that of the
--   ceil(rank)-th call. Linear inside the bucket from the calls below it; the lowest bucket starts at 0; a rank in
--   +Inf gives the highest finite bound, as histogram_quantile does.
CREATE OR REPLACE TEMP MACRO window_hist_bucket(buckets, q) AS buckets[CAST(ceil(q * len(buckets)) AS BIGINT)];
CREATE OR REPLACE TEMP MACRO window_hist_interpolate(edges, buckets, b, rank) AS
    edges[b] + (edges[b + 1] - edges[b])
        * ((rank - (list_position(buckets, b) - 1)) / len(list_filter(buckets, lambda x: x = b)));
CREATE OR REPLACE TEMP MACRO window_hist_quantile(edges, buckets, q) AS
    window_hist_interpolate(edges, buckets, window_hist_bucket(buckets, q), q * len(buckets));
