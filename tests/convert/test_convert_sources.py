"""Every checkpoint layout converts to the same GGUF; the streaming reader agrees with model.checkpoint."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from convert.pipeline import convert_checkpoint
from convert.source import open_source
from model.checkpoint import save_checkpoint
from model.config import ModelConfig
from model.layout import expected_shapes
from model.transformer import Transformer


@pytest.mark.parametrize("overrides", [
    {},
    {"num_kv_heads": 1, "tie_word_embeddings": True},
    {"attention_bias": True},
    {"arch": "qwen2", "attention_bias": True, "tie_word_embeddings": True},
])
def test_expected_tensors_match_the_reference_models(overrides):
    config = ModelConfig(**{"arch": "llama", "vocab_size": 300, "hidden_size": 64, "intermediate_size": 96,
                            "num_layers": 3, "num_heads": 4, "num_kv_heads": 2, **overrides})
    model_shapes = {name: tuple(t.shape) for name, t in Transformer(config).state_dict().items()}
    assert expected_shapes(config) == model_shapes


def test_sharded_safetensors_and_bin_convert_to_the_same_file(checkpoints, converted, tmp_path):
    source = checkpoints("gqa_tied")
    config = ModelConfig.load(source)
    state = load_file(source / "model.safetensors")

    # same directory name as the source: the name goes into general.name
    sharded = save_checkpoint(tmp_path / "sharded" / source.name, config, state, max_shard_bytes=2_000_000, tokenizer_src=source)
    assert len(list(sharded.glob("model-*-of-*.safetensors"))) >= 2

    as_bin = tmp_path / "bin" / source.name
    shutil.copytree(source, as_bin)
    (as_bin / "model.safetensors").unlink()
    torch.save(state, as_bin / "pytorch_model.bin")

    reference = converted("gqa_tied", "q8_0").read_bytes()
    for directory in (sharded, as_bin):
        out = convert_checkpoint(directory, directory.parent / "out.gguf", "q8_0", log=lambda _m: None)
        assert out.read_bytes() == reference, directory.parent.name


def test_rows_are_read_in_chunks_exactly(checkpoints):
    source = open_source(checkpoints("mha_linear_rope_untied"))
    embedding = next(t for t in source.tensors if t.name == "model.embed_tokens.weight")
    whole = source.read(embedding)
    parts = [source.read_rows(embedding, first, min(1000, embedding.shape[0] - first))
             for first in range(0, embedding.shape[0], 1000)]
    assert (torch.from_numpy(whole) == torch.cat([torch.from_numpy(p) for p in parts])).all()


def test_converting_safetensors_never_imports_torch(checkpoints, tmp_path):
    script = (
        "import sys\n"
        "from convert.pipeline import convert_checkpoint\n"
        f"convert_checkpoint({str(checkpoints('mha_linear_rope_untied'))!r}, {str(tmp_path / 'x.gguf')!r}, 'q4_0',"
        " log=lambda _m: None)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
