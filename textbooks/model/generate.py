"""The one sampling function: batched sampling from a `Phi` model with a KV cache (greedy, temperature,
top-p, stop strings, EOS, logprobs). `textbooks generate`, `textbooks eval generate`, the LLM client's
`phi` backend and `textbooks serve` all sample through `generate_iter` / `generate` here.

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
  Greedy samples of one prompt are identical: one is decoded and shared.

The rules every caller gets (README "Seeds, stop strings and long prompts"):
- Seeds: sample j of a prompt draws from its own `torch.Generator`, seeded with
  `textbooks.text.derive_seed(seed, prompt_ids, j)`. Its random stream depends only on (seed, the
  prompt's token ids, j): not on the prompt's position in the call, the batch size, its neighbours in
  the batch, or (in `serve`) which requests arrived at the same time. `sample_ids` names the j's to draw
  (default 0..n-1), so a resumed run draws exactly the samples an uninterrupted one would have.
  Bit-identity across batch shapes holds up to float noise of different batch shapes (~1e-6 in fp32),
  which could move a draw across a probability boundary: rare in fp32, likelier in bf16.
- Stop strings are matched on the decoded completion text (not the prompt), incrementally while
  decoding so that a row stops as soon as a stop string appears; the returned text is cut before the
  earliest stop string (like OpenAI's API; `textbooks.text.cut_at_stop`) and `token_ids` keep the tokens
  up to and including the one that completed it. While a row's text ends in an incomplete UTF-8
  character the incremental check waits; the final cut is always made on the full decoded text. The
  EOS token ends a sequence and is not part of `text` or `token_ids`.
- Long prompts: a prompt longer than `max_seq_len - max_new_tokens` tokens keeps its last tokens (the
  signature and docstring the model must continue are at the end) and `Completion.prompt_tokens_dropped`
  says how many were cut; every front end reports the count (warning + a field in its output).
  `max_new_tokens >= max_seq_len` (no room for any prompt) is an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence

import torch

from textbooks.model.phi import KVCache, Phi
# cut_at_stop, GREEDY_BELOW and MAX_TEMPERATURE re-exported for `from textbooks.model.generate import`
from textbooks.text import GREEDY_BELOW, MAX_TEMPERATURE, cut_at_stop, derive_seed

MAX_LOGPROBS = 20  # top alternatives per token (OpenAI: 5 for completions, 20 for chat)


class TokenizerLike(Protocol):
    """What the sampler needs from a tokenizer (textbooks.tokenizer.CodeTokenizer has it)."""

    eos_id: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


@dataclass
class SamplingParams:
    """How to sample. temperature 0 = greedy (argmax; so is any temperature below `GREEDY_BELOW` = 1e-5);
    top_p 1.0 = no nucleus cut; temperature at most 2 (OpenAI's bound).

    Example: `SamplingParams(max_new_tokens=512, temperature=0.8, top_p=0.95, stop=["\\ndef ", "\\nclass "],
    seed=0, n=10)` draws 10 samples per prompt, each cut before the first top-level def/class.
    logprobs: None = none; k >= 0 = each generated token's log-probability under the model (log-softmax of
    the raw logits, before temperature and top-p, as vLLM reports them) and its k most likely alternatives.
    """

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int = 0
    n: int = 1
    logprobs: int | None = None

    def __post_init__(self):
        if isinstance(self.stop, str):  # a lone string is a classic mistake: stop="\n" would be iterated by char
            self.stop = [self.stop]
        problems = []  # (field, what is wrong): front ends name the field their own way (--n, max_tokens)

        def number(name, value, integer=False) -> bool:
            ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
                  and (not integer or value == int(value)))
            if not ok:
                problems.append((name, f"must be a finite {'integer' if integer else 'number'} (got {value!r})"))
            return ok

        if number("max_new_tokens", self.max_new_tokens, True) and self.max_new_tokens < 1:
            problems.append(("max_new_tokens", f"must be >= 1 (got {self.max_new_tokens})"))
        if number("temperature", self.temperature) and not 0.0 <= self.temperature <= MAX_TEMPERATURE:
            problems.append(("temperature", f"must be in 0..{MAX_TEMPERATURE:g} (got {self.temperature}; 0 = greedy)"))
        if number("top_p", self.top_p) and not 0.0 < self.top_p <= 1.0:
            problems.append(("top_p", f"must be in (0, 1] (got {self.top_p})"))
        if number("n", self.n, True) and self.n < 1:
            problems.append(("n", f"must be >= 1 (got {self.n})"))
        if any(not isinstance(s, str) or s == "" for s in self.stop):
            problems.append(("stop", f"must be non-empty strings (got {self.stop!r})"))
        if self.logprobs is not None and number("logprobs", self.logprobs, True) \
                and not 0 <= self.logprobs <= MAX_LOGPROBS:
            problems.append(("logprobs", f"must be in 0..{MAX_LOGPROBS} or None (got {self.logprobs})"))
        if problems:
            raise SamplingParamsError(problems)

    @property
    def greedy(self) -> bool:
        """Argmax decoding: temperature 0, or below `GREEDY_BELOW` (where logits / T overflows float32)."""
        return self.temperature < GREEDY_BELOW


class SamplingParamsError(ValueError):
    """Invalid sampling settings. `problems` is [(field, what is wrong)]; `describe(names)` words them with a
    front end's own names for the fields ({"n": "--n"} in a CLI, {"max_new_tokens": "max_tokens"} in serve)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("invalid SamplingParams: " + self.describe())

    @property
    def field(self) -> str:
        return self.problems[0][0]

    def describe(self, names: dict[str, str] | None = None) -> str:
        names = names or {}
        return "; ".join(f"{names.get(f, f)} {text}" for f, text in self.problems)


