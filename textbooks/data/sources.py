"""Document readers: files on disk -> `datatrove.data.Document(text, id, metadata)`, the one record type.

Inputs (any mix, in the order given):

- a directory: every `*.py` file below it, walked recursively in sorted order (deterministic across
  machines). Exception: the output of a data verb (`DIR` with run.json, or `DIR/output/`, or any
  directory of .jsonl[.gz]/.parquet shards with no .py file below it) is read as its shards, so verbs
  chain: `data filter raw/ --out f` then `data dedup f --out d`. The walk skips hidden directories (`.git`, `.venv`), `__pycache__`, and nested
  `site-packages` / `dist-packages` (an interpreter's or a virtualenv's installed packages are not the
  code you pointed at, and the stdlib dir of many Pythons contains one). Pass such a directory
  explicitly to read it. Data files inside directories are *not* read (site-packages ships test
  parquets and `HumanEval.jsonl.gz`, which must never leak into a pretraining corpus): name JSONL or
  Parquet files explicitly, e.g. with a shell glob `shards/*.parquet`.
- a `.py` file.
- a `.jsonl` or `.jsonl.gz` file: one JSON object per line with the text in `text` or `content`, or
  an exercise record with string `prompt` and `completion` (the text is `prompt + completion`; the id
  is `id` else `task_id`; both fields stay in metadata).
- a `.parquet` file: the same fields as columns, read one row group and one batch of rows at a time,
  never the whole file.
- a Stack Exchange dump's `Posts.xml` (`.xml`, `.xml.gz`), or JSONL whose records have `question` and
  `answer`: one document per Python question with its accepted (else best) answer, streamed
  (textbooks.data.stackoverflow; its documents keep the file in `metadata["file"]` and set
  `metadata["source"] = "stackoverflow"`).

The Stack's schema is understood: `content` is the text, `max_stars_repo_path` (else `path`) becomes
`metadata["path"]`, `hexsha` (else `id`) becomes the document id. Other fields of a record are kept in
`metadata` as they are. Every document also gets `metadata["source"]`, the file it came from.

What is skipped, counted in the caller's `skipped` dict (e.g. a `collections.Counter`) and logged with
the file named, never a crash:
  `non_utf8`  a file (or JSONL line) that is not valid UTF-8
  `binary`    a .py file with NUL bytes (Python itself refuses such source)
  `empty`     a document whose text is empty or only whitespace (e.g. the many empty `__init__.py`)
  `duplicate_path` a .py file reached twice through the inputs (same real path)
With `strict=True` (the default) a JSONL line that is not a JSON object, or a record/Parquet file without
a `text`/`content` string, is an error naming `file:line` - a malformed data file is a bug to fix, not
noise to drop silently. With `strict=False` they are skipped and counted as `bad_json` / `no_text`.

Reading many files fast: the unit of work is a `SourceUnit` (one .py file, one JSONL file, or one
Parquet row group). `read_documents(..., shard=i, num_shards=n)` reads every n-th unit, so n worker
processes each calling it with their own `shard` read disjoint parts that together cover all inputs
(this is how the packer spreads reading + tokenizing over cores).
"""

from __future__ import annotations

import gzip
import logging
import os
import stat
import zlib
import sysconfig
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from datatrove.data import Document

from textbooks.jsonl import iter_jsonl

logger = logging.getLogger(__name__)

DATA_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet", ".xml", ".xml.gz")
# Directory names a recursive walk never enters (see the module docstring).
SKIP_DIR_NAMES = frozenset({"__pycache__", "site-packages", "dist-packages", "node_modules"})
TEXT_FIELDS = ("text", "content")  # first present wins; `content` is The Stack's name
PATH_FIELDS = ("max_stars_repo_path", "path")  # The Stack's repository path, else a plain `path`
ID_FIELDS = ("hexsha", "id")
PARQUET_BATCH_ROWS = 512  # rows per Arrow batch: bounds memory at ~512 source files at a time

PathLike = str | os.PathLike


