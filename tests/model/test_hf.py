"""HF checkpoint directories: every accepted layout loads to the same model; bad inputs give clear errors;
`textbooks export hf` writes a directory transformers (model and tokenizer) loads."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from textbooks.cli import main
from textbooks.model import Phi, PhiConfig
from textbooks.model.hf import CheckpointError, CheckpointNotFoundError

TINY = dict(n_layer=2, d_model=64, n_head=4, d_mlp=256, vocab_size=320, rotary_dim=8, max_seq_len=128)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = Phi(PhiConfig(**TINY)).eval()
    with torch.no_grad():
        for p in m.parameters():  # non-zero biases/LayerNorms so every tensor's placement matters
            p.add_(0.05 * torch.randn_like(p))
    return m


@pytest.fixture()
def saved(model, tmp_path):
    path = tmp_path / "ckpt"
    model.save_pretrained(path)
    return path


def _ids():
    return torch.randint(0, TINY["vocab_size"], (2, 12), generator=torch.Generator().manual_seed(0))


def _assert_same_model(a: Phi, b: Phi):
    assert a.config == b.config
    with torch.no_grad():
        torch.testing.assert_close(a(_ids()), b(_ids()), atol=1e-5, rtol=0)


def test_save_writes_hf_config_and_contiguous_safetensors(model, saved):
    config = json.loads((saved / "config.json").read_text())
    assert config["model_type"] == "phi" and config["architectures"] == ["PhiForCausalLM"]
    assert config["torch_dtype"] == "float32" and config["textbooks"] == model.config.to_dict()
    tensors = load_file(saved / "model.safetensors")
    assert set(tensors) == set(model.state_dict())
    assert not any(name.startswith(".") for name in (p.name for p in saved.iterdir()))  # no temp files left


def test_round_trip_and_dtype(model, saved):
    loaded = Phi.from_pretrained(saved)
    _assert_same_model(model, loaded)
    assert all(isinstance(p, torch.nn.Parameter) and p.requires_grad for p in loaded.parameters())  # trainable
    half = Phi.from_pretrained(saved, dtype=torch.bfloat16)
    assert {p.dtype for p in half.parameters()} == {torch.bfloat16}
    half.save_pretrained(saved.parent / "bf16")
    assert json.loads((saved.parent / "bf16" / "config.json").read_text())["torch_dtype"] == "bfloat16"
    again = Phi.from_pretrained(saved.parent / "bf16")  # default dtype: what the file stores
    assert again.lm_head.weight.dtype == torch.bfloat16
    assert not any(t.is_meta for t in [*again.parameters(), *again.buffers()])


def test_sharded_safetensors_with_index(model, saved, tmp_path):
    state = load_file(saved / "model.safetensors")
    keys = sorted(state)
    shards = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
    out = tmp_path / "sharded"
    out.mkdir()
    (out / "config.json").write_text((saved / "config.json").read_text())
    weight_map = {}
    for name, names in shards.items():
        save_file({k: state[k] for k in names}, out / name, metadata={"format": "pt"})
        weight_map.update({k: name for k in names})
    (out / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    _assert_same_model(model, Phi.from_pretrained(out))

    (out / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointNotFoundError, match="model-00002-of-00002.safetensors"):
        Phi.from_pretrained(out)


def test_pytorch_model_bin(model, saved, tmp_path):
    out = tmp_path / "bin"
    out.mkdir()
    (out / "config.json").write_text((saved / "config.json").read_text())
    torch.save(model.state_dict(), out / "pytorch_model.bin")
    _assert_same_model(model, Phi.from_pretrained(out))


def _to_msft(model: Phi, vocab_rows: int) -> dict[str, torch.Tensor]:
    """Our state dict in the phi-msft key layout (microsoft/phi-1 before transformers had a Phi class)."""
    sd = model.state_dict()
    out = {"transformer.embd.wte.weight": sd["model.embed_tokens.weight"][:vocab_rows]}
    for i in range(model.config.n_layer):
        p = f"model.layers.{i}."
        q = f"transformer.h.{i}."
        for kind in ("weight", "bias"):
            out[q + f"ln.{kind}"] = sd[p + f"input_layernorm.{kind}"]
            # fused, qkv-major: [Q rows; K rows; V rows]
            out[q + f"mixer.Wqkv.{kind}"] = torch.cat([sd[p + f"self_attn.{n}_proj.{kind}"] for n in "qkv"])
            out[q + f"mixer.out_proj.{kind}"] = sd[p + f"self_attn.dense.{kind}"]
            out[q + f"mlp.fc1.{kind}"] = sd[p + f"mlp.fc1.{kind}"]
            out[q + f"mlp.fc2.{kind}"] = sd[p + f"mlp.fc2.{kind}"]
            out[f"lm_head.ln.{kind}"] = sd[f"model.final_layernorm.{kind}"]
        out[q + "mixer.rotary_emb.inv_freq"] = torch.ones(4)  # a buffer old checkpoints saved; recomputed, skipped
    out["lm_head.linear.weight"] = sd["lm_head.weight"][:vocab_rows]
    out["lm_head.linear.bias"] = sd["lm_head.bias"][:vocab_rows]
    return {k: v.contiguous() for k, v in out.items()}


def _msft_config(vocab_size: int) -> dict:
    return {  # the keys of microsoft/phi-1's phi-msft config.json (n_inner null = 4 * n_embd)
        "model_type": "phi-msft", "architectures": ["PhiForCausalLM"], "n_embd": 64, "n_head": 4, "n_head_kv": None,
        "n_inner": None, "n_layer": 2, "n_positions": 128, "rotary_dim": 8, "vocab_size": vocab_size,
        "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "attn_pdrop": 0.0, "embd_pdrop": 0.0,
        "resid_pdrop": 0.0, "initializer_range": 0.02, "tie_word_embeddings": False, "torch_dtype": "float32",
    }


def test_phi_msft_layout(model, tmp_path):
    out = tmp_path / "msft"
    out.mkdir()
    (out / "config.json").write_text(json.dumps(_msft_config(320)))
    save_file(_to_msft(model, 320), out / "model.safetensors", metadata={"format": "pt"})
    _assert_same_model(model, Phi.from_pretrained(out))


def test_phi_msft_vocab_rows_are_padded_to_multiple_of_64(model, tmp_path):
    out = tmp_path / "msft_short"
    out.mkdir()
    (out / "config.json").write_text(json.dumps(_msft_config(300)))  # 300 real tokens -> model vocab 320
    save_file(_to_msft(model, 300), out / "model.safetensors", metadata={"format": "pt"})
    loaded = Phi.from_pretrained(out)
    assert loaded.config.vocab_size == 320
    with torch.no_grad():
        ids = _ids() % 300
        a, b = model(ids), loaded(ids)
    torch.testing.assert_close(a[..., :300], b[..., :300], atol=1e-5, rtol=0)
    assert (b[..., 300:] < -1000).all()  # padded ids are never predicted


# --- bad inputs: each error names the file/key and says what to do ------------------------------------
def test_missing_directory_and_config(tmp_path, saved):
    with pytest.raises(CheckpointNotFoundError, match="does not exist"):
        Phi.from_pretrained(tmp_path / "nope")
    with pytest.raises(CheckpointNotFoundError, match="is a file"):
        Phi.from_pretrained(saved / "model.safetensors")
    (saved / "config.json").unlink()
    with pytest.raises(CheckpointNotFoundError, match=r"config.json not found.*model.safetensors"):
        Phi.from_pretrained(saved)
    assert issubclass(CheckpointNotFoundError, FileNotFoundError)


def test_missing_weights(saved):
    (saved / "model.safetensors").unlink()
    with pytest.raises(CheckpointNotFoundError, match=r"no weights in .*expected model.safetensors"):
        Phi.from_pretrained(saved)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_safetensors(saved, damage):
    path = saved / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(b"\x00\x01not a safetensors file" if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model.safetensors: cannot read it as safetensors.*corrupt or truncated"):
        Phi.from_pretrained(saved)


def test_wrong_shape_names_key_file_and_shapes(saved):
    path = saved / "model.safetensors"
    state = load_file(path)
    state["model.layers.1.mlp.fc1.weight"] = torch.zeros(128, 64)
    save_file(state, path, metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=r"model.layers.1.mlp.fc1.weight in .*model.safetensors has shape "
                                              r"\(128, 64\), but config.json implies \(256, 64\)"):
        Phi.from_pretrained(saved)


def test_missing_and_unexpected_tensors(saved):
    path = saved / "model.safetensors"
    state = load_file(path)
    del state["lm_head.bias"]
    state["model.layers.0.self_attn.q_layernorm.weight"] = torch.ones(16)
    save_file(state, path, metadata={"format": "pt"})
    with pytest.raises(CheckpointError) as err:
        Phi.from_pretrained(saved)
    assert "missing tensors: lm_head.bias" in str(err.value)
    assert "unexpected tensor 'model.layers.0.self_attn.q_layernorm.weight'" in str(err.value)


def test_unknown_config_key_and_bad_json(saved):
    path = saved / "config.json"
    config = json.loads(path.read_text())
    config["textbooks"]["n_layers"] = 2
    path.write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"config.json: unknown model config key 'n_layers'.*'n_layer'"):
        Phi.from_pretrained(saved)
    del config["textbooks"]["n_layers"]
    config["textbooks"]["d_mlp"] = 512  # edited on one side only
    path.write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"textbooks.d_mlp=512 disagrees"):
        Phi.from_pretrained(saved)
    path.write_text('{"model_type": "phi",')
    with pytest.raises(CheckpointError, match="not valid JSON"):
        Phi.from_pretrained(saved)
    path.write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(CheckpointError, match="model_type is 'llama'"):
        Phi.from_pretrained(saved)


def test_load_with_another_config_of_the_same_shapes(model, saved):
    """`load_pretrained(config=...)`: the trainer's init_from with dropout overrides, built once."""
    from textbooks.model.hf import load_pretrained

    config = PhiConfig(**{**TINY, "attn_dropout": 0.1, "resid_dropout": 0.1})
    loaded = load_pretrained(Phi, saved, config=config)
    assert loaded.config == config and not loaded.training
    assert loaded.model.layers[0].resid_dropout.p == 0.1
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, atol=0, rtol=0)
    with pytest.raises(CheckpointError, match="has shape"):
        load_pretrained(Phi, saved, config=PhiConfig(**{**TINY, "d_mlp": 128}))


