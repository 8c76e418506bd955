"""Dashboard security: hostile filter values are bound, never pasted (every dashboard query); user and log text is
never rendered as HTML/JS (every page, AppTest, with `<script>` in a user id); the server binds to localhost.

The hostile text takes the real path: op-log lines → `collect_oplogs` → warehouse → dashboard.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_prometheus import free_port
from reliability_support import dumps, valid_event, write_jsonl

from memlens import layer
from memlens.collectors.oplog import collect_oplogs
from memlens.config import default_config
from memlens.dashboard import data
from memlens.warehouse import connect

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard" / "app.py")
PAGE_FILES = sorted(p.stem for p in (ROOT / "dashboard" / "app_pages").glob("[!_]*.py"))

# Parts of a page that run only when opened (st.tabs / st.expander with on_change="rerun"): widget key -> the values
# that open each part, so that every part of every page is checked, not only what a page shows first
LAZY_PARTS = {
    "cost": {"cost_tab": ["Cost over time", "Breakdown & top spenders", "Budgets", "Weekly cost review",
                          "Cost advice"]},
    "alerts": {"alerts_file": ["alert-rules.yaml", "Grafana dashboard JSON"]},
    "optimization": {f"evidence_{i}": [True] for i in range(12)},
}

USER_XSS = '<script>alert("user")</script>'
AGENT_XSS = "<img src=x onerror=alert(1)>"
SERVICE_XSS = "[svc](javascript:alert(1))"
ERROR_XSS = "<b>Boom</b>Error"
PAYLOAD_MARKERS = ("<script", "<img", "javascript:", "<b>Boom", "\\<script", "\\<img")
RAW_TAG = re.compile(r"(?<!\\)<(script|img|b>Boom)")  # a tag not backslash-escaped for markdown
SQLI = ("' OR 1=1 --", '"; DROP TABLE raw_op_events; --', "x'); DELETE FROM raw_op_events; --", "%", "_", "\\")


def _hostile_warehouse(path: Path, tmp: Path) -> Path:
    lines = []
    for i in range(60):
        ev = valid_event(i, 31)
        if i % 3 == 0:
            ev.update(user_id=USER_XSS, agent_id=AGENT_XSS)
        if i % 4 == 0:
            ev["service"] = SERVICE_XSS
        if i % 17 == 0:
            ev.update(status="error", error_type=ERROR_XSS)
        if i % 5 == 0:
            ev["user_id"] = SQLI[0]
        lines.append(dumps(ev))
    lines.append('{"event_id": "<script>alert(\'quarantine\')</script>", broken')  # quarantined, excerpt kept
    log = write_jsonl(tmp / "hostile.jsonl", lines)
    con = connect(path)
    try:
        result = collect_oplogs(con, [log], default_config())
        assert (result.rows_loaded, result.rows_quarantined) == (60, 1)
    finally:
        con.close()
    return path


@pytest.fixture
def hostile(tmp_path) -> Path:
    return _hostile_warehouse(tmp_path / "hostile.duckdb", tmp_path)


def _extra(sql: str) -> dict:
    names = set(data._PARAM.findall(sql)) - set(data.ALL.params())
    return {n: {"limit": 50, "bucket": "hour"}.get(n, 50) for n in names}


def test_hostile_filter_values_are_bound_in_every_dashboard_query_and_metric(hostile):
    con = data.open_readonly(hostile)
    try:
        before = con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0]
        names = list(data.QUERIES)
        assert len(names) >= 7 and len(layer.metrics()) >= 10
        for value in SQLI:
            hostile_filters = data.Filters(service=value, user=value, agent=value, op=value, model=value,
                                           mode=value, status=value, tag=value)
            for name in names:
                df = data.run(con, name, hostile_filters, **_extra(data.QUERIES[name]))
                assert df is not None
            for name, m in layer.metrics().items():
                grain = "day" if name == "memory_growth" else None
                df = layer.query(con, name, hostile_filters, grain=grain, **dict.fromkeys(m.params, 50))
                assert df is not None
            # A value that is not anybody's matches nothing (it is compared, not executed) ...
            if value != SQLI[0]:
                ops = layer.one(layer.query(con, "ops", data.Filters(user=value)))["ops"]
                assert not ops, f"user filter {value!r} matched rows"
        # ... and a user whose id IS an injection string gets exactly their own rows.
        assert layer.one(layer.query(con, "ops", data.Filters(user=SQLI[0])))["ops"] == 12  # i % 5 == 0, i < 60
        assert con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0] == before == 60
    finally:
        con.close()


def test_query_names_cannot_be_injected(hostile):
    con = data.open_readonly(hostile)
    try:
        with pytest.raises(KeyError):
            data.run(con, "data_span; DROP TABLE raw_op_events")
        with pytest.raises(layer.LayerError):
            layer.query(con, "ops; DROP TABLE raw_op_events")
        with pytest.raises(layer.LayerError):
            layer.query(con, "ops", by=("op; DROP TABLE raw_op_events",))
    finally:
        con.close()
    from memlens.queries import read_view

    con = connect(hostile)
    try:
        with pytest.raises(KeyError):
            read_view(con, 'stg_op_events"; DROP TABLE raw_op_events; --')
        assert con.execute("SELECT count(*) FROM raw_op_events").fetchone()[0] == 60
    finally:
        con.close()


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values() if isinstance(getattr(node, "children", None), dict) else []:
        yield from _walk(child)


def _every_part(at, page: str) -> list[tuple[str, str, bool]]:
    """_rendered_text_elements of the page as shown, then of each of its lazy parts opened in turn."""
    found = _rendered_text_elements(at)
    for key, values in LAZY_PARTS.get(page, {}).items():
        for value in values:
            at.session_state[key] = value
            at.run()
            assert not at.exception, (page, key, value, [e.value for e in at.exception])
            found += _rendered_text_elements(at)
    return found


def _rendered_text_elements(at) -> list[tuple[str, str, bool]]:
    """(element type, text, html allowed) of every element that renders markdown or HTML."""
    out = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if proto is None:
            continue
        if kind in ("markdown", "caption", "latex", "divider", "code") or proto.DESCRIPTOR.name == "Markdown":
            out.append((kind, getattr(proto, "body", ""), bool(getattr(proto, "allow_html", False))))
        elif proto.DESCRIPTOR.name in ("Alert", "Toast", "Exception", "Metric", "Heading"):
            text = " ".join(str(getattr(proto, f, "")) for f in ("body", "label", "body_markdown", "message")
                            if f in proto.DESCRIPTOR.fields_by_name)
            out.append((proto.DESCRIPTOR.name.lower(), text, False))
        elif proto.DESCRIPTOR.name in ("Html", "IFrame") or kind in ("html", "iframe"):
            out.append((kind or proto.DESCRIPTOR.name.lower(), str(proto), True))
    return out


def test_no_user_or_log_text_rendered_as_html_on_any_page(hostile, tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    cfg = tmp_path / "memlens.yaml"
    cfg.write_text("dashboard:\n  demo_when_empty: false\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg))
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(hostile))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert USER_XSS in at.sidebar.selectbox(key="f_user").options
    seen_payload = False
    problems = []
    for selected in (None, USER_XSS):
        if selected:
            at.sidebar.selectbox(key="f_user").select(selected).run()
        for page in PAGE_FILES:
            at.switch_page(f"app_pages/{page}.py").run()
            assert not at.exception, (page, [e.value for e in at.exception])
            for kind, text, html in _every_part(at, page):
                hit = [m for m in PAYLOAD_MARKERS if m in text]
                seen_payload |= bool(hit)
                if hit and html:
                    problems.append(f"{page}: {kind} renders user text as HTML: {text[:120]!r}")
                if "](javascript:" in text and kind in ("markdown", "caption", "alert"):
                    problems.append(f"{page}: {kind} turns user text into a markdown link: {text[:120]!r}")
                if RAW_TAG.search(text) and kind in ("markdown", "caption", "alert") and "`" not in text:
                    problems.append(f"{page}: {kind} holds a raw tag from user text: {text[:120]!r}")
    assert problems == []
    assert seen_payload, "no page showed the hostile text at all: the check above checked nothing"


def _listening(port: int) -> list[str]:
    """Local addresses listening on `port` (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            addr, p = local.rsplit(":", 1)
            if int(p, 16) == port and state == "0A":  # LISTEN
                found.append(addr)
    return found


def test_dashboard_server_binds_localhost_by_default(tmp_path):
    """`memlens dashboard` with no address option: the server listens on 127.0.0.1 only."""
    port = free_port()
    env = dict(os.environ, MEMLENS_HOME=str(tmp_path), MEMLENS_WAREHOUSE=str(tmp_path / "wh.duckdb"),
               STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    proc = subprocess.Popen([sys.executable, "-m", "memlens.cli", "dashboard", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        addrs: list[str] = []
        while time.monotonic() < deadline and not addrs:
            time.sleep(0.3)
            addrs = _listening(port)
        assert addrs, "the dashboard did not start listening"
        assert set(addrs) == {"0100007F"}, f"listening on {addrs}, expected 127.0.0.1 only"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # And the parser default is localhost (what `memlens dashboard --help` documents).
    from memlens.cli import build_parser

    assert build_parser().parse_args(["dashboard"]).address == "127.0.0.1"
