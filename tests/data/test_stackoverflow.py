"""StackOverflow source: Posts.xml (streamed, two passes) and JSONL Q&A -> one document per Python question."""

from __future__ import annotations

import gzip
import json
import random
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from textbooks.data.stackoverflow import (
    StackOverflowReader,
    html_to_text,
    iter_posts_xml,
    iter_qa_jsonl,
    iter_stackoverflow,
    parse_tags,
)

# A Posts.xml as the dumps write it: one <row/> per line, sorted by Id, the HTML body XML-escaped in an
# attribute, newlines as &#xA; (a literal newline in an attribute would become a space). Each row's
# comment gives its fate.
POSTS_XML = """\
<?xml version="1.0" encoding="utf-8"?>
<posts>
  <!-- answer to q20 that comes BEFORE its question (merged questions do this): chosen for q20 (best score, no accepted) -->
  <row Id="5" PostTypeId="2" ParentId="20" Score="7" Body="&lt;p&gt;&lt;code&gt;==&lt;/code&gt; compares element-wise; reduce it with &lt;code&gt;.all()&lt;/code&gt;:&lt;/p&gt;&#xA;&#xA;&lt;pre&gt;&lt;code&gt;import numpy as np&#xA;a = np.array([1, 2])&#xA;print((a == a).all())  # True&#xA;&lt;/code&gt;&lt;/pre&gt;&#xA;" />
  <!-- python question, accepted answer 12 comes after it -> document 1 -->
  <row Id="10" PostTypeId="1" AcceptedAnswerId="12" Score="3" Tags="&lt;python&gt;&lt;list&gt;&lt;sorting&gt;" Title="How do I sort a list of strings by length?" Body="&lt;p&gt;I have a list of strings &amp;amp; want the shortest first:&lt;/p&gt;&#xA;&#xA;&lt;pre&gt;&lt;code&gt;words = [&quot;pear&quot;, &quot;fig&quot;, &quot;banana&quot;]&#xA;&lt;/code&gt;&lt;/pre&gt;&#xA;&#xA;&lt;p&gt;How do I sort them&#xA;by length?&lt;/p&gt;&#xA;" />
  <!-- higher score than the accepted one, not accepted: not chosen -->
  <row Id="11" PostTypeId="2" ParentId="10" Score="9" Body="&lt;p&gt;Use a loop.&lt;/p&gt;" />
  <!-- the accepted answer of q10: chosen -->
  <row Id="12" PostTypeId="2" ParentId="10" Score="4" Body="&lt;p&gt;Pass &lt;code&gt;key=len&lt;/code&gt; to &lt;code&gt;sorted&lt;/code&gt;:&lt;/p&gt;&#xA;&#xA;&lt;pre class=&quot;lang-py prettyprint-override&quot;&gt;&lt;code&gt;&amp;gt;&amp;gt;&amp;gt; sorted(words, key=len)&#xA;['fig', 'pear', 'banana']&#xA;&lt;/code&gt;&lt;/pre&gt;&#xA;&#xA;&lt;ul&gt;&#xA;&lt;li&gt;it is stable: equal lengths keep their order&lt;/li&gt;&#xA;&lt;li&gt;use &lt;code&gt;reverse=True&lt;/code&gt; for longest first&lt;/li&gt;&#xA;&lt;/ul&gt;&#xA;" />
  <!-- not python: skipped (non_python), and its answer is ignored -->
  <row Id="13" PostTypeId="1" AcceptedAnswerId="14" Score="50" Tags="&lt;javascript&gt;&lt;arrays&gt;" Title="Sort an array in JS" Body="&lt;p&gt;How?&lt;/p&gt;" />
  <row Id="14" PostTypeId="2" ParentId="13" Score="60" Body="&lt;p&gt;arr.sort()&lt;/p&gt;" />
  <!-- new |tag|format|, accepted answer 99 is not in the file: the best by score is chosen, a tie (16, 17) goes to the earlier -> document 2 -->
  <row Id="15" PostTypeId="1" AcceptedAnswerId="99" Score="-1" Tags="|python-3.x|pandas|" Title="Why does df[&quot;a&quot;] &amp; df[&quot;b&quot;] fail?" Body="&lt;p&gt;This raises &lt;code&gt;TypeError&lt;/code&gt;:&lt;/p&gt;&#xA;&lt;pre&gt;&lt;code&gt;df[&quot;a&quot;] &gt; 1 &amp;amp; df[&quot;b&quot;] &amp;lt; 2&#xA;&lt;/code&gt;&lt;/pre&gt;" />
  <row Id="16" PostTypeId="2" ParentId="15" Score="2" Body="&lt;p&gt;Each comparison needs parentheses, since &lt;code&gt;&amp;amp;&lt;/code&gt; binds tighter:&lt;/p&gt;&#xA;&#xA;&lt;pre class=&quot;lang-python s-code-block&quot;&gt;&lt;code class=&quot;hljs language-python&quot;&gt;(df[&quot;a&quot;] &amp;gt; 1) &amp;amp; (df[&quot;b&quot;] &amp;lt; 2)&#xA;&lt;/code&gt;&lt;/pre&gt;&#xA;&#xA;&lt;p&gt;See &lt;a href=&quot;https://pandas.pydata.org/docs/&quot;&gt;the docs&lt;/a&gt;.&lt;/p&gt;" />
  <row Id="17" PostTypeId="2" ParentId="15" Score="2" Body="&lt;p&gt;Use and.&lt;/p&gt;" />
  <!-- python, no answers at all: skipped (no_answer) -->
  <row Id="18" PostTypeId="1" Score="0" Tags="&lt;python&gt;" Title="Unanswered" Body="&lt;p&gt;Anyone?&lt;/p&gt;" />
  <!-- malformed: Id is not an integer (bad_row) -->
  <row Id="x" PostTypeId="1" Score="1" Tags="&lt;python&gt;" Title="Broken" Body="&lt;p&gt;b&lt;/p&gt;" />
  <!-- malformed: an answer without ParentId (bad_row) -->
  <row Id="19" PostTypeId="2" Score="1" Body="&lt;p&gt;orphan&lt;/p&gt;" />
  <!-- python question of answer 5 (read before it); body with a quote and an nbsp -> document 3 -->
  <row Id="20" PostTypeId="1" Score="12" Tags="&lt;python&gt;&lt;numpy&gt;" Title="Truth value of an array is ambiguous" Body="&lt;p&gt;Why is &lt;code&gt;a == b&lt;/code&gt; ambiguous&amp;nbsp;here?&lt;/p&gt;&#xA;&#xA;&lt;blockquote&gt;&#xA;  &lt;p&gt;ValueError: The truth value of an array with more than one element is ambiguous.&lt;/p&gt;&#xA;&lt;/blockquote&gt;&#xA;" />
  <!-- a tag wiki (PostTypeId 4): other_post_type -->
  <row Id="21" PostTypeId="4" Score="0" Body="&lt;p&gt;Python is a language.&lt;/p&gt;" />
  <!-- cython / ironpython do not match python*: non_python -->
  <row Id="22" PostTypeId="1" Score="1" Tags="&lt;cython&gt;&lt;ironpython&gt;" Title="Cython" Body="&lt;p&gt;c&lt;/p&gt;" />
  <!-- a lower-scored answer of q20: not chosen -->
  <row Id="23" PostTypeId="2" ParentId="20" Score="1" Body="&lt;p&gt;Use any().&lt;/p&gt;" />
</posts>
"""

