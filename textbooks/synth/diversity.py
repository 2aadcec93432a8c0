"""Seeded specs of the synthesis stage: what each teacher request asks for, and the prompt that asks it.

Why: a teacher asked the same question a thousand times writes the same section a thousand times. phi-1
(§2.2) got diversity "by providing constraints on topics and target audience" for textbooks and "by
constraining the function names" for exercises, after TinyStories' random word injection; jina-ai/textbook
drew leaves of a topic tree; Cosmopedia had to forbid the openings its samples collapsed onto. A spec is
that set of constraints for one item:

    leaves, vocab = load_tree(), load_vocab()
    textbook_spec(7, 0, leaves, vocab)
    # {"kind": "textbook", "topic": "strings/indexing_and_slicing/negative_indices_and_step_slicing",
    #  "area": "strings", "subtopic": "negative indices and step slicing", "area_title": ..., "topic_title": ...,
    #  "audience": "data_analyst", "style": "worked_example", "words": ["lantern", "brave", "copper"]}
    exercise_spec(7, 0, leaves, vocab)["function_name"]   # e.g. "merge_intervals"
    render_prompt(spec, template, vocab)                   # the template's {placeholders} filled in

Item `index` of a run with `seed` is drawn from `random.Random(f"{seed}:{kind}:{index}")` and from nothing
else, so it does not depend on how many items are asked for: a bigger --n extends the same sequence and a
resumed run regenerates identical specs (hence identical prompts and cache keys).

Data: textbooks/synth/data/topics.yaml (areas -> topics -> subtopic phrases; the area and topic ids are
AREAS of textbooks/synth/offline/family.py) and textbooks/synth/data/vocab.yaml (audiences, styles, verbs,
nouns, words, banned_openings).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import yaml

KINDS = ("textbook", "exercise")
TEXTBOOK_WORDS = 3  # random words injected into a textbook prompt
EXERCISE_WORDS = 2

_ID = re.compile(r"[a-z][a-z0-9_]*")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Placeholders filled from the vocabulary or a spec field under another name; every other plain spec field
# (topic, area, subtopic, function_name, problem, ...) fills the placeholder of its own name.
_DERIVED = ("audience", "style", "words", "banned_openings")


@dataclass(frozen=True)
class Leaf:
    """One leaf of the topic tree: id "area/topic/<slug of subtopic>" (what specs, metadata and
    --holdout-families name), the subtopic phrase a prompt shows, and its parents' ids and titles."""

    id: str
    area: str
    topic: str
    subtopic: str
    area_title: str
    topic_title: str


@dataclass(frozen=True)
class Vocab:
    """The diversity axes other than topics. audiences/styles: id -> description (a noun phrase a prompt
    inserts as is); verbs x nouns: exercise function names; words: random-word injection; banned_openings:
    phrases a prompt forbids the teacher to start with (and that the offline lessons never start with)."""

    audiences: dict[str, str]
    styles: dict[str, str]
    verbs: tuple[str, ...]
    nouns: tuple[str, ...]
    words: tuple[str, ...]
    banned_openings: tuple[str, ...]


def slug(phrase: str) -> str:
    """The id part of a subtopic phrase: lower case, runs of anything but letters and digits -> "_"."""
    return re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_")


# --- loading --------------------------------------------------------------------------------------------


def _read_yaml(path: str | Path | None, default: str) -> tuple[Any, str]:
    """(parsed document, name for error messages) of `path`, or of the packaged data file `default`."""
    if path is None:
        ref = resources.files("textbooks.synth").joinpath("data", default)
        name, text = str(ref), ref.read_text(encoding="utf-8")
    else:
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ValueError(f"{name}: no such file") from None
        except UnicodeDecodeError as e:
            raise ValueError(f"{name}: not UTF-8 text (byte {e.start})") from None
    try:
        return yaml.safe_load(text), name
    except yaml.YAMLError as e:
        raise ValueError(f"{name}: not valid YAML: {e}") from None


def _mapping(value: Any, file: str, key: str) -> dict:
    if not isinstance(value, dict) or not value:
        raise ValueError(f"{file}: {key}: expected a non-empty mapping, got {type(value).__name__}")
    return value


