"""The one escape convention of every CLI flag that takes stop strings, and the one seed rule."""

import pytest

from textbooks.cli import build_parser
from textbooks.text import derive_seed, unescape

# (argument as typed, what it means): escapes decoded, non-ASCII and real newlines kept as they are
CASES = [
    ("\\n", "\n"),
    ("\\ndef ", "\ndef "),
    ("\n\n", "\n\n"),  # a real newline, from bash's $'\n\n'
    ("«»", "«»"),  # non-ASCII survives (unicode_escape would give 'Â«Â»')
    ("日本\\t語", "日本\t語"),
    ("\\\\n", "\\n"),  # an escaped backslash: a literal backslash and n
    ("\\u00e9\\x41", "éA"),
]


def _stops(argv):
    return build_parser().parse_args(argv).stop


@pytest.mark.parametrize("command", ["generate", "eval generate", "eval run", "llm complete"])
def test_stop_strings_mean_the_same_in_every_cli(command, tmp_path):
    typed = [t for t, _ in CASES]
    if command == "generate":
        argv = ["generate", "ckpt", "--prompt", "x", "--stop", *typed]
    elif command.startswith("eval"):
        argv = [*command.split(), "--benchmark", "humaneval", "--model", "m", "--out", "o.jsonl", "--stop", *typed]
    else:  # llm complete takes one stop string per flag
        argv = ["llm", "complete", "--model", "m", "--input", "i", "--out", "o"] + [a for t in typed for a in ("--stop", t)]
    assert _stops(argv) == [meaning for _, meaning in CASES]


@pytest.mark.parametrize("command", [["generate", "ckpt", "--prompt", "x"],
                                     ["eval", "generate", "--benchmark", "humaneval", "--model", "m", "--out", "o"]])
def test_an_unknown_escape_is_an_error_that_names_it(command, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([*command, "--stop", "\\d"])
    assert "unknown escape '\\\\d'" in capsys.readouterr().err


def test_unescape_rejects_a_trailing_backslash():
    with pytest.raises(ValueError, match="trailing"):
        unescape("abc\\")


def test_derived_seeds_depend_on_seed_prompt_and_index_only():
    a = derive_seed(0, "def f():", 0)
    assert a == derive_seed(0, "def f():", 0)
    assert len({a, derive_seed(1, "def f():", 0), derive_seed(0, "def g():", 0), derive_seed(0, "def f():", 1)}) == 4
    assert derive_seed(0, [1, 2, 3], 0) != derive_seed(0, [1, 23], 0)  # ids are separated, not concatenated
    assert 0 <= derive_seed(5, "x", 3, bits=31) < 2**31
