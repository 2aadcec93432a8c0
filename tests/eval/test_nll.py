"""`textbooks eval nll`: the mean per-token NLL of canonical solutions given their prompts, on a tiny random
Phi. It equals a token-by-token hand computation with torch and transformers' PhiForCausalLM loss on the
same directory; the token boundary holds when the prompt ends mid-token; long sequences keep their end or are
skipped; MBPP bodies are cut from the reference and re-indented to the prompt; the CLI writes the result."""

import json

import pytest

from textbooks.cli import main
from textbooks.eval.nll import canonical_nll, canonical_pairs, completion_tokens, mbpp_body
from textbooks.eval.tasks import Task, format_prompt

torch = pytest.importorskip("torch")

MAX_LEN = 128  # save_tiny_phi's max_seq_len

RECORDS = [
    {"id": "add", "prompt": 'def add(a, b):\n    """Return a + b.\n    """\n', "completion": "    return a + b\n",
     "entry_point": "add", "tests": "assert add(1, 2) == 3\n"},
    # the prompt ends inside the token "return": that token is context, the scored text starts after it
    {"id": "mid", "prompt": "def f(x):\n    ret", "completion": "urn x + 1\n", "entry_point": "f",
     "tests": "assert f(1) == 2\n"},
    {"id": "loop", "prompt": 'def total(xs):\n    """Sum of xs."""\n',
     "completion": "    s = 0\n    for x in xs:\n        s += x\n    return s\n", "entry_point": "total",
     "tests": "assert total([1, 2]) == 3\n"},
    # longer than the context with a short completion: keeps its last MAX_LEN tokens
    {"id": "long_prompt", "prompt": 'def g(x):\n    """' + "Return the value of x, unchanged. " * 40 + '"""\n',
     "completion": "    return x\n", "entry_point": "g", "tests": "assert g(1) == 1\n"},
    # a completion longer than the context cannot be scored: skipped
    {"id": "long_body", "prompt": "def h():\n", "completion": "".join(f"    v{i} = {i} * {i}\n" for i in range(80)),
     "entry_point": "h", "tests": "assert h() is None\n"},
]


@pytest.fixture(scope="module")
def checkpoint(tiny_tokenizer_dir, tmp_path_factory):
    from tests.conftest import save_tiny_phi

    return save_tiny_phi(tmp_path_factory.mktemp("nll") / "tiny-phi", tiny_tokenizer_dir, init_std=0.2)


@pytest.fixture(scope="module")
def problems(tmp_path_factory):
    path = tmp_path_factory.mktemp("heldout") / "exercises.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    return path


@pytest.fixture(scope="module")
def result(checkpoint, problems):
    return canonical_nll(checkpoint, "exercises", problems=problems, batch_size=2, progress=False)


def _prompt_tokens(tokenizer, ids, prompt):
    """How many leading tokens decode to no more than the prompt: found by decoding, not from offsets."""
    k = 0
    while k < len(ids) and len(tokenizer.decode(ids[: k + 1])) <= len(prompt):
        k += 1
    return k


def _hand_nll(model, ids, first):
    """Mean -log p(token j | tokens < j) over j >= first, one unbatched forward pass per token."""
    total = 0.0
    with torch.no_grad():
        for j in range(first, len(ids)):
            logits = model(torch.tensor([ids[:j]]))[0, -1].double()
            total -= torch.log_softmax(logits, -1)[ids[j]].item()
    return total / (len(ids) - first)


