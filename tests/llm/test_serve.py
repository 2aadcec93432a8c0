"""`textbooks serve` with a tiny random model: the official `openai` client, our client, greedy parity."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
openai = pytest.importorskip("openai", reason="the official client is in the dev extra: pip install 'textbooks[dev]'")

from textbooks.llm import LLMClient, LLMConfig, Request  # noqa: E402
from textbooks.llm.chat import CHAT_STOP, render_chat  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PROMPTS = ["def add(a, b):\n", "class Stack:\n    def push(self, x):", "import os\n"]


@pytest.fixture(scope="module")
def server(tiny_checkpoint):
    from textbooks.llm.serve import Server
    from textbooks.model.generate import Generator

    srv = Server(Generator.from_pretrained(tiny_checkpoint, device="cpu"), "tiny-phi", port=0, max_batch=8, max_wait_ms=20).start()
    yield srv
    srv.shutdown()


@pytest.fixture(scope="module")
def reference(tiny_checkpoint):
    """An independent in-process copy of the model, for parity."""
    from textbooks.model import Phi
    from textbooks.model.generate import SamplingParams, generate
    from textbooks.tokenizer import load_tokenizer

    model, tok = Phi.from_pretrained(tiny_checkpoint, device="cpu"), load_tokenizer(tiny_checkpoint)

    def run(prompt: str, max_tokens: int, stop=()) -> str:
        params = SamplingParams(max_new_tokens=max_tokens, temperature=0.0, stop=list(stop))
        return generate(model, tok, [prompt], params, batch_size=1)[0][0].text

    return run


def test_openai_client_completions_equal_the_in_process_sampler(server, reference):
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list().data] == ["tiny-phi"]
    response = client.completions.create(model="tiny-phi", prompt=PROMPTS, max_tokens=12, temperature=0)
    assert [c.text for c in sorted(response.choices, key=lambda c: c.index)] == [reference(p, 12) for p in PROMPTS]
    assert response.usage.completion_tokens > 0 and response.usage.prompt_tokens > 0
    one = client.completions.create(model="tiny-phi", prompt=PROMPTS[1], max_tokens=5, temperature=0, stop=["\n"])
    assert one.choices[0].text == reference(PROMPTS[1], 5, stop=["\n"])
    assert one.choices[0].finish_reason in ("stop", "length")


def test_openai_client_chat_uses_the_documented_template(server, reference):
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    messages = [{"role": "system", "content": "You write Python."}, {"role": "user", "content": "add two numbers"}]
    response = client.chat.completions.create(model="tiny-phi", messages=messages, max_tokens=10, temperature=0)
    assert response.choices[0].message.role == "assistant"
    assert response.choices[0].message.content == reference(render_chat(messages), 10, stop=CHAT_STOP)
    assert render_chat(messages).endswith("### User:\nadd two numbers\n\n### Assistant:\n")


def test_sampling_with_a_seed_is_reproducible_and_n_gives_n_choices(server):
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    kwargs = dict(model="tiny-phi", prompt=PROMPTS[0], max_tokens=8, temperature=1.0, n=3, seed=7)
    first, second = (client.completions.create(**kwargs) for _ in range(2))
    assert len(first.choices) == 3
    assert [c.text for c in first.choices] == [c.text for c in second.choices]


def test_clear_errors_for_unknown_model_and_too_long_prompts(server):
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError, match="tiny-phi"):
        client.completions.create(model="gpt-4", prompt="x", max_tokens=2)
    with pytest.raises(openai.BadRequestError, match="maximum context length is 128"):
        client.completions.create(model="tiny-phi", prompt="x", max_tokens=500)
    with pytest.raises(openai.BadRequestError, match="stream"):
        client.completions.create(model="tiny-phi", prompt="x", max_tokens=2, stream=True)


def test_our_client_against_serve_equals_the_sampler(server, reference, tiny_checkpoint, tmp_path):
    config = LLMConfig(base_url=server.url, model="tiny-phi", cache_path=str(tmp_path / "c.sqlite"), concurrency=3, progress=False)
    results = LLMClient(config).run([Request(id=i, prompt=p, max_tokens=6) for i, p in enumerate(PROMPTS)])
    assert [r.texts for r in results] == [[reference(p, 6)] for p in PROMPTS]
    # And the phi backend (in process, no server) gives the same greedy texts.
    local = LLMClient(LLMConfig(backend="phi", model=str(tiny_checkpoint), progress=False, device="cpu"))
    assert [r.texts for r in local.run([Request(id=i, prompt=p, max_tokens=6) for i, p in enumerate(PROMPTS)])] == [r.texts for r in results]


def test_waiting_requests_are_decoded_as_one_batch(tiny_checkpoint, reference):
    from concurrent.futures import ThreadPoolExecutor

    from textbooks.llm.serve import BatchingEngine
    from textbooks.model.generate import Generator, SamplingParams

    engine = BatchingEngine(Generator.from_pretrained(tiny_checkpoint, device="cpu"), max_batch=8, max_wait_ms=1)
    params = SamplingParams(max_new_tokens=6, temperature=0.0)
    with ThreadPoolExecutor(3) as pool:  # submitted before the engine runs: all three wait in its queue
        futures = [pool.submit(engine.submit, [p], params) for p in PROMPTS]
        while engine.queue.qsize() < 3:
            time.sleep(0.01)
        engine.start()
        outs = [f.result(timeout=60) for f in futures]
    engine.stop()
    assert engine.batches_run == 1
    assert [o[0][0].text for o in outs] == [reference(p, 6) for p in PROMPTS]


def test_serve_command_starts_and_answers(tiny_checkpoint):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "textbooks", "serve", str(tiny_checkpoint), "--port", "0", "--device", "cpu"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            if m := re.search(r"(http://127\.0\.0\.1:\d+/v1)", line):
                url = m.group(1)
        assert url, "the server did not print its URL"
        with urllib.request.urlopen(f"{url}/models", timeout=30) as r:
            assert json.loads(r.read())["data"][0]["id"] == "tiny-phi"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_command_rejects_a_directory_without_a_checkpoint(tmp_path, capsys):
    from textbooks.cli import main

    assert main(["serve", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err
