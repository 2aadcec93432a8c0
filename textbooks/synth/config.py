"""`SynthConfig`: the settings of `textbooks synth textbooks|exercises` (YAML under configs/synth/, `--set`).

Example (configs/synth/exercises.yaml, abridged): an endpoint teacher at temperature 0.8, 16 requests in
flight, tests at most 5 s each, decontamination at the AST match rate 0.95 only:

    teacher: {temperature: 0.8, max_tokens: 1024, concurrency: 16}
    verify: {timeout: 5.0}
    decontaminate: {methods: [ast], tau: 0.95}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from textbooks.data.decontam.detect import DecontaminateConfig
from textbooks.data.dedup import DedupConfig


@dataclass
class TeacherSection:
    """How an endpoint teacher is asked (`--teacher URL`); the offline teacher ignores all but `prompt_version`.

    mode: "chat" (/v1/chat/completions, one user message) or "completions" (/v1/completions, the prompt as text).
    retries: re-asks after an answer the parser cannot use (the bad answer and a reminder stay in the
      conversation, as the quality annotator does); each re-ask is one more request against --max-requests.
    cost_per_1k_*: optional prices, so stats.json and the progress line show the cost.
    """

    mode: Literal["chat", "completions"] = "chat"
    prompt_version: str = "v1"  # textbooks/synth/prompts/<kind>_<version>.md
    temperature: float = 0.8  # diversity comes from the constraints, and from sampling too
    top_p: float = 0.95  # Cosmopedia's setting
    max_tokens: int = 1024
    retries: int = 1
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    max_retries: int = 6  # HTTP retries on 429/5xx/timeouts/dropped connections (the client's)
    timeout_s: float = 600.0
    api_key_env: str | None = "OPENAI_API_KEY"
    cost_per_1k_prompt: float | None = None
    cost_per_1k_completion: float | None = None

    def __post_init__(self):
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"teacher.temperature must be in [0, 2], got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"teacher.top_p must be in (0, 1], got {self.top_p}")
        for key in ("max_tokens", "concurrency"):
            if getattr(self, key) < 1:
                raise ValueError(f"teacher.{key} must be >= 1, got {getattr(self, key)}")
        if self.retries < 0 or self.max_retries < 0:
            raise ValueError("teacher.retries and teacher.max_retries must be >= 0")


@dataclass
class VerifySection:
    """How answers are checked in the sandbox (textbooks.eval.sandbox).

    verdict: "isolated" runs the solution in a process of its own, reached by the tests only through
      plain-data calls, so no in-process trick in a teacher's code can forge a pass; tests that need objects
      across the call (a class exercise) get `IsolationError` there and are rerun in the "default" mode
      (solution and tests in one sandboxed process, the verdict still the harness's own); counted.
    check_trivial_tests: also run the tests against the prompt alone (signature + docstring, no body) and with
      a body returning a fresh object(): tests that pass then test nothing (`trivial tests`).
    min_asserts: fewer asserts calling the function -> `no tests`.
    """

    verdict: Literal["isolated", "default"] = "isolated"
    timeout: float = 5.0  # wall-clock seconds per program
    memory_mb: int = 1024
    workers: int | None = None  # sandbox workers (default: cores)
    isolation: Literal["auto", "bwrap", "process"] = "auto"
    check_trivial_tests: bool = True
    min_asserts: int = 2
    runs: int = 2  # every passing item runs again (runs - 1 times): one that fails then is `flaky` (random, clock)
    # Modules a solution, its tests or a textbook snippet may import; anything else is dropped as `unsafe code`
    # before it runs. The sandbox contains what runs there, but kept code is also run by people and trainers
    # outside it, and phi-1's exercises use almost only these (model card: 99.8% typing, math, random,
    # collections, datetime, itertools).
    allowed_imports: list[str] = field(default_factory=lambda: [
        "typing", "math", "cmath", "random", "collections", "datetime", "itertools", "functools", "operator", "re",
        "string", "heapq", "bisect", "dataclasses", "statistics", "fractions", "decimal", "calendar", "enum",
        "copy", "abc", "numbers", "textwrap", "unicodedata", "array", "json", "time", "__future__"])
    # Builtins no kept code may call: they reach files, processes or the interpreter's own machinery.
    forbidden_names: list[str] = field(default_factory=lambda: [
        "open", "exec", "eval", "compile", "__import__", "input", "breakpoint", "globals", "locals", "vars",
        "getattr", "setattr", "delattr", "exit", "quit", "__builtins__", "__loader__", "__spec__"])

    def __post_init__(self):
        if not 0 < self.timeout <= 600:
            raise ValueError(f"verify.timeout must be > 0 and at most 600 seconds, got {self.timeout}")
        if self.memory_mb < 64:
            raise ValueError(f"verify.memory_mb must be >= 64, got {self.memory_mb}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"verify.workers must be >= 1, got {self.workers}")
        if self.min_asserts < 1:
            raise ValueError(f"verify.min_asserts must be >= 1, got {self.min_asserts}")
        if not 1 <= self.runs <= 10:
            raise ValueError(f"verify.runs must be in 1..10, got {self.runs}")


@dataclass
class TextbookSection:
    """Keep/drop policy for textbook answers.

    on_failed_block: a section (text under one markdown heading) with a ```python block that fails is
      "drop_section" (removed; the item is dropped when no section is left), "drop_item" (the whole answer is
      dropped), or "keep" (kept, the failure counted in metadata). Blocks of a section run in order, each
      with the blocks before it (later snippets use earlier definitions).
    """

    on_failed_block: Literal["drop_section", "drop_item", "keep"] = "drop_section"
    min_words: int = 120  # shorter answers are dropped (`too short`): Cosmopedia drops < 150 tokens
    min_code_blocks: int = 1
    max_code_blocks: int = 12  # blocks executed per answer (each one more sandbox program)

    def __post_init__(self):
        if self.min_words < 0 or self.min_code_blocks < 0 or self.max_code_blocks < 1:
            raise ValueError("textbooks.min_words/min_code_blocks must be >= 0 and max_code_blocks >= 1")


@dataclass
class OfflineSection:
    """The offline teacher (`--teacher offline`, a documented stand-in for an LLM).

    mine_from: code inputs (as for the data verbs: .py trees, JSONL, a curation's output) to mine exercises
      from: self-contained functions with docstrings whose doctests pass (textbooks.synth.offline.mine);
      `mined_fraction` of the exercise requests are answered from them (while any are left).
    """

    mine_from: list[str] = field(default_factory=list)
    mined_fraction: float = 0.2
    max_mined_files: int = 5000

    def __post_init__(self):
        if not 0.0 <= self.mined_fraction <= 1.0:
            raise ValueError(f"offline.mined_fraction must be in [0, 1], got {self.mined_fraction}")


@dataclass
class SynthConfig:
    teacher: TeacherSection = field(default_factory=TeacherSection)
    verify: VerifySection = field(default_factory=VerifySection)
    textbooks: TextbookSection = field(default_factory=TextbookSection)
    offline: OfflineSection = field(default_factory=OfflineSection)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontaminate: DecontaminateConfig = field(default_factory=DecontaminateConfig)
    batch_size: int = 256  # items generated, verified and filtered per round (a resumed run repeats rounds)
    max_requests_factor: float = 2.0  # --max-requests default: this x --n

    def __post_init__(self):
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.max_requests_factor >= 1.0:
            raise ValueError(f"max_requests_factor must be >= 1, got {self.max_requests_factor}")


def load_synth_config(path: str | Path | None = None, overrides=()) -> SynthConfig:
    from textbooks.train.config import load_dataclass_config

    return load_dataclass_config(SynthConfig, path, overrides, shipped="configs/synth/", example="verify.timeout=10")