@dataclass
class TokenLogprob:
    """A generated token's log-probability and the `k` most likely tokens at that step (id, logprob)."""

    token_id: int
    logprob: float
    top: list[tuple[int, float]]


@dataclass
class Completion:
    """One sampled continuation. finish_reason: "stop" (a stop string), "eos" or "length".

    prompt_tokens: tokens of the prompt the model saw; prompt_tokens_dropped: tokens cut from the front
    of a prompt that did not fit (0 when it fitted); sample: its sample index j (the seed rule's j).
    """

    text: str
    token_ids: list[int]
    finish_reason: str
    prompt_tokens: int
    prompt_tokens_dropped: int = 0
    sample: int = 0
    logprobs: list[TokenLogprob] | None = None


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


def token_texts(tokenizer: TokenizerLike, token_ids: Sequence[int], text: str) -> list[str]:
    """The text each token adds to `text` (a completion's returned text): one string per token, joined they
    are `text` exactly. Decoded incrementally (`IncrementalDecoder`), so a token that ends in the middle of
    a multi-byte character gets "" and the token that completes it gets the whole character; tokens past
    the end of `text` (a stop string cut off) get the part of their text that is kept, possibly "".
    """
    decoder = IncrementalDecoder(tokenizer)
    pieces = [decoder.push(t) for t in token_ids]
    full = tokenizer.decode(list(token_ids))
    if pieces and full.startswith(decoder.text):  # bytes still held (a cut-off character) go to the last token
        pieces[-1] += full[len(decoder.text) :]
    if not "".join(pieces).startswith(text):  # a tokenizer whose decode is not a concatenation: one piece
        return [text] + [""] * (len(pieces) - 1) if pieces else []
    out, used = [], 0
    for p in pieces:
        keep = max(0, min(len(p), len(text) - used))
        out.append(p[:keep])
        used += keep
    return out


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
    sample: int  # j, the sample index of the seed rule
    prompt_ids: list[int]
    generator: torch.Generator | None = None
    watcher: _StopWatcher | None = None
    shared: list[int] = field(default_factory=list)  # sample ids that get this sequence (greedy: all of them)
    dropped: int = 0  # prompt tokens cut to fit the context
    out: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str = "length"