def test_nll_equals_a_hand_computation(checkpoint, result):
    from textbooks.model import Phi
    from textbooks.tokenizer import load_tokenizer

    tok, model = load_tokenizer(checkpoint), Phi.from_pretrained(checkpoint).eval()
    assert result["tasks"] == 4 and result["skipped"] == {"longer than the context": 1}
    assert result["prompts_truncated"] == 1 and result["max_seq_len"] == MAX_LEN
    assert result["tokenizer_fingerprint"] == tok.fingerprint and result["model"] == str(checkpoint.resolve())
    for r in RECORDS[:4]:
        ids = tok.encode(r["prompt"] + r["completion"])
        first = _prompt_tokens(tok, ids, r["prompt"])
        if r["id"] == "mid":
            first += 1  # the token that straddles the boundary ("return") is context
        if len(ids) > MAX_LEN:
            ids, first = ids[-MAX_LEN:], first - (len(ids) - MAX_LEN)
        got = result["per_task"][f"Exercise/{r['id']}"]
        assert got["tokens"] == len(ids) - first
        assert got["nll"] == pytest.approx(_hand_nll(model, ids, first), rel=1e-5)
    per = result["per_task"].values()
    assert result["tokens"] == sum(t["tokens"] for t in per)
    assert result["mean_nll"] == pytest.approx(sum(t["nll"] * t["tokens"] for t in per) / result["tokens"], rel=1e-9)
    assert result["mean_task_nll"] == pytest.approx(sum(t["nll"] for t in per) / 4, rel=1e-9)


def test_batching_does_not_change_the_numbers(checkpoint, problems, result):
    again = canonical_nll(checkpoint, "exercises", problems=problems, batch_size=1, progress=False)
    for tid, t in result["per_task"].items():
        assert again["per_task"][tid]["tokens"] == t["tokens"]
        assert again["per_task"][tid]["nll"] == pytest.approx(t["nll"], rel=1e-5)
    assert canonical_nll(checkpoint, "exercises", problems=problems, batch_size=2, progress=False) == result


def test_matches_transformers_phi_loss(checkpoint, result):
    transformers = pytest.importorskip("transformers")
    from textbooks.tokenizer import load_tokenizer

    hf = transformers.AutoModelForCausalLM.from_pretrained(checkpoint, torch_dtype=torch.float32).eval()
    assert type(hf).__name__ == "PhiForCausalLM"
    tok = load_tokenizer(checkpoint)
    for r in RECORDS[:3]:
        ids, first = completion_tokens(tok, r["prompt"], r["completion"])
        labels = torch.tensor([[-100] * first + ids[first:]])
        with torch.no_grad():
            loss = hf(input_ids=torch.tensor([ids]), labels=labels).loss.item()
        assert result["per_task"][f"Exercise/{r['id']}"]["nll"] == pytest.approx(loss, rel=1e-5)


def test_token_boundary_when_the_prompt_ends_mid_token(checkpoint):
    from textbooks.tokenizer import load_tokenizer

    tok = load_tokenizer(checkpoint)
    prompt, completion = "def f(x):\n    ret", "urn x + 1\n"
    ids, first = completion_tokens(tok, prompt, completion)
    assert tok.decode(ids) == prompt + completion
    context, scored = tok.decode(ids[:first]), tok.decode(ids[first:])
    assert context == prompt + "urn" and scored == " x + 1\n"  # "return" is one token of this tokenizer: context
    # at a token boundary the scored text is the whole completion
    ids, first = completion_tokens(tok, "def f(x):\n", "    return x + 1\n")
    assert tok.decode(ids[first:]) == "    return x + 1\n"


def _mbpp_task(reference, entry_point="f", text="Do it.", tests=("assert f(1) == 1",)):
    return Task("mbpp", "Mbpp/9999", text, entry_point, "\n".join(tests), reference, tests=tuple(tests))


def test_mbpp_bodies_are_cut_from_the_reference_and_fit_the_prompt():
    two_spaces = "import re\r\ndef f(x):\r\n  # keep\r\n  if x:\r\n    return (x +\r\n           0)\r\n  return '''a\r\n  b'''\r\n"
    task = _mbpp_task(two_spaces)
    prompt = format_prompt(task, "docstring")
    assert prompt.startswith("def f(x):\n    \"\"\"Do it.\n    assert f(1) == 1\n")
    body, note = mbpp_body(task, prompt)
    assert note == "reindented"
    # 4 spaces per level, the continuation line moved with its statement, the string's text left alone
    assert body == "    # keep\n    if x:\n        return (x +\n               0)\n    return '''a\n  b'''\n"
    assert mbpp_body(_mbpp_task("def f(x):\n    return x\n"), prompt) == ("    return x\n", "")
    cases = {"def f(x): return x\n": "body on the def line", "def f(x:\n  return x\n": "reference does not parse",
             "class f:\n    pass\n": "tested name is not a top-level function",
             "def f(x):\n  if x:\n\treturn 1\n  return 0\n": "reference does not parse"}
    for reference, reason in cases.items():
        assert mbpp_body(_mbpp_task(reference), prompt) == (None, reason)


