"""An OpenAI-compatible HTTP server over one of our checkpoints (or an HF Phi directory).

    textbooks serve runs/phi1-small/final --port 8000
    curl http://127.0.0.1:8000/v1/completions -d '{"model": "final", "prompt": "def add(a, b):", "max_tokens": 32, "temperature": 0}'

Endpoints: GET /v1/models, GET /v1/models/{id}, POST /v1/completions (prompt: a string or a list of
strings), POST /v1/chat/completions (messages rendered with the plain template of `textbooks/llm/chat.py`),
GET /health (a model id in the path is percent-decoded). Defaults follow OpenAI: temperature 1, top_p 1,
n 1, max_tokens 16 for completions; for chat the rest of the context.

Fields (`COMPLETION_FIELDS`, `CHAT_FIELDS`): model, prompt / messages, max_tokens (max_completion_tokens
for chat), temperature, top_p, n, stop, seed, stream (+ stream_options.include_usage), logprobs (0..5
for completions; logprobs + top_logprobs 0..20 for chat: the model's log-softmax before temperature and
top-p), user (recorded nowhere, it changes nothing). A field that would change the output but is not
implemented is refused with a 400 naming it, unless it has its no-op value (frequency_penalty 0,
presence_penalty 0, logit_bias {}, best_of = n, echo false, suffix "", response_format text, no tools);
unknown fields are refused too. Nothing is ignored silently. Types are checked, not guessed: booleans must
be true/false (best_of true is not 1), numbers finite (JSON has no NaN/Infinity; 1e400 is refused),
temperature in 0..2 (OpenAI's range; below 1e-5 decodes greedily, `GREEDY_BELOW`), stop strings non-empty,
chat content parts exactly {type: text, text}, and chat's max_tokens / max_completion_tokens must agree
when both are given. Every 400 names its field in `error.param`.

Logprobs: one entry per generated token (`usage.completion_tokens` of them). Token texts are what each
token adds to the returned text (`textbooks.model.generate.token_texts`), so they join to it exactly:
a token that ends inside a multi-byte character gets "", and the tokens of a cut stop string get "".
Alternatives are named by their text, or "bytes:\\xNN..." when they are not whole characters.

Seeds: sample j of a prompt draws from a stream seeded by (seed, prompt ids, j) (the sampler's rule,
`textbooks.model.generate`), so a request gives the same output alone or among any number of concurrent
requests. A request without a seed gets a random one, as with OpenAI. Long prompts keep their last
max_seq_len - max_tokens tokens, as everywhere; `usage.prompt_tokens_dropped` says how many were cut.

Batching: HTTP handler threads only parse, validate and write; one engine thread owns the model. It
takes the first pending request, waits up to `max_wait_ms` for more, groups those with the same sampling
parameters except the seed (each row is seeded from its own request's seed) and decodes each group as one
batch of the sampler. A group that fails (e.g. out of memory) is retried request by request; streamed
tokens are never sent twice (the retry draws the same tokens and skips those already sent; one that
would differ ends the stream with an error). Streaming (`stream: true`, server-sent events): the engine
hands each token to the request's handler thread, which sends text as soon as it can no longer be the
start of a stop string.

Cancellation: a handler whose client has gone (the socket reads as closed, a write fails, or a write
blocks past the request timeout) sets its job's `cancelled` flag; the engine skips a job still queued and
drops a running job's rows at the next decode step, so a hung-up long request does not hold the model.
It is logged at INFO, without a traceback.

Limits (`Limits`, `textbooks serve --max-n --max-prompts --max-total-tokens --max-body-mb --request-timeout
--max-connections`): n <= 128 and <= 64 prompts per request, prompts x n x max_tokens <= 1,048,576 tokens
to generate (400 naming the field), bodies <= 8 MiB (413),
each read or write of a connection within 60 s and idle keep-alive connections closed after 60 s (a body
that does not arrive: 408), at most 64 connections at once (more: 503 + Retry-After). A body needs a
Content-Length (else 411) or `Transfer-Encoding: chunked` (decoded); a malformed length is a 400. Every
error, including the HTTP layer's own (a malformed request line, a method other than GET and POST: 405 with
`Allow`), is a JSON body in OpenAI's format {"error": {"message", "type", "param", "code"}}, never HTML.

Why `http.server` and not an ASGI server: the model is one engine thread either way, SSE is a few lines of
chunked HTTP/1.1, and the stdlib adds no dependency; this is for trying a model and for tests. No
authentication unless an API key variable is given; binds to 127.0.0.1 by default. To serve at scale,
export the checkpoint (`textbooks export hf`) and run `vllm serve DIR`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import queue
import random
import re
import select
import socket
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from textbooks.llm.backends.phi import FINISH
from textbooks.llm.chat import chat_stop, render_chat
from textbooks.text import cut_at_stop

log = logging.getLogger(__name__)

COMMON_FIELDS = ("model", "max_tokens", "temperature", "top_p", "n", "stop", "seed", "stream", "stream_options",
                 "logprobs", "user", "frequency_penalty", "presence_penalty", "logit_bias")
COMPLETION_FIELDS = COMMON_FIELDS + ("prompt", "best_of", "echo", "suffix")
CHAT_FIELDS = COMMON_FIELDS + ("messages", "max_completion_tokens", "top_logprobs", "response_format", "tools",
                               "tool_choice", "functions", "function_call", "parallel_tool_calls")
MAX_LOGPROBS = {"completions": 5, "chat": 20}  # OpenAI's limits
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param


def _unsupported(name: str, value: Any, noop: str) -> ApiError:
    return ApiError(400, f"'{name}' is not supported by `textbooks serve` (got {json.dumps(value)}; only {noop} is "
                    "accepted). Remove it, or export the model with `textbooks export hf` and use `vllm serve`.",
                    param=name)


# Fields we do not implement, with the value that means "off" (accepted: it is what we do anyway).
_NOOPS = {"frequency_penalty": 0, "presence_penalty": 0, "logit_bias": {}, "echo": False, "suffix": "",
          "response_format": {"type": "text"}, "tools": [], "functions": [], "tool_choice": "none",
          "function_call": "none", "parallel_tool_calls": None}


def _same(value: Any, noop: Any) -> bool:
    numbers = (int, float)
    if isinstance(noop, bool) or isinstance(value, bool):
        return value is noop
    if isinstance(noop, numbers):
        return isinstance(value, numbers) and value == noop
    return type(value) is type(noop) and value == noop


def check_fields(body: dict[str, Any], chat: bool) -> None:
    """400 for any field that is unknown, or known but not implemented and not at its no-op value."""
    allowed = CHAT_FIELDS if chat else COMPLETION_FIELDS
    route = "/v1/chat/completions" if chat else "/v1/completions"
    for name in body:
        if name not in allowed:
            raise ApiError(400, f"unknown field '{name}' for {route}; `textbooks serve` takes: {', '.join(allowed)}",
                           param=name)
    given = {k: v for k, v in body.items() if v is not None}  # null = absent, as in OpenAI's API
    for name, noop in _NOOPS.items():
        if name in given and not _same(given[name], noop):
            raise _unsupported(name, given[name], "null" if noop is None else json.dumps(noop))
    if "best_of" in given:
        best_of = given["best_of"]
        if isinstance(best_of, bool) or not isinstance(best_of, int):
            raise ApiError(400, f"'best_of' must be an integer, got {json.dumps(best_of)}", param="best_of")
        if best_of != given.get("n", 1):
            raise _unsupported("best_of", best_of, "best_of equal to n")
    if "user" in given and not isinstance(given["user"], str):
        raise ApiError(400, f"'user' must be a string, got {json.dumps(given['user'])}", param="user")
    if "stream_options" in given:
        options = given["stream_options"]
        if not given.get("stream"):
            raise ApiError(400, "'stream_options' is only allowed with stream: true", param="stream_options")
        if not isinstance(options, dict) or set(options) - {"include_usage"}:
            raise ApiError(400, "'stream_options' takes only {\"include_usage\": true|false}", param="stream_options")
    if given.get("stream") and (given.get("logprobs") not in (None, False)):
        raise ApiError(400, "'logprobs' with stream: true is not supported by `textbooks serve`; ask without "
                       "stream for log-probabilities", param="logprobs")


class Cancelled(Exception):
    """The client of this job hung up before it was decoded (nobody waits for the answer)."""


class StreamDiverged(RuntimeError):
    """A retried job produced other tokens than the ones already streamed: the stream cannot go on."""


def _boolean(body: dict[str, Any], name: str, param: str | None = None) -> bool:
    """A true/false field (absent or null = false); "no", 0 or 1 are refused rather than guessed."""
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(400, f"'{name}' must be true or false, got {json.dumps(value)}", param=param or name)
    return value


def _check_text(body: dict[str, Any]) -> None:
    """400 for a string that is not Unicode text (a lone surrogate such as "\\ud800" is valid JSON but cannot be
    encoded, so the tokenizer would fail with a 500); the error names the top-level field."""

    def bad(value: Any) -> bool:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
            return False
        if isinstance(value, dict):
            return any(bad(k) or bad(v) for k, v in value.items())
        if isinstance(value, list):
            return any(bad(v) for v in value)
        return False

    for name, value in body.items():
        if bad(name) or bad(value):
            raise ApiError(400, f"'{name}' holds a lone UTF-16 surrogate (e.g. \"\\ud800\" without its pair), which "
                           "is not text; send valid Unicode", param=name)


@dataclass
class Job:
    """One HTTP request for the engine: its prompts, sampling params and (streaming) a token callback.

    cancelled: set by the request's handler thread when its client is gone; the engine then skips the job
    or drops its rows between decode steps. sent: the tokens already handed to on_token per (prompt, sample)
    (engine thread only), so a retried job never streams a token twice.
    """

    prompts: list[str]
    params: Any  # textbooks.model.generate.SamplingParams
    on_token: Callable[[int, int, int], None] | None = None
    future: Future = field(default_factory=Future)
    cancelled: threading.Event = field(default_factory=threading.Event)
    sent: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    _cursor: dict[tuple[int, int], int] = field(default_factory=dict)

    def deliver(self, i: int, j: int, token: int) -> None:
        """Hand one decoded token to on_token unless this attempt is replaying tokens already sent."""
        k = self._cursor.get((i, j), 0)
        self._cursor[(i, j)] = k + 1
        sent = self.sent.setdefault((i, j), [])
        if k < len(sent):  # a retry (same seeds, same tokens): already streamed, check and skip
            if sent[k] != token:
                raise StreamDiverged(f"the retried decode of choice {i}/{j} differs from the {len(sent)} tokens "
                                     f"already streamed at token {k}; retry the request")
            return
        sent.append(token)
        if self.on_token is not None:
            self.on_token(i, j, token)


def _group_key(params) -> str:
    """Requests that may share one batch: the same sampling parameters except the seed (rows are seeded one
    by one from each request's own seed; greedy ignores it)."""
    return repr(dataclasses.replace(params, seed=0))


class BatchingEngine:
    """One thread owns the model; `submit(prompts, params)` blocks until its completions are ready."""

    def __init__(self, generator, *, max_batch: int = 8, max_wait_ms: float = 5.0):
        self.generator = generator
        self.max_batch, self.max_wait_s = max_batch, max_wait_ms / 1000.0
        self.queue: queue.Queue = queue.Queue()
        self.batches_run = 0
        self.tokens_decoded = 0  # tokens handed out by the sampler (tests: a cancelled job stops early)
        self._thread = threading.Thread(target=self._loop, name="textbooks-serve-engine", daemon=True)
        self._stop = False

    def start(self) -> "BatchingEngine":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop = True
        self.queue.put(None)
        self._thread.join(timeout=10)

    def submit(self, prompts: list[str], params, on_token=None) -> list[list]:
        return self.enqueue(Job(prompts, params, on_token)).result()

    def enqueue(self, job: Job) -> Future:
        self.queue.put(job)
        return job.future

    def _loop(self) -> None:
        while not self._stop:
            job = self.queue.get()
            if job is None:
                return
            jobs = [job]
            size = len(job.prompts) * job.params.n
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
                size += len(more.prompts) * more.params.n
            self._run(jobs)

    def _run(self, jobs: list[Job]) -> None:
        groups: dict[str, list[Job]] = {}
        for job in jobs:
            if job.cancelled.is_set():  # its client left while it waited: decode nothing
                job.future.set_exception(Cancelled())
                continue
            groups.setdefault(_group_key(job.params), []).append(job)
        for group in groups.values():
            owner: list[tuple[Job, int]] = [(job, i) for job in group for i in range(len(job.prompts))]
            for job in group:
                job._cursor = {}  # this attempt's position in each choice's tokens

            def on_token(i: int, j: int, token: int) -> None:
                job, local = owner[i]
                self.tokens_decoded += 1
                job.deliver(local, j, token)

            try:
                outs = self.generator.generate([p for job in group for p in job.prompts], group[0].params,
                                               batch_size=self.max_batch, on_token=on_token,
                                               seeds=[job.params.seed for job, _ in owner],
                                               cancelled=lambda i: owner[i][0].cancelled.is_set())
                self.batches_run += 1
            except Exception as e:  # noqa: BLE001 - hand the error to the waiting request(s)
                if len(group) == 1:
                    group[0].future.set_exception(e)
                    continue
                # Find the culprit (or get under the memory limit): run each request alone. Streamed tokens
                # are not sent twice: the retry draws the same tokens (same seeds) and `deliver` skips them.
                log.warning("a batch of %d requests failed (%s: %s); running them one by one", len(group),
                            type(e).__name__, e)
                for job in group:
                    self._run([job])
                continue
            start = 0
            for job in group:
                job.future.set_result(outs[start : start + len(job.prompts)])
                start += len(job.prompts)


@dataclass
class Limits:
    """What one client may ask of the server (`textbooks serve --max-n ...`); beyond it: a 4xx naming the field.

    max_n: choices per prompt (OpenAI's cap is 128); max_prompts: prompts in one completions request;
    max_total_tokens: tokens one request may ask to generate (prompts x n x max_tokens);
    max_body_bytes: request body (413 above it); request_timeout_s: how long a connection may take to send
    each part of a request, or to read a streamed answer, and may sit idle between keep-alive requests
    (slow or silent clients are cut off: 408, or the connection is closed); max_connections: connections
    handled at once (one thread each); more get a 503 with Retry-After.
    """

    max_n: int = 128
    max_prompts: int = 64
    max_total_tokens: int = 2**20  # prompts x n x max_tokens of one request: bounds its decode time and memory
    max_body_bytes: int = 8 * 1024 * 1024
    request_timeout_s: float = 60.0
    max_connections: int = 64

    def __post_init__(self):
        for name in ("max_n", "max_prompts", "max_total_tokens", "max_body_bytes", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.request_timeout_s > 0:
            raise ValueError(f"request_timeout_s must be > 0, got {self.request_timeout_s}")


class _BoundedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, at most `max_connections` at once; beyond that a 503 and close."""

    daemon_threads = True

    def __init__(self, address, handler, max_connections: int):
        self._slots = threading.BoundedSemaphore(max_connections)
        self.max_connections = max_connections
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            body = json.dumps({"error": {"message": f"the server is handling {self.max_connections} connections "
                                         "(--max-connections); retry shortly", "type": "server_busy", "param": None,
                                         "code": 503}}).encode()
            try:
                request.settimeout(1.0)
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            except OSError:
                pass
            log.info("refused a connection from %s: %d connections open", client_address, self.max_connections)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class Server:
    """`Server(generator, name).start()` serves in a background thread (tests); `.serve_forever()` blocks."""

    def __init__(self, generator, model_name: str, *, host: str = "127.0.0.1", port: int = 8000, max_batch: int = 8,
                 max_wait_ms: float = 5.0, api_key: str | None = None, limits: Limits | None = None):
        self.generator, self.model_name, self.api_key = generator, model_name, api_key
        self.limits = limits or Limits()
        self.tokenizer = generator.tokenizer
        self.max_seq_len = generator.model.config.max_seq_len
        self.engine = BatchingEngine(generator, max_batch=max_batch, max_wait_ms=max_wait_ms)
        self.created = int(time.time())
        self.httpd = _BoundedHTTPServer((host, port), _make_handler(self), self.limits.max_connections)
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
    def model_card(self) -> dict[str, Any]:
        return {"id": self.model_name, "object": "model", "created": self.created, "owned_by": "textbooks",
                "max_model_len": self.max_seq_len}

    def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [self.model_card()]}

    def prepare(self, body: dict[str, Any], chat: bool) -> tuple[Job, dict[str, Any]]:
        """Validate a request: the engine job and what the response needs (stop, stream, logprobs...)."""
        _check_text(body)
        check_fields(body, chat)
        model = body.get("model")
        if model not in (self.model_name, None):
            raise ApiError(404, f"The model `{model}` does not exist. This server serves `{self.model_name}`.",
                           kind="not_found_error", param="model")
        if chat:
            prompts = [_chat_prompt(body.get("messages"))]
        else:
            prompt = body.get("prompt")
            prompts = [prompt] if isinstance(prompt, str) else prompt
            if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
                raise ApiError(400, "'prompt' must be a string or a non-empty list of strings (token ids are not supported)", param="prompt")
            if len(prompts) > self.limits.max_prompts:
                raise ApiError(400, f"'prompt' has {len(prompts)} prompts; this server takes at most "
                               f"{self.limits.max_prompts} per request (textbooks serve --max-prompts)", param="prompt")
        params, info = self._params(body, chat, prompts)
        return Job(prompts, params), info

    def respond(self, job: Job, info: dict[str, Any], outs: list[list]) -> dict[str, Any]:
        chat, n = info["chat"], job.params.n
        choices = []
        for i, completions in enumerate(outs):
            for j, c in enumerate(completions):
                choice: dict[str, Any] = {"index": i * n + j, "finish_reason": FINISH.get(c.finish_reason, c.finish_reason)}
                logprobs = self._logprobs(c, chat) if info["logprobs"] else None
                if chat:
                    choice["message"] = {"role": "assistant", "content": c.text}
                else:
                    choice["text"] = c.text
                choice["logprobs"] = logprobs
                choices.append(choice)
        return {"id": info["id"], "object": "chat.completion" if chat else "text_completion", "created": info["created"],
                "model": self.model_name, "choices": choices, "usage": _usage(outs)}

    def _params(self, body: dict[str, Any], chat: bool, prompts: list[str]):
        from textbooks.model.generate import GREEDY_BELOW, SamplingParams, SamplingParamsError

        def number(name, default, kind=float):
            value = body.get(name)
            if value is None:
                return default
            if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                    or (kind is int and value != int(value))):
                raise ApiError(400, f"'{name}' must be a{'n integer' if kind is int else ' finite number'}, got "
                               f"{json.dumps(value)}", param=name)
            return kind(value)

        longest = max(len(ids) for ids in self.generator.encode(prompts))
        room = self.max_seq_len - longest
        name = "max_tokens"
        if chat and body.get("max_completion_tokens") is not None:
            if body.get("max_tokens") is not None and body["max_tokens"] != body["max_completion_tokens"]:
                raise ApiError(400, f"'max_tokens' ({json.dumps(body['max_tokens'])}) and 'max_completion_tokens' "
                               f"({json.dumps(body['max_completion_tokens'])}) differ; send one of them "
                               "(max_tokens is the older name of max_completion_tokens)", param="max_completion_tokens")
            name = "max_completion_tokens"
        if chat and body.get(name) is None and room < 1:
            raise ApiError(400, f"the prompt ({longest} tokens) fills this model's context of {self.max_seq_len} tokens; "
                           "set max_tokens to keep its last max_seq_len - max_tokens tokens, or shorten it", param="messages")
        # OpenAI's defaults: 16 tokens for completions; for chat, the rest of the context.
        max_tokens = number(name, room if chat else 16, int)
        if max_tokens < 1:
            raise ApiError(400, f"'{name}' must be >= 1, got {max_tokens}", param=name)
        if max_tokens >= self.max_seq_len:
            raise ApiError(400, f"This model's maximum context length is {self.max_seq_len} tokens, and {name}={max_tokens} "
                           "leaves no room for the prompt. Please reduce max_tokens.", param=name)
        temperature = number("temperature", 1.0)
        top_p = number("top_p", 1.0)
        n = number("n", 1, int)
        if n > self.limits.max_n:
            raise ApiError(400, f"'n' must be at most {self.limits.max_n} on this server (textbooks serve --max-n), "
                           f"got {n}", param="n")
        total = len(prompts) * n * max_tokens
        if total > self.limits.max_total_tokens:
            raise ApiError(400, f"this request asks for up to {total:,} tokens ({len(prompts)} prompt(s) x n={n} x "
                           f"{name}={max_tokens}); this server generates at most {self.limits.max_total_tokens:,} per "
                           "request (textbooks serve --max-total-tokens): lower n or max_tokens, or split the request",
                           param="n" if n > 1 else name)
        stop = body.get("stop")
        stop = [] if stop is None else [stop] if isinstance(stop, str) else stop
        if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
            raise ApiError(400, "'stop' must be a non-empty string or a list of non-empty strings (an empty stop "
                           "string would match everywhere)", param="stop")
        if chat:
            stop = chat_stop(stop)
        seed = body.get("seed")
        if seed is None:
            # Greedy does not use the seed; otherwise a random one, as OpenAI does without a seed.
            seed = 0 if 0 <= temperature < GREEDY_BELOW else random.getrandbits(31)
        elif isinstance(seed, bool) or not isinstance(seed, int):
            raise ApiError(400, f"'seed' must be an integer, got {json.dumps(seed)}", param="seed")
        logprobs = self._logprobs_k(body, chat)
        stream = _boolean(body, "stream")
        names = {"max_new_tokens": name, "logprobs": "top_logprobs" if chat else "logprobs"}
        try:
            params = SamplingParams(max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, stop=stop,
                                    seed=seed, n=n, logprobs=logprobs)
        except SamplingParamsError as e:
            raise ApiError(400, e.describe(names), param=names.get(e.field, e.field)) from None
        info = {"chat": chat, "stream": stream, "stop": stop, "logprobs": logprobs is not None,
                "include_usage": _boolean(body.get("stream_options") or {}, "include_usage", "stream_options"),
                "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}", "created": int(time.time())}
        return params, info

    def _logprobs_k(self, body: dict[str, Any], chat: bool) -> int | None:
        if chat:
            want, k = _boolean(body, "logprobs"), body.get("top_logprobs")
            if k is not None and not want:
                raise ApiError(400, "'top_logprobs' needs logprobs: true", param="top_logprobs")
            if not want:
                return None
            name, k, limit = "top_logprobs", 0 if k is None else k, MAX_LOGPROBS["chat"]
        else:
            k, name, limit = body.get("logprobs"), "logprobs", MAX_LOGPROBS["completions"]
            if k is None:
                return None
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= limit:
            raise ApiError(400, f"'{name}' must be an integer in 0..{limit}, got {json.dumps(k)}", param=name)
        return k

    def _logprobs(self, c, chat: bool) -> dict[str, Any]:
        """OpenAI's logprobs object, one entry per generated token (`usage.completion_tokens` of them).

        An entry's token text is what that token adds to the returned text (`token_texts`), so the token texts
        join to the text exactly and text_offset never passes its end: a token that ends inside a multi-byte
        character gets "" (the token that completes it carries the character), and the tokens of a stop string
        cut off the end get "". Alternatives (top_logprobs) are named by their own text, or "bytes:\\xNN..."
        when they are not whole UTF-8 characters (as OpenAI does), so different tokens never share a key.
        """
        from textbooks.model.generate import token_texts

        lps = c.logprobs or []
        pieces = token_texts(self.tokenizer, [lp.token_id for lp in lps], c.text)
        offsets, at = [], 0
        for piece in pieces:
            offsets.append(at)
            at += len(piece)
        if chat:
            return {"content": [{"token": piece, "logprob": lp.logprob, "bytes": list(self._bytes(lp.token_id)),
                                 "top_logprobs": [{"token": self._token_name(i), "logprob": v,
                                                   "bytes": list(self._bytes(i))} for i, v in lp.top]}
                                for piece, lp in zip(pieces, lps)]}
        return {"tokens": pieces, "token_logprobs": [lp.logprob for lp in lps],
                "top_logprobs": [{**{self._token_name(i): v for i, v in lp.top}, self._token_name(lp.token_id): lp.logprob}
                                 for lp in lps],
                "text_offset": offsets}

    def _token_name(self, token_id: int) -> str:
        """A token on its own: its text, or "bytes:\\xe6\\x97" when its bytes are not whole UTF-8 characters."""
        raw = self._bytes(token_id)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "bytes:" + "".join(f"\\x{b:02x}" for b in raw)

    def _bytes(self, token_id: int) -> bytes:
        """A token's exact bytes (byte-level BPE tokens may be part of a UTF-8 character)."""
        hf = getattr(self.tokenizer, "hf", None)
        piece = hf.id_to_token(token_id) if hf is not None else None
        table = _byte_decoder()
        if piece is not None and all(ch in table for ch in piece):
            return bytes(table[ch] for ch in piece)
        return self.tokenizer.decode([token_id]).encode("utf-8")


_BYTE_DECODER: dict[str, int] | None = None


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, character -> byte (what `tokenizers`' ByteLevel uses)."""
    global _BYTE_DECODER
    if _BYTE_DECODER is None:
        bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
        cs, extra = list(bs), 0
        for b in range(256):
            if b not in bs:
                bs.append(b)
                cs.append(256 + extra)
                extra += 1
        _BYTE_DECODER = {chr(c): b for b, c in zip(bs, cs)}
    return _BYTE_DECODER


def _chat_prompt(messages: Any) -> str:
    """The prompt of a chat request (`render_chat`); content may be a string or a list of text parts."""
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list of {role, content}", param="messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise ApiError(400, f"messages[{i}] must be an object with role and content", param="messages")
        extra = set(m) - {"role", "content"}
        if extra:
            raise ApiError(400, f"messages[{i}]: field(s) {', '.join(sorted(extra))} not supported (only role and content)",
                           param="messages")
        content = m.get("content")
        if isinstance(content, list):
            for k, part in enumerate(content):
                if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                    raise ApiError(400, f"messages[{i}].content[{k}]: only text parts {{\"type\": \"text\", \"text\": "
                                   "...}} are supported", param="messages")
                if set(part) - {"type", "text"}:
                    raise ApiError(400, f"messages[{i}].content[{k}]: field(s) {', '.join(sorted(set(part) - {'type', 'text'}))} "
                                   "not supported (only type and text)", param="messages")
            content = "".join(p["text"] for p in content)
        out.append({"role": m.get("role"), "content": content})
    try:
        return render_chat(out)
    except ValueError as e:
        raise ApiError(400, str(e), param="messages") from None


def _usage(outs: list[list]) -> dict[str, int]:
    prompt_tokens = sum(cs[0].prompt_tokens for cs in outs if cs)
    completion_tokens = sum(len(c.token_ids) for cs in outs for c in cs)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_dropped": sum(cs[0].prompt_tokens_dropped for cs in outs if cs)}


class _StreamChoice:
    """One choice of a streamed request: its decoded text and how much of it was sent."""

    def __init__(self, tokenizer, stop: list[str]):
        from textbooks.model.generate import IncrementalDecoder

        self.decoder, self.stop = IncrementalDecoder(tokenizer), stop
        self.hold = max((len(s) for s in stop), default=1) - 1  # a stop string may be starting in the last chars
        self.sent, self.stopped = 0, False

    def push(self, token: int) -> str:
        """The text that can be sent after this token ("" while it could still be part of a stop string)."""
        if self.stopped:
            return ""
        self.decoder.push(token)
        text, found = cut_at_stop(self.decoder.text, self.stop)
        self.stopped = found
        safe = len(text) if found else max(self.sent, len(text) - self.hold)
        delta, self.sent = text[self.sent : safe], max(self.sent, safe)
        return delta

    def rest(self, final_text: str) -> str:
        """What the final (exactly cut) text adds to what was sent: held-back text is never a stop string's
        start, so what was sent is always a prefix of the final text."""
        sent = self.decoder.text[: self.sent]
        return final_text[len(sent) :] if final_text.startswith(sent) else ""


def _quiet_disconnects(request, client_address) -> None:
    """A client that hangs up (its timeout, Ctrl-C) is routine; anything else is logged with its traceback."""
    import sys

    if isinstance(sys.exc_info()[1], ConnectionError):
        log.info("client %s disconnected", client_address)
    else:
        log.exception("error while handling a request from %s", client_address)


class _ClientGone(ConnectionAbortedError):
    """The client closed its connection while its answer was being decoded."""


_POLL_S = 0.1  # how often a waiting handler checks that its client is still connected
_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose key appears twice ({"seed": 1, "seed": "x"}) is ambiguous: refused, not last-wins."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _make_handler(server: Server):
    limits = server.limits

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "textbooks-serve"
        timeout = limits.request_timeout_s  # socket timeout for every read and write of this connection

        def log_message(self, fmt, *args):
            log.debug("%s " + fmt, self.address_string(), *args)

        def _send(self, status: int, payload: dict[str, Any], close: bool = False) -> None:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if close:  # the rest of the request was not read: the connection cannot carry another one
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def _error(self, e: ApiError, close: bool = False) -> None:
            self._send(e.status, {"error": {"message": e.message, "type": e.kind, "param": e.param, "code": e.status}},
                       close=close)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """The HTTP layer's own errors (bad request line, header too long, unknown method) as OpenAI JSON, not
            http.server's HTML page; the connection is closed since the request may not have been read."""
            try:
                short, _ = self.responses.get(code, ("error", ""))
                text = message or short
                if explain and explain not in text:
                    text = f"{text}: {explain}"
                self.close_connection = True
                if self.request_version == "HTTP/0.9":  # an unparsable request line: answer as HTTP/1.1, with headers
                    self.request_version = "HTTP/1.1"
                if self.command == "HEAD" or code < 200 or code in (204, 304):
                    self.send_response(code, message)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    return
                self._error(ApiError(code, text, "invalid_request_error" if code < 500 else "server_error"), close=True)
            except (*_DISCONNECTS, TimeoutError) as e:
                self._disconnected(e)

        def _method_not_allowed(self) -> None:
            allowed = "GET, POST"
            try:
                self.close_connection = True  # a body we did not read may follow
                body = json.dumps({"error": {"message": f"method {self.command} is not allowed; this API takes GET "
                                             "(/v1/models, /health) and POST (/v1/completions, /v1/chat/completions)",
                                             "type": "invalid_request_error", "param": None, "code": 405}}).encode()
                self.send_response(405)
                self.send_header("Allow", allowed)
                self.send_header("Connection", "close")
                if self.command == "HEAD":
                    self.end_headers()
                    return
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
            except (*_DISCONNECTS, TimeoutError) as e:
                self._disconnected(e)

        do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_TRACE = do_CONNECT = _method_not_allowed

        def _authorized(self) -> bool:
            if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                self._error(ApiError(401, "missing or wrong API key (send 'Authorization: Bearer <key>')", "authentication_error"))
                return False
            return True

        def _disconnected(self, e: BaseException, job: Job | None = None) -> None:
            if job is not None:
                job.cancelled.set()  # the engine skips it, or drops its rows at the next decode step
            log.info("client %s disconnected before the answer to %s was sent (%s)%s", self.address_string(), self.path,
                     type(e).__name__, "; its decoding was cancelled" if job is not None else "")
            self.close_connection = True

        def _client_gone(self) -> bool:
            """True when the client has closed (or reset) the connection: the socket reads as end of file."""
            try:
                readable, _, _ = select.select([self.connection], [], [], 0)
                if not readable:
                    return False
                return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                return False
            except OSError:
                return True

        # --- the request body ---------------------------------------------------------------------------
        def _read_body(self) -> bytes:
            """The body per Content-Length or chunked transfer coding; ApiError 400/408/411/413 otherwise."""
            coding = self.headers.get("Transfer-Encoding")
            if coding is not None:
                if coding.strip().lower() != "chunked":
                    raise ApiError(400, f"Transfer-Encoding {coding!r} is not supported (only chunked)")
                return self._read_chunked()
            length = self.headers.get("Content-Length")
            if length is None:
                raise ApiError(411, "a POST needs a Content-Length header (or Transfer-Encoding: chunked)")
            if not length.strip().isdigit():
                raise ApiError(400, f"Content-Length must be a non-negative integer, got {length!r}")
            size = int(length)
            if size > limits.max_body_bytes:
                raise ApiError(413, f"the body ({size} bytes) is larger than this server takes ({limits.max_body_bytes} "
                               "bytes; textbooks serve --max-body-mb)")
            data = self.rfile.read(size)
            if len(data) < size:
                raise ApiError(400, f"the body ended after {len(data)} of its Content-Length {size} bytes")
            return data

        def _read_chunked(self) -> bytes:
            body = bytearray()
            while True:
                line = self.rfile.readline(1024)
                size_text = line.split(b";", 1)[0].strip()
                if not line.endswith(b"\n") or not _CHUNK_SIZE.fullmatch(size_text):
                    raise ApiError(400, f"bad chunk size line {line[:40]!r} in a chunked body")
                size = int(size_text, 16)
                if size == 0:
                    break
                if len(body) + size > limits.max_body_bytes:
                    raise ApiError(413, f"the chunked body is larger than this server takes ({limits.max_body_bytes} "
                                   "bytes; textbooks serve --max-body-mb)")
                chunk = self.rfile.read(size)
                if len(chunk) < size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                    raise ApiError(400, "a chunk of the chunked body is cut short or not followed by CRLF")
                body += chunk
            for _ in range(64):  # trailer fields, ignored, up to the empty line
                line = self.rfile.readline(8192)
                if line in (b"\r\n", b"\n", b""):
                    return bytes(body)
            raise ApiError(400, "too many trailer lines after a chunked body")

        def _parse(self, raw: bytes) -> dict[str, Any]:
            try:
                body = json.loads(raw, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
            except json.JSONDecodeError as e:
                raise ApiError(400, f"the request body is not JSON: {e}") from None
            except (ValueError, RecursionError) as e:  # not UTF-8, NaN/Infinity, nested too deep
                raise ApiError(400, f"the request body is not JSON: {e}") from None
            if not isinstance(body, dict):
                raise ApiError(400, "the request body must be a JSON object")
            return body

        def do_GET(self) -> None:
            path = self.path.split("?")[0].rstrip("/")
            try:
                if path == "/health":
                    return self._send(200, {"status": "ok"})
                if not self._authorized():
                    return
                if path == "/v1/models":
                    return self._send(200, server.models())
                if path.startswith("/v1/models/"):
                    wanted = urllib.parse.unquote(path[len("/v1/models/"):])  # ids may hold "/" or spaces
                    if wanted == server.model_name:
                        return self._send(200, server.model_card())
                    return self._error(ApiError(404, f"The model `{wanted}` does not exist. This server serves "
                                                f"`{server.model_name}`.", "not_found_error", param="model"))
                self._error(ApiError(404, f"no route GET {self.path}; try /v1/models", "not_found_error"))
            except (*_DISCONNECTS, TimeoutError) as e:
                self._disconnected(e)

        def do_POST(self) -> None:
            path = self.path.split("?")[0].rstrip("/")
            job = None
            try:
                try:
                    raw = self._read_body()
                except ApiError as e:
                    return self._error(e, close=True)
                except TimeoutError:
                    return self._error(ApiError(408, f"the request body did not arrive within {limits.request_timeout_s:g} s "
                                                "(textbooks serve --request-timeout)"), close=True)
                if not self._authorized():
                    return
                try:
                    if path not in ("/v1/completions", "/v1/chat/completions"):
                        raise ApiError(404, f"no route POST {self.path}; use /v1/completions or /v1/chat/completions", "not_found_error")
                    job, info = server.prepare(self._parse(raw), chat=path.endswith("chat/completions"))
                    if info["stream"]:
                        return self._stream(job, info)
                    answer = server.respond(job, info, self._wait(job))
                except ApiError as e:
                    return self._error(e)
                except ValueError as e:  # e.g. the sampler refusing a request
                    return self._error(ApiError(400, str(e)))
                except _DISCONNECTS:
                    raise
                except Exception as e:  # noqa: BLE001 - a server answers 500 rather than dropping the connection
                    log.exception("error while serving %s", self.path)
                    return self._error(ApiError(500, f"{type(e).__name__}: {e}", "server_error"))
                self._send(200, answer)
            except (*_DISCONNECTS, TimeoutError) as e:
                self._disconnected(e, job)

        def _wait(self, job: Job) -> list[list]:
            """The engine's answer; cancels the job as soon as the client has hung up (or timed out)."""
            future = server.engine.enqueue(job)
            while True:
                try:
                    return future.result(timeout=_POLL_S)
                except FutureTimeout:
                    if self._client_gone():
                        raise _ClientGone("the client closed the connection") from None

        # --- server-sent events ---------------------------------------------------------------------------
        def _event(self, payload: dict[str, Any] | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            chunk = f"data: {data}\n\n".encode("utf-8")
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))  # HTTP/1.1 chunked transfer encoding
            self.wfile.flush()

        def _stream(self, job: Job, info: dict[str, Any]) -> None:
            """Sends tokens as they are decoded. A failed write (the client left) or a write that blocks past
            the request timeout (a client that stopped reading) raises, and do_POST cancels the job."""
            chat, n = info["chat"], job.params.n
            events: queue.Queue = queue.Queue()
            job.on_token = lambda i, j, token: events.put((i * n + j, token))
            future = server.engine.enqueue(job)
            future.add_done_callback(lambda _: events.put(None))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            base = {"id": info["id"], "object": "chat.completion.chunk" if chat else "text_completion",
                    "created": info["created"], "model": server.model_name}

            def chunk(index: int, text: str | None, finish: str | None, first: bool = False) -> dict[str, Any]:
                if chat:
                    delta = ({"role": "assistant", "content": ""} if first else {}) | ({"content": text} if text else {})
                    choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
                else:
                    choice = {"index": index, "text": text or "", "logprobs": None, "finish_reason": finish}
                return {**base, "choices": [choice]}

            choices = [_StreamChoice(server.tokenizer, info["stop"]) for _ in range(len(job.prompts) * n)]
            if chat:
                for index in range(len(choices)):
                    self._event(chunk(index, None, None, first=True))
            while True:
                try:
                    item = events.get(timeout=_POLL_S)
                except queue.Empty:  # nothing to send (waiting in the queue, or text held back): still there?
                    if self._client_gone():
                        raise _ClientGone("the client closed the connection") from None
                    continue
                if item is None:
                    break
                index, token = item
                if delta := choices[index].push(token):
                    self._event(chunk(index, delta, None))
            error = future.exception()
            if error is not None:  # headers are sent: report the error in the stream, as OpenAI does
                log.error("error while streaming %s: %s", self.path, error)
                self._event({"error": {"message": f"{type(error).__name__}: {error}", "type": "server_error", "code": 500}})
            else:
                outs = future.result()
                for i, completions in enumerate(outs):
                    for j, c in enumerate(completions):
                        index = i * n + j
                        self._event(chunk(index, choices[index].rest(c.text), FINISH.get(c.finish_reason, c.finish_reason)))
                if info["include_usage"]:
                    self._event({**base, "choices": [], "usage": _usage(outs)})
            self._event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler
