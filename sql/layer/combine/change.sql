-- change: one figure of a metric over two windows side by side, per group: the one definition of "change" and
-- "change %" (week over week in the cost review: its totals, breakdowns, movers and daily chart).
-- reads: previous_window, current_window (the metric's rows over each window, bound by memlens.layer.change:
-- the group keys and `value`, the figure's column)
-- grain: one row per group present in either window (/*keys*/: the group keys, each taken from whichever window
-- has the group; groups are matched with IS NOT DISTINCT FROM, so a NULL key such as "no user" is one group)
-- columns:
--   previous, current (DOUBLE the figure in each window; a group absent from a window is 0 there when
--   $zero_fill (additive figures: cost, calls), else NULL)
--   delta (DOUBLE current - previous; NULL when either side is NULL)
--   delta_pct (DOUBLE (current - previous) / previous; NULL when previous is 0 or NULL: a figure that appeared
--   from nothing has no percentage, reports say "new" or "no change")
--   share_of_change (DOUBLE delta / the sum of every group's delta: how much of the total change the group
--   explains; negative for a group that moved against the total; NULL when the total did not change (by less
--   than 1e-9, so float noise in an unchanged total does not make huge shares))
WITH joined AS (
    SELECT /*keys*/
        CASE WHEN $zero_fill THEN coalesce(p.value, 0) ELSE p.value END AS previous,
        CASE WHEN $zero_fill THEN coalesce(c.value, 0) ELSE c.value END AS current
    FROM current_window AS c
    FULL OUTER JOIN previous_window AS p ON /*match keys*/
)
SELECT
    *,
    current - previous AS delta,
    (current - previous) / nullif(previous, 0) AS delta_pct,
    CASE WHEN abs(sum(current - previous) OVER ()) >= 1e-9
         THEN (current - previous) / sum(current - previous) OVER () END AS share_of_change
FROM joined
