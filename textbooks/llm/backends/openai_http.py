"""Any OpenAI-compatible server over HTTP: OpenAI, vLLM `serve`, llama.cpp `llama-server`, Ollama, TGI,
SGLang, `textbooks serve`. `/v1/completions` for prompts, `/v1/chat/completions` for messages.

`concurrency` workers pull requests from a queue; each call waits for the pacer, is sent, and on a
transient failure is retried with exponential backoff and full jitter (AWS architecture blog, "Exponential
Backoff And Jitter"): sleep ~ U(0, min(cap, base * 2^attempt)), or the server's Retry-After when it
gives one. Transient: 408, 409, 425, 429, 5xx, timeouts, refused/dropped connections, bodies that are
not the JSON we expect. Permanent (never retried): 400, 401, 403, 404, 413, 422 and other 4xx.

Seeds: a request with a seed and temperature > 0 sends each sample i as its own call (n=1) with the seed
`derive_seed(seed, prompt, i)` (`textbooks.text`), so every task and sample has its own seed and sample i
does not depend on how the samples were split into calls or which were cached. Without a seed (or
greedy) up to `max_n_per_call` samples go in one call with `n`.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from typing import Any

from textbooks.llm.cache import Sample, canonical_json
from textbooks.llm.config import LLMConfig, LLMError, LLMFatalError
from textbooks.llm.pacing import Pacer, estimate_tokens
from textbooks.text import derive_seed

RETRY_STATUS = {408, 409, 425, 429}
FATAL_STATUS = {401, 403, 404}
log = logging.getLogger(__name__)

MAX_RETRY_AFTER_S = 900.0  # a Retry-After of hours means a spent quota: stop waiting after 15 minutes per try


class Transient(Exception):
    """A failure worth retrying; `retry_after` is the server's hint in seconds."""

    def __init__(self, message: str, retry_after: float | None = None, connect: bool = False):
        super().__init__(message)
        self.retry_after, self.connect = retry_after, connect


