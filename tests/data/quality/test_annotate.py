"""Annotators: the LLM judge's score parsing against a real local HTTP server, its retries and cache; the
offline rubric on hand-written fixtures (each fixture's expected points in its comment)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from datatrove.data import Document

from tests.eval.openai_server_fixture import LocalOpenAIServer, Refuse
from textbooks.data.quality.annotate import (
    DEFAULT_PROMPT_VERSION,
    LLMAnnotator,
    OfflineRubricAnnotator,
    load_prompt,
    parse_score,
    rubric_criteria,
    sample_documents,
    sample_for_prompt,
)
from textbooks.llm import LLMClient, LLMConfig


# --- parsing -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer, score", [
    ("Clear and documented.\nEducational score: 4", 4),  # the documented format
    ("Fine.\n\nEducational score: 0\n\n", 0),  # trailing blank lines
    ("Good.\n**Educational score: 3**", 3),  # markdown bold around the line
    ("Good.\n**Educational score:** 5", 5),  # bold label only
    ("Decent.\nScore: 4/5.", 4),  # "Score", out of 5, trailing period
    ("Ok.\n> educational score = 2", 2),  # quote marker, lower case, '='
    ('Ok.\n"Educational score: 1"', 1),  # quoted
    ("Meh.\nEducational score: 3 out of 5", 3),
    ("Educational score: 4\nI hope this helps!", None),  # the score is not the last line
    ("Educational score: 3.5", None),  # not an integer
    ("Educational score: 7", None),  # out of range
    ("Educational score: 10", None),
    ("Score: 4/10", None),  # another scale
    ("I would give it a 4.", None),  # no score line
    ("", None),
])
def test_parse_score_accepts_the_format_and_its_variants_only(answer, score):
    assert parse_score(answer)[0] == score


def test_parse_score_keeps_the_justification():
    assert parse_score("Justification: short, clear code.\nEducational score: 3") == (3, "short, clear code.")


def test_prompt_is_versioned_and_asks_the_paper_question():
    prompt = load_prompt()
    assert prompt.version == DEFAULT_PROMPT_VERSION and len(prompt.sha) == 12
    text = prompt.render("def f(): pass")
    assert "educational value for a student whose goal is to learn basic coding concepts" in text
    assert "def f(): pass" in text and "Educational score: <total points>" in text and "{{EXTRACT}}" not in text
    assert "Educational score: N" in prompt.retry
    with pytest.raises(ValueError, match="available: educational_value_v1"):
        load_prompt("no_such_version")


def test_samples_are_cut_by_chars_at_a_line_or_by_tokens(tiny_tokenizer_dir):
    line = "x = compute(a, b)  # one line of code\n"  # 38 chars
    text = line * 200  # 7,600 chars
    cut, truncated = sample_for_prompt(text, max_tokens=100)  # 400 chars, backed up to a line break
    assert truncated and cut == line * 10 and len(cut) == 380
    assert sample_for_prompt("short", max_tokens=100) == ("short", False)
    from textbooks.tokenizer import load_tokenizer

    tok = load_tokenizer(tiny_tokenizer_dir)
    cut, truncated = sample_for_prompt(text, max_tokens=50, tokenizer=tok)
    assert truncated and len(tok.encode(cut)) <= 51 and text.startswith(cut[:-5])


# --- the LLM judge over HTTP ---------------------------------------------------------------------------------
DOCS = {  # document text -> what the scripted judge does with it
    "clean": "def add(a, b):\n    return a + b\n",
    "bold": "def sub(a, b):\n    return a - b\n",
    "slash": "def mul(a, b):\n    return a * b\n",
    "retry": "def div(a, b):\n    return a / b\n",
    "never": "x = 1\n",
    "error500": "def neg(a):\n    return -a\n",
}


class Judge:
    """The scripted answers of the judge, chosen by the document found in the prompt."""

    def __init__(self):
        self.calls: Counter = Counter()
        self.lock = threading.Lock()

    def __call__(self, path, body):
        messages = body["messages"]
        case = next(name for name, text in DOCS.items() if text in messages[0]["content"])
        with self.lock:
            self.calls[case] += 1
            n = self.calls[case]
        retrying = len(messages) > 1  # our follow-up turn after an answer without a score
        if case == "clean":
            return ["Short, correct and readable.\nEducational score: 4"]
        if case == "bold":
            return ["Teaches subtraction.\n**Educational score: 3**"]
        if case == "slash":
            return ["Fine.\nScore: 4/5."]
        if case == "retry":
            return ["A reasonable function; I would rate it decently."] if not retrying else ["Divides.\nEducational score: 2"]
        if case == "never":
            return ["I cannot say."]
        if case == "error500" and n == 1:
            raise Refuse(500, "the judge fell over")
        return ["Negation.\nEducational score: 5"]


def _docs():
    return [Document(text=text, id=name) for name, text in DOCS.items()]


def _client(server, cache):
    return LLMClient(LLMConfig(base_url=server.base_url, model="judge", api_key_env=None, cache_path=str(cache),
                               progress=False, max_retries=3, backoff_base_s=0.01, backoff_max_s=0.05, concurrency=2))


def test_llm_annotator_parses_retries_and_counts_over_http(tmp_path):
    judge = Judge()
    cache = tmp_path / "judge.sqlite"
    with LocalOpenAIServer(judge) as server:
        with _client(server, cache) as client:
            annotator = LLMAnnotator(client, retries=2)
            records = annotator.annotate(_docs())
        by_id = {r["id"]: r for r in records}
        assert {k: r["score"] for k, r in by_id.items()} == {"clean": 4, "bold": 3, "slash": 4, "retry": 2, "never": None,
                                                             "error500": 5}
        assert by_id["clean"]["justification"] == "Short, correct and readable."
        assert by_id["retry"]["attempts"] == 2 and by_id["never"]["attempts"] == 3  # 1 + 2 retries, then no score
        assert by_id["never"]["last_answer"] == "I cannot say." and by_id["never"]["error"] is None
        for r in records:
            assert r["prompt_version"] == DEFAULT_PROMPT_VERSION and r["annotator"] == "llm:judge" and r["model"] == "judge"
            assert r["text"] == DOCS[r["id"]] and len(r["text_sha"]) == 64
        stats = annotator.stats
        assert (stats.documents, stats.scored, stats.no_score, stats.failed) == (6, 5, 1, 0)
        assert stats.score_retries == 1 + 2 and stats.by_score == {"0": 0, "1": 0, "2": 1, "3": 1, "4": 2, "5": 1}
        # what went over the wire: 6 first asks + 1 retry (retry) + 2 retries (never) + 1 HTTP retry after the 500
        assert len(server.requests) == 10 and judge.calls["error500"] == 2
        assert stats.usage["requests"] == 10 and stats.usage["retries"] == 1 and stats.usage["prompt_tokens"] == 9
        retry_body = next(b for _, b in server.requests if len(b["messages"]) == 3 and DOCS["retry"] in b["messages"][0]["content"])
        assert retry_body["messages"][1] == {"role": "assistant", "content": "A reasonable function; I would rate it decently."}
        assert retry_body["messages"][2]["content"] == load_prompt().retry

        # a rerun is served from the cache: the same records, nothing sent
        sent = len(server.requests)
        with _client(server, cache) as client:
            again = LLMAnnotator(client, retries=2)
            assert again.annotate(_docs()) == records
        assert len(server.requests) == sent
        assert again.stats.usage["requests"] == 0 and again.stats.usage["cache_hits"] == 9


def test_llm_annotator_reports_a_failed_request_without_stopping_the_rest(tmp_path):
    def answer(path, body):
        if DOCS["never"] in body["messages"][0]["content"]:
            raise Refuse(400, "this one is refused")
        return ["ok\nEducational score: 1"]

    with LocalOpenAIServer(answer) as server, _client(server, tmp_path / "c.sqlite") as client:
        annotator = LLMAnnotator(client)
        records = {r["id"]: r for r in annotator.annotate(_docs())}
    assert records["never"]["score"] is None and "this one is refused" in records["never"]["error"]
    assert all(r["score"] == 1 for k, r in records.items() if k != "never")
    assert (annotator.stats.failed, annotator.stats.no_score, annotator.stats.scored) == (1, 0, 5)


# --- the offline rubric ----------------------------------------------------------------------------------------
TEACHING = '''"""Binary search, step by step."""


def binary_search(items, target):
    """Return the index of target in the sorted list items, or -1."""
    low, high = 0, len(items) - 1
    # Halve the search range until it is empty.
    while low <= high:
        middle = (low + high) // 2  # the middle element
        if items[middle] == target:
            return middle
        # Keep the half that can still hold the target.
        if items[middle] < target:
            low = middle + 1
        else:
            high = middle - 1
    return -1
'''  # 5: valid, computation (loop, branches), teachable, self-contained, explained (100% docstrings, 27% comments)

BOILERPLATE = '''from .base import Base


class Default(object):
    def __init__(self, vim) -> None:
        self._vim = vim
        self._denite = None
        self._selected_candidates = []
        self._cursor = 0
        self._winid = -1
        self._context = {}
'''  # 1: valid only (the paper's low-value example: no logic, undocumented, a relative import)

UNDOCUMENTED_SCRIPT = '''import math
for q in range(10):
    print(q, math.sqrt(q))
'''  # 3: valid, computation (top-level loop), self-contained; not teachable (no docs), not explained

CRYPTIC = '''def f(p, q, w):
    """Mix."""
    r = p * q
    g = r + w
    h = g - p
    return h * r
'''  # 3: valid, computation (computed return), self-contained; documented, but 6 of its 7 names are cryptic one-letter
# names (p q w r g h; more than 30%) -> not teachable; no comments -> not explained

PY2 = 'print "hello"\n'  # 0: does not parse as Python 3
ONLY_IMPORTS = '"""Package."""\nimport os\nfrom typing import Any\n'  # 0: nothing beyond imports and a docstring
THIRD_PARTY = '''import requests


def fetch(url):
    """Download url and return its text."""
    response = requests.get(url)
    return response.text.strip()
'''  # 3: valid, computation (computed return), teachable; not self-contained (requests); no comments -> not explained


@pytest.mark.parametrize("text, expected", [
    (TEACHING, {"valid_code", "real_computation", "teachable", "self_contained", "explained"}),
    (BOILERPLATE, {"valid_code"}),
    (UNDOCUMENTED_SCRIPT, {"valid_code", "real_computation", "self_contained"}),
    (CRYPTIC, {"valid_code", "real_computation", "self_contained"}),
    (PY2, set()),
    (ONLY_IMPORTS, set()),
    (THIRD_PARTY, {"valid_code", "real_computation", "teachable"}),
])
def test_offline_rubric_scores_the_fixtures_as_documented(text, expected):
    met = {name for name, ok, _ in rubric_criteria(text) if ok}
    assert met == expected
    score, _ = OfflineRubricAnnotator().score(text)
    assert score == len(expected)


def test_offline_records_are_labelled_a_stand_in_and_deterministic():
    docs = [Document(text=TEACHING, id="teach"), Document(text=BOILERPLATE, id="boiler")]
    a, b = OfflineRubricAnnotator().annotate(docs), OfflineRubricAnnotator().annotate(docs)
    assert a == b
    assert [r["score"] for r in a] == [5, 1]
    assert all(r["annotator"] == "offline-rubric-v1" and r["stand_in_for"] == "the LLM annotator" for r in a)
    assert a[1]["justification"].startswith("+1 valid_code: parses;") and "+0 real_computation" in a[1]["justification"]


def test_offline_rubric_judges_the_start_of_a_long_file_cut_at_a_statement():
    long_text = TEACHING + "\n\n" + "\n".join(f"def helper_{i}(value):\n    return value + {i}\n" for i in range(400))
    criteria = dict((name, ok) for name, ok, _ in rubric_criteria(long_text))
    assert criteria["valid_code"] and criteria["real_computation"]  # the cut prefix still parses
    assert not criteria["self_contained"]  # judged on the whole text's length (over 300 lines)


def test_sample_documents_is_a_seeded_uniform_sample_in_input_order():
    docs = [Document(text=str(i), id=str(i)) for i in range(100)]
    a = sample_documents(iter(docs), 10, seed=1)
    assert a == sample_documents(iter(docs), 10, seed=1) and len(a) == 10
    assert [int(d.id) for d in a] == sorted(int(d.id) for d in a)
    assert a != sample_documents(iter(docs), 10, seed=2)
    assert len(sample_documents(iter(docs), 0)) == 100 and len(sample_documents(iter(docs[:5]), 10)) == 5
