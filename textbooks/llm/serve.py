"""An OpenAI-compatible HTTP server over one of our checkpoints (or an HF Phi directory).

    textbooks serve runs/phi1-small/final --port 8000
    curl http://127.0.0.1:8000/v1/completions -d '{"model": "final", "prompt": "def add(a, b):", "max_tokens": 32, "temperature": 0}'

Endpoints: GET /v1/models, GET /v1/models/{id}, POST /v1/completions (prompt: a string or a list of
strings), POST /v1/chat/completions (messages rendered with the plain template of `textbooks/llm/chat.py`),
GET /health. Defaults follow OpenAI: temperature 1, top_p 1, n 1, max_tokens 16 for completions; for
chat the rest of the context.

Fields (`COMPLETION_FIELDS`, `CHAT_FIELDS`): model, prompt / messages, max_tokens (max_completion_tokens
for chat), temperature, top_p, n, stop, seed, stream (+ stream_options.include_usage), logprobs (0..5
for completions; logprobs + top_logprobs 0..20 for chat: the model's log-softmax before temperature and
top-p), user (recorded nowhere, it changes nothing). A field that would change the output but is not
implemented is refused with a 400 naming it, unless it has its no-op value (frequency_penalty 0,
presence_penalty 0, logit_bias {}, best_of = n, echo false, suffix "", response_format text, no tools);
unknown fields are refused too. Nothing is ignored silently.

Seeds: sample j of a prompt draws from a stream seeded by (seed, prompt ids, j) (the sampler's rule,
`textbooks.model.generate`), so a request gives the same output alone or among any number of concurrent
requests. A request without a seed gets a random one, as with OpenAI. Long prompts keep their last
max_seq_len - max_tokens tokens, as everywhere; `usage.prompt_tokens_dropped` says how many were cut.

Batching: HTTP handler threads only parse, validate and write; one engine thread owns the model. It
takes the first pending request, waits up to `max_wait_ms` for more, groups those with the same sampling
parameters and decodes each group as one batch of the sampler. Streaming (`stream: true`, server-sent
events): the engine hands each token to the request's handler thread, which sends text as soon as it
can no longer be the start of a stop string. A client that hangs up is logged at INFO, without a
traceback (its batch still finishes decoding).

Why `http.server` and not an ASGI server: the model is one engine thread either way, SSE is a few lines of
chunked HTTP/1.1, and the stdlib adds no dependency; this is for trying a model and for tests. No
authentication unless an API key variable is given; binds to 127.0.0.1 by default. To serve at scale,
export the checkpoint (`textbooks export hf`) and run `vllm serve DIR`.
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
    if "best_of" in given and given["best_of"] != given.get("n", 1):
        raise _unsupported("best_of", given["best_of"], "best_of equal to n")
    if "stream_options" in given:
        options = given["stream_options"]
        if not given.get("stream"):
            raise ApiError(400, "'stream_options' is only allowed with stream: true", param="stream_options")
        if not isinstance(options, dict) or set(options) - {"include_usage"}:
            raise ApiError(400, "'stream_options' takes only {\"include_usage\": true|false}", param="stream_options")
    if given.get("stream") and (given.get("logprobs") not in (None, False)):
        raise ApiError(400, "'logprobs' with stream: true is not supported by `textbooks serve`; ask without "
                       "stream for log-probabilities", param="logprobs")


@dataclass
class Job:
    """One HTTP request for the engine: its prompts, sampling params and (streaming) a token callback."""

    prompts: list[str]
    params: Any  # textbooks.model.generate.SamplingParams
    on_token: Callable[[int, int, int], None] | None = None
    future: Future = field(default_factory=Future)


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
        for job in jobs:  # SamplingParams is a dataclass: its repr is a fine grouping key
            groups.setdefault(repr(job.params), []).append(job)
        for group in groups.values():
            owner: list[tuple[Job, int]] = [(job, i) for job in group for i in range(len(job.prompts))]

            def on_token(i: int, j: int, token: int) -> None:
                job, local = owner[i]
                if job.on_token is not None:
                    job.on_token(local, j, token)

            try:
                outs = self.generator.generate([p for job in group for p in job.prompts], group[0].params,
                                               batch_size=self.max_batch, on_token=on_token)
                self.batches_run += 1
            except Exception as e:  # noqa: BLE001 - hand the error to the waiting request(s)
                if len(group) == 1:
                    group[0].future.set_exception(e)
                    continue
                for job in group:  # find the culprit: run each request alone
                    self._run([job])
                continue
            start = 0
            for job in group:
                job.future.set_result(outs[start : start + len(job.prompts)])
                start += len(job.prompts)


class Server:
    """`Server(generator, name).start()` serves in a background thread (tests); `.serve_forever()` blocks."""

    def __init__(self, generator, model_name: str, *, host: str = "127.0.0.1", port: int = 8000, max_batch: int = 8,
                 max_wait_ms: float = 5.0, api_key: str | None = None):
        self.generator, self.model_name, self.api_key = generator, model_name, api_key
        self.tokenizer = generator.tokenizer
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
    def model_card(self) -> dict[str, Any]:
        return {"id": self.model_name, "object": "model", "created": self.created, "owned_by": "textbooks",
                "max_model_len": self.max_seq_len}

    def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [self.model_card()]}

    def prepare(self, body: dict[str, Any], chat: bool) -> tuple[Job, dict[str, Any]]:
        """Validate a request: the engine job and what the response needs (stop, stream, logprobs...)."""
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
        from textbooks.model.generate import SamplingParams

        def number(name, default, kind=float):
            value = body.get(name)
            if value is None:
                return default
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
                raise ApiError(400, f"'{name}' must be a{'n integer' if kind is int else ' number'}, got {value!r}", param=name)
            return kind(value)

        longest = max(len(ids) for ids in self.generator.encode(prompts))
        room = self.max_seq_len - longest
        name = "max_completion_tokens" if chat and body.get("max_completion_tokens") is not None else "max_tokens"
        if chat and body.get(name) is None and room < 1:
            raise ApiError(400, f"the prompt ({longest} tokens) fills this model's context of {self.max_seq_len} tokens; "
                           "set max_tokens to keep its last max_seq_len - max_tokens tokens, or shorten it", param="messages")
        max_tokens = number(name, room if chat else 16, int)
        if max_tokens < 1:
            raise ApiError(400, f"'{name}' must be >= 1, got {max_tokens}", param=name)
        if max_tokens >= self.max_seq_len:
            raise ApiError(400, f"This model's maximum context length is {self.max_seq_len} tokens, and {name}={max_tokens} "
                           "leaves no room for the prompt. Please reduce max_tokens.", param=name)
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
        logprobs = self._logprobs_k(body, chat)
        stream = body.get("stream") or False
        if not isinstance(stream, bool):
            raise ApiError(400, f"'stream' must be true or false, got {stream!r}", param="stream")
        try:
            params = SamplingParams(max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, stop=stop,
                                    seed=seed, n=n, logprobs=logprobs)
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        info = {"chat": chat, "stream": stream, "stop": stop, "logprobs": logprobs is not None,
                "include_usage": bool((body.get("stream_options") or {}).get("include_usage")),
                "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}", "created": int(time.time())}
        return params, info

    def _logprobs_k(self, body: dict[str, Any], chat: bool) -> int | None:
        if chat:
            want, k = body.get("logprobs"), body.get("top_logprobs")
            if want not in (None, True, False):
                raise ApiError(400, f"'logprobs' must be true or false for chat, got {want!r}", param="logprobs")
            if k is not None and not want:
                raise ApiError(400, "'top_logprobs' needs logprobs: true", param="top_logprobs")
            if not want:
                return None
            name, k, limit = "top_logprobs", 0 if k is None else k, MAX_LOGPROBS["chat"]
        else:
            k, name, limit = body.get("logprobs"), "logprobs", MAX_LOGPROBS["completions"]
            if k is None or k is False:
                return None
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= limit:
            raise ApiError(400, f"'{name}' must be an integer in 0..{limit}, got {k!r}", param=name)
        return k

    def _logprobs(self, c, chat: bool) -> dict[str, Any]:
        """OpenAI's logprobs object for the tokens of the returned text (a cut stop string's tokens excluded)."""
        entries, offset = [], 0
        for lp in c.logprobs or []:
            if offset >= len(c.text) and entries:
                break
            token = self.tokenizer.decode([lp.token_id])
            entries.append((token, lp, offset))
            offset += len(token)
        if chat:
            return {"content": [{"token": t, "logprob": lp.logprob, "bytes": list(self._bytes(lp.token_id)),
                                 "top_logprobs": [{"token": self.tokenizer.decode([i]), "logprob": v,
                                                   "bytes": list(self._bytes(i))} for i, v in lp.top]}
                                for t, lp, _ in entries]}
        return {"tokens": [t for t, _, _ in entries], "token_logprobs": [lp.logprob for _, lp, _ in entries],
                "top_logprobs": [{**{self.tokenizer.decode([i]): v for i, v in lp.top}, t: lp.logprob}
                                 for t, lp, _ in entries],
                "text_offset": [o for _, _, o in entries]}

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
            if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content):
                raise ApiError(400, f"messages[{i}].content: only text parts are supported", param="messages")
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
            self.wfile.flush()

        def _error(self, e: ApiError) -> None:
            self._send(e.status, {"error": {"message": e.message, "type": e.kind, "param": e.param, "code": e.status}})

        def _authorized(self) -> bool:
            if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                self._error(ApiError(401, "missing or wrong API key (send 'Authorization: Bearer <key>')", "authentication_error"))
                return False
            return True

        def _disconnected(self, e: BaseException) -> None:
            log.info("client %s disconnected before the answer to %s was sent (%s)", self.address_string(), self.path,
                     type(e).__name__)
            self.close_connection = True

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
                    wanted = path[len("/v1/models/"):]
                    if wanted == server.model_name:
                        return self._send(200, server.model_card())
                    return self._error(ApiError(404, f"The model `{wanted}` does not exist. This server serves "
                                                f"`{server.model_name}`.", "not_found_error", param="model"))
                self._error(ApiError(404, f"no route GET {self.path}; try /v1/models", "not_found_error"))
            except _DISCONNECTS as e:
                self._disconnected(e)

        def do_POST(self) -> None:
            path = self.path.split("?")[0].rstrip("/")
            try:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if not self._authorized():
                    return
                try:
                    if path not in ("/v1/completions", "/v1/chat/completions"):
                        raise ApiError(404, f"no route POST {self.path}; use /v1/completions or /v1/chat/completions", "not_found_error")
                    try:
                        body = json.loads(raw or b"{}")
                    except json.JSONDecodeError as e:
                        raise ApiError(400, f"the request body is not JSON: {e}") from None
                    if not isinstance(body, dict):
                        raise ApiError(400, "the request body must be a JSON object")
                    job, info = server.prepare(body, chat=path.endswith("chat/completions"))
                    answer = None if info["stream"] else server.respond(job, info, server.engine.enqueue(job).result())
                except ApiError as e:
                    return self._error(e)
                except ValueError as e:  # e.g. the sampler refusing a request
                    return self._error(ApiError(400, str(e)))
                except Exception as e:  # noqa: BLE001 - a server answers 500 rather than dropping the connection
                    log.exception("error while serving %s", self.path)
                    return self._error(ApiError(500, f"{type(e).__name__}: {e}", "server_error"))
                if answer is None:
                    self._stream(job, info)
                else:
                    self._send(200, answer)
            except _DISCONNECTS as e:
                self._disconnected(e)

        # --- server-sent events ---------------------------------------------------------------------------
        def _event(self, payload: dict[str, Any] | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            chunk = f"data: {data}\n\n".encode("utf-8")
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))  # HTTP/1.1 chunked transfer encoding
            self.wfile.flush()

        def _stream(self, job: Job, info: dict[str, Any]) -> None:
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
            while (item := events.get()) is not None:
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
