"""The dashboard's server process (`memlens dashboard` runs `python -m memlens.dashboard.serve run <app> ...`):
Streamlit's own command line, after importing what every page needs.

Streamlit runs the app's script only when a browser connects, so the first visitor of a fresh server waited for
these imports (pandas, DuckDB, Plotly, the config's models, the metric layer: ~1.6 s on the 2-core box under load)
before anything showed. Imported here, they load while the server starts. Only modules without Streamlit caches
(state.py defines them when the first script run imports it, with the server's runtime in place).
"""

from __future__ import annotations

import sys

import duckdb  # noqa: F401
import numpy  # noqa: F401
import pandas  # noqa: F401
import plotly.express
import plotly.graph_objects  # noqa: F401
import pyarrow  # noqa: F401
from streamlit.web import cli

from memlens import budgets, cost_review, diagnosis, figures, health, layer, rollups, window_change  # noqa: F401
from memlens.dashboard import charts, data, sidebar, timerange, ui  # noqa: F401
from memlens.optimize import advise, stored_advice  # noqa: F401

if __name__ == "__main__":
    sys.exit(cli.main())
