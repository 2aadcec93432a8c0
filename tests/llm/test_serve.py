"""`textbooks serve` with a tiny random model: the official `openai` client, our client, greedy parity,
seeds under concurrency, streaming, logprobs, refused fields, quiet disconnects."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
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
    with pytest.raises(openai.BadRequestError, match="max_tokens=128 leaves no room"):
        client.completions.create(model="tiny-phi", prompt="x", max_tokens=128)


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


# --- issue 9: one sampling path, no silently ignored fields ----------------------------------------------

def _post(server, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"{server.url}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def patient_server(server):
    """The same model, waiting long enough (300 ms) for concurrent requests to share a batch even on a busy machine."""
    from textbooks.llm.serve import Server

    srv = Server(server.generator, "tiny-phi", port=0, max_batch=32, max_wait_ms=300).start()
    yield srv
    srv.shutdown()


def test_a_seeded_request_gives_the_same_output_alone_and_among_8_concurrent_ones(patient_server):
    """N identical seeded requests sent at once (decoded as one batch) each equal the request sent alone."""
    from concurrent.futures import ThreadPoolExecutor

    server = patient_server
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    kwargs = dict(model="tiny-phi", prompt=PROMPTS[1], max_tokens=12, temperature=1.0, seed=11, n=2)
    alone = [c.text for c in client.completions.create(**kwargs).choices]
    before = server.engine.batches_run
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda _: [c.text for c in client.completions.create(**kwargs).choices], range(8)))
    assert server.engine.batches_run - before < 8, "the concurrent requests should have shared batches"
    assert together == [alone] * 8
    assert len(set(alone)) == 2  # the two samples differ: the seed is per sample, not per request
    # Mixed with other requests, too: a chat request and another prompt in flight do not change it.
    with ThreadPoolExecutor(3) as pool:
        other = pool.submit(client.completions.create, model="tiny-phi", prompt=PROMPTS[0], max_tokens=12, temperature=1.0, seed=11, n=2)
        again = pool.submit(client.completions.create, **kwargs)
        assert [c.text for c in again.result().choices] == alone and other.result()


@pytest.mark.parametrize("route, field, value", [
    ("/completions", "logit_bias", {"5": 10}),
    ("/completions", "frequency_penalty", 0.5),
    ("/completions", "presence_penalty", -1.0),
    ("/completions", "best_of", 3),
    ("/completions", "echo", True),
    ("/completions", "suffix", "x"),
    ("/completions", "top_k", 5),
    ("/chat/completions", "response_format", {"type": "json_object"}),
    ("/chat/completions", "tools", [{"type": "function", "function": {"name": "f"}}]),
    ("/chat/completions", "logit_bias", {"5": 10}),
    ("/chat/completions", "presence_penalty", 0.3),
    ("/chat/completions", "stream_options", {"include_usage": True}),  # without stream
])
def test_every_field_that_is_not_implemented_is_refused_with_a_400_naming_it(server, route, field, value):
    body = {"model": "tiny-phi", "max_tokens": 2, field: value}
    body.update({"messages": [{"role": "user", "content": "hi"}]} if route.startswith("/chat") else {"prompt": "x"})
    status, answer = _post(server, route, body)
    assert status == 400
    assert answer["error"]["param"] == field and f"'{field}'" in answer["error"]["message"]


def test_no_op_values_of_unimplemented_fields_are_accepted(server):
    status, answer = _post(server, "/completions", {
        "model": "tiny-phi", "prompt": "x", "max_tokens": 2, "temperature": 0, "frequency_penalty": 0,
        "presence_penalty": 0.0, "logit_bias": {}, "best_of": 1, "echo": False, "user": "me", "suffix": None})
    assert status == 200 and answer["choices"][0]["text"] is not None


def test_logprobs_for_small_k_are_the_models(server, tiny_checkpoint):
    from textbooks.model.generate import SamplingParams

    gen = server.generator
    expected = gen.generate([PROMPTS[0]], SamplingParams(max_new_tokens=4, logprobs=2))[0][0]
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    got = client.completions.create(model="tiny-phi", prompt=PROMPTS[0], max_tokens=4, temperature=0, logprobs=2).choices[0]
    assert got.logprobs.token_logprobs == pytest.approx([lp.logprob for lp in expected.logprobs], abs=1e-5)
    assert "".join(got.logprobs.tokens) == got.text == expected.text
    assert all(len(top) in (2, 3) for top in got.logprobs.top_logprobs)  # k alternatives (+ the chosen token)
    zero = client.completions.create(model="tiny-phi", prompt=PROMPTS[0], max_tokens=3, temperature=0, logprobs=0).choices[0]
    assert len(zero.logprobs.token_logprobs) == 3  # logprobs=0: the chosen tokens' log-probabilities (was ignored)
    chat = client.chat.completions.create(model="tiny-phi", messages=[{"role": "user", "content": "hi"}], max_tokens=3,
                                          temperature=0, logprobs=True, top_logprobs=2).choices[0]
    assert len(chat.logprobs.content) >= 1 and all(len(t.top_logprobs) == 2 for t in chat.logprobs.content)
    assert "".join(t.token for t in chat.logprobs.content).startswith(chat.message.content)
    with pytest.raises(openai.BadRequestError, match="logprobs"):
        client.completions.create(model="tiny-phi", prompt="x", max_tokens=2, logprobs=6)


def test_streaming_is_read_by_the_openai_client_and_equals_the_whole_answer(server):
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    for kwargs in (dict(temperature=0), dict(temperature=1.0, seed=3, n=2), dict(temperature=0, stop=["\n", "ab"])):
        whole = client.completions.create(model="tiny-phi", prompt=PROMPTS, max_tokens=16, **kwargs)
        parts: dict = {}
        finish: dict = {}
        for chunk in client.completions.create(model="tiny-phi", prompt=PROMPTS, max_tokens=16, stream=True, **kwargs):
            for c in chunk.choices:
                parts[c.index] = parts.get(c.index, "") + c.text
                if c.finish_reason:
                    finish[c.index] = c.finish_reason
        assert parts == {c.index: c.text for c in whole.choices}
        assert finish == {c.index: c.finish_reason for c in whole.choices}
    messages = [{"role": "user", "content": "add two numbers"}]
    whole = client.chat.completions.create(model="tiny-phi", messages=messages, max_tokens=10, temperature=0)
    stream = client.chat.completions.create(model="tiny-phi", messages=messages, max_tokens=10, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens and chunks[-1].choices == []


def test_stream_never_sends_the_start_of_a_stop_string(server):
    from textbooks.llm.serve import _StreamChoice

    tok = server.tokenizer
    choice = _StreamChoice(tok, ["# stop"])
    sent = "".join(choice.push(t) for t in tok.encode("x = 1  # stop here"))
    assert sent == "x = 1  " and choice.stopped


def test_models_by_id(server):
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    assert client.models.retrieve("tiny-phi").id == "tiny-phi"
    with pytest.raises(openai.NotFoundError, match="tiny-phi"):
        client.models.retrieve("gpt-4")


def test_our_client_reports_the_prompt_tokens_the_server_dropped(server, tmp_path):
    config = LLMConfig(base_url=server.url, model="tiny-phi", cache_path=str(tmp_path / "c.sqlite"), progress=False)
    long_prompt = "x = 1\n" * 200
    n = len(server.tokenizer.encode(long_prompt))
    for _ in range(2):  # sent, then from the cache
        results = LLMClient(config).run([Request(id="long", prompt=long_prompt, max_tokens=8, n=2, temperature=1.0, seed=1),
                                         Request(id="short", prompt="x", max_tokens=8)])
        assert [r.prompt_tokens_dropped for r in results] == [n - 120, 0]


def test_a_long_prompt_keeps_its_end_and_the_cut_is_reported(server, reference):
    tok = server.tokenizer
    long_prompt = "x = 1\n" * 200
    status, answer = _post(server, "/completions", {"model": "tiny-phi", "prompt": long_prompt, "max_tokens": 8, "temperature": 0})
    assert status == 200
    n = len(tok.encode(long_prompt))
    assert answer["usage"]["prompt_tokens"] == 120 and answer["usage"]["prompt_tokens_dropped"] == n - 120
    assert answer["choices"][0]["text"] == reference(tok.decode(tok.encode(long_prompt)[-120:]), 8)


def test_a_client_that_hangs_up_is_logged_quietly(server, caplog):
    import logging
    import socket
    import struct

    caplog.set_level(logging.DEBUG, logger="textbooks.llm.serve")
    for stream in (False, True):
        body = json.dumps({"model": "tiny-phi", "prompt": PROMPTS[0], "max_tokens": 100, "temperature": 0, "stream": stream}).encode()
        host, port = server.httpd.server_address[:2]
        sock = socket.create_connection((host, port))
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        sock.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("disconnect" in r.getMessage() or r.levelno >= logging.ERROR
                                                      for r in caplog.records):
            time.sleep(0.05)
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
        assert any("disconnected" in r.getMessage() and r.levelno == logging.INFO for r in caplog.records)
        caplog.clear()
    # and the server goes on
    assert _post(server, "/completions", {"model": "tiny-phi", "prompt": "x", "max_tokens": 2})[0] == 200


# --- review of issue 9: retries, cancellation, limits, HTTP faults, batching across seeds, strict fields ----

class _ScriptedGenerator:
    """A stand-in model for the engine: every (prompt, sample) streams tokens `script(prompt, seed, attempt)`;
    a call with more than one prompt fails after `fail_after` tokens (an out-of-memory on the grouped batch)."""

    def __init__(self, script, fail_after=None):
        self.script, self.fail_after, self.calls = script, fail_after, []

    def generate(self, prompts, params, batch_size=8, on_token=None, seeds=None, cancelled=None):
        from textbooks.model.generate import Completion

        self.calls.append(list(prompts))
        outs, sent = [], 0
        for i, p in enumerate(prompts):
            tokens = self.script(p, seeds[i], len(self.calls))
            for t in tokens:
                if self.fail_after is not None and len(prompts) > 1 and sent == self.fail_after:
                    raise RuntimeError("CUDA out of memory (scripted)")
                on_token(i, 0, t)
                sent += 1
            outs.append([Completion("", list(tokens), "length", 1)])
        return outs


def _engine_jobs(generator, jobs):
    from textbooks.llm.serve import BatchingEngine

    engine = BatchingEngine(generator, max_batch=8, max_wait_ms=1)
    futures = [engine.enqueue(j) for j in jobs]  # queued before the engine runs: one grouped batch
    engine.start()
    try:
        return engine, [f.exception(timeout=30) or f.result() for f in futures]
    finally:
        engine.stop()


def test_a_failed_batch_retried_one_by_one_never_streams_a_token_twice():
    from textbooks.llm.serve import Job
    from textbooks.model.generate import SamplingParams

    streamed = {0: [], 1: []}
    jobs = [Job([f"p{k}"], SamplingParams(max_new_tokens=4, temperature=1.0, seed=k),
                on_token=lambda i, j, t, k=k: streamed[k].append(t)) for k in (0, 1)]
    gen = _ScriptedGenerator(lambda p, seed, attempt: [10 * seed + x for x in range(4)], fail_after=5)
    _, outs = _engine_jobs(gen, jobs)
    assert len(gen.calls) == 3  # the grouped batch (failed after 5 tokens), then each job alone
    assert streamed == {0: [0, 1, 2, 3], 1: [10, 11, 12, 13]}  # each token once, in order
    assert [o[0][0].token_ids for o in outs] == [[0, 1, 2, 3], [10, 11, 12, 13]]


def test_a_retry_that_would_stream_other_tokens_fails_the_stream_cleanly():
    from textbooks.llm.serve import Job, StreamDiverged
    from textbooks.model.generate import SamplingParams

    streamed = []
    jobs = [Job([f"p{k}"], SamplingParams(max_new_tokens=4, temperature=1.0, seed=k),
                on_token=lambda i, j, t: streamed.append(t)) for k in (0, 1)]
    gen = _ScriptedGenerator(lambda p, seed, attempt: [attempt, 7, 8, 9], fail_after=2)  # the first token moves
    _, outs = _engine_jobs(gen, jobs)
    assert isinstance(outs[0], StreamDiverged) and streamed.count(1) == 1  # no second copy of what was sent


def test_requests_with_different_seeds_share_a_batch_and_equal_solo_requests(tiny_checkpoint):
    from textbooks.llm.serve import BatchingEngine, Job
    from textbooks.model.generate import Generator, SamplingParams

    gen = Generator.from_pretrained(tiny_checkpoint, device="cpu")
    params = [SamplingParams(max_new_tokens=8, temperature=1.0, seed=s, n=2) for s in (1, 2, 3)]
    solo = [gen.generate([PROMPTS[0]], p)[0] for p in params]
    engine, outs = _engine_jobs(gen, [Job([PROMPTS[0]], p) for p in params])
    assert engine.batches_run == 1
    assert [[c.token_ids for c in o[0]] for o in outs] == [[c.token_ids for c in s] for s in solo]
    assert len({tuple(o[0][0].token_ids) for o in outs}) > 1  # the seeds did matter


@pytest.fixture(scope="module")
def strict_server(server):
    """The same model with small limits and a short per-connection timeout."""
    from textbooks.llm.serve import Limits, Server

    srv = Server(server.generator, "tiny/phi 1", port=0, max_batch=8, max_wait_ms=1,
                 limits=Limits(max_n=4, max_prompts=3, max_body_bytes=4096, request_timeout_s=0.5, max_connections=6)).start()
    yield srv
    srv.shutdown()


def _raw(server, data: bytes, wait_s: float = 10.0) -> bytes:
    """Send raw bytes on a fresh connection; what came back until the server closed it (or wait_s)."""
    import socket

    host, port = server.httpd.server_address[:2]
    with socket.create_connection((host, port), timeout=wait_s) as sock:
        sock.sendall(data)
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return out


def _status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0


GOOD = json.dumps({"model": "tiny/phi 1", "prompt": "x", "max_tokens": 2, "temperature": 0}).encode()


@pytest.mark.parametrize("headers, body, status", [
    (b"Content-Length: -1\r\n", GOOD, 400),
    (b"Content-Length: abc\r\n", GOOD, 400),
    (b"Content-Length: 99999999999999999999\r\n", GOOD, 413),
    (b"", GOOD, 411),  # no length at all
    (b"Content-Length: %d\r\n" % (len(GOOD) + 50), GOOD, 408),  # promises more than it sends: timed out, not hung
    (b"Transfer-Encoding: gzip\r\n", GOOD, 400),
])
def test_bad_request_framing_gets_a_clear_4xx_and_the_connection_is_closed(strict_server, headers, body, status):
    start = time.monotonic()
    reply = _raw(strict_server, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + body)
    assert _status(reply) == status and time.monotonic() - start < 5
    assert b"Connection: close" in reply


def test_a_chunked_body_is_read_and_the_connection_serves_the_next_request(strict_server):
    half = len(GOOD) // 2
    chunked = b"%x\r\n%s\r\n%x;ext=1\r\n%s\r\n0\r\n\r\n" % (half, GOOD[:half], len(GOOD) - half, GOOD[half:])
    request = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    follow = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    reply = _raw(strict_server, request + follow)
    assert reply.count(b"HTTP/1.1 200") == 2 and b'"text_completion"' in reply and b'"status": "ok"' in reply


def test_silent_connections_are_cut_off_and_their_number_is_bounded(strict_server):
    import socket

    host, port = strict_server.httpd.server_address[:2]
    idle = [socket.create_connection((host, port)) for _ in range(6)]  # slowloris: connect, send nothing
    try:
        time.sleep(0.1)
        assert _status(_raw(strict_server, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", wait_s=2)) == 503
        time.sleep(1.0)  # past the 0.5 s timeout the idle ones are closed and their slots freed
        for sock in idle:
            sock.settimeout(2)
            assert sock.recv(100) == b""
    finally:
        for sock in idle:
            sock.close()
    assert _status(_raw(strict_server, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == 200


@pytest.mark.parametrize("raw_field, param", [
    (b'"max_tokens": 1e400', "max_tokens"),
    (b'"n": -Infinity', None),  # not JSON at all: NaN and Infinity are refused by the parser
    (b'"temperature": NaN', None),
    (b'"prompt": "\\ud800"', "prompt"),
    (b'"seed": 1, "seed": "x"', None),  # a key twice: ambiguous, refused rather than last-wins
])
def test_json_numbers_and_strings_that_are_not_values_get_a_400(strict_server, raw_field, param):
    base = {b'"prompt"': b'"prompt": "x"', b'"max_tokens"': b'"max_tokens": 2'}
    fields = [b'"model": "tiny/phi 1"'] + [v for k, v in base.items() if not raw_field.startswith(k)] + [raw_field]
    body = b"{" + b", ".join(fields) + b"}"
    reply = _raw(strict_server, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))
    assert _status(reply) == 400, reply
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]["param"] == param


@pytest.mark.parametrize("route, extra, param, words", [
    ("/completions", {"n": 5}, "n", "at most 4"),
    ("/completions", {"n": 10**7}, "n", "--max-n"),
    ("/completions", {"prompt": ["a", "b", "c", "d"]}, "prompt", "at most 3"),
    ("/completions", {"stop": ""}, "stop", "non-empty"),
    ("/completions", {"best_of": True}, "best_of", "integer"),
    ("/completions", {"temperature": 1e6}, "temperature", "0..2"),
    ("/completions", {"top_p": 2}, "top_p", "(0, 1]"),
    ("/completions", {"stream": True, "stream_options": {"include_usage": "no"}}, "stream_options", "true or false"),
    ("/completions", {"echo": "false"}, "echo", "echo"),
    ("/chat/completions", {"max_tokens": 3, "max_completion_tokens": 4}, "max_completion_tokens", "'max_tokens' (3)"),
    ("/chat/completions", {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi",
                                                                      "cache_control": {"type": "ephemeral"}}]}]},
     "messages", "cache_control"),
    ("/chat/completions", {"logprobs": 1}, "logprobs", "true or false"),
])
def test_loosely_checked_fields_are_refused_with_a_400_naming_them(strict_server, route, extra, param, words):
    body = {"model": "tiny/phi 1", "max_tokens": 2}
    body.update({"messages": [{"role": "user", "content": "hi"}]} if route.startswith("/chat") else {"prompt": "x"})
    body.update(extra)
    status, answer = _post(strict_server, route, body)
    assert status == 400 and answer["error"]["param"] == param, answer
    assert words in answer["error"]["message"]


def test_equal_max_tokens_and_a_percent_encoded_model_id_are_fine(strict_server):
    status, _ = _post(strict_server, "/chat/completions", {"model": "tiny/phi 1", "messages": [{"role": "user", "content": "hi"}],
                                                            "max_tokens": 2, "max_completion_tokens": 2})
    assert status == 200
    with urllib.request.urlopen(f"{strict_server.url}/models/tiny%2Fphi%201", timeout=30) as r:
        assert json.loads(r.read())["id"] == "tiny/phi 1"


def test_a_tiny_positive_temperature_is_greedy_not_a_500(server, reference):
    status, answer = _post(server, "/completions", {"model": "tiny-phi", "prompt": PROMPTS[0], "max_tokens": 6,
                                                     "temperature": 1e-39, "seed": 1})
    assert status == 200 and answer["choices"][0]["text"] == reference(PROMPTS[0], 6)


def test_logprob_tokens_are_one_per_generated_token_and_join_to_the_text(server):
    """Multi-byte characters split over tokens (this random model emits lone bytes), and stop strings cut off
    the end: one entry per generated token, and the token texts join to the returned text."""
    byte_tokens = 0
    for stop in (None, ["\n"], [" "]):
        for prompt in PROMPTS + ["é", "日本"]:
            body = {"model": "tiny-phi", "prompt": prompt, "max_tokens": 24, "temperature": 0, "logprobs": 3}
            if stop:
                body["stop"] = stop
            for route in ("/completions", "/chat/completions"):
                if route == "/chat/completions":
                    body = {k: v for k, v in body.items() if k not in ("prompt", "logprobs")}
                    body.update(messages=[{"role": "user", "content": prompt}], logprobs=True, top_logprobs=3)
                status, answer = _post(server, route, body)
                assert status == 200, answer
                choice, used = answer["choices"][0], answer["usage"]["completion_tokens"]
                if route == "/completions":
                    lp, text = choice["logprobs"], choice["text"]
                    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == used
                    assert "".join(lp["tokens"]) == text
                    assert lp["text_offset"] == [sum(len(t) for t in lp["tokens"][:k]) for k in range(used)]
                    assert all(o <= len(text) for o in lp["text_offset"])
                    assert all(len(top) >= 3 for top in lp["top_logprobs"])  # distinct keys: none collapsed
                    byte_tokens += sum(1 for top in lp["top_logprobs"] for key in top if key.startswith("bytes:"))
                else:
                    content = choice["logprobs"]["content"]
                    assert len(content) == used and "".join(t["token"] for t in content) == choice["message"]["content"]
                    assert all(len({t["token"] for t in e["top_logprobs"]}) == 3 for e in content)
    assert byte_tokens > 0, "the test should meet tokens that are parts of a character"


def test_the_names_of_alternatives_keep_byte_tokens_apart(server):
    tok = server.tokenizer
    partial = [i for i in range(tok.vocab_size) if "\ufffd" in tok.decode([i])]
    assert len(partial) >= 2, "the tiny tokenizer has byte tokens that are not whole characters"
    names = {server._token_name(i) for i in partial}
    assert len(names) == len(partial) and all(n.startswith("bytes:\\x") for n in names)


def _hang_up_after_sending(server, body: dict) -> None:
    import socket

    data = json.dumps(body).encode()
    host, port = server.httpd.server_address[:2]
    sock = socket.create_connection((host, port))
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
    time.sleep(0.3)  # decoding has started
    sock.close()  # what a client that times out does


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_hangs_up_has_its_decoding_cancelled(server, stream):
    from textbooks.llm.serve import Server

    srv = Server(server.generator, "tiny-phi", port=0, max_batch=8, max_wait_ms=1).start()
    try:
        n, max_tokens = 64, 100  # 6400 tokens: many seconds of decoding on one CPU thread
        _hang_up_after_sending(srv, {"model": "tiny-phi", "prompt": "x = [", "max_tokens": max_tokens, "n": n,
                                     "temperature": 1.0, "seed": 0, "stream": stream, "stop": ["\x00never"]})
        start = time.monotonic()
        status, _ = _post(srv, "/completions", {"model": "tiny-phi", "prompt": "x", "max_tokens": 1})  # waits behind it
        assert status == 200
        assert srv.engine.tokens_decoded < n * max_tokens / 2, "the hung-up request was decoded to the end"
        assert time.monotonic() - start < 30
    finally:
        srv.shutdown()
