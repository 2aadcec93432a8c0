"""Small text helpers shared by the sampler, the LLM backends and eval (no torch, stdlib only)."""

from __future__ import annotations

from typing import Iterable


def cut_at_stop(text: str, stop: Iterable[str]) -> tuple[str, bool]:
    """Text before the earliest stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
