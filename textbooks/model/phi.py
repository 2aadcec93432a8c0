"""The phi-1 model: one architecture, one file.

How phi-1 differs from GPT-2 (paper §2.3, microsoft/phi-1 config.json):
- parallel block: attention and MLP read the *same* LayerNorm output and are added to the residual
  together, `h = x + attn(ln(x)) + mlp(ln(x))` (CodeGen / GPT-J style; one LayerNorm per block);
- rotary position embeddings (NeoX `rotate_half` style, theta 10000) on the first `rotary_dim` (32) of
  each head's 64 dims; the rest of q/k pass through; no learned position embeddings;
- `gelu_new` (tanh approximation) in the MLP; biases on every Linear;
- a final LayerNorm and an *untied* `lm_head` with a bias.

Module names are those of transformers' `PhiForCausalLM` (`model.embed_tokens`,
`model.layers.N.self_attn.q_proj`, ..., `lm_head`), so a state dict moves between the two unchanged.
Parallelism (DDP/FSDP), compile and activation checkpointing are applied from outside (textbooks/train).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from textbooks.model.config import PhiConfig
from textbooks.model.loss import linear_cross_entropy


@dataclass
class KVCache:
    """Pre-allocated keys/values for incremental decoding.

    k, v: (n_layer, B, n_head, max_len, head_dim); `valid[b, j]` is False for left-padding slots, which
    no query may attend to (set them with `mark_left_padding`); `length` is the number of filled slots
    (the same for every row).
    """

    k: torch.Tensor
    v: torch.Tensor
    valid: torch.Tensor  # (B, max_len) bool
    length: int = 0
    padded: bool = False  # True once any slot is marked invalid; lets unpadded batches skip the mask

    @classmethod
    def empty(cls, config: PhiConfig, batch_size: int, max_len: int, device=None, dtype=torch.float32) -> "KVCache":
        shape = (config.n_layer, batch_size, config.n_head, max_len, config.head_dim)
        return cls(
            k=torch.zeros(shape, device=device, dtype=dtype),
            v=torch.zeros(shape, device=device, dtype=dtype),
            valid=torch.ones(batch_size, max_len, device=device, dtype=torch.bool),
        )

    @property
    def max_len(self) -> int:
        return self.k.shape[3]

    def mark_left_padding(self, pad: torch.Tensor) -> None:
        """pad (B,): the number of left-padding slots of each row; no query attends to them."""
        slots = torch.arange(self.max_len, device=self.valid.device)
        self.valid = slots[None, :] >= pad.to(self.valid.device)[:, None]  # (B, max_len)
        self.padded = bool((pad > 0).any())

    def select(self, rows: torch.Tensor) -> None:
        """Keep only the given batch rows (drop finished sequences from a batch)."""
        self.k, self.v, self.valid = self.k[:, rows], self.v[:, rows], self.valid[rows]


class Rotary(nn.Module):
    """Partial rotary embedding: rotates q[..., :rotary_dim] and k[..., :rotary_dim]."""

    def __init__(self, config: PhiConfig):
        super().__init__()
        self.dim = config.rotary_dim
        inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, self.dim, 2, dtype=torch.int64).float() / self.dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)  # (dim/2,)

    def cos_sin(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """positions (B, T) -> cos, sin (B, 1, T, dim), computed in fp32 then cast like transformers."""
        freqs = positions.float()[..., None] * self.inv_freq  # (B, T, dim/2)
        emb = torch.cat((freqs, freqs), dim=-1)[:, None]  # (B, 1, T, dim)
        return emb.cos().to(dtype), emb.sin().to(dtype)

    def rotate(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        # x (B, nh, T, hs): NeoX rotate_half on the first `dim` features, the rest unchanged.
        rot, rest = x[..., : self.dim], x[..., self.dim :]
        x1, x2 = rot.chunk(2, dim=-1)
        rotated = torch.cat((-x2, x1), dim=-1)
        return torch.cat((rot * cos + rotated * sin, rest), dim=-1)


class PhiAttention(nn.Module):
    def __init__(self, config: PhiConfig):
        super().__init__()
        d = config.d_model
        self.n_head, self.head_dim = config.n_head, config.head_dim
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.dense = nn.Linear(d, d)
        self.dropout = config.attn_dropout

    def forward(self, x, cos, sin, rotary: Rotary, layer: int, cache: KVCache | None, mask: torch.Tensor | None):
        B, T, C = x.shape
        q = self.q_proj(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        k = self.k_proj(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        v = self.v_proj(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        q, k = rotary.rotate(q, cos, sin), rotary.rotate(k, cos, sin)
        if cache is not None:
            start = cache.length
            cache.k[layer, :, :, start : start + T] = k
            cache.v[layer, :, :, start : start + T] = v
            k = cache.k[layer, :, :, : start + T]  # (B, nh, S, hs), S = start + T
            v = cache.v[layer, :, :, : start + T]
        dropout = self.dropout if self.training else 0.0
        if mask is None:
            # Training, full recomputation, or an unpadded cache (see _cache_mask): T > 1 queries start at
            # position 0, so the causal block is exact; a single decode query may see every key.
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=T > 1)
        else:  # mask (B, 1, T, S) bool, True = may attend
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, d)
        return self.dense(y)


class PhiMLP(nn.Module):
    def __init__(self, config: PhiConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.d_model, config.d_mlp)
        self.fc2 = nn.Linear(config.d_mlp, config.d_model)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))  # gelu_new == tanh-approximate GELU


class PhiBlock(nn.Module):
    def __init__(self, config: PhiConfig, index: int):
        super().__init__()
        self.index = index
        self.input_layernorm = nn.LayerNorm(config.d_model, eps=config.ln_eps)
        self.self_attn = PhiAttention(config)
        self.mlp = PhiMLP(config)
        self.resid_dropout = nn.Dropout(config.resid_dropout)

    def forward(self, x, cos, sin, rotary, cache=None, mask=None):
        h = self.input_layernorm(x)  # one LayerNorm feeds both branches (parallel block)
        attn = self.self_attn(h, cos, sin, rotary, self.index, cache, mask)
        return x + self.resid_dropout(attn) + self.resid_dropout(self.mlp(h))


class PhiBackbone(nn.Module):
    """Named `model` inside `Phi`, like transformers' `PhiModel`."""

    def __init__(self, config: PhiConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model)
        self.embed_dropout = nn.Dropout(config.embd_dropout)
        self.layers = nn.ModuleList(PhiBlock(config, i) for i in range(config.n_layer))
        self.final_layernorm = nn.LayerNorm(config.d_model, eps=config.ln_eps)
        self.rotary = Rotary(config)

    def forward(self, input_ids, positions=None, cache=None, mask=None):
        x = self.embed_dropout(self.embed_tokens(input_ids))  # (B, T, d)
        if positions is None:
            start = cache.length if cache is not None else 0
            positions = torch.arange(start, start + input_ids.shape[1], device=input_ids.device).expand(input_ids.shape[0], -1)
        cos, sin = self.rotary.cos_sin(positions, x.dtype)
        for layer in self.layers:
            x = layer(x, cos, sin, self.rotary, cache, mask)
        return self.final_layernorm(x)


