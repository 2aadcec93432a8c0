"""StackOverflow as documents: one per Python question, its title and text, then its accepted (else best) answer.

phi-1's pretraining pool is "the Python subset of the deduplicated version of The Stack and the
StackOverflow" (paper §2.1); how the Q&A was formatted is not in the paper (reference §4.2). Inputs:

- the Stack Exchange data dump's `Posts.xml` (or `Posts.xml.gz`): one `<row .../>` per post under
  `<posts>`, with `Id`, `PostTypeId` (1 = question, 2 = answer), `ParentId` (an answer's question),
  `AcceptedAnswerId`, `Score`, `Tags`, `Title`, `Body` (HTML). The dump is ~100 GB for stackoverflow.com,
  so it is streamed with `xml.etree.ElementTree.iterparse` and every row is cleared once read; the
  file is never loaded whole (`iter_posts_xml`).
- JSONL Q&A (`.jsonl`, `.jsonl.gz`): one record per line with string fields `question` and `answer`,
  optional `title`, `tags` (a list or a dump-style string), `id`, `score` (`iter_qa_jsonl`). A field
  that contains HTML tags (`<p>`, `<pre>`, `<code>`, ...) is rendered like a dump body; plain text is
  kept as it is.

Which questions: those with at least one tag matching `tags` (fnmatch patterns; default `python*`:
`python`, `python-3.x`, `python-asyncio`, ...). Both tag formats of the dumps are read: `<python><pandas>`
(up to 2023) and `|python|pandas|` (2024 on). A JSONL record without tags is kept (the file is taken as
already filtered). The answer: the accepted one if it is in the file, else the highest-scored one
(ties: the earliest, i.e. smallest Id); `metadata["accepted"]` says which. A question without an
answer teaches little and is skipped (counted `no_answer`).

Two passes over Posts.xml. Answers may come before or after their question, so:
  pass 1 indexes the Python questions: per question its accepted answer id, whether that answer was
     seen, and the best answer so far (score, id): a few ints, 212 bytes per Python question
     (measured with tracemalloc; 2M questions take ~0.4 GB). Answers are matched to questions as they
     come; an answer whose question has not appeared yet is held (parent, score, id) until it does.
     Which questions have "not appeared yet" is known from the row order: the dumps are sorted by Id,
     so a parent Id at or below the largest Id read so far was already read. If the file turns out
     not to be sorted, answers are matched again in an extra answers-only pass (always correct, one
     more read of the file).
  pass 2 renders: a question's text is held until its chosen answer arrives (or the reverse), and
     the document is emitted when the pair is complete. At most `max_pending_in_memory` such halves
     are held in memory; the rest wait in a temporary SQLite file (an answer can come years of rows
     after its question, so the number waiting has no useful bound on a 100 GB dump).
So memory is the pass-1 index plus a constant, whatever the size of the dump. Documents come out in
the order their pairs complete (a function of the file alone: deterministic).

Rendering (`html_to_text`, BeautifulSoup with the built-in "html.parser"). The shape follows the
paper's textbooks, "natural language heavy text interleaved with relevant code snippets" (§2.2),
written as Markdown with fenced code (the form chat models write such text in):

    # <title>

    <question text>

    ## Answer

    <answer text>

- `<pre>` blocks (`<pre><code>` in the dumps) are code, verbatim: a fenced block, ```python unless
  the block's class names another language (`lang-bash`, `language-none`: no tag). The fence is longer
  than any backtick run inside the code, so code is never cut. Fences, not indented blocks: an
  indented block would shift every line of Python code by four spaces, and the fence tells the model
  where code begins and ends exactly as HumanEval-style prompts are read. Code is never indented or
  prefixed, also inside lists and quotes.
- inline `<code>` becomes `backticks`; entities are unescaped (the XML attribute once by the XML
  parser, the HTML once by BeautifulSoup: `&amp;lt;` in the file is `<` in the text).
- paragraphs, headings, `<div>`s and tables (cells joined by " | ") are separated by a blank line;
  `<br>` is a line break; list items are "- " / "1. " lines (nested lists indented by two spaces);
  `<blockquote>` lines get "> "; links keep their text, images and scripts are dropped; other
  whitespace is collapsed as a browser does.

Safety: ElementTree's expat parser does not expand external entities or fetch DTDs (an external
entity in the file is a parse error, "undefined entity"), and expat >= 2.4.1 (`pyexpat.EXPAT_VERSION`;
2.5.0 here) refuses exponential internal-entity expansion ("billion laughs": "limit on input
amplification factor ... breached"); both are tests. The dumps have no DOCTYPE at all.
So a hostile Posts.xml cannot read local files or the network. What defusedxml adds beyond that
(refusing any DTD) is not needed for these files.

Skips are counted in the caller's `skipped` mapping: `non_python` (no matching tag), `no_answer`,
`empty` (nothing left after rendering), `bad_row` (a row without an integer Id/PostTypeId, an answer
without ParentId), `other_post_type` (tag wikis, moderator posts: PostTypeId 3-8), and for JSONL
`bad_json` / `no_question` with `strict=False`. With `strict=True` (default) malformed XML or a bad
JSONL line is an error naming `file:line`; with `strict=False` it is counted (`xml_error`; reading of
that file stops there, as XML allows no recovery) and reading goes on with the next file.

`StackOverflowReader` is the same as a datatrove reader step (sharded by file across tasks).
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import os
import re
import sqlite3
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.readers.base import BaseReader

from textbooks.jsonl import iter_jsonl

SOURCE = "stackoverflow"
DEFAULT_TAGS = ("python*",)  # any tag starting with "python" (python, python-3.x, python-asyncio, ...)
MAX_PENDING_IN_MEMORY = 100_000  # Q&A halves held in RAM in pass 2 (~2 KB each: ~200 MB); the rest go to SQLite
XML_SUFFIXES = (".xml", ".xml.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
ANSWER_HEADING = "## Answer"

QUESTION, ANSWER = 1, 2  # PostTypeId


@dataclass
class StackOverflowConfig:
    """Settings of the StackOverflow source. Example: `StackOverflowConfig(tags=["python*", "django"])`."""

    # fnmatch patterns; a question is kept when one of its tags matches. Default: the paper's "Python
    # subset" (§2.1) read as every python* tag, since the paper does not say which tags it used.
    tags: list[str] = field(default_factory=lambda: list(DEFAULT_TAGS))
    max_pending_in_memory: int = MAX_PENDING_IN_MEMORY  # pass-2 halves kept in RAM (see the module docstring)


# ---------------------------------------------------------------------------------------------------
# HTML -> text


Line = tuple[str, bool]  # (text, is code): code lines are never prefixed or re-wrapped


class _Blocks:
    """Rendered blocks, each a list of lines; inline text accumulates until a block boundary."""

    def __init__(self) -> None:
        self.blocks: list[list[Line]] = []
        self._inline: list[str] = []

    def text(self, s: str) -> None:
        s = re.sub(r"[ \t\r\n\f\v]+", " ", s)  # HTML whitespace collapses (Unicode spaces such as \xa0 stay)
        if s.startswith(" ") and (not self._inline or self._inline[-1].endswith((" ", "\n"))):
            s = s[1:]
        if s:
            self._inline.append(s)

    def raw(self, s: str) -> None:
        """Inline text kept as is (inline code, line breaks)."""
        self._inline.append(s)

    def flush(self) -> None:
        lines = [line.strip(" ") for line in "".join(self._inline).split("\n")]
        while lines and not lines[0]:
            lines.pop(0)
        while lines and not lines[-1]:
            lines.pop()
        if lines:
            self.blocks.append([(line, False) for line in lines])
        self._inline = []

    def add(self, lines: list[Line]) -> None:
        self.flush()
        if lines:
            self.blocks.append(lines)

    def lines(self) -> list[Line]:
        """All blocks as one tight run of lines (a list item, a table cell)."""
        self.flush()
        return [line for block in self.blocks for line in block]


_CODE_LANG = re.compile(r"^(?:lang|language)-(.+)$")
_LANG_ALIASES = {"py": "python", "python3": "python", "none": "", "default": "", "text": "", "plaintext": ""}
_BLOCK_TAGS = {"p", "div", "section", "article", "h1", "h2", "h3", "h4", "h5", "h6", "dl", "dt", "dd",
               "figure", "figcaption", "details", "summary", "center", "li"}
_DROP_TAGS = {"img", "script", "style", "head", "title", "iframe", "svg"}


def _code_lang(pre, default: str) -> str:
    """The fence's language: from a `lang-X` / `language-X` class on <pre> or its <code>, else `default`."""
    classes = list(pre.get("class") or [])
    code = pre.find("code")
    if code is not None:
        classes += list(code.get("class") or [])
    for c in classes:
        if m := _CODE_LANG.match(c):
            lang = m.group(1).lower()
            return _LANG_ALIASES.get(lang, lang)
    return default