DOC_10 = """\
# How do I sort a list of strings by length?

I have a list of strings & want the shortest first:

```python
words = ["pear", "fig", "banana"]
```

How do I sort them by length?

## Answer

Pass `key=len` to `sorted`:

```python
>>> sorted(words, key=len)
['fig', 'pear', 'banana']
```

- it is stable: equal lengths keep their order
- use `reverse=True` for longest first
"""

DOC_15 = """\
# Why does df["a"] & df["b"] fail?

This raises `TypeError`:

```python
df["a"] > 1 & df["b"] < 2
```

## Answer

Each comparison needs parentheses, since `&` binds tighter:

```python
(df["a"] > 1) & (df["b"] < 2)
```

See the docs.
"""

DOC_20 = """\
# Truth value of an array is ambiguous

Why is `a == b` ambiguous\xa0here?

> ValueError: The truth value of an array with more than one element is ambiguous.

## Answer

`==` compares element-wise; reduce it with `.all()`:

```python
import numpy as np
a = np.array([1, 2])
print((a == a).all())  # True
```
"""

EXPECTED_SKIPS = {"non_python": 2, "no_answer": 1, "bad_row": 2, "other_post_type": 1}


@pytest.fixture
def posts_xml(tmp_path) -> Path:
    p = tmp_path / "Posts.xml"
    p.write_text(POSTS_XML, encoding="utf-8")
    return p