@dataclass(frozen=True)
class SourceUnit:
    """One unit of reading work: a .py file, a whole JSONL file, or one row group of a Parquet file."""

    kind: str  # "py" | "jsonl" | "parquet" | "stackoverflow" (Posts.xml, or JSONL of question/answer records)
    path: Path
    root: Path  # the input path that named it; metadata["path"] of .py files is relative to it
    row_group: int | None = None


def default_corpus_paths() -> list[Path]:
    """The embedded offline "web code" corpus: the standard library dir and the running interpreter's
    site-packages (the project's .venv), i.e. real Python code that is already on every machine."""
    paths = sysconfig.get_paths()
    out: list[Path] = []
    for key in ("stdlib", "purelib"):
        p = Path(paths[key])
        if p.is_dir() and p not in out:
            out.append(p)
    return out


def stdlib_dir() -> Path:
    """The standard library's source directory (its nested site-packages is skipped by the walk)."""
    return Path(sysconfig.get_paths()["stdlib"])


def _kind_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".py"):
        return "py"
    if name.endswith(".jsonl") or name.endswith(".jsonl.gz"):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".xml", ".xml.gz")):
        return "stackoverflow"  # a Stack Exchange dump's Posts.xml (textbooks.data.stackoverflow)
    return None


def _walk_py_files(root: Path, skipped: MutableMapping[str, int] | None = None) -> Iterator[Path]:
    # A directory that cannot be listed (permissions) is counted `unreadable`, never skipped silently.
    onerror = (lambda e: _count(skipped, "unreadable", e.filename, e.strerror or "")) if skipped is not None else None
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=onerror):
        # In-place edit prunes the walk; sorting it makes the order the same on every filesystem.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIR_NAMES)
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield Path(dirpath, name)


def _shard_files(directory: Path) -> list[Path] | None:
    """The data shards of a data verb's output, or None for an ordinary directory of code.

    `DIR` of a verb (it has run.json and output/) means `DIR/output`; a directory whose top level holds
    .jsonl/.jsonl.gz/.parquet files and which has no .py file anywhere below is such an `output/` (or any
    folder of shards). Data files inside a code tree are never read (the module docstring says why).
    """
    if (directory / "run.json").is_file() and (directory / "output").is_dir():
        directory = directory / "output"
    files = sorted(p for p in directory.iterdir() if p.is_file() and _kind_of(p) in ("jsonl", "parquet"))
    if not files or next(_walk_py_files(directory), None) is not None:
        return None
    return files