def _choose(logits: torch.Tensor, params: SamplingParams, rows: list[_Sequence]) -> torch.Tensor:
    """logits (B, V) -> next token ids (B,) long."""
    if params.greedy:
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


def _record_logprobs(logits: torch.Tensor, tokens: torch.Tensor, rows: list[_Sequence], k: int) -> list[TokenLogprob]:
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, V)
    chosen = logp.gather(-1, tokens[:, None])[:, 0].tolist()  # (B,)
    if k:
        top_lp, top_id = logp.topk(k, dim=-1)  # (B, k)
        tops = [list(zip(i, lp)) for i, lp in zip(top_id.tolist(), top_lp.tolist())]
    else:
        tops = [[] for _ in rows]
    return [TokenLogprob(int(t), lp, top) for t, lp, top in zip(tokens.tolist(), chosen, tops)]


OnToken = Callable[[int, int, int], None]  # (prompt index, sample id, token id), called as each token is chosen
Cancelled = Callable[[int], bool]  # (prompt index) -> stop decoding that prompt's rows now (serve: client gone)


@torch.inference_mode()
def _decode_batch(model: Phi, seqs: list[_Sequence], params: SamplingParams, eos_id: int | None, device,
                  on_token: OnToken | None = None, cancelled: Cancelled | None = None) -> None:
    """Decode one batch in place (fills seq.out, seq.logprobs and seq.finish_reason)."""
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
        step_logprobs = (_record_logprobs(logits, tokens, active, params.logprobs)
                         if params.logprobs is not None else None)
        finished = []
        for k, (seq, tok) in enumerate(zip(active, tokens.tolist())):
            if cancelled is not None and cancelled(seq.index):  # checked between decode steps
                seq.finish_reason = "cancelled"
                finished.append(k)
                continue
            if tok == eos_id:
                seq.finish_reason = "eos"
                finished.append(k)
                continue
            seq.out.append(tok)
            if step_logprobs is not None:
                seq.logprobs.append(step_logprobs[k])
            if on_token is not None:
                for j in seq.shared:
                    on_token(seq.index, j, tok)
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


def prompt_budget(max_seq_len: int, max_new_tokens: int) -> int:
    """Prompt tokens that fit with `max_new_tokens`; ValueError (naming the fix) when none do."""
    budget = max_seq_len - max_new_tokens
    if budget < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens} leaves no room for a prompt in the model's "
                         f"max_seq_len={max_seq_len}; lower max_new_tokens (--max-new-tokens / max_tokens) "
                         f"below {max_seq_len}")
    return budget


def fit_prompt(ids: Sequence[int], budget: int, eos_id: int | None) -> tuple[list[int], int]:
    """The one rule for prompts: (ids the model sees, tokens dropped). A prompt longer than `budget` keeps
    its last `budget` tokens; an empty one starts from EOS (phi-1 has no BOS; every training document
    follows an <|endoftext|>)."""
    ids = list(ids)
    if not ids:
        if eos_id is None:
            raise ValueError("a prompt is empty and there is no EOS token to start from; give a non-empty prompt")
        ids = [eos_id]
    dropped = max(0, len(ids) - budget)
    return (ids[dropped:], dropped)


