"""Training throughput (tokens/s) of model shapes and precisions on this machine.

    PYTHONPATH=. python bench/train_throughput.py [--threads 2] [--steps 5] [--seq-len 512] [--batch-size 2]

Each configuration runs warm-up steps and then timed optimizer steps of the real training loop
(``model.train.loop``) on random tokens, round-robin across configurations so that load from other
processes spreads over all of them; prints the median tokens/s per configuration and its ratio to
the first one, and writes bench/results/train_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from model.config import ModelConfig
from model.train.data import DataSettings, PackedData
from model.train.loop import DataOrder, TrainSettings, _optimizer_step, init_model, make_optimizer, make_scheduler

SHAPES = {
    "h128-L4": dict(hidden_size=128, num_layers=4, num_heads=2, intermediate_size=352),
    "h256-L4": dict(hidden_size=256, num_layers=4, num_heads=4, intermediate_size=704),
    "h192-L4": dict(hidden_size=192, num_layers=4, num_heads=3, intermediate_size=512),
    "h384-L6": dict(hidden_size=384, num_layers=6, num_heads=6, intermediate_size=1024),
}


def config_for(shape: dict, seq_len: int) -> ModelConfig:
    return ModelConfig(arch="llama", vocab_size=32256, num_kv_heads=shape["num_heads"], rope_theta=100000.0,
                       max_position_embeddings=seq_len, tie_word_embeddings=True, **shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--shapes", nargs="*", default=["h128-L4", "h256-L4"])
    parser.add_argument("--precisions", nargs="*", default=["fp32", "bf16"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    stream = rng.integers(0, 32000, size=args.seq_len * 64 + 1).astype(np.uint16)
    data = PackedData(stream, stream, (), (), args.seq_len, DataSettings(seq_len=args.seq_len))
    runs = []
    for name in args.shapes:
        for precision in args.precisions:
            settings = TrainSettings(steps=1000, batch_size=args.batch_size, precision=precision)
            model = init_model(config_for(SHAPES[name], args.seq_len), 0).train()
            optimizer = make_optimizer(model, settings, torch.device("cpu"))
            runs.append({"name": f"{name} {precision}", "model": model, "optimizer": optimizer,
                         "scheduler": make_scheduler(optimizer, settings), "settings": settings,
                         "state": {"step": 0, "samples_seen": 0},
                         "autocast": torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext(),
                         "params": sum(p.numel() for p in model.parameters()), "times": []})
    order = DataOrder(data.num_sequences(), 0)
    tokens = args.batch_size * args.seq_len
    for step in range(args.steps + 1):
        for r in runs:
            start = time.perf_counter()
            _optimizer_step(r["model"], r["optimizer"], r["scheduler"], data, order, r["state"], r["settings"],
                            r["autocast"], torch.device("cpu"))
            if step > 0:  # the first step warms up allocators and kernels
                r["times"].append(time.perf_counter() - start)
    base = None
    results = []
    print(f"{'config':<16} {'params':>8} {'tok/s':>8} {'ratio':>6}")
    for r in runs:
        tok_s = tokens / statistics.median(r["times"])
        base = base or tok_s
        results.append({"config": r["name"], "params": r["params"], "tokens_per_s": tok_s, "ratio": tok_s / base})
        print(f"{r['name']:<16} {r['params'] / 1e6:>7.1f}M {tok_s:>8.0f} {tok_s / base:>6.2f}")
    out = Path(__file__).parent / "results" / "train_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
