"""The topic tree, the vocabulary, seeded spec sampling and prompt rendering (textbooks.synth.diversity)."""

from __future__ import annotations

import math
import re
from collections import Counter
from importlib import resources

import pytest

from textbooks.synth import diversity
from textbooks.synth.diversity import (Leaf, exercise_spec, load_tree, load_vocab, render_prompt, select_leaves,
                                       textbook_spec)
from textbooks.synth.offline.family import AREAS


@pytest.fixture(scope="module")
def leaves() -> list[Leaf]:
    return load_tree()


@pytest.fixture(scope="module")
def vocab():
    return load_vocab()


# --- data ---------------------------------------------------------------------------------------------------


def test_tree_has_exactly_the_areas_and_topics_of_the_families(leaves):
    areas: dict[str, list[str]] = {}
    for leaf in leaves:
        topics = areas.setdefault(leaf.area, [])
        if leaf.topic not in topics:
            topics.append(leaf.topic)
    assert list(areas) == list(AREAS)
    for area, topics in AREAS.items():
        assert tuple(areas[area]) == topics, area
    per_topic = Counter((leaf.area, leaf.topic) for leaf in leaves)
    assert all(5 <= n <= 8 for n in per_topic.values()), [k for k, n in per_topic.items() if not 5 <= n <= 8]
    assert len(leaves) >= 300, len(leaves)
    assert len({leaf.id for leaf in leaves}) == len(leaves)
    for leaf in leaves:
        assert leaf.id == f"{leaf.area}/{leaf.topic}/{diversity.slug(leaf.subtopic)}"
        assert re.fullmatch(r"[a-z0-9_]+/[a-z0-9_]+/[a-z0-9_]+", leaf.id), leaf.id
        assert leaf.area_title and leaf.topic_title and 2 <= len(leaf.subtopic.split()) <= 9, leaf


def test_vocabulary_is_large_enough_and_clean(vocab):
    assert len(vocab.audiences) >= 12 and len(vocab.styles) >= 8
    for description in [*vocab.audiences.values(), *vocab.styles.values()]:
        # inserted as "The reader is {audience}. Write it as {style}."
        assert re.match(r"(a|an|someone) ", description), description
    assert len(vocab.verbs) >= 60 and len(vocab.nouns) >= 60 and len(vocab.words) >= 300
    assert all(w.isidentifier() for w in (*vocab.verbs, *vocab.nouns))
    assert len(set(vocab.words)) == len(vocab.words)
    banned = {b.lower() for b in vocab.banned_openings}
    assert {"in this section", "welcome to", "let's dive"} <= banned


def test_default_files_are_cached_but_a_path_is_read_fresh(tmp_path, leaves):
    assert load_tree() == leaves and load_tree() is not load_tree()  # a copy: callers may filter it in place
    path = tmp_path / "t.yaml"
    path.write_text("areas:\n  a:\n    title: A\n    topics:\n      t:\n        title: T\n"
                    "        subtopics: [one thing, two things]\n")
    assert [leaf.id for leaf in load_tree(path)] == ["a/t/one_thing", "a/t/two_things"]


@pytest.mark.parametrize("text, key", [
    ("areas:\n  a:\n    topics:\n      t: {title: T, subtopics: [x]}\n", "areas.a.title"),
    ("areas:\n  a:\n    title: A\n    topics:\n      t: {title: T, subtopics: oops}\n", "areas.a.topics.t.subtopics"),
    ("areas:\n  a:\n    title: A\n    topics:\n      t: {title: T, subtopics: [x y, X-Y]}\n",
     "areas.a.topics.t.subtopics[1]"),
    ("areas:\n  a:\n    title: A\n    topics:\n      t: {title: T, subtopics: [ok, '']}\n",
     "areas.a.topics.t.subtopics[1]"),
    ("areas:\n  Bad Area:\n    title: A\n    topics: {}\n", "areas.Bad Area"),
    ("area: {}\n", "'area'"),
    ("areas: [unclosed\n", "not valid YAML"),
])
def test_tree_errors_name_the_file_and_the_key(tmp_path, text, key):
    path = tmp_path / "topics.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as e:
        load_tree(path)
    assert str(path) in str(e.value) and key in str(e.value), str(e.value)


