"""Educational-value annotators (phi-1 §2.1): an LLM judge through `textbooks.llm`, and an offline rubric.

    from textbooks.data.quality.annotate import LLMAnnotator, OfflineRubricAnnotator
    records = OfflineRubricAnnotator().annotate(docs)       # deterministic, offline, CPU
    with LLMClient(LLMConfig(base_url=URL, model=M, cache_path="edu.sqlite")) as client:
        annotator = LLMAnnotator(client)
        records = annotator.annotate(docs)                     # cached: a rerun sends nothing new
        annotator.stats                                        # scored / no_score / failed / by score + usage

The paper had GPT-4 "determine its educational value for a student whose goal is to learn basic coding
concepts" on ~100k samples; the prompt and the label scale are not published (reference §4.2). We use
the FineWeb-Edu / Python-Edu recipe (data-tools §1.2): an *additive* 0-5 rubric (one point per criterion
met) on the start of each file, a short justification, and a score line. The prompt lives in
`prompts/<version>.md` (package data); its version and sha256 go into every record.

What the LLM sees: the first `max_sample_tokens` (1,000) tokens of the document - cut with `tokenizer`
when one is given (anything with `encode`/`decode`), else the first 4 x 1,000 characters (4 characters
per token is the usual estimate for code and English), backed up to the last line break when that keeps
at least 80% of the budget, so a line is not cut in half. Python-Edu showed its judge 1,000 characters.

The score line (`parse_score`): the last non-empty line of the answer must be

    Educational score: N          (N an integer 0..5; the documented format)

and these variants are accepted: markdown around it (`**Educational score: 4**`, `**Score:** 4`,
`> Educational score: 4`), `Score: N` without "Educational", `N/5` or `N out of 5`, `=` instead of `:`,
quotes, and a trailing period. Anything else (a score elsewhere than the last line, 3.5, 7, 4/10, two
numbers) is not a score: the judge is asked again (`retries` times) in the same conversation, with its bad
answer and a reminder of the format (`<!-- retry -->` section of the prompt file), so the request differs
and the cache cannot return the same bad answer; after that the record has `score: null` and is counted
as `no_score`. HTTP faults (429, 5xx, timeouts) are retried by the client itself.

Records (one JSON object per document): id, text_sha (sha256 of the full text), score (0-5 or null),
justification, annotator, prompt_version, prompt_sha, model, attempts, truncated, error, text (the full
text, so `textbooks data quality train` needs only this file).
"""

from __future__ import annotations

import ast
import hashlib
import io
import random
import re
import sys
import tokenize
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence

from datatrove.data import Document

DEFAULT_PROMPT_VERSION = "educational_value_v1"
DEFAULT_SAMPLE_TOKENS = 1000  # paper: "the first ~1,000 tokens" is our reading; Python-Edu: 1,000 chars
CHARS_PER_TOKEN = 4  # the usual estimate of characters per token for code and English text
KEEP_LINE_FRACTION = 0.8  # back up to a line break only if that keeps >= 80% of the character budget
MAX_JUSTIFICATION_CHARS = 2000
OFFLINE_ANNOTATOR = "offline-rubric-v1"


# --- the prompt --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prompt:
    version: str
    template: str  # the user message; {{EXTRACT}} is replaced by the sample
    retry: str  # the follow-up after an answer without a score line
    sha: str  # sha256 of the whole file (first 12 hex digits)

    def render(self, extract: str) -> str:
        return self.template.replace("{{EXTRACT}}", extract)


def load_prompt(version: str = DEFAULT_PROMPT_VERSION) -> Prompt:
    """The versioned prompt `textbooks/data/quality/prompts/<version>.md`."""
    from textbooks.text import read_prompt_file

    template, retry, sha = read_prompt_file("textbooks.data.quality", f"{version}.md", f"prompt version {version!r}")
    if "{{EXTRACT}}" not in template:
        raise ValueError(f"prompt {version}: expected one {{{{EXTRACT}}}} placeholder and one '<!-- retry ... -->' section")
    return Prompt(version, template, retry, sha)


def sample_for_prompt(text: str, *, max_tokens: int = DEFAULT_SAMPLE_TOKENS, tokenizer=None,
                      chars_per_token: int = CHARS_PER_TOKEN) -> tuple[str, bool]:
    """(the start of `text` the judge sees, whether it was cut); see the module docstring."""
    if tokenizer is not None:
        ids = tokenizer.encode(text)
        if len(ids) <= max_tokens:
            return text, False
        return tokenizer.decode(ids[:max_tokens]), True
    budget = max_tokens * chars_per_token
    if len(text) <= budget:
        return text, False
    cut = text[:budget]
    newline = cut.rfind("\n")
    if newline + 1 >= KEEP_LINE_FRACTION * budget:
        cut = cut[: newline + 1]
    return cut, True


