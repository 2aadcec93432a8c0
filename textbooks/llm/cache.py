"""The request cache: one SQLite file, one row per finished *sample*.

Why SQLite: several worker processes can share one file (WAL mode lets readers run beside a writer,
`busy_timeout` makes writers queue instead of failing), a commit is atomic (a SIGKILL leaves either the
whole row or none of it), and anyone can open the file (`sqlite3 FILE 'select * from samples limit 3'`).

Key: sha256 of the canonical JSON of (backend, base_url, model, prompt or messages, chat flag, sampling
parameters, seed, sample index). The key has no API key in it and no field of ours that does not change
the output, so editing other prompts of a pipeline never invalidates these rows (distilabel#1065). A
request with n samples has n keys, so raising n later only sends the missing samples.

Durability: `synchronous=FULL` fsyncs each commit, and the client reports a sample only after
`put_many` returned: a finished sample is never paid for twice, across runs and after a crash.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from textbooks.llm.config import LLMError

SCHEMA_VERSION = 1


@dataclass
class Sample:
    """One finished sample. Token counts are those billed for the call that made it: a call asking for
    k samples charges its prompt tokens to its first sample and splits completion tokens across the k."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_dropped: int | None = None  # tokens cut from the front of a too-long prompt; None = not reported


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sample_key(identity: dict[str, Any], index: int) -> str:
    """identity: backend/base_url/model/prompt-or-messages/chat/sampling (see `LLMClient._identity`)."""
    return hashlib.sha256(canonical_json({**identity, "sample_index": index}).encode("utf-8")).hexdigest()


class ResultCache:
    """`get_many(keys) -> {key: Sample}`; `put_many([(key, request_json, Sample)])` commits durably."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 60.0):
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves; check_same_thread=False: the HTTP
            # client may hand a connection to a worker thread (uses are serialized by the caller).
            self.db = sqlite3.connect(str(self.path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
            self.db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS samples ("
                " key TEXT PRIMARY KEY, text TEXT NOT NULL, finish_reason TEXT,"
                " prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
                " request TEXT NOT NULL, created REAL NOT NULL)"
            )
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(samples)")}
            if "prompt_tokens_dropped" not in columns:  # caches written before the column existed: NULL = unknown
                self.db.execute("ALTER TABLE samples ADD COLUMN prompt_tokens_dropped INTEGER")
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as e:
            raise LLMError(
                f"cannot open the LLM cache {self.path}: {e}. If it is not a cache written by textbooks, "
                "choose another path (--cache); if it is damaged, delete it or move it away (results in it "
                "will be re-sent)."
            ) from e

    def get_many(self, keys: Iterable[str]) -> dict[str, Sample]:
        keys = list(keys)
        found: dict[str, Sample] = {}
        for start in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT key, text, finish_reason, prompt_tokens, completion_tokens, prompt_tokens_dropped FROM samples "
                f"WHERE key IN ({marks})",
                chunk,
            )
            for key, text, finish, pt, ct, dropped in rows:
                found[key] = Sample(text, finish, pt, ct, dropped)
        return found

    def put_many(self, rows: list[tuple[str, str, Sample]]) -> None:
        """Commit rows (key, request JSON, sample) in one transaction. A key already present (another
        process finished the same sample first) keeps its first value."""
        if not rows:
            return
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "INSERT OR IGNORE INTO samples (key, text, finish_reason, prompt_tokens, completion_tokens, request, created, "
                "prompt_tokens_dropped) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(k, _valid_text(s.text), s.finish_reason, int(s.prompt_tokens), int(s.completion_tokens), req, now,
                  None if s.prompt_tokens_dropped is None else int(s.prompt_tokens_dropped)) for k, req, s in rows],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]


    def close(self) -> None:
        self.db.close()


def _valid_text(text: str) -> str:
    """`text` as valid Unicode: a server's JSON may carry a lone surrogate ("\\ud800"), which no UTF-8 store
    can hold; it becomes U+FFFD (as a UTF-8 decoder shows broken bytes) instead of failing the whole batch."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
