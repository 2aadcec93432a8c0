"""The sampler: KV cache == full recomputation, batched == one at a time, stop strings, seeds, top-p, EOS.

Models are tiny and random; `init_std` is raised so logits are peaked and greedy choices are not
decided by float noise (random N(0, 0.02) models give near-ties that make token identity luck).
"""

from __future__ import annotations

import json

import pytest
import torch

from textbooks.model import KVCache, Phi, PhiConfig
from textbooks.model.generate import (
    Completion,
    IncrementalDecoder,
    SamplingParams,
    _choose,
    _Sequence,
    cut_at_stop,
    generate,
    generate_ids,
)

PROMPTS = [
    "def add(a, b):\n",
    "class Stack:\n    def push(self, x):",
    "import os\n",
    "def fibonacci(n: int) -> int:\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "x = ",
    "# sorting\ndef sort_list(xs):\n    return sorted(xs)\n\ndef reverse(xs):",
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Models here are ~100k parameters: a second intra-op thread only adds sync cost, and on a busy
    machine (other test processes) spinning threads made this file 6x slower (50 s vs 8 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from textbooks.tokenizer import CodeTokenizer

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    # ASCII-only training text: every non-ASCII character stays split over several byte tokens.
    hf.train_from_iterator(PROMPTS * 5 + ["    return a + b\n", "if __name__ == '__main__':\n    main()\n"], trainer)
    return CodeTokenizer(hf)


def make_model(vocab_size: int, seed: int = 0, **overrides) -> Phi:
    torch.manual_seed(seed)
    cfg = dict(vocab_size=vocab_size, n_layer=2, d_model=64, n_head=4, d_mlp=128, rotary_dim=8, max_seq_len=160,
               init_std=0.2)
    return Phi(PhiConfig(**{**cfg, **overrides})).eval()


@pytest.fixture(scope="module")
def model(tokenizer):
    """A random model that only emits whole characters and never EOS, so its completions are readable
    text of full length (random weights otherwise favour lone UTF-8 bytes, which decode to U+FFFD)."""
    m = make_model(tokenizer.padded_vocab_size)
    banned = [i for i in range(m.config.vocab_size) if i >= tokenizer.vocab_size or "\ufffd" in tokenizer.decode([i])]
    with torch.no_grad():
        m.lm_head.bias[banned + [tokenizer.eos_id]] = -1e4
    return m


# --- the KV cache ---------------------------------------------------------------------------------

@pytest.mark.parametrize("lengths", [(9, 4), (9, 9)], ids=["left-padded", "unpadded"])
@torch.inference_mode()
def test_cached_decoding_equals_full_recomputation(tokenizer, lengths):
    """40 greedy steps with the cache vs. re-running the whole sequence each step, with left padding (masked
    attention) and without (the mask-free path)."""
    model = make_model(tokenizer.padded_vocab_size)  # plain random weights: logits of order 1
    torch.manual_seed(1)
    V = model.config.vocab_size
    prompts = [torch.randint(0, V, (n,)).tolist() for n in lengths]  # (9, 4): row 1 gets 5 pad slots
    T, steps = 9, 40
    ids = torch.zeros(2, T, dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, T - len(p):] = torch.tensor(p)
    pad = torch.tensor([T - len(p) for p in prompts])
    slot = torch.arange(T)
    cache = KVCache.empty(model.config, 2, T + steps, dtype=torch.float32)
    cache.mark_left_padding(pad)
    assert cache.padded == (lengths[0] != lengths[1])
    logits = model(ids, positions=(slot[None] - pad[:, None]).clamp(min=0), cache=cache, last_only=True)[:, 0]
    pos = torch.tensor([len(p) for p in prompts])
    seqs = [list(p) for p in prompts]
    worst = 0.0
    for step in range(steps):
        for r in range(2):
            full = model(torch.tensor([seqs[r]]))[0, -1]  # (V,) recomputed from scratch, no padding
            worst = max(worst, (full - logits[r]).abs().max().item())
            assert full.argmax().item() == logits[r].argmax().item(), f"row {r} step {step}: greedy token differs"
        nxt = logits.argmax(-1)
        for r in range(2):
            seqs[r].append(nxt[r].item())
        logits = model(nxt[:, None], positions=pos[:, None], cache=cache, last_only=True)[:, 0]
        pos += 1
    assert worst < 1e-5, f"cached logits differ from full recomputation by {worst}"
    assert cache.length == T + steps


def test_cache_select_drops_rows(model):
    cache = KVCache.empty(model.config, 3, 8)
    cache.k[:, 1].fill_(1.0)
    cache.valid[2, :2] = False
    cache.select(torch.tensor([1, 2]))
    assert cache.k.shape[1] == 2 and bool((cache.k[:, 0] == 1).all()) and not cache.valid[1, :2].any()


def test_generate_ids_matches_manual_greedy(model):
    """generate_ids (prefill + cache + row dropping) == argmax over full recomputation."""
    torch.manual_seed(2)
    prompt = torch.randint(0, model.config.vocab_size, (7,)).tolist()
    out = generate_ids(model, [prompt], SamplingParams(max_new_tokens=33))[0][0]
    seq = list(prompt)
    with torch.inference_mode():
        for _ in range(33):
            seq.append(model(torch.tensor([seq]))[0, -1].argmax().item())
    assert out == seq[len(prompt):]


# --- batching ---------------------------------------------------------------------------------------

def test_batched_greedy_equals_one_at_a_time(model, tokenizer):
    params = SamplingParams(max_new_tokens=40)
    one = generate(model, tokenizer, PROMPTS, params, batch_size=1)
    for bs in (3, 8):
        batched = generate(model, tokenizer, PROMPTS, params, batch_size=bs)
        for i, (a, b) in enumerate(zip(one, batched)):
            assert a[0].token_ids == b[0].token_ids, f"prompt {i}: batch_size {bs} differs from batch_size 1"
            assert a[0].text == b[0].text
    assert {len(set(len(tokenizer.encode(p)) for p in PROMPTS))} != {1}, "prompts must need padding"
    three = generate(model, tokenizer, PROMPTS[:2], SamplingParams(max_new_tokens=40, n=3))  # greedy n > 1
    assert [[x.token_ids for x in cs] for cs in three] == [[o[0].token_ids] * 3 for o in one[:2]]
    c = one[0][0]
    assert isinstance(c, Completion) and c.finish_reason == "length" and len(c.token_ids) == 40
    assert c.prompt_tokens == len(tokenizer.encode(PROMPTS[0])) and c.text == tokenizer.decode(c.token_ids)


def test_left_padded_batch_matches_transformers_generate():
    """Our left-padded batch == transformers' PhiForCausalLM.generate with an attention_mask (greedy, 24 steps)."""
    transformers = pytest.importorskip("transformers", reason="transformers comes with the [dev] extra")
    model = make_model(256)
    hf = transformers.PhiForCausalLM(transformers.PhiConfig(**model.config.to_hf_dict())).eval()
    hf.load_state_dict(model.state_dict(), strict=False)
    torch.manual_seed(3)
    prompts = [torch.randint(1, 256, (n,)).tolist() for n in (11, 5, 8)]
    T = 11
    ids = torch.zeros(3, T, dtype=torch.long)
    mask = torch.zeros(3, T, dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, T - len(p):], mask[r, T - len(p):] = torch.tensor(p), 1
    with torch.inference_mode():
        theirs = hf.generate(input_ids=ids, attention_mask=mask, max_new_tokens=24, min_new_tokens=24,
                             do_sample=False, pad_token_id=0, eos_token_id=None)[:, T:].tolist()
    ours = [o[0] for o in generate_ids(model, prompts, SamplingParams(max_new_tokens=24), batch_size=3)]
    assert ours == theirs


def test_eos_ends_a_row_and_the_others_go_on(tokenizer):
    """Pretend a token that greedy decoding produces is EOS: each row ends at its first occurrence
    (finish "eos", EOS not in the output), is dropped from the batch, and the other rows do not change."""
    model = make_model(tokenizer.padded_vocab_size)
    with torch.no_grad():
        model.lm_head.bias[tokenizer.eos_id] = -1e4  # the real EOS never comes
    params = SamplingParams(max_new_tokens=24)
    before = generate(model, tokenizer, PROMPTS, params, batch_size=8)
    fake_eos = before[2][0].token_ids[5]

    class FakeEos:
        eos_id = fake_eos
        encode, decode = tokenizer.encode, tokenizer.decode

    after = generate(model, FakeEos(), PROMPTS, params, batch_size=8)
    ended = 0
    for b, a in zip(before, after):
        ids = b[0].token_ids
        if fake_eos in ids:
            ended += 1
            assert a[0].finish_reason == "eos" and a[0].token_ids == ids[: ids.index(fake_eos)]
            assert a[0].text == tokenizer.decode(a[0].token_ids)
        else:
            assert a[0].finish_reason == "length" and a[0].token_ids == ids
    assert ended >= 1


def test_eos_first_gives_empty_completion(tokenizer):
    model = make_model(tokenizer.padded_vocab_size)
    with torch.no_grad():
        model.lm_head.bias[tokenizer.eos_id] = 1e4  # EOS always wins
    for outs in generate(model, tokenizer, PROMPTS[:3], SamplingParams(max_new_tokens=8)):
        assert outs[0].finish_reason == "eos" and outs[0].token_ids == [] and outs[0].text == ""


def test_finished_rows_dropped_mid_batch(tokenizer, model):
    """Stop strings end some rows early; the others must equal their unstopped outputs."""
    params = SamplingParams(max_new_tokens=30)
    full = generate(model, tokenizer, PROMPTS, params, batch_size=8)
    # a piece of a completion that is valid UTF-8 (random models also emit lone bytes, shown as U+FFFD)
    clean = next(f[0].text for f in full if "\ufffd" not in f[0].text and len(f[0].text) > 8)
    stop = clean[3:6]
    stopped = generate(model, tokenizer, PROMPTS, SamplingParams(max_new_tokens=30, stop=[stop]), batch_size=8)
    n_stopped = 0
    for f, s in zip(full, stopped):
        if stop in f[0].text:
            n_stopped += 1
            assert s[0].finish_reason == "stop" and s[0].text == f[0].text[: f[0].text.index(stop)]
            assert len(s[0].token_ids) < len(f[0].token_ids)
            assert f[0].token_ids[: len(s[0].token_ids)] == s[0].token_ids
        else:
            assert s[0].token_ids == f[0].token_ids and s[0].finish_reason == "length"
    assert n_stopped >= 1


# --- stop strings and text --------------------------------------------------------------------------

def test_stop_strings_are_cut_like_openai(model, tokenizer):
    base = generate(model, tokenizer, [PROMPTS[0]], SamplingParams(max_new_tokens=40))[0][0]
    text = base.text
    assert len(text) > 12
    early, late = text[8:11], text[4:6]  # two stop strings; whichever occurs first in the text wins
    out = generate(model, tokenizer, [PROMPTS[0]], SamplingParams(max_new_tokens=40, stop=[early, late]))[0][0]
    first = min(i for i in (text.find(early), text.find(late)) if i >= 0)
    assert out.finish_reason == "stop"
    assert out.text == text[:first] and early not in out.text and late not in out.text
    # token_ids end with the token that completed the stop string; decoding them shows the stop string
    assert base.token_ids[: len(out.token_ids)] == out.token_ids
    assert tokenizer.decode(out.token_ids).startswith(out.text)
    assert any(s in tokenizer.decode(out.token_ids) for s in (early, late))
    # a stop string that never appears changes nothing
    same = generate(model, tokenizer, [PROMPTS[0]], SamplingParams(max_new_tokens=40, stop=["\x00never"]))[0][0]
    assert same.text == text and same.finish_reason == "length"


def test_cut_at_stop_picks_earliest():
    assert cut_at_stop("abc\ndef x\nclass", ["\nclass", "\ndef"]) == ("abc", True)
    assert cut_at_stop("abc", ["z"]) == ("abc", False)


def test_incremental_decoder_never_splits_a_character(tokenizer):
    text = "héllo 日本語 ✓ naïve\n"
    ids = tokenizer.encode(text)
    # the test only means something if some token is an incomplete UTF-8 sequence on its own
    assert any("\ufffd" in tokenizer.decode([i]) for i in ids)
    dec = IncrementalDecoder(tokenizer)
    pieces = [dec.push(i) for i in ids]
    assert all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) == dec.text == text


def test_stop_string_with_multibyte_characters(tokenizer):
    """The incremental watcher sees '日本' only once all its bytes are decoded; the cut is exact."""
    from textbooks.model.generate import _StopWatcher

    text = "x = '日本語'\n"
    watcher = _StopWatcher(tokenizer, ["本"])
    ids = tokenizer.encode(text)
    hits = [watcher.push(i) for i in ids]
    k = hits.index(True)
    assert "本" in tokenizer.decode(ids[: k + 1]) and "本" not in tokenizer.decode(ids[:k])
    assert cut_at_stop(tokenizer.decode(ids[: k + 1]), ["本"])[0] == "x = '日"


# --- sampling ---------------------------------------------------------------------------------------

def test_seeded_samples_are_reproducible_and_batch_independent(model, tokenizer):
    params = SamplingParams(max_new_tokens=20, temperature=1.0, seed=7, n=4)
    a = generate(model, tokenizer, PROMPTS[:3], params, batch_size=8)
    b = generate(model, tokenizer, PROMPTS[:3], params, batch_size=8)
    assert [[c.token_ids for c in cs] for cs in a] == [[c.token_ids for c in cs] for cs in b]
    assert all(len(cs) == 4 for cs in a)
    assert len({tuple(c.token_ids) for c in a[0]}) > 1, "n samples of one prompt should differ"
    # each (prompt, sample) has its own generator: batch size and neighbours do not matter
    c = generate(model, tokenizer, PROMPTS[:3], params, batch_size=1)
    assert [[x.token_ids for x in cs] for cs in a] == [[x.token_ids for x in cs] for cs in c]
    d = generate(model, tokenizer, PROMPTS[:1], params, batch_size=8)
    assert [x.token_ids for x in d[0]] == [x.token_ids for x in a[0]]
    other_seed = generate(model, tokenizer, PROMPTS[:3], SamplingParams(max_new_tokens=20, temperature=1.0, seed=8, n=4))
    assert [[x.token_ids for x in cs] for cs in other_seed] != [[x.token_ids for x in cs] for cs in a]


def test_a_sample_depends_only_on_seed_prompt_and_its_index(model, tokenizer):
    """The seed rule: sample j of a prompt is the same whatever the prompt's position in the call, the other
    prompts, the batch size, and which sample ids are asked for (a resumed run draws what an uninterrupted
    one would)."""
    params = SamplingParams(max_new_tokens=16, temperature=1.0, seed=5, n=4)
    ref = generate(model, tokenizer, PROMPTS[:3], params, batch_size=16)
    moved = generate(model, tokenizer, [PROMPTS[4], PROMPTS[2], PROMPTS[0]], params, batch_size=3)
    assert [c.token_ids for c in moved[1]] == [c.token_ids for c in ref[2]]
    assert [c.token_ids for c in moved[2]] == [c.token_ids for c in ref[0]]
    some = generate(model, tokenizer, PROMPTS[:3], params, batch_size=7, sample_ids=[[3, 1], [], [2]])
    assert [(c.sample, c.token_ids) for c in some[0]] == [(3, ref[0][3].token_ids), (1, ref[0][1].token_ids)]
    assert some[1] == [] and [c.token_ids for c in some[2]] == [ref[2][2].token_ids]
    # greedy: sample ids share one decoded sequence
    greedy = generate(model, tokenizer, PROMPTS[:1], SamplingParams(max_new_tokens=8), sample_ids=[[4, 9]])[0]
    assert [c.sample for c in greedy] == [4, 9] and greedy[0].token_ids == greedy[1].token_ids


def test_on_token_streams_every_generated_token_in_order(model, tokenizer):
    seen: dict = {}
    params = SamplingParams(max_new_tokens=10, temperature=1.0, seed=1, n=2)
    outs = generate(model, tokenizer, PROMPTS[:2], params, batch_size=3,
                    on_token=lambda i, j, t: seen.setdefault((i, j), []).append(t))
    assert seen == {(i, j): c.token_ids for i, cs in enumerate(outs) for j, c in enumerate(cs)}


def test_logprobs_are_the_models_log_softmax(model, tokenizer):
    out = generate(model, tokenizer, [PROMPTS[0]], SamplingParams(max_new_tokens=5, logprobs=3))[0][0]
    assert [lp.token_id for lp in out.logprobs] == out.token_ids
    ids = tokenizer.encode(PROMPTS[0])
    with torch.inference_mode():
        for lp in out.logprobs:
            full = torch.log_softmax(model(torch.tensor([ids]))[0, -1].float(), -1)
            assert abs(full[lp.token_id].item() - lp.logprob) < 1e-4
            assert [i for i, _ in lp.top] == full.topk(3).indices.tolist()  # greedy: the chosen token is the top one
            ids.append(lp.token_id)
    assert generate(model, tokenizer, [PROMPTS[0]], SamplingParams(max_new_tokens=2))[0][0].logprobs is None


def test_tiny_top_p_equals_greedy(model, tokenizer):
    greedy = generate(model, tokenizer, PROMPTS, SamplingParams(max_new_tokens=24))
    nucleus = generate(model, tokenizer, PROMPTS, SamplingParams(max_new_tokens=24, temperature=1.0, top_p=1e-6, n=2))
    for g, ns in zip(greedy, nucleus):
        assert all(n.token_ids == g[0].token_ids for n in ns)


def test_top_p_samples_only_inside_the_nucleus():
    # probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.7 keeps tokens 0 and 1 (0.5 < 0.7 <= 0.8)
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))  # (1, 4)
    rows = [_Sequence(0, 0, [1], generator=torch.Generator().manual_seed(0))]
    seen = {_choose(logits, SamplingParams(temperature=1.0, top_p=0.7), rows).item() for _ in range(300)}
    assert seen == {0, 1}
    seen_all = {_choose(logits, SamplingParams(temperature=1.0), rows).item() for _ in range(300)}
    assert seen_all == {0, 1, 2, 3}