_MARKUP = r"[\s*_`\"'>#-]*"
_SCORE_LINE = re.compile(
    rf"^{_MARKUP}(?:educational\s+)?(?:value\s+)?score{_MARKUP}[:=]{_MARKUP}"
    r"([0-5])"  # the score: one digit 0..5 (3.5, 10, 7 do not match: see the tail)
    r"(?:\s*(?:/|out\s+of)\s*5)?"  # 4/5, 4 out of 5
    r"[\s*_`\"'.]*$",
    re.IGNORECASE,
)
_JUSTIFICATION_LABEL = re.compile(r"^\W*justification\W*:\W*", re.IGNORECASE)


def parse_score(answer: str | None) -> tuple[int | None, str]:
    """(score 0..5 or None, justification): the score only from the last non-empty line (module docstring)."""
    lines = [line for line in (answer or "").strip().splitlines()]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return None, ""
    m = _SCORE_LINE.match(lines[-1].strip())
    justification = "\n".join(lines[:-1] if m else lines).strip()
    justification = _JUSTIFICATION_LABEL.sub("", justification)[:MAX_JUSTIFICATION_CHARS]
    return (int(m.group(1)) if m else None), justification


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --- the LLM annotator -------------------------------------------------------------------------------------
@dataclass
class AnnotationStats:
    """What an annotation run did: documents, scores parsed, `no_score` after every retry, `failed` (the
    request itself failed: see the record's error), retries asked for a score, and the client's usage."""

    documents: int = 0
    scored: int = 0
    no_score: int = 0
    failed: int = 0
    score_retries: int = 0
    truncated: int = 0
    by_score: dict[str, int] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)

    def count(self, records: list[dict]) -> None:
        self.documents = len(records)
        self.scored = sum(r["score"] is not None for r in records)
        self.failed = sum(bool(r.get("error")) for r in records)
        self.no_score = self.documents - self.scored - self.failed
        self.truncated = sum(bool(r.get("truncated")) for r in records)
        self.score_retries = sum(max(0, r.get("attempts", 1) - 1) for r in records)
        counts = Counter(r["score"] for r in records if r["score"] is not None)
        self.by_score = {str(s): counts.get(s, 0) for s in range(6)}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LLMAnnotator:
    """Ask an LLM (any `textbooks.llm` backend) for the educational value of each document.

    retries: extra requests (with the bad answer and the reminder) when an answer has no score line.
    temperature: 0 (greedy) by default; the retry asks the same judge again with a different
      conversation, so greedy is fine.
    """

    def __init__(self, client, *, prompt_version: str = DEFAULT_PROMPT_VERSION, tokenizer=None,
                 max_sample_tokens: int = DEFAULT_SAMPLE_TOKENS, chars_per_token: int = CHARS_PER_TOKEN,
                 max_answer_tokens: int = 300, retries: int = 2, temperature: float = 0.0):
        if retries < 0:
            raise ValueError(f"LLMAnnotator: retries must be >= 0, got {retries}")
        self.client = client
        self.prompt = load_prompt(prompt_version)
        self.tokenizer, self.max_sample_tokens, self.chars_per_token = tokenizer, max_sample_tokens, chars_per_token
        self.max_answer_tokens, self.retries, self.temperature = max_answer_tokens, retries, temperature
        self.model = client.config.model
        self.name = f"llm:{self.model}"
        self.stats = AnnotationStats()

    def annotate(self, docs: Sequence[Document], chunk: int = 4096) -> list[dict]:
        """One record per document, in order. Documents go to the client `chunk` at a time (prompts of a
        chunk are held in memory; the cache makes the split invisible to a rerun)."""
        docs = list(docs)
        records: list[dict] = []
        for start in range(0, len(docs), chunk):
            records += self._annotate_chunk(docs[start : start + chunk])
        self.stats.count(records)
        self.stats.usage = self.client.usage.to_dict()
        return records

    def _annotate_chunk(self, docs: list[Document]) -> list[dict]:
        from textbooks.llm import Request

        samples = [sample_for_prompt(d.text, max_tokens=self.max_sample_tokens, tokenizer=self.tokenizer,
                                     chars_per_token=self.chars_per_token) for d in docs]
        conversations = [[{"role": "user", "content": self.prompt.render(s)}] for s, _ in samples]
        answers: list[dict[str, Any]] = [{"score": None, "justification": "", "attempts": 0, "error": None} for _ in docs]
        pending = list(range(len(docs)))
        for attempt in range(self.retries + 1):
            if not pending:
                break
            requests = [Request(id=i, messages=conversations[i], max_tokens=self.max_answer_tokens,
                                temperature=self.temperature) for i in pending]
            results = self.client.run(requests)
            still = []
            for i, result in zip(pending, results):
                a = answers[i]
                a["attempts"] = attempt + 1
                if result.error:
                    a["error"] = result.error
                    continue
                score, justification = parse_score(result.text)
                a["score"], a["justification"], a["answer"] = score, justification, result.text
                if score is None:
                    still.append(i)
                    conversations[i] = conversations[i] + [{"role": "assistant", "content": result.text or ""},
                                                           {"role": "user", "content": self.prompt.retry}]
            pending = still
        records = []
        for d, (_, cut), a in zip(docs, samples, answers):
            record = {"id": d.id, "text_sha": text_sha(d.text), "score": a["score"], "justification": a["justification"],
                      "annotator": self.name, "prompt_version": self.prompt.version, "prompt_sha": self.prompt.sha,
                      "model": self.model, "attempts": a["attempts"], "truncated": cut, "error": a["error"]}
            if a["score"] is None and a.get("answer") is not None:
                record["last_answer"] = a["answer"][:MAX_JUSTIFICATION_CHARS]  # to see why it did not parse
            record["text"] = d.text
            records.append(record)
        return records


