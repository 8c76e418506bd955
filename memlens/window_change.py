"""What changed in the selected window against the same window a week earlier: the evidence the Diagnosis page
sets beside its verdicts (which phase of search grew, which users and which query shapes got slower). Every number
is a metric of the layer (sql/layer) asked for both windows; this module only lines them up."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from memlens import figures, layer

# Query shapes of a search, as the layer keys them, and their words.
SHAPES = {"effective_limit": "top_k", "scope": "scope", "rerank_requested": "rerank"}
TOP = 5  # rows per table


@dataclass(frozen=True)
class Changes:
    phases: pd.DataFrame  # phase, ms_now, ms_before, change_ms (search time per call), by change, largest first
    users: pd.DataFrame   # user_id, ops_now, avg_ms_now, avg_ms_before, change_ms (all ops), slowest-grown first
    shapes: pd.DataFrame  # shape, value, ops_now, avg_ms_now, avg_ms_before, change_ms (searches)

    def evidence(self) -> list[str]:
        """One line per table: its largest growth, in words."""
        out = []
        grown = self.phases.dropna(subset=["change_ms"])
        if len(grown) and grown["change_ms"].iloc[0] > 0:
            r = grown.iloc[0]
            out.append(f"search time in {figures.PHASE_LABELS.get(r['phase'], r['phase'])}: {r['ms_before']:,.1f} "
                       f"→ {r['ms_now']:,.1f} ms per search ({r['change_ms']:+,.1f} ms)")
        for table, what in ((self.users, "user"), (self.shapes, "searches with")):
            grown = table.dropna(subset=["change_ms"])
            if len(grown) and grown["change_ms"].iloc[0] > 0:
                r = grown.iloc[0]  # a row as a Series: its fields by name (r.shape would be the Series' shape)
                name = f"{r['user_id']}" if what == "user" else f"{r['shape']} {r['value']}"
                out.append(f"{what} {name}: average {r['avg_ms_before']:,.0f} → {r['avg_ms_now']:,.0f} ms "
                           f"({r['change_ms']:+,.0f} ms, {int(r['ops_now']):,} calls now)")
        return out


def _side_by_side(now: pd.DataFrame, before: pd.DataFrame, on: list[str], value: str, name: str) -> pd.DataFrame:
    cols = [*on, value] + (["ops"] if "ops" in now.columns else [])
    out = now[cols].rename(columns={value: f"{name}_now", "ops": "ops_now"}).merge(
        before[[*on, value]].rename(columns={value: f"{name}_before"}), on=on, how="left")
    out["change_ms"] = out[f"{name}_now"] - out[f"{name}_before"]
    return out.sort_values("change_ms", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def changes(con: duckdb.DuckDBPyConnection, now: layer.Filters, before: layer.Filters,
            speed: layer.Speed = layer.EXACT) -> Changes:
    """The selection `now` against `before` (the same window a week earlier)."""
    s_now, s_before = figures.scoped(now, figures.SEARCH), figures.scoped(before, figures.SEARCH)
    empty_phases = pd.DataFrame(columns=["phase", "ms_now", "ms_before", "change_ms"])
    if s_now is None or s_before is None:
        phases, shapes = empty_phases, pd.DataFrame(columns=["shape", "value", "ops_now", "avg_ms_now",
                                                             "avg_ms_before", "change_ms"])
    else:
        phases = _side_by_side(layer.query(con, "phases", s_now, speed=speed),
                               layer.query(con, "phases", s_before, speed=speed), ["phase"], "avg_ms", "ms")
        phases = phases[["phase", "ms_now", "ms_before", "change_ms"]]
        parts = []
        for key, word in SHAPES.items():
            part = _side_by_side(layer.query(con, "latency", s_now, (key,), speed=speed),
                                 layer.query(con, "latency", s_before, (key,), speed=speed), [key], "avg_ms", "avg_ms")
            values = part[key].astype("string").fillna("not recorded").replace({"True": "on", "False": "off"})
            parts.append(part.drop(columns=[key]).assign(shape=word, value=values))
        shapes = pd.concat(parts, ignore_index=True)[["shape", "value", "ops_now", "avg_ms_now", "avg_ms_before",
                                                      "change_ms"]]
        shapes = shapes.sort_values("change_ms", ascending=False, na_position="last", kind="stable").head(TOP)
        shapes = shapes.reset_index(drop=True)
    users = _side_by_side(layer.query(con, "latency", now, ("user_id",), speed=speed),
                          layer.query(con, "latency", before, ("user_id",), speed=speed), ["user_id"], "avg_ms",
                          "avg_ms")
    users = users.assign(user_id=users["user_id"].astype("string").fillna("(no user)"))
    users = users[["user_id", "ops_now", "avg_ms_now", "avg_ms_before", "change_ms"]].head(TOP)
    return Changes(phases.reset_index(drop=True), users.reset_index(drop=True), shapes)
