"""``python -m model eval``: next-line exact match (and perplexity) of models on held-out lines.

Each predictor asked for writes ``OUT_DIR/<label>-<case set>.json`` (per-case predictions and a summary);
then the table of every result in OUT_DIR measured on the same case sample is printed
(markdown). So baselines can be measured once and the model again after more training.

    python -m model eval --checkpoint CKPT_DIR --gguf MODEL.gguf --ngram \\
        --reference-gguf ~/.cache/seekcode-dev/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from model.train.cli import DEFAULT_RUN_DIR

DEFAULT_OUT_DIR = DEFAULT_RUN_DIR.parent.parent / "eval"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR,
                        help="training run whose data split (run.json) gives the held-out files")
    parser.add_argument("--cache-dir", type=Path, default=None, help="tokenized data cache (default: the training one)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="evaluate this checkpoint with PyTorch")
    parser.add_argument("--gguf", type=Path, default=None, help="evaluate this DeepSeek-Coder-format GGUF with llama.cpp")
    parser.add_argument("--fim-mode", choices=("psm", "spm"), default="psm",
                        help="FIM prompt layout for --checkpoint and --gguf (the reference model always uses PSM)")
    parser.add_argument("--ngram", action="store_true", help="evaluate the 4-gram baseline on the training files")
    parser.add_argument("--ngram-order", type=int, default=4)
    parser.add_argument("--reference-gguf", type=Path, default=None, help="a larger reference GGUF (ceiling)")
    parser.add_argument("--reference-family", default="qwen2.5-coder", help="FIM family of --reference-gguf")
    parser.add_argument("--cases", type=int, default=200, help="held-out lines to complete (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the line sample")
    parser.add_argument("--ppl-sequences", type=int, default=40, help="held-out sequences for perplexity")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)


def _run_info(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; pass --run-dir of a training run (it defines the held-out split).")
    return json.loads(path.read_text())


def _evaluate(label: str, predictor: Any, cases: list, case_set: str, extra: dict[str, Any]) -> dict[str, Any]:
    from model.eval.cases import exact_match

    predictions = []
    start = time.perf_counter()
    for case in tqdm(cases, desc=label, unit="line", leave=False, disable=None):
        predictions.append(predictor.predict(case))
    seconds = time.perf_counter() - start
    hits = [exact_match(p, c) for p, c in zip(predictions, cases)]
    return {"label": label, "case_set": case_set, "cases": len(cases), "exact_match": sum(hits) / len(cases),
            "hits": sum(hits), "seconds_per_case": seconds / len(cases), **extra,
            "predictions": [{"path": c.path, "line": c.line_number, "expected": c.expected, "predicted": p.strip(),
                             "hit": h} for c, p, h in zip(cases, predictions, hits)]}


def _write(out_dir: Path, result: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in result["label"])
    (out_dir / f"{name}-{result['case_set']}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['label']}: exact match {result['hits']}/{result['cases']} = {result['exact_match']:.1%}",
          file=sys.stderr)


def table(out_dir: Path, case_set: str) -> str:
    rows = []
    for path in sorted(out_dir.glob("*.json")):
        r = json.loads(path.read_text())
        if r.get("case_set") == case_set:
            rows.append(r)
    rows.sort(key=lambda r: r["exact_match"])
    lines = ["| model | size | held-out perplexity | next-line exact match | s/line |",
             "|---|---|---|---|---|"]
    for r in rows:
        ppl = f"{r['perplexity']:.2f}" if r.get("perplexity") else "n/a"
        lines.append(f"| {r['label']} | {r.get('size', '')} | {ppl} | {r['hits']}/{r['cases']} = "
                     f"{r['exact_match']:.1%} | {r['seconds_per_case']:.2f} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import torch

    from model.eval.cases import case_set_id, sample_cases
    from model.eval.perplexity import llama_cpp_perplexity, sequences, torch_perplexity
    from model.eval.predictors import LlamaCppFimPredictor, NgramPredictor, TorchFimPredictor
    from model.train.data import DataSettings, build_data, split_sources

    torch.set_num_threads(args.threads)
    info = _run_info(args.run_dir)
    data_info = info["data"]
    settings = DataSettings(**data_info["settings"])
    roots = [] if data_info["sources"] == ["<python stdlib>"] else [Path(s) for s in data_info["sources"]]
    train_files, heldout_files = split_sources(roots, settings)
    cases = sample_cases(heldout_files, args.cases, args.seed)
    case_set = case_set_id(cases)
    cache_dir = args.cache_dir or args.run_dir.parent.parent / "data"
    tokenizer_json = cache_dir / "tokenizer" / "tokenizer.json"
    windows = None
    if args.checkpoint or args.gguf:
        packed = build_data(roots, tokenizer_json, settings, cache_dir)
        windows = sequences(packed.heldout, settings.seq_len, args.ppl_sequences)
    if args.checkpoint:
        ppl = torch_perplexity(args.checkpoint, windows)
        result = _evaluate(f"seekcode default, PyTorch fp32, {args.fim_mode.upper()}",
                           TorchFimPredictor(args.checkpoint, mode=args.fim_mode), cases, case_set,
                           {"perplexity": ppl, "size": "fp32 checkpoint"})
        _write(args.out_dir, result)
    if args.gguf:
        ppl = llama_cpp_perplexity(args.gguf, windows, args.threads)
        size = f"{args.gguf.stat().st_size / 1e6:.1f} MB"
        predictor = LlamaCppFimPredictor(args.gguf, "deepseek-coder", n_ctx=settings.seq_len, threads=args.threads,
                                         mode=args.fim_mode)
        _write(args.out_dir, _evaluate(f"seekcode default {args.gguf.name}, llama.cpp, {args.fim_mode.upper()}",
                                       predictor, cases, case_set,
                                       {"perplexity": ppl, "size": size}))
    if args.ngram:
        from model.ngram import NgramModel
        from model.tokenizer import Tokenizer

        tokenizer = Tokenizer.from_file(tokenizer_json)
        documents = [[tokenizer.bos_id, *tokenizer.encode(f.text, parse_special=False), tokenizer.eos_id]
                     for f in tqdm(train_files, desc="n-gram counts", unit="file", leave=False, disable=None)]
        model = NgramModel(args.ngram_order).fit(documents)
        tokens = sum(len(d) for d in documents)
        _write(args.out_dir, _evaluate(f"{args.ngram_order}-gram, stupid backoff (prefix only)",
                                       NgramPredictor(model, tokenizer), cases, case_set,
                                       {"size": f"{tokens / 1e6:.1f}M training tokens"}))
    if args.reference_gguf:
        size = f"{args.reference_gguf.stat().st_size / 1e6:.0f} MB"
        predictor = LlamaCppFimPredictor(args.reference_gguf, args.reference_family, n_ctx=2048, threads=args.threads)
        _write(args.out_dir, _evaluate(f"{args.reference_gguf.name}, llama.cpp", predictor, cases, case_set,
                                       {"size": size}))
    print(f"next-line exact match on {len(cases)} held-out lines (case set {case_set}):")
    print(table(args.out_dir, case_set))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.eval", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
