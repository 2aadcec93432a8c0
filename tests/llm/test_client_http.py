"""LLMClient against a real local HTTP server that injects faults (tests/llm/conftest.py)."""

from __future__ import annotations

import time

import pytest

from textbooks.llm import LLMClient, LLMConfig, LLMFatalError, Request

KEY_ENV = "TEXTBOOKS_TEST_LLM_KEY"


def make_config(url, tmp_path, **overrides):
    values = dict(backend="openai", base_url=url, model="test-model", cache_path=str(tmp_path / "cache.sqlite"),
                  api_key_env=KEY_ENV, concurrency=4, max_retries=5, timeout_s=0.5, connect_timeout_s=0.5,
                  backoff_base_s=0.01, backoff_max_s=0.1, progress=False)
    values.update(overrides)
    return LLMConfig(**values)


def test_every_fault_is_retried_until_every_id_completes(fault_server, tmp_path):
    faults = {
        "p429": ["429"], "p429date": ["429date"], "p500": ["500", "500"], "pslow": ["slow"],
        "pdrop": ["drop"], "pbadjson": ["badjson"], "pmix": ["500", "drop", "badjson"],
    }
    prompts = [*faults, "clean1", "clean2"]
    with fault_server(faults=faults) as server:
        client = LLMClient(make_config(server.url, tmp_path))
        results = client.run([Request(id=p, prompt=p, max_tokens=4) for p in prompts])
        assert [r.error for r in results] == [None] * len(prompts)
        assert [r.texts for r in results] == [[f"echo: {p} #0"] for p in prompts]
        for p in prompts:  # exactly one attempt per planned fault, plus the one that succeeded
            assert server.counts[p] == len(faults.get(p, [])) + 1, p
            assert server.served[p] == 1
        assert client.last_usage.retries == sum(len(f) for f in faults.values())
        assert client.last_usage.requests == sum(server.counts.values())
        assert client.last_usage.completion_tokens == 3 * len(prompts)  # the fake server bills 3 per choice

        # Retry-After was honoured: the retry came no sooner than the server asked.
        times = {p: [t for t, q in server.arrivals if q == p] for p in ("p429", "p429date")}
        assert times["p429"][1] - times["p429"][0] >= 1.0
        assert times["p429date"][1] - times["p429date"][0] >= 1.0  # a date 2 s ahead, 1 s resolution

        # A second run is served from the cache: nothing is sent.
        before = sum(server.counts.values())
        again = LLMClient(make_config(server.url, tmp_path)).run([Request(id=p, prompt=p, max_tokens=4) for p in prompts])
        assert sum(server.counts.values()) == before
        assert [r.texts for r in again] == [r.texts for r in results]
        assert all(r.cached == 1 for r in again)


def test_permanent_errors_are_not_retried_and_do_not_stop_the_others(fault_server, tmp_path):
    with fault_server(faults={"long": ["400ctx"]}) as server:
        results = LLMClient(make_config(server.url, tmp_path)).run(
            [Request(id="a", prompt="long"), Request(id="b", prompt="fine")])
        assert server.counts["long"] == 1
        assert results[0].error and "400" in results[0].error and "context" in results[0].error
        assert "max-tokens" in results[0].error  # the hint says what to change
        assert results[1].ok and results[1].texts == ["echo: fine #0"]


def test_retries_exhausted_fail_only_that_request(fault_server, tmp_path):
    with fault_server(faults={"bad": ["500"] * 10}) as server:
        results = LLMClient(make_config(server.url, tmp_path, max_retries=2)).run(
            [Request(id=1, prompt="bad"), Request(id=2, prompt="good")])
        assert server.counts["bad"] == 3
        assert "gave up after 3 attempts" in results[0].error and "500" in results[0].error
        assert results[1].ok


def test_bad_key_fails_fast_naming_the_variable_never_the_key(fault_server, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(KEY_ENV, "sk-wrong-secret-123")
    with fault_server(api_key="sk-right-secret-456") as server:
        with pytest.raises(LLMFatalError) as info:
            LLMClient(make_config(server.url, tmp_path)).run([Request(id=i, prompt=f"p{i}") for i in range(20)])
        message = str(info.value)
        assert "401" in message and server.url in message and f"${KEY_ENV}" in message
        assert "sk-wrong-secret-123" not in message
        assert sum(server.counts.values()) <= 4  # stopped at once (at most the calls already in flight)

        monkeypatch.setenv(KEY_ENV, "sk-right-secret-456")
        results = LLMClient(make_config(server.url, tmp_path)).run([Request(id=1, prompt="ok")])
        assert results[0].ok
    stored = (tmp_path / "cache.sqlite").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("cache.sqlite-*"))
    assert b"secret" not in stored
    assert "secret" not in caplog.text


def test_unknown_model_lists_the_servers_models(fault_server, tmp_path):
    with fault_server(models=["coder-7b", "judge-70b"]) as server:
        with pytest.raises(LLMFatalError) as info:
            LLMClient(make_config(server.url, tmp_path, model="gpt-nope")).run([Request(id=1, prompt="x")])
        message = str(info.value)
        assert "404" in message and "coder-7b" in message and "judge-70b" in message and "--model" in message


def test_unreachable_server_names_the_url(tmp_path, dead_url):
    url = dead_url
    start = time.monotonic()
    with pytest.raises(LLMFatalError) as info:
        LLMClient(make_config(url, tmp_path, max_retries=2)).run([Request(id=i, prompt=f"p{i}") for i in range(5)])
    assert url in str(info.value) and "cannot connect" in str(info.value)
    assert time.monotonic() - start < 10


