"""One guard for every command: bad input never destroys data, never shows a traceback, never hangs.

Every command's handler uses it the same way; `textbooks.cli.main` is the error boundary around them.

1. **Errors** (`UsageError`: exit 2, a bad argument, path or value the user can fix; `CommandError`: exit 1,
   the command could not do its work). Raise them with a message that names the path / key / value and
   the fix; `textbooks.cli.main` prints one line `textbooks CMD: error: MESSAGE`. It also turns OS errors
   on paths, decoding errors, out-of-memory and our own error types into such a line (`describe_error`);
   anything else is a bug: a short note, with the traceback written to a file (`--debug` shows it).
2. **Outputs**: `check_outputs` before any long work (an output that is an input, an existing output
   without `--overwrite`, a path of the wrong kind, under a file, or unwritable is refused at once), then
   `atomic_write` / `atomic_dir` to write (temp + rename: an interrupted command leaves the old output or
   none). Resumable commands pass `resumable_marker`, which recognises their own outputs by their
   metadata, so a rerun resumes into them while someone else's file is never overwritten.
3. **Validation at parse time**: argparse `type=` helpers (`positive_int`, `int_in`, `port`, `text`,
   `device`, ...), `check_inputs`, `check_device` (cuda without a GPU names `--device cpu`), and
   `check_model_tokenizer` (vocab size and eos id of a model directory against a tokenizer).
4. **Interrupts**: `textbooks.cli.main` makes SIGINT and SIGTERM raise `KeyboardInterrupt` (`Terminated`
   for SIGTERM) in the main thread at once, also inside asyncio code; a handler says how to resume with
   `set_resume_hint`, printed after "interrupted".

How a command uses it (e.g. a data verb `textbooks data filter INPUT... --out DIR [--overwrite]`):

    from textbooks import guard

    def configure(parser):
        parser.add_argument("inputs", nargs="+", metavar="INPUT")
        parser.add_argument("--out", required=True, metavar="DIR")
        parser.add_argument("--workers", type=guard.positive_int, default=1)
        guard.add_overwrite_flag(parser)
        parser.set_defaults(func=run)

    def run(args):
        guard.check_inputs(args.inputs)                        # exist and are readable
        [out] = guard.check_outputs(
            [guard.Output(args.out, kind="dir")], inputs=args.inputs, overwrite=args.overwrite,
            resumable_marker=guard.json_marker("stats.json", command="data filter"))
        if out.state == "resume":                              # our own unfinished run: continue in place
            ...
        guard.set_resume_hint(f"rerun the same command to resume into {args.out}")
        with guard.atomic_dir(args.out) as tmp:                # or write into args.out when resumable
            ...                                               # everything goes to tmp, renamed at the end
            guard.write_marker(tmp, "stats.json", command="data filter", ...)

`check_outputs` raises `UsageError`; the handler needs no try/except: `textbooks.cli.main` prints it.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Sequence

PathLike = str | os.PathLike


class UsageError(ValueError):
    """A bad argument, path, value or input file: exit 2. The message names it and says what to do."""

    exit_code = 2


class CommandError(RuntimeError):
    """The command could not do its work (a model that does not fit its tokenizer, a failed stage): exit 1."""

    exit_code = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every `except KeyboardInterrupt` cleanup runs for it too."""


# ---------------------------------------------------------------------------------------------------
# Outputs


@dataclass
class Output:
    """One output of a command: `path`, what it is (`kind` "file" or "dir") and the flag that named it.

    After `check_outputs`, `state` is "new" (absent or empty), "resume" (holds this command's own resumable
    output, recognised by `resumable_marker`) or "replace" (non-empty, and --overwrite was given).
    `expected`: what an existing file must be to be reused (e.g. "an SQLite cache"); such an output is never
    replaced, --overwrite or not (a cache named by mistake must not be wiped). `replaces`: a directory output
    that the command replaces as a whole (atomic_dir), so no input may lie inside it; False for directories
    that files are only added to (a training run_dir, a report directory).
    """

    path: PathLike
    kind: Literal["file", "dir"] = "file"
    flag: str = "--out"
    expected: str | None = None
    replaces: bool = True
    state: str = "unchecked"

    def __post_init__(self):
        self.path = Path(self.path)
        if self.kind not in ("file", "dir"):
            raise ValueError(f"Output.kind must be 'file' or 'dir', got {self.kind!r}")


