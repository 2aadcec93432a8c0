"""Typed settings and records of the LLM client: `LLMConfig`, `Request`, `Result`, `Usage`, errors.

Stdlib only, so `textbooks --help` and `import textbooks.llm` stay fast.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

BACKENDS = ("openai", "vllm", "hf", "phi")


class LLMError(RuntimeError):
    """A request or a whole run could not be completed; the message says why and what to fix."""


class LLMFatalError(LLMError):
    """Every further request would fail the same way (bad key, unknown model, unreachable server):
    the run stops at once. Results finished before it are in the cache."""


@dataclass
class LLMConfig:
    """Where requests go and how they are paced, retried and cached.

    Example (a local vLLM server, 8 requests in flight, at most 600 requests and 200k tokens a minute):

        LLMConfig(backend="openai", base_url="http://127.0.0.1:8000/v1", model="Qwen/Qwen2.5-Coder-7B-Instruct",
                  cache_path="out/teacher.cache.sqlite", concurrency=8, rpm=600, tpm=200_000)

    backend: "openai" (any OpenAI-compatible HTTP server), "vllm" (in-process, GPU), "hf" (a transformers
      model directory), "phi" (one of our checkpoints through `textbooks.model.generate`). For the local
      backends `model` is the directory.
    api_key_env: the *name* of the environment variable holding the key; the key itself is never stored,
      logged or put in an error message. Unset -> no Authorization header (fine for local servers).
    cache_path: SQLite file; None disables caching (every run re-sends everything).
    rpm / tpm: requests / tokens per minute, paced evenly (see `textbooks/llm/pacing.py`); None = no limit.
    max_retries: retries per call after the first attempt on 429, 5xx, timeouts, dropped connections and
      unreadable bodies; backoff is exponential with full jitter from `backoff_base_s`, capped at
      `backoff_max_s`, and a server's Retry-After wins when given.
    max_n_per_call: samples asked for in one HTTP call (`n`); servers that ignore `n` (llama.cpp, Ollama)
      are handled: the client asks again for the samples still missing.
    cost_per_1k_prompt / cost_per_1k_completion: optional prices, reported in `Usage.cost`.
    extra_body: extra JSON fields merged into every HTTP call (e.g. {"top_k": 20} for vLLM, or
      {"max_completion_tokens": 512} for OpenAI reasoning models); part of the cache key.
    batch_size / device / dtype: local backends only.
    """

    backend: str = "openai"
    base_url: str | None = None
    model: str = ""
    api_key_env: str | None = "OPENAI_API_KEY"
    cache_path: str | None = None
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    max_retries: int = 6
    timeout_s: float = 600.0  # the official openai client's default: long generations are not cut and re-paid
    connect_timeout_s: float = 10.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    max_n_per_call: int = 8
    cost_per_1k_prompt: float | None = None
    cost_per_1k_completion: float | None = None
    extra_body: dict[str, Any] | None = None
    progress: bool = True
    batch_size: int = 8
    device: str | None = None
    dtype: str | None = None

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"LLMConfig.backend: unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.backend == "openai":
            if not self.base_url:
                raise ValueError("LLMConfig.base_url is required for backend 'openai' (e.g. http://127.0.0.1:8000/v1)")
            if not self.base_url.startswith(("http://", "https://")):
                raise ValueError(f"LLMConfig.base_url must start with http:// or https://, got {self.base_url!r}")
            self.base_url = self.base_url.rstrip("/")
        if not self.model:
            raise ValueError("LLMConfig.model is required (a model name for 'openai', a directory for local backends)")
        for name in ("concurrency", "max_n_per_call", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"LLMConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("rpm", "tpm"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"LLMConfig.{name} must be > 0 or None (no limit), got {value}")
        if self.max_retries < 0:
            raise ValueError(f"LLMConfig.max_retries must be >= 0, got {self.max_retries}")
        if self.timeout_s <= 0:
            raise ValueError(f"LLMConfig.timeout_s must be > 0, got {self.timeout_s}")
        if self.extra_body and self.backend != "openai":
            # only an HTTP server receives a request body; a local backend would drop these fields silently
            raise ValueError(f"LLMConfig.extra_body (--extra-body) is sent only to HTTP servers (backend 'openai'); the "
                             f"{self.backend!r} backend cannot honour {', '.join(map(repr, self.extra_body))}: remove them")

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def describe_key(self) -> str:
        """How to talk about the key in messages without showing it."""
        if not self.api_key_env:
            return "no API key is configured (set api_key_env / --api-key-env)"
        state = "set" if os.environ.get(self.api_key_env) else "NOT set"
        return f"${self.api_key_env} ({state})"


@dataclass
class Request:
    """One prompt (or chat) and how to sample it; `n` samples come back in `Result.texts`.

    chat: send to /v1/chat/completions. With `messages` it is implied; a `prompt` with chat=True becomes
    one user message. temperature 0 is greedy. seed: sample i of this request is drawn with a seed derived
    from (seed, prompt, i) (`textbooks.text.derive_seed`): our checkpoints (`phi`) and HTTP servers
    (one call per seeded sample) follow this rule; `hf` and `vllm` in process seed each call.
    """

    id: Any
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    chat: bool = False
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: list[str] | None = None
    seed: int | None = None

    def __post_init__(self):
        if self.messages is not None:
            self.chat = True
            if not isinstance(self.messages, list) or not all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in self.messages
            ):
                raise ValueError(f"request {self.id!r}: messages must be a list of {{'role': str, 'content': str}}")
            if self.prompt is not None:
                raise ValueError(f"request {self.id!r}: give either prompt or messages, not both")
        elif self.prompt is None:
            raise ValueError(f"request {self.id!r}: needs a prompt (or messages for chat)")
        elif not isinstance(self.prompt, str):
            raise ValueError(f"request {self.id!r}: prompt must be a string, got {type(self.prompt).__name__}")
        elif self.chat:
            self.messages, self.prompt = [{"role": "user", "content": self.prompt}], None
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        if self.n < 1:
            raise ValueError(f"request {self.id!r}: n must be >= 1, got {self.n}")
        if self.max_tokens < 1:
            raise ValueError(f"request {self.id!r}: max_tokens must be >= 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise ValueError(f"request {self.id!r}: temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"request {self.id!r}: top_p must be in (0, 1], got {self.top_p}")

    def sampling(self) -> dict[str, Any]:
        """The parameters that change the output (part of the cache key)."""
        return {
            "max_tokens": self.max_tokens,
            "temperature": float(self.temperature),
            "top_p": float(self.top_p),
            "stop": list(self.stop) if self.stop else None,
            "seed": self.seed,
        }


@dataclass
class Usage:
    """What a run cost. `requests` counts calls sent (retries included); `cache_hits` counts samples
    served from the cache; `failures` counts requests that ended without all their samples."""

    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    samples: int = 0
    failures: int = 0
    cost: float | None = None

    def add(self, other: "Usage") -> None:
        for name in ("requests", "retries", "prompt_tokens", "completion_tokens", "cache_hits", "samples", "failures"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.cost is not None:
            self.cost = (self.cost or 0.0) + other.cost

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        from textbooks.text import plural

        text = (
            f"{plural(self.samples, 'sample')} ({self.cache_hits} from cache), {plural(self.requests, 'call')} sent, "
            f"{plural(self.retries, 'retry', 'retries')}, {plural(self.failures, 'failed request')}, "
            f"{self.prompt_tokens} prompt + {plural(self.completion_tokens, 'completion token')}"
        )
        return text + (f", cost {self.cost:.4f}" if self.cost is not None else "")


@dataclass
class Result:
    """The answer to one `Request`: `texts[i]` is sample i (len == n) unless `error` says why not.

    usage: {"prompt_tokens", "completion_tokens"} summed over the samples' calls (cached ones included,
    as they were billed when first made); cached: how many samples came from the cache.
    prompt_tokens_dropped: tokens the backend cut from the front of a prompt too long for its context (our
    `phi` backend and `textbooks serve` report it, as `usage.prompt_tokens_dropped`); None when the backend
    does not say (other servers refuse a too-long prompt instead); 0 when nothing was cut.
    """

    id: Any
    texts: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    cached: int = 0
    prompt_tokens_dropped: int | None = None

    @property
    def text(self) -> str | None:
        return self.texts[0] if self.texts else None

    @property
    def ok(self) -> bool:
        return self.error is None


def redact_url(url: str | None) -> str | None:
    """`url` without user:password@ (for files and cache keys people share; a key belongs in api_key_env)."""
    if not url or "@" not in url:
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = f"***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
