"""Local backends (our checkpoints via the sampler, transformers) behind the same LLMClient interface."""

from __future__ import annotations

import functools

import pytest

pytest.importorskip("torch")

from textbooks.llm import LLMClient, LLMConfig, Request  # noqa: E402
from textbooks.llm.chat import CHAT_STOP, render_chat  # noqa: E402

PROMPTS = ["def add(a, b):\n", "class Stack:\n    def push(self, x):", "import os\n"]


@pytest.fixture(scope="module")
def phi_client(tiny_checkpoint, tmp_path_factory):
    cache = tmp_path_factory.mktemp("phi") / "cache.sqlite"
    return LLMClient(LLMConfig(backend="phi", model=str(tiny_checkpoint), cache_path=str(cache), progress=False,
                               device="cpu", batch_size=4, max_n_per_call=2))


@functools.lru_cache(maxsize=1)
def _generator(checkpoint):
    from textbooks.model.generate import Generator

    return Generator.from_pretrained(checkpoint, device="cpu")


def sampler_text(checkpoint, prompt: str, max_tokens: int, stop=()) -> str:
    """What the sampler itself returns for this prompt alone (greedy)."""
    from textbooks.model.generate import SamplingParams

    gen = _generator(checkpoint)
    return gen.generate([prompt], SamplingParams(max_new_tokens=max_tokens, temperature=0.0, stop=list(stop)))[0][0].text


def test_phi_backend_greedy_and_chat_equal_the_sampler(phi_client, tiny_checkpoint):
    messages = [{"role": "user", "content": "add two numbers"}]
    results = phi_client.run([Request(id=i, prompt=p, max_tokens=6) for i, p in enumerate(PROMPTS)]
                             + [Request(id="chat", messages=messages, max_tokens=6)])
    assert [r.texts[0] for r in results[:3]] == [sampler_text(tiny_checkpoint, p, 6) for p in PROMPTS]
    assert results[3].texts == [sampler_text(tiny_checkpoint, render_chat(messages), 6, CHAT_STOP)]
    assert all(r.usage["prompt_tokens"] > 0 and r.usage["completion_tokens"] > 0 for r in results)


def test_phi_backend_n_samples_more_than_one_call_and_raising_n_samples_only_new_ones(phi_client):
    first = phi_client.run([Request(id="s", prompt=PROMPTS[0], n=3, temperature=1.0, max_tokens=5, seed=1)])
    assert len(first[0].texts) == 3 and first[0].ok  # max_n_per_call=2: two calls
    more = phi_client.run([Request(id="s", prompt=PROMPTS[0], n=5, temperature=1.0, max_tokens=5, seed=1)])
    assert more[0].texts[:3] == first[0].texts and len(more[0].texts) == 5
    assert phi_client.last_usage.cache_hits == 3 and phi_client.last_usage.samples == 5
    assert len(set(more[0].texts)) > 1  # different seeds per call: not five copies


def test_phi_backend_keeps_the_end_of_a_too_long_prompt_and_warns(phi_client, tiny_checkpoint, caplog):
    long_prompt = "x = 1\n" * 200
    results = phi_client.run([Request(id="long", prompt=long_prompt, max_tokens=4), Request(id="ok", prompt="x = ", max_tokens=4)])
    assert results[0].ok and results[1].ok
    tok = _generator(tiny_checkpoint).tokenizer
    dropped = len(tok.encode(long_prompt)) - (128 - 4)
    assert "1 prompt was longer than the context (128 tokens)" in caplog.text
    assert f"'long': {dropped}" in caplog.text  # the warning names the request and how many tokens were cut
    assert (results[0].prompt_tokens_dropped, results[1].prompt_tokens_dropped) == (dropped, 0)
    again = phi_client.run([Request(id="long", prompt=long_prompt, max_tokens=4)])  # from the cache: still reported
    assert phi_client.last_usage.cache_hits == 1 and again[0].prompt_tokens_dropped == dropped
    tok = _generator(tiny_checkpoint).tokenizer
    tail = tok.decode(tok.encode(long_prompt)[-(128 - 4):])  # the rule: the last max_seq_len - max_tokens tokens
    assert results[0].texts[0] == sampler_text(tiny_checkpoint, tail, 4)
    assert results[0].usage["prompt_tokens"] == 124