@pytest.mark.parametrize("edit, key", [
    (lambda d: d["words"].append(d["words"][0]), "words["),
    (lambda d: d["audiences"][0].pop("description"), "audiences[0]"),
    (lambda d: d["verbs"].append("Not An Id"), "verbs["),
    (lambda d: d.__setitem__("colours", ["red"]), "'colours'"),
    (lambda d: d["styles"].append(dict(d["styles"][0])), "styles["),
])
def test_vocab_errors_name_the_file_and_the_key(tmp_path, edit, key):
    import yaml

    doc = yaml.safe_load(resources.files("textbooks.synth").joinpath("data", "vocab.yaml").read_text())
    edit(doc)
    path = tmp_path / "vocab.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ValueError) as e:
        load_vocab(path)
    assert str(path) in str(e.value) and key in str(e.value), str(e.value)


# --- sampling -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [textbook_spec, exercise_spec])
def test_specs_are_reproducible_and_prefix_stable(make, leaves, vocab):
    short = [make(7, i, leaves, vocab) for i in range(10)]
    long = [make(7, i, leaves, vocab) for i in range(100)]
    assert long[:10] == short, "item i must not depend on how many items are asked for"
    assert [make(7, i, leaves, vocab) for i in range(10)] == short
    assert [make(8, i, leaves, vocab) for i in range(10)] != short
    assert len({s["topic"] for s in long}) > 60, "consecutive indices must draw independent leaves"


def test_other_kind_and_resume_do_not_shift_the_sequence(leaves, vocab):
    # a resumed run asks for items 50..99 only: the same specs as items 50..99 of a full run
    full = [textbook_spec(3, i, leaves, vocab) for i in range(100)]
    for i in range(50, 100):
        exercise_spec(3, i, leaves, vocab)
        assert textbook_spec(3, i, leaves, vocab) == full[i]


def test_spec_fields(leaves, vocab):
    by_id = {leaf.id: leaf for leaf in leaves}
    for i in range(200):
        t = textbook_spec(1, i, leaves, vocab)
        assert set(t) == {"kind", "topic", "area", "subtopic", "area_title", "topic_title", "audience", "style",
                          "words"}
        leaf = by_id[t["topic"]]
        assert (t["kind"], t["area"], t["subtopic"], t["topic_title"]) == ("textbook", leaf.area, leaf.subtopic,
                                                                          leaf.topic_title)
        assert t["audience"] in vocab.audiences and t["style"] in vocab.styles
        assert len(set(t["words"])) == 3 and set(t["words"]) <= set(vocab.words)
        e = exercise_spec(1, i, leaves, vocab)
        assert e["kind"] == "exercise" and e["topic"] in by_id and e["area"] == by_id[e["topic"]].area
        verb_noun = [(v, n) for v in vocab.verbs for n in vocab.nouns if f"{v}_{n}" == e["function_name"]]
        assert verb_noun and e["function_name"].isidentifier(), e["function_name"]
        assert len(set(e["words"])) == 2 and set(e["words"]) <= set(vocab.words)
    names = {exercise_spec(1, i, leaves, vocab)["function_name"] for i in range(500)}
    assert len(names) > 450, "function names must rarely repeat"


def test_holdout_and_areas_are_respected(leaves, vocab):
    one_leaf = next(leaf.id for leaf in leaves if leaf.area == "matrices")
    holdout = {"strings", "lists/comprehensions", one_leaf}
    for i in range(2000):
        for make in (textbook_spec, exercise_spec):
            spec = make(5, i, leaves, vocab, holdout=holdout)
            assert spec["area"] != "strings" and not spec["topic"].startswith("lists/comprehensions/")
            assert spec["topic"] != one_leaf
    only = {textbook_spec(5, i, leaves, vocab, areas={"recursion", "dates"})["area"] for i in range(300)}
    assert only == {"recursion", "dates"}
    # "lists/comp" is not a whole-component prefix: it holds out nothing
    assert len(select_leaves(leaves, holdout={"lists/comp"})) == len(leaves)
    with pytest.raises(ValueError, match="not an area"):
        select_leaves(leaves, areas={"string"})
    with pytest.raises(ValueError, match="no topic leaf"):
        textbook_spec(0, 0, leaves, vocab, areas={"dates"}, holdout={"dates"})