def list_units(paths: Iterable[PathLike], skipped: MutableMapping[str, int] | None = None) -> list[SourceUnit]:
    """Expand input paths into reading units, in order. Missing paths raise FileNotFoundError."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    units: list[SourceUnit] = []
    seen_py: set[str] = set()

    def add_py(path: Path, root: Path) -> None:
        real = os.path.realpath(path)
        if real in seen_py:
            _count(skipped, "duplicate_path", path)
            return
        seen_py.add(real)
        units.append(SourceUnit("py", path, root))

    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(
                f"input not found: {path} (expected a directory of .py files, a .py file, "
                f"a .jsonl/.jsonl.gz file or a .parquet file)"
            )
        if path.is_dir():
            shards = _shard_files(path)
            if shards is not None:  # the output of a data verb: read its shards
                for f in shards:
                    units.append(SourceUnit("jsonl", f, f) if _kind_of(f) == "jsonl" else SourceUnit("parquet", f, f))
                continue
            for f in _walk_py_files(path, skipped):
                add_py(f, path)
            continue
        kind = _kind_of(path)
        if kind is None:
            raise ValueError(
                f"{path}: unsupported input type; use a directory of .py files, a .py file, "
                f"or a data file ending in {', '.join(DATA_SUFFIXES)}"
            )
        if kind == "py":
            add_py(path, path.parent)
        elif kind == "jsonl":
            from textbooks.data.stackoverflow import is_stackoverflow_input

            # JSONL Q&A records (`question` + `answer`) are rendered as StackOverflow documents.
            units.append(SourceUnit("stackoverflow" if is_stackoverflow_input(path) else "jsonl", path, path))
        elif kind == "stackoverflow":
            units.append(SourceUnit("stackoverflow", path, path))
        else:
            for rg in range(_parquet_file(path).num_row_groups):
                units.append(SourceUnit("parquet", path, path, rg))
    return units


def read_documents(
    paths: Iterable[PathLike] | PathLike,
    skipped: MutableMapping[str, int] | None = None,
    *,
    strict: bool = True,
    shard: int = 0,
    num_shards: int = 1,
) -> Iterator[Document]:
    """Yield one Document per source file / data record of `paths` (see the module docstring).

    `skipped` (a dict or Counter) is incremented per skip reason. `shard`/`num_shards` select every
    `num_shards`-th reading unit starting at `shard`, for parallel readers.
    """
    if not 0 <= shard < num_shards:
        raise ValueError(f"shard must be in [0, num_shards={num_shards}), got {shard}")
    units = list_units(paths, skipped)
    yield from iter_units(units[shard::num_shards], skipped, strict=strict)


def iter_units(
    units: Iterable[SourceUnit], skipped: MutableMapping[str, int] | None = None, *, strict: bool = True,
    max_bytes: int = 0, stackoverflow_tags: Sequence[str] = ("python*",),
) -> Iterator[Document]:
    """Documents of `units`, in order. `max_bytes` > 0 skips (counts `too_large`) larger documents;
    StackOverflow units keep questions with a tag matching one of `stackoverflow_tags` (fnmatch)."""
    parquet = None  # (path, ParquetFile): consecutive row groups of one file share one open file and footer
    for unit in units:
        if not _regular_file(unit.path, skipped):
            continue
        if unit.kind == "py":
            if max_bytes and unit.path.stat().st_size > max_bytes:
                _count(skipped, "too_large", unit.path, f"over {max_bytes} bytes")
                continue
            doc = read_py_file(unit.path, unit.root, skipped)
            if doc is not None:
                yield doc
            continue
        if unit.kind == "jsonl":
            docs = _read_jsonl(unit.path, skipped, strict)
        elif unit.kind == "stackoverflow":
            from textbooks.data.stackoverflow import iter_stackoverflow

            docs = iter_stackoverflow([unit.path], tags=tuple(stackoverflow_tags), skipped=skipped, strict=strict)
        else:
            if parquet is None or parquet[0] != unit.path:
                parquet = (unit.path, _parquet_file(unit.path))
            docs = _read_parquet_row_group(parquet[1], unit.path, unit.row_group or 0, skipped, strict)
        for doc in docs:
            if max_bytes and len(doc.text) > max_bytes // 4 and len(doc.text.encode("utf-8")) > max_bytes:
                _count(skipped, "too_large", doc.id, f"over {max_bytes} bytes")
                continue
            yield doc


def _regular_file(path: Path, skipped) -> bool:
    """Only regular files are read: a FIFO would block forever, /dev/zero would fill memory, a dangling
    or looping symlink or an unreadable file would stop the run. Others are counted, by reason."""
    try:
        st = os.stat(path)
    except OSError as e:
        _count(skipped, "unreadable", path, e.strerror or "")
        return False
    if not stat.S_ISREG(st.st_mode):
        _count(skipped, "not_a_file", path, "not a regular file (FIFO, device, socket)")
        return False
    return True


def _safe_text(value: str) -> str:
    """A file name with bytes that are not UTF-8 (kept by Python as surrogates) as valid UTF-8 text."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def read_py_file(path: Path, root: Path | None = None, skipped: MutableMapping[str, int] | None = None) -> Document | None:
    """One source file as a Document, or None (counted in `skipped`) if binary, not UTF-8 or empty."""
    if not _regular_file(path, skipped):
        return None
    try:
        data = path.read_bytes()
    except OSError as e:
        _count(skipped, "unreadable", path, e.strerror or "")
        return None
    if b"\x00" in data:
        _count(skipped, "binary", path)
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        _count(skipped, "non_utf8", path, f"byte {e.start}")
        return None
    if not text.strip():
        _count(skipped, "empty", path)
        return None
    rel = path.relative_to(root).as_posix() if root is not None and path != root else path.name
    return Document(text=text, id=_safe_text(str(path)), metadata={"path": _safe_text(rel), "source": _safe_text(str(path))})


