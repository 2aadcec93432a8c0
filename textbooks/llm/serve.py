"""An OpenAI-compatible HTTP server over one of our checkpoints (or an HF Phi directory).

    textbooks serve runs/phi1-small/final --port 8000
    curl http://127.0.0.1:8000/v1/completions -d '{"model": "final", "prompt": "def add(a, b):", "max_tokens": 32, "temperature": 0}'

Endpoints: GET /v1/models, POST /v1/completions (prompt: a string or a list of strings), POST
/v1/chat/completions (messages rendered with the plain template of `textbooks/llm/chat.py`), GET /health.
Supported fields: model, prompt/messages, max_tokens (max_completion_tokens for chat), temperature,
top_p, n, stop, seed. Not supported: stream=true, logprobs, tools (400 with a message saying so).
Defaults follow OpenAI: temperature 1, top_p 1, n 1, max_tokens 16 for completions; for chat the rest
of the context.

Batching: HTTP handler threads only parse and validate; one engine thread owns the model. It takes the
first pending request, waits up to `max_wait_ms` for more, groups those with the same sampling
parameters and decodes each group as one batch with the KV-cache sampler (`textbooks.model.generate`).
Greedy output is what `generate()` returns for the prompt alone (batched greedy == one at a time).
A request without a seed gets a random one, as with OpenAI; with a seed it is reproducible when sent
alone (in a batch, the sampler's per-sequence seed also depends on the prompt's place in the batch).

No authentication unless an API key variable is given; binds to 127.0.0.1 by default. This is for
trying a model and for tests; to serve at scale, export the checkpoint (`textbooks export hf`) and
run `vllm serve DIR`.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
import uuid
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from textbooks.llm.backends.phi import FINISH
from textbooks.llm.chat import chat_stop, render_chat

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param


class BatchingEngine:
    """One thread owns the model; `submit(prompts, params)` blocks until its completions are ready."""

    def __init__(self, generator, *, max_batch: int = 8, max_wait_ms: float = 5.0):
        self.generator = generator
        self.max_batch, self.max_wait_s = max_batch, max_wait_ms / 1000.0
        self.queue: queue.Queue = queue.Queue()
        self.batches_run = 0
        self._thread = threading.Thread(target=self._loop, name="textbooks-serve-engine", daemon=True)
        self._stop = False

    def start(self) -> "BatchingEngine":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop = True
        self.queue.put(None)
        self._thread.join(timeout=10)

    def submit(self, prompts: list[str], params) -> list[list]:
        future: Future = Future()
        self.queue.put((prompts, params, future))
        return future.result()

    def _loop(self) -> None:
        while not self._stop:
            job = self.queue.get()
            if job is None:
                return
            jobs = [job]
            size = len(job[0]) * job[1].n
            deadline = time.monotonic() + self.max_wait_s
            while size < self.max_batch and (left := deadline - time.monotonic()) > 0:
                try:
                    more = self.queue.get(timeout=left)
                except queue.Empty:
                    break
                if more is None:
                    self._stop = True
                    break
                jobs.append(more)
                size += len(more[0]) * more[1].n
            self._run(jobs)

    def _run(self, jobs: list) -> None:
        groups: dict[str, list] = {}
        for job in jobs:  # SamplingParams is a dataclass: its repr is a fine grouping key
            groups.setdefault(repr(job[1]), []).append(job)
        for group in groups.values():
            params = group[0][1]
            prompts = [p for job in group for p in job[0]]
            try:
                outs = self.generator.generate(prompts, params, batch_size=self.max_batch)
                self.batches_run += 1
            except Exception as e:  # noqa: BLE001 - hand the error to the waiting request(s)
                if len(group) == 1:
                    group[0][2].set_exception(e)
                    continue
                for job in group:  # find the culprit: run each request alone
                    self._run([job])
                continue
            start = 0
            for prompts_of_job, _, future in group:
                future.set_result(outs[start : start + len(prompts_of_job)])
                start += len(prompts_of_job)


class Server:
    """`Server(generator, name).start()` serves in a background thread (tests); `.serve_forever()` blocks."""

    def __init__(self, generator, model_name: str, *, host: str = "127.0.0.1", port: int = 8000, max_batch: int = 8,
                 max_wait_ms: float = 5.0, api_key: str | None = None):
        self.generator, self.model_name, self.api_key = generator, model_name, api_key
        self.max_seq_len = generator.model.config.max_seq_len
        self.engine = BatchingEngine(generator, max_batch=max_batch, max_wait_ms=max_wait_ms)
        self.created = int(time.time())
        self.httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self.httpd.daemon_threads = True
        self.httpd.handle_error = _quiet_disconnects
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "Server":
        self.engine.start()
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.engine.start()
        try:
            self.httpd.serve_forever()
        finally:
            self.engine.stop()
            self.httpd.server_close()

    def shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.engine.stop()

    # --- the API ---------------------------------------------------------------------------------------
    def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": self.model_name, "object": "model", "created": self.created, "owned_by": "textbooks",
                                            "max_model_len": self.max_seq_len}]}

    def complete(self, body: dict[str, Any], chat: bool) -> dict[str, Any]:
        self._check_model(body)
        for name in ("stream", "logprobs", "tools", "functions", "echo", "suffix"):
            if body.get(name) and not (name == "logprobs" and body[name] is False):
                raise ApiError(400, f"'{name}' is not supported by `textbooks serve` (for that, export the model with "
                               "`textbooks export hf` and use `vllm serve`)", param=name)
        if chat:
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                raise ApiError(400, "'messages' must be a non-empty list of {role, content}", param="messages")
            try:
                prompts = [render_chat(messages)]
            except ValueError as e:
                raise ApiError(400, str(e), param="messages") from None
        else:
            prompt = body.get("prompt")
            prompts = [prompt] if isinstance(prompt, str) else prompt
            if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
                raise ApiError(400, "'prompt' must be a string or a non-empty list of strings (token ids are not supported)", param="prompt")
        params, max_tokens = self._params(body, chat, prompts)
        outs = self.engine.submit(prompts, params)
        prompt_tokens = sum(cs[0].prompt_tokens for cs in outs)
        completion_tokens = sum(len(c.token_ids) for cs in outs for c in cs)
        choices = []
        for i, completions in enumerate(outs):
            for j, c in enumerate(completions):
                choice: dict[str, Any] = {"index": i * params.n + j, "finish_reason": FINISH.get(c.finish_reason, c.finish_reason)}
                if chat:
                    choice["message"] = {"role": "assistant", "content": c.text}
                else:
                    choice.update(text=c.text, logprobs=None)
                choices.append(choice)
        return {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    def _check_model(self, body: dict[str, Any]) -> None:
        model = body.get("model")
        if model not in (self.model_name, None):
            raise ApiError(404, f"The model `{model}` does not exist. This server serves `{self.model_name}`.",
                           kind="not_found_error", param="model")

    def _params(self, body: dict[str, Any], chat: bool, prompts: list[str]):
        from textbooks.model.generate import SamplingParams

        def number(name, default, kind=float):
            value = body.get(name, default)
            if value is None:
                return default
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
                raise ApiError(400, f"'{name}' must be a{'n integer' if kind is int else ' number'}, got {value!r}", param=name)
            return kind(value)

        lengths = [len(ids) for ids in self.generator.tokenizer.encode_batch(prompts)] if hasattr(
            self.generator.tokenizer, "encode_batch") else [len(self.generator.tokenizer.encode(p)) for p in prompts]
        longest = max(lengths)
        room = self.max_seq_len - longest
        default_max = (room if chat else 16)
        max_tokens = number("max_completion_tokens" if chat and "max_completion_tokens" in body else "max_tokens", default_max, int)
        if max_tokens < 1:
            raise ApiError(400, f"'max_tokens' must be >= 1, got {max_tokens}", param="max_tokens")
        if longest + max_tokens > self.max_seq_len:
            raise ApiError(400, f"This model's maximum context length is {self.max_seq_len} tokens. However, you requested "
                           f"{longest + max_tokens} tokens ({longest} in the prompt, {max_tokens} for the completion). "
                           "Please reduce the prompt or max_tokens.", param="max_tokens")
        temperature = number("temperature", 1.0)
        top_p = number("top_p", 1.0)
        n = number("n", 1, int)
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
            raise ApiError(400, "'stop' must be a string or a list of non-empty strings", param="stop")
        if chat:
            stop = chat_stop(stop)
        seed = body.get("seed")
        if seed is None:
            # Greedy does not use the seed: a fixed one lets greedy requests share a batch.
            seed = 0 if temperature == 0 else random.getrandbits(31)
        elif isinstance(seed, bool) or not isinstance(seed, int):
            raise ApiError(400, f"'seed' must be an integer, got {seed!r}", param="seed")
        try:
            return SamplingParams(max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, stop=stop, seed=seed, n=n), max_tokens
        except ValueError as e:
            raise ApiError(400, str(e)) from None


def _quiet_disconnects(request, client_address) -> None:
    """A client that hangs up (its timeout, Ctrl-C) is routine; anything else is logged with its traceback."""
    import sys

    if isinstance(sys.exc_info()[1], ConnectionError):
        log.debug("client %s disconnected", client_address)
    else:
        log.exception("error while handling a request from %s", client_address)


def _make_handler(server: Server):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "textbooks-serve"

        def log_message(self, fmt, *args):
            log.debug("%s " + fmt, self.address_string(), *args)

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, e: ApiError) -> None:
            self._send(e.status, {"error": {"message": e.message, "type": e.kind, "param": e.param, "code": e.status}})

        def _authorized(self) -> bool:
            if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                self._error(ApiError(401, "missing or wrong API key (send 'Authorization: Bearer <key>')", "authentication_error"))
                return False
            return True

        def do_GET(self) -> None:
            path = self.path.split("?")[0].rstrip("/")
            if path == "/health":
                return self._send(200, {"status": "ok"})
            if not self._authorized():
                return
            if path == "/v1/models":
                return self._send(200, server.models())
            self._error(ApiError(404, f"no route GET {self.path}; try /v1/models", "not_found_error"))

        def do_POST(self) -> None:
            path = self.path.split("?")[0].rstrip("/")
            try:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if not self._authorized():
                    return
                if path not in ("/v1/completions", "/v1/chat/completions"):
                    raise ApiError(404, f"no route POST {self.path}; use /v1/completions or /v1/chat/completions", "not_found_error")
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError as e:
                    raise ApiError(400, f"the request body is not JSON: {e}") from None
                if not isinstance(body, dict):
                    raise ApiError(400, "the request body must be a JSON object")
                self._send(200, server.complete(body, chat=path.endswith("chat/completions")))
            except ApiError as e:
                self._error(e)
            except ValueError as e:  # e.g. the sampler refusing a prompt
                self._error(ApiError(400, str(e)))
            except Exception as e:  # noqa: BLE001 - a server answers 500 rather than dropping the connection
                log.exception("error while serving %s", self.path)
                self._error(ApiError(500, f"{type(e).__name__}: {e}", "server_error"))

    return Handler