def test_leaves_are_drawn_uniformly(leaves, vocab):
    n = 5000
    counts = Counter(textbook_spec(11, i, leaves, vocab)["topic"] for i in range(n))
    expected = n / len(leaves)
    chi2 = sum((counts.get(leaf.id, 0) - expected) ** 2 / expected for leaf in leaves)
    dof = len(leaves) - 1
    assert chi2 < dof + 5 * math.sqrt(2 * dof), chi2  # a uniform draw sits near dof; a biased one far above
    assert max(counts.values()) < 3 * expected and len(counts) >= 0.99 * len(leaves)
    # areas in proportion to their leaves (a draw of area first, then leaf, would fail this)
    area_leaves = Counter(leaf.area for leaf in leaves)
    area_counts = Counter(textbook_spec(11, i, leaves, vocab)["area"] for i in range(n))
    for area, k in area_leaves.items():
        share = k / len(leaves)
        assert abs(area_counts[area] / n - share) < 4 * math.sqrt(share * (1 - share) / n) + 0.002, area
    audiences = Counter(textbook_spec(11, i, leaves, vocab)["audience"] for i in range(n))
    assert set(audiences) == set(vocab.audiences) and max(audiences.values()) < 2 * n / len(vocab.audiences)


# --- prompts ----------------------------------------------------------------------------------------------------


def _templates(kind: str) -> list[str]:
    text = resources.files("textbooks.synth").joinpath("prompts", f"{kind}_v1.md").read_text(encoding="utf-8")
    return re.split(r"^<!-- retry\b.*-->\s*$", text, flags=re.M)


def test_render_prompt_fills_the_shipped_templates(leaves, vocab):
    t = textbook_spec(2, 0, leaves, vocab)
    text = render_prompt(t, _templates("textbook")[0], vocab)
    assert not re.search(r"\{[A-Za-z_]\w*\}", text), text
    for part in (t["subtopic"], t["topic_title"], t["area_title"], vocab.audiences[t["audience"]],
                 vocab.styles[t["style"]], ", ".join(t["words"]), '"In this section"'):
        assert part in text, part
    e = exercise_spec(2, 0, leaves, vocab)
    text = render_prompt(e, _templates("exercise")[0], vocab)
    assert f"`{e['function_name']}`" in text and e["subtopic"] in text and not re.search(r"\{[A-Za-z_]\w*\}", text)
    retry = render_prompt({**e, "problem": "no code block"}, _templates("exercise")[1], vocab)
    assert "no code block" in retry


def test_render_prompt_errors_name_the_placeholder(leaves, vocab):
    e = exercise_spec(2, 0, leaves, vocab)
    with pytest.raises(ValueError, match=r"\{nope\}"):
        render_prompt(e, "Write {nope} about {subtopic}.", vocab)
    with pytest.raises(ValueError, match=r"\{audience\}"):
        render_prompt(e, "For {audience}.", vocab)  # an exercise spec has no audience
    t = textbook_spec(2, 0, leaves, vocab)
    with pytest.raises(ValueError, match=r"'robots' is not a audience|robots"):
        render_prompt({**t, "audience": "robots"}, "For {audience}.", vocab)
    # braces around anything but an identifier are plain text (a set literal, JSON in a prompt)
    assert render_prompt(t, 'Use {1, 2} and {"a": 1} for {subtopic}.', vocab) == \
        f'Use {{1, 2}} and {{"a": 1}} for {t["subtopic"]}.'
