"""A real OpenAI-compatible HTTP server on 127.0.0.1 for eval tests (stdlib http.server in a thread).

`answer(path, body) -> list[str]` decides the texts of the choices (or raises `Refuse` for an error status);
the server wraps them in the OpenAI response shape for /v1/completions or /v1/chat/completions and records
every request body.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class Refuse(Exception):
    """Raised by `answer` to make the server answer an error status instead (e.g. a 400 it will never accept)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class LocalOpenAIServer:
    def __init__(self, answer: Callable[[str, dict], list[str]]):
        self.answer = answer
        self.requests: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": "local-model", "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with outer._lock:
                    outer.requests.append((self.path, body))
                if self.path not in ("/v1/completions", "/v1/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                chat = self.path.endswith("chat/completions")
                try:
                    texts = outer.answer(self.path, body)
                except Refuse as e:
                    self._send(e.status, {"error": {"message": str(e)}})
                    return
                choices = [
                    {"index": i, "finish_reason": "stop", **({"message": {"role": "assistant", "content": t}} if chat else {"text": t})}
                    for i, t in enumerate(texts)
                ]
                self._send(200, {"id": "cmpl-local", "object": "chat.completion" if chat else "text_completion",
                                 "model": body.get("model"), "choices": choices,
                                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

            def _send(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "LocalOpenAIServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
