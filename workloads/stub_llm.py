"""A STAND-IN for an LLM: a local OpenAI-compatible `/chat/completions` that returns a fixed fact extraction.

No real LLM is reachable offline, yet `add(..., infer=True)` needs one. This fake answers every chat completion
with the same JSON extraction (mem0 2.2's `{"memory": [{"text": ...}]}` shape) and a fixed `usage`, so a real
offline Memory runs its whole infer=True pipeline (history read, embedding, existing-memory search, LLM
extraction, batch embedding, vector insert, history write). Its latency is the local HTTP round trip (plus
`delay_s` if asked), not a model's: figures measured with it are not LLM figures.

    with StubLLM() as llm:
        config = offline_config(workdir, llm_base_url=llm.base_url)
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EXTRACTION = {"memory": [{"text": "Likes pizza"}, {"text": "Lives in Porto"}]}
USAGE = {"prompt_tokens": 321, "completion_tokens": 17, "total_tokens": 338}
MODEL = "gpt-4o-mini"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        stub = self.server.stub
        if stub.delay_s:
            time.sleep(stub.delay_s)
        reply: dict[str, Any] = {
            "id": "chatcmpl-stub", "object": "chat.completion", "created": 1764000000, "model": stub.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": stub.content},
                         "finish_reason": "stop"}]}
        if stub.report_usage:
            reply["usage"] = stub.usage
        body = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with stub.lock:
            stub.requests += 1

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: StubLLM


class StubLLM:
    """The fake served on 127.0.0.1 (a free port) while the `with` block runs.

    `content`: the assistant message (default: EXTRACTION as JSON). `report_usage`: include `usage` (some
    OpenAI-compatible servers leave it out); `usage`: the usage reported (default USAGE; e.g. with
    `prompt_tokens_details: {cached_tokens: N}`, OpenAI's prompt caching). `delay_s`: sleep before answering, to
    stand for a model's time."""

    def __init__(self, *, content: str | None = None, report_usage: bool = True, delay_s: float = 0.0,
                 model: str = MODEL, usage: dict[str, Any] | None = None):
        self.content = json.dumps(EXTRACTION) if content is None else content
        self.report_usage = report_usage
        self.usage = USAGE if usage is None else usage
        self.delay_s = delay_s
        self.model = model
        self.requests = 0
        self.lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stub LLM is not running (use it as a context manager)")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> StubLLM:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="memlens-stub-llm", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
