"""What our GGUF files say: hyper-parameters, provenance, tokenizer keys and tensor types, read back with gguf."""

from __future__ import annotations

import functools
import json

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader, TokenType

from convert.metadata import load_vocabulary
from convert.tensors import from_interleaved_rope, to_interleaved_rope
from model.config import ModelConfig
from model.assets import default_vocab_path, vocab_path
from model.vocab import write_tokenizer_files


@functools.cache
def reader(path) -> GGUFReader:
    return GGUFReader(path)  # parsing 64k tokens and merges takes seconds: once per file


def fields(path) -> dict:
    return {key: field.contents() for key, field in reader(path).fields.items()}


def tensor_types(path) -> dict[str, Q]:
    return {t.name: t.tensor_type for t in reader(path).tensors}


def test_hyperparameters_llama_reads(converted, checkpoints):
    kv = fields(converted("mha_linear_rope_untied", "f16"))
    config = ModelConfig.load(checkpoints("mha_linear_rope_untied"))
    assert kv["general.architecture"] == "llama"
    expected = {
        "llama.context_length": 16384, "llama.embedding_length": 64, "llama.feed_forward_length": 172,
        "llama.block_count": 2, "llama.attention.head_count": 4, "llama.attention.head_count_kv": 4,
        "llama.rope.dimension_count": 16, "llama.rope.scaling.type": "linear", "llama.vocab_size": 32256,
        "general.file_type": int(gguf.LlamaFileType.MOSTLY_F16),
    }
    assert {key: kv[key] for key in expected} == expected
    assert kv["llama.rope.freq_base"] == pytest.approx(config.rope_theta)
    assert kv["llama.rope.scaling.factor"] == pytest.approx(4.0)
    assert kv["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(1e-6)
    assert kv["general.name"] and kv["general.base_model.0.name"]
    assert kv["seekcode.converter"].startswith("seekcode-convert ")


def test_gqa_without_rope_scaling(converted):
    kv = fields(converted("gqa_tied", "f32"))
    assert kv["llama.attention.head_count_kv"] == 2
    assert "llama.rope.scaling.type" not in kv and "llama.rope.scaling.factor" not in kv
    assert kv["general.file_type"] == int(gguf.LlamaFileType.ALL_F32)


def test_deepseek_coder_tokenizer_matches_llama_cpps_vocabulary(converted):
    """Tokens and merges equal the vocab llama.cpp ships; token types follow today's converter."""
    ours = fields(converted("mha_linear_rope_untied", "f16"))
    reference = fields(default_vocab_path())
    assert ours["tokenizer.ggml.model"] == "gpt2"
    assert ours["tokenizer.ggml.pre"] == "deepseek-coder"
    assert ours["tokenizer.ggml.tokens"] == reference["tokenizer.ggml.tokens"]
    assert ours["tokenizer.ggml.merges"] == reference["tokenizer.ggml.merges"]
    types = ours["tokenizer.ggml.token_type"]
    tokens = ours["tokenizer.ggml.tokens"]
    assert types[:32000] == [TokenType.NORMAL] * 32000
    assert types[32000] == TokenType.USER_DEFINED and tokens[32000] == "õ"
    for token_id in range(32013, 32022):  # BOS, EOS, FIM hole/begin/end, <pad>, <|User|>, <|Assistant|>, <|EOT|>
        assert types[token_id] == TokenType.CONTROL, tokens[token_id]
    assert tokens[32022] == "[PAD32022]" and types[32022] == TokenType.UNUSED
    assert (ours["tokenizer.ggml.bos_token_id"], ours["tokenizer.ggml.eos_token_id"]) == (32013, 32014)
    assert ours["tokenizer.ggml.padding_token_id"] == 32014
    assert ours["tokenizer.ggml.add_bos_token"] is True
    assert (ours["tokenizer.ggml.fim_pre_token_id"], ours["tokenizer.ggml.fim_suf_token_id"],
            ours["tokenizer.ggml.fim_mid_token_id"]) == (32016, 32015, 32017)
    assert ours["tokenizer.ggml.eot_token_id"] == 32021


QWEN25_CODER_ADDED = {151659: "<|fim_prefix|>", 151660: "<|fim_middle|>", 151661: "<|fim_suffix|>",
                      151662: "<|fim_pad|>", 151663: "<|repo_name|>", 151664: "<|file_sep|>"}


def test_qwen2_tokenizer_keys(tmp_path):
    """Qwen2's shared vocabulary, with the FIM tokens Qwen2.5-Coder's tokenizer.json adds at their ids."""
    write_tokenizer_files(vocab_path("qwen2"), tmp_path)
    tokenizer = json.loads((tmp_path / "tokenizer.json").read_text())
    for added in tokenizer["added_tokens"]:
        if added["id"] in QWEN25_CODER_ADDED:
            added.update(content=QWEN25_CODER_ADDED[added["id"]], special=True)
    (tmp_path / "tokenizer.json").write_text(json.dumps(tokenizer))
    n_tokens = len(tokenizer["model"]["vocab"]) + len(tokenizer["added_tokens"])
    config = ModelConfig(arch="qwen2", vocab_size=n_tokens + 64, hidden_size=64, intermediate_size=128,
                         num_layers=1, num_heads=4, num_kv_heads=2, attention_bias=True)
    vocabulary = load_vocabulary(tmp_path, config)
    assert vocabulary.pre == "qwen2"
    assert len(vocabulary.tokens) == n_tokens + 64
    assert vocabulary.tokens[-1] == f"[PAD{n_tokens + 63}]" and vocabulary.token_types[-1] == TokenType.UNUSED
    ids = {key.removeprefix("tokenizer.ggml."): token_id for key, token_id in vocabulary.special_ids.items()}
    texts = {key: vocabulary.tokens[token_id] for key, token_id in ids.items()}
    assert texts["fim_pre_token_id"] == "<|fim_prefix|>"
    assert texts["fim_suf_token_id"] == "<|fim_suffix|>"
    assert texts["fim_mid_token_id"] == "<|fim_middle|>"
    assert texts["fim_pad_token_id"] == "<|fim_pad|>"
    assert texts["fim_rep_token_id"] == "<|repo_name|>"
    assert texts["fim_sep_token_id"] == "<|file_sep|>"
    assert texts["eot_token_id"] == "<|im_end|>"
    for token_id in ids.values():
        assert vocabulary.token_types[token_id] == TokenType.CONTROL


@pytest.mark.parametrize("outtype, weight, embedding, output, fallback", [
    ("f32", Q.F32, Q.F32, Q.F32, Q.F32),
    ("f16", Q.F16, Q.F16, Q.F16, Q.F16),
    ("bf16", Q.BF16, Q.BF16, Q.BF16, Q.BF16),
    ("q8_0", Q.Q8_0, Q.Q8_0, Q.Q8_0, Q.F16),  # ffn_down rows of 172 are not whole 32-blocks
    ("q4_0", Q.Q4_0, Q.Q4_0, Q.Q8_0, Q.F16),
])
def test_direct_tensor_types(converted, outtype, weight, embedding, output, fallback):
    types = tensor_types(converted("mha_linear_rope_untied", outtype))
    assert types["blk.0.attn_q.weight"] == weight
    assert types["blk.1.ffn_gate.weight"] == weight
    assert types["token_embd.weight"] == embedding
    assert types["output.weight"] == output
    assert types["blk.0.ffn_down.weight"] == fallback
    assert types["blk.0.attn_norm.weight"] == types["output_norm.weight"] == Q.F32
    assert len(types) == 2 + 1 + 2 * 9


def test_tied_embeddings_have_no_output_tensor(converted):
    types = tensor_types(converted("gqa_tied", "q4_0"))
    assert "output.weight" not in types
    assert types["token_embd.weight"] == Q.Q8_0  # the tied embedding computes the logits: kept at 8 bits


def test_qwen2_keeps_biases_in_f32_and_hf_rope_layout(converted, checkpoints):
    path = converted("qwen2_bias_tied", "f32")
    assert fields(path)["general.architecture"] == "qwen2"
    tensors = {t.name: t for t in reader(path).tensors}
    assert tensors["blk.0.attn_q.bias"].tensor_type == Q.F32
    from safetensors.numpy import load_file

    source = load_file(checkpoints("qwen2_bias_tied") / "model.safetensors")
    np.testing.assert_array_equal(np.asarray(tensors["blk.0.attn_k.weight"].data),
                                  source["model.layers.0.self_attn.k_proj.weight"])


def test_llama_q_and_k_are_permuted_into_llamacpp_rope_layout(converted, checkpoints):
    from safetensors.numpy import load_file

    source = load_file(checkpoints("gqa_tied") / "model.safetensors")
    tensors = {t.name: np.asarray(t.data) for t in reader(converted("gqa_tied", "f32")).tensors}
    q, k = source["model.layers.0.self_attn.q_proj.weight"], source["model.layers.0.self_attn.k_proj.weight"]
    np.testing.assert_array_equal(tensors["blk.0.attn_q.weight"], to_interleaved_rope(q, 4))
    np.testing.assert_array_equal(tensors["blk.0.attn_k.weight"], to_interleaved_rope(k, 2))
    np.testing.assert_array_equal(tensors["blk.0.attn_v.weight"], source["model.layers.0.self_attn.v_proj.weight"])
    # head 0, first rotary pair: HF rows 0 and 8 (half of head_dim 16) become adjacent rows 0 and 1
    np.testing.assert_array_equal(tensors["blk.0.attn_q.weight"][:2], q[[0, 8]])
    np.testing.assert_array_equal(from_interleaved_rope(tensors["blk.0.attn_k.weight"], 2), k)