Marker = Callable[[Path], bool] | str | None


def check_outputs(
    outputs: Sequence[Output | PathLike],
    inputs: Iterable[PathLike] = (),
    *,
    overwrite: bool = False,
    resumable_marker: Marker = None,
) -> list[Output]:
    """Refuse, before any work, every output that would destroy data or fail late; returns the `Output`s
    with their `state` set ("new", "resume" or "replace").

    Refused (UsageError naming the path and the fix):
    - an output that is one of `inputs` (the same file, or an input inside a directory output);
    - two outputs that are the same path;
    - a path of the wrong kind (a directory where a file is written, or the reverse), or one below a file;
    - a non-empty existing output, unless `overwrite` or it is this command's own resumable output:
      `resumable_marker(path) -> bool` (or a file name that must exist inside a directory output) says so;
    - a place that cannot be written (checked by creating and removing a temporary file there).
    Plain paths in `outputs` are files named by `--out`.
    """
    outs = [o if isinstance(o, Output) else Output(o) for o in outputs]
    ins = [Path(p) for p in inputs if p is not None]
    seen: dict[str, Output] = {}
    for out in outs:
        key = _real(out.path)
        if key in seen:
            raise UsageError(f"{out.flag} {out.path} and {seen[key].flag} {seen[key].path} are the same path; "
                             "give each output its own name")
        seen[key] = out
        _refuse_inputs(out, ins)
        _check_kind(out)
        out.state = _existing_state(out, overwrite, resumable_marker)
        check_writable(out.path if out.kind == "dir" and out.path.is_dir() else out.path.parent, what=f"{out.flag} {out.path}")
    return outs


def _real(path: Path) -> str:
    return os.path.realpath(os.path.abspath(path))


def _is_within(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def _refuse_inputs(out: Output, inputs: list[Path]) -> None:
    target = _real(out.path)
    for p in inputs:
        src = _real(p)
        same = src == target
        if not same and out.path.exists() and p.exists():
            with contextlib.suppress(OSError):
                same = os.path.samefile(out.path, p)  # hard links, bind mounts
        if same:
            raise UsageError(f"{out.flag} {out.path} is also an input ({p}); writing it would destroy the input: "
                             f"choose another {out.flag}")
        if out.kind == "dir" and out.replaces and _is_within(src, target):
            raise UsageError(f"input {p} is inside {out.flag} {out.path}, which this command replaces; "
                             f"choose an {out.flag} outside the inputs")


def _check_kind(out: Output) -> None:
    path = out.path
    if path.name in ("", ".", "..") and out.kind == "file":
        raise UsageError(f"{out.flag} {path} is a directory; {out.flag} needs a file name (e.g. {path / 'out.jsonl'})")
    if path.is_dir() and out.kind == "file":
        raise UsageError(f"{out.flag} {path} is a directory; {out.flag} needs a file name "
                         f"(e.g. {path / 'out.jsonl'})")
    if path.exists() and not path.is_dir() and out.kind == "dir":
        raise UsageError(f"{out.flag} {path} is a file; {out.flag} needs a directory")
    # A parent that is a file: `--out notes.txt/r.jsonl`.
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"cannot create {out.flag} {path}: {parent} is a file, not a directory")
            break


def _existing_state(out: Output, overwrite: bool, marker: Marker) -> str:
    path = out.path
    if not path.exists():
        return "new"
    if out.kind == "dir":
        try:
            entries = sorted(e.name for e in os.scandir(path))
        except OSError as e:
            raise UsageError(f"cannot read {out.flag} {path}: {e.strerror}") from None
        if not entries:
            return "new"
    else:
        if path.stat().st_size == 0:
            return "new"
        entries = []
    if _matches(marker, path):
        return "resume"
    if out.expected:
        raise UsageError(f"{out.flag} {path} already exists and is not {out.expected}; choose another {out.flag}")
    if overwrite:
        return "replace"
    held = f" (it holds {_listing(entries)})" if entries else ""
    raise UsageError(f"{out.flag} {path} already exists{held}; pass --overwrite to replace it, or choose another "
                     f"{out.flag}")


