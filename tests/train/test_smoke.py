"""CI smoke run: the training CLI on a small slice learns, its checkpoint converts and runs in llama.cpp,
and the evaluation and the model card are written from the run's own records."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from llama_cpp import Llama

import convert
from model.eval.cli import main as eval_main
from model.train.card import main as card_main
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
    _evaluate_and_write_card(run_dir, tmp_path, gguf)


def _evaluate_and_write_card(run_dir: Path, tmp_path: Path, gguf: Path) -> None:
    eval_dir = tmp_path / "eval"
    assert eval_main(["--run-dir", str(run_dir), "--cache-dir", str(tmp_path / "cache"), "--gguf", str(gguf),
                      "--ngram", "--cases", "6", "--ppl-sequences", "2", "--out-dir", str(eval_dir)]) == 0
    results = {r["label"]: r for r in (json.loads(p.read_text()) for p in eval_dir.glob("*.json"))}
    ours, ngram = results[f"seekcode default {gguf.name}, llama.cpp, PSM"], results["4-gram, stupid backoff (prefix only)"]
    assert ours["cases"] == ngram["cases"] == 6 and ours["case_set"] == ngram["case_set"]
    assert ours["perplexity"] > 1.0
    card = tmp_path / "MODEL_CARD.md"
    assert card_main(["--run-dir", str(run_dir), "--eval-dir", str(eval_dir), "--case-set", ours["case_set"],
                      "--gguf", str(gguf), "--eval-command", "python -m model eval ...", "--out", str(card)]) == 0
    text = card.read_text()
    assert hashlib.sha256(gguf.read_bytes()).hexdigest() in text
    assert "| optimizer steps | 12 |" in text and "--steps 12" in text
    assert f"| {ours['hits']}/6 = " in text and f"| {ngram['hits']}/6 = " in text
    beaten = ours["hits"] > ngram["hits"]
    assert ("does not beat the n-gram baseline" in text) is not beaten