def _record_to_document(record: dict, where: str, source: Path, skipped, strict: bool) -> Document | None:
    text = None
    for field in TEXT_FIELDS:
        if field in record:
            text = record[field]
            break
    if text is None and isinstance(record.get("prompt"), str) and isinstance(record.get("completion"), str):
        # An exercise record (CodeExercises, HumanEval-style samples): the document is prompt + completion;
        # both fields stay in metadata (data pack reads such files itself, with the prompt/completion split).
        text = record["prompt"] + record["completion"]
        if not text.strip():
            _count(skipped, "empty", where)
            return None
        doc_id = next((str(record[k]) for k in ("id", "task_id") if record.get(k) is not None), where)
        metadata = {k: v for k, v in record.items() if k != "id"}
        metadata["source"] = str(source)
        return Document(text=text, id=doc_id, metadata=metadata)
    if not isinstance(text, str):
        if strict:
            raise ValueError(
                f"{where}: no string field 'text' or 'content' (fields: {sorted(record)[:12]}); "
                f"rename the text field, or pass strict=False to skip such records"
            )
        _count(skipped, "no_text", where)
        return None
    if not text.strip():
        _count(skipped, "empty", where)
        return None
    if isinstance(record.get("metadata"), dict) and set(record) <= {"text", "id", "metadata", "media"}:
        # A datatrove record (our verbs' output): its metadata is the metadata, kept as it was written.
        return Document(text=text, id=str(record.get("id", where)), metadata=dict(record["metadata"]))
    metadata = {k: v for k, v in record.items() if k not in TEXT_FIELDS}
    for field in PATH_FIELDS:
        if record.get(field):
            metadata["path"] = record[field]
            break
    doc_id = next((str(record[f]) for f in ID_FIELDS if record.get(f) is not None), where)
    metadata["source"] = str(source)
    return Document(text=text, id=doc_id, metadata=metadata)


def _read_jsonl(path: Path, skipped, strict: bool) -> Iterator[Document]:
    if not _regular_file(path, skipped):
        return
    on_bad = None if strict else (lambda reason, where: _count(skipped, reason, where))
    records = iter_jsonl(path, objects=True, on_bad=on_bad,
                         hint="; fix or remove the line (without --strict / strict=False such lines are counted and skipped)")
    try:
        for line_no, record in records:
            doc = _record_to_document(record, f"{path}:{line_no}", path, skipped, strict)
            if doc is not None:
                yield doc
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
        # A truncated or corrupt .gz (or an unreadable file): what was read so far is kept.
        if strict:
            raise ValueError(f"{path}: cannot read the file to its end ({type(e).__name__}: {e})") from None
        _count(skipped, "corrupt_file", path, f"{type(e).__name__}: {e}")


def _parquet_file(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid / OSError subclasses with terse messages
        raise ValueError(f"{path}: cannot read as Parquet ({e})") from e


def _read_parquet_row_group(pf, path: Path, row_group: int, skipped, strict: bool) -> Iterator[Document]:
    names = pf.schema_arrow.names
    text_field = next((f for f in TEXT_FIELDS if f in names), None)
    if text_field is None:
        if strict:
            raise ValueError(f"{path}: no 'text' or 'content' column (columns: {names[:12]})")
        _count(skipped, "no_text", path)
        return
    row = sum(pf.metadata.row_group(i).num_rows for i in range(row_group))
    for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[row_group]):
        # Column-wise conversion is much faster than per-row dicts; zip rebuilds the records.
        columns = {name: batch.column(i).to_pylist() for i, name in enumerate(batch.schema.names)}
        for i in range(batch.num_rows):
            record = {name: col[i] for name, col in columns.items()}
            doc = _record_to_document(record, f"{path}:row {row + i}", path, skipped, strict)
            if doc is not None:
                yield doc
        row += batch.num_rows


def _count(skipped: MutableMapping[str, int] | None, reason: str, where, detail: str = "") -> None:
    if skipped is not None:
        skipped[reason] = skipped.get(reason, 0) + 1
    logger.info("skipped %s (%s%s)", where, reason, f": {detail}" if detail else "")