def _matches(marker: Marker, path: Path) -> bool:
    if marker is None:
        return False
    if isinstance(marker, str):
        return path.is_dir() and (path / marker).is_file()
    return bool(marker(path))


def _listing(names: list[str], n: int = 4) -> str:
    return ", ".join(names[:n]) + (f", ... ({len(names)} entries)" if len(names) > n else "")


def json_marker(filename: str | None = None, **expected: Any) -> Callable[[Path], bool]:
    """A `resumable_marker`: true when the JSON file `filename` (inside a directory output; None = the output
    file itself is the JSON) holds every `expected` key with that value, e.g.
    `json_marker("stats.json", command="data filter")`. Unreadable or other JSON: not ours."""

    def marker(path: Path) -> bool:
        meta = path / filename if filename else path
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and all(data.get(k) == v for k, v in expected.items())

    return marker


def is_sqlite_file(path: Path) -> bool:
    """A `resumable_marker` for caches: the file is an SQLite database (e.g. this command's request cache)."""
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def write_marker(directory: PathLike, filename: str, **fields: Any) -> Path:
    """Write the JSON metadata that `json_marker(filename, ...)` recognises (atomically)."""
    path = Path(directory) / filename
    atomic_write_text(path, json.dumps(fields, indent=2, sort_keys=True) + "\n")
    return path


def check_writable(directory: PathLike, *, what: str | None = None) -> None:
    """UsageError unless files can be created in `directory` or, when it does not exist yet, in its nearest
    existing ancestor (which must be a directory). Creates and removes a temporary file: the real test
    (os.access is wrong for root, read-only mounts and ACLs)."""
    directory = Path(directory).absolute()
    probe = directory
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    label = what or str(directory)
    if not probe.is_dir():
        raise UsageError(f"cannot create {label}: {probe} is a file, not a directory")
    try:
        fd, name = tempfile.mkstemp(prefix=".textbooks-write-check-", dir=probe)
    except OSError as e:
        raise UsageError(f"cannot write {label}: {probe} is not writable ({e.strerror}); choose a writable "
                         "location") from None
    os.close(fd)
    os.unlink(name)


def add_overwrite_flag(parser: argparse.ArgumentParser, what: str = "--out") -> None:
    parser.add_argument("--overwrite", action="store_true", help=f"replace {what} if it exists and is not empty")


# ---------------------------------------------------------------------------------------------------
# Inputs


def check_inputs(paths: Iterable[PathLike], *, kind: Literal["any", "file", "dir"] = "any", flag: str = "input") -> None:
    """UsageError for an input that is missing, of the wrong kind or unreadable (the message says which)."""
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            named = f"input not found: {path}" + (f" ({flag})" if flag != "input" else "")
            below = next((p for p in path.absolute().parents if p.exists()), None)
            if below is not None and not below.is_dir():
                raise UsageError(f"{named}: {below} is a file, not a directory")
            raise UsageError(named)
        if kind == "file" and path.is_dir():
            raise UsageError(f"{flag} {path} is a directory; {flag} needs a file")
        if kind == "dir" and not path.is_dir():
            raise UsageError(f"{flag} {path} is a file; {flag} needs a directory")
        if not os.access(path, os.R_OK):
            raise UsageError(f"{flag} {path} is not readable (permission denied)")


