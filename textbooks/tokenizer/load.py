"""`CodeTokenizer`: the one tokenizer object of the project, and `load_tokenizer(path)`.

A thin wrapper over a Hugging Face `tokenizers.Tokenizer` (the Rust encoder). Encoding never adds
special tokens (documents are joined with `<|endoftext|>` by the packer, not here) and decoding keeps
them, so `decode(encode(x)) == x` for any UTF-8 text: the byte-level alphabet covers every byte.

Literal `<|endoftext|>` inside a text is encoded as the special token, as `transformers` does by default
(our ids must equal `AutoTokenizer`'s); it still decodes back to the same string.

Directories it loads:
- ours (`textbooks tokenizer train`): tokenizer.json + tokenizer_config.json + special_tokens_map.json;
- any local HF tokenizer dir with a `tokenizer.json` (e.g. microsoft/phi-1's);
- a "slow" GPT-2 style dir with `vocab.json` + `merges.txt` [+ `added_tokens.json`] such as
  Salesforce/codegen-350M-mono's, rebuilt here as a GPT-2 byte-level BPE with the added tokens at
  their recorded ids.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenizers import Tokenizer

EOS_TOKEN = "<|endoftext|>"
MODEL_MAX_LENGTH = 2048  # paper §2.3: sequence length 2048
VOCAB_MULTIPLE = 64  # phi's config pads the embedding rows up to a multiple of 64 (pad_vocab_size_multiple)

# codegen-350M-mono's extra whitespace tokens (CodeGen jaxformer/hf/sample.py: include_whitespace(n_min=2,
# n_max=32) then include_tabs(n_min=2, n_max=10), each added longest first). Right after <|endoftext|>
# (50256 in codegen) come 31..2 spaces (50257..50286), then 9..2 tabs (50287..50294): reference §2.5.
WHITESPACE_TOKENS: tuple[str, ...] = tuple(" " * n for n in range(31, 1, -1)) + tuple("\t" * n for n in range(9, 1, -1))
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def pad_vocab_size(n: int, multiple: int = VOCAB_MULTIPLE) -> int:
    return -(-n // multiple) * multiple


class CodeTokenizer:
    """Encode/decode code with a byte-level BPE. `hf` is the underlying `tokenizers.Tokenizer`."""

    def __init__(self, hf: Tokenizer, eos_token: str = EOS_TOKEN, model_max_length: int = MODEL_MAX_LENGTH,
                 source: str | None = None):
        # A tokenizer.json may carry truncation/padding settings; ours must never cut or pad a document.
        hf.no_truncation()
        hf.no_padding()
        self.hf = hf
        self.eos_token = eos_token
        self.model_max_length = model_max_length
        self.source = source
        eos_id = hf.token_to_id(eos_token)
        if eos_id is None:
            raise ValueError(f"end-of-text token {eos_token!r} is not in the vocabulary"
                             + (f" of {source}" if source else "")
                             + "; set eos_token in tokenizer_config.json to a token that exists")
        self.eos_id: int = eos_id

    # -- sizes ---------------------------------------------------------------------------------------
    @cached_property
    def vocab_size(self) -> int:
        """Real number of token ids: 1 + the largest id (added tokens included)."""
        return max(self.hf.get_vocab(with_added_tokens=True).values()) + 1

    @property
    def padded_vocab_size(self) -> int:
        """`vocab_size` rounded up to a multiple of 64: use it for `PhiConfig.vocab_size`."""
        return pad_vocab_size(self.vocab_size)

    def __len__(self) -> int:
        return self.vocab_size

    # -- encode / decode -----------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return self.hf.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Many texts at once on the Rust side (parallel unless TOKENIZERS_PARALLELISM=false).

        `encode_batch_fast` skips the character-offset bookkeeping that `encode_batch` does for every
        token; ids are identical and we never use offsets.
        """
        if not isinstance(texts, list):
            texts = list(texts)
        fast = getattr(self.hf, "encode_batch_fast", None)  # tokenizers >= 0.20
        encodings = (fast or self.hf.encode_batch)(texts, add_special_tokens=False)
        return [e.ids for e in encodings]

    def decode(self, ids) -> str:
        """Ids -> text; special tokens are kept. Ids beyond the vocabulary (padded embedding rows) are dropped."""
        if hasattr(ids, "tolist"):  # numpy array / torch tensor
            ids = ids.tolist()
        return self.hf.decode(ids, skip_special_tokens=False)

    def decode_batch(self, batch) -> list[str]:
        batch = [ids.tolist() if hasattr(ids, "tolist") else ids for ids in batch]
        return self.hf.decode_batch(batch, skip_special_tokens=False)

    # -- identity and files --------------------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the canonical tokenizer.json: identical ids <=> identical fingerprint.

        Canonical = keys sorted, truncation/padding/version dropped, merges as [a, b] pairs (tokenizers
        < 0.20 wrote "a b" strings), so the same tokenizer saved by different library versions matches.
        """
        spec = json.loads(self.hf.to_str())
        for key in ("truncation", "padding", "version"):
            spec.pop(key, None)
        model = spec.get("model") or {}
        if isinstance(model.get("merges"), list):
            model["merges"] = [m.split(" ", 1) if isinstance(m, str) else list(m) for m in model["merges"]]
        canon = json.dumps(spec, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canon.encode("utf-8")).hexdigest()

    def whitespace_token_ids(self) -> dict[str, int]:
        """The codegen whitespace tokens this tokenizer has (content -> id)."""
        return {t: i for t in WHITESPACE_TOKENS if (i := self.hf.token_to_id(t)) is not None}

    def hf_config(self) -> dict[str, Any]:
        """tokenizer_config.json: `AutoTokenizer` builds a GPT2Tokenizer(Fast) on our tokenizer.json."""
        return {
            "tokenizer_class": "GPT2Tokenizer",
            "bos_token": self.eos_token,  # GPT-2/codegen use <|endoftext|> for all three
            "eos_token": self.eos_token,
            "unk_token": self.eos_token,
            "add_bos_token": False,
            "add_prefix_space": False,
            "clean_up_tokenization_spaces": False,  # would rewrite " ." -> "." and break the round trip
            "model_max_length": self.model_max_length,
        }

    def save(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write tokenizer.json, tokenizer_config.json, special_tokens_map.json; returns the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / name for name in TOKENIZER_FILES]
        self.hf.save(str(paths[0]))
        paths[1].write_text(json.dumps(self.hf_config(), indent=2) + "\n")
        special = {"bos_token": self.eos_token, "eos_token": self.eos_token, "unk_token": self.eos_token}
        paths[2].write_text(json.dumps(special, indent=2) + "\n")
        return paths

    def __repr__(self) -> str:
        return (f"CodeTokenizer(vocab_size={self.vocab_size}, padded_vocab_size={self.padded_vocab_size}, "
                f"eos_id={self.eos_id}, source={self.source!r})")


def load_tokenizer(path: str | os.PathLike) -> CodeTokenizer:
    """Load our tokenizer dir, any local HF tokenizer dir, or a tokenizer.json file."""
    p = Path(path)
    if p.is_file() and p.name.endswith(".json"):
        return CodeTokenizer(_read_tokenizer_json(p), _eos_token(p.parent), source=str(p))
    if not p.is_dir():
        raise FileNotFoundError(
            f"tokenizer directory not found: {p} (train one with `textbooks tokenizer train --input default "
            f"--vocab-size N --out DIR`, or point to a local HF tokenizer dir such as codegen-350M-mono's)"
        )
    config = _read_json(p / "tokenizer_config.json") or {}
    max_len = config.get("model_max_length")
    max_len = int(max_len) if isinstance(max_len, (int, float)) and max_len < 1e9 else MODEL_MAX_LENGTH
    eos = _eos_token(p)
    if (p / "tokenizer.json").is_file():
        return CodeTokenizer(_read_tokenizer_json(p / "tokenizer.json"), eos, max_len, source=str(p))
    if (p / "vocab.json").is_file() and (p / "merges.txt").is_file():
        return CodeTokenizer(_from_vocab_merges(p, eos, config), eos, max_len, source=str(p))
    found = sorted(x.name for x in p.iterdir())[:20]
    raise FileNotFoundError(
        f"no tokenizer in {p}: looked for tokenizer.json, or vocab.json + merges.txt (+ added_tokens.json); "
        f"found {found or 'an empty directory'}"
    )


def _read_tokenizer_json(p: Path):
    """`tokenizers.Tokenizer.from_file`, with a corrupt file reported as ValueError (it raises a bare Exception)."""
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(p))
    except Exception as e:  # the Rust side raises plain Exception for bad JSON or an unknown model
        raise ValueError(f"{p}: cannot read tokenizer.json ({e})") from None


def _read_json(path: Path):
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def _token_content(value) -> str | None:
    if isinstance(value, dict):  # transformers writes AddedToken dicts: {"content": ..., ...}
        value = value.get("content")
    return value if isinstance(value, str) else None


def _eos_token(directory: Path) -> str:
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        data = _read_json(directory / name) or {}
        if eos := _token_content(data.get("eos_token")):
            return eos
    return EOS_TOKEN


def _from_vocab_merges(directory: Path, eos: str, config: dict) -> Tokenizer:
    """Rebuild a GPT-2 byte-level BPE (codegen-350M-mono's files) with its added tokens at their ids."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    bpe = models.BPE.from_file(str(directory / "vocab.json"), str(directory / "merges.txt"))
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()

    special_names = {eos} | {c for k in ("bos_token", "unk_token", "pad_token")
                             if (c := _token_content(config.get(k)))}
    added: dict[int, tuple[str, bool]] = {}
    for content, idx in (_read_json(directory / "added_tokens.json") or {}).items():
        added[int(idx)] = (content, content in special_names)
    for idx, spec in (config.get("added_tokens_decoder") or {}).items():  # newer transformers layout
        if content := _token_content(spec):
            added[int(idx)] = (content, bool(spec.get("special", False)) if isinstance(spec, dict) else False)
    # Specials that live inside vocab.json (codegen's <|endoftext|> = 50256) keep their id; the rest are
    # appended in id order, and each must land exactly on its recorded id.
    for name in sorted(special_names):
        if tok.token_to_id(name) is not None and tok.token_to_id(name) not in added:
            tok.add_special_tokens([AddedToken(name, special=True, normalized=False)])
    for idx in sorted(added):
        content, special = added[idx]
        token = AddedToken(content, special=special, normalized=False)
        (tok.add_special_tokens if special else tok.add_tokens)([token])
        got = tok.token_to_id(content)
        if got != idx:
            raise ValueError(
                f"{directory}: added token {content!r} should have id {idx} but got {got}; added_tokens.json "
                f"ids must continue vocab.json without gaps"
            )
    return tok
