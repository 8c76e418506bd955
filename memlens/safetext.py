"""Text from logs and users, made safe for the formats memlens writes: CSV cells and Markdown.

CSV: a spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (`=HYPERLINK(...)`,
`+cmd|' /C calc'!A0`, `-2+3`, `@SUM(...)`), and a leading tab or carriage return hides such a start. Every text
cell memlens writes to a CSV (or shows in a dashboard table, whose toolbar exports CSV) goes through
`csv_cell`: a dangerous start gets a leading `'` (OWASP's advice), which spreadsheets show as text. A cell that is
a plain number (`-12.5`, `+70.0 %`) is left alone: it is data, not a formula.

Markdown: user text is one inline run. Line breaks (which would start new paragraphs, headings, list items or
table rows) become spaces, and Markdown punctuation is backslash-escaped (so `<script>` stays text too).
"""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9,]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)? ?%?")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\u0085\u2028\u2029]+")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~=^$&:])")


def csv_cell(value: Any) -> Any:
    """`value` as it may go into a CSV cell: text with a formula start gets a leading `'`; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` with every text cell (object or string columns, and the column names) through csv_cell."""
    import pandas as pd

    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_object_dtype(out[c]) or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(csv_cell, na_action="ignore")
    out.columns = [csv_cell(c) for c in out.columns]
    return out


def to_csv(df: pd.DataFrame, target: Any = None, **kw: Any) -> str | None:
    """DataFrame.to_csv with injection-safe cells (text returned when `target` is None, like pandas). Lines end in
    CRLF (RFC 4180): with it, a cell holding a bare carriage return is quoted (with "\n" endings it is not, and
    the CSV breaks into extra rows)."""
    kw.setdefault("index", False)
    kw.setdefault("quoting", csv.QUOTE_MINIMAL)
    kw.setdefault("lineterminator", "\r\n")
    if target is None:
        buf = io.StringIO()
        csv_frame(df).to_csv(buf, **kw)
        return buf.getvalue()
    csv_frame(df).to_csv(target, **kw)
    return None


def md_escape(text: Any) -> str:
    """User text as one inline Markdown run: line breaks → spaces, runs of blanks → one, punctuation escaped."""
    flat = " ".join(_LINE_BREAKS.sub(" ", str(text)).split())
    return _MD_SPECIAL.sub(r"\\\1", flat)
