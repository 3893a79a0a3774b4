"""An experiment, not part of the review: can an instruct model point at the wrong line?

    python -m bench.assist.review_point --model PATH [--limit 12] [--corpus 40] [--threads 1]

The model sees the numbered function and "Which line ... has a bug? Answer with the line number
only, or none"; its answer is read, not generated: P(each line number) and P("none") from its
next-token distributions, each renormalised over the tokens that keep the answer valid (the
distribution a grammar allowing only these answers would sample from). One forward pass of the
prompt, then one token per branch. For each behaviour-changing mutant (bench/assist/review_cases.py)
it prints P(mutated line) on the clean function and on the mutant, and the line's rank; then the
recall and false alarms of "the model's top line, when its probability reaches the largest top
probability on `--corpus` held-out clean functions" (engine/calibration.py's corpus).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench.assist.review_cases import functions  # noqa: E402
from lsp_server.backend.local import BackendOptions, LocalBackend  # noqa: E402
from lsp_server.engine import calibration as cal  # noqa: E402
from lsp_server.features.review import LineTable, WrittenReviewUnavailable  # noqa: E402

MIN_ANSWER_MASS = 1e-3  # answer branches less likely than this are not followed
SYSTEM = "You are a careful code reviewer. Answer with one line number, or none."


def messages_for(text: str) -> list[dict]:
    lines = LineTable(text)
    numbered = "\n".join(f"{number:>4} | {lines.line_text(number)}" for number in range(1, lines.count + 1))
    question = (f"```\n{numbered}\n```\n\nWhich line of this python code has a bug (a wrong operator, comparison, "
                "constant or condition)? Answer with the line number only, or none if every line is correct.")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


class Pointer:
    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        index = backend.piece_index()
        self.index = index
        self.word_tokens = np.array(index.ids_where(lambda piece: piece[:1].isalnum()), dtype=np.int64)

    def prompt(self, messages: list[dict]) -> list[int]:
        from lsp_server.engine import chat

        try:
            return chat.chat_prompt(self.backend, messages)
        except chat.ChatTemplateError:
            text = "\n\n".join(m["content"] for m in messages) + "\n\nAnswer (a line number, or none):"
            return self.backend.tokenize(text)

    def point(self, text: str) -> dict[int, float]:
        """P(answer = line N) for every line N of `text`; P("none") under key 0."""
        prompt = self.prompt(messages_for(text))
        if len(prompt) + 4 > self.backend.context_size:
            raise WrittenReviewUnavailable("too long for the context")
        answers = {str(line): line for line in range(1, LineTable(text).count + 1)}
        answers["none"] = 0
        spellings = {spelling: value for answer, value in answers.items() for spelling in (answer, " " + answer)}
        found = dict.fromkeys(answers.values(), 0.0)
        self._walk(prompt, [], "", 1.0, spellings, found)
        return found

    def _walk(self, prompt, tokens, spelled, mass, spellings, found) -> None:
        children: dict[int, str] = {}
        for spelling in spellings:
            if spelling.startswith(spelled) and spelling != spelled:
                rest = spelling[len(spelled):]
                for size in range(1, len(rest) + 1):
                    for token in self.index.ids_of(rest[:size].encode()):
                        children[token] = spelled + rest[:size]
        complete = spelled in spellings
        if not children:
            if complete:
                found[spellings[spelled]] += mass
            return
        if len(children) == 1 and not complete:
            (token, after), = children.items()
            self._walk(prompt, [*tokens, token], after, mass, spellings, found)
            return
        logprobs = self.backend.next_logprobs([*prompt, *tokens])
        weights = {token: math.exp(logprobs[token]) for token in children}
        # The answer ends here when the next token does not go on spelling a word (a digit or letter).
        end = max(0.0, 1.0 - float(np.exp(logprobs[self.word_tokens]).sum())) if complete else 0.0
        total = sum(weights.values()) + end
        if total <= 0:
            return
        if complete:
            found[spellings[spelled]] += mass * end / total
        for token, weight in weights.items():
            if mass * weight / total >= MIN_ANSWER_MASS:
                self._walk(prompt, [*tokens, token], children[token], mass * weight / total, spellings, found)


def top(distribution: dict[int, float]) -> tuple[int, float]:
    line = max((line for line in distribution if line), key=lambda line: distribution[line])
    return line, distribution[line]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--corpus", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    backend = LocalBackend(args.model, BackendOptions(context_size=4096, threads=args.threads))
    pointer = Pointer(backend)
    rows, clean_tops, corpus_tops = [], [], []
    try:
        for function in cal.corpus(args.corpus):
            try:
                corpus_tops.append(top(pointer.point(function.source))[1])
            except WrittenReviewUnavailable:
                pass
        for function in functions(args.limit):
            try:
                clean = pointer.point(function.clean)
            except WrittenReviewUnavailable:
                continue
            clean_tops.append(top(clean)[1])
            for case in function.mutants:
                mutant = pointer.point(case.mutant)
                line = case.mutated_line
                ranked = sorted((n for n in mutant if n), key=lambda n: -mutant[n])
                rows.append({"case": function.name, "line": line, "edit": case.edit, "clean_p": clean[line],
                             "mutant_p": mutant[line], "rank": ranked.index(line) + 1, "top": top(mutant),
                             "none_clean": clean[0], "none_mutant": mutant[0]})
                print(f"{function.name:32s} line {line:>2} {case.edit:18s} P(line): clean {clean[line]:.3f} "
                      f"mutant {mutant[line]:.3f}, rank {rows[-1]['rank']}; P(none) {clean[0]:.3f}/{mutant[0]:.3f}",
                      flush=True)
    finally:
        backend.close()
    threshold = max(corpus_tops, default=math.inf)
    hits = sum(row["top"][1] >= threshold and abs(row["top"][0] - row["line"]) <= 1 for row in rows)
    alarms = sum(value >= threshold for value in clean_tops)
    up = sum(row["mutant_p"] > row["clean_p"] for row in rows)
    print(f"\n{len(rows)} mutants of {len(clean_tops)} functions: P(mutated line) higher on the mutant than on the "
          f"clean function in {up}; median ratio {statistics.median(r['mutant_p'] / r['clean_p'] for r in rows):.3f}; "
          f"mutated line ranked first in {sum(r['rank'] == 1 for r in rows)}.")
    print(f"threshold = the largest top-line probability on {len(corpus_tops)} corpus functions: {threshold:.3f}; "
          f"recall {hits}/{len(rows)}, false alarms {alarms}/{len(clean_tops)}")
    if args.out:
        Path(args.out).write_text(json.dumps({"model": args.model, "rows": rows, "corpus_tops": corpus_tops,
                                              "clean_tops": clean_tops, "threshold": threshold}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
