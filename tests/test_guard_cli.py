"""Issue 13, bad inputs through every command (in-process `textbooks.cli.main`): each case exits non-zero
without a traceback, names the offending path / key / value, and leaves inputs and existing outputs
byte-for-byte unchanged. Interrupts and hostile sizes, which need real processes, are in test_guard_signals.py.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from textbooks.cli import main

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / "configs" / "train" / "demo-tiny.yaml"


def cli(argv, capsys) -> tuple[int, str]:
    """(exit code, stdout + stderr) of `textbooks ARGV`; argparse's usage errors exit through SystemExit."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out + out.err


def snapshot(*paths: Path) -> dict:
    """Every file under `paths` with its bytes, to check that nothing was touched."""
    files = {}
    for p in paths:
        for f in ([p] if p.is_file() else sorted(p.rglob("*")) if p.is_dir() else []):
            if f.is_file():
                files[str(f)] = f.read_bytes()
    return files


def assert_refused(rc: int, output: str, *names, code: int | None = None) -> None:
    assert rc != 0, output
    if code is not None:
        assert rc == code, output
    assert "Traceback" not in output, output
    for name in names:
        assert str(name) in output, (name, output)


def unwritable(tmp_path: Path) -> Path:
    if os.geteuid() == 0:  # root ignores file modes; nothing can be created in /proc
        return Path("/proc")
    d = tmp_path / "ro"
    d.mkdir(exist_ok=True)
    d.chmod(0o500)
    return d


# --- fixtures: a tiny tokenizer, a model trained with it, another tokenizer, data files --------------------


