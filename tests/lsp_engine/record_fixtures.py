"""Record the real code model's raw output on each case in cases/ as a golden fixture.

    python tests/lsp_engine/record_fixtures.py [--model GGUF] [--only NAME ...] [--reset-expected]

Each case file is source code with the cursor marked by ║. The prompt is built by the
engine (family detected from the model, default layout and budgets) and the model
generates greedily, up to 64 tokens, without the streaming stop and stopping only at
end-of-text (not at the family's other stop tokens), so the filters see the whole raw
output, leaked file separators included. fixtures/NAME.json keeps `raw` and `expected`; `expected` was reviewed
by hand and is kept on re-recording unless --reset-expected (then it is the pipeline's
output again and needs another review). Cases whose pipeline output differs from
`expected` are listed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from lsp_server.engine.families import detect_family  # noqa: E402
from lsp_server.engine.postprocess import Context, postprocess  # noqa: E402
from lsp_server.engine.prompt import PromptBuilder  # noqa: E402

CASES = HERE / "cases"
FIXTURES = HERE / "fixtures"
DEFAULT_MODEL = Path.home() / ".cache/seekcode-dev/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
LANGUAGES = {".py": "python", ".js": "javascript", ".ts": "typescript", ".go": "go", ".rs": "rust", ".java": "java"}
CURSOR = "║"
MAX_TOKENS = 64


def generate(llm, tokens: list[int], end_ids: set[int]) -> tuple[str, bool]:
    """(raw text, whether it was cut by the token limit)."""
    data = b""
    for count, token in enumerate(llm.generate(tokens, temp=0.0, top_k=1, reset=True)):
        if token in end_ids:
            return data.decode("utf-8", errors="replace"), False
        if count >= MAX_TOKENS:
            break
        data += llm.detokenize([token], special=True)
    return data.decode("utf-8", errors="replace"), True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--only", nargs="*", default=None, help="case names (file stems) to record")
    parser.add_argument("--reset-expected", action="store_true")
    args = parser.parse_args()
    if not args.model.is_file():
        sys.exit(f"model {args.model} not found; pass --model with a code-model GGUF that has FIM tokens.")

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads crawl on shared CPUs
    import llama_cpp
    from tqdm import tqdm

    llm = llama_cpp.Llama(str(args.model), n_ctx=2048, n_threads=2, verbose=False)

    def token_id(text: str) -> int | None:
        ids = llm.tokenize(text.encode(), add_bos=False, special=True)
        return ids[0] if len(ids) == 1 and llm._model.token_get_text(ids[0]) == text else None

    family = detect_family(token_id, llm.metadata)
    end_ids = {llm.token_eos(), *(i for i in (token_id("<|endoftext|>"), token_id("<|EOT|>")) if i is not None)}
    builder = PromptBuilder(family, lambda text: llm.tokenize(text.encode(), add_bos=False, special=False))
    cases = sorted(path for path in CASES.iterdir() if path.suffix in LANGUAGES)
    if args.only:
        cases = [path for path in cases if path.stem in args.only]
    FIXTURES.mkdir(exist_ok=True)
    changed = []
    for case in tqdm(cases, desc="recording"):
        language = LANGUAGES[case.suffix]
        prefix, suffix = case.read_text(encoding="utf-8").split(CURSOR)
        prompt = builder.build(prefix, suffix, path=case.name, language=language)
        raw, truncated = generate(llm, prompt.tokens, end_ids)
        context = Context.create(prefix, suffix, language, family.special_texts, held_back=prompt.held_back)
        output = postprocess(raw, context, truncated=truncated)
        fixture_path = FIXTURES / f"{case.stem}.json"
        old = json.loads(fixture_path.read_text(encoding="utf-8")) if fixture_path.exists() else {}
        expected = output if args.reset_expected or "expected" not in old else old["expected"]
        fixture = {
            "case": f"cases/{case.name}",
            "language": language,
            "model": args.model.name,
            "family": family.name,
            "layout": prompt.layout.value,
            "mode": context.mode.value,
            "held_back": prompt.held_back,
            "truncated": truncated,
            "raw": raw,
            "expected": expected,
        }
        fixture_path.write_text(json.dumps(fixture, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if output != expected:
            changed.append(case.stem)
    print(f"recorded {len(cases)} fixtures in {FIXTURES}")
    for name in changed:
        print(f"  pipeline output differs from the reviewed expectation: {name}")


if __name__ == "__main__":
    main()
