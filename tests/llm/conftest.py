"""A real OpenAI-compatible HTTP server on 127.0.0.1 that injects faults, for the LLM client tests.

`FaultServer(faults={"p1": ["429", "500"]})` answers prompt "p1" with a 429, then a 500, then normally.
Fault kinds (one per attempt, in order):
  "429"      429 with `Retry-After: <retry_after>` seconds
  "429date"  429 with Retry-After as an HTTP date `retry_after_date_s` seconds ahead
  "500"      500 with a JSON error body
  "slow"     waits `slow_s` (longer than the client's timeout) before answering
  "drop"     sends headers and part of the body, then closes the connection
  "badjson"  200 with a body that is not JSON
  "400ctx"   400 "maximum context length" (must not be retried)
  "trickle"  200 whose body arrives one byte every 0.3 s (never trips a per-read timeout)
A normal answer's text is "echo: <prompt> #<j>" for choice j, or `respond(prompt, body)` when given (a test
teacher serving fixed answers); `plan(prompt, attempt) -> fault | None` adds faults by rule (on top of
`faults`); `delay_s` slows every normal answer.
It counts requests per prompt (`counts`), fully written normal answers (`served`), and arrival times.
"""

from __future__ import annotations

import email.utils
import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FaultServer:
    def __init__(self, faults=None, *, api_key=None, models=("test-model",), delay_s=0.0, slow_s=1.5,
                 retry_after="1", retry_after_date_s=2.0, ignore_n=False, respond=None, plan=None):
        self.respond, self.plan = respond, plan
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.api_key, self.models, self.delay_s, self.slow_s = api_key, list(models), delay_s, slow_s
        self.retry_after, self.retry_after_date_s, self.ignore_n = retry_after, retry_after_date_s, ignore_n
        self.counts: Counter = Counter()
        self.served: Counter = Counter()
        self.choices_served: Counter = Counter()
        self.arrivals: list[tuple[float, str]] = []
        self.bodies: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # clients hanging up (timeouts) are expected here
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like real servers

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status, payload, headers=None):
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def _error(self, status, message, headers=None):
                self._send(status, {"error": {"message": message, "type": "error", "code": status}}, headers)

            def do_GET(self):
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]})
                else:
                    self._error(404, f"no route {self.path}")

            def do_POST(self):
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._post()
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def _post(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                chat = self.path.rstrip("/") == "/v1/chat/completions"
                if not chat and self.path.rstrip("/") != "/v1/completions":
                    return self._error(404, f"no route {self.path}")
                if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    return self._error(401, "Incorrect API key provided.")
                if body.get("model") not in server.models:
                    return self._error(404, f"The model `{body.get('model')}` does not exist.")
                prompt = body["messages"][-1]["content"] if chat else body["prompt"]
                with server.lock:
                    attempt = server.counts[prompt]
                    server.counts[prompt] += 1
                    server.arrivals.append((time.monotonic(), prompt))
                    server.bodies.append(body)
                    plan = server.faults.get(prompt, [])
                    fault = plan[attempt] if attempt < len(plan) else "ok"
                    if fault == "ok" and server.plan is not None:
                        fault = server.plan(prompt, attempt) or "ok"
                if fault == "429":
                    return self._error(429, "Rate limit reached", {"Retry-After": server.retry_after})
                if fault == "429date":
                    when = email.utils.formatdate(time.time() + server.retry_after_date_s, usegmt=True)
                    return self._error(429, "Rate limit reached", {"Retry-After": when})
                if fault == "500":
                    return self._error(500, "internal error")
                if fault == "400ctx":
                    return self._error(400, "This model's maximum context length is 16 tokens.")
                if fault == "badjson":
                    return self._send(200, b'{"choices": [ {"text": "trunc')
                if fault == "drop":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b'{"choices": [')
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault == "trickle":
                    body = json.dumps({"choices": [{"index": 0, "text": "late", "finish_reason": "stop"}]}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    try:
                        for i in range(len(body)):
                            self.wfile.write(body[i:i + 1])
                            self.wfile.flush()
                            time.sleep(0.3)
                    except OSError:
                        pass
                    return
                if fault == "slow":
                    time.sleep(server.slow_s)
                    try:
                        self._error(503, "too late")
                    except OSError:
                        pass
                    return
                if server.delay_s:
                    time.sleep(server.delay_s)
                n = 1 if server.ignore_n else int(body.get("n", 1))
                texts = ([server.respond(prompt, body) for _ in range(n)] if server.respond is not None
                         else [f"echo: {prompt} #{j}" for j in range(n)])
                if chat:
                    choices = [{"index": j, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"} for j, t in enumerate(texts)]
                else:
                    choices = [{"index": j, "text": t, "finish_reason": "stop"} for j, t in enumerate(texts)]
                usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": 3 * n, "total_tokens": len(prompt.split()) + 3 * n}
                try:
                    self._send(200, {"id": "x", "object": "text_completion", "choices": choices, "usage": usage})
                except OSError:
                    return
                with server.lock:
                    server.served[prompt] += 1
                    server.choices_served[prompt] += n

        return Handler


@pytest.fixture
def fault_server():
    """Factory: `with fault_server(faults=...) as server:` (started and stopped by the test)."""
    return FaultServer


@pytest.fixture
def dead_url() -> str:
    """The URL of a port nothing listens on (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_tokenizer_dir, tmp_path_factory):
    """A tiny random Phi saved as a checkpoint directory named tiny-phi (weights, config, tokenizer files)."""
    from tests.conftest import save_tiny_phi

    # init_std 0.2: peaked logits, so greedy choices are not decided by float noise between batch shapes.
    return save_tiny_phi(tmp_path_factory.mktemp("ckpt") / "tiny-phi", tiny_tokenizer_dir, init_std=0.2)
