"""Batched sampling from a `Phi` model with a KV cache: greedy, temperature, top-p, stop strings, EOS.

    from textbooks.model.generate import SamplingParams, generate, Generator
    params = SamplingParams(max_new_tokens=128, temperature=0.0, stop=["\\ndef"], seed=0, n=1)
    outs = generate(model, tokenizer, ["def add(a, b):\\n"], params)   # -> [[Completion(text=..., ...)]]
    gen = Generator.from_pretrained("runs/ckpt")                       # model + tokenizer + device

How a batch is decoded:
- Work items (prompt i, sample j) are sorted by prompt length (longest first) and cut into batches of
  `batch_size` sequences, so padding is small. Prompts are *left*-padded; `KVCache.valid` marks the pad
  slots, which no query attends to, and rotary positions start at 0 on each row's first real token, so
  a padded row computes what it would compute alone (up to float summation order).
- Prefill runs the whole padded prompt block once (logits of the last position only); each decode step
  feeds one token per row into the pre-allocated cache. A row that finishes (EOS, stop string,
  max_new_tokens) is dropped from the batch (`KVCache.select`), so later steps cost less.
- n > 1: the batch prefills each distinct prompt once and copies its cache rows for the n samples.

Determinism: each sequence (prompt i, sample j) samples with its own `torch.Generator`, seeded from
(`seed`, i, j). A sequence's random draws therefore do not depend on which other sequences share its
batch, on `batch_size`, or on the order of the finished rows. What is guaranteed: the same call (same
prompts, params, batch_size, device, dtype, torch build) returns the same output; greedy output is the
same batched or one at a time up to exact logit ties (tests check token identity on random models).
Sampled output for a sequence is the same across batch compositions unless float noise from a
different batch shape (~1e-6 in fp32) moves a sample across a probability boundary, which is rare but
possible; in bf16 it is more likely.

Stop strings are matched on the decoded completion text (not the prompt), incrementally while decoding
so that a row stops as soon as a stop string appears; the returned text is cut before the earliest
stop string (like OpenAI's API) and `token_ids` keep the tokens generated up to and including the one
that completed it. While a row's text ends in an incomplete UTF-8 character (bytes a random model may
never complete) the incremental check waits, so such a row may run on; the final cut is always made on
the full decoded text. The EOS token ends a sequence and is not part of `text` or `token_ids`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Sequence

import torch

from textbooks.model.phi import KVCache, Phi
from textbooks.text import cut_at_stop  # re-exported: `from textbooks.model.generate import cut_at_stop`


class TokenizerLike(Protocol):
    """What the sampler needs from a tokenizer (textbooks.tokenizer.CodeTokenizer has it)."""

    eos_id: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


@dataclass
class SamplingParams:
    """How to sample. temperature 0 = greedy (argmax); top_p 1.0 = no nucleus cut.

    Example: `SamplingParams(max_new_tokens=512, temperature=0.8, top_p=0.95, stop=["\\ndef ", "\\nclass "],
    seed=0, n=10)` draws 10 samples per prompt, each cut before the first top-level def/class.
    `truncate_prompt=True` keeps the last `max_seq_len - max_new_tokens` tokens of a prompt that is too
    long (instead of raising).
    """

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int = 0
    n: int = 1
    truncate_prompt: bool = False

    def __post_init__(self):
        if isinstance(self.stop, str):  # a lone string is a classic mistake: stop="\n" would be iterated by char
            self.stop = [self.stop]
        problems = []
        if int(self.max_new_tokens) < 1:
            problems.append(f"max_new_tokens must be >= 1 (got {self.max_new_tokens})")
        if not self.temperature >= 0.0:
            problems.append(f"temperature must be >= 0 (got {self.temperature}; 0 = greedy)")
        if not 0.0 < self.top_p <= 1.0:
            problems.append(f"top_p must be in (0, 1] (got {self.top_p})")
        if int(self.n) < 1:
            problems.append(f"n must be >= 1 (got {self.n})")
        if any(not isinstance(s, str) or s == "" for s in self.stop):
            problems.append(f"stop strings must be non-empty strings (got {self.stop!r})")
        if problems:
            raise ValueError("invalid SamplingParams: " + "; ".join(problems))


@dataclass
class Completion:
    """One sampled continuation. finish_reason: "stop" (a stop string), "eos" or "length"."""

    text: str
    token_ids: list[int]
    finish_reason: str
    prompt_tokens: int


class IncrementalDecoder:
    """Text of a growing token sequence, released only when it is complete UTF-8.

    Byte-level BPE can split one character over several tokens; decoding after each token would
    show U+FFFD until the last byte arrives. Like vLLM's `detokenize_incrementally`, we decode a short
    window [prefix, end) and release the new characters only when the window does not end in U+FFFD.
    """

    def __init__(self, tokenizer: TokenizerLike):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.text = ""
        self._prefix = 0  # window start (a character boundary)
        self._read = 0  # tokens up to here are in self.text

    def push(self, token_id: int) -> str:
        """Add a token; returns the newly completed text (possibly "")."""
        self.ids.append(token_id)
        prefix_text = self.tokenizer.decode(self.ids[self._prefix : self._read])
        new_text = self.tokenizer.decode(self.ids[self._prefix :])
        if len(new_text) > len(prefix_text) and not new_text.endswith("\ufffd"):
            delta = new_text[len(prefix_text) :]
            self.text += delta
            self._prefix, self._read = self._read, len(self.ids)
            return delta
        return ""


class _StopWatcher:
    """Watches one sequence's decoded text for stop strings (checks only the new tail)."""

    def __init__(self, tokenizer: TokenizerLike, stop: list[str]):
        self.decoder = IncrementalDecoder(tokenizer)
        self.stop = stop
        self.longest = max(len(s) for s in stop)

    def push(self, token_id: int) -> bool:
        before = len(self.decoder.text)
        if not self.decoder.push(token_id):
            return False
        tail = self.decoder.text[max(0, before - self.longest + 1) :]
        return any(s in tail for s in self.stop)