def _run(model, prompt_ids, params, *, eos_id, batch_size, device, tokenizer=None, progress=False,
         sample_ids=None, on_token=None, seeds=None, cancelled=None) -> Iterator[list[_Sequence]]:
    """Yields the finished sequences batch by batch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
    budget = prompt_budget(model.config.max_seq_len, params.max_new_tokens)
    if sample_ids is None:
        sample_ids = [list(range(params.n))] * len(prompt_ids)
    elif len(sample_ids) != len(prompt_ids):
        raise ValueError(f"sample_ids has {len(sample_ids)} lists for {len(prompt_ids)} prompts; give one per prompt")
    if seeds is None:
        seeds = [params.seed] * len(prompt_ids)
    elif len(seeds) != len(prompt_ids):
        raise ValueError(f"seeds has {len(seeds)} values for {len(prompt_ids)} prompts; give one per prompt")
    greedy = params.greedy
    seqs = []
    for i, (raw, js, seed) in enumerate(zip(prompt_ids, sample_ids, seeds)):
        ids, dropped = fit_prompt(raw, budget, eos_id)
        js = [int(j) for j in js]
        # Greedy samples of one prompt are all the same: decode one and share it.
        for j in (js[:1] if greedy else js):
            seq = _Sequence(index=i, sample=j, prompt_ids=ids, shared=js if greedy else [j], dropped=dropped)
            if not greedy:
                seq.generator = torch.Generator(device=device).manual_seed(derive_seed(seed, ids, j))
            if params.stop and tokenizer is not None:
                seq.watcher = _StopWatcher(tokenizer, params.stop)
            if params.logprobs is not None:
                seq.logprobs = []
            seqs.append(seq)
    was_training = model.training
    model.eval()
    try:
        batches = _batches(seqs, batch_size)
        if progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="generate", unit="batch")
        for batch in batches:
            if cancelled is not None and all(cancelled(s.index) for s in batch):
                for s in batch:
                    s.finish_reason = "cancelled"
            else:
                _decode_batch(model, batch, params, eos_id, device, on_token, cancelled)
            yield batch
    finally:
        model.train(was_training)


def _model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _completions(seq: _Sequence, tokenizer: TokenizerLike, params: SamplingParams) -> list[Completion]:
    text, stopped = tokenizer.decode(seq.out), False
    if params.stop:  # exact cut on the full text, whatever the incremental check saw
        text, stopped = cut_at_stop(text, params.stop)
    reason = "stop" if stopped else (seq.finish_reason if seq.finish_reason in ("eos", "cancelled") else "length")
    return [Completion(text, list(seq.out), reason, len(seq.prompt_ids), seq.dropped, j,
                       list(seq.logprobs) if seq.logprobs is not None else None) for j in seq.shared]


def generate_iter(
    model: Phi,
    tokenizer: TokenizerLike,
    prompts: list[str],
    params: SamplingParams,
    batch_size: int = 8,
    *,
    sample_ids: Sequence[Sequence[int]] | None = None,
    on_token: OnToken | None = None,
    seeds: Sequence[int] | None = None,
    cancelled: Cancelled | None = None,
    progress: bool = False,
) -> Iterator[list[tuple[int, Completion]]]:
    """The sampling function. Yields, batch by batch as they finish, [(prompt index, Completion)].

    sample_ids[i]: the sample indices j to draw for prompt i (default 0..n-1; `params.n` is then unused);
    each is seeded by (params.seed, prompt i's token ids, j). seeds[i]: prompt i's own seed instead of
    params.seed (serve batches requests with different seeds). on_token(i, j, token_id) is called from the
    decode loop for each generated token (streaming); it must be quick. cancelled(i) is asked between decode
    steps: True drops prompt i's rows from the batch (their Completion has finish_reason "cancelled").
    """
    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings (got one string); wrap it: generate(..., [prompt], ...)")
    encode_batch = getattr(tokenizer, "encode_batch", None)
    prompt_ids = encode_batch(list(prompts)) if encode_batch else [tokenizer.encode(p) for p in prompts]
    for batch in _run(model, prompt_ids, params, eos_id=tokenizer.eos_id, batch_size=batch_size,
                      device=_model_device(model), tokenizer=tokenizer, progress=progress, sample_ids=sample_ids,
                      on_token=on_token, seeds=seeds, cancelled=cancelled):
        yield [(seq.index, c) for seq in batch for c in _completions(seq, tokenizer, params)]


def generate(
    model: Phi,
    tokenizer: TokenizerLike,
    prompts: list[str],
    params: SamplingParams,
    batch_size: int = 8,
    *,
    sample_ids: Sequence[Sequence[int]] | None = None,
    on_token: OnToken | None = None,
    seeds: Sequence[int] | None = None,
    cancelled: Cancelled | None = None,
    progress: bool = False,
) -> list[list[Completion]]:
    """`generate_iter` collected: the completions of each prompt, in prompt order and sample-id order."""
    grouped: list[list[Completion]] = [[] for _ in prompts]
    for batch in generate_iter(model, tokenizer, prompts, params, batch_size, sample_ids=sample_ids,
                               on_token=on_token, seeds=seeds, cancelled=cancelled, progress=progress):
        for i, c in batch:
            grouped[i].append(c)
    order = sample_ids or [list(range(params.n))] * len(prompts)
    for i, cs in enumerate(grouped):
        rank = {j: r for r, j in enumerate(order[i])}
        cs.sort(key=lambda c: rank[c.sample])
    return grouped


def generate_ids(
    model: Phi,
    prompt_ids: list[list[int]],
    params: SamplingParams,
    *,
    eos_id: int | None = None,
    batch_size: int = 8,
) -> list[list[list[int]]]:
    """Token-level sampling (no tokenizer; stop strings ignored): generated ids per prompt and sample.

    Used by benchmarks and parity checks; `eos_id=None` never stops early. Same seed and prompt rules.
    """
    grouped: list[dict[int, list[int]]] = [{} for _ in prompt_ids]
    for batch in _run(model, prompt_ids, params, eos_id=eos_id, batch_size=batch_size, device=_model_device(model)):
        for seq in batch:
            for j in seq.shared:
                grouped[seq.index][j] = list(seq.out)
    return [[g[j] for j in sorted(g)] for g in grouped]


class Generator:
    """A model, its tokenizer and a device, ready to sample (used by the CLI, eval, serve and the LLM client)."""

    def __init__(self, model: Phi, tokenizer: TokenizerLike, device: str | torch.device | None = None):
        self.device = torch.device(device) if device is not None else _model_device(model)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, device: str | torch.device | None = None, dtype: torch.dtype | None = None
    ) -> "Generator":
        """Load a checkpoint directory (config.json + model.safetensors + tokenizer files). A directory whose
        tokenizer files do not belong to its model (vocabulary, end-of-text id) is refused before the weights
        are read (textbooks.guard.UsageError): it would sample garbage."""
        from textbooks.guard import check_model_tokenizer
        from textbooks.tokenizer import load_tokenizer

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        tokenizer = load_tokenizer(path)
        check_model_tokenizer(path, tokenizer)
        model = Phi.from_pretrained(path, device=device, dtype=dtype)
        return cls(model, tokenizer, device)

    @property
    def max_seq_len(self) -> int:
        return self.model.config.max_seq_len

    def encode(self, prompts: list[str]) -> list[list[int]]:
        encode_batch = getattr(self.tokenizer, "encode_batch", None)
        return encode_batch(list(prompts)) if encode_batch else [self.tokenizer.encode(p) for p in prompts]

    def generate(self, prompts: list[str], params: SamplingParams, batch_size: int = 8, **kwargs) -> list[list[Completion]]:
        """`generate(...)` on this model (kwargs: sample_ids, on_token, seeds, cancelled, progress)."""
        return generate(self.model, self.tokenizer, prompts, params, batch_size, **kwargs)

    def generate_iter(self, prompts: list[str], params: SamplingParams, batch_size: int = 8, **kwargs):
        return generate_iter(self.model, self.tokenizer, prompts, params, batch_size, **kwargs)


__all__ = ["SamplingParams", "Completion", "TokenLogprob", "Generator", "generate", "generate_iter", "generate_ids",
           "IncrementalDecoder", "SamplingParamsError", "cut_at_stop", "fit_prompt", "prompt_budget", "token_texts"]
