"""Parity with transformers' PhiForCausalLM, both directions, on a random tiny config.

Weights are random but larger than the N(0, 0.02) init (and biases/LayerNorms non-trivial) so every
parameter matters and greedy argmaxes are not near-ties.
"""

import pytest
import torch

from textbooks.model import Phi, PhiConfig

transformers = pytest.importorskip("transformers", reason="parity needs transformers: pip install -e '.[hf]'")

TINY = dict(n_layer=2, d_model=64, n_head=4, d_mlp=256, vocab_size=320, rotary_dim=8, max_seq_len=128)


def _randomize(model: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "layernorm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * noise)
            else:
                p.copy_(0.1 * noise)


@pytest.fixture(scope="module")
def ours_and_hf_from_ours(tmp_path_factory):
    """Our random model, saved with save_pretrained and loaded by AutoModelForCausalLM."""
    torch.manual_seed(0)
    ours = Phi(PhiConfig(**TINY))
    _randomize(ours, seed=1)
    ours.eval()
    path = tmp_path_factory.mktemp("ours")
    ours.save_pretrained(path)
    hf, info = transformers.AutoModelForCausalLM.from_pretrained(path, output_loading_info=True)
    return ours, hf.eval(), info


@pytest.fixture(scope="module")
def hf_and_ours_from_hf(tmp_path_factory):
    """A random transformers PhiForCausalLM, saved by transformers and loaded by Phi.from_pretrained."""
    torch.manual_seed(0)
    hf_config = transformers.PhiConfig(**PhiConfig(**TINY).to_hf_dict())
    hf = transformers.PhiForCausalLM(hf_config)
    _randomize(hf, seed=2)
    hf.eval()
    path = tmp_path_factory.mktemp("hf")
    hf.save_pretrained(path)
    return hf, Phi.from_pretrained(path)


def _ids(batch=2, T=24, seed=3):
    return torch.randint(0, TINY["vocab_size"], (batch, T), generator=torch.Generator().manual_seed(seed))


def test_ours_to_hf_loads_with_no_missing_or_unexpected_keys(ours_and_hf_from_ours):
    _, hf, info = ours_and_hf_from_ours
    assert type(hf).__name__ == "PhiForCausalLM"
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    assert not info["error_msgs"]


@pytest.mark.parametrize("direction", ["ours->hf", "hf->ours"])
def test_fp32_logits_match(direction, ours_and_hf_from_ours, hf_and_ours_from_hf):
    ours, hf = ours_and_hf_from_ours[:2] if direction == "ours->hf" else hf_and_ours_from_hf[::-1]
    ids = _ids()
    with torch.no_grad():
        a = ours(ids)
        b = hf(ids).logits
    assert a.shape == b.shape == (2, 24, TINY["vocab_size"])
    assert b.abs().max() > 1.0  # logits are far from zero, so 1e-4 is a real bound
    torch.testing.assert_close(a, b, atol=1e-4, rtol=0)


def _greedy_full_recompute(model: Phi, ids: torch.Tensor, steps: int) -> torch.Tensor:
    for _ in range(steps):
        with torch.no_grad():
            nxt = model(ids)[:, -1].argmax(-1, keepdim=True)  # (B, 1)
        ids = torch.cat([ids, nxt], dim=1)
    return ids


@pytest.mark.parametrize("direction", ["ours->hf", "hf->ours"])
def test_greedy_32_tokens_identical_to_hf_generate(direction, ours_and_hf_from_ours, hf_and_ours_from_hf):
    ours, hf = ours_and_hf_from_ours[:2] if direction == "ours->hf" else hf_and_ours_from_hf[::-1]
    prompt = _ids(batch=2, T=8, seed=4)
    mine = _greedy_full_recompute(ours, prompt, 32)
    with torch.no_grad():
        theirs = hf.generate(
            prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=32, min_new_tokens=32,
            do_sample=False, eos_token_id=None, pad_token_id=0,
        )
    assert theirs.shape == (2, 8 + 32)
    assert torch.equal(mine, theirs)
    assert len(set(mine[0, 8:].tolist())) > 1  # not a degenerate repeat of one token


def test_training_loss_and_gradients_match(ours_and_hf_from_ours):
    """Our loss (targets pre-shifted by the caller) == transformers' loss (labels shifted inside), and the
    gradients of every parameter agree, so the training path is the reference math too."""
    ours, hf, _ = ours_and_hf_from_ours
    ids = _ids(batch=2, T=20, seed=5)
    targets = torch.cat([ids[:, 1:], torch.full((2, 1), -100)], dim=1)  # next token; the last has none
    targets[0, :3] = -100  # ignored positions (a prompt masked out) must not count
    labels = ids.clone()
    labels[0, 1:4] = -100  # HF shifts labels left by one inside its loss
    ours.zero_grad()
    hf.zero_grad()
    loss_ours = ours(ids, targets)
    loss_hf = hf(ids, labels=labels).loss
    torch.testing.assert_close(loss_ours, loss_hf, atol=1e-5, rtol=0)
    loss_ours.backward()
    loss_hf.backward()
    hf_params = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, hf_params[name].grad, atol=1e-5, rtol=1e-4, msg=lambda m: f"{name}: {m}")
    ours.zero_grad()
    hf.zero_grad()