class Phi(nn.Module):
    """phi-1 causal LM. `model(input_ids)` -> logits (B, T, vocab); with `targets`, the mean loss."""

    def __init__(self, config: PhiConfig):
        super().__init__()
        self.config = config
        self.model = PhiBackbone(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size)  # untied, with bias
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        # transformers' PhiPreTrainedModel: N(0, 0.02) weights, zero biases (paper does not say).
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=self.config.init_std)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(
        self,
        input_ids: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        positions: torch.Tensor | None = None,
        cache: KVCache | None = None,
        last_only: bool = False,
    ) -> torch.Tensor:
        """input_ids (B, T) -> logits (B, T, V), or (B, 1, V) with `last_only`.

        targets (B, T): returns the mean cross-entropy over positions whose target is not -100.
        positions (B, T): rotary positions (default: 0.. or continuing the cache); with left padding
        the sampler passes positions that start at 0 on each row's first real token.
        cache: keys/values are appended to it and attention covers everything cached so far.
        """
        mask = None
        if cache is not None:
            mask = _cache_mask(cache, input_ids.shape[1])
        h = self.model(input_ids, positions=positions, cache=cache, mask=mask)  # (B, T, d)
        if cache is not None:
            cache.length += input_ids.shape[1]
        if targets is not None:
            # = F.cross_entropy(self.lm_head(h).float().view(-1, V), targets.view(-1), ignore_index=-100),
            # fused so the (B*T, V) logits are not streamed over a dozen times (see loss.py)
            return linear_cross_entropy(h, self.lm_head.weight, self.lm_head.bias, targets, ignore_index=-100)
        if last_only:
            h = h[:, -1:]
        return self.lm_head(h)

    def num_params(self, *, embeddings: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n if embeddings else n - self.model.embed_tokens.weight.numel()

    # --- Hugging Face interop (textbooks/model/hf.py does the work) --------------------------------
    @classmethod
    def from_pretrained(cls, path: str | Path, *, device=None, dtype: torch.dtype | None = None) -> "Phi":
        """Load an HF Phi directory (phi or phi-msft layout) or one of our checkpoints."""
        from textbooks.model.hf import load_pretrained

        return load_pretrained(cls, path, device=device, dtype=dtype)

    def save_pretrained(self, path: str | Path) -> None:
        """Write `config.json` + `model.safetensors` that transformers loads as `PhiForCausalLM`."""
        from textbooks.model.hf import save_pretrained

        save_pretrained(self, path)


def _cache_mask(cache: KVCache, T: int) -> torch.Tensor | None:
    """(B, 1, T, S) bool for T new queries over S = cache.length + T keys: causal, no padding keys.

    A padding query may see itself so that no softmax row is empty (its output is never used).
    """
    start = cache.length
    S = start + T
    if not cache.padded and (start == 0 or T == 1):
        return None  # plain causal attention (prefill) or attend-to-all (one decode step): mask-free kernels
    if T == 1 and start > 0:
        # One decode step: the query is the newest slot, so causality allows every key; only the padding
        # mask remains, and it is a view (no per-step allocation). Decode slots are always valid.
        return cache.valid[:, None, None, :S]  # (B, 1, 1, S)
    device = cache.valid.device
    q_pos = torch.arange(start, S, device=device)[:, None]  # (T, 1)
    k_pos = torch.arange(S, device=device)[None, :]  # (1, S)
    causal = k_pos <= q_pos  # (T, S)
    mask = causal[None] & (cache.valid[:, None, :S] | (k_pos == q_pos)[None])  # (B, T, S)
    return mask[:, None]


def model_flops_per_token(config: PhiConfig, seq_len: int) -> float:
    """Training FLOPs per token, 6N + 12·L·d·T (N = non-embedding params incl. lm_head; PaLM appendix B)."""
    n = config.num_params(embeddings=False)
    return 6 * n + 12 * config.n_layer * config.d_model * seq_len


__all__ = ["Phi", "PhiConfig", "KVCache", "model_flops_per_token"]