def check_tokenizer_path(path: PathLike, flag: str = "--tokenizer") -> None:
    """UsageError for a tokenizer argument that is missing or a file other than a tokenizer.json."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{flag} {p} does not exist; pass a directory written by `textbooks tokenizer train` "
                         "(or any Hugging Face tokenizer directory, or its tokenizer.json)")
    if p.is_file() and not p.name.endswith(".json"):
        raise UsageError(f"{flag} {p} is a file; pass a tokenizer directory (with tokenizer.json) or a "
                         "tokenizer.json file")


# ---------------------------------------------------------------------------------------------------
# Atomic writes: the one helper (temp file in the same directory, fsync, os.replace)


def temp_name(path: PathLike, tag: str = "tmp") -> Path:
    """A hidden sibling of `path` unique to this process: `.NAME.tmp-PID`."""
    path = Path(path)
    return path.with_name(f".{path.name}.{tag}-{os.getpid()}")


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w", *, encoding: str | None = "utf-8") -> Iterator[Any]:
    """`with atomic_write(path) as f: f.write(...)`: readers (and a crash or Ctrl-C) see the old file or the
    whole new one, never half of it. Creates the parent directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    binary = "b" in mode
    try:
        with open(tmp, mode, **({} if binary else {"encoding": encoding})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: PathLike, text: str) -> None:
    with atomic_write(path) as f:
        f.write(text)


