"""Small text helpers shared by the sampler, the LLM backends, serve and eval (no torch, stdlib only).

- `cut_at_stop(text, stop)`: the one rule for stop strings: text before the earliest one (as OpenAI's API).
- `unescape(text)` / `stop_arg`: the one escape convention of every CLI flag that takes a stop string
  (`textbooks generate --stop`, `eval generate --stop`, `eval run --stop`, `llm complete --stop`).
- `derive_seed(seed, prompt, sample)`: the one rule for seeds: the random stream of sample j of a prompt
  depends only on (seed, prompt, j), never on batch size, batch neighbours, workers or concurrency.
- `too_long(max_bytes, *texts)`: the one size cap of documents (`data pack`, `tokenizer train` --max-doc-bytes).
"""

from __future__ import annotations

import argparse
import hashlib
import re
from typing import Iterable, Sequence


MAX_TEMPERATURE = 2.0  # OpenAI's upper bound; higher is near-uniform noise
# Temperatures below this decode greedily: logits / 1e-39 overflows float32 to inf and softmax gives NaN,
# and well before that (T < 1e-5 with logits of a few tens) the distribution is the argmax up to exact ties.
GREEDY_BELOW = 1e-5


def cut_at_stop(text: str, stop: Iterable[str]) -> tuple[str, bool]:
    """Text before the earliest stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


# Backslash escapes understood on the command line. Everything else (real newlines from bash's $'...',
# non-ASCII characters) is taken as is: the text is never round-tripped through bytes, so "«" or "日本"
# survive (Python's `unicode_escape` codec reads UTF-8 bytes as Latin-1 and garbles them).
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}
_HEX_DIGITS = {"x": 2, "u": 4, "U": 8}
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.|$)", re.DOTALL)


ESCAPES = r"\n \t \r \0 \\ \' \" \xHH \uXXXX \UXXXXXXXX"  # what `unescape` decodes, as typed


def unescape(text: str) -> str:
    r"""Decode \n \t \r \0 \\ \' \" \xHH \uXXXX \UXXXXXXXX; any other backslash escape is an error.

    `unescape(r"\ndef ")` == "\ndef "; `unescape("«\\n")` == "«\n"; a real newline stays a newline.
    Errors show the text as typed (no doubled backslashes): unknown escape \d in "x\d".
    """

    def one(m: re.Match) -> str:
        code = m.group(1)
        if code in _SIMPLE:
            return _SIMPLE[code]
        if len(code) > 1:  # \xHH, \uXXXX, \UXXXXXXXX
            try:
                return chr(int(code[1:], 16))
            except (ValueError, OverflowError):
                raise ValueError(f"escape \\{code} in \"{text}\" is not a Unicode character (the largest is "
                                 "\\U0010FFFF)") from None
        if code in _HEX_DIGITS:  # \x4, \u12: too few hex digits
            form = {"x": "\\xHH", "u": "\\uXXXX", "U": "\\UXXXXXXXX"}[code]
            raise ValueError(f"incomplete escape {form} in \"{text}\": \\{code} needs {_HEX_DIGITS[code]} hex digits")
        what = f"unknown escape \\{code}" if code else "a trailing backslash"
        raise ValueError(f"{what} in \"{text}\"; the escapes are {ESCAPES} (write \\\\ for a literal backslash)")

    return _ESCAPE.sub(one, text)


def stop_arg(text: str) -> str:
    """argparse `type=` for stop strings: `unescape`, and never empty (an empty stop would cut everything)."""
    try:
        value = unescape(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if not value:
        raise argparse.ArgumentTypeError("a stop string must not be empty")
    return value


STOP_HELP = (f"backslash escapes {ESCAPES} are decoded (the same in every command); other text, "
             "non-ASCII included, is taken as is")


def too_long(max_bytes: int | None, *texts: str) -> bool:
    """More than `max_bytes` of UTF-8 (a str of n characters holds n to 4n bytes: encode only when unsure)."""
    if max_bytes is None:
        return False
    chars = sum(len(t) for t in texts)
    if chars <= max_bytes // 4:
        return False
    return chars > max_bytes or sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) > max_bytes


def plural(count: int, word: str, many: str | None = None) -> str:
    """"1 prompt", "2 prompts", "1 retry", "3 retries" (`many` for irregular plurals)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def derive_seed(seed: int, prompt: str | Sequence[int], sample: int, bits: int = 63) -> int:
    """The seed of sample `sample` of `prompt` (its text, or its token ids) under the user's `seed`.

    A hash, not seed + sample: (seed, j) never collides with (seed + 1, j - 1), and two prompts under one
    seed get unrelated streams. `bits=31` gives a seed any server accepts (llama.cpp takes 32-bit seeds).
    """
    h = hashlib.sha256(f"textbooks-seed:{int(seed)}:{int(sample)}:".encode())
    if isinstance(prompt, str):
        h.update(b"text:" + prompt.encode("utf-8", "surrogatepass"))
    else:
        h.update(b"ids:" + ",".join(str(int(t)) for t in prompt).encode())
    return int.from_bytes(h.digest()[:8], "little") & ((1 << bits) - 1)


_RETRY_MARKER = re.compile(r"^<!-- retry\b.*-->\s*$", re.M)


def read_prompt_file(package: str, filename: str, what: str) -> tuple[str, str, str]:
    """A versioned prompt shipped in `package`/prompts/`filename`: (the message template, the re-ask message
    after its `<!-- retry ... -->` line, sha256 of the file's text, 12 hex digits). `what` names the setting
    that chose the file, for the errors (which list the versions there are)."""
    from importlib import resources

    folder = resources.files(package).joinpath("prompts")
    try:
        text = folder.joinpath(filename).read_text(encoding="utf-8")
    except FileNotFoundError:
        available = sorted(p.name.removesuffix(".md") for p in folder.iterdir() if p.name.endswith(".md"))
        raise ValueError(f"{what}: no prompt {package.replace('.', '/')}/prompts/{filename}; available: "
                         f"{', '.join(available)}") from None
    parts = _RETRY_MARKER.split(text)
    if len(parts) != 2:
        raise ValueError(f"prompts/{filename}: expected one '<!-- retry ... -->' section")
    return parts[0].strip() + "\n", parts[1].strip(), hashlib.sha256(text.encode()).hexdigest()[:12]