@dataclass
class _Sequence:
    index: int  # prompt index
    sample: int  # j in 0..n-1
    prompt_ids: list[int]
    generator: torch.Generator | None = None
    watcher: _StopWatcher | None = None
    out: list[int] = field(default_factory=list)
    finish_reason: str = "length"


def _seed_for(seed: int, index: int, sample: int) -> int:
    # A hash (not seed + index) so that (seed, i, j) never collides with (seed + 1, i - 1, j).
    digest = hashlib.sha256(f"{seed}:{index}:{sample}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def _choose(logits: torch.Tensor, params: SamplingParams, rows: list[_Sequence]) -> torch.Tensor:
    """logits (B, V) -> next token ids (B,) long."""
    if params.temperature == 0.0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / params.temperature, dim=-1)  # (B, V)
    if params.top_p < 1.0:
        # Nucleus: keep the smallest set of most likely tokens whose mass reaches top_p (always >= 1 token).
        sorted_probs, order = probs.sort(dim=-1, descending=True)  # (B, V)
        mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
        sorted_probs = sorted_probs.masked_fill(mass_before >= params.top_p, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    # One draw per row from the row's own generator, so neighbours in the batch do not matter.
    return torch.cat([torch.multinomial(probs[k], 1, generator=row.generator) for k, row in enumerate(rows)])


@torch.inference_mode()
def _decode_batch(model: Phi, seqs: list[_Sequence], params: SamplingParams, eos_id: int | None, device) -> None:
    """Decode one batch in place (fills seq.out and seq.finish_reason)."""
    # Distinct prompts are prefilled once; `expand` maps each sequence to its prompt's prefill row.
    row_of: dict[int, int] = {}
    uniq: list[list[int]] = []
    for s in seqs:
        if s.index not in row_of:
            row_of[s.index] = len(uniq)
            uniq.append(s.prompt_ids)
    lens = [len(p) for p in uniq]
    P, T = len(uniq), max(lens)
    max_new = params.max_new_tokens
    dtype = next(model.parameters()).dtype

    ids = torch.zeros(P, T, dtype=torch.long)
    for r, p in enumerate(uniq):
        ids[r, T - len(p) :] = torch.tensor(p, dtype=torch.long)
    pad = torch.tensor([T - n for n in lens])  # (P,) left-padding per row
    slot = torch.arange(T)
    positions = (slot[None, :] - pad[:, None]).clamp(min=0)  # (P, T): 0 at each row's first real token

    cache = KVCache.empty(model.config, P, T + max_new, device=device, dtype=dtype)
    cache.mark_left_padding(pad)
    logits = model(ids.to(device), positions=positions.to(device), cache=cache, last_only=True)[:, 0]  # (P, V)
    next_pos = torch.tensor(lens, device=device)  # (P,) position of each row's next token
    expand = [row_of[s.index] for s in seqs]
    if expand != list(range(P)):  # n > 1: copy prompt rows for each sample
        rows = torch.tensor(expand, device=device)
        cache.select(rows)
        logits, next_pos = logits[rows], next_pos[rows]

    active = list(seqs)
    for step in range(max_new):
        tokens = _choose(logits, params, active)  # (B,)
        finished = []
        for k, (seq, tok) in enumerate(zip(active, tokens.tolist())):
            if tok == eos_id:
                seq.finish_reason = "eos"
                finished.append(k)
                continue
            seq.out.append(tok)
            if seq.watcher is not None and seq.watcher.push(tok):
                seq.finish_reason = "stop"
                finished.append(k)
        if step == max_new - 1 or len(finished) == len(active):
            break  # the rest finish by length; no forward pass needed
        if finished:
            done = set(finished)
            keep = [k for k in range(len(active)) if k not in done]
            active = [active[k] for k in keep]
            rows = torch.tensor(keep, device=device)
            cache.select(rows)
            tokens, next_pos = tokens[rows], next_pos[rows]
        logits = model(tokens[:, None], positions=next_pos[:, None], cache=cache, last_only=True)[:, 0]  # (B, V)
        next_pos += 1


def _batches(seqs: list[_Sequence], batch_size: int) -> list[list[_Sequence]]:
    # Longest prompts first: similar lengths share a batch (little padding) and an out-of-memory
    # error shows up on the first batch rather than the last.
    order = sorted(seqs, key=lambda s: (-len(s.prompt_ids), s.index, s.sample))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _check_prompts(prompt_ids: list[list[int]], params: SamplingParams, max_seq_len: int, eos_id: int | None) -> list[list[int]]:
    budget = max_seq_len - params.max_new_tokens
    if budget < 1:
        raise ValueError(
            f"max_new_tokens={params.max_new_tokens} leaves no room for a prompt in the model's "
            f"max_seq_len={max_seq_len}; lower max_new_tokens"
        )
    out = []
    for i, ids in enumerate(prompt_ids):
        ids = list(ids)
        if not ids:
            if eos_id is None:
                raise ValueError(f"prompt {i} is empty and there is no EOS token to start from; give a non-empty prompt")
            ids = [eos_id]  # phi-1 has no BOS; every training document follows an <|endoftext|>
        if len(ids) > budget:
            if not params.truncate_prompt:
                raise ValueError(
                    f"prompt {i} has {len(ids)} tokens but max_seq_len {max_seq_len} - max_new_tokens "
                    f"{params.max_new_tokens} leaves {budget}; shorten it, lower max_new_tokens, or set "
                    f"truncate_prompt=True (--truncate-prompt) to keep its last {budget} tokens"
                )
            ids = ids[-budget:]
        out.append(ids)
    return out


def _run(model, prompt_ids, params, *, eos_id, batch_size, device, tokenizer=None, progress=False):
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
    prompt_ids = _check_prompts(prompt_ids, params, model.config.max_seq_len, eos_id)
    # Greedy samples of one prompt are all the same: decode one and share it n times.
    n_decoded = 1 if params.temperature == 0.0 else params.n
    seqs = []
    for i, ids in enumerate(prompt_ids):
        for j in range(n_decoded):
            seq = _Sequence(index=i, sample=j, prompt_ids=ids)
            if params.temperature > 0.0:
                seq.generator = torch.Generator(device=device).manual_seed(_seed_for(params.seed, i, j))
            if params.stop and tokenizer is not None:
                seq.watcher = _StopWatcher(tokenizer, params.stop)
            seqs.append(seq)
    was_training = model.training
    model.eval()
    try:
        batches = _batches(seqs, batch_size)
        if progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="generate", unit="batch")
        for batch in batches:
            _decode_batch(model, batch, params, eos_id, device)
    finally:
        model.train(was_training)
    grouped: list[list[_Sequence]] = [[] for _ in prompt_ids]
    for seq in seqs:  # seqs is in (i, j) order
        grouped[seq.index].append(seq)
    if n_decoded < params.n:
        grouped = [g * params.n for g in grouped]
    return grouped