def test_posts_xml_renders_one_document_per_answered_python_question(posts_xml):
    skipped = Counter()
    docs = list(iter_posts_xml(posts_xml, skipped=skipped))
    # Emitted when a pair completes: q10 at answer 12, q15 at answer 16, q20 at its own row (answer 5 was first).
    assert [d.id for d in docs] == ["stackoverflow/10", "stackoverflow/15", "stackoverflow/20"]
    assert [d.text for d in docs] == [DOC_10, DOC_15, DOC_20]
    assert skipped == EXPECTED_SKIPS
    meta = {d.metadata["question_id"]: d.metadata for d in docs}
    assert {k: meta[10][k] for k in ("source", "answer_id", "accepted", "score", "answer_score", "tags")} == {
        "source": "stackoverflow", "answer_id": 12, "accepted": True, "score": 3, "answer_score": 4,
        "tags": ["python", "list", "sorting"]}
    # accepted id 99 is not in the file: best by score, the tie 16/17 goes to the smaller Id
    assert (meta[15]["answer_id"], meta[15]["accepted"], meta[15]["tags"]) == (16, False, ["python-3.x", "pandas"])
    assert (meta[20]["answer_id"], meta[20]["accepted"], meta[20]["score"]) == (5, False, 12)


def test_rows_out_of_id_order_give_the_same_documents(posts_xml, tmp_path):
    """Shuffled rows (not a dump's order): the extra answers-only pass still finds every answer."""
    lines = POSTS_XML.splitlines()
    rows = [ln for ln in lines if ln.strip().startswith("<row")]
    random.Random(0).shuffle(rows)
    shuffled = tmp_path / "shuffled.xml"
    shuffled.write_text("\n".join(lines[:2] + rows + ["</posts>"]) + "\n")
    skipped = Counter()
    docs = sorted(iter_posts_xml(shuffled, skipped=skipped), key=lambda d: d.id)
    assert [(d.id, d.text, d.metadata["answer_id"]) for d in docs] == [
        ("stackoverflow/10", DOC_10, 12), ("stackoverflow/15", DOC_15, 16), ("stackoverflow/20", DOC_20, 5)]
    assert skipped == EXPECTED_SKIPS


def test_pending_halves_spilled_to_sqlite_give_the_same_output(posts_xml):
    in_memory = [(d.id, d.text) for d in iter_posts_xml(posts_xml)]
    spilled = [(d.id, d.text) for d in iter_posts_xml(posts_xml, max_pending_in_memory=0)]
    assert spilled == in_memory


def test_gzipped_dump_and_a_custom_tag_set(posts_xml, tmp_path):
    gz = tmp_path / "Posts.xml.gz"
    gz.write_bytes(gzip.compress(posts_xml.read_bytes()))
    skipped = Counter()
    docs = list(iter_posts_xml(gz, tags=["javascript", "pandas"], skipped=skipped))
    assert [d.id for d in docs] == ["stackoverflow/13", "stackoverflow/15"]
    assert docs[0].text == "# Sort an array in JS\n\nHow?\n\n## Answer\n\narr.sort()\n"


def test_malformed_xml_names_the_line_or_is_counted(tmp_path, posts_xml):
    cut = tmp_path / "cut.xml"
    cut.write_text(POSTS_XML[: POSTS_XML.index('<row Id="13"')] + '<row Id="13" PostTypeId="1" Title="a < b"/>\n')
    with pytest.raises(ValueError, match=r"cut\.xml:\d+: malformed XML"):
        list(iter_posts_xml(cut))
    skipped = Counter()
    docs = list(iter_stackoverflow([cut, posts_xml], skipped=skipped, strict=False))
    assert [d.id for d in docs] == ["stackoverflow/10", "stackoverflow/15", "stackoverflow/20"]  # the next file is read
    assert skipped["xml_error"] == 1


def test_external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    evil = tmp_path / "evil.xml"
    evil.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE posts [<!ENTITY x SYSTEM "file://{secret}">]>\n<posts>\n'
        '<row Id="1" PostTypeId="1" Tags="&lt;python&gt;" Title="t" Body="&x;" />\n'
        '<row Id="2" PostTypeId="2" ParentId="1" Score="1" Body="a" />\n</posts>\n')
    with pytest.raises(ValueError, match="evil.xml:4: malformed XML") as e:
        list(iter_posts_xml(evil))
    assert "TOP-SECRET" not in str(e.value)


