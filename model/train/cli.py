"""``python -m model train [SOURCES...]``: train a small DeepSeek-Coder-shaped model.

With no sources it trains on this interpreter's standard library. Everything (data cache,
checkpoints, log) goes under ``.cache/train/`` unless told otherwise; rerunning the same command
resumes the newest checkpoint of the run directory.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RUN_DIR = REPO_ROOT / ".cache" / "train" / "runs" / "default"
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "train" / "data"

# The shipped default model's shape (see lsp_server/default_model/MODEL_CARD.md for why).
DEFAULT_SHAPE = {"hidden_size": 256, "num_layers": 4, "num_heads": 4, "intermediate_size": 704}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="*", type=Path,
                        help="source directories/files (default: this Python's standard library, without tests)")
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, help="checkpoints and log (resumed if present)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="tokenized data cache")
    parser.add_argument("--vocab", type=Path, default=None,
                        help="DeepSeek-Coder vocab GGUF (default: shared/vocab/ggml-vocab-deepseek-coder.gguf)")
    shape = parser.add_argument_group("model shape (DeepSeek-Coder / llama)")
    shape.add_argument("--hidden-size", type=int, default=DEFAULT_SHAPE["hidden_size"])
    shape.add_argument("--layers", type=int, default=DEFAULT_SHAPE["num_layers"])
    shape.add_argument("--heads", type=int, default=DEFAULT_SHAPE["num_heads"])
    shape.add_argument("--kv-heads", type=int, default=None, help="default: --heads (multi-head attention)")
    shape.add_argument("--intermediate-size", type=int, default=DEFAULT_SHAPE["intermediate_size"])
    shape.add_argument("--untied", action="store_true", help="separate LM head (default: tied to the embeddings)")
    data = parser.add_argument_group("data")
    data.add_argument("--seq-len", type=int, default=512)
    data.add_argument("--heldout-fraction", type=float, default=0.05)
    data.add_argument("--fim-rate", type=float, default=0.5)
    data.add_argument("--max-chars", type=int, default=1536, help="longest training document (characters)")
    data.add_argument("--max-files", type=int, default=None, help="use only this many files (smoke runs)")
    data.add_argument("--include-tests", action="store_true", help="keep test directories of the sources")
    loop = parser.add_argument_group("optimisation")
    loop.add_argument("--steps", type=int, required=True, help="optimizer steps of the whole run")
    loop.add_argument("--batch-size", type=int, default=8, help="sequences per micro-batch")
    loop.add_argument("--grad-accum", type=int, default=1)
    loop.add_argument("--lr", type=float, default=3e-3)
    loop.add_argument("--min-lr-ratio", type=float, default=0.1)
    loop.add_argument("--warmup-steps", type=int, default=100)
    loop.add_argument("--weight-decay", type=float, default=0.1)
    loop.add_argument("--grad-clip", type=float, default=1.0)
    loop.add_argument("--seed", type=int, default=0)
    loop.add_argument("--checkpoint-every", type=int, default=100)
    loop.add_argument("--keep-checkpoints", type=int, default=2)
    loop.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    loop.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    loop.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    loop.add_argument("--compile", action="store_true", help="torch.compile the model")
    loop.add_argument("--stop-after", type=int, default=None, help="stop this session at that step (resumable)")


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    return out.stdout.strip() or None


def command_line(argv: list[str]) -> str:
    """The training command as typed: ``python -m model train ...`` (argv of ``python -m model``)."""
    args = argv[argv.index("train") + 1:] if "train" in argv else argv[1:]
    return shlex.join(["python", "-m", "model", "train", *args])


def run(args: argparse.Namespace) -> int:
    import torch

    from model.config import ModelConfig
    from model.assets import default_vocab_path
    from model.train.data import DataSettings, build_data
    from model.train.loop import TrainSettings, train
    from model.vocab import write_tokenizer_files

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    vocab = args.vocab or default_vocab_path()
    if not vocab.is_file():
        raise FileNotFoundError(f"vocabulary {vocab} does not exist; pass --vocab PATH/ggml-vocab-deepseek-coder.gguf.")
    tokenizer_dir = args.cache_dir / "tokenizer"
    if not (tokenizer_dir / "tokenizer.json").is_file():
        write_tokenizer_files(vocab, tokenizer_dir)
    data_settings = DataSettings(seq_len=args.seq_len, heldout_fraction=args.heldout_fraction,
                                 fim_rate=args.fim_rate, max_chars=args.max_chars, seed=args.seed,
                                 include_tests=args.include_tests, max_files=args.max_files)
    data = build_data(args.sources, tokenizer_dir / "tokenizer.json", data_settings, args.cache_dir)
    config = ModelConfig(arch="llama", vocab_size=32256, hidden_size=args.hidden_size,
                         intermediate_size=args.intermediate_size, num_layers=args.layers, num_heads=args.heads,
                         num_kv_heads=args.kv_heads or args.heads, rms_norm_eps=1e-6, rope_theta=100000.0,
                         max_position_embeddings=args.seq_len, tie_word_embeddings=not args.untied,
                         bos_token_id=32013, eos_token_id=32014, torch_dtype="float32")
    train_settings = TrainSettings(**{f.name: getattr(args, f.name) for f in fields(TrainSettings) if hasattr(args, f.name)})
    run_info = {"command": getattr(args, "command_line", None) or command_line(sys.argv), "commit": git_commit(),
                "data": {"settings": data_settings.__dict__, "train_files": len(data.train_files),
                         "heldout_files": len(data.heldout_files), "train_tokens": int(len(data.train)),
                         "heldout_tokens": int(len(data.heldout)),
                         "sources": [str(s) for s in args.sources] or ["<python stdlib>"]}}
    print(f"data: {len(data.train_files)} training files ({len(data.train):,} tokens), "
          f"{len(data.heldout_files)} held out ({len(data.heldout):,} tokens)", file=sys.stderr)
    result = train(args.run_dir, config, data, train_settings, tokenizer_dir=tokenizer_dir,
                   stop_after=args.stop_after, run_info=run_info)
    print(f"step {result.steps}: loss {result.final_loss:.4f}, {result.tokens_seen:,} tokens; checkpoint {result.checkpoint}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.command_line = shlex.join(["python", "-m", "model", "train", *(sys.argv[1:] if argv is None else argv)])
    try:
        return run(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
