"""Generation: greedy equals repeated full forwards, stop tokens and limits hold, sampling is seeded; the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model.generate import Sampling, generate, next_token

REPO = Path(__file__).resolve().parents[2]


def greedy_without_cache(model, prompt: list[int], steps: int) -> list[int]:
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(steps):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    return ids[len(prompt):]


@pytest.fixture(scope="module")
def model():
    from model.config import ModelConfig
    from model.transformer import Transformer

    config = ModelConfig(arch="llama", vocab_size=96, hidden_size=32, intermediate_size=64, num_layers=2,
                         num_heads=4, num_kv_heads=2, rope_scaling_factor=2.0, eos_token_id=95)
    model = Transformer(config)
    model.init_weights(std=0.5, generator=torch.Generator().manual_seed(3))  # large std: varied, decisive argmaxes
    return model.eval()


def test_greedy_matches_full_forward_argmax(model):
    prompt = [5, 17, 42, 8]
    expected = greedy_without_cache(model, prompt, 12)
    assert generate(model, prompt, max_tokens=12, stop_ids=()) == expected
    assert len(set(expected)) > 1, "the model should not be degenerate for this test to mean anything"


def test_stop_token_ends_generation_and_is_not_returned(model):
    prompt = [5, 17, 42, 8]
    free = generate(model, prompt, max_tokens=12, stop_ids=())
    stop = free[3]
    first = free.index(stop)
    assert generate(model, prompt, max_tokens=12, stop_ids=[stop]) == free[:first]


def test_default_stop_is_the_config_eos(model):
    prompt = [5, 17, 42, 8]
    free = generate(model, prompt, max_tokens=12, stop_ids=())
    expected = free[:free.index(95)] if 95 in free else free
    assert generate(model, prompt, max_tokens=12) == expected


def test_max_tokens_limits_output(model):
    assert len(generate(model, [1, 2, 3], max_tokens=5, stop_ids=())) == 5
    assert generate(model, [1, 2, 3], max_tokens=0) == []


def test_seeded_sampling_is_reproducible_and_varies(model):
    hot = Sampling(temperature=1.5, top_p=0.95, seed=11)
    first = generate(model, [1, 2, 3], max_tokens=16, sampling=hot, stop_ids=())
    assert first == generate(model, [1, 2, 3], max_tokens=16, sampling=hot, stop_ids=())
    others = {tuple(generate(model, [1, 2, 3], max_tokens=16, sampling=Sampling(1.5, 0.95, seed), stop_ids=()))
              for seed in range(4)}
    assert len(others) > 1


def test_tiny_top_p_is_greedy(model):
    greedy = generate(model, [1, 2, 3], max_tokens=10, stop_ids=())
    nucleus = generate(model, [1, 2, 3], max_tokens=10, sampling=Sampling(1.0, 1e-6, seed=0), stop_ids=())
    assert nucleus == greedy


def test_top_p_keeps_only_the_nucleus():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    generator = torch.Generator().manual_seed(0)
    drawn = [next_token(logits, Sampling(temperature=1.0, top_p=0.6), generator) for _ in range(400)]
    assert set(drawn) == {0, 1}  # 0.5 alone is short of 0.6; 0.5 + 0.3 covers it
    assert 0.5 < drawn.count(0) / len(drawn) < 0.75  # renormalised: 0.5 / 0.8 = 0.625


def test_bad_sampling_settings_are_refused():
    with pytest.raises(ValueError, match="temperature"):
        Sampling(temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        Sampling(top_p=0)


# ---- CLI -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    from model.tiny import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "model", seed=0)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")  # a tiny model: extra threads only contend on a shared machine
    return subprocess.run([sys.executable, "-m", "model", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_prints_only_the_greedy_continuation(tiny_dir):
    from model.checkpoint import load_model
    from model.generate import continuation_text
    from model.tokenizer import Tokenizer

    prompt = "def fibonacci(n):"
    result = run_cli("generate", str(tiny_dir), "--prompt", prompt, "--max-tokens", "8")
    assert result.returncode == 0, result.stderr

    tokenizer = Tokenizer.from_dir(tiny_dir)
    prompt_ids = tokenizer.encode(prompt, add_bos=True)
    model = load_model(tiny_dir)
    stops = {*model.config.eos_token_ids, tokenizer.eos_id}
    new_ids = generate(model, prompt_ids, max_tokens=8, stop_ids=stops)
    assert new_ids, "a random tiny model should produce at least one token"
    assert result.stdout == continuation_text(tokenizer, prompt_ids, new_ids)
    assert prompt not in result.stdout


def test_cli_error_is_one_line_without_traceback(tmp_path):
    result = run_cli("generate", str(tmp_path / "missing"), "--prompt", "x")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "missing" in result.stderr


def test_cli_fim_prompt_uses_the_deepseek_layout(tiny_dir):
    from model.checkpoint import load_model
    from model.generate import continuation_text, fim_request
    from model.tokenizer import Tokenizer

    result = run_cli("generate", str(tiny_dir), "--prompt", "def add(a, b):\n    return ", "--suffix", "\n\nprint(add(1, 2))\n",
                     "--max-tokens", "6")
    assert result.returncode == 0, result.stderr

    tokenizer = Tokenizer.from_dir(tiny_dir)
    text, uses_bos, stops = fim_request(tokenizer, "def add(a, b):\n    return ", "\n\nprint(add(1, 2))\n")
    assert text.startswith("<｜fim▁begin｜>") and text.endswith("<｜fim▁end｜>") and uses_bos
    prompt_ids = tokenizer.encode(text, add_bos=True)
    assert prompt_ids[:2] == [32013, 32016] and prompt_ids[-1] == 32017  # BOS, fim begin ... fim end as single tokens
    model = load_model(tiny_dir)
    new_ids = generate(model, prompt_ids, max_tokens=6, stop_ids=stops | {32014})
    assert result.stdout == continuation_text(tokenizer, prompt_ids, new_ids)
