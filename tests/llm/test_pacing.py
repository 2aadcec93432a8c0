"""Pacer arithmetic on a fake clock, and Retry-After parsing."""

from __future__ import annotations

import email.utils

import pytest

from textbooks.llm.backends.openai_http import parse_retry_after
from textbooks.llm.pacing import Pacer, estimate_tokens


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def drain(pacer: Pacer, clock: Clock, tokens: int, calls: int) -> list[float]:
    """Start `calls` calls as soon as the pacer allows; return their start times."""
    starts = []
    while len(starts) < calls:
        wait = pacer.try_acquire(tokens)
        if wait == 0:
            starts.append(clock.t)
        else:
            clock.t += wait
    return starts


def test_rpm_spaces_calls_evenly():
    clock = Clock()
    starts = drain(Pacer(rpm=120, clock=clock), clock, tokens=1, calls=5)
    assert starts == pytest.approx([100.0, 100.5, 101.0, 101.5, 102.0])


def test_tpm_charges_tokens_and_corrections_move_the_next_start():
    clock = Clock()
    pacer = Pacer(tpm=600, clock=clock)  # 10 tokens per second
    assert drain(pacer, clock, tokens=50, calls=2) == pytest.approx([100.0, 105.0])
    pacer.correct(estimated=50, actual=10)  # the second call used 10, not 50: 4 s are given back
    assert pacer.try_acquire(50) == pytest.approx(1.0)
    assert pacer.try_acquire(50) == pytest.approx(1.0)  # nothing was taken by the refused attempt


def test_the_stricter_limit_wins_and_an_idle_pacer_does_not_bank_a_burst():
    clock = Clock()
    pacer = Pacer(rpm=60, tpm=6000, clock=clock)  # 1 call/s, 100 tokens/s
    assert drain(pacer, clock, tokens=300, calls=3) == pytest.approx([100.0, 103.0, 106.0])
    clock.t += 1000  # idle for long: the next calls are still paced, not a burst of banked credit
    assert drain(pacer, clock, tokens=1, calls=3) == pytest.approx([1106.0, 1107.0, 1108.0])


def test_pause_holds_every_caller():
    clock = Clock()
    pacer = Pacer(clock=clock)
    assert pacer.try_acquire(1) == 0
    pacer.pause(3.0)
    assert pacer.try_acquire(1) == pytest.approx(3.0)
    clock.t += 3.0
    assert pacer.try_acquire(1) == 0


def test_no_limits_never_wait():
    clock = Clock()
    assert drain(Pacer(clock=clock), clock, tokens=10**6, calls=100) == [100.0] * 100


def test_estimate_counts_prompt_chars_and_all_samples():
    assert estimate_tokens(400, max_tokens=50, n=2) == 100 + 100
    assert estimate_tokens(0, max_tokens=5) == 6


def test_retry_after_seconds_and_http_dates():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
