"""One colour per thing a chart is split by, the same on every chart of every page: search is always the same blue,
whichever chart, filter or page shows it (tests/test_dashboard_colors.py checks every chart the pages build).

Operations, phases and modes have fixed colours (the op log's and memlens.schema's names); other split values
(services, users, ...) take the colour of their place among all the values the warehouse holds (`among`: the same on
every page and in every selection, and distinct for up to 10 values), or failing that one from their name's hash.
Red is kept for targets and thresholds (ui.target_line) and grey for the total of all operations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from memlens.schema import OPS, PHASES

TOTAL = "all"  # the total series (layer.with_total's label)
TOTAL_COLOR = "#444444"
OP: dict[str, str] = {
    "search": "#1f77b4", "add": "#ff7f0e", "get": "#2ca02c", "get_all": "#9467bd", "update": "#8c564b",
    "delete": "#e377c2", "delete_all": "#bcbd22", "history": "#17becf", TOTAL: TOTAL_COLOR,
}
PHASE: dict[str, str] = {
    "embedding": "#4e79a7", "vector_search": "#f28e2b", "vector_read": "#edc948", "vector_write": "#b07aa1",
    "rerank": "#76b7b2", "llm": "#59a14f", "history": "#9c755f", "graph": "#ff9da7", "other": "#bab0ac",
}
MODE: dict[str, str] = {"oss": "#4c72b0", "platform": "#dd8452"}
# Everything else: a colour by the value's name (stable across pages and selections; two values may share one).
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd",
           "#2f4b7c")
assert set(OPS) <= set(OP) and set(PHASES) <= set(PHASE)


def color(kind: str, value: object, among: Sequence[str] | None = None) -> str:
    """The colour of `value` when a chart splits by `kind` ('op', 'phase', 'mode', or any other dimension);
    `among`: every value of that dimension in the warehouse (not only those shown), for distinct colours."""
    name = str(value)
    if name == TOTAL:
        return TOTAL_COLOR
    fixed = {"op": OP, "phase": PHASE, "mode": MODE}.get(kind, {})
    if name in fixed:
        return fixed[name]
    if among and name in among:
        return PALETTE[sorted(set(among)).index(name) % len(PALETTE)]
    return PALETTE[int(hashlib.md5(f"{kind}:{name}".encode(), usedforsecurity=False).hexdigest(), 16) % len(PALETTE)]
