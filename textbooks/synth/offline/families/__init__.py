"""Every offline exercise family, by name: `FAMILIES["strings.count_vowels"]` (see ../family.py).

The families live in modules by area group; each module defines a list `FAMILIES` of `Family`.
"""

from __future__ import annotations

from textbooks.synth.offline.family import Family

_MODULES = ("textbooks.synth.offline.families.text_and_lists", "textbooks.synth.offline.families.numbers_and_data",
            "textbooks.synth.offline.families.algorithms")


def _collect() -> dict[str, Family]:
    import importlib

    out: dict[str, Family] = {}
    for name in _MODULES:
        module = importlib.import_module(name)
        for fam in module.FAMILIES:
            if fam.name in out:
                raise ValueError(f"two families named {fam.name!r} ({name})")
            out[fam.name] = fam
    return dict(sorted(out.items()))


FAMILIES: dict[str, Family] = _collect()
