"""Prefill after an edit, over the wire: the real server on the tiny GGUF evaluates the prompt at
the place being edited while the editor waits to ask, and the suggestion there is the one a
server without prefill gives.

The prefilling server is tests.lsp.traced_server: the real server with one log line added when
a prefill ends, so the test waits for the prefill instead of sleeping. Assertions read the
server's own log ("completion from the model for ...: P prompt tokens, E evaluated"): token
counts and order, never time.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.lsp.lsp_client import LspClient

URI = "file:///work/ledger.py"
BEFORE = "".join(f"def helper_{i}(value):\n    return value + {i}\n\n\n" for i in range(40))
TARGET = "def total_of(items):\n    total = 0\n    for item in items:\n        total += "
AFTER = "\n    return total\n\n\n" + "".join(f"def later_{i}(value):\n    return value - {i}\n\n\n" for i in range(40))
SOURCE = BEFORE + TARGET + AFTER
LINE = SOURCE[: len(BEFORE + TARGET)].count("\n")  # the line being typed on
COLUMN = len(TARGET.rsplit("\n", 1)[1])
TYPED = ["i", "te", "m"]  # three keystrokes, one didChange each
CURSOR = len(BEFORE + TARGET) + sum(map(len, TYPED))  # where the last edit leaves the cursor

# No generation time limit: what the tiny model writes must not depend on the machine's speed.
COMMON = {"maxGenerationMs": 0}
MODEL_LINE = re.compile(
    r"completion from the model for (?P<uri>\S+): (?P<prompt>\d+) prompt tokens(?P<short> \(short window\))?, "
    r"(?P<evaluated>\d+) evaluated"
)
PREFILL_LINE = re.compile(r"prefill at offset \d+ ended: (\d+) tokens evaluated")
WAIT = 120.0  # seconds; a bound for a broken server only


def start(start_server, tiny_gguf: Path, options: dict, traced: bool) -> LspClient:
    client = start_server(
        ["--model", str(tiny_gguf), "--threads", "2", "--max-tokens", "12"],
        python_flags=["-m", "tests.lsp.traced_server"] if traced else None,
    )
    client.initialize({**COMMON, **options})
    client.wait_model_ready()
    return client


def type_at_the_new_place(client: LspClient) -> None:
    client.open(URI, SOURCE)
    column = COLUMN
    for version, text in enumerate(TYPED, start=2):
        position = {"line": LINE, "character": column}
        client.change(URI, version, [{"range": {"start": position, "end": position}, "text": text}])
        column += len(text)


def log_text(client: LspClient) -> str:
    assert client.log_path is not None
    return client.log_path.read_text(encoding="utf-8") if client.log_path.exists() else ""


def wait_for_log(client: LspClient, pattern: re.Pattern[str], timeout: float = WAIT) -> re.Match[str]:
    """The first log line matching `pattern`, once the server has written it (polls the log file)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [match for match in map(pattern.search, log_text(client).splitlines()) if match]
        if found or time.monotonic() > deadline or client.process.poll() is not None:
            break
        time.sleep(0.05)
    assert found, f"the server never logged {pattern.pattern!r}; log:\n{log_text(client)[-3000:]}"
    return found[0]


def model_lines(client: LspClient) -> list[re.Match[str]]:
    return [match for match in map(MODEL_LINE.search, log_text(client).splitlines()) if match and match["uri"] == URI]


def suggestion(client: LspClient) -> list[dict]:
    answer = client.inline(URI, LINE, COLUMN + sum(map(len, TYPED)), timeout=WAIT)
    assert isinstance(answer["items"], list)
    return answer["items"]


