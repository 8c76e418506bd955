"""Refresh the committed exports and promtool tests from the default config (explicit, never from a test).

    .venv/bin/python scripts/update_golden.py

Writes tests/golden/alert-rules.yaml, tests/golden/grafana-dashboard.json and
tests/promtool/*.test.yaml. Review the diff before committing: a change here changes what
users commit to their monitoring repos.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from memlens.alerts.grafana import render_dashboard  # noqa: E402
from memlens.alerts.promtool_tests import render_tests  # noqa: E402
from memlens.alerts.rules import render_rules  # noqa: E402
from memlens.config import load_config  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"
PROMTOOL = ROOT / "tests" / "promtool"
RULES = GOLDEN / "alert-rules.yaml"
DASHBOARD = GOLDEN / "grafana-dashboard.json"


def outputs() -> dict[Path, str]:
    cfg = load_config(None)
    tests = render_tests(cfg, "../golden/alert-rules.yaml")
    return {RULES: render_rules(cfg), DASHBOARD: render_dashboard(cfg),
            **{PROMTOOL / name: text for name, text in tests.items()}}


def main() -> int:
    for path, text in outputs().items():
        old = path.read_text(encoding="utf-8") if path.exists() else None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {'unchanged' if old == text else 'updated'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