def test_exponential_entity_expansion_is_refused(tmp_path):
    """A "billion laughs" file (10 levels of 10x entities: 10 GB expanded) fails fast with a parse error."""
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE posts [{entities}]>\n<posts>\n'
                    '<row Id="1" PostTypeId="1" Tags="&lt;python&gt;" Title="t" Body="&j;" />\n</posts>\n')
    with pytest.raises(ValueError, match="bomb.xml:.*amplification"):
        list(iter_posts_xml(bomb))


def test_memory_stays_bounded_on_a_large_file(tmp_path):
    """30k rows (~9 MB): peak Python memory stays a small fraction of the file. Loading the file whole,
    or keeping the parsed rows (iterparse without clearing them and their root), would hold more than
    the file; what grows here is only the pass-1 index of the Python questions (2% of them)."""
    path = tmp_path / "big.xml"
    body = "&lt;p&gt;" + "Some words about the problem. " * 5 + "&lt;/p&gt;&lt;pre&gt;&lt;code&gt;x = 1&#xA;&lt;/code&gt;&lt;/pre&gt;"
    with open(path, "w") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n')
        for i in range(15_000):
            tags = "&lt;python&gt;" if i % 50 == 0 else "&lt;java&gt;"
            f.write(f'  <row Id="{2 * i + 1}" PostTypeId="1" Score="1" Tags="{tags}" Title="Question {i}" Body="{body}" />\n')
            f.write(f'  <row Id="{2 * i + 2}" PostTypeId="2" ParentId="{2 * i + 1}" Score="2" Body="{body}" />\n')
        f.write("</posts>\n")
    size = path.stat().st_size
    html_to_text("<p>warm-up</p>")  # imports bs4 first: its import would count in the peak
    tracemalloc.start()
    try:
        n = sum(1 for _ in iter_posts_xml(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 300
    assert size > 8e6
    # Measured: ~0.03 x the file; clearing rows but not their root ~0.3x; not clearing rows ~2.8x.
    assert peak < size / 10, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"


# --- HTML rendering ---------------------------------------------------------------------------------


def test_html_code_blocks_are_verbatim_and_fenced():
    html = ('<pre><code>def f():\n    return "`" + \'```\'\n</code></pre>'  # a fence inside code: a longer fence
            '<pre class="lang-bash"><code>$ ls  -l\n</code></pre>'  # class names another language
            '<pre class="lang-none"><code>plain</code></pre>'  # no language
            '<p>Old posts: <code>def g():\n    pass\n</code></p>')  # multi-line inline code: a block, indentation kept
    assert html_to_text(html) == (
        '````python\ndef f():\n    return "`" + \'```\'\n````\n\n```bash\n$ ls  -l\n```\n\n```\nplain\n```\n\n'
        'Old posts:\n\n```python\ndef g():\n    pass\n```')


def test_html_lists_quotes_tables_and_inline_markup():
    html = ("<p>Try <strong>this</strong>:<br>line two</p>"
            "<ol start='3'><li>three<ul><li>nested</li></ul></li><li><pre><code>x = 1</code></pre></li></ol>"
            "<blockquote><p>quoted</p><pre><code>  code</code></pre></blockquote>"
            "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td><code>2</code></td></tr></table>"
            "<p>An <img src='x.png' alt='pic'> image, a <!-- comment --> <code>``tick</code>.</p><hr>")
    assert html_to_text(html) == (
        "Try this:\nline two\n\n"
        "3. three\n   - nested\n4.\n```python\nx = 1\n```\n\n"  # code is never indented, even in a list
        "> quoted\n\n```python\n  code\n```\n\n"
        "a | b\n1 | `2`\n\n"
        "An image, a ``` ``tick ```.")


def test_parse_tags_both_dump_formats():
    assert parse_tags("<python><python-3.x>") == ["python", "python-3.x"]
    assert parse_tags("|python|Pandas|") == ["python", "pandas"]
    assert parse_tags(["Python", " numpy "]) == ["python", "numpy"]
    assert parse_tags("python, django") == ["python", "django"]
    assert parse_tags(None) == [] and parse_tags("") == []


# --- JSONL Q&A --------------------------------------------------------------------------------------


def _jsonl(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_qa_jsonl_records(tmp_path):
    p = _jsonl(tmp_path / "qa.jsonl", [
        {"id": "q1", "title": "Reverse a list", "question": "How do I reverse a list?",
         "answer": "<p>Slice it:</p><pre><code>xs[::-1]\n</code></pre>", "tags": ["python"], "score": 5},  # HTML answer
        {"question": "Plain <not a tag> text\n", "answer": "Use reversed(xs).\n"},  # no tags: kept; plain text as is
        {"question": "JS?", "answer": "arr.reverse()", "tags": "<javascript>"},  # non_python
        {"question": "Nobody knows", "answer": ""},  # no_answer
        {"question": "Nobody knows either"},  # no_answer
    ])
    skipped = Counter()
    docs = list(iter_qa_jsonl(p, skipped=skipped))
    assert [d.id for d in docs] == ["q1", f"{p}:2"]
    assert docs[0].text == "# Reverse a list\n\nHow do I reverse a list?\n\n## Answer\n\nSlice it:\n\n```python\nxs[::-1]\n```\n"
    assert docs[0].metadata == {"source": "stackoverflow", "tags": ["python"], "title": "Reverse a list",
                                "file": str(p), "score": 5}
    assert docs[1].text == "Plain <not a tag> text\n\n## Answer\n\nUse reversed(xs).\n"
    assert skipped == {"non_python": 1, "no_answer": 2}


def test_qa_jsonl_bad_lines_strict_and_not(tmp_path):
    p = _jsonl(tmp_path / "bad.jsonl", [{"question": "q", "answer": "a"}, "{not json", {"answer": "no question"}])
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: "):
        list(iter_qa_jsonl(p))
    skipped = Counter()
    assert [d.text for d in iter_qa_jsonl(p, skipped=skipped, strict=False)] == ["q\n\n## Answer\n\na\n"]
    assert skipped == {"bad_json": 1, "no_question": 1}


# --- the datatrove reader ---------------------------------------------------------------------------


def test_reader_shards_by_file_and_counts_skips(posts_xml, tmp_path):
    qa = _jsonl(tmp_path / "qa.jsonl", [{"id": f"j{i}", "question": f"q{i}", "answer": f"a{i}"} for i in range(3)])
    files = [posts_xml, qa]
    everything = [d.id for d in iter_stackoverflow(files)]
    per_rank = []
    for rank in range(2):
        reader = StackOverflowReader(files)
        per_rank.append([d.id for d in reader.run(rank=rank, world_size=2)])
        stats = reader.stats.to_dict()["stats"]
        assert stats["input_files"] == 1 and stats["documents"]["total"] == len(per_rank[-1])
        if rank == 0:
            total = {k: stats[f"skipped_{k}"] for k in EXPECTED_SKIPS}  # datatrove: a plain 1, else {"total": n, ...}
            assert {k: v if isinstance(v, int) else v["total"] for k, v in total.items()} == EXPECTED_SKIPS
    assert per_rank == [everything[:3], everything[3:]]  # file 0 on task 0, file 1 on task 1

    reader = StackOverflowReader(files, skip=1, limit=3, default_metadata={"dataset": "so"})
    docs = list(reader.run())
    assert [d.id for d in docs] == everything[1:4]  # skip and limit count this task's documents
    assert all(d.metadata["dataset"] == "so" and d.metadata["source"] == "stackoverflow" for d in docs)
    assert reader.stats.to_dict()["stats"]["doc_len"]["n"] == 3


def test_reader_in_a_local_executor(posts_xml, tmp_path):
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.writers import JsonlWriter

    out = tmp_path / "out"
    LocalPipelineExecutor(
        pipeline=[StackOverflowReader([posts_xml]), JsonlWriter(str(out), compression=None)],
        tasks=1, workers=1, logging_dir=str(tmp_path / "logs"),
    ).run()
    rows = [json.loads(line) for f in sorted(out.glob("*.jsonl")) for line in f.read_text().splitlines()]
    assert [(r["id"], r["text"]) for r in rows] == [("stackoverflow/10", DOC_10), ("stackoverflow/15", DOC_15),
                                                    ("stackoverflow/20", DOC_20)]


def test_reader_refuses_other_files(tmp_path):
    with pytest.raises(ValueError, match="not a StackOverflow input"):
        StackOverflowReader([tmp_path / "code.py"])
