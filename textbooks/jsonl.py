"""The one JSONL reader and writer: `iter_jsonl(path)` yields `(line number, parsed value)` for every
non-blank line; `write_jsonl(path, rows)` replaces a file atomically.

Shared by every reader of JSONL input (eval samples, prompts, batch requests, pack/source records) so
they treat files the same way: `.gz` (by name, any case) is decompressed, lines are numbered from 1,
blank lines are skipped, each line is decoded as UTF-8 on its own, and a bad line raises
`error("FILE:LINE: ...{hint}")` - the caller picks the exception type and appends its own advice.
Field checks stay with the caller.

Every whole-file JSONL output goes through `write_jsonl`: rows go to a temporary file in the same
directory, which is fsynced and renamed over `path`, so a reader (or a crash) never sees half a file.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator


def iter_jsonl(
    path: str | Path,
    *,
    error: Callable[[str], Exception] = ValueError,
    hint: str = "",
    objects: bool = False,
    on_bad: Callable[[str, str], None] | None = None,
    drop_partial_last: bool = False,
) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line of a .jsonl or .jsonl.gz file.

    A line that is not UTF-8 or not JSON, or (with `objects=True`) not a JSON object, raises
    `error(f"{path}:{line}: ...{hint}")`. With `on_bad`, such a line is skipped instead and reported as
    `on_bad(kind, "path:line")`, kind "non_utf8" or "bad_json". With `drop_partial_last`, a bad last
    line without its newline (a writer that crashed mid-line) is skipped silently.
    """
    path_str = str(path)
    opener = gzip.open if path_str.lower().endswith(".gz") else open
    with opener(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                value = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
                if drop_partial_last and not raw.endswith(b"\n"):
                    continue
                if isinstance(e, UnicodeDecodeError):
                    kind, problem = "non_utf8", f"line is not valid UTF-8 ({e.reason} at byte {e.start + 1})"
                elif isinstance(e, RecursionError):
                    kind, problem = "bad_json", "JSON nested too deeply to read"
                else:
                    kind, problem = "bad_json", f"not valid JSON ({e.msg} at column {e.colno})"
            else:
                if not objects or isinstance(value, dict):
                    yield lineno, value
                    continue
                kind, problem = "bad_json", f"expected a JSON object, got {type(value).__name__}"
            if on_bad is None:
                raise error(f"{where}: {problem}{hint}")
            on_bad(kind, where)


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> int:
    """Replace `path` with one JSON line per row (UTF-8; gzip-compressed when the name ends in .gz, as
    `iter_jsonl` reads it), atomically; returns the number of rows written. Creates the parent directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    n = 0
    try:
        with open(tmp, "wb") as raw:
            f = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if str(path).lower().endswith(".gz") else raw
            for row in rows:
                f.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
                n += 1
            if f is not raw:
                f.close()  # writes the gzip trailer; `raw` stays open
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def write_json_atomic(path: str | Path, value: Any, *, indent: int = 2) -> None:
    """Replace `path` with `value` as JSON (UTF-8, sorted keys not imposed), atomically: a crash leaves the
    old file or the new one, never half of one. Creates the parent directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=indent, ensure_ascii=False, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
