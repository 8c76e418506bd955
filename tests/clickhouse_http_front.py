"""A STAND-IN for a ClickHouse server's HTTP interface, for tests: no ClickHouse server installs on these machines
(Debian's is 18.16; PyPI has only the embedded engine). It answers what clickhouse-connect sends (POST, the query
in the body or `query`, `param_*` query parameters, settings and `database` as URL parameters, `INSERT ... FORMAT
Arrow` with the rows in the body) by running each statement on ClickHouse's real engine in this process (chdb) and
returning its output in the format asked. The HTTP framing is ours; every result and error comes from ClickHouse.
Binds 127.0.0.1 on a free port; `stop()` ends it.
"""

from __future__ import annotations

import http.server
import re
import threading
import urllib.parse

import pyarrow as pa

from memlens.clickhouse import SETTINGS, _ChdbEngine

_FORMAT = re.compile(r"\s+FORMAT\s+(\w+)\s*$", re.I)
_CLIENT_ONLY = {"query", "query_id", "database", "wait_end_of_query", "client_protocol_version", "session_id",
                "send_progress_in_http_headers", "http_headers_progress_interval_ms", "default_format",
                "cancel_http_readonly_queries_on_client_close", "cast_string_to_dynamic_use_inference",
                "date_time_input_format", "compress", "enable_http_compression"}


class ClickHouseHttpFront:
    def __init__(self) -> None:
        from chdb import session

        self.session = session.Session(_ChdbEngine.acquire(None))
        self.lock = threading.Lock()
        self.requests = 0
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                status, fmt, out = front.answer(query, body)
                self.send_response(status)
                if status == 200:
                    self.send_header("X-ClickHouse-Format", fmt)
                    self.send_header("X-ClickHouse-Timezone", "UTC")
                    self.send_header("X-ClickHouse-Summary", '{"read_rows":"0","written_rows":"0"}')
                else:
                    self.send_header("X-ClickHouse-Exception-Code", "1")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, query: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        self.requests += 1
        params = {k.removeprefix("param_"): v for k, v in query.items() if k.startswith("param_")}
        settings = {k: v for k, v in query.items() if k not in _CLIENT_ONLY and not k.startswith("param_")}
        rows = None
        if query.get("query") and body and query["query"].lstrip().upper().startswith("INSERT"):
            sql, rows = query["query"], pa.ipc.open_file(pa.BufferReader(body)).read_all()  # FORMAT Arrow
        else:
            sql = (query.get("query", "") + "\n" + body.decode("utf-8")).strip()
        m = _FORMAT.search(sql)
        fmt = m.group(1) if m else query.get("default_format", "TabSeparated")
        sql = sql[: m.start()] if m else sql
        with self.lock:
            try:
                for key, value in {**{k: v for k, v in SETTINGS.items() if k in settings}, **settings}.items():
                    self.session.query(f"SET {key} = {value!r}" if not str(value).lstrip("-").isdigit()
                                       else f"SET {key} = {value}", "Null")
                if query.get("database"):
                    self.session.query(f"USE `{query['database']}`", "Null")
                if rows is not None:
                    cols = re.search(r"\(([^)]*)\)", sql).group(1)
                    table = sql.split()[2]
                    arrow_rows = rows  # noqa: F841 (read by name by chdb's Python() table function)
                    self.session.query(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM Python(arrow_rows)", "Null")
                    return 200, fmt, b""
                out = self.session.query(sql, fmt, params=params or None)
                return 200, fmt, out.bytes() if out is not None else b""
            except Exception as exc:  # ClickHouse's own error text, as a server sends it
                return 500, fmt, str(exc).encode()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.session.close()
        _ChdbEngine.release()