# --- limits and errors ------------------------------------------------------------------------------

def test_long_prompt_keeps_its_last_tokens_and_says_how_many_were_dropped(model, tokenizer):
    """The one rule for long prompts: keep the last max_seq_len - max_new_tokens tokens, report the cut."""
    long_prompt = "def f(x):\n    return x\n" * 40
    n = len(tokenizer.encode(long_prompt))
    assert n > 160 - 20
    short, long = generate(model, tokenizer, ["x = ", long_prompt], SamplingParams(max_new_tokens=20))
    assert (short[0].prompt_tokens_dropped, long[0].prompt_tokens_dropped) == (0, n - 140)
    assert long[0].prompt_tokens == 140 and len(long[0].token_ids) == 20
    # what the model saw is exactly the prompt's last 140 tokens
    tail = tokenizer.decode(tokenizer.encode(long_prompt)[-140:])
    assert generate(model, tokenizer, [tail], SamplingParams(max_new_tokens=20))[0][0].token_ids == long[0].token_ids
    with pytest.raises(ValueError, match="max_new_tokens=160 leaves no room"):
        generate(model, tokenizer, ["x"], SamplingParams(max_new_tokens=160))


def test_empty_prompt_starts_after_eos(model, tokenizer):
    out = generate(model, tokenizer, [""], SamplingParams(max_new_tokens=5))[0][0]
    assert out.prompt_tokens == 1 and len(out.token_ids) == 5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_new_tokens=0), "max_new_tokens"),
        (dict(temperature=-1.0), "temperature"),
        (dict(top_p=0.0), "top_p"),
        (dict(n=0), "n must be"),
        (dict(stop=[""]), "stop must be non-empty"),
        (dict(temperature=2.5), "temperature must be in 0..2"),
        (dict(temperature=float("inf")), "temperature must be a finite number"),
        (dict(n=float("nan")), "n must be a finite integer"),
    ],
)
def test_bad_sampling_params(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SamplingParams(**kwargs)


def test_a_tiny_positive_temperature_decodes_greedily(model, tokenizer):
    """logits / 1e-39 overflows to inf (softmax NaN, multinomial RuntimeError): below 1e-5 is greedy."""
    greedy = generate(model, tokenizer, PROMPTS[:2], SamplingParams(max_new_tokens=8))
    for t in (1e-39, 1e-7):
        tiny = generate(model, tokenizer, PROMPTS[:2], SamplingParams(max_new_tokens=8, temperature=t, seed=3, n=2))
        assert [[c.token_ids for c in cs] for cs in tiny] == [[cs[0].token_ids] * 2 for cs in greedy]
    assert SamplingParams(temperature=1e-39).greedy and not SamplingParams(temperature=1e-4).greedy


def test_sampling_errors_name_the_field_in_the_callers_words():
    from textbooks.model.generate import SamplingParamsError

    with pytest.raises(SamplingParamsError) as e:
        SamplingParams(n=0, top_p=2.0)
    assert [f for f, _ in e.value.problems] == ["top_p", "n"] and e.value.field == "top_p"
    assert e.value.describe({"n": "--n", "top_p": "--top-p"}) == "--top-p must be in (0, 1] (got 2.0); --n must be >= 1 (got 0)"


def test_per_prompt_seeds_equal_separate_calls(model, tokenizer):
    """serve decodes requests with different seeds in one batch: seeds[i] replaces params.seed for prompt i."""
    params = SamplingParams(max_new_tokens=12, temperature=1.0, n=2)
    together = generate(model, tokenizer, [PROMPTS[0], PROMPTS[0], PROMPTS[1]], params, seeds=[1, 2, 3])
    alone = [generate(model, tokenizer, [p], SamplingParams(max_new_tokens=12, temperature=1.0, n=2, seed=s))[0]
             for p, s in ((PROMPTS[0], 1), (PROMPTS[0], 2), (PROMPTS[1], 3))]
    assert [[c.token_ids for c in cs] for cs in together] == [[c.token_ids for c in cs] for cs in alone]
    assert together[0][0].token_ids != together[1][0].token_ids  # same prompt, other seed


def test_cancelled_rows_stop_between_decode_steps_and_the_others_go_on(model, tokenizer):
    params = SamplingParams(max_new_tokens=30, temperature=1.0, seed=4, n=2)
    ref = generate(model, tokenizer, PROMPTS[:3], params, batch_size=8)
    seen: dict = {}
    outs = generate(model, tokenizer, PROMPTS[:3], params, batch_size=8,
                    on_token=lambda i, j, t: seen.setdefault(i, []).append(t),
                    cancelled=lambda i: i == 1 and len(seen.get(1, [])) >= 6)
    assert [c.finish_reason for c in outs[1]] == ["cancelled"] * 2 and all(len(c.token_ids) == 3 for c in outs[1])
    assert [[c.token_ids for c in outs[i]] for i in (0, 2)] == [[c.token_ids for c in ref[i]] for i in (0, 2)]
    # a batch whose every row is cancelled is not decoded at all
    calls = []
    none = generate(model, tokenizer, PROMPTS[:2], params, batch_size=2, cancelled=lambda i: True,
                    on_token=lambda *a: calls.append(a))
    assert calls == [] and all(c.finish_reason == "cancelled" and c.token_ids == [] for cs in none for c in cs)


def test_token_texts_join_to_the_returned_text_whatever_the_characters(tokenizer):
    from textbooks.model.generate import token_texts

    text = "héllo 日本語 ✓\n"
    ids = tokenizer.encode(text)
    assert any("\ufffd" in tokenizer.decode([i]) for i in ids)  # some tokens are parts of a character
    pieces = token_texts(tokenizer, ids, text)
    assert len(pieces) == len(ids) and "".join(pieces) == text and all("\ufffd" not in p for p in pieces)
    # a stop string cut off the end: later tokens keep only what the text kept
    cut = token_texts(tokenizer, ids, "héllo 日")
    assert len(cut) == len(ids) and "".join(cut) == "héllo 日"
    # a completion that ends inside a character: the held bytes go to the last token
    partial = ids[: next(k for k in range(1, len(ids)) if tokenizer.decode(ids[:k]).endswith("\ufffd"))]
    assert "".join(token_texts(tokenizer, partial, tokenizer.decode(partial))) == tokenizer.decode(partial)


def test_single_stop_string_is_wrapped():
    assert SamplingParams(stop="\n").stop == ["\n"]


# --- the CLI ----------------------------------------------------------------------------------------

@pytest.fixture
def checkpoint(tmp_path, model, tokenizer):
    ckpt = tmp_path / "ckpt"
    model.save_pretrained(ckpt)
    tokenizer.save(ckpt)
    return ckpt


def test_cli_generate_writes_jsonl(checkpoint, tmp_path, model, tokenizer, capsys):
    from textbooks.cli import main

    inp = tmp_path / "prompts.jsonl"
    inp.write_text("\n".join(json.dumps({"task_id": f"t{i}", "prompt": p}) for i, p in enumerate(PROMPTS[:3])) + "\n")
    out = tmp_path / "out.jsonl"
    rc = main(["generate", str(checkpoint), "--input", str(inp), "--out", str(out), "--max-new-tokens", "12",
               "--n", "2", "--temperature", "0.8", "--seed", "3", "--device", "cpu"])
    assert rc == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["task_id"], r["sample"]) for r in rows] == [(f"t{i}", j) for i in range(3) for j in range(2)]
    expected = generate(model, tokenizer, PROMPTS[:3], SamplingParams(max_new_tokens=12, temperature=0.8, seed=3, n=2))
    assert [r["completion"] for r in rows] == [c.text for cs in expected for c in cs]
    assert all(r["finish_reason"] == "length" and r["completion_tokens"] == 12 for r in rows)

    rc = main(["generate", str(checkpoint), "--prompt", PROMPTS[0], "--max-new-tokens", "8"])
    assert rc == 0
    greedy = generate(model, tokenizer, PROMPTS[:1], SamplingParams(max_new_tokens=8))[0][0].text
    assert PROMPTS[0] + greedy in capsys.readouterr().out