def test_phi_backend_sample_i_is_the_samplers_sample_i_whatever_the_batch(phi_client, tiny_checkpoint):
    """One sampling path: the phi backend's sample i of a request equals the sampler's sample i of that
    prompt under the request's seed, however the client groups and batches requests."""
    from textbooks.model.generate import SamplingParams

    requests = [Request(id=f"r{i}", prompt=p, n=3, temperature=1.0, max_tokens=6, seed=4) for i, p in enumerate(PROMPTS)]
    got = phi_client.run(requests)
    direct = _generator(tiny_checkpoint).generate(PROMPTS, SamplingParams(max_new_tokens=6, temperature=1.0, seed=4, n=3))
    assert [r.texts for r in got] == [[c.text for c in cs] for cs in direct]


def test_hf_backend_greedy_equals_our_backend(tiny_checkpoint, phi_client):
    pytest.importorskip("transformers", reason="backend 'hf' needs the hf extra: pip install 'textbooks[hf]'")
    hf = LLMClient(LLMConfig(backend="hf", model=str(tiny_checkpoint), progress=False, device="cpu", batch_size=4))
    requests = [Request(id=i, prompt=p, max_tokens=6) for i, p in enumerate(PROMPTS)]
    requests.append(Request(id="greedy n=2", prompt=PROMPTS[0], max_tokens=6, n=2, stop=["\n\n"]))
    got = hf.run(requests)
    assert all(r.texts[0] for r in got)  # real text, not empty strings on both sides
    assert [r.texts for r in got] == [r.texts for r in phi_client.run(requests)]


@pytest.mark.gpu
def test_vllm_backend_greedy_equals_our_backend(tiny_checkpoint, phi_client):
    pytest.importorskip("vllm", reason="needs the gpu extra (pip install 'textbooks[gpu]') and a CUDA device")
    v = LLMClient(LLMConfig(backend="vllm", model=str(tiny_checkpoint), progress=False, dtype="float32"))
    requests = [Request(id=i, prompt=p, max_tokens=6) for i, p in enumerate(PROMPTS)]
    assert [r.texts for r in v.run(requests)] == [r.texts for r in phi_client.run(requests)]


def test_local_backends_refuse_an_extra_body_they_cannot_send(tiny_checkpoint, tmp_path, capsys):
    from textbooks.cli import main

    with pytest.raises(ValueError, match="cannot honour 'top_k'"):
        LLMConfig(backend="phi", model=str(tiny_checkpoint), extra_body={"top_k": 20})
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"id": 1, "prompt": "x = "}\n')
    assert main(["llm", "complete", "--backend", "phi", "--model", str(tiny_checkpoint), "--input", str(prompts),
                 "--out", str(tmp_path / "r.jsonl"), "--extra-body", '{"top_k": 20, "min_p": 0.1}', "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "'top_k', 'min_p'" in err and "--extra-body" in err and not (tmp_path / "r.jsonl").exists()


def test_llm_complete_reports_prompts_cut_to_fit(tiny_checkpoint, tmp_path, capsys):
    import json

    from textbooks.cli import main

    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "long", "prompt": "x = 1\n" * 200}) + "\n" + '{"id": "short", "prompt": "x = "}\n')
    out = tmp_path / "r.jsonl"
    assert main(["llm", "complete", "--backend", "phi", "--model", str(tiny_checkpoint), "--input", str(prompts),
                 "--out", str(out), "--max-tokens", "4", "--device", "cpu", "--no-progress"]) == 0
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["long"]["prompt_tokens_dropped"] > 0 and rows["short"]["prompt_tokens_dropped"] == 0
    err = capsys.readouterr().err
    assert "1 prompt was longer" in err and f"'long': {rows['long']['prompt_tokens_dropped']}" in err
    assert "2 samples (0 from cache), 1 call sent" in err  # plurals
