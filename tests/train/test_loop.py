"""Training loop: schedule, exact resume, and a smoke run that learns, converts and runs in llama.cpp."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model.checkpoint import load_model
from model.config import ModelConfig
from model.train.data import DataSettings, PackedData, build_data
from model.train.loop import TrainSettings, latest_checkpoint, train
from model.train.schedule import lr_factor


def small_config(seq_len: int) -> ModelConfig:
    # intermediate_size a multiple of 32 so that every matrix quantizes to q8_0.
    return ModelConfig(arch="llama", vocab_size=32256, hidden_size=64, intermediate_size=192, num_layers=2,
                       num_heads=4, num_kv_heads=4, rope_theta=100000.0, max_position_embeddings=seq_len,
                       tie_word_embeddings=True, bos_token_id=32013, eos_token_id=32014)


@pytest.fixture(scope="module")
def data(source_tree: Path, tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> PackedData:
    settings = DataSettings(seq_len=64, heldout_fraction=0.2, max_chars=400, seed=0)
    return build_data([source_tree], tokenizer_dir / "tokenizer.json", settings, tmp_path_factory.mktemp("cache"))


def test_lr_schedule_warms_up_then_decays_to_the_floor() -> None:
    factors = [lr_factor(s, warmup_steps=10, total_steps=100, min_lr_ratio=0.1) for s in range(120)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
    assert factors[100] == pytest.approx(0.1) and factors[119] == pytest.approx(0.1)


def test_resume_gives_identical_weights(data: PackedData, tokenizer_dir: Path, tmp_path: Path) -> None:
    config = small_config(data.seq_len)
    settings = TrainSettings(steps=4, batch_size=2, grad_accum=2, lr=1e-2, warmup_steps=1, seed=7,
                             checkpoint_every=100, precision="fp32", device="cpu")
    straight = train(tmp_path / "straight", config, data, settings, tokenizer_dir)
    first = train(tmp_path / "resumed", config, data, settings, tokenizer_dir, stop_after=2)
    assert first.steps == 2 and latest_checkpoint(tmp_path / "resumed").name == "step-00000002"
    resumed = train(tmp_path / "resumed", config, data, settings, tokenizer_dir)
    assert resumed.steps == straight.steps == 4
    assert resumed.tokens_seen == straight.tokens_seen
    a = load_model(straight.checkpoint).state_dict()
    b = load_model(resumed.checkpoint).state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert resumed.losses == straight.losses[2:]


def test_resume_refuses_another_model_shape(data: PackedData, tokenizer_dir: Path, tmp_path: Path) -> None:
    settings = TrainSettings(steps=1, batch_size=1, precision="fp32", device="cpu", checkpoint_every=1)
    train(tmp_path, small_config(data.seq_len), data, settings, tokenizer_dir)
    other = ModelConfig(**{**small_config(data.seq_len).__dict__, "num_layers": 1})
    with pytest.raises(ValueError, match="different model shape"):
        train(tmp_path, other, data, TrainSettings(steps=2, batch_size=1, precision="fp32", device="cpu"),
              tokenizer_dir)


def test_a_second_trainer_on_the_same_run_dir_is_refused(data: PackedData, tokenizer_dir: Path, tmp_path: Path) -> None:
    from model.train.loop import _RunLock

    settings = TrainSettings(steps=1, batch_size=1, precision="fp32", device="cpu")
    with _RunLock(tmp_path):
        with pytest.raises(ValueError, match="another training process"):
            train(tmp_path, small_config(data.seq_len), data, settings, tokenizer_dir)