def test_save_model_dir_writes_generation_config_and_tokenizer(tmp_path, tiny_tokenizer_dir):
    from textbooks.model.hf import save_model_dir
    from textbooks.tokenizer import load_tokenizer

    tok = load_tokenizer(tiny_tokenizer_dir)
    out = save_model_dir(Phi(PhiConfig(**{**TINY, "vocab_size": tok.padded_vocab_size})), tok, tmp_path / "out")
    ids = {"bos_token_id": tok.eos_id, "eos_token_id": tok.eos_id}
    assert json.loads((out / "generation_config.json").read_text()) == ids
    config = json.loads((out / "config.json").read_text())
    assert {k: config[k] for k in ids} == ids
    assert load_tokenizer(out).fingerprint == tok.fingerprint
    assert not any(name.startswith(".") for name in (p.name for p in out.iterdir()))  # no temp files left


# --- textbooks export hf ----------------------------------------------------------------------------
@pytest.fixture()
def checkpoint_with_tokenizer(tmp_path, tiny_tokenizer_dir):
    """A trainer-style checkpoint dir: our model at the tokenizer's padded vocab + the tokenizer files."""
    from textbooks.tokenizer import load_tokenizer

    tok = load_tokenizer(tiny_tokenizer_dir)
    torch.manual_seed(0)
    model = Phi(PhiConfig(**{**TINY, "vocab_size": tok.padded_vocab_size}))
    path = tmp_path / "ckpt_tok"
    model.save_pretrained(path)
    tok.save(path)
    return path, tok


