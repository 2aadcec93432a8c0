"""The diversity report on small hand-made sets whose numbers are known by construction."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textbooks.guard import UsageError
from textbooks.jsonl import write_jsonl
from textbooks.synth.report import (diversity_report, distinct_ngrams, entry_point_docstring, nearest_neighbours,
                                    report_main, write_report)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _book(i: int, text: str, topic: str = "basics/loops/for_loops", **meta) -> dict:
    return {"id": f"tb-{i}", "text": text, "metadata": {"topic": topic, "audience": "students", "style": "textbook", **meta}}


def _exercise(i: int, name: str, doc: str, body: str = "    return x + 1\n", topic: str = "arithmetic/digits/sum",
              **meta) -> dict:
    prompt = f'def {name}(x: int) -> int:\n    """{doc}"""\n'
    return {"id": f"ex-{i}", "prompt": prompt, "completion": body, "entry_point": name,
            "tests": f"assert {name}(1) == 2\n", "metadata": {"topic": topic, **meta}}


PROSE = [
    "Loops repeat a block of code for every item of a sequence, so a list of prices can be summed in three lines.",
    "A dictionary maps keys to values; looking a key up takes constant time, which is why counting words uses one.",
    "Recursion solves a problem by solving smaller copies of it, until a case is small enough to answer directly.",
    "Binary search halves the interval at every step, so a sorted list of a million items needs twenty comparisons.",
]


def test_distinct_n_of_a_known_token_list_never_spans_two_records():
    report = diversity_report([_book(0, "a b a c"), _book(1, "b b")], "textbooks")
    d = report["distinct_ngrams"]
    # unigrams a b a c b b: 3 of 6; bigrams ab ba ac | bb: 4 of 4 ("c b" would span the records)
    assert d["1"] == {"distinct": 3, "total": 6, "ratio": 0.5}
    assert d["2"] == {"distinct": 4, "total": 4, "ratio": 1.0}
    assert d["3"] == {"distinct": 2, "total": 2, "ratio": 1.0}
    assert d["4"] == {"distinct": 1, "total": 1, "ratio": 1.0}


def test_distinct_n_beyond_exact_packing_is_still_counted():
    # 70,000 distinct tokens need 17 bits: 4-grams no longer pack into 64 bits and are hashed instead
    tokens = [f"t{i}" for i in range(70_000)]
    d = distinct_ngrams([tokens, tokens])
    assert d["1"] == {"distinct": 70_000, "total": 140_000, "ratio": 0.5}
    assert d["4"] == {"distinct": 69_997, "total": 139_994, "ratio": 0.5}


def test_exact_duplicates_give_the_near_duplicate_rate():
    records = [_book(0, PROSE[0]), _book(1, PROSE[0]), _book(2, PROSE[1]), _book(3, PROSE[0] + "\n\n")]
    near = diversity_report(records, "textbooks")["near_duplicates"]
    assert near["count"] == 2 and near["exact"] == 2 and near["near"] == 0
    assert near["rate"] == 0.5
    assert near["examples"] == [{"id": "tb-1", "duplicate_of": "tb-0", "jaccard": 1.0, "exact": True},
                                {"id": "tb-3", "duplicate_of": "tb-0", "jaccard": 1.0, "exact": True}]
    assert diversity_report(records[1:3], "textbooks")["near_duplicates"]["rate"] == 0.0


def test_every_text_opening_in_this_section_has_top_share_one():
    records = [_book(i, f"## Title number {i}\n\nIn this section {word} are studied, step by step.")
               for i, word in enumerate(["loops", "lists", "sets", "maps"])]
    openings = diversity_report(records, "textbooks")["openings"]
    first3 = openings["first_3"]
    assert first3["top"] == [{"phrase": "in this section", "count": 4}]
    assert first3["top_share"] == 1.0 and first3["distinct"] == 1
    # the title line is skipped (else four distinct openings); five words tell the texts apart
    assert openings["first_5"]["top_share"] == 0.25 and openings["first_5"]["distinct"] == 4
    assert openings["missing"] == 0


def test_exercise_openings_come_from_the_entry_points_docstring():
    helper = 'def _helper(y):\n    """Helper text that must not count."""\n    return y\n\n\n'
    records = [_exercise(0, "add_one", "Return x plus one."), _exercise(1, "inc", "Return x plus one, always."),
               _exercise(2, "bump", "Compute the successor of x.")]
    records[0]["prompt"] = helper + records[0]["prompt"]
    openings = diversity_report(records, "exercises")["openings"]
    assert openings["first_3"]["top"][0] == {"phrase": "return x plus", "count": 2}
    assert openings["first_3"]["top_share"] == round(2 / 3, 4)
    assert {t["phrase"] for t in openings["first_5"]["top"]} == {"return x plus one", "return x plus one always",
                                                                 "compute the successor of x"}


def test_docstring_of_a_class_entry_point_and_of_a_prompt_that_does_not_parse():
    assert entry_point_docstring('class Stack:\n    """A last-in first-out stack."""\n', "Stack") == "A last-in first-out stack."
    assert entry_point_docstring('def f(:\n    """Broken but quoted."""\n', "f") == "Broken but quoted."
    assert entry_point_docstring("def f(x):\n    return x\n", "f") == ""


def test_identical_texts_are_at_nearest_neighbour_distance_zero_with_the_hashed_featurizer():
    records = [_book(0, PROSE[0]), _book(1, PROSE[1]), _book(2, PROSE[0]), _book(3, PROSE[2])]
    nn = diversity_report(records, "textbooks", featurizer="hashed")["nearest_neighbour"]
    assert nn["featurizer"].startswith("hashed-ngram")
    assert nn["min"] == 0.0 and nn["zero"] == 2
    assert nn["closest"][0] == {"id": "tb-0", "neighbour": "tb-2", "distance": 0.0}
    assert 0.0 < nn["closest"][1]["distance"] <= np.sqrt(2)  # non-negative unit vectors: at most sqrt(2) apart
    assert sum(nn["histogram"]["counts"]) == 4 and nn["histogram"]["counts"][0] == 2
    assert nn["p10"] == 0.0 and nn["mean"] > 0.0


def test_blocked_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(37, 8)).astype(np.float32)
    X[5] = X[11]  # a pair of identical rows
    index, dist = nearest_neighbours(X, block_elements=37 * 4)  # 4 rows a block: 10 blocks, the last partial
    D = np.linalg.norm(X[:, None, :].astype(np.float64) - X[None, :, :], axis=-1)
    np.fill_diagonal(D, np.inf)
    np.testing.assert_array_equal(index, D.argmin(axis=1))
    np.testing.assert_allclose(dist, D.min(axis=1), rtol=1e-6)
    assert dist[5] == 0.0 and dist[11] == 0.0


def test_topic_coverage_and_families():
    records = [_exercise(0, "a", "A.", topic="arithmetic/digits/sum", family="arithmetic.digit_sum"),
               _exercise(1, "b", "B.", topic="arithmetic/digits/sum", family="arithmetic.digit_sum"),
               _exercise(2, "c", "C.", topic="arithmetic/digits/count", family="arithmetic.count_digits"),
               _exercise(3, "d", "D.", topic="strings/transforming", family="strings.upper"),
               _exercise(4, "e", "E.", topic="graphs/bfs/shortest")]
    del records[4]["metadata"]["topic"]
    tree = ["arithmetic/digits/sum", "arithmetic/digits/count", "arithmetic/digits/reverse", "strings/transforming/case"]
    report = diversity_report(records, "exercises", tree_leaves=tree)
    topics = report["topics"]
    assert topics["missing"] == 1
    assert topics["areas"] == {"arithmetic": 3, "strings": 1}
    assert topics["topics"] == {"arithmetic/digits": 3, "strings/transforming": 1}
    assert topics["leaves"] == {"arithmetic/digits/sum": 2, "arithmetic/digits/count": 1}
    # "strings/transforming" is above a leaf, not on one: that leaf is not covered
    assert topics["tree"] == {"leaves": 4, "covered": 2, "coverage": 0.5, "unused_count": 2,
                              "unused": ["arithmetic/digits/reverse", "strings/transforming/case"],
                              "outside_tree_count": 1, "outside_tree": ["strings/transforming"]}
    assert report["families"] == {"present": 4, "missing": 1, "distinct": 3,
                                  "counts": {"arithmetic.digit_sum": 2, "arithmetic.count_digits": 1, "strings.upper": 1}}
    assert diversity_report([_book(0, "x y")], "textbooks")["families"] is None


def test_lengths_are_of_the_training_text():
    records = [_exercise(0, "f", "Doc.", body="    return 1\n"), _exercise(1, "g", "Doc.", body="    return 22\n")]
    lengths = diversity_report(records, "exercises")["lengths"]
    chars = [len(r["prompt"] + r["completion"]) for r in records]
    assert lengths["chars"]["max"] == max(chars) and lengths["chars"]["mean"] == round(sum(chars) / 2, 1)
    assert lengths["tokens"]["p50"] == float(len((records[0]["prompt"] + records[0]["completion"]).split()))
    assert sum(lengths["histograms"]["tokens"]["counts"]) == 2
    with pytest.raises(ValueError, match="ex-0: .*completion"):
        diversity_report([{"id": "ex-0", "prompt": "def f(): pass\n"}], "exercises")


def test_write_report_gives_json_and_a_valid_png(tmp_path):
    records = [_book(i, f"# T\nIn this section {PROSE[i]}", topic=f"area{i % 2}/t/l{i}") for i in range(4)]
    for featurizer in (None, "hashed"):
        report = diversity_report(records, "textbooks", featurizer=featurizer)
        json_path, png_path = write_report(report, tmp_path / str(featurizer))
        assert json.loads(json_path.read_text()) == json.loads(json.dumps(report, allow_nan=False))
        data = png_path.read_bytes()
        assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR" and len(data) > 10_000
        assert not [p.name for p in json_path.parent.iterdir() if p.name.startswith(".")], "temp files left"


def test_report_main_reads_a_directory_with_both_kinds(tmp_path):
    write_jsonl(tmp_path / "textbooks.jsonl", [_book(i, f"## T\n{p}") for i, p in enumerate(PROSE)])
    write_jsonl(tmp_path / "exercises.jsonl", [_exercise(i, f"f{i}", f"Return {i}.") for i in range(3)])
    results = report_main(tmp_path, featurizer=None, tree=["basics/loops/for_loops", "basics/loops/while_loops"])
    assert set(results) == {"textbooks", "exercises"}
    assert results["textbooks"]["n"] == 4 and results["exercises"]["n"] == 3
    assert results["textbooks"]["topics"]["tree"]["coverage"] == 0.5
    for kind in results:
        files = results[kind]["files"]
        assert files["json"] == str(tmp_path / "report" / kind / "report.json")
        assert json.loads((tmp_path / "report" / kind / "report.json").read_text())["source"] == str(tmp_path / f"{kind}.jsonl")
    # one file, its kind read from its records: the report goes straight into --out
    write_jsonl(tmp_path / "kept.jsonl", [_exercise(0, "f", "Doc.")])
    one = report_main(tmp_path / "kept.jsonl", out=tmp_path / "single", featurizer=None)
    assert list(one) == ["exercises"] and (tmp_path / "single" / "report.png").is_file()


def test_report_main_names_a_corrupt_line(tmp_path):
    good = json.dumps(_book(0, "## T\nText."))
    (tmp_path / "textbooks.jsonl").write_text(good + "\n{not json\n")
    with pytest.raises(UsageError, match=r"textbooks\.jsonl:2: not valid JSON"):
        report_main(tmp_path, featurizer=None)
    (tmp_path / "textbooks.jsonl").write_text(good + "\n" + json.dumps({"id": "x", "prompt": "p"}) + "\n")
    with pytest.raises(UsageError, match=r"textbooks\.jsonl:2: .*text"):
        report_main(tmp_path, featurizer=None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no textbooks.jsonl or exercises.jsonl"):
        report_main(tmp_path / "empty", featurizer=None)