def atomic_write_with(path: PathLike, write: Callable[[Path], Any]) -> None:
    """For writers that take a file name (safetensors' save_file, ...): `write(tmp)`, then rename over `path`."""
    path = Path(path)
    tmp = temp_name(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """`with atomic_dir(out) as tmp:` write everything into `tmp` (a fresh sibling directory); on success it
    replaces `out` (an old `out` is swapped out, then removed); on any error or interrupt `tmp` is removed
    and `out` is untouched."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(out, "partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_dir(tmp: PathLike, out: PathLike) -> None:
    """Move the finished directory `tmp` to `out`; an existing `out` is swapped out first, then removed."""
    tmp, out = Path(tmp), Path(out)
    if out.exists():
        old = temp_name(out, "old")
        os.replace(out, old)
        os.replace(tmp, out)
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()
    else:
        os.replace(tmp, out)


# ---------------------------------------------------------------------------------------------------
# argparse types: checked at parse time, so a bad value is a usage error (exit 2) before any work


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _number(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def int_in(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer in [low, high] (None = unbounded)."""

    def parse(text: str) -> int:
        value = _integer(text)
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {_range(low, high)}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in "invalid integer value"
    return parse


def float_in(low: float | None = None, high: float | None = None, *, low_open: bool = False,
             high_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite number in [low, high]; `low_open` / `high_open` exclude the bound."""

    def parse(text: str) -> float:
        value = _number(text)
        below = low is not None and (value <= low if low_open else value < low)
        above = high is not None and (value >= high if high_open else value > high)
        if below or above:
            raise argparse.ArgumentTypeError(f"must be {_range(low, high, low_open, high_open)}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def _range(low, high, low_open: bool = False, high_open: bool = False) -> str:
    def show(x) -> str:
        return str(x) if isinstance(x, int) else f"{x:g}"

    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{show(low)}, {show(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {show(low)}"
    return f"{'<' if high_open else '<='} {show(high)}"


positive_int = int_in(1)
nonnegative_int = int_in(0)
positive_float = float_in(0, low_open=True)
port = int_in(0, 65535)


def text(value: str) -> str:
    """argparse type for free text (--prompt, --text): refuses bytes that are not UTF-8, which Python hands
    over as lone surrogates and which no tokenizer or file can take."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        bad = value[e.start : e.end].encode("utf-8", "surrogateescape")
        raise argparse.ArgumentTypeError(f"is not valid UTF-8 text (byte {bad.hex(' ')} at character {e.start + 1}); "
                                         "pass UTF-8 text") from None
    return value


DEVICE_TYPES = ("cpu", "cuda", "mps")


def device(value: str) -> str:
    """argparse type: cpu, cuda, cuda:N or mps (availability is `check_device`'s job, once torch is loaded)."""
    kind, _, index = value.partition(":")
    if kind not in DEVICE_TYPES or (index and (not index.isdigit() or kind == "cpu")):
        raise argparse.ArgumentTypeError(f"unknown device {value!r}; use cpu, cuda, cuda:N (N = 0, 1, ...) or mps")
    return value


def check_device(value: str | None, flag: str = "--device") -> None:
    """UsageError when the device is not usable here (needs torch; call it before loading a model)."""
    if value is None:
        return
    import torch

    kind, _, index = value.partition(":")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"{flag} {value}, but no CUDA GPU is visible here; use {flag} cpu")
        if index and int(index) >= torch.cuda.device_count():
            raise UsageError(f"{flag} {value}, but this machine has {torch.cuda.device_count()} CUDA device(s) "
                             f"(cuda:0..cuda:{torch.cuda.device_count() - 1})")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError(f"{flag} mps, but Apple's MPS backend is not available here; use {flag} cpu")


# ---------------------------------------------------------------------------------------------------
# Model and tokenizer agreement


def check_model_tokenizer(model_dir: PathLike, tokenizer, *, tokenizer_source: str | None = None) -> None:
    """UsageError (a wrong pair of arguments: exit 2) when `tokenizer` cannot be the one the model in `model_dir` was trained with: its ids
    do not fit the model's vocabulary, its end-of-text id differs from the `eos_token_id` recorded in
    config.json (every checkpoint we write records it), or `model_dir` holds tokenizer files of its own
    with another fingerprint. Reads only config.json (and the tokenizer files), not the weights."""
    from textbooks.model.hf import CONFIG_NAME, read_config

    model_dir = Path(model_dir)
    config = read_config(model_dir)
    where = f"at {tokenizer_source or getattr(tokenizer, 'source', None) or '?'}"
    if tokenizer.vocab_size > config.vocab_size:
        raise UsageError(f"the tokenizer {where} has {tokenizer.vocab_size} tokens but the model in {model_dir} "
                           f"has a vocabulary of {config.vocab_size}: this tokenizer does not belong to this checkpoint; "
                           "use the tokenizer the model was trained with")
    try:
        raw = json.loads((model_dir / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raw = {}
    eos = raw.get("eos_token_id") if isinstance(raw, dict) else None
    if isinstance(eos, list):  # transformers allows a list of eos ids
        eos = eos[0] if eos else None
    if isinstance(eos, int) and not isinstance(eos, bool) and eos != tokenizer.eos_id:
        raise UsageError(f"the tokenizer {where} has end-of-text id {tokenizer.eos_id} ({tokenizer.vocab_size} tokens), "
                           f"but the model in {model_dir} was trained with end-of-text id {eos} (config.json "
                           "eos_token_id): this tokenizer does not belong to this checkpoint; use the tokenizer the model "
                           "was trained with")
    own = model_dir / "tokenizer.json"
    if tokenizer_source is not None and own.is_file() and _real(Path(tokenizer_source)) not in (_real(model_dir), _real(own)):
        from textbooks.tokenizer import load_tokenizer

        try:
            theirs = load_tokenizer(model_dir)
        except (OSError, ValueError):
            return
        if theirs.fingerprint != tokenizer.fingerprint:
            raise UsageError(f"{model_dir} has its own tokenizer (fingerprint {theirs.fingerprint[:12]}, "
                               f"{theirs.vocab_size} tokens) and {where} is another one (fingerprint "
                               f"{tokenizer.fingerprint[:12]}, {tokenizer.vocab_size} tokens); drop the tokenizer "
                               "option to use the model's own")


# ---------------------------------------------------------------------------------------------------
# Interrupts


_resume_hint: str | None = None


def set_resume_hint(hint: str | None) -> None:
    """What to tell the user after Ctrl-C / SIGTERM (e.g. "rerun the same command to resume"); None clears it."""
    global _resume_hint
    _resume_hint = hint


def resume_hint() -> str | None:
    return _resume_hint


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _raise_terminated(signum, frame):
    raise Terminated


def install_signal_handlers() -> dict:
    """SIGINT raises KeyboardInterrupt and SIGTERM raises Terminated in the main thread, at the next Python
    instruction; returns the previous handlers (for `restore_signal_handlers`). SIGINT's handler is our own
    function, not `signal.default_int_handler`: asyncio.run then leaves it alone instead of merely
    cancelling its main task (which code that computes without awaiting, such as a local model, would only
    notice at the end). Handlers someone else installed (ignored signals, a trainer's) are kept."""
    previous: dict = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for sig, default, ours in ((signal.SIGINT, signal.default_int_handler, _raise_interrupt),
                               (signal.SIGTERM, signal.SIG_DFL, _raise_terminated)):
        current = signal.getsignal(sig)
        if current is default:
            previous[sig] = current
            signal.signal(sig, ours)
    return previous


def restore_signal_handlers(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


# ---------------------------------------------------------------------------------------------------
# The error boundary's classification (used by textbooks.cli.main)

_PATH_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS,
                errno.ENAMETOOLONG, errno.ELOOP}
_ERRNO_HINTS = {
    errno.ENOSPC: "the disk is full; free space or choose another location",
    errno.EDQUOT: "the disk quota is exceeded; free space or choose another location",
    errno.EACCES: "permission denied; choose a location you can write to",
    errno.EPERM: "operation not permitted; choose a location you can write to",
    errno.EROFS: "the file system is read-only; choose another location",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EISDIR: "it is a directory, a file was expected",
    errno.EEXIST: "it already exists",
}


def describe_error(e: BaseException) -> tuple[str, int] | None:
    """(one-line message, exit code) for an expected failure, None for a bug (an unexpected exception)."""
    if isinstance(e, (UsageError, CommandError)):
        return str(e), e.exit_code
    if isinstance(e, OSError):
        return _describe_os_error(e)
    if isinstance(e, UnicodeDecodeError):
        return (f"input is not valid UTF-8 text ({e.reason} at byte {e.start}); convert it to UTF-8", 2)
    if isinstance(e, UnicodeEncodeError):
        return (f"text that is not valid Unicode (character {e.start + 1}: {e.reason}); pass UTF-8 text", 2)
    if isinstance(e, MemoryError):
        return ("out of memory; use smaller inputs or batches", 1)
    if type(e).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError (torch is not imported here)
        return (f"out of GPU memory ({str(e).splitlines()[0] if str(e) else ''}); lower the batch size", 1)
    # Our own error types (defined in textbooks.*) and ValueErrors we raise carry messages for the user.
    ours = type(e).__module__.startswith("textbooks.") and isinstance(e, (ValueError, RuntimeError, LookupError))
    if ours or (isinstance(e, ValueError) and _raised_by_us(e)):
        return str(e) or type(e).__name__, (2 if isinstance(e, ValueError) else 1)
    return None


def _describe_os_error(e: OSError) -> tuple[str, int]:
    what = e.strerror or str(e) or type(e).__name__
    names = [n for n in (e.filename, getattr(e, "filename2", None)) if n is not None]
    where = " -> ".join(os.fsdecode(n) if isinstance(n, bytes) else str(n) for n in names)
    hint = _ERRNO_HINTS.get(e.errno or -1)
    msg = f"{where}: {what}" if where else what
    if hint and hint.lower() not in msg.lower():
        msg += f" ({hint})"
    return msg, 2 if (e.errno in _PATH_ERRNOS and where) else 1


def _raised_by_us(e: BaseException) -> bool:
    """True when the innermost frame of the traceback is in the textbooks package (our own `raise`)."""
    tb = e.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename
    package = os.path.dirname(os.path.abspath(__file__))
    return _is_within(os.path.abspath(filename), package)


def write_crash_report(command: str, argv: Sequence[str], e: BaseException) -> Path | None:
    """The full traceback of an unexpected error in a file (for a bug report); None if nothing could be written."""
    import time
    import traceback

    from textbooks import __version__

    text = (f"textbooks {__version__} {command}: {type(e).__name__}\nargv: {list(argv)}\npython: {sys.version}\n\n"
            + "".join(traceback.format_exception(type(e), e, e.__traceback__)))
    stem = f"textbooks-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    for directory in (os.environ.get("TEXTBOOKS_CRASH_DIR"), tempfile.gettempdir(), os.getcwd()):
        if not directory:
            continue
        for k in range(20):  # a name taken (an earlier report this second, or a planted file): the next one
            path = Path(directory) / (stem + (f"-{k}" if k else "") + ".txt")
            try:
                # A new file only, never through a symlink: the name is predictable and /tmp is shared, so
                # another user could have planted a link there to make this run overwrite a file they chose.
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
                fd = os.open(path, flags, 0o600)
            except FileExistsError:
                continue
            except OSError:
                break
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            return path
    return None
