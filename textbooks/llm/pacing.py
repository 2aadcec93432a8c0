"""Requests-per-minute and tokens-per-minute pacing (users of distilabel ask for it: distilabel#1014).

Both limits use the generic cell rate algorithm (a token bucket written as "theoretical arrival
times"): a call may start once `now >= free_at`, and starting it moves `free_at` to
`max(free_at, now) + cost / rate`. With rpm=120 calls leave every 0.5 s, evenly, rather than 120 in a
burst followed by a silent minute, because hosted APIs also enforce their per-minute limits over
shorter windows (OpenAI documents 60 RPM being enforced as 1 request per second).

Tokens are not known before a call, so a call is charged an estimate (prompt characters / 4 plus
max_tokens * n: what OpenAI itself counts against TPM), and `correct()` moves `free_at` by the
difference once the server's `usage` arrives. A 429 with Retry-After pauses every caller (`pause`),
since a rate limit is shared by all requests, not only the one that was refused.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Callable


def estimate_tokens(prompt_chars: int, max_tokens: int, n: int = 1) -> int:
    """~4 characters per token for English and code with BPE tokenizers (GPT-2/cl100k give 3-4.5)."""
    return max(1, math.ceil(prompt_chars / 4)) + max_tokens * n


class Pacer:
    """`await pacer.acquire(tokens)` before each call; `pacer.correct(estimate, actual)` after it."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None, *, clock: Callable[[], float] = time.monotonic):
        self.request_interval = 60.0 / rpm if rpm else 0.0  # seconds charged per call
        self.token_interval = 60.0 / tpm if tpm else 0.0  # seconds charged per token
        self.clock = clock
        self._requests_free_at = -math.inf
        self._tokens_free_at = -math.inf
        self._paused_until = -math.inf

    def try_acquire(self, tokens: int) -> float:
        """Start a call of `tokens` now and return 0, or return the seconds to wait (nothing taken)."""
        now = self.clock()
        ready = max(self._requests_free_at, self._tokens_free_at, self._paused_until)
        if ready > now:
            return ready - now
        if self.request_interval:
            self._requests_free_at = max(self._requests_free_at, now) + self.request_interval
        if self.token_interval:
            self._tokens_free_at = max(self._tokens_free_at, now) + tokens * self.token_interval
        return 0.0

    async def acquire(self, tokens: int) -> None:
        # Re-check after each sleep: a correction or a pause may have moved the times meanwhile.
        while (wait := self.try_acquire(tokens)) > 0:
            await asyncio.sleep(wait)

    def correct(self, estimated: int, actual: int) -> None:
        if self.token_interval:
            self._tokens_free_at += (actual - estimated) * self.token_interval

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self.clock() + seconds)
