"""``python -m model.train.card``: write the default model's MODEL_CARD.md from the run's records.

Reads the run directory (``run.json``, ``log.jsonl``), the evaluation results (``python -m model
eval`` output directory) and the shipped GGUF, so every figure in the card comes from a file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import Any

from model.eval.cli import DEFAULT_OUT_DIR, table
from model.train.cli import DEFAULT_RUN_DIR, REPO_ROOT

DEFAULT_GGUF = REPO_ROOT / "lsp_server" / "default_model" / "seekcode-coder-q8_0.gguf"


def _params(hf: dict[str, Any]) -> int:
    h, v, i, n = hf["hidden_size"], hf["vocab_size"], hf["intermediate_size"], hf["num_hidden_layers"]
    kv = hf["num_key_value_heads"] * hf["head_dim"]
    q = hf["num_attention_heads"] * hf["head_dim"]
    layer = h * q + 2 * h * kv + q * h + 3 * h * i + 2 * h
    return v * h * (1 if hf["tie_word_embeddings"] else 2) + n * layer + h


def _results(eval_dir: Path, case_set: str) -> tuple[list[dict], list[dict], list[dict]]:
    """(ours, n-gram, others) evaluation rows of ``case_set``."""
    rows = [json.loads(p.read_text()) for p in sorted(eval_dir.glob("*.json"))]
    rows = [r for r in rows if r.get("case_set") == case_set]
    ours = [r for r in rows if r["label"].startswith("seekcode default")]
    ngram = [r for r in rows if "gram" in r["label"]]
    others = [r for r in rows if r not in ours and r not in ngram]
    return ours, ngram, others


def _mode(row: dict) -> str:
    """The FIM layout of one of our rows (its label's last part; older results were PSM)."""
    last = row["label"].rsplit(", ", 1)[-1]
    return last if last in ("PSM", "SPM") else "PSM"


def best_mode(eval_dir: Path, case_set: str) -> str | None:
    """The FIM layout in which every evaluation of our model (PyTorch and llama.cpp) beats the n-gram
    baseline by the most, or None when no layout does."""
    ours, ngram, _ = _results(eval_dir, case_set)
    if not ours or not ngram:
        return None
    worst = {mode: min(r["hits"] for r in ours if _mode(r) == mode) for mode in {_mode(r) for r in ours}}
    mode = max(worst, key=worst.__getitem__)
    return mode if worst[mode] > ngram[0]["hits"] else None


def verdict(eval_dir: Path, case_set: str, tokens_seen: int) -> str:
    """One honest sentence comparing the model with the n-gram baseline, from the result files."""
    ours, ngram, others = _results(eval_dir, case_set)
    if not ours or not ngram:
        return "The baseline comparison is incomplete: run `python -m model eval` with --ngram and the model."
    hits = ", ".join(f"{r['hits']}/{r['cases']} ({r['label'].removeprefix('seekcode default').strip(' ,')})"
                     for r in ours)
    ceiling = "".join(f"; the ceiling model {r['hits']}/{r['cases']}" for r in others[:1])
    mode = best_mode(eval_dir, case_set)
    if mode is not None:
        return (f"The trained model completes {hits} of the held-out lines exactly, the n-gram baseline "
                f"{ngram[0]['hits']}/{ngram[0]['cases']}{ceiling}: in the {mode} layout it beats the baseline "
                "both through PyTorch and through llama.cpp. PyTorch and llama.cpp agree on perplexity, so "
                "the shipped GGUF is the trained model.")
    return (f"**The trained model does not beat the n-gram baseline on exact match** ({hits} vs "
            f"{ngram[0]['hits']}/{ngram[0]['cases']}) after {tokens_seen / 1e6:.1f} M training tokens.")


def _abilities(eval_dir: Path, case_set: str) -> list[str]:
    ours, _, _ = _results(eval_dir, case_set)
    mode = best_mode(eval_dir, case_set)
    if mode is None:
        return ["- It has learnt local token statistics but does not complete lines (see the exact-match",
                "  figures above). Treat it as the model that proves the pipeline (training → checkpoint →",
                "  converter → GGUF → server) and lets the server start offline, not as an assistant."]
    rows = [r for r in ours if _mode(r) == mode]
    shipped = max(rows, key=lambda r: ("llama.cpp" in r["label"], r["hits"]))
    right = sorted({p["expected"].strip() for p in shipped.get("predictions", []) if p["hit"]}, key=lambda t: (len(t), t))
    return [f"- It is prompted in the {mode} layout (the server does so for the bundled model). Lines it",
            f"  completed exactly in the evaluation ({shipped['label'].removeprefix('seekcode default').strip(' ,')}, "
            "shortest first): " + ", ".join(f"`{line}`" for line in right[:12]) + ".",
            "- So it fills short, local lines whose pattern recurs in the standard library; it rarely gets a",
            "  long or file-specific line right, and when wrong it is confidently wrong. Use it to try the",
            "  editor integration offline, and a larger model for real work (below)."]


def _case_set_sections(eval_dir: Path, case_sets: list[str], tokens_seen: int) -> list[str]:
    """A table and a verdict per case set, the first (the one with every row) first."""
    lines: list[str] = []
    for case_set in case_sets:
        rows = [r for group in _results(eval_dir, case_set) for r in group]
        cases = rows[0]["cases"] if rows else 0
        lines += [f"On {cases} held-out lines (case set `{case_set}`):", "", table(eval_dir, case_set), "",
                  verdict(eval_dir, case_set, tokens_seen), ""]
    return lines


def card_text(run_dir: Path, eval_dir: Path, case_sets: list[str], gguf: Path, eval_command: str) -> str:
    case_set = case_sets[0]
    info = json.loads((run_dir / "run.json").read_text())
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if line.strip()]
    hf = info["model_config"]
    data = info["data"]
    settings = info["settings"]
    sessions = [info["command"], *[r["command"] for r in info.get("resumed", []) if r.get("command")]]
    last = log[-1]
    tail = [r["loss"] for r in log[-100:]]
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    final_total = info.get("resumed", [{}])[-1].get("settings", settings)["steps"] if info.get("resumed") else settings["steps"]
    lines = [
        "# seekcode-coder (the bundled default model)",
        "",
        "A small code model trained from scratch with this repository's own stack: the PyTorch reference",
        "model (`model/`), the training loop (`model/train/`), our converter (`convert/`, q8_0) and llama.cpp.",
        "It exists so that `seekcode-lsp` works offline with no download, and so that the whole pipeline",
        "(reference model → checkpoint → converter → GGUF → server) is real. It is **small and weak**: read",
        "*What it can and can't do* below.",
        "",
        "## File",
        "",
        f"- `{gguf.name}`: {gguf.stat().st_size / 1e6:.1f} MB, GGUF q8_0, sha256 `{digest}`",
        "",
        "## Architecture",
        "",
        "DeepSeek-Coder family: `LlamaForCausalLM` (llama in llama.cpp) with the real DeepSeek-Coder tokenizer.",
        "",
        "| field | value |",
        "|---|---|",
        f"| parameters | {_params(hf) / 1e6:.1f} M (the 32,256 × {hf['hidden_size']} embedding is "
        f"{hf['vocab_size'] * hf['hidden_size'] / 1e6:.1f} M of them) |",
        f"| hidden size / layers / heads / KV heads / head dim | {hf['hidden_size']} / {hf['num_hidden_layers']} / "
        f"{hf['num_attention_heads']} / {hf['num_key_value_heads']} / {hf['head_dim']} |",
        f"| MLP (SwiGLU) intermediate size | {hf['intermediate_size']} |",
        f"| vocabulary | {hf['vocab_size']} (DeepSeek-Coder, rebuilt from `shared/vocab/ggml-vocab-deepseek-coder.gguf`) |",
        f"| tied embeddings | {hf['tie_word_embeddings']} (the head reuses the embedding matrix) |",
        f"| context (trained) | {hf['max_position_embeddings']} tokens, rope θ {hf['rope_theta']:g}, no rope scaling |",
        f"| BOS / EOS | {hf['bos_token_id']} / {hf['eos_token_id']} |",
        "",
        "## Data and licence",
        "",
        f"- Sources: {', '.join(data['sources']).replace('<python stdlib>', 'the Python standard library')}: "
        f"the `*.py` files of the Python {platform.python_version()} standard",
        "  library of the training machine, without `site-packages` and without test directories",
        "  (`test`, `tests`, `idle_test`).",
        f"- Deduplicated by content (SHA-256); {data['train_files']} training files, {data['heldout_files']} held out",
        f"  ({data['settings']['heldout_fraction']:.0%} of files, chosen by content hash; whole files, never lines).",
        f"- {data['train_tokens']:,} training tokens after FIM layout; {data['heldout_tokens']:,} held-out tokens.",
        "- Licence of the data: the Python standard library is distributed under the **PSF License Agreement**",
        "  (Python Software Foundation License Version 2, <https://docs.python.org/3/license.html>). The model",
        "  weights are derived from that code; keep the PSF notice with them when redistributing.",
        "- Tokenizer vocabulary: DeepSeek-Coder's, as shipped in llama.cpp's vocab test files (MIT).",
        "",
        "## Objective",
        "",
        "As DeepSeek-Coder trains: documents (file pieces of at most "
        f"{data['settings']['max_chars']} characters, cut at line ends) get fill-in-the-middle at a "
        f"{data['settings']['fim_rate']:.0%} rate at two random character positions, half in PSM "
        "(`<｜fim▁begin｜>prefix<｜fim▁hole｜>suffix<｜fim▁end｜>middle`) and half in SPM",
        "(`<｜fim▁begin｜><｜fim▁hole｜>suffix<｜fim▁end｜>prefix middle`), with the real FIM token ids",
        "32016/32015/32017; the others are plain next-token text. Each sample is BOS … EOS; samples are packed",
        f"into sequences of {data['settings']['seq_len']} tokens.",
        "",
        "## Training",
        "",
        "| | |",
        "|---|---|",
        f"| optimizer steps | {last['step']} |",
        f"| tokens seen | {last['tokens']:,} ({settings['batch_size'] * settings['grad_accum']} × "
        f"{data['settings']['seq_len']} tokens per step) |",
        f"| final training loss (mean of the last {len(tail)} steps) | {sum(tail) / len(tail):.3f} |",
        f"| optimizer | AdamW (β {settings['beta1']}/{settings['beta2']}, weight decay {settings['weight_decay']} on "
        f"matrices), grad clip {settings['grad_clip']} |",
        f"| learning rate | peak {settings['lr']:g}, {settings['warmup_steps']} warmup steps, cosine to "
        f"{settings['min_lr_ratio']:g} × peak over {final_total} steps |",
        f"| precision / device | {info['precision']} autocast, fp32 master weights / {info['device']}, "
        f"{info['threads']} threads |",
        f"| seed | {settings['seed']} |",
        f"| wall time | {last['elapsed_s'] / 60:.0f} min on 2 shared CPU cores |",
        f"| commit (at the run's start) | `{info.get('commit')}` |",
        "",
        ("Commands (the run was resumed from its checkpoints; later sessions changed only `--steps`, the "
         "cosine schedule's length):" if info.get("resumed") else "Commands:"),
        "",
        "```sh",
        *sessions,
        "seekcode-convert "
        f"{run_dir.relative_to(REPO_ROOT) if run_dir.is_relative_to(REPO_ROOT) else run_dir}/checkpoints/"
        f"step-{last['step']:08d} -o {gguf.relative_to(REPO_ROOT) if gguf.is_relative_to(REPO_ROOT) else gguf} "
        "--outtype q8_0",
        "```",
        "",
    ]
    if info.get("note"):
        lines += [f"Note: {info['note']}", ""]
    lines += [
        "## Evaluation",
        "",
        "Next-line exact match through FIM on held-out lines (non-blank, from the held-out files): the",
        "line is masked, the model gets up to 1,000 characters of whole lines before it and 300 after it,",
        "and its first generated line (greedy) must equal the masked line (whitespace-stripped). The n-gram",
        "baseline is a token 4-gram model with stupid backoff on the same training files, which sees only the",
        "prefix; Qwen2.5-Coder-0.5B-Instruct (Q4_K_M, in its own FIM format) is the ceiling. Perplexity is on",
        "the held-out files' plain text (first sequences of the packed held-out stream). s/line is wall time",
        "on the shared 2-core machine, not a speed benchmark.",
        "",
        *_case_set_sections(eval_dir, case_sets, last["tokens"]),
        "```sh",
        eval_command,
        "```",
        "",
        "## What it can and can't do",
        "",
        f"- It has seen {last['tokens'] / 1e6:.1f} M tokens of Python standard-library code "
        f"({last['tokens'] / data['train_tokens']:.1f} passes over its data).",
        *_abilities(eval_dir, case_set),
        f"- It was trained with a {hf['max_position_embeddings']}-token context: longer prompts run, but the",
        "  model has never seen positions beyond that and degrades.",
        "- Python only. It knows nothing about other languages.",
        "",
        "## Using a larger model",
        "",
        "Any DeepSeek-Coder or Qwen2.5-Coder GGUF (for example `deepseek-coder-1.3b-base` or",
        "`qwen2.5-coder-0.5b`/`1.5b` in Q4_K_M or Q8_0) gives far better suggestions: pass it with",
        "`seekcode-lsp --model PATH.gguf` or set `SEEKCODE_MODEL=PATH.gguf`. A Hugging Face checkpoint",
        "(DeepSeek-Coder or Qwen2 layout) converts with `seekcode-convert CHECKPOINT_DIR -o OUT.gguf --outtype q8_0`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.train.card", description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR)
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--case-set", required=True, action="append",
                        help="case set id printed by `python -m model eval` (repeat for more sets; the first is the main one)")
    parser.add_argument("--gguf", type=Path, default=DEFAULT_GGUF)
    parser.add_argument("--eval-command", required=True, help="the evaluation command, for the card")
    parser.add_argument("--out", type=Path, default=DEFAULT_GGUF.with_name("MODEL_CARD.md"))
    args = parser.parse_args(argv)
    try:
        args.out.write_text(card_text(args.run_dir, args.eval_dir, args.case_set, args.gguf, args.eval_command))
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
