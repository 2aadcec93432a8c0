"""Pieces every family module's exercise builder shares (the modules were written in parallel; what they
had in common, identically, lives here). The builders themselves (`_build`, `_docstring`, `Body`) still differ
between the modules in their layouts and options."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

_NO_DEFAULT = object()  # P.default when a parameter has none (compared by identity in the builders)


@dataclass
class P:
    """A parameter: `key` is the reference implementation's name for it, `names` the exercise's choices."""

    key: str
    names: Sequence[str]
    type: str
    doc: str
    default: Any = _NO_DEFAULT


class KW(dict):
    """Keyword arguments of a test call, by parameter key (rendered with the drawn names)."""


_TYPING_FORMS = (("list", "List"), ("dict", "Dict"), ("tuple", "Tuple"), ("set", "Set"))


def _annotation(ann: str, typing_style: bool, used: set[str]) -> str:
    """`ann` as written (builtin generics, `X | None`) or in the typing module's spelling, noting the names."""
    if not typing_style:
        return ann
    m = re.fullmatch(r"(.+) \| None", ann)
    if m:
        ann = f"Optional[{m.group(1)}]"
        used.add("Optional")
    for old, new in _TYPING_FORMS:
        ann, n = re.subn(rf"\b{old}\[", new + "[", ann)
        if n:
            used.add(new)
    return ann


def _printed(value: Any) -> str:
    """What the interactive interpreter (and so doctest) prints for `value`: its repr, nothing for None."""
    return "" if value is None else repr(value)
