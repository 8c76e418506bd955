"""The selection every page follows, kept in the URL: the time window (presets, a custom date-time range, a range
brushed on a chart) and the sidebar filters (service, user, agent, operation, model).

The URL is the truth. Every run reads the selection from `st.query_params`; a widget's change is written back to
the URL in one update, which the browser records as one history entry, so the back button returns to the previous
selection and a copied link reproduces the view (`?range=7d&op=search`, `?from=2026-11-24T10:00&to=...`). The
widgets show what the URL says (set through session state before they render). Page links carry the selection
(`link()`); a URL without any selection parameter (a link that dropped them) takes the session's last selection.
Parameters a page owns (`url_choice`, e.g. the Latency page's split) are kept beside the selection's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import streamlit as st

from memlens.dashboard import timerange
from memlens.dashboard.timerange import ALL, PRESETS, Choice, RangeError, Window

ALL_LABEL = "All"
# URL parameter → (sidebar label, widget key); the keys are the widgets' since the first dashboard (tests use them)
FILTERS: dict[str, tuple[str, str]] = {
    "service": ("Service", "f_service"), "user": ("User", "f_user"), "agent": ("Agent", "f_agent"),
    "op": ("Operation", "f_op"), "model": ("Model", "f_model"),
}
SELECTION_PARAMS = (*timerange.TIME_PARAMS, *FILTERS)
LAST_KEY = "_memlens_selection"      # the canonical parameters of the last run (restored on a param-less URL)
PROBLEM_KEY = "_memlens_selection_problem"  # a widget's value that could not be used (shown once)
PRESET_KEY, FROM_KEY, TO_KEY = "t_preset", "t_from", "t_to"
STALE_AFTER_S = 3600  # newest event older than this: say that "Last ..." ends there, not now


@dataclass(frozen=True)
class Selection:
    choice: Choice = field(default_factory=Choice)
    filters: dict[str, str] = field(default_factory=dict)  # URL parameter → value

    def params(self) -> dict[str, str]:
        return {**self.choice.params(), **{k: self.filters[k] for k in FILTERS if k in self.filters}}


def read(options: Mapping[str, Sequence[str]]) -> tuple[Selection, list[str]]:
    """The selection in the URL (or the session's last one when the URL holds none), and one line per part of the
    URL that was ignored (a bad range, a filter value this warehouse does not have)."""
    url = st.query_params.to_dict()
    ours = {k: v for k, v in url.items() if k in SELECTION_PARAMS}
    if not ours:
        ours = dict(st.session_state.get(LAST_KEY, {}))
    problems = []
    try:
        choice = timerange.parse(ours) or Choice()
    except RangeError as exc:
        problems.append(f"The link's time range was ignored: {exc}.")
        choice = Choice()
    filters = {}
    for param in FILTERS:
        value = ours.get(param)
        if value is None:
            continue
        if value not in options.get(param, ()):
            problems.append(f"The link's {param} filter matches nothing in this warehouse: showing all.")
            continue
        filters[param] = value
    return Selection(choice, filters), problems


def write(params: Mapping[str, str]) -> None:
    """Make `params` the URL's selection (one history entry when it changes), keeping the page's own parameters."""
    own = {k: v for k, v in st.query_params.to_dict().items() if k not in SELECTION_PARAMS}
    canonical = {**dict(params), **own}
    st.session_state[LAST_KEY] = dict(params)
    if st.query_params.to_dict() != canonical:
        st.query_params.from_dict(canonical)


def current() -> dict[str, str]:
    """The selection's URL parameters (for links to other pages)."""
    return dict(st.session_state.get(LAST_KEY, {}))


def _changed(**changes: str | None) -> None:
    params = current()
    if "range" in changes:  # a preset replaces an absolute range, and the other way round
        params.pop("from", None)
        params.pop("to", None)
    if "from" in changes:
        params.pop("range", None)
    for k, v in changes.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    write(params)


def _on_preset() -> None:
    preset = st.session_state.get(PRESET_KEY)
    if preset is not None:  # clicking the active preset again unselects it: keep it
        _changed(range=preset)


def _on_custom() -> None:
    start, end = st.session_state.get(FROM_KEY), st.session_state.get(TO_KEY)
    if start is None or end is None:
        return
    try:
        choice = Choice.absolute(start, end)
    except RangeError as exc:
        st.session_state[PROBLEM_KEY] = f"Custom range not applied: {exc}."
        return
    _changed(**choice.params())


def _on_filter(param: str) -> None:
    value = st.session_state.get(FILTERS[param][1])
    _changed(**{param: None if value in (None, ALL_LABEL) else value})


def zoom(choice: Choice) -> None:
    """Make `choice` the window (a brushed chart range): the whole page follows on the rerun this triggers."""
    _changed(**choice.params())


def render(sb: Any, selection: Selection, window: Window | None, options: Mapping[str, Sequence[str]],
           problems: Sequence[str], now: datetime) -> None:
    """The time and filter widgets (in `sb`, a sidebar container), showing `selection`; their changes go to the URL."""
    st.session_state[PRESET_KEY] = selection.choice.preset
    sb.pills("Time range", [*PRESETS, ALL], key=PRESET_KEY, format_func=lambda p: timerange.LABELS[p],
             on_change=_on_preset, help="Last …: up to the newest event in the warehouse. All: every day with data.")
    if window is not None:
        st.session_state[FROM_KEY], st.session_state[TO_KEY] = window.start, window.end
        sb.datetime_input("From (UTC)", key=FROM_KEY, step=60, format="YYYY-MM-DD", on_change=_on_custom)
        sb.datetime_input("To (UTC, not included)", key=TO_KEY, step=60, format="YYYY-MM-DD", on_change=_on_custom)
        sb.caption(window_caption(window, now))
        if window.newest is not None and (now - window.newest).total_seconds() > STALE_AFTER_S:
            sb.warning(f"The newest event is {timerange.span_text(now - window.newest)} old: “Last …” ranges end "
                       "there, not now. Is the collection running?", icon=":material/schedule:")
    problem = st.session_state.pop(PROBLEM_KEY, None)
    for text in [*problems, *([problem] if problem else [])]:
        sb.warning(text, icon=":material/link_off:")
    for param, (label, key) in FILTERS.items():
        st.session_state[key] = selection.filters.get(param, ALL_LABEL)
        sb.selectbox(label, [ALL_LABEL, *options.get(param, ())], key=key, on_change=_on_filter, args=(param,))


def window_caption(window: Window, now: datetime) -> str:
    text = f"{window.choice.label}: {window.describe()}."
    if window.choice.preset not in (None, ALL) and window.newest is not None:
        ago = timerange.span_text(max(now - window.newest, timedelta(0)))
        text += f" Ends with the bucket of the newest event ({window.newest:%Y-%m-%d %H:%M} UTC, {ago} ago)."
    return text


def link(where: Any, page: str, label: str, icon: str | None = None, **kw: Any) -> None:
    """st.page_link to `page` carrying the selection (one history entry, the view kept)."""
    where.page_link(page, label=label, icon=icon, query_params=current(), **kw)


def url_choice(label: str, options: Sequence[str], param: str, default: str,
               format_func: Callable[[str], str] = str, where: Any = None, **kw: Any) -> str:
    """A page's own choice (a segmented control) kept in the URL parameter `param` beside the selection."""
    value = st.query_params.get(param, default)
    value = value if value in options else default
    key = f"u_{param}"
    st.session_state[key] = value

    def changed() -> None:
        new = st.session_state.get(key)
        if new is None:  # unselected: keep the current choice
            return
        if new == default:
            st.query_params.pop(param, None)
        else:
            st.query_params[param] = new

    (where or st).segmented_control(label, options, key=key, format_func=format_func, on_change=changed, **kw)
    return value