def test_cli_errors(checkpoint, tmp_path, capsys):
    from textbooks.cli import main

    with pytest.raises(SystemExit) as e:  # neither --prompt nor --input
        main(["generate", str(checkpoint)])
    assert e.value.code == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a"}\n{"text": "no prompt field"}\n')
    assert main(["generate", str(checkpoint), "--input", str(bad)]) == 2
    assert f"{bad}:2" in capsys.readouterr().err
    assert main(["generate", str(tmp_path / "missing"), "--prompt", "x"]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["generate", str(checkpoint), "--prompt", "x", "--max-new-tokens", "1000"]) == 2
    assert "max_new_tokens" in capsys.readouterr().err
    assert main(["generate", str(checkpoint), "--prompt", "x", "--n", "0"]) == 2
    err = capsys.readouterr().err
    assert "--n must be >= 1 (got 0)" in err and "SamplingParams" not in err
    with pytest.raises(SystemExit):  # an unknown escape names itself and the fix
        main(["generate", str(checkpoint), "--prompt", "x", "--stop", "\\d"])
    assert "unknown escape" in capsys.readouterr().err


def test_cli_generate_reports_long_prompts(checkpoint, tmp_path, capsys):
    from textbooks.cli import main

    out = tmp_path / "out.jsonl"
    long_prompt = "def f(x):\n    return x\n" * 40
    assert main(["generate", str(checkpoint), "--prompt", "x = ", long_prompt, "--max-new-tokens", "20", "--out", str(out)]) == 0
    assert "1 prompt was longer than max_seq_len 160" in capsys.readouterr().err  # not "1 prompts were"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["prompt_tokens_dropped"] == 0 and rows[1]["prompt_tokens_dropped"] > 0
    assert rows[1]["prompt_tokens"] == 140


def test_cut_at_stop_lives_in_the_torch_free_text_module():
    from textbooks import text

    assert cut_at_stop is text.cut_at_stop
    assert text.cut_at_stop("x\n#y\ndef", ("\ndef", "\n#")) == ("x", True)