def _model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def generate(
    model: Phi,
    tokenizer: TokenizerLike,
    prompts: list[str],
    params: SamplingParams,
    batch_size: int = 8,
    *,
    progress: bool = False,
) -> list[list[Completion]]:
    """Sample `params.n` completions for each prompt; returns them in prompt order."""
    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings (got one string); wrap it: generate(..., [prompt], ...)")
    encode_batch = getattr(tokenizer, "encode_batch", None)
    prompt_ids = encode_batch(list(prompts)) if encode_batch else [tokenizer.encode(p) for p in prompts]
    grouped = _run(
        model, prompt_ids, params, eos_id=tokenizer.eos_id, batch_size=batch_size,
        device=_model_device(model), tokenizer=tokenizer, progress=progress,
    )
    results = []
    for seqs in grouped:
        completions = []
        for seq in seqs:
            text, stopped = tokenizer.decode(seq.out), False
            if params.stop:  # exact cut on the full text, whatever the incremental check saw
                text, stopped = cut_at_stop(text, params.stop)
            reason = "stop" if stopped else ("eos" if seq.finish_reason == "eos" else "length")
            completions.append(Completion(text, list(seq.out), reason, len(seq.prompt_ids)))
        results.append(completions)
    return results


def generate_ids(
    model: Phi,
    prompt_ids: list[list[int]],
    params: SamplingParams,
    *,
    eos_id: int | None = None,
    batch_size: int = 8,
) -> list[list[list[int]]]:
    """Token-level sampling (no tokenizer; stop strings ignored): generated ids per prompt and sample.

    Used by benchmarks and parity checks; `eos_id=None` never stops early.
    """
    grouped = _run(model, prompt_ids, params, eos_id=eos_id, batch_size=batch_size, device=_model_device(model))
    return [[list(seq.out) for seq in seqs] for seqs in grouped]


class Generator:
    """A model, its tokenizer and a device, ready to sample (used by the CLI, eval and the LLM client)."""

    def __init__(self, model: Phi, tokenizer: TokenizerLike, device: str | torch.device | None = None):
        self.device = torch.device(device) if device is not None else _model_device(model)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, device: str | torch.device | None = None, dtype: torch.dtype | None = None
    ) -> "Generator":
        """Load a checkpoint directory (config.json + model.safetensors + tokenizer files)."""
        from textbooks.tokenizer import load_tokenizer

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        model = Phi.from_pretrained(path, device=device, dtype=dtype)
        return cls(model, load_tokenizer(path), device)

    def generate(
        self, prompts: list[str], params: SamplingParams, batch_size: int = 8, *, progress: bool = False
    ) -> list[list[Completion]]:
        return generate(self.model, self.tokenizer, prompts, params, batch_size, progress=progress)


__all__ = ["SamplingParams", "Completion", "Generator", "generate", "generate_ids", "IncrementalDecoder", "cut_at_stop"]