def test_n_samples_are_cached_per_index_so_raising_n_sends_only_new_ones(fault_server, tmp_path):
    with fault_server() as server:
        client = LLMClient(make_config(server.url, tmp_path, max_n_per_call=8))
        first = client.run([Request(id="a", prompt="q", n=2, temperature=0.8)])
        assert first[0].texts == ["echo: q #0", "echo: q #1"]
        more = client.run([Request(id="a", prompt="q", n=5, temperature=0.8)])
        assert server.choices_served["q"] == 5  # 2 then the 3 missing
        assert more[0].texts[:2] == first[0].texts and len(more[0].texts) == 5
        assert more[0].cached == 2
        assert server.bodies[-1]["n"] == 3 and "seed" not in server.bodies[-1]  # no seed: n samples in one call


def test_seeded_samples_are_one_call_each_with_a_seed_derived_from_seed_prompt_and_index(fault_server, tmp_path):
    """The seed rule through an endpoint: every (prompt, sample) has its own seed, whatever else is asked."""
    from textbooks.text import derive_seed

    with fault_server() as server:
        client = LLMClient(make_config(server.url, tmp_path, max_n_per_call=8))
        client.run([Request(id="a", prompt="q", n=2, temperature=0.8, seed=1),
                    Request(id="b", prompt="r", n=1, temperature=0.8, seed=1)])
        client.run([Request(id="a", prompt="q", n=3, temperature=0.8, seed=1)])  # only sample 2 is new
        seeds = sorted((b["prompt"], b["seed"]) for b in server.bodies)
        assert all("n" not in b for b in server.bodies)
        assert seeds == sorted([("q", derive_seed(1, "q", i, bits=31)) for i in range(3)] + [("r", derive_seed(1, "r", 0, bits=31))])
        assert len({s for _, s in seeds}) == 4  # no two tasks or samples share a seed


def test_servers_that_ignore_n_still_give_all_samples(fault_server, tmp_path):
    with fault_server(ignore_n=True) as server:
        results = LLMClient(make_config(server.url, tmp_path)).run([Request(id="a", prompt="q", n=3, temperature=1.0)])
        assert len(results[0].texts) == 3 and results[0].ok
        assert server.counts["q"] == 3


def test_chat_requests_use_the_chat_endpoint(fault_server, tmp_path):
    with fault_server() as server:
        results = LLMClient(make_config(server.url, tmp_path)).run([
            Request(id="m", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]),
            Request(id="p", prompt="hello", chat=True),
        ])
        assert [r.texts for r in results] == [["echo: hi #0"], ["echo: hello #0"]]
        assert all("messages" in b for b in server.bodies)


def test_concurrency_is_bounded(fault_server, tmp_path):
    with fault_server(delay_s=0.15) as server:
        LLMClient(make_config(server.url, tmp_path, concurrency=2)).run([Request(id=i, prompt=f"p{i}") for i in range(8)])
        assert server.max_in_flight == 2


def test_requests_per_minute_pacing_is_respected(fault_server, tmp_path):
    with fault_server() as server:
        rpm = 120  # one call every 0.5 s
        LLMClient(make_config(server.url, tmp_path, rpm=rpm, concurrency=8)).run(
            [Request(id=i, prompt=f"p{i}") for i in range(7)])
        times = sorted(t for t, _ in server.arrivals)
        assert len(times) == 7
        rate_per_min = (len(times) - 1) / (times[-1] - times[0]) * 60
        # Slack for arrival jitter on a busy machine; without pacing all 7 arrive within milliseconds.
        assert rate_per_min <= rpm * 1.1
        assert min(b - a for a, b in zip(times, times[1:])) >= 0.3  # evenly paced, not a burst


def test_run_works_inside_a_running_event_loop(fault_server, tmp_path):
    import asyncio

    async def notebook_cell():  # Jupyter runs cells inside an event loop
        return LLMClient(make_config(server.url, tmp_path)).run([Request(id=("task", 1), prompt="x")])

    with fault_server() as server:
        results = asyncio.run(notebook_cell())
    assert results[0].id == ("task", 1) and results[0].texts == ["echo: x #0"]


def test_a_server_trickling_its_body_hits_the_whole_call_deadline_and_is_retried(fault_server, tmp_path):
    # the body takes ~20 s at one byte per 0.3 s; every single read is fast, so only a deadline stops it
    with fault_server(faults={"trickle": ["trickle"]}) as server:
        client = LLMClient(make_config(server.url, tmp_path))
        t0 = time.monotonic()
        result = client.run([Request(id="t", prompt="trickle", max_tokens=4)])[0]
        assert result.error is None and result.texts == ["echo: trickle #0"]
        assert time.monotonic() - t0 < 5  # the deadline is timeout_s + connect_timeout_s = 1 s, then one retry
        assert server.counts["trickle"] == 2


def test_a_password_in_the_url_is_never_part_of_the_cache_key(tmp_path):
    from textbooks.llm.config import redact_url

    assert redact_url("http://user:secret@127.0.0.1:8000/v1") == "http://***@127.0.0.1:8000/v1"
    assert redact_url("https://api.example.com/v1") == "https://api.example.com/v1"
    client = LLMClient(make_config("http://user:secret@127.0.0.1:9/v1", tmp_path))
    assert "secret" not in str(client.identity(Request(id=1, prompt="p")))
