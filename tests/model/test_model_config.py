"""ModelConfig reads released config.json files, round-trips, and names what it cannot represent."""

from __future__ import annotations

import json

import pytest

from model.config import ConfigError, ModelConfig

# As shipped by deepseek-ai/deepseek-coder-6.7b-base and Qwen/Qwen2.5-Coder-0.5B (trimmed of irrelevant keys).
DEEPSEEK_CODER_6_7B = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "bos_token_id": 32013, "eos_token_id": 32014,
    "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 11008,
    "max_position_embeddings": 16384, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
    "num_key_value_heads": 32, "pretraining_tp": 1, "rms_norm_eps": 1e-06,
    "rope_scaling": {"factor": 4.0, "type": "linear"}, "rope_theta": 100000, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "transformers_version": "4.33.1", "use_cache": True, "vocab_size": 32256,
}
QWEN25_CODER_0_5B = {
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151643,
    "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02, "intermediate_size": 4864,
    "max_position_embeddings": 32768, "max_window_layers": 24, "model_type": "qwen2", "num_attention_heads": 14,
    "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 32768, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "use_cache": True,
    "use_sliding_window": False, "vocab_size": 151936,
}


def test_deepseek_coder_config():
    config = ModelConfig.from_hf(DEEPSEEK_CODER_6_7B)
    assert (config.arch, config.num_layers, config.num_heads, config.num_kv_heads, config.head_dim) == ("llama", 32, 32, 32, 128)
    assert config.rope_scaling_factor == 4.0 and config.rope_theta == 100000.0
    assert (config.bos_token_id, config.eos_token_ids, config.torch_dtype) == (32013, (32014,), "bfloat16")
    assert not config.attention_bias and not config.tie_word_embeddings


def test_qwen2_config():
    config = ModelConfig.from_hf(QWEN25_CODER_0_5B)
    assert (config.arch, config.num_heads, config.num_kv_heads, config.head_dim) == ("qwen2", 14, 2, 64)
    assert config.attention_bias and config.tie_word_embeddings and not config.output_proj_bias
    assert config.rope_scaling_factor is None


@pytest.mark.parametrize("hf", [DEEPSEEK_CODER_6_7B, QWEN25_CODER_0_5B], ids=["deepseek", "qwen2"])
def test_round_trip_and_transformers_reads_it(hf, tmp_path):
    import transformers

    config = ModelConfig.from_hf(hf)
    assert ModelConfig.from_hf(config.to_hf()) == config
    config.save(tmp_path)
    assert ModelConfig.load(tmp_path) == config
    hf_config = transformers.AutoConfig.from_pretrained(tmp_path)
    assert type(hf_config).__name__ == {"llama": "LlamaConfig", "qwen2": "Qwen2Config"}[config.arch]
    assert (hf_config.num_key_value_heads, hf_config.tie_word_embeddings) == (config.num_kv_heads, config.tie_word_embeddings)
    # transformers v5 stores rope settings in rope_parameters; the v4 keys we write must map onto it.
    assert ModelConfig.from_hf(hf_config.to_dict()) == config


def test_transformers_v5_rope_parameters_and_eos_list():
    hf = dict(DEEPSEEK_CODER_6_7B, eos_token_id=[32014, 32021])
    del hf["rope_scaling"], hf["rope_theta"]
    hf["rope_parameters"] = {"rope_type": "linear", "factor": 4.0, "rope_theta": 100000.0}
    config = ModelConfig.from_hf(hf)
    assert (config.rope_theta, config.rope_scaling_factor, config.eos_token_ids) == (100000.0, 4.0, (32014, 32021))
    assert json.loads(json.dumps(config.to_hf()))["eos_token_id"] == [32014, 32021]


@pytest.mark.parametrize(("change", "named"), [
    ({"rope_scaling": {"type": "dynamic", "factor": 2.0}}, "'dynamic'"),
    ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, "'yarn'"),
    ({"rope_scaling": {"type": "linear", "factor": -1}}, "factor=-1"),
    ({"hidden_act": "gelu"}, "hidden_act='gelu'"),
    ({"mlp_bias": True}, "mlp_bias=True"),
    ({"model_type": "mistral"}, "model_type='mistral'"),
    ({"architectures": ["GPT2LMHeadModel"]}, "GPT2LMHeadModel"),
    ({"use_sliding_window": True}, "use_sliding_window=True"),
    ({"quantization_config": {"quant_method": "gptq"}}, "gptq"),
    ({"num_key_value_heads": 5}, "num_kv_heads=5"),
    ({"torch_dtype": "float8_e4m3fn"}, "float8_e4m3fn"),
    ({"vocab_size": None}, "vocab_size=None"),
])
def test_unsupported_settings_are_named(change, named):
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("(", r"\(")):
        ModelConfig.from_hf({**DEEPSEEK_CODER_6_7B, **change})


def test_missing_required_key_is_named():
    hf = dict(DEEPSEEK_CODER_6_7B)
    del hf["num_hidden_layers"]
    with pytest.raises(ConfigError, match="num_hidden_layers"):
        ModelConfig.from_hf(hf)


def test_load_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="config.json does not exist"):
        ModelConfig.load(tmp_path)
    (tmp_path / "config.json").write_text("{nope")
    with pytest.raises(ConfigError, match="config.json is not valid JSON"):
        ModelConfig.load(tmp_path)
