"""The real server while a user types: an edit per character, a completion at each word boundary.

    python bench/latency/server_typing.py --model M.gguf [--threads 2] [--places 6] [--chars 150] \\
        [--type-ms-per-char 200] [--rest-ms 2000]

For each of `--places` places of the standard library's textwrap.py (run.py's choice of places), the
client opens a document holding the file without the code typed there, reports the resting cursor
(seekcode/cursor) and waits `--rest-ms` while the user reads, then types the code one character every
`--type-ms-per-char` ms (textDocument/didChange; a newline brings its indentation, as an auto-indenting
editor does). At each word boundary (run.py's rule) it asks for textDocument/inlineCompletion and waits
for the answer, as a user who reads it, before typing on. So the server sees what it sees from an
editor: an edit at every keystroke, each of which asks for idle work at the cursor.

Reports cold (the first request at a place) and warm latency, first-line matches, and from the
server's log how many model answers came from the short first window. JSON goes to
bench/results/server-typing-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import places  # noqa: E402  (bench/latency/places.py: the standard library's sources)
import run as latency  # noqa: E402  (places, keystrokes, the request rule, percentiles)

from lsp_server.protocol.positions import position_at  # noqa: E402

from tests.lsp.lsp_client import LspClient  # noqa: E402


def position(text: str, offset: int) -> dict[str, int]:
    """The LSP position of `offset`, in UTF-16 code units."""
    at = position_at(text, offset)
    return {"line": at.line, "character": at.character}


def type_at_place(client: LspClient, uri: str, source: str, span: tuple[int, int], char_s: float,
                  rest_s: float) -> list[dict[str, object]]:
    start, end = span
    text = source[:start] + source[end:]
    client.open(uri, text)
    client.notify("seekcode/cursor", {"textDocument": {"uri": uri}, "position": position(text, start)})
    time.sleep(rest_s)
    strokes = latency.keystrokes(source[start:end])
    records, cursor, version = [], start, 1
    ask_at = {0} | {i + 1 for i, stroke in enumerate(strokes)
                    if latency.word_boundary(stroke[0], strokes[i + 1] if i + 1 < len(strokes) else "")
                    or i + 1 == len(strokes)}
    for index in range(len(strokes) + 1):
        if index in ask_at:
            line_end = source.find("\n", cursor)
            expected = source[cursor:line_end].rstrip()
            started = time.perf_counter()
            result = client.inline(uri, **position(text, cursor), timeout=120)
            latency_ms = (time.perf_counter() - started) * 1000
            items = result.get("items", []) if isinstance(result, dict) else (result or [])
            suggestion = items[0]["insertText"] if items else ""
            shown = suggestion if isinstance(suggestion, str) else suggestion.get("value", "")
            first = latency.first_line(shown)
            records.append({"cold": index == 0, "latency_ms": latency_ms, "suggestion": shown,
                            "expected": expected, "match": (first == expected) if expected.strip() else None})
        if index == len(strokes):
            break
        time.sleep(char_s)
        stroke = strokes[index]
        version += 1
        here = position(text, cursor)
        client.change(uri, version, [{"range": {"start": here, "end": here}, "text": stroke}])
        text = text[:cursor] + stroke + text[cursor:]
        cursor += len(stroke)
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    return records


def summarize(records: list[dict[str, object]], log_text: str) -> dict[str, float]:
    cold = [r["latency_ms"] for r in records if r["cold"]]
    warm = [r["latency_ms"] for r in records if not r["cold"]]
    judged = [r for r in records if r["match"] is not None]
    model_answers = log_text.count("started on the worker")  # requests the cache did not answer
    return {
        "requests": len(records), "cold_p50": statistics.median(cold), "warm_p50": statistics.median(warm),
        "warm_p95": latency.percentile(warm, 0.95), "p95": latency.percentile(cold + warm, 0.95),
        "first_line": sum(bool(r["match"]) for r in judged) / len(judged),
        "model_answers": model_answers,
        "short_window_answers": log_text.count("(short window)") / model_answers if model_answers else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--places", type=int, default=6)
    parser.add_argument("--chars", type=int, default=150)
    parser.add_argument("--type-ms-per-char", type=float, default=200.0)
    parser.add_argument("--rest-ms", type=float, default=2000.0)
    args = parser.parse_args(argv)
    source = places.source_of("textwrap")
    spans = latency.choose_places(source, args.places, args.chars)
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "server.log"
        client = LspClient(["--model", str(args.model), "--threads", str(args.threads)],
                           env={"SEEKCODE_MODEL": "", "OMP_WAIT_POLICY": "PASSIVE"}, log_path=log_path)
        try:
            client.initialize()
            client.wait_model_ready(300)
            records = []
            for number, span in enumerate(spans):
                records += type_at_place(client, f"file:///bench/textwrap_{number}.py", source, span,
                                         args.type_ms_per_char / 1000, args.rest_ms / 1000)
        finally:
            client.shutdown()
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
    summary = summarize(records, log_text)
    print(json.dumps({key: round(value, 3) for key, value in summary.items()}))
    output = latency.RESULTS_DIR / f"server-typing-{time.strftime('%Y%m%d-%H%M%S')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"command": " ".join([sys.executable, *sys.argv]), "summary": summary,
                                  "records": records}, indent=1), encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