def test_the_request_after_a_prefilled_edit_evaluates_little_and_gets_the_unprefilled_answer(start_server, tiny_gguf):
    prefilling = start(start_server, tiny_gguf, {}, traced=True)
    type_at_the_new_place(prefilling)
    ended = wait_for_log(prefilling, re.compile(rf"prefill at offset {CURSOR} ended: (\d+) tokens evaluated$"))
    assert int(ended[1]) > 0
    assert model_lines(prefilling) == []  # nothing asked the model yet: the prefill came first
    items = suggestion(prefilling)

    answered = model_lines(prefilling)[0]  # a speculation (idle, after the answer) may log next
    prompt_tokens, evaluated = int(answered["prompt"]), int(answered["evaluated"])
    assert answered["short"] is None  # the full window: the prefill made it cheap
    assert evaluated <= 4 < prompt_tokens
    # Every other token of the prompt came from a prefill (one per edit; earlier ones may have
    # been cut short by the next edit or have done part of the work).
    prefilled = sum(int(match[1]) for match in map(PREFILL_LINE.search, log_text(prefilling).splitlines()) if match)
    assert evaluated + prefilled >= prompt_tokens

    # A server without prefill (and without the short window, which a cold request would take)
    # evaluates the whole prompt and writes the same suggestion.
    plain = start(start_server, tiny_gguf, {"prefill": False, "quickPrefixTokens": 0}, traced=False)
    type_at_the_new_place(plain)
    plain_items = suggestion(plain)
    [cold] = model_lines(plain)  # no prefill, so no idle work either
    assert cold["short"] is None
    assert int(cold["prompt"]) == prompt_tokens and int(cold["evaluated"]) == prompt_tokens
    assert items and plain_items == items  # same text, same range


def test_without_prefill_a_cold_request_takes_the_short_window(start_server, tiny_gguf):
    client = start(start_server, tiny_gguf, {"prefill": False}, traced=True)
    type_at_the_new_place(client)
    items = suggestion(client)
    assert isinstance(items, list)
    [answered] = model_lines(client)  # prefill off: no follow-up after the answer
    assert answered["short"] is not None
    assert int(answered["evaluated"]) == int(answered["prompt"])  # cold: nothing was evaluated ahead
    assert "prefill at offset" not in log_text(client)


def rest_the_cursor_on_the_new_place(client: LspClient) -> None:
    client.open(URI, SOURCE)
    client.notify("seekcode/cursor", {"textDocument": {"uri": URI}, "position": {"line": LINE, "character": COLUMN}})


def test_a_cursor_resting_at_a_place_prefills_it_before_any_edit(start_server, tiny_gguf):
    client = start(start_server, tiny_gguf, {}, traced=True)
    rest_the_cursor_on_the_new_place(client)
    ended = wait_for_log(client, re.compile(rf"prefill at offset {len(BEFORE + TARGET)} ended: (\d+) tokens evaluated$"))
    assert int(ended[1]) > 0
    assert model_lines(client) == []
    items = client.inline(URI, LINE, COLUMN, timeout=WAIT)["items"]
    answered = model_lines(client)[0]
    assert answered["short"] is None
    assert int(answered["evaluated"]) <= 4 < int(answered["prompt"])

    plain = start(start_server, tiny_gguf, {"prefill": False, "quickPrefixTokens": 0}, traced=False)
    rest_the_cursor_on_the_new_place(plain)
    assert plain.inline(URI, LINE, COLUMN, timeout=WAIT)["items"] == items
    [cold] = model_lines(plain)
    assert int(cold["evaluated"]) == int(cold["prompt"]) == int(answered["prompt"])


def test_cursor_notifications_the_server_cannot_place_are_ignored(start_server, tiny_gguf):
    client = start(start_server, tiny_gguf, {}, traced=True)
    client.open(URI, SOURCE)
    for params in (
        {"textDocument": {"uri": "file:///work/not-open.py"}, "position": {"line": 0, "character": 0}},
        {"textDocument": {"uri": URI}, "position": {"line": -1, "character": 0}},
        {"textDocument": {"uri": URI}, "position": {"line": 10_000, "character": 0}},
        {"textDocument": {"uri": URI}},
        "not an object",
    ):
        client.notify("seekcode/cursor", params)
    # Past the end of a line is the line's end, as LSP says of positions.
    client.notify("seekcode/cursor", {"textDocument": {"uri": URI}, "position": {"line": LINE, "character": 500}})
    wait_for_log(client, re.compile(rf"prefill at offset {len(BEFORE + TARGET)} ended"))
    assert len(re.findall("seekcode/cursor ignored", log_text(client))) == 5
    assert isinstance(client.inline(URI, LINE, COLUMN, timeout=WAIT)["items"], list)
    assert client.process.poll() is None
