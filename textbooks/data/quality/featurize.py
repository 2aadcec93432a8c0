"""Featurizers: texts -> one L2-normalised float32 vector per text, identified by a fingerprint.

    from textbooks.data.quality.featurize import load_featurizer
    f = load_featurizer("hashed")                        # or "hashed:dim=4096,n=1-3", a model dir, a hub id
    X = f.embed(["def add(a, b):\\n    return a + b\\n"])  # (1, f.dim) float32, rows of norm 1
    f.fingerprint                                        # saved with every classifier / index built on X

Three kinds:
- `HashedNgramFeaturizer`: code-token 1..3-grams hashed into `dim` buckets (MurmurHash3 of each token,
  a fixed 64-bit combination per n-gram: no vocabulary to fit, so the same text gives the same vector on
  every machine and run). Cheap, CPU-only, offline: the default for the embedded demo.
- `HFCausalLMFeaturizer`: the paper's feature (phi-1 §2.1: "output embedding from a pretrained codegen
  model") for any Hugging Face causal-LM directory or hub id, e.g. `Salesforce/codegen-350M-mono`:
  the last hidden state (after the final LayerNorm, i.e. what the LM head reads) mean-pooled over the
  non-pad tokens of the first `max_tokens` tokens. The paper names neither the layer nor the pooling;
  mean pooling of the final hidden states is our reading (reference §4.2, [UNVERIFIED]).
- `PhiFeaturizer`: the same feature from one of our own `Phi` checkpoints (no transformers needed).
  On the HF export of the same checkpoint it agrees with `HFCausalLMFeaturizer` within 1e-4 (the test's
  bound; about 1e-7 measured in float32 on a tiny random model, tests/data/quality/test_featurize.py).

Fingerprints name the kind, every parameter that changes the vectors, and (for models) a sha256 over the
weight, config and tokenizer files, so a classifier trained on one featurizer refuses vectors from another.
Truncation: model featurizers read only the first `max_tokens` tokens of a text (default 512, the context
FineWeb-Edu's classifier reads; capped at the model's context). The rest of a long file is not seen.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

# Code tokens (documented, part of the hashed fingerprint): identifiers/keywords, numbers (ints, floats,
# hex), string-quote and comment markers and every other punctuation character on its own. Whitespace
# is dropped, so reindenting a file does not change its n-grams.
CODE_TOKEN_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*|0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[^\sA-Za-z0-9_]"
_CODE_TOKEN_RE = re.compile(CODE_TOKEN_PATTERN)

DEFAULT_HASHED_DIM = 4096  # 2**12 buckets: collisions are rare enough for a forest on ~1e4-1e5 samples
DEFAULT_MAX_TOKENS = 512  # FineWeb-Edu's classifier reads 512 tokens (data-tools §1.2); the paper does not say
DEFAULT_BATCH_SIZE = 16

# Files whose bytes decide a model's vectors (hashed into its fingerprint). Other files in the directory
# (README, trainer state, optimizer) do not change the embedding and are left out.
_MODEL_FILE_RE = re.compile(
    r"^(config\.json|.*\.safetensors|pytorch_model.*\.bin|.*\.index\.json|tokenizer\.json|tokenizer_config\.json|"
    r"special_tokens_map\.json|vocab\.json|merges\.txt|added_tokens\.json|tokenizer\.model)$"
)


def code_tokens(text: str) -> list[str]:
    """The code tokens of `text` (see CODE_TOKEN_PATTERN): `a.b(1)` -> ['a', '.', 'b', '(', '1', ')']."""
    return _CODE_TOKEN_RE.findall(text)


@runtime_checkable
class Featurizer(Protocol):
    """`embed(texts) -> (N, dim) float32`, each row of L2 norm 1 (0 for a text with nothing to embed).

    fingerprint: names the kind, its parameters and (models) a hash of the files; equal fingerprints give
      equal vectors. spec + options: `load_featurizer(spec, **options)` makes the same featurizer again.
    """

    fingerprint: str
    dim: int
    spec: str
    options: dict

    def embed(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray: ...


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def hash_model_files(directory: str | os.PathLike) -> str:
    """sha256 over the names and bytes of the files that decide a model's output (weights, config,
    tokenizer), in sorted order. ~1 s per GB."""
    directory = Path(directory)
    h = hashlib.sha256()
    files = sorted(p for p in directory.iterdir() if p.is_file() and _MODEL_FILE_RE.match(p.name))
    if not files:
        raise FileNotFoundError(f"{directory}: no model files (config.json, *.safetensors, ...) to fingerprint")
    for p in files:
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


# --- hashed n-grams ------------------------------------------------------------------------------------
class HashedNgramFeaturizer:
    """Code-token n-grams (n in `n`, default 1..3) hashed into `dim` buckets, counts L2-normalised.

    Hashing: each distinct token gets the first 8 bytes of its BLAKE2b digest (stdlib hashlib); an
    n-gram's hash combines its tokens' hashes with 64-bit multiply-add (wrapping, so identical on every
    platform), salted by n, mixed by the splitmix64 finalizer, and taken modulo `dim`. Stateless (nothing
    to fit or save) and deterministic across runs and machines (no use of Python's per-process `hash`).
    Why not scikit-learn's HashingVectorizer (also deterministic, MurmurHash3): its analyzer builds every
    n-gram as a Python string (0.45 MB/s on 300 stdlib files here) and importing it costs seconds; this
    numpy version measures ~3 MB/s (same files), most of it the regex tokenizer. Counts are non-negative (no alternate sign), so cosine similarities
    lie in [0, 1]. `max_chars` (default: all) featurizes only the start of each text.
    """

    VERSION = "v1"  # bump when the tokenisation or hashing changes (it changes every vector)
    _PRIME = np.uint64(0x100000001B3)  # FNV-64 prime: the multiplier of the n-gram combination
    _CACHE_LIMIT = 1 << 20  # distinct tokens remembered (then the cache starts over)

    def __init__(self, dim: int = DEFAULT_HASHED_DIM, n: tuple[int, int] = (1, 3), max_chars: int | None = None):
        if dim < 2:
            raise ValueError(f"HashedNgramFeaturizer: dim must be >= 2, got {dim}")
        n_min, n_max = n
        if not 1 <= n_min <= n_max:
            raise ValueError(f"HashedNgramFeaturizer: n must be (min, max) with 1 <= min <= max, got {n}")
        if max_chars is not None and max_chars < 1:
            raise ValueError(f"HashedNgramFeaturizer: max_chars must be >= 1 or None, got {max_chars}")
        self.dim, self.n, self.max_chars = int(dim), (int(n_min), int(n_max)), max_chars
        token_hash = hashlib.sha256(CODE_TOKEN_PATTERN.encode()).hexdigest()[:12]
        cut = f":max_chars={max_chars}" if max_chars else ""
        self.fingerprint = f"hashed-ngram-{self.VERSION}:dim={self.dim}:n={n_min}-{n_max}{cut}:tokens={token_hash}"
        self.spec = f"hashed:dim={self.dim},n={n_min}-{n_max}" + (f",max_chars={max_chars}" if max_chars else "")
        self.options: dict = {}
        self._token_hashes: dict[str, int] = {}

    def _ids(self, tokens: list[str]) -> np.ndarray:
        cache = self._token_hashes
        if len(cache) > self._CACHE_LIMIT:
            cache.clear()
        blake2b = hashlib.blake2b
        for token in set(tokens).difference(cache):
            cache[token] = int.from_bytes(blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
        return np.fromiter(map(cache.__getitem__, tokens), dtype=np.uint64, count=len(tokens))

    def _vector(self, text: str) -> np.ndarray:
        if self.max_chars:
            text = text[: self.max_chars]
        ids = self._ids(code_tokens(text))
        counts = np.zeros(self.dim, dtype=np.float32)
        with np.errstate(over="ignore"):  # uint64 arithmetic wraps by design
            for n in range(self.n[0], self.n[1] + 1):
                if len(ids) < n:
                    break
                h = ids[: len(ids) - n + 1].copy()
                for k in range(1, n):
                    h = h * self._PRIME + ids[k : len(ids) - n + 1 + k]
                h ^= np.uint64(n) * np.uint64(0x9E3779B97F4A7C15)  # salt: a bigram never aliases a unigram's slot
                h ^= h >> np.uint64(30)  # splitmix64 finalizer: every input bit reaches the low bits
                h *= np.uint64(0xBF58476D1CE4E5B9)
                h ^= h >> np.uint64(27)
                h *= np.uint64(0x94D049BB133111EB)
                h ^= h >> np.uint64(31)
                counts += np.bincount((h % np.uint64(self.dim)).astype(np.int64), minlength=self.dim).astype(np.float32)
        return counts

    def embed(self, texts: Sequence[str], batch_size: int = 1024) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._vector(text)
        return _l2_normalise(out)

    def __getstate__(self):  # picklable for executors, without the token cache
        return {**self.__dict__, "_token_hashes": {}}

    def __repr__(self) -> str:
        return f"HashedNgramFeaturizer(dim={self.dim}, n={self.n}" + (f", max_chars={self.max_chars})" if self.max_chars else ")")


# --- language models -------------------------------------------------------------------------------------
def _mean_pool(hidden, mask):
    """hidden (B, T, d), mask (B, T) 1 = real token -> (B, d) mean over real tokens (0 for none), fp32."""
    m = mask.to(hidden.device).float()[..., None]  # (B, T, 1)
    total = (hidden.float() * m).sum(dim=1)  # (B, d)
    return total / m.sum(dim=1).clamp(min=1.0)


def _resolve_dtype(dtype):
    import torch

    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    try:
        return {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
                "float16": torch.float16, "fp16": torch.float16}[str(dtype)]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; choose float32, bfloat16 or float16") from None


class _LMFeaturizer:
    """Shared batching: sort by length (less padding), right-pad, mean-pool the real tokens, unsort."""

    kind = "lm"
    pad_id: int = 0

    def _tokenize(self, texts: list[str]) -> list[list[int]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _hidden(self, input_ids, attention_mask):  # (B, T) -> (B, T, d)  # pragma: no cover - abstract
        raise NotImplementedError

    def embed(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        import torch

        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = [seq[: self.max_tokens] for seq in self._tokenize(texts)]
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                width = max(1, max(len(ids[i]) for i in rows))
                input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for r, i in enumerate(rows):  # right padding: with causal attention no real token sees a pad
                    input_ids[r, : len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
                    mask[r, : len(ids[i])] = 1
                hidden = self._hidden(input_ids.to(self.device), mask.to(self.device))  # (B, T, d)
                pooled = _mean_pool(hidden, mask.to(hidden.device)).cpu().numpy()  # (B, d)
                out[rows] = pooled
        return _l2_normalise(out)

    def __getstate__(self):  # picklable for executors: the model is loaded again in the worker
        return {**self.__dict__, "_model": None}


class HFCausalLMFeaturizer(_LMFeaturizer):
    """Mean-pooled last hidden states of a Hugging Face causal LM (directory, or hub id in the HF cache).

    path: a directory with config.json, weights and tokenizer files (e.g. a download of
      Salesforce/codegen-350M-mono, or `textbooks export hf` output), or a hub id (resolved through the
      local HF cache; offline and not cached -> FileNotFoundError saying how to get it).
    max_tokens: the first max_tokens tokens of each text are read (capped at the model's context).
    dtype: float32 (default on CPU) or bfloat16/float16 (GPU); part of the fingerprint.
    """

    kind = "hf-causal-lm"

    def __init__(self, path: str | os.PathLike, device: str = "cpu", max_tokens: int = DEFAULT_MAX_TOKENS,
                 dtype: str | None = None):
        self.source = str(path)
        self.path = _resolve_hf_path(path)
        if not (self.path / "config.json").is_file():
            raise FileNotFoundError(f"{self.path}: not a Hugging Face model directory (no config.json)")
        config = json.loads((self.path / "config.json").read_text(encoding="utf-8"))
        self.dim = int(_first(config, ("hidden_size", "n_embd", "d_model"), self.path))
        context = _first(config, ("max_position_embeddings", "n_positions", "n_ctx"), None)
        self.max_tokens = min(int(max_tokens), int(context)) if context else int(max_tokens)
        self.device = device
        self.dtype = str(dtype or "float32")
        _resolve_dtype(self.dtype)  # validate now, not in the worker
        digest = hash_model_files(self.path)[:16]
        self.fingerprint = (f"{self.kind}:{config.get('model_type', '?')}:sha256={digest}:max_tokens={self.max_tokens}"
                            f":dtype={self.dtype}:pool=mean:layer=last")
        self.spec = f"hf:{self.source}"
        self.options = {"max_tokens": self.max_tokens, "dtype": self.dtype}
        self._model = None
        self._tok = None

    def _load(self):
        if self._model is None:
            try:
                import transformers
            except ImportError:
                raise ImportError("HFCausalLMFeaturizer needs transformers: pip install 'textbooks[hf]'") from None
            tok = transformers.AutoTokenizer.from_pretrained(self.path)
            if tok.pad_token_id is None:
                tok.pad_token = tok.eos_token
            kwargs = {"dtype": _resolve_dtype(self.dtype)}
            try:
                model = transformers.AutoModelForCausalLM.from_pretrained(self.path, **kwargs)
            except ValueError:  # not a causal-LM config (an encoder): its own hidden states will do
                model = transformers.AutoModel.from_pretrained(self.path, **kwargs)
            self._model = model.to(self.device).eval()
            self._tok = tok
            self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else 0)
        return self._model

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        self._load()
        return self._tok(texts, add_special_tokens=True, truncation=True, max_length=self.max_tokens)["input_ids"]

    def _hidden(self, input_ids, attention_mask):
        model = self._load()
        # base_model: the transformer without the LM head; last_hidden_state is after the final LayerNorm
        return model.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def __getstate__(self):
        return {**super().__getstate__(), "_tok": None}

    def __repr__(self) -> str:
        return f"HFCausalLMFeaturizer({self.source!r}, device={self.device!r}, max_tokens={self.max_tokens}, dtype={self.dtype!r})"


class PhiFeaturizer(_LMFeaturizer):
    """Mean-pooled last hidden states (the final LayerNorm's output, before `lm_head`) of our `Phi`
    checkpoint, tokenized with the checkpoint's own tokenizer (`textbooks.tokenizer.load_tokenizer`)."""

    kind = "phi"

    def __init__(self, checkpoint: str | os.PathLike, device: str = "cpu", max_tokens: int = DEFAULT_MAX_TOKENS,
                 dtype: str | None = None):
        from textbooks.model.hf import read_config

        self.path = Path(checkpoint)
        config = read_config(self.path)
        self.dim = config.d_model
        self.max_tokens = min(int(max_tokens), config.max_seq_len)
        self.device = device
        self.dtype = str(dtype or "float32")
        _resolve_dtype(self.dtype)
        digest = hash_model_files(self.path)[:16]
        self.fingerprint = f"{self.kind}:sha256={digest}:max_tokens={self.max_tokens}:dtype={self.dtype}:pool=mean:layer=last"
        self.spec = f"phi:{self.path}"
        self.options = {"max_tokens": self.max_tokens, "dtype": self.dtype}
        self._model = None
        self._tok = None

    def _load(self):
        if self._model is None:
            from textbooks.model import Phi
            from textbooks.tokenizer import load_tokenizer

            self._tok = load_tokenizer(self.path)
            self.pad_id = self._tok.eos_id if getattr(self._tok, "eos_id", None) is not None else 0
            self._model = Phi.from_pretrained(self.path, device=self.device, dtype=_resolve_dtype(self.dtype))
        return self._model

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        self._load()
        return self._tok.encode_batch(texts)

    def _hidden(self, input_ids, attention_mask):
        # No padding mask is needed: pads are on the right and attention is causal, so a real token never
        # attends to one; the pooling ignores the pads' own outputs.
        return self._load().model(input_ids)  # the backbone: final LayerNorm output (B, T, d)

    def __getstate__(self):
        return {**super().__getstate__(), "_tok": None}

    def __repr__(self) -> str:
        return f"PhiFeaturizer({str(self.path)!r}, device={self.device!r}, max_tokens={self.max_tokens}, dtype={self.dtype!r})"


def _first(config: dict, names: tuple[str, ...], where):
    for name in names:
        if isinstance(config.get(name), int):
            return config[name]
    if where is None:
        return None
    raise ValueError(f"{where}/config.json: none of {', '.join(names)} gives the hidden size")


_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _resolve_hf_path(path: str | os.PathLike) -> Path:
    """A local directory as is; a hub id through the local Hugging Face cache (never a surprise download
    when HF_HUB_OFFLINE=1)."""
    p = Path(path)
    if p.exists():
        return p
    spec = str(path)
    if not _HUB_ID_RE.match(spec):
        raise FileNotFoundError(f"{spec}: no such directory (expected a Hugging Face model directory with config.json, "
                                "or a hub id like Salesforce/codegen-350M-mono)")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ImportError(f"{spec} looks like a hub id; loading it needs transformers: pip install 'textbooks[hf]'") from None
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or os.environ.get("TRANSFORMERS_OFFLINE", "") not in ("", "0")
    try:
        return Path(snapshot_download(spec, local_files_only=offline))
    except Exception as e:  # noqa: BLE001 - every hub failure gets the same advice
        how = "offline (HF_HUB_OFFLINE=1) and not in the local Hugging Face cache" if offline else f"could not be downloaded ({type(e).__name__}: {e})"
        raise FileNotFoundError(
            f"{spec}: {how}. On a machine with network run `huggingface-cli download {spec}` (or copy the model "
            "directory here and pass its path)"
        ) from None


# --- specs ---------------------------------------------------------------------------------------------
def _parse_options(text: str, spec: str) -> dict[str, str]:
    options = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"featurizer spec {spec!r}: expected key=value options separated by commas, got {part!r}")
        options[key.strip()] = value.strip()
    return options


def _hashed_from_options(options: dict[str, str], spec: str) -> HashedNgramFeaturizer:
    unknown = set(options) - {"dim", "n", "max_chars"}
    if unknown:
        raise ValueError(f"featurizer spec {spec!r}: unknown option(s) {', '.join(sorted(unknown))}; hashed takes dim, n "
                         "and max_chars (e.g. hashed:dim=4096,n=1-3,max_chars=8000)")
    try:
        dim = int(options.get("dim", DEFAULT_HASHED_DIM))
        lo, _, hi = options.get("n", "1-3").partition("-")
        n = (int(lo), int(hi or lo))
        max_chars = int(options["max_chars"]) if "max_chars" in options else None
    except ValueError:
        raise ValueError(f"featurizer spec {spec!r}: dim and max_chars must be integers and n like 1-3 or 2") from None
    return HashedNgramFeaturizer(dim=dim, n=n, max_chars=max_chars)


def _is_our_checkpoint(directory: Path) -> bool:
    from textbooks.model.hf import OUR_CONFIG_KEY

    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and OUR_CONFIG_KEY in config


def load_featurizer(spec: str, *, device: str = "cpu", max_tokens: int = DEFAULT_MAX_TOKENS,
                    dtype: str | None = None) -> Featurizer:
    """A featurizer from a spec string:

    - "hashed", "hashed:dim=4096", "hashed:dim=4096,n=1-3,max_chars=8000": HashedNgramFeaturizer;
    - a directory of one of our checkpoints (config.json with our "textbooks" key): PhiFeaturizer;
    - any other directory with config.json: HFCausalLMFeaturizer;
    - "hf:PATH" / "phi:PATH": force the kind (e.g. transformers on our own export);
    - a hub id like "Salesforce/codegen-350M-mono": HFCausalLMFeaturizer through the local HF cache.
    device / max_tokens / dtype apply to model featurizers.
    """
    spec = str(spec)
    kind, sep, rest = spec.partition(":")
    if kind == "hashed":
        return _hashed_from_options(_parse_options(rest, spec) if sep else {}, spec)
    if kind in ("hf", "phi") and sep:
        cls = HFCausalLMFeaturizer if kind == "hf" else PhiFeaturizer
        return cls(rest, device=device, max_tokens=max_tokens, dtype=dtype)
    path = Path(spec)
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"featurizer {spec}: is a file; expected 'hashed[:dim=N]', a model directory holding config.json "
                             "(ours or Hugging Face's), or a hub id")
        if not (path / "config.json").is_file():
            raise ValueError(f"featurizer {spec}: the directory has no config.json, so it is neither one of our checkpoints "
                             "nor a Hugging Face model directory (expected config.json + weights + tokenizer files)")
        cls = PhiFeaturizer if _is_our_checkpoint(path) else HFCausalLMFeaturizer
        return cls(path, device=device, max_tokens=max_tokens, dtype=dtype)
    if _HUB_ID_RE.match(spec):
        return HFCausalLMFeaturizer(spec, device=device, max_tokens=max_tokens, dtype=dtype)
    raise ValueError(f"featurizer {spec!r}: not 'hashed[:dim=N,n=A-B]', not an existing directory, not a hub id "
                     "(owner/name); expected one of those")


__all__ = ["Featurizer", "HashedNgramFeaturizer", "HFCausalLMFeaturizer", "PhiFeaturizer", "load_featurizer",
           "code_tokens", "CODE_TOKEN_PATTERN", "hash_model_files"]
