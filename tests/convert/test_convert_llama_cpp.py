"""Our GGUFs in real llama.cpp: logits against the PyTorch reference, tokenizer, FIM ids, K-quants, --to hf."""

from __future__ import annotations

import llama_cpp
import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader

from convert.cli import main
from convert.pipeline import convert_checkpoint
from convert.to_hf import to_hf
from convert.verify import TOLERANCES, verify
from convert_support import deepseek_vectors, no_debris
from model.checkpoint import open_checkpoint


@pytest.mark.parametrize("name", ["mha_linear_rope_untied", "gqa_tied", "qwen2_bias_tied"])
def test_f32_gguf_in_llama_cpp_matches_the_reference(converted, checkpoints, name):
    report = verify(checkpoints(name), converted(name, "f32"), outtype="f32", threads=2)
    assert report.top1 == 1.0, report.summary()
    assert report.max_abs_diff < 0.01 * report.logit_std, report.summary()
    assert report.mean_kl < 1e-5, report.summary()


@pytest.mark.parametrize("outtype", ["f16", "bf16", "q8_0"])
def test_16_and_8_bit_ggufs_are_within_tolerance(converted, checkpoints, outtype):
    report = verify(checkpoints("mha_linear_rope_untied"), converted("mha_linear_rope_untied", outtype),
                    outtype=outtype, threads=2)
    assert report.passed, report.summary()


def test_q4_k_m_through_llama_cpps_quantizer_is_within_tolerance(converted, checkpoints):
    path = converted("wide_gqa", "q4_k_m")
    types = {t.name: t.tensor_type for t in GGUFReader(path).tensors}
    assert types["blk.0.attn_q.weight"] == Q.Q4_K
    assert types["token_embd.weight"] == Q.Q6_K  # tied: llama.cpp gives the logits projection Q6_K
    assert types["blk.0.attn_norm.weight"] == Q.F32
    assert no_debris(path.parent, {p.name for p in path.parent.glob("*.gguf")}) == []
    report = verify(checkpoints("wide_gqa"), path, outtype="q4_k_m", threads=2)
    assert report.passed, report.summary()
    assert report.tolerance == TOLERANCES["q4_k_m"]


def test_k_quant_fallbacks_are_reported(checkpoints, tmp_path):
    """ffn width 640 (like DeepSeek-Coder-1.3B's 5504) is not whole 256-blocks: ffn_down falls back."""
    notes: list[str] = []
    out = convert_checkpoint(checkpoints("wide_ffn_640"), tmp_path / "m.gguf", "q4_k_m", threads=2, log=notes.append)
    types = {t.name: t.tensor_type for t in GGUFReader(out).tensors}
    assert {types["blk.0.ffn_down.weight"], types["blk.1.ffn_down.weight"]} <= {Q.Q5_0, Q.Q8_0}
    assert types["blk.0.ffn_gate.weight"] == Q.Q4_K
    assert sorted(notes) == sorted(
        f"note: blk.{i}.ffn_down.weight: rows of 640 are not a multiple of 256, so it is "
        f"{types[f'blk.{i}.ffn_down.weight'].name} instead of a K-quant" for i in range(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf"]  # the unquantized temporary is gone


def test_llama_cpp_tokenizes_the_deepseek_coder_vectors_exactly(converted):
    llm = llama_cpp.Llama(model_path=str(converted("mha_linear_rope_untied", "q8_0")), vocab_only=True, verbose=False)
    try:
        vectors = deepseek_vectors()
        assert len(vectors) == 46
        for text, expected in vectors:
            assert llm.tokenize(text.encode(), add_bos=False, special=False) == expected, repr(text)
    finally:
        llm.close()


def test_llama_cpp_reports_our_fim_and_special_ids(converted):
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(converted("mha_linear_rope_untied", "q8_0")).encode(), params)
    assert model
    try:
        vocab = llama_cpp.llama_model_get_vocab(model)
        assert (llama_cpp.llama_vocab_fim_pre(vocab), llama_cpp.llama_vocab_fim_suf(vocab),
                llama_cpp.llama_vocab_fim_mid(vocab)) == (32016, 32015, 32017)
        assert (llama_cpp.llama_vocab_bos(vocab), llama_cpp.llama_vocab_eos(vocab)) == (32013, 32014)
        assert llama_cpp.llama_vocab_get_add_bos(vocab)
        assert llama_cpp.llama_vocab_is_control(vocab, 32016)
        assert llama_cpp.llama_vocab_is_eog(vocab, 32021)  # <|EOT|> ends generation
    finally:
        llama_cpp.llama_model_free(model)


def test_cli_verify_passes_and_prints_the_figures(checkpoints, tmp_path, capsys):
    out = tmp_path / "v.gguf"
    assert main([str(checkpoints("gqa_tied")), "-o", str(out), "--outtype", "q8_0", "--verify", "--threads", "2"]) == 0
    printed = capsys.readouterr().out
    assert "max abs logit diff" in printed and "mean KL" in printed and "top-1 agreement" in printed
    assert ": PASS" in printed


def test_verify_fails_a_gguf_of_another_model(converted, checkpoints):
    """Same shapes and tokenizer, different weights: every tolerance is exceeded."""
    report = verify(checkpoints("mha_linear_rope_untied"), converted("gqa_tied", "f32"), outtype="f32", threads=2)
    assert not report.passed
    assert len(report.failures) == 3 and report.top1 < 0.5


def test_to_hf_of_an_f32_gguf_restores_the_checkpoint_exactly(converted, checkpoints, tmp_path):
    source = open_checkpoint(checkpoints("mha_linear_rope_untied"))
    back = open_checkpoint(to_hf(converted("mha_linear_rope_untied", "f32"), tmp_path / "back"))
    assert back.config == source.config
    assert sorted(back.names()) == sorted(source.names())
    for name in source.names():
        assert np.array_equal(back.get(name).numpy(), source.get(name).numpy()), name
    assert (tmp_path / "back" / "tokenizer.json").is_file()


def test_to_hf_of_a_quantized_gguf_matches_llama_cpp_on_it(converted, tmp_path, capsys):
    """Dequantized weights in PyTorch vs llama.cpp on the quantized file (qwen2: biases, tied)."""
    gguf_path = converted("qwen2_bias_tied", "q8_0")
    assert main([str(gguf_path), "-o", str(tmp_path / "ref"), "--to", "hf"]) == 0
    back = open_checkpoint(tmp_path / "ref")
    assert back.config.arch == "qwen2" and back.config.attention_bias and back.config.tie_word_embeddings
    report = verify(tmp_path / "ref", gguf_path, outtype="q8_0", threads=2)
    assert report.passed, report.summary()
    assert report.top1 >= 0.95, report.summary()


def test_llama_quantize_failure_is_one_clear_error(tmp_path, converted):
    """llama.cpp's quantizer fails on a truncated input: surfaced as a ConvertError naming its reason."""
    from convert.errors import ConvertError
    from convert.quantize import quantize_file

    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(converted("wide_gqa", "f32").read_bytes()[:1_000_000])
    with pytest.raises(ConvertError, match=r"llama.cpp could not quantize to q4_k_m \(failed to quantize: .*failed to load model"):
        quantize_file(truncated, tmp_path / "out.gguf", "q4_k_m", threads=1)
