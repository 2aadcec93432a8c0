"""The decontamination report: report.jsonl (fixed interface) and report.md (flagged pairs side by side).

report.jsonl: one line per flagged document, `{"id": ..., "matches": [{"task_id", "method", "score"}, ...]}`
(score: ngram = shared n-grams, embedding = L2 distance, lower is closer; ast = match rate tau).

report.md: the settings that decided (methods, thresholds, rule), a warning when some documents had more
functions than `max_snippets` (not all compared), then for every flagged document (the first
`max_documents`) each match as a two-column table, the document's snippet beside the benchmark's, so that a
person can judge false positives as the paper did for its four 13-gram hits (§5.1).
"""

from __future__ import annotations

import gzip
import html
import json
from pathlib import Path
from typing import Iterable, Iterator

MAX_LINES = 40  # per snippet in report.md


def read_shards(folder: Path) -> Iterator[dict]:
    """Records of datatrove JSONL shards (`*.jsonl.gz` / `*.jsonl`) under `folder`, shard files in sorted order."""
    if not folder.is_dir():
        return
    for path in sorted(p for p in folder.rglob("*") if p.name.endswith((".jsonl.gz", ".jsonl"))):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def report_rows(removed: Iterable[dict]) -> Iterator[dict]:
    """report.jsonl rows from removed documents that carry `metadata["contamination"]`."""
    for rec in removed:
        evidence = (rec.get("metadata") or {}).get("contamination")
        if evidence is None:
            continue
        yield {"id": rec.get("id"), "matches": [{k: m[k] for k in ("task_id", "method", "score")} for m in evidence]}


def _clip(text: str) -> str:
    lines = text.rstrip("\n").splitlines()
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES] + [f"... ({len(lines) - MAX_LINES} more lines)"]
    return html.escape("\n".join(lines))


def _score(m: dict) -> str:
    if m["method"] == "embedding":
        return f"L2 distance {m['score']:.3f}"
    if m["method"] == "ast":
        return f"tau {m['score']:.3f}"
    return f"{int(m['score'])} shared n-gram(s)"


def truncation_note(truncated: dict | None) -> str:
    """The warning line for documents with more functions than max_snippets ("" when there are none)."""
    if not truncated or not truncated.get("documents"):
        return ""
    return (f"**Not every function was compared:** {truncated['documents']} document(s) have more than max_snippets = "
            f"{truncated.get('max_snippets', '?')} functions; {truncated.get('functions', '?')} function(s) (the smallest "
            "of each such document) were not compared with the benchmark. Those documents carry "
            "`metadata.decontam_unchecked_functions`; raise `decontaminate.max_snippets` to compare them all.")


def render_markdown(removed: Iterable[dict], settings: dict, max_documents: int = 200,
                    truncated: dict | None = None) -> str:
    head = ["# Decontamination report", "", "Settings that decided (paper §5; score: ngram = shared n-grams, "
            "embedding = L2 distance of normalised embeddings, ast = match rate tau):", "",
            "```json", json.dumps(settings, indent=2), "```", ""]
    note = truncation_note(truncated)
    if note:
        head += [note, ""]
    lines: list[str] = []
    shown = total = 0
    for rec in removed:
        evidence = (rec.get("metadata") or {}).get("contamination")
        if evidence is None:
            continue
        total += 1
        if shown >= max_documents:
            continue
        shown += 1
        meta = rec.get("metadata") or {}
        where = meta.get("path") or meta.get("source") or ""
        lines += [f"## {html.escape(str(rec.get('id')))}", ""]
        if where and where != rec.get("id"):
            lines += [f"`{where}`", ""]
        for m in evidence:
            title = f"**{m['task_id']}** by {m['method']}: {_score(m)}"
            if m.get("detail"):
                title += f" (`{m['detail']}`)"
            lines += [title + f", document line {m.get('line', 1)}", "",
                      "<table><tr><th>document</th><th>" + html.escape(m["task_id"]) + "</th></tr>",
                      f"<tr><td><pre>{_clip(m.get('snippet', ''))}</pre></td><td><pre>{_clip(m.get('reference', ''))}</pre></td></tr>",
                      "</table>", ""]
    head += [f"{total} flagged document(s)" + (f"; the first {shown} are shown" if shown < total else "") + ".", ""]
    return "\n".join(head + lines)


def write_reports(removed_dir: Path, out_dir: Path, settings: dict, max_documents: int = 200,
                  truncated: dict | None = None) -> int:
    """Write out_dir/report.jsonl and out_dir/report.md from the removed documents; returns the flagged count.
    `truncated`: {"documents", "functions", "max_snippets"} not fully compared (a warning in report.md)."""
    from textbooks.guard import atomic_write, atomic_write_text

    rows = 0
    with atomic_write(out_dir / "report.jsonl") as f:
        for row in report_rows(read_shards(removed_dir)):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            rows += 1
    md = render_markdown(read_shards(removed_dir), settings, max_documents, truncated)
    atomic_write_text(out_dir / "report.md", md.rstrip("\n") + "\n")
    return rows