def test_mbpp_test_split_pairs():
    from textbooks.eval.tasks import load_tasks

    tasks = load_tasks("mbpp", "test")
    pairs, skipped = canonical_pairs("mbpp", tasks)
    assert len(pairs) + sum(skipped.values()) == 500 and len(pairs) >= 490
    by_id = {t.task_id: t for t in tasks}
    for p in pairs:
        assert p.prompt == format_prompt(by_id[p.task_id], "docstring")
        first = p.completion.split("\n", 1)[0]
        assert first.startswith("    ") and not first.startswith("     ")  # continues the prompt's indentation


def test_humaneval_long_prompts_keep_their_end(checkpoint):
    r = canonical_nll(checkpoint, "humaneval", limit=6, progress=False)
    assert r["tasks"] + sum(r["skipped"].values()) == 6 and r["prompt_format"] == "humaneval@1"
    assert r["prompts_truncated"] > 0  # HumanEval prompts are longer than 128 tokens


def test_cli(checkpoint, problems, result, tmp_path, capsys):
    out = tmp_path / "nll.json"
    args = ["eval", "nll", "--model", str(checkpoint), "--benchmark", "exercises", "--problems", str(problems),
            "--out", str(out), "--batch-size", "2", "--no-progress"]
    assert main(args) == 0
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert "exercises: mean NLL" in capsys.readouterr().out
    assert main(args) == 0  # a rerun replaces its own result
    other = tmp_path / "other.json"
    other.write_text("{}")
    assert main(args[:-4] + [str(other), "--batch-size", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err and "Traceback" not in err
    assert main(["eval", "nll", "--model", str(tmp_path / "nope"), "--benchmark", "humaneval", "--out", str(out)]) == 2
    assert "input not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["eval", "nll", "--help"])
    help_text = capsys.readouterr().out
    assert e.value.code == 0 and "negative log-likelihood" in help_text
    assert all(split in help_text for split in ("prompt", "test", "validation", "train", "all"))


def test_cli_replaces_only_the_same_measurement(checkpoint, problems, tmp_path, capsys):
    """An earlier result for another benchmark, model or problems file is someone's measurement: refused
    without --overwrite (it used to be replaced because it was an NLL result at all)."""
    import shutil

    out = tmp_path / "nll.json"
    common = ["--out", str(out), "--batch-size", "2", "--no-progress"]
    exercises = ["eval", "nll", "--model", str(checkpoint), "--benchmark", "exercises", "--problems", str(problems)]
    assert main(exercises + common) == 0
    first = out.read_text()
    capsys.readouterr()

    def refused(argv):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "already exists" in err and "--overwrite" in err and "Traceback" not in err
        assert out.read_text() == first  # untouched

    humaneval = ["eval", "nll", "--model", str(checkpoint), "--benchmark", "humaneval", "--limit", "2"]
    refused(humaneval + common)
    other_model = tmp_path / "other-model"
    shutil.copytree(checkpoint, other_model)
    refused(["eval", "nll", "--model", str(other_model), "--benchmark", "exercises", "--problems", str(problems)]
            + common)
    other_problems = tmp_path / "fewer.jsonl"
    other_problems.write_text("".join(json.dumps(r) + "\n" for r in RECORDS[:2]))
    refused(exercises[:-1] + [str(other_problems)] + common)
    # a moved copy of the same problems file is the same measurement: a rerun
    moved = tmp_path / "moved.jsonl"
    shutil.copy(problems, moved)
    assert main(exercises[:-1] + [str(moved)] + common) == 0
    capsys.readouterr()
    assert main(humaneval + common + ["--overwrite"]) == 0
    assert json.loads(out.read_text())["benchmark"] == "humaneval"
