"""`LLMClient(LLMConfig(...)).run(requests) -> list[Result]`: one client for every teacher, judge and generator.

What a run does:
1. expands each request into n samples and looks every sample up in the cache (`textbooks/llm/cache.py`);
2. hands the missing samples to the backend (HTTP with bounded concurrency, pacing and retries, or a
   local model in batches), which reports each finished call to a `Sink`;
3. the sink commits the samples to the cache *before* counting them done, so a crash loses at most the
   calls in flight;
4. results are assembled from the cache (the source of truth), in the order of the requests.

A request whose call fails for good (e.g. 400 context too long, or retries exhausted) gets
`Result.error`; other requests go on. Errors that every call would hit (bad key, unknown model,
unreachable server) raise `LLMFatalError` at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

from textbooks.llm.cache import ResultCache, Sample, canonical_json, sample_key
from textbooks.llm.config import LLMConfig, LLMFatalError, Request, Result, Usage, redact_url

log = logging.getLogger(__name__)


@dataclass
class Work:
    """The samples of one request that are still missing."""

    request: Request
    identity: dict[str, Any]
    missing: list[int]
    keys: dict[int, str] = field(default_factory=dict)
    failed: str | None = None


class Sink:
    """Where backends report: `done()` commits samples durably, then counts them."""

    def __init__(self, client: "LLMClient", usage: Usage, progress):
        self.client, self.usage, self.progress = client, usage, progress

    def call_sent(self) -> None:
        self.usage.requests += 1

    def retry(self) -> None:
        self.usage.retries += 1
        self._postfix()

    def done(self, work: Work, samples: dict[int, Sample]) -> None:
        samples = {i: s for i, s in samples.items() if i in work.missing}
        if not samples:
            return
        request_json = canonical_json(work.identity)
        self.client._store([(work.keys[i], request_json, s) for i, s in samples.items()])
        work.missing = [i for i in work.missing if i not in samples]
        for s in samples.values():
            self.usage.prompt_tokens += s.prompt_tokens
            self.usage.completion_tokens += s.completion_tokens
        if self.progress is not None:
            self.progress.update(len(samples))

    def failed(self, work: Work, reason: str) -> None:
        work.failed = reason
        log.debug("request %r failed: %s", work.request.id, reason)
        self._postfix()

    def _postfix(self) -> None:
        if self.progress is not None:
            self.progress.set_postfix(retries=self.usage.retries, cached=self.usage.cache_hits, refresh=False)


class LLMClient:
    """Send batches of requests to one backend, with a durable cache. Reuse one client for many runs:
    local backends load their model once; `usage` accumulates over runs (`last_usage` is the last run)."""

    def __init__(self, config: LLMConfig):
        self.config = config
        self.cache = ResultCache(config.cache_path) if config.cache_path else None
        self._memory: dict[str, Sample] = {}  # stands in for the cache when cache_path is None
        self.usage = Usage()
        self.last_usage = Usage()
        self._backend = None

    # --- public API ----------------------------------------------------------------------------------
    def run(self, requests: Sequence[Request]) -> list[Result]:
        """Blocking wrapper of `arun` (works inside a running event loop too, e.g. Jupyter)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.arun(requests))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self.arun(requests)).result()

    async def arun(self, requests: Sequence[Request]) -> list[Result]:
        seen: set[str] = set()
        for r in requests:
            key = canonical_json(r.id)
            if key in seen:
                raise ValueError(f"duplicate request id {r.id!r}: ids must be unique within a run")
            seen.add(key)
        usage = self.last_usage = Usage()
        works = [self._work(r) for r in requests]
        found = self._lookup([k for w in works for k in w.keys.values()])
        for w in works:
            w.missing = [i for i in w.missing if w.keys[i] not in found]
        usage.samples = sum(r.n for r in requests)
        usage.cache_hits = usage.samples - sum(len(w.missing) for w in works)
        todo = [w for w in works if w.missing]
        progress = None
        if self.config.progress and usage.samples:
            from tqdm.auto import tqdm

            progress = tqdm(total=usage.samples, initial=usage.cache_hits, unit="sample", desc=f"llm {self._label()}",
                            dynamic_ncols=True, smoothing=0.1)
        sink = Sink(self, usage, progress)
        try:
            if todo:
                await self.backend().generate(todo, sink)
        except BaseException:
            self._finish_usage(usage)
            self.usage.add(usage)  # what a stopped run did is still counted (and paid)
            raise
        finally:
            if progress is not None:
                progress.close()
        self._finish_usage(usage)
        results = self._results(works, found)
        usage.failures = sum(1 for r in results if r.error)
        self.usage.add(usage)
        if usage.failures:
            log.warning("%d of %d requests failed; first: %r: %s", usage.failures, len(results),
                        next(r.id for r in results if r.error), next(r.error for r in results if r.error))
        log.info("llm run: %s", usage.summary())
        return results

    def cached_results(self, requests: Sequence[Request]) -> list[Result]:
        """Results from the cache alone (nothing is sent): what a run has finished so far."""
        works = [self._work(r) for r in requests]
        for w in works:
            w.failed = "not completed yet"
        return self._results(works, {})

    def backend(self):
        if self._backend is None:
            self._backend = make_backend(self.config)
        return self._backend

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> "LLMClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- internals -----------------------------------------------------------------------------------
    def identity(self, request: Request) -> dict[str, Any]:
        """Everything that changes a sample's text, nothing else (the cache key without the index)."""
        c = self.config
        ident: dict[str, Any] = {
            "backend": c.backend,
            "base_url": redact_url(c.base_url) if c.backend == "openai" else None,  # no password in the cache
            "model": c.model,
            "chat": request.chat,
            "prompt": request.prompt,
            "messages": request.messages,
            **request.sampling(),
        }
        if c.extra_body:
            ident["extra_body"] = c.extra_body
        return ident

    def _label(self) -> str:
        model = self.config.model
        return model if self.config.backend == "openai" else f"{self.config.backend}:{model.rstrip('/').rsplit('/', 1)[-1]}"

    def _work(self, request: Request) -> Work:
        ident = self.identity(request)
        keys = {i: sample_key(ident, i) for i in range(request.n)}
        return Work(request, ident, list(range(request.n)), keys)

    def _lookup(self, keys: list[str]) -> dict[str, Sample]:
        if self.cache is not None:
            return self.cache.get_many(keys)
        return {k: self._memory[k] for k in keys if k in self._memory}

    def _store(self, rows: list[tuple[str, str, Sample]]) -> None:
        if self.cache is not None:
            self.cache.put_many(rows)
        else:
            for key, _, sample in rows:
                self._memory.setdefault(key, sample)

    def _results(self, works: list[Work], found_before: dict[str, Sample]) -> list[Result]:
        stored = self._lookup([k for w in works for k in w.keys.values()])
        results = []
        for w in works:
            samples = [stored.get(w.keys[i]) for i in range(w.request.n)]
            missing = [i for i, s in enumerate(samples) if s is None]
            got = [s for s in samples if s is not None]
            usage = {"prompt_tokens": sum(s.prompt_tokens for s in got), "completion_tokens": sum(s.completion_tokens for s in got)}
            error = None
            if missing:
                error = w.failed or "not completed (the run stopped before this request finished)"
                if got:
                    error += f" [{len(got)} of {w.request.n} samples done; a rerun sends only the rest]"
            # every sample of a prompt saw the same cut: report the count once, when the backend gave it
            dropped = [s.prompt_tokens_dropped for s in got if s.prompt_tokens_dropped is not None]
            results.append(Result(
                id=w.request.id,
                texts=[s.text for s in got] if error else [s.text for s in samples],
                usage=usage,
                error=error,
                finish_reasons=[s.finish_reason or "" for s in got],
                cached=sum(1 for k in w.keys.values() if k in found_before),
                prompt_tokens_dropped=max(dropped) if dropped else None,
            ))
        return results

    def _finish_usage(self, usage: Usage) -> None:
        c = self.config
        if c.cost_per_1k_prompt is not None or c.cost_per_1k_completion is not None:
            usage.cost = (usage.prompt_tokens * (c.cost_per_1k_prompt or 0.0)
                          + usage.completion_tokens * (c.cost_per_1k_completion or 0.0)) / 1000.0


def make_backend(config: LLMConfig):
    """Import the backend lazily: httpx, torch, transformers and vllm load only when used."""
    if config.backend == "openai":
        from textbooks.llm.backends.openai_http import OpenAIHTTPBackend

        return OpenAIHTTPBackend(config)
    if config.backend == "phi":
        from textbooks.llm.backends.phi import PhiBackend

        return PhiBackend(config)
    if config.backend == "hf":
        from textbooks.llm.backends.hf import HFBackend

        return HFBackend(config)
    if config.backend == "vllm":
        from textbooks.llm.backends.vllm import VLLMBackend

        return VLLMBackend(config)
    raise LLMFatalError(f"unknown backend {config.backend!r}")
