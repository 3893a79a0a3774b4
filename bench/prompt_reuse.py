"""How many prompt tokens must be evaluated per completion request, by prompt layout?

Replays typing a stretch of a real source file character by character (the text after
the typed stretch stays in the document as the suffix), requests a completion at word
boundaries as an editor does after its debounce, and counts the tokens of each prompt
that are not a prefix of the previous request's prompt: with a KV cache that keeps the
longest common prefix, these are the tokens the model has to evaluate. Needs only the
vocabulary (no weights, no generation), so it runs in seconds.

    python bench/prompt_reuse.py FILE --vocab model/vocab_data/ggml-vocab-deepseek-coder.gguf \
        [--start-line 40 --lines 60] [--json bench/results/prompt_reuse.json]

`psm` is the order llama.cpp's server builds for /infill with llama.vim's requests
(the typed part of the current line appended to the prefix, before the suffix).
Default budgets (prefix 1024, suffix 256 tokens). Result:

    qwen2.5-coder vocabulary, textwrap.py lines 121-200 typed, 282 requests at word boundaries
    layout                      prompt  evaluated mean    p50    p95
    psm (llama-server order)      1072           254.8    246    250
    psm-anchored (seekcode)       1072            23.4      3      9
    spm                           1072            12.7      3      7
    (deepseek-coder vocabulary, git's persistent-https/proxy.go lines 41-120: 262.9 / 19.5 / 8.8 mean)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lsp_server.backend.base import common_prefix_length  # noqa: E402
from lsp_server.engine.families import Layout, detect_family  # noqa: E402
from lsp_server.engine.prompt import PromptBuilder  # noqa: E402

LAYOUTS = {"psm (llama-server order)": Layout.PSM, "psm-anchored (seekcode)": Layout.PSM_ANCHORED, "spm": Layout.SPM}
WORD_END = set(" \t\n.,;:()[]{}=+-*/<>!&|\"'")



def percentile(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--vocab", type=Path, required=True, help="a GGUF with a FIM vocabulary (vocab-only is enough)")
    parser.add_argument("--start-line", type=int, default=40)
    parser.add_argument("--lines", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import llama_cpp

    llm = llama_cpp.Llama(str(args.vocab), vocab_only=True, verbose=False)

    def token_id(text: str) -> int | None:
        ids = llm.tokenize(text.encode(), add_bos=False, special=True)
        return ids[0] if len(ids) == 1 and llm._model.token_get_text(ids[0]) == text else None

    def tokenize(text: str) -> list[int]:
        return llm.tokenize(text.encode(), add_bos=False, special=False) if text else []

    family = detect_family(token_id, llm.metadata)
    text = args.file.read_text(encoding="utf-8")
    lines = text.split("\n")
    start = len("\n".join(lines[: args.start_line])) + 1
    end = len("\n".join(lines[: args.start_line + args.lines])) + 1
    typed, rest = text[start:end], text[end:]
    # A request right after each word, as an editor's debounce fires when the typing pauses.
    request_points = [
        count
        for count in range(1, len(typed) + 1)
        if typed[count - 1] in WORD_END and (count < 2 or typed[count - 2] not in WORD_END)
    ]

    results = {}
    for name, layout in LAYOUTS.items():
        builder = PromptBuilder(family, tokenize, layout=layout)
        previous: list[int] = []
        evaluated: list[int] = []
        sizes: list[int] = []
        for count in request_points:
            prompt = builder.build(text[:start] + typed[:count], rest)
            evaluated.append(len(prompt.tokens) - common_prefix_length(previous, prompt.tokens))
            sizes.append(len(prompt.tokens))
            previous = prompt.tokens
        results[name] = {
            "requests": len(evaluated),
            "mean_prompt_tokens": statistics.mean(sizes),
            "evaluated_mean": statistics.mean(evaluated),
            "evaluated_p50": percentile(evaluated, 0.5),
            "evaluated_p95": percentile(evaluated, 0.95),
        }

    print(f"{family.name} vocabulary, {args.file.name} lines {args.start_line + 1}-{args.start_line + args.lines} typed, "
          f"{len(request_points)} requests at word boundaries")
    print(f"{'layout':<26} {'prompt':>7} {'evaluated mean':>15} {'p50':>6} {'p95':>6}")
    for name, row in results.items():
        print(f"{name:<26} {row['mean_prompt_tokens']:>7.0f} {row['evaluated_mean']:>15.1f} "
              f"{row['evaluated_p50']:>6.0f} {row['evaluated_p95']:>6.0f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