def test_export_hf_end_to_end(checkpoint_with_tokenizer, tmp_path, capsys):
    transformers = pytest.importorskip("transformers", reason="export verification needs the [hf] extra")
    checkpoint, tok = checkpoint_with_tokenizer
    out = tmp_path / "export"
    assert main(["export", "hf", str(checkpoint), str(out), "--dtype", "bfloat16"]) == 0
    assert "verified" in capsys.readouterr().out
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "generation_config.json"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["eos_token_id"] == tok.eos_id and config["torch_dtype"] == "bfloat16"
    auto_tok = transformers.AutoTokenizer.from_pretrained(out)
    text = "def add(a, b):\n\treturn a + b  # <|endoftext|>\n"
    assert auto_tok(text, add_special_tokens=False)["input_ids"] == tok.encode(text)
    assert auto_tok.decode(tok.encode(text)) == text
    hf, info = transformers.AutoModelForCausalLM.from_pretrained(out, output_loading_info=True)
    assert type(hf).__name__ == "PhiForCausalLM" and hf.dtype == torch.bfloat16
    assert not info["missing_keys"] and not info["unexpected_keys"]


def test_export_with_separate_tokenizer_dir(saved, tmp_path, tiny_tokenizer_dir, capsys):
    # `saved` has vocab 320 < the tokenizer's 1024 tokens: refused, the tokenizer does not fit the model
    assert main(["export", "hf", str(saved), str(tmp_path / "o"), "--tokenizer", str(tiny_tokenizer_dir)]) == 2
    assert "does not belong to this checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written on error


def test_export_errors(saved, tmp_path, tiny_tokenizer_dir, capsys):
    out = tmp_path / "export"
    assert main(["export", "hf", str(saved), str(out), "--no-verify"]) == 2
    assert "checkpoint has no tokenizer files: pass --tokenizer DIR" in capsys.readouterr().err
    assert main(["export", "hf", str(tmp_path / "missing"), str(out), "--tokenizer", str(tiny_tokenizer_dir)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", "hf", str(saved), str(saved), "--tokenizer", str(tiny_tokenizer_dir)]) == 2
    assert "OUT_DIR is the checkpoint itself" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # usage error: argparse exits 2
        main(["export", "hf", str(saved)])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("side, key, value", [("hf", "hidden_size", "big"), ("hf", "num_hidden_layers", 2.5),
                                              ("hf", "layer_norm_eps", True), ("ours", "n_layer", "two"),
                                              ("ours", "d_model", 64.5), ("ours", "rope_theta", "1e4")])
def test_a_config_field_of_the_wrong_type_is_named_by_its_key(saved, side, key, value):
    """A wrong JSON type names the file and the key (a bare TypeError from arithmetic named neither)."""
    path = saved / "config.json"
    config = json.loads(path.read_text())
    (config if side == "hf" else config["textbooks"])[key] = value
    path.write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=rf"config.json: .*key '{key}' must be a"):
        Phi.from_pretrained(saved)
