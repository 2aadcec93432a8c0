"""PhiConfig: preset shapes and parameter counts (paper §2.3), dict/HF conversion, clear errors."""

import pytest
import torch

from textbooks.model import Phi, PhiConfig

# Paper §2.3 / the released checkpoints: phi-1 has 1.3B parameters (1,418,270,720 with embeddings at
# vocab 51200), phi-1-small 350M (356,794,368).
PHI_1 = 1_418_270_720
PHI_1_SMALL = 356_794_368


def _count_on_meta(config: PhiConfig) -> int:
    with torch.device("meta"):  # shapes only, no memory
        model = Phi(config)
    return sum(p.numel() for p in model.parameters())


def test_preset_shapes_match_the_paper():
    c = PhiConfig.preset("phi-1")
    assert (c.n_layer, c.d_model, c.n_head, c.head_dim, c.d_mlp, c.vocab_size, c.rotary_dim, c.max_seq_len) == (
        24, 2048, 32, 64, 8192, 51200, 32, 2048
    )
    s = PhiConfig.preset("phi-1-small")
    assert (s.n_layer, s.d_model, s.n_head, s.head_dim, s.d_mlp, s.vocab_size, s.rotary_dim) == (
        20, 1024, 16, 64, 4096, 51200, 32
    )


def test_preset_param_counts_by_config_math():
    assert PhiConfig.preset("phi-1").num_params() == PHI_1
    assert PhiConfig.preset("phi-1-small").num_params() == PHI_1_SMALL


@pytest.mark.parametrize("name,expected", [("phi-1-small", PHI_1_SMALL), ("phi-1", PHI_1)])
def test_preset_param_counts_by_instantiating_on_meta(name, expected):
    assert _count_on_meta(PhiConfig.preset(name)) == expected


@pytest.mark.parametrize("name", ["tiny", "mini"])
def test_small_presets_count_matches_model(name):
    config = PhiConfig.preset(name, vocab_size=4160)
    model = Phi(config)
    assert model.num_params() == config.num_params()
    assert model.num_params(embeddings=False) == config.num_params(embeddings=False)
    assert config.head_dim == 2 * config.rotary_dim  # the same partial-rotary factor 0.5 as phi-1


def test_unknown_key_names_the_key_and_suggests():
    with pytest.raises(ValueError, match=r"unknown model config key 'n_layers'.*did you mean 'n_layer'"):
        PhiConfig.from_dict({"n_layers": 2})
    with pytest.raises(ValueError, match=r"unknown model preset 'phi1'.*did you mean 'phi-1'"):
        PhiConfig.preset("phi1")
    with pytest.raises(ValueError, match=r"unknown model config key 'dmodel'"):
        PhiConfig.preset("tiny", dmodel=64)


def test_invalid_shapes_are_rejected():
    with pytest.raises(ValueError, match="divisible by n_head"):
        PhiConfig(d_model=100, n_head=3)
    with pytest.raises(ValueError, match="rotary_dim"):
        PhiConfig(d_model=64, n_head=2, rotary_dim=40)


def test_dict_and_hf_round_trip():
    config = PhiConfig.preset("mini", vocab_size=4160, attn_dropout=0.1, resid_dropout=0.1)
    assert PhiConfig.from_dict(config.to_dict()) == config
    assert PhiConfig.from_hf_dict(config.to_hf_dict()) == config
    hf = PhiConfig.preset("phi-1").to_hf_dict()
    assert hf["partial_rotary_factor"] == 0.5 and hf["model_type"] == "phi"


def test_transformers_reads_our_hf_config_the_same_way():
    transformers = pytest.importorskip("transformers", reason="install the [hf] extra to check against transformers")
    ours = PhiConfig.preset("tiny", vocab_size=512)
    theirs = transformers.PhiConfig(**ours.to_hf_dict())
    head_dim = theirs.hidden_size // theirs.num_attention_heads
    assert int(head_dim * theirs.rope_parameters["partial_rotary_factor"]) == ours.rotary_dim
    assert theirs.rope_parameters["rope_theta"] == ours.rope_theta
    assert (theirs.num_hidden_layers, theirs.intermediate_size, theirs.vocab_size) == (2, 512, 512)


def test_phi_msft_config_pads_vocab_to_multiple_of_64():
    msft = {  # microsoft/phi-1's config.json before transformers had a Phi class (model_type phi-msft)
        "model_type": "phi-msft", "n_embd": 2048, "n_head": 32, "n_head_kv": None, "n_inner": None, "n_layer": 24,
        "n_positions": 2048, "rotary_dim": 32, "vocab_size": 50257, "layer_norm_epsilon": 1e-5,
        "activation_function": "gelu_new", "attn_pdrop": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0,
    }
    config = PhiConfig.from_hf_dict(msft)
    assert config.vocab_size == 50304  # 50257 rounded up to a multiple of 64
    assert config.num_params() == PhiConfig.preset("phi-1", vocab_size=50304).num_params()


def test_hf_configs_of_other_architectures_are_rejected():
    hf = PhiConfig.preset("tiny").to_hf_dict()
    with pytest.raises(ValueError, match="model_type"):
        PhiConfig.from_hf_dict({**hf, "model_type": "llama"})
    with pytest.raises(ValueError, match="grouped-query"):
        PhiConfig.from_hf_dict({**hf, "num_key_value_heads": 1})
    with pytest.raises(ValueError, match="missing key 'hidden_size'"):
        PhiConfig.from_hf_dict({k: v for k, v in hf.items() if k != "hidden_size"})
