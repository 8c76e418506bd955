"""The Alerts page under AppTest: edits apply at once and are kept (leave, come back, new session), the backtest
beside each threshold follows them, and the page's downloads are what `memlens export all --config <downloaded
config>` writes, byte for byte."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import streamlit as st
import yaml
from dashboard_fixtures import make_warehouse
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    cfg = tmp_path / "memlens.yaml"
    cfg.write_text("dashboard:\n  demo_when_empty: false\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg))
    monkeypatch.setenv("MEMLENS_HOME", str(tmp_path / "home"))  # the kept draft lives here
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(make_warehouse(tmp_path / "known.duckdb")))
    st.cache_data.clear()
    st.cache_resource.clear()


def _alerts(at: AppTest | None = None) -> AppTest:
    if at is None:
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()
    at.switch_page("app_pages/alerts.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _editor(at: AppTest, prefix: str):
    return next(d for d in at.data_editor if d.key and d.key.startswith(prefix))


def _edit(at: AppTest, prefix: str, rows: dict[int, dict]) -> AppTest:
    key = _editor(at, prefix).key
    at.session_state[key] = {"edited_rows": rows, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _threshold(at: AppTest, rule: str) -> dict:
    table = _editor(at, "thr_").value
    return table[table["rule"] == rule].iloc[0].to_dict()


@pytest.fixture
def media(monkeypatch):
    """The in-memory media stores AppTest creates per run: where a download button's bytes are kept."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    stores: list[MemoryMediaFileStorage] = []
    init = MemoryMediaFileStorage.__init__

    def keep(self, *args, **kwargs):
        init(self, *args, **kwargs)
        stores.append(self)

    monkeypatch.setattr(MemoryMediaFileStorage, "__init__", keep)
    return stores


def _downloads(at: AppTest, stores) -> dict[str, bytes]:
    """{button label: the bytes it serves} of the last run."""
    return {b.label: stores[-1].get_file(b.proto.url.rsplit("/", 1)[-1]).content for b in at.download_button}


def test_defaults_the_backtest_beside_each_threshold_and_scopes():
    at = _alerts()
    p99 = _threshold(at, "p99_latency@search")
    assert p99["threshold"] == 500 and p99["unit"] == "ms" and p99["would have fired"] == 0
    # latency rules of the LLM add scope are off by default (empty threshold), its error rate is on
    assert _threshold(at, "p99_latency@add_infer")["threshold"] is None or \
        str(_threshold(at, "p99_latency@add_infer")["threshold"]) == "nan"
    assert _threshold(at, "error_rate@add_infer")["threshold"] == 5
    assert "Showing your **edited**" not in "".join(c.value for c in at.caption)


def test_edit_apply_leave_come_back_and_new_session_still_edited(tmp_path):
    at = _alerts()
    rows = _editor(at, "thr_").value
    p95_row = int(rows.index[rows["rule"] == "p95_latency@search"][0])
    _edit(at, "thr_", {p95_row: {"threshold": 250.0}})
    kinds = _editor(at, "kinds_").value
    p95_kind = int(kinds.index[kinds["kind"] == "p95_latency"][0])
    _edit(at, "kinds_", {p95_kind: {"for": "2m"}})
    assert _threshold(at, "p95_latency@search")["threshold"] == 250
    # the 300 ms searches of the fixture (a few a day, 5 minutes in each window) now fire with for: 2m
    assert _threshold(at, "p95_latency@search")["would have fired"] > 0
    codes = "\n".join(c.value for c in at.code)
    assert 'p95_rate5m{op="search"} > 0.25' in codes and "for: 2m" in codes
    kept = yaml.safe_load((tmp_path / "home" / "alerts-draft.yaml").read_text(encoding="utf-8"))
    assert kept["alerts"]["scopes"]["search"]["p95_ms"] == 250 and kept["alerts"]["rules"]["p95_latency"]["for"] == "2m"

    at.switch_page("app_pages/overview.py").run()   # leave
    _alerts(at)                                      # come back
    assert _threshold(at, "p95_latency@search")["threshold"] == 250
    assert _editor(at, "kinds_").value.loc[p95_kind, "for"] == "2m"

    again = _alerts()                                # a new session (a reload, a restart)
    assert _threshold(again, "p95_latency@search")["threshold"] == 250
    assert any("Showing your **edited**" in c.value for c in again.caption)

    discard = next(b for b in again.button if b.label == "Discard edits")
    discard.click().run()
    assert _threshold(again, "p95_latency@search")["threshold"] == 200
    assert not (tmp_path / "home" / "alerts-draft.yaml").exists()


def test_invalid_edit_is_refused_with_a_message_and_not_kept(tmp_path):
    at = _alerts()
    kinds = _editor(at, "kinds_").value
    _edit(at, "kinds_", {0: {"for": "ten minutes"}})
    assert any("Not applied" in e.value and "alerts.rules.p99_latency.for" in e.value for e in at.error)
    assert not (tmp_path / "home" / "alerts-draft.yaml").exists()
    assert kinds.loc[0, "for"] == "10m"


def test_downloads_equal_export_all_from_the_downloaded_config(tmp_path, media):
    at = _alerts()
    rows = _editor(at, "thr_").value
    row = int(rows.index[rows["rule"] == "p99_latency@add_infer"][0])
    _edit(at, "thr_", {row: {"threshold": 8000.0}})    # turn on the LLM add P99 rule at 8 s
    files = _downloads(at, media)
    config = files["Download the config (memlens-alerts.yaml)"]
    (tmp_path / "downloaded.yaml").write_bytes(config)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "memlens.cli", "export", "all", "--config",
                          str(tmp_path / "downloaded.yaml"), "--format", "prometheus-operator", "--out", str(out)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    written = {p.name: p.read_bytes() for p in out.iterdir()}
    assert written.pop("memlens-alerts.yaml") == config
    singles = {label: data for label, data in files.items() if label in written}
    assert singles == written  # every other file, byte for byte
    assert b'p99_rate5m{op="add",infer="true"} > 8' in written["alert-rules.yaml"]
