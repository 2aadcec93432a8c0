"""The fused lm_head + cross-entropy equals the plain graph: loss and gradients of h, weight and bias."""

import pytest
import torch
import torch.nn.functional as F

from textbooks.model.loss import linear_cross_entropy

N, D, V = 48, 16, 200


def _inputs(seed=0, scale=1.0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    h = (torch.randn(3, N // 3, D, generator=gen) * scale).to(dtype)
    w = (torch.randn(V, D, generator=gen) * 0.3).to(dtype)
    b = (torch.randn(V, generator=gen) * 0.3).to(dtype)
    t = torch.randint(0, V, (3, N // 3), generator=gen)
    return h, w, b, t


def _loss_and_grads(fn, h, w, b, t):
    h, w, b = (x.detach().clone().requires_grad_() for x in (h, w, b))
    loss = fn(h, w, b, t)
    loss.backward()
    return loss.detach(), h.grad, w.grad, b.grad


def _reference(h, w, b, t):
    logits = F.linear(h, w, b)
    return F.cross_entropy(logits.float().view(-1, V), t.reshape(-1), ignore_index=-100)


@pytest.mark.parametrize("scale", [1.0, 40.0])  # 40: logits spread by hundreds, target probs underflow fp32
def test_matches_plain_cross_entropy(scale):
    h, w, b, t = _inputs(scale=scale)
    ours = _loss_and_grads(linear_cross_entropy, h, w, b, t)
    ref = _loss_and_grads(_reference, h, w, b, t)
    assert torch.isfinite(ours[0]) and (scale == 1.0 or ours[0] > 50)
    for name, a, r in zip(("loss", "h", "weight", "bias"), ours, ref):
        torch.testing.assert_close(a, r, atol=1e-5 * scale, rtol=1e-4, msg=lambda m: f"{name}: {m}")


def test_ignored_targets_are_dropped_and_get_zero_gradient():
    h, w, b, t = _inputs(seed=1)
    t[0, :5] = -100
    t[2, -3:] = -100
    ours = _loss_and_grads(linear_cross_entropy, h, w, b, t)
    ref = _loss_and_grads(_reference, h, w, b, t)
    for a, r in zip(ours, ref):
        torch.testing.assert_close(a, r, atol=1e-5, rtol=1e-4)
    assert (ours[1][0, :5] == 0).all()


def test_all_ignored_is_nan_like_cross_entropy():
    h, w, b, t = _inputs()
    t[:] = -100
    assert torch.isnan(linear_cross_entropy(h, w, b, t)) and torch.isnan(_reference(h, w, b, t))


def test_no_grad_and_grad_scaling():
    h, w, b, t = _inputs(seed=2)
    with torch.no_grad():
        torch.testing.assert_close(linear_cross_entropy(h, w, b, t), _reference(h, w, b, t))
    # a non-unit upstream gradient (e.g. loss / grad_accum_steps) scales every gradient
    h2 = h.clone().requires_grad_()
    (linear_cross_entropy(h2, w, b, t) * 0.25).backward()
    ref = _loss_and_grads(_reference, h, w, b, t)[1]
    torch.testing.assert_close(h2.grad, ref * 0.25, atol=1e-6, rtol=1e-4)


def test_bf16_autocast_close_to_plain_graph():
    h, w, b, t = _inputs(seed=3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = _loss_and_grads(linear_cross_entropy, h, w, b, t)
        ref = _loss_and_grads(_reference, h, w, b, t)
    assert ours[1].dtype == torch.float32 and ours[2].dtype == torch.float32  # grads in the params' dtype
    for a, r in zip(ours, ref):
        torch.testing.assert_close(a, r, atol=2e-2, rtol=2e-2)


def test_cpu_workspace_is_reused_but_never_shared_between_live_graphs():
    from textbooks.model import loss as loss_module

    h, w, b, t = _inputs(seed=4)
    ref = _loss_and_grads(_reference, h, w, b, t)
    # two losses alive at once (e.g. two micro-batches before backward): each needs its own buffer
    h1, h2 = h.clone().requires_grad_(), (h * 2).requires_grad_()
    l1, l2 = linear_cross_entropy(h1, w, b, t), linear_cross_entropy(h2, w, b, t)
    l2.backward()
    l1.backward()
    torch.testing.assert_close(h1.grad, ref[1], atol=1e-6, rtol=1e-4)
    # after a backward the buffer is kept and the next step writes into it (no fresh allocation)
    kept = loss_module._WORKSPACE[0].data_ptr()
    loss = linear_cross_entropy(h.clone().requires_grad_(), w, b, t)
    assert not loss_module._WORKSPACE  # taken by the live graph
    loss.backward(retain_graph=True)
    assert loss_module._WORKSPACE[0].data_ptr() == kept
    with pytest.raises(RuntimeError, match="second backward"):
        loss.backward()


def test_bf16_parameters_without_autocast():  # FSDP mixed precision hands the model bf16 weights
    h, w, b, t = _inputs(seed=5, dtype=torch.bfloat16)
    ours = _loss_and_grads(linear_cross_entropy, h, w, b, t)
    ref = _loss_and_grads(_reference, h, w, b, t)
    assert ours[0].dtype == torch.float32 and ours[1].dtype == ours[2].dtype == ours[3].dtype == torch.bfloat16
    for a, r in zip(ours, ref):
        torch.testing.assert_close(a.float(), r.float(), atol=2e-2, rtol=2e-2)