# --- the offline rubric -------------------------------------------------------------------------------------
# Imports a self-contained teaching snippet may use besides the standard library (the paper's own
# "high educational value" example imports torch).
TEACHING_LIBRARIES = frozenset({"numpy", "scipy", "pandas", "matplotlib", "torch", "sklearn"})
MAX_SELF_CONTAINED_LINES = 300  # longer files are usually one module of a larger project
MAX_LINE_CHARS = 120  # longer lines: minified code or embedded data
MAX_LITERAL_ELEMENTS = 64  # a list/dict/set/tuple literal with more elements is data, not a lesson
MAX_TRIVIAL_ASSIGN_FRACTION = 0.5  # statements like `self._x = None`: the paper's "low value" example
SHORT_NAME_OK = frozenset("ijknmxyzabcfsetv_")  # conventional one-letter names (loop indices, math, files)
MAX_BAD_SHORT_NAME_FRACTION = 0.3
DOCUMENTED_COMMENT_FRACTION = 0.10  # comment lines per non-blank line that count as "documented"
EXPLAINED_COMMENT_FRACTION = 0.15  # ... and as "explained step by step" (with docstrings on 3/4 of defs)
PREFIX_PARSE_TRIES = 8  # cut points tried when the judged prefix ends inside a statement
_STATEMENT_START = re.compile(r"^(?![\s#)\]}'\"]|else\b|elif\b|except\b|finally\b|case\b)\S")
CRITERIA = ("valid_code", "real_computation", "teachable", "self_contained", "explained")


def judged_prefix(text: str, budget_chars: int = DEFAULT_SAMPLE_TOKENS * CHARS_PER_TOKEN) -> tuple[ast.Module | None, str]:
    """(AST, source) of what the rubric judges: the text itself when it fits `budget_chars`, else its start
    cut back to the last complete top-level statement that parses (the LLM sees the same start)."""
    text = text.lstrip("\ufeff")  # a UTF-8 BOM: Python accepts it in files, ast.parse not in a str
    candidates = [text]
    if len(text) > budget_chars:
        lines = text[:budget_chars].splitlines(keepends=True)
        cuts = [k for k in range(len(lines) - 1, 0, -1) if _STATEMENT_START.match(lines[k])][:PREFIX_PARSE_TRIES]
        candidates = ["".join(lines[:k]) for k in cuts]
    for source in candidates:
        try:
            return ast.parse(source), source
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return None, text[:budget_chars]


def _top_modules(node: ast.AST) -> list[str | None]:
    if isinstance(node, ast.Import):
        return [a.name.split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom):
        return [None] if node.level else [(node.module or "").split(".")[0]]
    return []