class Permanent(Exception):
    """This request will fail the same way again (only this request)."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is seconds ("7", some servers send "1.5") or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class OpenAIHTTPBackend:
    def __init__(self, config: LLMConfig):
        self.config = config
        self._key = config.api_key()
        self._models: list[str] | None = None
        self._models_lock: asyncio.Lock | None = None
        self._warned_connect = False

    async def generate(self, works: list, sink) -> None:
        import httpx

        c = self.config
        headers = {"User-Agent": "textbooks-llm"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        timeout = httpx.Timeout(c.timeout_s, connect=min(c.connect_timeout_s, c.timeout_s))
        limits = httpx.Limits(max_connections=c.concurrency, max_keepalive_connections=c.concurrency)
        pacer = Pacer(c.rpm, c.tpm)
        queue: asyncio.Queue = asyncio.Queue()
        for w in works:
            if self._per_sample(w.request):  # one call per sample, each with its own derived seed
                for i in w.missing:
                    queue.put_nowait((w, [i]))
            else:
                queue.put_nowait((w, None))

        async with httpx.AsyncClient(headers=headers, timeout=timeout, limits=limits) as http:

            async def worker() -> None:
                while True:
                    try:
                        w, indices = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    await self._complete(http, pacer, w, sink, indices)

            tasks = [asyncio.create_task(worker()) for _ in range(min(c.concurrency, queue.qsize()))]
            try:
                done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for t in done:
                if t.exception() is not None:
                    raise t.exception()

    # --- one request: as many calls as it takes to get all its samples --------------------------------
    @staticmethod
    def _per_sample(r) -> bool:
        return r.seed is not None and r.temperature > 0

    async def _complete(self, http, pacer: Pacer, work, sink, only: list[int] | None = None) -> None:
        """All missing samples of `work`, or just the samples `only` (one seeded sample)."""
        r = work.request
        while work.missing and work.failed is None:
            indices = [i for i in only if i in work.missing] if only is not None else work.missing[: self.config.max_n_per_call]
            if not indices:
                return
            body = self._body(r, n=len(indices), first_index=indices[0])
            try:
                samples = await self._call_with_retries(http, pacer, body, sink)
            except Permanent as e:
                sink.failed(work, str(e))
                return
            except LLMError as e:
                if isinstance(e, LLMFatalError):
                    raise
                sink.failed(work, str(e))
                return
            # A server may return fewer choices than asked (llama.cpp and Ollama ignore `n`): keep what
            # came, the loop asks again for the rest.
            sink.done(work, dict(zip(indices, samples)))

    def _body(self, r, n: int, first_index: int) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.config.model, "max_tokens": r.max_tokens, "temperature": r.temperature, "top_p": r.top_p}
        if r.chat:
            body["messages"] = r.messages
        else:
            body["prompt"] = r.prompt
        if n > 1:
            body["n"] = n
        if r.stop:
            body["stop"] = r.stop
        if r.seed is not None:  # sample i's own seed (31 bits: every server takes it)
            body["seed"] = derive_seed(r.seed, r.prompt if not r.chat else canonical_json(r.messages), first_index, bits=31)
        if self.config.extra_body:
            body.update(self.config.extra_body)
        return body

    async def _call_with_retries(self, http, pacer: Pacer, body: dict[str, Any], sink) -> list[Sample]:
        c = self.config
        chat = "messages" in body
        url = f"{c.base_url}/{'chat/completions' if chat else 'completions'}"
        prompt_chars = sum(len(m.get("content") or "") for m in body["messages"]) if chat else len(body["prompt"])
        estimate = estimate_tokens(prompt_chars, body["max_tokens"], body.get("n", 1))
        attempt = 0
        while True:
            await pacer.acquire(estimate)
            sink.call_sent()
            try:
                samples, used = await self._call(http, url, body, chat)
                pacer.correct(estimate, used if used is not None else estimate)
                return samples
            except Transient as e:
                if attempt >= c.max_retries:
                    if e.connect:
                        raise LLMFatalError(
                            f"cannot connect to {url} after {attempt + 1} attempts: {e}. Is the server running, and is "
                            "--base-url right (it usually ends in /v1)?"
                        ) from None
                    raise LLMError(f"gave up after {attempt + 1} attempts: {e}") from None
                if e.connect and not self._warned_connect:  # say it now, not after minutes of silent retries
                    self._warned_connect = True
                    log.warning("%s; retrying up to %d times", e, c.max_retries)
                if e.retry_after is not None:
                    delay = min(e.retry_after, MAX_RETRY_AFTER_S)
                    if delay >= 60:  # a long silent wait looks like a hang: say what the server asked for
                        log.warning("%s: the server asks to wait %.0f s (Retry-After %g s; capped at %.0f s); waiting",
                                    e, delay, e.retry_after, MAX_RETRY_AFTER_S)
                    pacer.pause(delay)  # the limit is shared: hold every worker, not just this one
                    delay *= 1 + random.uniform(0, 0.1)  # spread the wake-ups
                else:
                    delay = random.uniform(0, min(c.backoff_max_s, c.backoff_base_s * 2**attempt))
                attempt += 1
                sink.retry()
                await asyncio.sleep(delay)

    async def _call(self, http, url: str, body: dict[str, Any], chat: bool) -> tuple[list[Sample], int | None]:
        import httpx

        try:
            # httpx's read timeout is per chunk: a server trickling one byte a second never trips it, so the
            # whole call also has a deadline (timeout_s, plus the connect timeout)
            deadline = self.config.timeout_s + self.config.connect_timeout_s
            response = await asyncio.wait_for(http.post(url, json=body), timeout=deadline)
        except asyncio.TimeoutError:
            raise Transient(f"no complete answer from {url} within {deadline:g} s (the whole call's deadline)") from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise Transient(f"connection to {url} failed ({type(e).__name__}: {self._redact(str(e)) or 'no detail'})", connect=True) from None
        except httpx.TimeoutException as e:
            raise Transient(f"no answer from {url} within {self.config.timeout_s:g} s ({type(e).__name__})") from None
        except httpx.TransportError as e:  # dropped mid-response, reset, protocol errors
            raise Transient(f"connection to {url} broke ({type(e).__name__}: {self._redact(str(e)) or 'no detail'})") from None
        status = response.status_code
        if status != 200:
            message = self._server_message(response)
            where = f"{status} from {url}"
            if status in RETRY_STATUS or status >= 500:
                raise Transient(f"{where}: {message}", retry_after=parse_retry_after(response.headers.get("retry-after")))
            if status in (401, 403):
                raise LLMFatalError(f"{where}: check the key in {self.config.describe_key()}. Server said: {message}")
            if status == 404:
                raise LLMFatalError(await self._not_found(http, where, message))
            hint = ""
            if any(w in message.lower() for w in ("context", "too long", "maximum", "max_tokens", "length")):
                hint = " (the prompt plus max_tokens may exceed the model's context: shorten the prompt or lower --max-tokens)"
            raise Permanent(f"{where}: {message}{hint}")
        try:
            data = response.json()
            choices = sorted(data["choices"], key=lambda ch: ch.get("index", 0))
            texts = [(ch["message"]["content"] or "") if chat else ch["text"] for ch in choices]
            finish = [ch.get("finish_reason") for ch in choices]
            if not texts or not all(isinstance(t, str) for t in texts):
                raise ValueError("no choices with text")
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise Transient(f"unreadable answer from {url} ({type(e).__name__}: {str(e)[:200]}): {response.text[:200]!r}") from None
        usage = data.get("usage") or {}
        pt, ct = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        # `textbooks serve` says how many prompt tokens it cut to fit the context (others refuse long prompts).
        dropped = usage.get("prompt_tokens_dropped")
        dropped = int(dropped) if isinstance(dropped, (int, float)) and not isinstance(dropped, bool) else None
        # One call's usage covers all its choices: charge the prompt once and split the completion tokens.
        k = len(texts)
        samples = [
            Sample(t, f, pt if j == 0 else 0, ct // k + (1 if j < ct % k else 0), dropped)
            for j, (t, f) in enumerate(zip(texts, finish))
        ]
        return samples, (pt + ct) if usage else None

    async def _not_found(self, http, where: str, message: str) -> str:
        models = await self._list_models(http)
        if models:
            listed = ", ".join(models[:20]) + (f" (and {len(models) - 20} more)" if len(models) > 20 else "")
            return f"{where}: {message.rstrip('.')}. Model {self.config.model!r} is not among the server's models: {listed}. Pass one of them as --model."
        return (f"{where}: {message.rstrip('.')}. Check --model {self.config.model!r} and that --base-url points at the API root "
                "(usually ending in /v1).")

    async def _list_models(self, http) -> list[str]:
        # Several workers may hit the 404 at once: one asks, the others wait for its answer.
        self._models_lock = self._models_lock or asyncio.Lock()
        async with self._models_lock:
            if self._models is None:
                self._models = []
                try:
                    response = await http.get(f"{self.config.base_url}/models")
                    if response.status_code == 200:
                        data = response.json().get("data") or []
                        self._models = [m["id"] for m in data if isinstance(m, dict) and "id" in m]
                except Exception:  # noqa: BLE001 - the listing is only a hint for an error message
                    pass
        return self._models

    def _server_message(self, response) -> str:
        try:
            data = response.json()
            error = data.get("error", data) if isinstance(data, dict) else data
            if isinstance(error, dict):
                message = error.get("message") or error.get("detail") or json.dumps(error)[:300]
            else:
                message = str(error)
        except ValueError:
            message = response.text[:300] or response.reason_phrase
        return self._redact(str(message))

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text