def _fence(code: str, lang: str) -> list[Line]:
    code = code.rstrip("\n")
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    ticks = "`" * max(3, longest + 1)  # CommonMark: a fence longer than any backtick run inside
    return [(line, True) for line in f"{ticks}{lang}\n{code}\n{ticks}".split("\n")]


def _inline_code(code: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if code.startswith("`") or code.endswith("`") else ""
    return f"{ticks}{pad}{code}{pad}{ticks}"


def _prefixed(lines: list[Line], first: str, rest: str) -> list[Line]:
    """`first` before the first text line, `rest` before the later ones; code lines stay as they are.
    An item that starts with code gets its marker on a line of its own."""
    out: list[Line] = []
    marker = first
    for text, is_code in lines:
        if is_code:
            if marker is not None:
                out.append((marker.rstrip(), False))
                marker = None
            out.append((text, True))
        else:
            out.append(((marker if marker is not None else rest) + text if text else "", False))
            marker = None
    if marker is not None:
        out.append((marker.rstrip(), False))
    return out


def _render(node, out: _Blocks, default_lang: str) -> None:
    from bs4 import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

    for child in node.children:
        if isinstance(child, (Comment, Declaration, Doctype, ProcessingInstruction)):
            continue
        if isinstance(child, NavigableString):
            out.text(str(child))
            continue
        if not isinstance(child, Tag) or child.name in _DROP_TAGS:
            continue
        name = child.name
        if name == "pre":
            out.add(_fence(child.get_text(), _code_lang(child, default_lang)))
        elif name == "code":
            code = child.get_text()
            if "\n" in code.strip("\n"):  # multi-line <code> outside <pre> (old posts): a block, or its indentation is lost
                out.add(_fence(code, default_lang))
            else:
                out.raw(_inline_code(code))
        elif name == "br":
            out.raw("\n")
        elif name in ("ul", "ol"):
            start = str(child.get("start", "1"))
            number = int(start) if start.isdigit() else 1
            lines: list[Line] = []
            for item in child.find_all("li", recursive=False):
                inner = _Blocks()
                _render(item, inner, default_lang)
                bullet = f"{number}. " if name == "ol" else "- "
                number += 1
                lines += _prefixed(inner.lines(), bullet, " " * len(bullet))  # nested lists indent with it
            out.add(lines)
        elif name == "blockquote":
            inner = _Blocks()
            _render(child, inner, default_lang)
            inner.flush()
            out.flush()
            for block in inner.blocks:
                out.add([(t, True) if c else (f"> {t}" if t else ">", False) for t, c in block])
        elif name == "table":
            rows = []
            for tr in child.find_all("tr"):
                cells = []
                for cell in tr.find_all(("td", "th"), recursive=False):
                    inner = _Blocks()
                    _render(cell, inner, default_lang)
                    cells.append(" ".join(t for t, _ in inner.lines()))
                if any(cells):
                    rows.append((" | ".join(cells), False))
            out.add(rows)
        elif name == "hr":
            out.flush()
        elif name in _BLOCK_TAGS:
            out.flush()
            _render(child, out, default_lang)
            out.flush()
        else:  # inline containers: a, strong, em, span, kbd, sup, ...
            _render(child, out, default_lang)


def html_to_text(html: str, default_lang: str = "python") -> str:
    """A post body (HTML) as Markdown-like text with code blocks fenced verbatim (module docstring)."""
    from bs4 import BeautifulSoup

    out = _Blocks()
    _render(BeautifulSoup(html, "html.parser"), out, default_lang)
    out.flush()
    return "\n\n".join("\n".join(t for t, _ in block) for block in out.blocks)


def render_qa(title: str, question: str, answer: str) -> str:
    """The document text of one question and its answer (texts already rendered; module docstring)."""
    parts = [f"# {title.strip()}"] if title.strip() else []
    if question.strip():
        parts.append(question.strip("\n"))
    parts += [ANSWER_HEADING, answer.strip("\n")]
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------------
# Tags


_ANGLE_TAGS = re.compile(r"<([^<>]+)>")


def parse_tags(value) -> list[str]:
    """Tags from the dumps' `<a><b>` or `|a|b|` strings, or from a list; lower-cased, in order."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(t).strip().lower() for t in value if str(t).strip()]
    s = str(value).strip()
    if "<" in s:
        tags = _ANGLE_TAGS.findall(s)
    elif "|" in s:
        tags = s.split("|")
    else:
        tags = re.split(r"[\s,;]+", s)
    return [t.strip().lower() for t in tags if t.strip()]


def tags_match(tags: Iterable[str], patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(t, p) for t in tags for p in patterns)


# ---------------------------------------------------------------------------------------------------
# Posts.xml


def _count(skipped: MutableMapping[str, int] | None, reason: str, n: int = 1) -> None:
    if skipped is not None and n:
        skipped[reason] = skipped.get(reason, 0) + n


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _rows(path: Path) -> Iterator[dict[str, str]]:
    """The attributes of every <row> of a Posts.xml, streamed: each element is cleared once read.

    Raises ET.ParseError (with `.position` = (line, column)) on malformed XML."""
    with _open_binary(path) as f:
        root = None
        for event, elem in ET.iterparse(f, events=("start", "end")):
            if event == "start":
                if root is None:
                    root = elem
                continue
            if elem.tag == "row":
                yield elem.attrib  # clear() below drops the element's reference; the caller's stays valid
                elem.clear()
                root.clear()  # drop the cleared row from <posts> too, or empty elements pile up


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class _Question:
    """Pass-1 index entry of one Python question (see the module docstring for the memory bound)."""

    __slots__ = ("accepted", "accepted_seen", "best_score", "best_id")

    def __init__(self, accepted: int | None):
        self.accepted = accepted
        self.accepted_seen = False
        self.best_score: int | None = None
        self.best_id: int | None = None

    def add_answer(self, answer_id: int, score: int) -> None:
        if answer_id == self.accepted:
            self.accepted_seen = True
        if self.best_id is None or score > self.best_score or (score == self.best_score and answer_id < self.best_id):
            self.best_score, self.best_id = score, answer_id

    def chosen(self) -> tuple[int, bool] | None:
        if self.accepted_seen:
            return self.accepted, True
        return (self.best_id, False) if self.best_id is not None else None


def _answer_fields(row: dict) -> tuple[int, int, int] | None:
    """(answer id, parent id, score) of an answer row, None if malformed."""
    aid, parent = _int(row.get("Id")), _int(row.get("ParentId"))
    if aid is None or parent is None:
        return None
    return aid, parent, _int(row.get("Score")) or 0


def _index_questions(path: Path, patterns: Sequence[str], skipped) -> dict[int, _Question]:
    """Pass 1 (module docstring): Python questions with their accepted/best answers."""
    index: dict[int, _Question] = {}
    early: dict[int, list[tuple[int, int]]] = {}  # parent id -> [(answer id, score)] of answers read before it
    max_id, in_order = -1, True
    for row in _rows(path):
        post_id, kind = _int(row.get("Id")), _int(row.get("PostTypeId"))
        if post_id is None or kind is None:
            _count(skipped, "bad_row")
            continue
        if post_id <= max_id and in_order:
            in_order = False  # answers are matched again below: nothing needs holding any more
            early.clear()
        max_id = max(max_id, post_id)
        if kind == QUESTION:
            held = early.pop(post_id, None)
            if not tags_match(parse_tags(row.get("Tags")), patterns):
                _count(skipped, "non_python")
                continue
            q = index[post_id] = _Question(_int(row.get("AcceptedAnswerId")))
            for aid, score in held or ():
                q.add_answer(aid, score)
        elif kind == ANSWER:
            fields = _answer_fields(row)
            if fields is None:
                _count(skipped, "bad_row")
                continue
            aid, parent, score = fields
            if parent in index:
                index[parent].add_answer(aid, score)
            elif in_order and parent > max_id:  # its question may still come (else: read, not Python)
                early.setdefault(parent, []).append((aid, score))
        else:
            _count(skipped, "other_post_type")
    if not in_order:
        # Rows not sorted by Id: an answer read before its question may have been dropped as "already
        # read, not Python". Match every answer again, now that all Python questions are known.
        for q in index.values():
            q.accepted_seen, q.best_score, q.best_id = False, None, None
        for row in _rows(path):
            if _int(row.get("PostTypeId")) == ANSWER and (fields := _answer_fields(row)) and fields[1] in index:
                index[fields[1]].add_answer(fields[0], fields[2])
    return index


class _Pending:
    """Pass-2 halves waiting for their other half, keyed by question id: a dict up to `max_in_memory`
    entries, then a temporary SQLite file (deleted on close)."""

    def __init__(self, max_in_memory: int):
        self.max_in_memory = max(0, max_in_memory)
        self.mem: dict[int, list] = {}
        self._db: sqlite3.Connection | None = None
        self._dir: tempfile.TemporaryDirectory | None = None
        self.spilled = 0

    def put(self, key: int, value: list) -> None:
        if len(self.mem) < self.max_in_memory:
            self.mem[key] = value
            return
        if self._db is None:
            self._dir = tempfile.TemporaryDirectory(prefix="textbooks-so-")
            self._db = sqlite3.connect(os.path.join(self._dir.name, "pending.sqlite"))
            self._db.execute("CREATE TABLE pending (qid INTEGER PRIMARY KEY, value TEXT)")
        self._db.execute("INSERT OR REPLACE INTO pending VALUES (?, ?)", (key, json.dumps(value)))
        self.spilled += 1

    def pop(self, key: int) -> list | None:
        if key in self.mem:
            return self.mem.pop(key)
        if self._db is None:
            return None
        row = self._db.execute("SELECT value FROM pending WHERE qid = ?", (key,)).fetchone()
        if row is None:
            return None
        self._db.execute("DELETE FROM pending WHERE qid = ?", (key,))
        return json.loads(row[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._dir.cleanup()
            self._db = self._dir = None


def _xml_records(path: Path, patterns: Sequence[str], skipped, max_pending_in_memory: int) -> Iterator[dict]:
    index = _index_questions(path, patterns, skipped)
    chosen: dict[int, tuple[int, bool]] = {}  # question id -> (answer id, accepted)
    for qid, q in index.items():
        pick = q.chosen()
        if pick is None:
            _count(skipped, "no_answer")
        else:
            chosen[qid] = pick
    del index
    wanted = {aid: qid for qid, (aid, _) in chosen.items()}  # answer id -> its question id
    pending = _Pending(max_pending_in_memory)
    try:
        for row in _rows(path):
            post_id, kind = _int(row.get("Id")), _int(row.get("PostTypeId"))
            if kind == QUESTION and post_id in chosen:
                question = ["q", row.get("Title") or "", html_to_text(row.get("Body") or ""), parse_tags(row.get("Tags")),
                            _int(row.get("Score")) or 0]
                other = pending.pop(post_id)
                if other is None:
                    pending.put(post_id, question)
                else:
                    yield from _pair(path, post_id, chosen[post_id], question, other, skipped)
            elif kind == ANSWER and post_id in wanted:
                qid = wanted[post_id]
                answer = ["a", html_to_text(row.get("Body") or ""), _int(row.get("Score")) or 0]
                other = pending.pop(qid)
                if other is None:
                    pending.put(qid, answer)
                else:
                    yield from _pair(path, qid, chosen[qid], other, answer, skipped)
    finally:
        pending.close()


def _pair(path: Path, qid: int, pick: tuple[int, bool], question: list, answer: list, skipped) -> Iterator[dict]:
    _, title, q_text, tags, q_score = question
    _, a_text, a_score = answer
    if not a_text.strip():
        _count(skipped, "no_answer")
        return
    if not (title.strip() or q_text.strip()):
        _count(skipped, "empty")
        return
    yield {
        "text": render_qa(title, q_text, a_text),
        "id": f"{SOURCE}/{qid}",
        "metadata": {"source": SOURCE, "question_id": qid, "answer_id": pick[0], "accepted": pick[1],
                     "score": q_score, "answer_score": a_score, "tags": tags, "title": title, "file": str(path)},
    }


def _xml_error(path: Path, e: ET.ParseError) -> ValueError:
    line, col = getattr(e, "position", (0, 0))
    return ValueError(f"{path}:{line}: malformed XML ({e}); a Stack Exchange Posts.xml must be well-formed XML "
                      f"(an unfinished download or extraction?)")


def iter_posts_xml(
    path: str | os.PathLike,
    *,
    tags: Sequence[str] = DEFAULT_TAGS,
    skipped: MutableMapping[str, int] | None = None,
    strict: bool = True,
    max_pending_in_memory: int = MAX_PENDING_IN_MEMORY,
) -> Iterator[Document]:
    """Documents (one per Python question with an answer) from a Posts.xml[.gz], streamed in two passes."""
    for rec in _guard_xml(Path(path), tags, skipped, strict, max_pending_in_memory):
        yield Document(**rec)


def _guard_xml(path: Path, tags, skipped, strict: bool, max_pending_in_memory: int) -> Iterator[dict]:
    try:
        yield from _xml_records(path, list(tags), skipped, max_pending_in_memory)
    except ET.ParseError as e:
        if strict:
            raise _xml_error(path, e) from None
        _count(skipped, "xml_error")


# ---------------------------------------------------------------------------------------------------
# JSONL Q&A


_HTML_HINT = re.compile(r"<(?:p|pre|code|br|ul|ol|li|blockquote|a|div|h[1-6]|em|strong|b|i|img|hr|table)\b[^<>]*>", re.I)


def _field_text(value: str) -> str:
    """A JSONL field: rendered like a dump body when it has HTML tags, else kept as plain text."""
    return html_to_text(value) if _HTML_HINT.search(value) else value.strip("\n")


def _qa_records(path: Path, patterns: Sequence[str], skipped, strict: bool) -> Iterator[dict]:
    on_bad = None if strict else (lambda kind, where: _count(skipped, kind))
    hint = "; fix the line or pass strict=False to count and skip it"
    for line_no, rec in iter_jsonl(path, objects=True, on_bad=on_bad, hint=hint):
        question, answer = rec.get("question"), rec.get("answer")
        if not isinstance(question, str):
            if strict:
                raise ValueError(f"{path}:{line_no}: expected a string field 'question' (and 'answer'); got keys {sorted(rec)[:12]}")
            _count(skipped, "no_question")
            continue
        tags = parse_tags(rec.get("tags"))
        if tags and not tags_match(tags, patterns):
            _count(skipped, "non_python")
            continue
        a_text = _field_text(answer) if isinstance(answer, str) else ""
        if not a_text.strip():
            _count(skipped, "no_answer")
            continue
        title = rec.get("title") if isinstance(rec.get("title"), str) else ""
        q_text = _field_text(question)
        if not (title.strip() or q_text.strip()):
            _count(skipped, "empty")
            continue
        meta = {"source": SOURCE, "tags": tags, "title": title, "file": str(path)}
        for key in ("score", "accepted", "question_id", "answer_id"):
            if key in rec:
                meta[key] = rec[key]
        rid = rec.get("id")
        yield {"text": render_qa(title, q_text, a_text), "id": str(rid) if rid is not None else f"{path}:{line_no}",
               "metadata": meta}


def iter_qa_jsonl(
    path: str | os.PathLike,
    *,
    tags: Sequence[str] = DEFAULT_TAGS,
    skipped: MutableMapping[str, int] | None = None,
    strict: bool = True,
) -> Iterator[Document]:
    """Documents from JSONL Q&A records (`question`, `answer`; optional `title`, `tags`, `id`, `score`)."""
    for rec in _qa_records(Path(path), list(tags), skipped, strict):
        yield Document(**rec)


# ---------------------------------------------------------------------------------------------------
# Any input, and the datatrove reader


def is_stackoverflow_input(path: str | os.PathLike) -> bool:
    """True for a Posts.xml[.gz] (any .xml), or a JSONL file whose first record has `question` and `answer`."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith(XML_SUFFIXES):
        return True
    if name.endswith(JSONL_SUFFIXES) and p.is_file():
        records = iter_jsonl(p, objects=True, on_bad=lambda kind, where: None)
        try:
            first = next(records, None)
        finally:
            records.close()
        return first is not None and isinstance(first[1].get("question"), str) and "answer" in first[1]
    return False


def _records(path: Path, tags, skipped, strict: bool, max_pending_in_memory: int) -> Iterator[dict]:
    name = path.name.lower()
    if name.endswith(XML_SUFFIXES):
        return _guard_xml(path, tags, skipped, strict, max_pending_in_memory)
    if name.endswith(JSONL_SUFFIXES):
        return _qa_records(path, list(tags), skipped, strict)
    raise ValueError(f"{path}: not a StackOverflow input (expected Posts.xml[.gz] or Q&A .jsonl[.gz])")


def iter_stackoverflow(
    paths: Iterable[str | os.PathLike],
    *,
    tags: Sequence[str] = DEFAULT_TAGS,
    skipped: MutableMapping[str, int] | None = None,
    strict: bool = True,
    max_pending_in_memory: int = MAX_PENDING_IN_MEMORY,
) -> Iterator[Document]:
    """Documents from any mix of Posts.xml[.gz] and Q&A JSONL files, in the order given."""
    for p in paths:
        for rec in _records(Path(p), tags, skipped, strict, max_pending_in_memory):
            yield Document(**rec)


class StackOverflowReader(BaseReader):
    """datatrove reader of Posts.xml[.gz] / Q&A JSONL files: task `rank` reads files rank, rank + world_size, ...

    Like datatrove's disk readers: `limit` / `skip` count documents of this task's own input, stats
    `input_files` and `documents` (per input file), doc stats via `update_doc_stats`, records go
    through `get_document_from_dict` (so `adapter` and `default_metadata` work as in datatrove).
    Skips are stats `skipped_<reason>` (module docstring). A whole Posts.xml is one task's work (its
    two passes need the whole file): split a big dump by site, or give more files than tasks.
    """

    name = "read stackoverflow"
    type = "📖 - READER"

    def __init__(
        self,
        paths: Sequence[str | os.PathLike],
        *,
        tags: Sequence[str] = DEFAULT_TAGS,
        strict: bool = True,
        max_pending_in_memory: int = MAX_PENDING_IN_MEMORY,
        count_tokens: Callable[[str], int] | None = None,
        limit: int = -1,
        skip: int = 0,
        adapter: Callable | None = None,
        default_metadata: dict | None = None,
    ):
        super().__init__(limit=limit, skip=skip, adapter=adapter, default_metadata=default_metadata)
        self.paths = [str(p) for p in paths]
        for p in self.paths:
            if not p.lower().endswith(XML_SUFFIXES + JSONL_SUFFIXES):
                raise ValueError(f"{p}: not a StackOverflow input (expected Posts.xml[.gz] or Q&A .jsonl[.gz])")
        self.tags = list(tags)
        self.strict = strict
        self.max_pending_in_memory = max_pending_in_memory
        self.count_tokens = count_tokens

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        self._log_limit_scope(rank, world_size)
        skipped: dict[str, int] = {}
        n_read = n_skipped = 0
        try:
            for path in self.paths[rank::world_size]:
                self.stat_update("input_files")
                n_file = 0
                for i, rec in enumerate(_records(Path(path), self.tags, skipped, self.strict, self.max_pending_in_memory)):
                    if self.limit != -1 and n_read >= self.limit:
                        break
                    with self.track_time():
                        doc = self.get_document_from_dict(rec, path, i)
                        if doc is None:
                            continue
                        if n_skipped < self.skip:
                            n_skipped += 1
                            continue
                        if self.count_tokens is not None:
                            doc.metadata["token_count"] = self.count_tokens(doc.text)
                        self.update_doc_stats(doc)
                    n_read += 1
                    n_file += 1
                    yield doc
                self.stat_update("documents", value=n_file, unit="input_file")
                if self.limit != -1 and n_read >= self.limit:
                    break
        finally:
            for reason, count in sorted(skipped.items()):
                self.stat_update(f"skipped_{reason}", value=count)
