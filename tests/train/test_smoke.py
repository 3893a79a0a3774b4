"""CI smoke run: the training CLI on a small slice learns, and its checkpoint converts and runs in llama.cpp."""

from __future__ import annotations

import json
from pathlib import Path

from llama_cpp import Llama

import convert
from model.train.cli import main as train_main


def test_smoke_training_learns_converts_and_generates(source_tree: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    code = train_main([str(source_tree), "--run-dir", str(run_dir), "--cache-dir", str(tmp_path / "cache"),
                       "--hidden-size", "64", "--layers", "2", "--heads", "4", "--intermediate-size", "192",
                       "--seq-len", "64", "--max-chars", "400", "--heldout-fraction", "0.2",
                       "--steps", "12", "--batch-size", "4", "--lr", "1e-2", "--warmup-steps", "2",
                       "--checkpoint-every", "6", "--precision", "fp32", "--threads", "2"])
    assert code == 0
    losses = [json.loads(line)["loss"] for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 1.0, losses
    info = json.loads((run_dir / "run.json").read_text())
    assert info["command"].startswith("python -m model train ") and "--steps 12" in info["command"]
    checkpoint = run_dir / "checkpoints" / "step-00000012"
    gguf = convert.convert_checkpoint(checkpoint, tmp_path / "smoke-q8_0.gguf", "q8_0")
    llm = Llama(str(gguf), n_ctx=64, n_threads=2, verbose=False)
    assert llm.n_vocab() == 32256
    begin, hole, end = (llm.tokenize(t.encode(), add_bos=False, special=True)
                        for t in ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"))
    assert begin == [32016] and hole == [32015] and end == [32017]
    prompt = [llm.token_bos(), *begin, *llm.tokenize(b"def f(x):\n", add_bos=False), *hole,
              *llm.tokenize(b"\n", add_bos=False), *end]
    generated = []
    for token in llm.generate(prompt, top_k=1, temp=0.0):
        generated.append(token)
        if len(generated) == 4:
            break
    assert len(generated) == 4 and all(0 <= t < 32256 for t in generated)
