"""Checkpoint directories: every supported layout loads, bad ones fail naming the problem, saves are atomic."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import model.checkpoint as checkpoint
from model.checkpoint import (
    CheckpointError, expected_shapes, load_model, open_checkpoint, save_checkpoint,
)
from model.config import ConfigError


def copy_checkpoint(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def assert_same_logits(a, b, tokens) -> None:
    batch = tokens(batch=1, length=12)
    with torch.no_grad():
        assert torch.equal(a(batch), b(batch))


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


# ---- layouts that load ------------------------------------------------------------------------


def test_single_file_round_trip_and_lazy_reader(make_config, make_model, saved_checkpoint, tokens):
    config = make_config("llama", num_kv_heads=2)
    directory = saved_checkpoint(config)
    assert sorted(os.listdir(directory)) == ["config.json", "model.safetensors"]
    reader = open_checkpoint(directory)
    assert reader.config == config
    assert sorted(reader.names()) == sorted(expected_shapes(config))
    assert reader.shape("model.layers.1.self_attn.k_proj.weight") == (2 * config.head_dim, config.hidden_size)
    assert reader.dtype("model.norm.weight") == torch.float32
    original = make_model(config)
    assert torch.equal(reader.get("lm_head.weight"), original.lm_head.weight)
    assert_same_logits(load_model(directory), original, tokens)


def test_sharded_round_trip_is_readable_by_transformers(make_config, make_model, tmp_path, tokens):
    import transformers

    config = make_config("qwen2", num_kv_heads=2, tie_word_embeddings=True, torch_dtype="bfloat16")
    original = make_model(config)
    limit = 60_000
    directory = save_checkpoint(tmp_path / "sharded", config, original.state_dict(), max_shard_bytes=limit)
    index = json.loads((directory / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2 and all((directory / s).is_file() for s in shards)
    assert "lm_head.weight" not in index["weight_map"]  # tied: only the embeddings are written
    for shard in shards:
        tensors = load_file(directory / shard)
        assert sum(t.numel() * t.element_size() for t in tensors.values()) <= limit or len(tensors) == 1
    assert index["metadata"]["total_size"] == sum(p.numel() * 4 for p in original.parameters())

    assert_same_logits(load_model(directory, dtype=torch.float32), original, tokens)
    assert load_model(directory).model.norm.weight.dtype == torch.bfloat16  # the config's torch_dtype
    hf = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    batch = tokens(batch=1, length=12)
    with torch.no_grad():
        assert (hf(batch).logits - original(batch)).abs().max().item() <= 1e-4


def test_pytorch_bin_single_and_sharded(make_config, make_model, tmp_path, tokens):
    config = make_config("llama")
    original = make_model(config)
    state = original.state_dict()

    single = tmp_path / "single"
    single.mkdir()
    config.save(single)
    legacy = dict(state, **{"model.layers.0.self_attn.rotary_emb.inv_freq": torch.ones(8)})  # old Llama .bin extra
    torch.save(legacy, single / "pytorch_model.bin")
    assert_same_logits(load_model(single), original, tokens)

    sharded = tmp_path / "sharded"
    sharded.mkdir()
    config.save(sharded)
    names = list(state)
    halves = {"pytorch_model-00001-of-00002.bin": names[:10], "pytorch_model-00002-of-00002.bin": names[10:]}
    for file_name, part in halves.items():
        torch.save({n: state[n] for n in part}, sharded / file_name)
    weight_map = {n: f for f, part in halves.items() for n in part}
    (sharded / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
    reader = open_checkpoint(sharded)
    assert reader.shape("lm_head.weight") == (config.vocab_size, config.hidden_size)
    assert_same_logits(load_model(sharded), original, tokens)


def test_tied_checkpoint_with_redundant_lm_head_loads(make_config, make_model, tmp_path, tokens):
    config = make_config("qwen2", tie_word_embeddings=True)
    original = make_model(config)
    directory = save_checkpoint(tmp_path / "tied", config, original.state_dict())
    tensors = load_file(directory / "model.safetensors")
    tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"].clone()
    save_file(tensors, directory / "model.safetensors", metadata={"format": "pt"})
    assert_same_logits(load_model(directory), original, tokens)


# ---- bad checkpoints ----------------------------------------------------------------------------


@pytest.fixture
def good(make_config, saved_checkpoint, tmp_path) -> Path:
    return copy_checkpoint(saved_checkpoint(make_config("llama")), tmp_path / "ckpt")


@pytest.fixture
def good_sharded(make_config, saved_checkpoint, tmp_path) -> Path:
    return copy_checkpoint(saved_checkpoint(make_config("llama"), max_shard_bytes=100_000), tmp_path / "sharded")


def test_truncated_safetensors_is_named(good):
    data = (good / "model.safetensors").read_bytes()
    (good / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*(corrupt or truncated)"):
        load_model(good)


def test_garbage_safetensors_is_named(good):
    (good / "model.safetensors").write_bytes(b"\x00" * 4 + b"not a safetensors file" * 10)
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        open_checkpoint(good)


def test_truncated_bin_is_named(make_config, make_model, tmp_path):
    config = make_config("llama")
    directory = tmp_path / "bin"
    directory.mkdir()
    config.save(directory)
    torch.save(make_model(config).state_dict(), directory / "pytorch_model.bin")
    data = (directory / "pytorch_model.bin").read_bytes()
    (directory / "pytorch_model.bin").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin"):
        load_model(directory)


def test_bad_config_json_is_named(good):
    (good / "config.json").write_text('{"model_type": "llama", ')
    with pytest.raises(CheckpointError, match=r"config\.json is not valid JSON"):
        open_checkpoint(good)


def test_missing_config_json_is_named(good):
    (good / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"config\.json is missing"):
        open_checkpoint(good)


def test_unsupported_config_raises_config_error(good):
    hf = json.loads((good / "config.json").read_text())
    hf["rope_scaling"] = {"type": "yarn", "factor": 4.0}
    (good / "config.json").write_text(json.dumps(hf))
    with pytest.raises(ConfigError, match="yarn"):
        open_checkpoint(good)


def test_directory_without_weights(good):
    (good / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="holds no weights"):
        open_checkpoint(good)


def test_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="not a directory"):
        open_checkpoint(tmp_path / "nope")


def test_missing_shard_is_named(good_sharded):
    shard = sorted(good_sharded.glob("model-*.safetensors"))[-1]
    shard.unlink()
    with pytest.raises(CheckpointError, match=shard.name):
        open_checkpoint(good_sharded)


def test_index_without_weight_map(good_sharded):
    (good_sharded / "model.safetensors.index.json").write_text('{"metadata": {}}')
    with pytest.raises(CheckpointError, match="weight_map"):
        open_checkpoint(good_sharded)


def test_shard_lacking_an_indexed_tensor(good_sharded):
    index_path = good_sharded / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    first_shard = index["weight_map"]["model.embed_tokens.weight"]
    index["weight_map"]["model.norm.weight"] = first_shard
    index_path.write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=rf"{first_shard} lacks tensor model\.norm\.weight"):
        open_checkpoint(good_sharded)


def rewrite(directory: Path, edit) -> None:
    tensors = load_file(directory / "model.safetensors")
    edit(tensors)
    save_file(tensors, directory / "model.safetensors", metadata={"format": "pt"})


def test_missing_tensor_is_named(good):
    rewrite(good, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
    with pytest.raises(CheckpointError, match=r"missing model\.layers\.1\.mlp\.up_proj\.weight"):
        load_model(good)


def test_unexpected_tensor_is_named(good):
    rewrite(good, lambda t: t.update({"model.layers.2.mlp.up_proj.weight": torch.zeros(3)}))
    with pytest.raises(CheckpointError, match=r"unexpected model\.layers\.2\.mlp\.up_proj\.weight"):
        load_model(good)


def test_misshaped_tensor_is_named(good):
    rewrite(good, lambda t: t.update({"model.norm.weight": torch.ones(63)}))
    with pytest.raises(CheckpointError, match=r"model\.norm\.weight has shape \(63,\), expected \(64,\)"):
        load_model(good)


# ---- saving -------------------------------------------------------------------------------------


def test_interrupted_sharded_save_leaves_previous_checkpoint(good, make_config, make_model, monkeypatch, tokens):
    before = snapshot(good)
    previous = load_model(good)
    written = []

    def failing_write_shard(path, tensors):
        if written:
            raise OSError("No space left on device")
        written.append(path)
        checkpoint.save_file(tensors, str(path), metadata={"format": "pt"})

    monkeypatch.setattr(checkpoint, "_write_shard", failing_write_shard)
    newer = make_model(make_config("llama"), seed=7)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(good, newer.config, newer.state_dict(), max_shard_bytes=100_000)
    assert written, "the fault must strike after part of the new checkpoint was written"
    assert snapshot(good) == before
    assert sorted(p.name for p in good.parent.iterdir()) == ["ckpt"]  # no temporary directories left
    assert_same_logits(load_model(good), previous, tokens)


def test_save_with_bad_tokenizer_source_leaves_previous_checkpoint(good, make_config, make_model, tmp_path):
    before = snapshot(good)
    newer = make_model(make_config("llama"), seed=7)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no tokenizer.json"):
        save_checkpoint(good, newer.config, newer.state_dict(), tokenizer_src=tmp_path / "empty")
    assert snapshot(good) == before


def test_save_replaces_existing_checkpoint_and_copies_tokenizer(good, make_config, make_model, tmp_path, tokens):
    src = tmp_path / "tok"
    src.mkdir()
    (src / "tokenizer.json").write_text('{"version": "1.0", "model": {"type": "BPE"}}')
    (src / "tokenizer_config.json").write_text('{"add_bos_token": true}')
    newer = make_model(make_config("llama"), seed=7)
    save_checkpoint(good, newer.config, newer.state_dict(), tokenizer_src=src)
    assert sorted(os.listdir(good)) == ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    assert (good / "tokenizer.json").read_bytes() == (src / "tokenizer.json").read_bytes()
    assert_same_logits(load_model(good), newer, tokens)
    assert sorted(p.name for p in good.parent.iterdir()) == ["ckpt", "tok"]


def test_save_refuses_bad_state_dict_before_writing(make_config, make_model, tmp_path):
    config = make_config("llama")
    state = make_model(config).state_dict()
    del state["model.norm.weight"]
    state["model.layers.0.mlp.up_proj.weight"] = torch.zeros(2, 2)
    with pytest.raises(CheckpointError, match=r"missing model\.norm\.weight.*up_proj\.weight has shape \(2, 2\)"):
        save_checkpoint(tmp_path / "out", config, state)
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_to_replace_a_non_checkpoint_directory(make_config, make_model, tmp_path):
    precious = tmp_path / "src"
    precious.mkdir()
    (precious / "main.py").write_text("print('hello')\n")
    config = make_config("llama")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        save_checkpoint(precious, config, make_model(config).state_dict())
    assert (precious / "main.py").read_text() == "print('hello')\n"


def test_saved_directory_has_ordinary_permissions(make_config, make_model, tmp_path):
    config = make_config("llama")
    umask = os.umask(0o022)
    try:
        directory = save_checkpoint(tmp_path / "out", config, make_model(config).state_dict())
    finally:
        os.umask(umask)
    assert directory.stat().st_mode & 0o777 == 0o755  # readable by others, like any directory made with mkdir
    assert (directory / "model.safetensors").stat().st_mode & 0o777 == 0o644