def _is_docstring_expr(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _is_trivial_assign(stmt: ast.stmt) -> bool:
    """`x = 1`, `self._vim = vim`, `self.items: list[int] = []`: a constant, a name or an empty container
    assigned to a name or attribute - no computation."""
    if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        return False
    value = stmt.value
    if value is None or isinstance(value, (ast.Constant, ast.Name, ast.Attribute)):
        return True
    if isinstance(value, (ast.List, ast.Set, ast.Tuple)):
        return not value.elts
    return isinstance(value, ast.Dict) and not value.keys


def _comment_lines(source: str) -> int:
    """Lines with a comment (full-line or after code), found by Python's tokenizer (the judged prefix is
    small, so this is cheap); full-line `#` lines if it cannot tokenize."""
    try:
        return len({tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT})
    except (tokenize.TokenError, SyntaxError):
        return sum(line.lstrip().startswith("#") for line in source.splitlines())


_LOGIC = (ast.For, ast.AsyncFor, ast.While, ast.comprehension, ast.If, ast.IfExp, ast.Try, ast.Match)
_COMPUTED = (ast.BinOp, ast.BoolOp, ast.Compare, ast.Call, ast.UnaryOp, ast.Subscript)


def rubric_criteria(text: str, budget_chars: int = DEFAULT_SAMPLE_TOKENS * CHARS_PER_TOKEN) -> list[tuple[str, bool, str]]:
    """The five criteria of offline-rubric-v1, each (name, met, detail); see OfflineRubricAnnotator."""
    tree, source = judged_prefix(text, budget_chars)
    if tree is None:
        return [("valid_code", False, "does not parse as Python 3")] + [(n, False, "needs valid code") for n in CRITERIA[1:]]
    nodes = list(ast.walk(tree))
    statements = [n for n in nodes if isinstance(n, ast.stmt)]
    code = [s for s in statements if not isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass)) and not _is_docstring_expr(s)]
    criteria = [("valid_code", bool(code), f"parses; {len(code)} statements beyond imports, pass and docstrings")]
    if not code:
        return criteria + [(n, False, "no code beyond imports, pass and docstrings") for n in CRITERIA[1:]]

    # 2. real computation: a function with logic (a loop, a branch, a computed return), or logic at top level
    functions = [n for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    def has_logic(body_owner) -> bool:
        return any(isinstance(n, _LOGIC) or (isinstance(n, (ast.Return, ast.Yield)) and isinstance(n.value, _COMPUTED))
                   for n in ast.walk(body_owner))
    with_logic = sum(has_logic(f) for f in functions)
    top_logic = any(isinstance(s, _LOGIC[:3] + _LOGIC[4:]) for s in tree.body)
    criteria.append(("real_computation", bool(with_logic or top_logic),
                     f"{with_logic}/{len(functions)} functions with loops/branches/computed returns"
                     + (", top-level logic" if top_logic else "")))

    # 3. teachable: documented (docstrings on half the defs, or 10% comment lines), clear names, not
    # boilerplate, no blobs
    defs = [n for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    with_doc = sum(ast.get_docstring(n) is not None for n in defs)
    source_lines = source.splitlines()
    non_blank = [line for line in source_lines if line.strip()]
    comment_fraction = _comment_lines(source) / max(1, len(non_blank))
    doc_fraction = with_doc / len(defs) if defs else float(ast.get_docstring(tree) is not None)
    documented = doc_fraction >= 0.5 or comment_fraction >= DOCUMENTED_COMMENT_FRACTION
    names = [n.name for n in defs] + [a.arg for f in functions for a in f.args.args + f.args.kwonlyargs
                                      if a.arg not in ("self", "cls")]
    for n in nodes:
        if isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            names += [t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name)]
    cryptic = sum(len(name) == 1 and name not in SHORT_NAME_OK for name in names)
    trivial = sum(_is_trivial_assign(s) for s in code)
    widest = max((len(line) for line in source_lines), default=0)
    biggest = max((len(n.keys) if isinstance(n, ast.Dict) else len(n.elts) for n in nodes
                   if isinstance(n, (ast.List, ast.Tuple, ast.Set, ast.Dict))), default=0)
    teachable = (documented and cryptic <= MAX_BAD_SHORT_NAME_FRACTION * len(names)
                 and trivial <= MAX_TRIVIAL_ASSIGN_FRACTION * len(code) and widest <= MAX_LINE_CHARS
                 and biggest <= MAX_LITERAL_ELEMENTS)
    criteria.append(("teachable", teachable,
                     f"docstrings on {with_doc}/{len(defs)} defs, {comment_fraction:.0%} comment lines, "
                     f"{cryptic}/{len(names)} cryptic one-letter names, {trivial}/{len(code)} trivial assignments, "
                     f"longest line {widest}, largest literal {biggest}"))

    # 4. self-contained: no relative imports, only the standard library and common teaching libraries,
    # short enough to be one lesson (lines of the whole text, not just the judged start)
    modules = [m for n in nodes for m in _top_modules(n)]
    relative = sum(m is None for m in modules)
    foreign = sorted({m for m in modules if m and m not in sys.stdlib_module_names and m not in TEACHING_LIBRARIES})
    total_lines = sum(1 for line in text.splitlines() if line.strip())
    criteria.append(("self_contained", not relative and not foreign and total_lines <= MAX_SELF_CONTAINED_LINES,
                     f"{total_lines} lines (max {MAX_SELF_CONTAINED_LINES}), {relative} relative imports"
                     + (f", imports {', '.join(foreign[:5])}" if foreign else "")))

    # 5. explained step by step: docstrings on 3/4 of the defs (or a module docstring) and 15% comment lines
    explained = doc_fraction >= 0.75 and comment_fraction >= EXPLAINED_COMMENT_FRACTION
    criteria.append(("explained", explained, f"docstrings on {doc_fraction:.0%} of defs, {comment_fraction:.0%} comment lines"))
    return criteria


class OfflineRubricAnnotator:
    """A stand-in for the LLM judge: a deterministic additive rubric over code features, 0-5.

    NOT an LLM and not a measure of teaching quality, only a cheap proxy so the whole chain (annotate ->
    train -> apply) runs offline on CPU (the embedded demo); records say `annotator: offline-rubric-v1`.
    It judges what the LLM would see (the first 4,000 characters, cut back to the last complete top-level
    statement) and mirrors the five points of the prompt, one point per criterion met (thresholds are
    the module constants):
    1. valid_code: parses as Python 3 and has a statement beyond imports, `pass` and docstrings (a text
       that does not parse, or has nothing else, scores 0: the other criteria need code);
    2. real_computation: a function whose body has a loop, a branch (if / conditional expression / try /
       match) or returns/yields a computed value (operator, call, comparison, subscript), or a loop or
       branch at top level (a script);
    3. teachable: documented (docstrings on at least half of the functions and classes - the module
       docstring when there are none - or comments on >= 10% of non-blank lines), at most 30%
       cryptic one-letter names (i j k n m x y z a b c f s e t v _ are fine), at most half the statements
       trivial assignments (`self._x = None`: the paper's low-value example), no line over 120 characters
       and no literal with more than 64 elements;
    4. self_contained: no relative imports, imports only from the standard library or numpy / scipy /
       pandas / matplotlib / torch / sklearn, and at most 300 non-blank lines in the whole text;
    5. explained: docstrings on at least 3/4 of the functions and classes and comments on >= 15% of lines.
    """

    name = OFFLINE_ANNOTATOR

    def __init__(self, budget_chars: int = DEFAULT_SAMPLE_TOKENS * CHARS_PER_TOKEN):
        self.budget_chars = budget_chars
        self.stats = AnnotationStats()

    def score(self, text: str) -> tuple[int, list[tuple[str, bool, str]]]:
        criteria = rubric_criteria(text, self.budget_chars)
        return sum(met for _, met, _ in criteria), criteria

    def annotate(self, docs: Iterable[Document]) -> list[dict]:
        records = []
        for d in docs:
            score, criteria = self.score(d.text)
            justification = "; ".join(f"{'+1' if met else '+0'} {name}: {detail}" for name, met, detail in criteria)
            records.append({"id": d.id, "text_sha": text_sha(d.text), "score": score, "justification": justification,
                            "annotator": self.name, "prompt_version": None, "stand_in_for": "the LLM annotator",
                            "criteria": {name: met for name, met, _ in criteria}, "attempts": 0,
                            "truncated": len(d.text) > self.budget_chars, "error": None, "text": d.text})
        self.stats.count(records)
        return records


# --- sampling -------------------------------------------------------------------------------------------------
def sample_documents(docs: Iterable[Document], n: int | None, seed: int = 0) -> list[Document]:
    """A uniform sample of n documents in one pass (reservoir sampling, Algorithm R), in input order;
    the same inputs and seed give the same sample. n None or 0: all documents."""
    if not n:
        return list(docs)
    rng = random.Random(seed)
    reservoir: list[tuple[int, Document]] = []
    for i, doc in enumerate(docs):
        if i < n:
            reservoir.append((i, doc))
        else:
            j = rng.randint(0, i)
            if j < n:
                reservoir[j] = (i, doc)
    return [doc for _, doc in sorted(reservoir, key=lambda pair: pair[0])]


__all__ = ["LLMAnnotator", "OfflineRubricAnnotator", "AnnotationStats", "Prompt", "load_prompt", "parse_score",
           "sample_for_prompt", "sample_documents", "rubric_criteria", "text_sha", "DEFAULT_PROMPT_VERSION",
           "OFFLINE_ANNOTATOR"]
