"""PhiConfig: the shape of a phi-1 model, its presets, and conversion to/from HF `config.json`."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any

# Paper §2.3 and microsoft/phi-1 config.json. Small presets keep head_dim 32 with rotary on half of it
# (the same partial-rotary factor 0.5 as phi-1) so they exercise the same code paths on a CPU.
_PRESETS: dict[str, dict[str, Any]] = {
    "phi-1": dict(n_layer=24, d_model=2048, n_head=32, d_mlp=8192, vocab_size=51200, rotary_dim=32, max_seq_len=2048),
    "phi-1-small": dict(n_layer=20, d_model=1024, n_head=16, d_mlp=4096, vocab_size=51200, rotary_dim=32, max_seq_len=2048),
    "mini": dict(n_layer=4, d_model=256, n_head=8, d_mlp=1024, vocab_size=51200, rotary_dim=16, max_seq_len=1024),
    "tiny": dict(n_layer=2, d_model=128, n_head=4, d_mlp=512, vocab_size=51200, rotary_dim=16, max_seq_len=512),
}


# The numeric keys of a transformers `phi` / Microsoft `phi-msft` config.json that from_hf_dict reads.
_HF_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    **{k: int for k in ("vocab_size", "n_layer", "n_embd", "n_head", "n_inner", "rotary_dim", "n_positions",
                        "pad_vocab_size_multiple", "num_hidden_layers", "hidden_size", "num_attention_heads",
                        "num_key_value_heads", "intermediate_size", "max_position_embeddings")},
    **{k: (int, float) for k in ("rope_theta", "layer_norm_epsilon", "layer_norm_eps", "attn_pdrop", "resid_pdrop",
                                 "embd_pdrop", "attention_dropout", "initializer_range", "partial_rotary_factor")},
}


@dataclass
class PhiConfig:
    """Shape and regularisation of a phi-1 model.

    Example: `PhiConfig.preset("phi-1-small")`, or `PhiConfig.preset("tiny", vocab_size=4160)` for a model
    over a small tokenizer; `PhiConfig(n_layer=2, d_model=64, n_head=2, d_mlp=256, vocab_size=512)`.
    """

    vocab_size: int = 51200
    n_layer: int = 24
    d_model: int = 2048
    n_head: int = 32
    d_mlp: int = 8192
    rotary_dim: int = 32  # rotary on the first `rotary_dim` of each head's dims (paper §2.3: 32 of 64)
    rope_theta: float = 10000.0
    max_seq_len: int = 2048
    ln_eps: float = 1e-5
    attn_dropout: float = 0.0  # the paper trains with 0.1 (set in the training configs)
    resid_dropout: float = 0.0
    embd_dropout: float = 0.0
    init_std: float = 0.02

    def __post_init__(self):
        problems = []
        for name in ("vocab_size", "n_layer", "d_model", "n_head", "d_mlp", "max_seq_len"):
            if int(getattr(self, name)) <= 0:
                problems.append(f"{name} must be > 0 (got {getattr(self, name)})")
        if self.n_head > 0 and self.d_model % self.n_head:
            problems.append(f"d_model ({self.d_model}) must be divisible by n_head ({self.n_head})")
        elif self.n_head > 0 and not (0 <= self.rotary_dim <= self.head_dim and self.rotary_dim % 2 == 0):
            problems.append(f"rotary_dim ({self.rotary_dim}) must be even and <= head_dim ({self.head_dim})")
        for name in ("attn_dropout", "resid_dropout", "embd_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                problems.append(f"{name} must be in [0, 1) (got {getattr(self, name)})")
        if problems:
            raise ValueError("invalid PhiConfig: " + "; ".join(problems))

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @classmethod
    def presets(cls) -> list[str]:
        return list(_PRESETS)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "PhiConfig":
        if name not in _PRESETS:
            hint = difflib.get_close_matches(name, _PRESETS, n=1)
            raise ValueError(
                f"unknown model preset {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                + f" (known: {', '.join(_PRESETS)})"
            )
        return cls.from_dict({**_PRESETS[name], **overrides})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "PhiConfig":
        """Build from a dict, rejecting unknown keys with the closest valid name."""
        fields = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in fields:
                hint = difflib.get_close_matches(key, fields, n=1)
                raise ValueError(
                    f"unknown model config key {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                    + f" (valid keys: {', '.join(sorted(fields))})"
                )
        for f in dataclasses.fields(cls):  # annotations are strings here (from __future__ import annotations)
            value = values.get(f.name)
            kinds = {"int": (int,), "float": (int, float)}.get(str(f.type))
            if f.name in values and kinds and (isinstance(value, bool) or not isinstance(value, kinds)):
                raise ValueError(f"model config key {f.name!r} must be {'an integer' if f.type == 'int' else 'a number'}, "
                                 f"got {type(value).__name__} {str(value)[:40]!r}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def num_params(self, *, embeddings: bool = True) -> int:
        """Exact parameter count (phi-1: 1,418,270,720; phi-1-small: 356,794,368)."""
        d, f, v, L = self.d_model, self.d_mlp, self.vocab_size, self.n_layer
        block = 2 * d + 4 * (d * d + d) + (d * f + f) + (f * d + d)
        head = d * v + v
        return (v * d if embeddings else 0) + L * block + 2 * d + head

    # --- Hugging Face `PhiConfig` (model_type "phi") ---------------------------------------------
    def to_hf_dict(self) -> dict[str, Any]:
        return {
            "architectures": ["PhiForCausalLM"],
            "model_type": "phi",
            "vocab_size": self.vocab_size,
            "hidden_size": self.d_model,
            "intermediate_size": self.d_mlp,
            "num_hidden_layers": self.n_layer,
            "num_attention_heads": self.n_head,
            "num_key_value_heads": self.n_head,
            "partial_rotary_factor": self.rotary_dim / self.head_dim,
            "rope_theta": self.rope_theta,
            "max_position_embeddings": self.max_seq_len,
            "layer_norm_eps": self.ln_eps,
            "hidden_act": "gelu_new",
            "attention_dropout": self.attn_dropout,
            "resid_pdrop": self.resid_dropout,
            "embd_pdrop": self.embd_dropout,
            "initializer_range": self.init_std,
            "qk_layernorm": False,
            "tie_word_embeddings": False,
            "rope_scaling": None,
            "use_cache": True,
            "bos_token_id": None,
            "eos_token_id": None,
            "torch_dtype": "float32",
        }

    @classmethod
    def from_hf_dict(cls, hf: dict[str, Any], source: str = "config.json") -> "PhiConfig":
        """Read a transformers `phi` config or Microsoft's older `phi-msft` config."""
        model_type = hf.get("model_type")
        # A field of the wrong JSON type is named by its key (a bare TypeError from `d // nh` named nothing).
        for key, kinds in _HF_FIELD_TYPES.items():
            value = hf.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
                want = "an integer" if kinds is int else "a number"
                raise ValueError(f"{source}: key {key!r} must be {want}, got {type(value).__name__} {str(value)[:40]!r}")
        try:
            if model_type in ("phi-msft", "phi") and "n_embd" in hf:
                d, nh = hf["n_embd"], hf["n_head"]
                # phi-msft pads the vocab up to a multiple of `pad_vocab_size_multiple` (64)
                mult = hf.get("pad_vocab_size_multiple", 64)
                vocab = -(-hf["vocab_size"] // mult) * mult
                return cls(
                    vocab_size=vocab, n_layer=hf["n_layer"], d_model=d, n_head=nh,
                    d_mlp=hf.get("n_inner") or 4 * d,
                    rotary_dim=min(hf.get("rotary_dim", 32), d // nh),
                    rope_theta=hf.get("rope_theta", 10000.0) if "rope_theta" in hf else 10000.0,
                    max_seq_len=hf.get("n_positions", 2048), ln_eps=hf.get("layer_norm_epsilon", 1e-5),
                    attn_dropout=hf.get("attn_pdrop", 0.0), resid_dropout=hf.get("resid_pdrop", 0.0),
                    embd_dropout=hf.get("embd_pdrop", 0.0), init_std=hf.get("initializer_range", 0.02),
                )
            if model_type != "phi":
                raise ValueError(f"{source}: model_type is {model_type!r}; expected 'phi' (PhiForCausalLM) or 'phi-msft'")
            if hf.get("qk_layernorm"):
                raise ValueError(f"{source}: qk_layernorm=true is not the phi-1 architecture")
            nkv = hf.get("num_key_value_heads") or hf["num_attention_heads"]
            if nkv != hf["num_attention_heads"]:
                raise ValueError(f"{source}: num_key_value_heads={nkv} (grouped-query attention) is not phi-1's full MHA")
            if hf.get("hidden_act", "gelu_new") != "gelu_new":
                raise ValueError(f"{source}: hidden_act {hf['hidden_act']!r} is not supported (phi-1 uses gelu_new)")
            if hf.get("rope_scaling"):
                raise ValueError(f"{source}: rope_scaling is not supported (phi-1 uses plain RoPE)")
            d, nh = hf["hidden_size"], hf["num_attention_heads"]
            head_dim = d // nh
            rope_theta = hf.get("rope_theta")
            if rope_theta is None:  # transformers >= 5 nests it in rope_parameters
                rope_theta = (hf.get("rope_parameters") or {}).get("rope_theta", 10000.0)
            factor = hf.get("partial_rotary_factor")
            if factor is None:
                factor = (hf.get("rope_parameters") or {}).get("partial_rotary_factor", 0.5)
            return cls(
                vocab_size=hf["vocab_size"], n_layer=hf["num_hidden_layers"], d_model=d, n_head=nh,
                d_mlp=hf["intermediate_size"], rotary_dim=int(head_dim * factor), rope_theta=float(rope_theta),
                max_seq_len=hf.get("max_position_embeddings", 2048), ln_eps=hf.get("layer_norm_eps", 1e-5),
                attn_dropout=hf.get("attention_dropout", 0.0), resid_dropout=hf.get("resid_pdrop", 0.0),
                embd_dropout=hf.get("embd_pdrop", 0.0), init_std=hf.get("initializer_range", 0.02),
            )
        except KeyError as e:
            raise ValueError(f"{source}: missing key {e.args[0]!r} for a {model_type!r} config") from None
