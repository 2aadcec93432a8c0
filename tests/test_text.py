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
    err = capsys.readouterr().err
    assert "unknown escape \\d in" in err and "\\\\d" not in err  # shown as typed, not doubled by repr


def test_unescape_rejects_a_trailing_backslash():
    with pytest.raises(ValueError, match="trailing"):
        unescape("abc\\")


def test_derived_seeds_depend_on_seed_prompt_and_index_only():
    a = derive_seed(0, "def f():", 0)
    assert a == derive_seed(0, "def f():", 0)
    assert len({a, derive_seed(1, "def f():", 0), derive_seed(0, "def g():", 0), derive_seed(0, "def f():", 1)}) == 4
    assert derive_seed(0, [1, 2, 3], 0) != derive_seed(0, [1, 23], 0)  # ids are separated, not concatenated
    assert 0 <= derive_seed(5, "x", 3, bits=31) < 2**31


ACCEPTED = {"\\n": "\n", "\\t": "\t", "\\r": "\r", "\\0": "\0", "\\\\": "\\", "\\'": "'", '\\"': '"',
            "\\x41": "A", "\\u00e9": "é", "\\U0001F600": "\U0001F600"}


@pytest.mark.parametrize("command", [["generate", "ckpt", "--prompt", "x"],
                                     ["eval", "generate", "--benchmark", "humaneval", "--model", "m", "--out", "o"],
                                     ["eval", "run", "--benchmark", "humaneval", "--model", "m", "--out", "o"],
                                     ["llm", "complete", "--model", "m", "--input", "i", "--out", "o"]])
def test_every_stop_help_lists_exactly_the_accepted_escapes(command, capsys):
    from textbooks.text import ESCAPES

    with pytest.raises(SystemExit):
        build_parser().parse_args([*command, "--help"])
    helptext = " ".join(capsys.readouterr().out.split())
    assert ESCAPES in helptext
    listed = ESCAPES.split()
    # every listed form decodes, and nothing else does
    forms = {"\\xHH": "\\x41", "\\uXXXX": "\\u00e9", "\\UXXXXXXXX": "\\U0001F600"}
    assert sorted(forms.get(e, e) for e in listed) == sorted(ACCEPTED)
    for typed, meaning in ACCEPTED.items():
        assert unescape(typed) == meaning
    for other in ("\\a", "\\b", "\\f", "\\v", "\\N{DASH}", "\\d"):
        with pytest.raises(ValueError, match="unknown escape"):
            unescape(other)


def test_an_incomplete_hex_escape_says_so():
    with pytest.raises(ValueError, match=r"incomplete escape \\xHH in \"\\x4\": \\x needs 2 hex digits"):
        unescape("\\x4")
    with pytest.raises(ValueError, match=r"incomplete escape \\uXXXX"):
        unescape("a\\u12g")
    with pytest.raises(ValueError, match="not a Unicode character"):
        unescape("\\U00110000")