@pytest.fixture(scope="module")
def world(tiny_tokenizer_dir, tmp_path_factory):
    import torch

    from textbooks.data.pack import pack
    from textbooks.model import Phi, PhiConfig
    from textbooks.model.hf import save_model_dir
    from textbooks.tokenizer import load_tokenizer, train_tokenizer

    root = tmp_path_factory.mktemp("guard")
    tok = load_tokenizer(tiny_tokenizer_dir)
    torch.manual_seed(0)
    cfg = PhiConfig(vocab_size=tok.padded_vocab_size, n_layer=1, d_model=32, n_head=2, d_mlp=64, rotary_dim=8,
                    max_seq_len=256)
    model = root / "model"
    save_model_dir(Phi(cfg).eval(), tok, model)  # config.json records eos_token_id, as every checkpoint we write
    corpus = root / "corpus"
    corpus.mkdir()
    for i in range(12):
        (corpus / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n\n\nclass C{i}:\n    pass\n")
    other_tok = root / "other_tok"
    train_tokenizer([corpus], vocab_size=345, out_dir=other_tok)  # a different vocabulary (345 tokens)
    prompts = root / "prompts.jsonl"
    prompts.write_text('{"prompt": "def f(x):"}\n{"prompt": "import os"}\n')
    ids = root / "ids.jsonl"
    ids.write_text('{"id": 1, "prompt": "def f(x):"}\n{"id": 2, "prompt": "import os"}\n')
    docs = root / "docs.jsonl"
    docs.write_text("".join(json.dumps({"text": f"def g{i}(y):\n    return y * {i}\n" * 8}) + "\n" for i in range(40)))
    packed = root / "packed"
    pack([docs], tiny_tokenizer_dir, packed, workers=1, progress=False)
    samples = root / "samples.jsonl"
    samples.write_text('{"task_id": "HumanEval/0", "completion": "    return True\\n"}\n')
    results = root / "results.jsonl"
    results.write_text('{"task_id": "HumanEval/0", "completion_id": 0, "passed": true, "result": "passed"}\n')
    notes = root / "notes.txt"
    notes.write_text("someone's notes\n")
    return {"root": root, "tok": tiny_tokenizer_dir, "model": model, "other_tok": other_tok, "corpus": corpus,
            "prompts": prompts, "ids": ids, "docs": docs, "packed": packed, "samples": samples, "results": results,
            "notes": notes}


# --- outputs of every writing command: under a file, of the wrong kind, unwritable -------------------------

# command -> (argv with OUT, kind of OUT)
WRITERS = {
    "tokenizer train": (lambda w, out: ["tokenizer", "train", "--input", w["corpus"], "--vocab-size", 300, "--out", out,
                                        "--no-progress"], "dir"),
    "data pack": (lambda w, out: ["data", "pack", w["docs"], "--tokenizer", w["tok"], "--out", out, "--workers", 1,
                                  "--no-progress"], "dir"),
    "train": (lambda w, out: ["train", "--config", DEMO_CONFIG, "--set", f"data.datasets={w['packed']}",
                              "--set", f"data.val={w['packed']}", "--set", f"trainer.run_dir={out}"], "dir"),
    "export hf": (lambda w, out: ["export", "hf", w["model"], out, "--no-verify"], "dir"),
    "generate": (lambda w, out: ["generate", w["model"], "--input", w["prompts"], "--out", out], "file"),
    "eval generate": (lambda w, out: ["eval", "generate", "--benchmark", "humaneval", "--model", w["model"],
                                      "--out", out, "--limit", 1], "file"),
    "eval execute": (lambda w, out: ["eval", "execute", "--benchmark", "humaneval", "--samples", w["samples"],
                                     "--out", out, "--isolation", "process"], "file"),
    "eval report": (lambda w, out: ["eval", "report", "--results", w["results"], "--out", out], "dir"),
    "llm complete": (lambda w, out: ["llm", "complete", "--backend", "phi", "--model", w["model"], "--input", w["ids"],
                                     "--out", out, "--no-progress"], "file"),
    "eval judge": (lambda w, out: ["eval", "judge", "--samples", w["samples"], "--base-url", "http://127.0.0.1:9/v1",
                                   "--model", "judge", "--out", out], "file"),
}


@pytest.mark.parametrize("command", list(WRITERS))
@pytest.mark.parametrize("case", ["under_a_file", "wrong_kind", "unwritable"])
def test_a_bad_output_path_is_one_clear_line_before_any_work(world, command, case, capsys, tmp_path):
    argv, kind = WRITERS[command]
    notes = world["notes"]
    if case == "under_a_file":
        out, words = notes / "out.jsonl", [notes, "is a file, not a directory"]
    elif case == "wrong_kind" and kind == "file":
        out, words = tmp_path, [tmp_path, "is a directory"]
    elif case == "wrong_kind":
        out, words = notes, [notes, "is a file"]
    else:
        out, words = unwritable(tmp_path) / "out", ["is not writable"]
    before = snapshot(world["root"])
    rc, output = cli(argv(world, out), capsys)
    assert_refused(rc, output, f"textbooks {command}: error", *words, code=2)
    assert snapshot(world["root"]) == before


# --- data loss: an output that is an input, silent overwrites -------------------------------------------------


def test_eval_execute_never_writes_verdicts_over_its_samples(world, capsys, tmp_path):
    samples = shutil.copy(world["samples"], tmp_path / "s.jsonl")
    before = snapshot(tmp_path)
    rc, output = cli(["eval", "execute", "--benchmark", "humaneval", "--samples", samples, "--out", samples], capsys)
    assert_refused(rc, output, f"--out {samples} is also an input", code=2)
    rc, output = cli(["eval", "execute", "--benchmark", "humaneval", "--samples", samples, "--summary", samples], capsys)
    assert_refused(rc, output, f"--summary {samples} is also an input", code=2)
    assert snapshot(tmp_path) == before


def test_eval_execute_replaces_only_its_own_results(world, capsys, tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text('{"mine": 1}\n')
    rc, output = cli(["eval", "execute", "--benchmark", "humaneval", "--samples", world["samples"], "--out", other,
                      "--summary", tmp_path / "s.json"], capsys)
    assert_refused(rc, output, f"--out {other} already exists", "--overwrite", code=2)
    assert other.read_text() == '{"mine": 1}\n'


@pytest.mark.parametrize("command", ["generate", "llm complete"])
def test_out_equal_to_input_is_refused_and_the_input_kept(world, command, capsys, tmp_path):
    src = world["prompts"] if command == "generate" else world["ids"]
    path = shutil.copy(src, tmp_path / "p.jsonl")
    before = snapshot(tmp_path)
    argv = (["generate", world["model"], "--input", path, "--out", path] if command == "generate" else
            ["llm", "complete", "--backend", "phi", "--model", world["model"], "--input", path, "--out", path])
    rc, output = cli(argv, capsys)
    assert_refused(rc, output, f"--out {path} is also an input", code=2)
    assert snapshot(tmp_path) == before


def test_llm_complete_keeps_someone_elses_file_and_cache(world, capsys, tmp_path):
    out = shutil.copy(world["prompts"], tmp_path / "theirs.jsonl")  # not results of ours
    before = snapshot(tmp_path)
    base = ["llm", "complete", "--backend", "phi", "--model", world["model"], "--input", world["ids"], "--no-progress"]
    rc, output = cli([*base, "--out", out], capsys)
    assert_refused(rc, output, f"--out {out} already exists", "--overwrite", code=2)
    rc, output = cli([*base, "--out", tmp_path / "r.jsonl", "--cache", out], capsys)
    assert_refused(rc, output, f"--cache {out} already exists and is not an SQLite cache", code=2)
    # a path under a file names that file, not the cache
    rc, output = cli([*base, "--out", world["notes"] / "r.jsonl"], capsys)
    assert_refused(rc, output, world["notes"], code=2)
    assert "cache" not in output
    assert snapshot(tmp_path) == before


def test_tokenizer_train_refuses_to_replace_another_tokenizer(world, capsys, tmp_path):
    existing = shutil.copytree(world["other_tok"], tmp_path / "tok")
    before = snapshot(existing)
    argv = ["tokenizer", "train", "--input", world["corpus"], "--vocab-size", 320, "--out", existing, "--no-progress"]
    rc, output = cli(argv, capsys)
    assert_refused(rc, output, f"--out {existing} already exists", "tokenizer.json", "--overwrite", code=2)
    assert snapshot(existing) == before
    rc, output = cli([*argv, "--overwrite"], capsys)  # asked for: replaced, atomically
    assert rc == 0, output
    assert json.loads((existing / "training_stats.json").read_text())["requested_vocab_size"] == 320
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tok"]  # no temporary directory left behind
    rc, output = cli(["tokenizer", "train", "--input", world["corpus"], "--vocab-size", 320, "--out", world["corpus"],
                      "--overwrite", "--no-progress"], capsys)
    assert_refused(rc, output, "is also an input", code=2)


def test_export_refuses_a_directory_holding_another_model(world, capsys, tmp_path):
    other = shutil.copytree(world["model"], tmp_path / "other-model")
    before = snapshot(other)
    rc, output = cli(["export", "hf", world["model"], other, "--no-verify"], capsys)
    assert_refused(rc, output, f"OUT_DIR {other} already exists", "model.safetensors", "--overwrite", code=2)
    rc, output = cli(["export", "hf", world["model"], world["model"], "--no-verify", "--overwrite"], capsys)
    assert_refused(rc, output, "OUT_DIR is the checkpoint itself", code=2)
    assert snapshot(other) == before


def test_data_pack_output_may_not_be_its_tokenizer_or_contain_its_inputs(world, capsys):
    before = snapshot(world["root"])
    rc, output = cli(["data", "pack", world["docs"], "--tokenizer", world["tok"], "--out", world["tok"], "--overwrite"],
                     capsys)
    assert_refused(rc, output, "is also an input", code=2)
    rc, output = cli(["data", "pack", world["docs"], "--tokenizer", world["tok"], "--out", world["root"], "--overwrite"],
                     capsys)
    assert_refused(rc, output, f"input {world['docs']} is inside --out", code=2)
    assert snapshot(world["root"]) == before


# --- model and tokenizer that do not belong together ----------------------------------------------------------


def test_generate_refuses_a_model_directory_with_a_foreign_tokenizer(world, capsys, tmp_path):
    from textbooks.tokenizer import load_tokenizer

    model = shutil.copytree(world["model"], tmp_path / "mixed")
    load_tokenizer(world["other_tok"]).save(model)  # 345 tokens beside a 1024-token model
    eos = json.loads((model / "config.json").read_text())["eos_token_id"]
    rc, output = cli(["generate", model, "--prompt", "def f", "--max-new-tokens", 2], capsys)
    assert_refused(rc, output, "end-of-text id", f"was trained with end-of-text id {eos}", "does not belong", code=2)
    rc, output = cli(["eval", "generate", "--benchmark", "humaneval", "--model", model, "--out", tmp_path / "s.jsonl",
                      "--limit", 1], capsys)
    assert_refused(rc, output, "does not belong", code=2)
    rc, output = cli(["llm", "complete", "--backend", "phi", "--model", model, "--input", world["ids"],
                      "--out", tmp_path / "r.jsonl", "--no-progress"], capsys)
    assert_refused(rc, output, "does not belong", code=2)
    rc, output = cli(["serve", model, "--port", 0], capsys)  # refused before it listens
    assert_refused(rc, output, "does not belong", code=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed"]


def test_the_generator_api_refuses_a_model_directory_with_a_foreign_tokenizer(world, tmp_path):
    """The library entry point (Generator.from_pretrained) checks the pair like the commands do."""
    from textbooks import guard
    from textbooks.model.generate import Generator
    from textbooks.tokenizer import load_tokenizer

    assert Generator.from_pretrained(world["model"], device="cpu").tokenizer.vocab_size == 1024  # its own: fine
    model = shutil.copytree(world["model"], tmp_path / "mixed")
    load_tokenizer(world["other_tok"]).save(model)
    with pytest.raises(guard.UsageError, match="does not belong to this checkpoint"):
        Generator.from_pretrained(model, device="cpu")


def test_export_with_another_tokenizer_is_refused_and_writes_nothing(world, capsys, tmp_path):
    out = tmp_path / "exported"
    rc, output = cli(["export", "hf", world["model"], out, "--tokenizer", world["other_tok"], "--no-verify"], capsys)
    assert_refused(rc, output, "does not belong to this checkpoint", code=2)
    assert not out.exists()
    # the same tokenizer under another path is fine: ids, eos and fingerprint agree
    rc, output = cli(["export", "hf", world["model"], out, "--tokenizer", world["tok"], "--no-verify"], capsys)
    assert rc == 0, output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["eos_token_id"] == json.loads((world["model"] / "config.json").read_text())["eos_token_id"]


def test_check_model_tokenizer_catches_each_disagreement(world, tmp_path):
    from textbooks import guard
    from textbooks.tokenizer import load_tokenizer

    tok, other = load_tokenizer(world["tok"]), load_tokenizer(world["other_tok"])
    guard.check_model_tokenizer(world["model"], tok)  # agrees
    with pytest.raises(guard.UsageError, match="end-of-text id"):
        guard.check_model_tokenizer(world["model"], other)
    small = shutil.copytree(world["model"], tmp_path / "small")
    cfg = json.loads((small / "config.json").read_text())
    cfg["vocab_size"] = cfg["textbooks"]["vocab_size"] = 320  # fewer rows than the tokenizer's 1024 ids
    (small / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(guard.UsageError, match="has 1024 tokens but the model .* has a vocabulary of 320"):
        guard.check_model_tokenizer(small, tok)


# --- values accepted though invalid ---------------------------------------------------------------------------


@pytest.mark.parametrize("argv, words", [
    (["data", "pack", "{docs}", "--tokenizer", "{tok}", "--out", "{tmp}/p", "--workers", "0"], "argument --workers: must be >= 1, got 0"),
    (["data", "pack", "{docs}", "--tokenizer", "{tok}", "--out", "{tmp}/p", "--workers", "-2"], "argument --workers: must be >= 1, got -2"),
    (["data", "pack", "{docs}", "--tokenizer", "{tok}", "--out", "{tmp}/p", "--val-fraction", "1"], "argument --val-fraction: must be in [0, 1)"),
    (["eval", "execute", "--benchmark", "humaneval", "--samples", "{samples}", "--out", "{tmp}/r.jsonl", "--memory-mb", "-5"], "--memory-mb must be >= 16, got -5"),
    (["demo", "--eval-limit", "0", "--out", "{tmp}/demo"], "argument --eval-limit: must be >= 1, got 0"),
    (["demo", "--vocab-size", "0", "--out", "{tmp}/demo"], "argument --vocab-size: must be in [295, 1048576], got 0"),
    (["tokenizer", "train", "--input", "{corpus}", "--vocab-size", "400", "--out", "{tmp}/t", "--min-frequency", "-3"], "argument --min-frequency: must be in [0, 4294967295], got -3"),
    (["tokenizer", "train", "--input", "{corpus}", "--vocab-size", "99999999999", "--out", "{tmp}/t"], "argument --vocab-size: must be in [1, 1048576], got 99999999999"),
    (["serve", "{model}", "--port", "-1"], "argument --port: must be in [0, 65535], got -1"),
    (["serve", "{model}", "--port", "70000"], "argument --port: must be in [0, 65535], got 70000"),
    (["serve", "{model}", "--device", "gpu"], "argument --device: unknown device 'gpu'"),
    (["generate", "{model}", "--prompt", "x", "--device", "gpu"], "argument --device: unknown device 'gpu'"),
    (["generate", "{model}", "--prompt", "x", "--n", "0"], "--n must be >= 1 (got 0)"),
    (["llm", "complete", "--backend", "phi", "--model", "{model}", "--input", "{ids}", "--out", "{tmp}/r.jsonl", "--concurrency", "0"], "argument --concurrency: must be >= 1"),
    (["train", "--config", str(DEMO_CONFIG), "--set", "trainer.cpu_threads=0"], "trainer.cpu_threads=0 must be >= 1"),
    (["train", "--config", str(DEMO_CONFIG), "--set", "trainer.cpu_threads=-4"], "trainer.cpu_threads=-4 must be >= 1"),
    (["train", "--config", str(DEMO_CONFIG), "--set", "optimizer.eps=-1"], "optimizer.eps=-1.0 must be > 0"),
])
def test_invalid_values_are_refused_at_start_naming_them(world, argv, words, capsys, tmp_path):
    subst = {k: str(v) for k, v in world.items()} | {"tmp": str(tmp_path)}
    before = snapshot(world["root"])
    rc, output = cli([a.format(**subst) for a in argv], capsys)
    assert_refused(rc, output, words, code=2)
    assert snapshot(world["root"]) == before
    assert list(tmp_path.iterdir()) == []  # nothing was started


def test_cuda_without_a_gpu_names_device_cpu(world, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible: the refusal only happens without one")
    rc, output = cli(["generate", world["model"], "--prompt", "x", "--device", "cuda"], capsys)
    assert_refused(rc, output, "--device cuda, but no CUDA GPU is visible here; use --device cpu", code=2)
    rc, output = cli(["train", "--config", DEMO_CONFIG, "--set", "trainer.device=cuda"], capsys)
    assert_refused(rc, output, "trainer.device", "trainer.device=cpu", code=2)


def test_non_utf8_text_arguments_and_configs(world, capsys, tmp_path):
    bad = os.fsdecode(b"def f\xff")  # what Python makes of argv bytes that are not UTF-8
    rc, output = cli(["generate", world["model"], "--prompt", bad], capsys)
    assert_refused(rc, output, "argument --prompt: is not valid UTF-8 text (byte ff", code=2)
    rc, output = cli(["tokenizer", "info", world["tok"], "--text", bad], capsys)
    assert_refused(rc, output, "argument --text: is not valid UTF-8 text", code=2)
    config = tmp_path / "c.yaml"
    config.write_bytes(b"trainer:\n  run_dir: r\xe9sultats\n")
    rc, output = cli(["train", "--config", config], capsys)
    assert_refused(rc, output, str(config), "UTF-8", code=2)
    rc, output = cli(["demo", "--config", config, "--out", tmp_path / "demo"], capsys)
    assert_refused(rc, output, str(config), "UTF-8", code=2)


def test_eval_report_refuses_similar_ids_of_an_unknown_layout(world, capsys, tmp_path):
    odd = tmp_path / "similar.json"
    odd.write_text(json.dumps([{"task": "HumanEval/0", "score": 0.93}]))  # a list of records, not ids
    rc, output = cli(["eval", "report", "--results", world["results"], "--similar-ids", odd, "--out", tmp_path / "r"],
                     capsys)
    assert_refused(rc, output, str(odd), "task ids must be strings or integers, found dict", code=2)
    other = tmp_path / "similar_mbpp.json"
    other.write_text(json.dumps(["Mbpp/11", "Mbpp/12"]))  # ids of another benchmark: nothing to split
    rc, output = cli(["eval", "report", "--results", world["results"], "--similar-ids", other, "--out", tmp_path / "r"],
                     capsys)
    assert_refused(rc, output, "none of the 2 ids in --similar-ids", code=2)
    assert not (tmp_path / "r").exists()


def test_eval_report_keeps_a_directory_that_holds_no_report(world, capsys, tmp_path):
    (tmp_path / "paper.tex").write_text("\\section{}")
    before = snapshot(tmp_path)
    rc, output = cli(["eval", "report", "--results", world["results"], "--out", tmp_path], capsys)
    assert_refused(rc, output, f"--out {tmp_path} already exists", "paper.tex", code=2)
    assert snapshot(tmp_path) == before
    rc, output = cli(["eval", "report", "--results", world["results"], "--out", tmp_path / "rep"], capsys)
    assert rc == 0, output
    rc, output = cli(["eval", "report", "--results", world["results"], "--out", tmp_path / "rep"], capsys)
    assert rc == 0, output  # its own report: a rerun rebuilds it


def test_eval_judge_on_an_empty_file_writes_nothing(world, capsys, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    rc, output = cli(["eval", "judge", "--samples", empty, "--base-url", "http://127.0.0.1:9/v1", "--model", "j"], capsys)
    assert_refused(rc, output, f"{empty}: no samples to judge", code=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl"]


# --- vague messages made precise --------------------------------------------------------------------------


@pytest.mark.parametrize("argv, words", [
    (["generate", "{model}", "--input", "{model}"], "--input {model} is a directory; --input needs a file"),
    (["generate", "{notes}", "--prompt", "x"], "CHECKPOINT {notes} is a file; CHECKPOINT needs a directory"),
    (["export", "hf", "{notes}", "{tmp}/e"], "CHECKPOINT {notes} is a file"),
    (["tokenizer", "info", "{notes}"], "{notes} is a file; pass a tokenizer directory"),
    (["data", "pack", "{docs}", "--tokenizer", "{notes}", "--out", "{tmp}/p"], "--tokenizer {notes} is a file"),
    (["llm", "complete", "--backend", "phi", "--model", "{model}", "--input", "{model}", "--out", "{tmp}/r.jsonl"], "--input {model} is a directory"),
    (["eval", "execute", "--benchmark", "humaneval", "--samples", "{model}"], "--samples {model} is a directory"),
])
def test_a_path_of_the_wrong_kind_is_named_as_such(world, argv, words, capsys, tmp_path):
    subst = {k: str(v) for k, v in world.items()} | {"tmp": str(tmp_path)}
    rc, output = cli([a.format(**subst) for a in argv], capsys)
    assert_refused(rc, output, words.format(**subst), code=2)
    assert "does not exist" not in output


# --- the demo checks everything before its first stage --------------------------------------------------------


@pytest.mark.parametrize("case", ["missing_config", "invalid_config", "out_is_a_file", "foreign_out"])
def test_every_bad_demo_argument_fails_at_start(world, case, capsys, tmp_path):
    import time

    out = tmp_path / "demo"
    argv = ["demo", "--isolation", "process", "--out", out]
    if case == "missing_config":
        argv += ["--config", tmp_path / "nope.yaml"]
        words = [f"input not found: {tmp_path / 'nope.yaml'} (--config)"]
    elif case == "invalid_config":
        bad = tmp_path / "bad.yaml"
        bad.write_text("pretrain:\n  tokns: 4\n")
        argv += ["--config", bad]
        words = ["pretrain.tokns", "did you mean 'pretrain.tokens'"]
    elif case == "out_is_a_file":
        argv[-1] = world["notes"]
        words = [f"--out {world['notes']} is a file"]
    else:
        out.mkdir()
        (out / "thesis.pdf").write_bytes(b"%PDF")
        words = [f"--out {out} already exists and is not the run directory of an earlier `textbooks run`"]
    start = time.monotonic()
    rc, output = cli(argv, capsys)
    assert_refused(rc, output, *words, code=2)
    assert time.monotonic() - start < 20  # not after ~35 s of tokenizer training
    assert not (out / "tokenizer").exists()


# --- serve: JSON errors for HTTP it does not take, and a cap on what one request may ask -----------------


@pytest.fixture(scope="module")
def server(world):
    from textbooks.llm.serve import Limits, Server
    from textbooks.model.generate import Generator

    srv = Server(Generator.from_pretrained(world["model"], device="cpu"), "tiny", port=0, max_wait_ms=1,
                 limits=Limits(max_total_tokens=4096, max_body_bytes=1 << 20, request_timeout_s=2)).start()
    yield srv
    srv.shutdown()


def _raw(server, data: bytes) -> tuple[int, dict, bytes]:
    import socket

    host, port = server.httpd.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(data)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body.strip() else {}, head


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_serve_answers_other_methods_with_a_json_405(server, method):
    status, body, head = _raw(server, f"{method} /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    assert status == 405 and b"Allow: GET, POST" in head and b"application/json" in head
    assert body["error"]["code"] == 405 and method in body["error"]["message"]


def test_serve_answers_a_malformed_request_line_in_json_not_html(server):
    status, body, head = _raw(server, b"GARBAGE\r\n\r\n")
    assert status == 400 and b"application/json" in head and body["error"]["type"] == "invalid_request_error"


def test_serve_answers_a_non_utf8_body_with_a_400(server):
    payload = b'{"model": "tiny", "prompt": "\xff\xfe", "max_tokens": 2}'
    status, body, _ = _raw(server, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                           b"Content-Length: %d\r\n\r\n%s"
                           % (len(payload), payload))
    assert status == 400 and "not JSON" in body["error"]["message"]


@pytest.mark.parametrize("fields, param", [({"n": 100000}, "n"), ({"n": 64, "max_tokens": 100}, "n"),
                                           ({"max_tokens": 200, "prompt": ["a"] * 30}, "max_tokens")])
def test_serve_caps_n_and_max_tokens_times_n(server, fields, param):
    import time

    body = json.dumps({"model": "tiny", "prompt": "x", "max_tokens": 2, **fields}).encode()
    start = time.monotonic()
    status, answer, _ = _raw(server, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                             b"Content-Length: %d\r\n\r\n%s"
                             % (len(body), body))
    assert status == 400 and answer["error"]["param"] == param and time.monotonic() - start < 5


def test_serve_refuses_a_50_mb_body_without_reading_it(server):
    import resource
    import socket
    import time

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    host, port = server.httpd.server_address[:2]
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (50 * 2**20))
        sock.sendall(b"x" * 65536)  # the start of the body (within the socket buffers); the answer comes at once
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413") and time.monotonic() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB: nothing buffered


def test_generate_refuses_a_huge_prompt_before_tokenizing_it(world, capsys, tmp_path):
    import time

    big = tmp_path / "big.jsonl"
    big.write_text(json.dumps({"prompt": "x = 1\n" * 1_000_000}) + "\n")  # 6 MB
    start = time.monotonic()
    rc, output = cli(["generate", world["model"], "--input", big, "--out", tmp_path / "o.jsonl"], capsys)
    assert_refused(rc, output, f"{big}: prompt 1 has 6,000,000 characters", "--max-prompt-chars", code=2)
    assert time.monotonic() - start < 10 and not (tmp_path / "o.jsonl").exists()


def test_pack_skips_and_counts_documents_over_the_size_limit_in_every_reader(world, tmp_path):
    from textbooks.data.pack import pack

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "small.py").write_text("def f(x):\n    return x\n")
    (corpus / "big.py").write_text("x = 1\n" * 100)  # 600 bytes: over the limit, never read
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"text": "y = 2\n"}) + "\n" + json.dumps({"text": "é" * 150}) + "\n")  # 300 bytes
    exercises = tmp_path / "ex.jsonl"
    exercises.write_text(json.dumps({"prompt": "def g():\n", "completion": "    return 1\n"}) + "\n"
                         + json.dumps({"prompt": "def h():\n", "completion": "    pass\n" * 40}) + "\n")
    meta = pack([corpus, records, exercises], world["tok"], tmp_path / "p", workers=1, progress=False,
                max_doc_bytes=200)
    assert meta["skipped"] == {"too_long": 3} and meta["documents"] == 3 and meta["max_doc_bytes"] == 200
    meta = pack([corpus, records, exercises], world["tok"], tmp_path / "q", workers=1, progress=False,
                max_doc_bytes=None)
    assert meta["skipped"] == {} and meta["documents"] == 6