def _text(value: Any, file: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{file}: {key}: expected a non-empty string, got {value!r}")
    return value.strip()


def _check_id(value: Any, file: str, key: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"{file}: {key}: {value!r} is not an id (lower-case letters, digits and '_')")
    return value


def load_tree(path: str | Path | None = None) -> list[Leaf]:
    """Every leaf of the topic tree, in file order. `path` None: the packaged data/topics.yaml (parsed once
    per process). Errors name the file and the key (`areas.strings.topics.transforming.subtopics[2]`)."""
    return list(_load_default_tree() if path is None else _parse_tree(*_read_yaml(path, "topics.yaml")))


@lru_cache(maxsize=1)
def _load_default_tree() -> tuple[Leaf, ...]:
    return _parse_tree(*_read_yaml(None, "topics.yaml"))


def _parse_tree(doc: Any, file: str) -> tuple[Leaf, ...]:
    doc = _mapping(doc, file, "(top level)")
    extra = set(doc) - {"areas"}
    if extra:
        raise ValueError(f"{file}: unknown top-level key {sorted(extra)[0]!r} (expected only 'areas')")
    leaves: list[Leaf] = []
    for area, a in _mapping(doc.get("areas"), file, "areas").items():
        where = f"areas.{area}"
        _check_id(area, file, where)
        a = _mapping(a, file, where)
        area_title = _text(a.get("title"), file, f"{where}.title")
        for topic, t in _mapping(a.get("topics"), file, f"{where}.topics").items():
            twhere = f"{where}.topics.{topic}"
            _check_id(topic, file, twhere)
            t = _mapping(t, file, twhere)
            topic_title = _text(t.get("title"), file, f"{twhere}.title")
            subs = t.get("subtopics")
            if not isinstance(subs, list) or not subs:
                raise ValueError(f"{file}: {twhere}.subtopics: expected a non-empty list of phrases")
            seen: dict[str, str] = {}
            for i, phrase in enumerate(subs):
                phrase = _text(phrase, file, f"{twhere}.subtopics[{i}]")
                s = slug(phrase)
                if not s:
                    raise ValueError(f"{file}: {twhere}.subtopics[{i}]: {phrase!r} has no letters or digits")
                if s in seen:
                    raise ValueError(f"{file}: {twhere}.subtopics[{i}]: {phrase!r} has the same id {s!r} "
                                     f"as {seen[s]!r}")
                seen[s] = phrase
                leaves.append(Leaf(f"{area}/{topic}/{s}", area, topic, phrase, area_title, topic_title))
    return tuple(leaves)


def load_vocab(path: str | Path | None = None) -> Vocab:
    """The vocabulary. `path` None: the packaged data/vocab.yaml (parsed once per process). Errors name the
    file and the key (`audiences[3].description`, `words[17]`)."""
    return _load_default_vocab() if path is None else _parse_vocab(*_read_yaml(path, "vocab.yaml"))


@lru_cache(maxsize=1)
def _load_default_vocab() -> Vocab:
    return _parse_vocab(*_read_yaml(None, "vocab.yaml"))


def _parse_vocab(doc: Any, file: str) -> Vocab:
    doc = _mapping(doc, file, "(top level)")
    fields = ("audiences", "styles", "verbs", "nouns", "words", "banned_openings")
    extra = set(doc) - set(fields)
    if extra:
        raise ValueError(f"{file}: unknown key {sorted(extra)[0]!r} (expected {', '.join(fields)})")

    def described(key: str) -> dict[str, str]:
        items = doc.get(key)
        if not isinstance(items, list) or not items:
            raise ValueError(f"{file}: {key}: expected a non-empty list of {{id, description}}")
        out: dict[str, str] = {}
        for i, item in enumerate(items):
            item = _mapping(item, file, f"{key}[{i}]")
            if set(item) != {"id", "description"}:
                raise ValueError(f"{file}: {key}[{i}]: expected exactly the keys id and description, "
                                 f"got {sorted(item)}")
            ident = _check_id(item["id"], file, f"{key}[{i}].id")
            if ident in out:
                raise ValueError(f"{file}: {key}[{i}].id: {ident!r} appears twice")
            out[ident] = _text(item["description"], file, f"{key}[{i}].description")
        return out

    def strings(key: str, *, ids: bool, at_least: int = 1) -> tuple[str, ...]:
        items = doc.get(key)
        if not isinstance(items, list) or len(items) < at_least:
            raise ValueError(f"{file}: {key}: expected a list of at least {at_least} strings")
        out: list[str] = []
        for i, item in enumerate(items):
            item = _check_id(item, file, f"{key}[{i}]") if ids else _text(item, file, f"{key}[{i}]")
            if item in out:
                raise ValueError(f"{file}: {key}[{i}]: {item!r} appears twice")
            out.append(item)
        return tuple(out)

    return Vocab(described("audiences"), described("styles"), strings("verbs", ids=True),
                 strings("nouns", ids=True), strings("words", ids=False, at_least=TEXTBOOK_WORDS),
                 strings("banned_openings", ids=False))


# --- sampling -------------------------------------------------------------------------------------------


def _matches(leaf_id: str, name: str) -> bool:
    """`name` is the leaf's id or a whole-component prefix of it ("strings", "strings/transforming")."""
    name = name.rstrip("/")
    return leaf_id == name or leaf_id.startswith(name + "/")


def select_leaves(leaves: Iterable[Leaf], areas: Iterable[str] | None = None,
                  holdout: Iterable[str] | None = None) -> list[Leaf]:
    """The leaves a run draws from: only those of `areas` (area ids; None: all), minus those that a
    `holdout` entry names (a leaf id, or an "area" or "area/topic" prefix). An unknown area is an error
    (a typo would otherwise silently give a run of the wrong topics); so is an empty result."""
    leaves = list(leaves)
    if areas is not None:
        areas = set(areas)
        unknown = areas - {leaf.area for leaf in leaves}
        if unknown:
            raise ValueError(f"areas: {sorted(unknown)[0]!r} is not an area of the topic tree")
        leaves = [leaf for leaf in leaves if leaf.area in areas]
    if holdout:
        held = [h for h in holdout if h]
        leaves = [leaf for leaf in leaves if not any(_matches(leaf.id, h) for h in held)]
    if not leaves:
        raise ValueError("no topic leaf is left to draw from (after areas= / holdout=)")
    return leaves


def _rng(seed: int, kind: str, index: int) -> random.Random:
    # A string seed is hashed with SHA-512 by random.Random: the same on every platform and Python run
    # (unlike hash()), and independent between neighbouring indices.
    return random.Random(f"{seed}:{kind}:{index}")


def _leaf_fields(leaf: Leaf) -> dict:
    return {"topic": leaf.id, "area": leaf.area, "subtopic": leaf.subtopic, "area_title": leaf.area_title,
            "topic_title": leaf.topic_title}


def textbook_spec(seed: int, index: int, leaves: list[Leaf], vocab: Vocab, *, areas: Iterable[str] | None = None,
                  holdout: Iterable[str] | None = None) -> dict:
    """Item `index` of a textbook run with `seed`: a leaf drawn uniformly, an audience, a style and
    TEXTBOOK_WORDS distinct random words. The titles travel with the spec so a prompt renders from it alone."""
    pool = select_leaves(leaves, areas, holdout) if (areas is not None or holdout) else leaves
    if not pool:
        raise ValueError("no topic leaf to draw from")
    rng = _rng(seed, "textbook", index)
    leaf = pool[rng.randrange(len(pool))]
    audiences, styles = list(vocab.audiences), list(vocab.styles)
    return {"kind": "textbook", **_leaf_fields(leaf), "audience": audiences[rng.randrange(len(audiences))],
            "style": styles[rng.randrange(len(styles))], "words": rng.sample(vocab.words, TEXTBOOK_WORDS)}


def exercise_spec(seed: int, index: int, leaves: list[Leaf], vocab: Vocab, *, areas: Iterable[str] | None = None,
                  holdout: Iterable[str] | None = None) -> dict:
    """Item `index` of an exercise run with `seed`: a leaf drawn uniformly, a verb_noun function name (the
    phi-1 constraint) and EXERCISE_WORDS distinct random words."""
    pool = select_leaves(leaves, areas, holdout) if (areas is not None or holdout) else leaves
    if not pool:
        raise ValueError("no topic leaf to draw from")
    rng = _rng(seed, "exercise", index)
    leaf = pool[rng.randrange(len(pool))]
    name = f"{vocab.verbs[rng.randrange(len(vocab.verbs))]}_{vocab.nouns[rng.randrange(len(vocab.nouns))]}"
    return {"kind": "exercise", **_leaf_fields(leaf), "function_name": name,
            "words": rng.sample(vocab.words, EXERCISE_WORDS)}


# --- prompts --------------------------------------------------------------------------------------------


def placeholders(template: str) -> list[str]:
    """The {name} placeholders of a template, in order of first use. Braces around anything that is not
    an identifier ("{1, 2}", a JSON example) are plain text."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(template)))


def render_prompt(spec: dict, template: str, vocab: Vocab) -> str:
    """`template` with its placeholders filled from `spec` and `vocab`:
    {audience}/{style}: the description of the spec's audience/style id; {words}: the spec's words,
    comma-separated; {banned_openings}: the vocabulary's banned openings, quoted and comma-separated;
    any other name: the spec field of that name ({topic_title}, {area_title}, {subtopic},
    {function_name}, {topic}, {area}, ...). A placeholder the spec cannot fill is a ValueError naming it."""
    values: dict[str, str] = {}
    for name in placeholders(template):
        values[name] = _value(name, spec, vocab)
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _value(name: str, spec: dict, vocab: Vocab) -> str:
    kind = spec.get("kind", "?")
    if name == "banned_openings":
        return ", ".join(f'"{b}"' for b in vocab.banned_openings)
    if name in ("audience", "style"):
        ident = spec.get(name)
        table = vocab.audiences if name == "audience" else vocab.styles
        if ident is None:
            raise ValueError(f"prompt placeholder {{{name}}}: the {kind} spec has no {name!r}")
        if ident not in table:
            raise ValueError(f"prompt placeholder {{{name}}}: {ident!r} is not a {name} of the vocabulary")
        return table[ident]
    if name == "words":
        words = spec.get("words")
        if not isinstance(words, (list, tuple)):
            raise ValueError(f"prompt placeholder {{words}}: the {kind} spec has no 'words' list")
        return ", ".join(str(w) for w in words)
    value = spec.get(name)
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    fillable = (k for k, v in spec.items() if k in _DERIVED or isinstance(v, (str, int, float)))
    known = sorted({"banned_openings", *fillable})
    raise ValueError(f"prompt placeholder {{{name}}} is unknown: the {kind} spec has no field {name!r} "
                     f"(known: {', '.join('{' + k + '}' for k in known)})")


__all__ = ["Leaf", "Vocab", "load_tree", "load_vocab", "select_leaves", "textbook_spec", "exercise_spec",
           "render_prompt", "placeholders", "slug", "KINDS"]
