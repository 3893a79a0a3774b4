"""Which FIM prompt layout keeps a real model's first-line accuracy?

Masks the rest of a line in real source files (the cursor sits after the line's
indentation and a few whole words, like an editor requesting at a word boundary), builds
the prompt in each layout with lsp_server.engine.prompt, generates greedily and counts
how often the first generated line equals the masked text exactly.

    python bench/fim_layouts.py --model ~/.cache/seekcode-dev/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf \
        --cases 50 FILE... [--json bench/results/fim_layouts.json]

Prints a table; writes JSON with every case when --json is given. Result on 2 shared
cores (12 files: textwrap/shlex/fractions/statistics/llama_grammar .py, git's
persistent-https *.go, llama.cpp web UI utils *.ts; seed 0, --prefix-tokens 320
--suffix-tokens 80 --max-tokens 24):

    layout            exact first line  mean similarity
    psm                      8/50   16%            0.538
    psm-anchored-1          13/50   26%            0.571
    psm-anchored-8          15/50   30%            0.641
    spm                      2/50    4%            0.256
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lsp_server.engine.families import Layout, detect_family  # noqa: E402
from lsp_server.engine.postprocess import Context, Suggestion  # noqa: E402
from lsp_server.engine.postprocess.held_back import drop_held_back  # noqa: E402
from lsp_server.engine.prompt import PromptBudget, PromptBuilder  # noqa: E402

LANGUAGES = {".py": "python", ".js": "javascript", ".ts": "typescript", ".go": "go", ".rs": "rust", ".java": "java"}
# name -> (layout, anchor step). Consecutive variants share KV-cache prefixes where they can.
VARIANTS: dict[str, tuple[Layout, int]] = {
    "psm": (Layout.PSM, 8),
    "psm-anchored-1": (Layout.PSM_ANCHORED, 1),
    "psm-anchored-8": (Layout.PSM_ANCHORED, 8),
    "spm": (Layout.SPM, 8),
    "spm-tail": (Layout.SPM_TAIL, 8),
}


@dataclass(frozen=True)
class Case:
    path: str
    line: int
    prefix: str
    suffix: str
    target: str


def sample_cases(paths: list[Path], count: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    candidates: list[Case] = []
    for path in paths:
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
        for index in range(20, len(lines) - 1):
            line = lines[index]
            content = line.strip()
            if not 8 <= len(content) <= 80 or content.startswith(("#", "//", "/*", "*", '"""', "'''")):
                continue
            indent = len(line) - len(line.lstrip())
            words = [m.end() for m in re.finditer(r"\w+\W*", line[indent:])]
            cut = indent + rng.choice([0] + words[: max(1, len(words) // 2)])
            target = line[cut:].rstrip()
            if not target:
                continue
            prefix = "\n".join(lines[:index]) + "\n" + line[:cut]
            suffix = "\n" + "\n".join(lines[index + 1 :])
            candidates.append(Case(str(path), index + 1, prefix, suffix, target))
    rng.shuffle(candidates)
    # Spread cases over files instead of taking them from the biggest file.
    by_file: dict[str, list[Case]] = {}
    for case in candidates:
        by_file.setdefault(case.path, []).append(case)
    chosen: list[Case] = []
    while len(chosen) < count and any(by_file.values()):
        for cases in by_file.values():
            if cases and len(chosen) < count:
                chosen.append(cases.pop())
    return chosen


def first_line(llm, tokens: list[int], stop_ids: frozenset[int], max_tokens: int) -> str:
    data = b""
    for count, token in enumerate(llm.generate(tokens, temp=0.0, top_k=1, reset=True)):
        if token in stop_ids or llm.token_eos() == token or count >= max_tokens:
            break
        data += llm.detokenize([token], special=True)
        text = data.decode("utf-8", errors="ignore")
        if text.strip(" \t") and "\n" in text.lstrip(" \t"):
            break
    return data.decode("utf-8", errors="replace").split("\n")[0]


def summarize(rows: list[dict], names) -> dict[str, dict]:
    summary = {}
    for name in names:
        exact = sum(row["outputs"][name].rstrip() == row["target"] for row in rows)
        similarity = sum(
            difflib.SequenceMatcher(None, row["outputs"][name].rstrip(), row["target"]).ratio() for row in rows
        ) / max(1, len(rows))
        summary[name] = {"exact": exact, "cases": len(rows), "similarity": round(similarity, 4)}
    return summary


def window_budget(spec: str) -> PromptBudget:
    """"PREFIX/SUFFIX" token budgets, anchored every 8 lines."""
    prefix, suffix = (int(part) for part in spec.split("/"))
    return PromptBudget(prefix_tokens=prefix, suffix_tokens=suffix, anchor_step_lines=8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prefix-tokens", type=int, default=512)
    parser.add_argument("--suffix-tokens", type=int, default=128)
    parser.add_argument("--max-tokens", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layouts", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--windows", nargs="+", default=[], metavar="PREFIX/SUFFIX",
                        help="compare window sizes in the anchored layout instead of layouts: token budgets of "
                             "the prefix window and the suffix (e.g. 1024/256 192/48)")
    args = parser.parse_args()

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads crawl on shared CPUs
    import llama_cpp
    from tqdm import tqdm

    llm = llama_cpp.Llama(str(args.model), n_ctx=2048, n_threads=args.threads, verbose=False)

    def token_id(text: str) -> int | None:
        ids = llm.tokenize(text.encode(), add_bos=False, special=True)
        return ids[0] if len(ids) == 1 and llm._model.token_get_text(ids[0]) == text else None

    def tokenize(text: str) -> list[int]:
        return llm.tokenize(text.encode(), add_bos=False, special=False)

    family = detect_family(token_id, llm.metadata)
    cases = sample_cases(args.files, args.cases, args.seed)
    builders = {
        name: PromptBuilder(
            family,
            tokenize,
            PromptBudget(prefix_tokens=args.prefix_tokens, suffix_tokens=args.suffix_tokens, anchor_step_lines=step),
            layout=layout,
        )
        for name, (layout, step) in VARIANTS.items()
        if name in args.layouts
    }
    if args.windows:
        builders = {f"window {spec}": PromptBuilder(family, tokenize, window_budget(spec), layout=Layout.PSM_ANCHORED)
                    for spec in args.windows}
    rows = []
    started = time.perf_counter()
    for case in tqdm(cases, desc="cases"):
        row = {"path": case.path, "line": case.line, "target": case.target, "outputs": {}}
        for name, builder in builders.items():
            prompt = builder.build(case.prefix, case.suffix, language=LANGUAGES.get(Path(case.path).suffix, ""))
            raw = first_line(llm, prompt.tokens, prompt.stop_ids, args.max_tokens + len(prompt.held_back))
            context = Context(case.prefix, case.suffix, held_back=prompt.held_back)
            row["outputs"][name] = drop_held_back(Suggestion(raw), context).text
        rows.append(row)
        if args.json:  # after every case, so a long run that is stopped still leaves its figures
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"summary": summarize(rows, builders), "cases": rows}, indent=1, ensure_ascii=False))

    print(f"\n{family.name}, {len(cases)} masked lines from {len(args.files)} files, "
          f"prefix {args.prefix_tokens} / suffix {args.suffix_tokens} tokens, {time.perf_counter() - started:.0f} s")
    print(f"{'layout':<16} {'exact first line':>17} {'mean similarity':>16}")
    for name, figures in summarize(rows, builders).items():
        exact, count = figures["exact"], figures["cases"]
        print(f"{name:<16} {exact:>9}/{count:<3} {exact / max(1, count):>4.0%} {figures['similarity']:>16.3f}")


if __name__ == "__main__":
    main()
