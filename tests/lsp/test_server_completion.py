"""Completions from the real server equal what the engine produces when called directly.

The tiny model has random weights, so its text is junk: these tests check structure
(ranges, UTF-16 positions, edits, supersede) and that the server adds nothing to and
loses nothing from the engine's answer.
"""

from __future__ import annotations

import pytest

from lsp_server.backend.local import LocalBackend
from lsp_server.features.completion import CompletionEngine, CompletionRequest
from lsp_server.features.runtime import backend_options
from lsp_server.settings import Settings

URI = "file:///work/example.py"
SETTINGS = Settings(threads=2, max_tokens=16)

SOURCE = '''import math


def circle_area(radius):
    """Area of a circle."""
    return math.pi * radius ** 2


def describe(shape, size):
    area = circle_area(size)
    return f"{shape} has area {area:.2f}"


def main():
    for size in range(3):
        print(describe("circle", size))
    total = 
'''


@pytest.fixture(scope="module")
def engine(tiny_gguf):
    """The same engine the server runs, called in-process (fresh cache per call below)."""
    backend = LocalBackend(tiny_gguf, backend_options(SETTINGS))
    yield CompletionEngine(backend)
    backend.close()


def direct_text(engine: CompletionEngine, text: str, offset: int, language: str = "python") -> str:
    engine.cache.clear()
    engine.backend.reset()
    result = engine.complete(CompletionRequest(text, offset, language, settings=SETTINGS, uri=URI))
    return result.suggestions[0].text if result.suggestions else ""


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def cursor_at_end_of_line(text: str, line: int) -> tuple[int, int]:
    lines = text.split("\n")
    offset = sum(len(l) + 1 for l in lines[:line]) + len(lines[line])
    return offset, utf16_length(lines[line])


def test_inline_completion_matches_the_engine(server, engine):
    line = SOURCE.split("\n").index("    total = ")
    offset, character = cursor_at_end_of_line(SOURCE, line)
    expected = direct_text(engine, SOURCE, offset)
    assert expected, "the tiny model should produce some text here"
    server.open(URI, SOURCE)
    result = server.inline(URI, line, character)
    assert len(result["items"]) == 1
    item = result["items"][0]
    assert item["insertText"] == expected
    assert item["range"] == {"start": {"line": line, "character": character}, "end": {"line": line, "character": character}}


def test_plain_completion_carries_the_same_suggestion_as_a_text_edit(server, engine):
    line = SOURCE.split("\n").index("    total = ")
    offset, character = cursor_at_end_of_line(SOURCE, line)
    server.open(URI, SOURCE)
    inline = server.inline(URI, line, character)["items"][0]
    completion = server.completion(URI, line, character)
    assert completion["isIncomplete"] is True
    [item] = completion["items"]
    assert item["textEdit"]["newText"] == inline["insertText"]
    assert item["textEdit"]["range"] == inline["range"]
    assert item["label"] and "\n" not in item["label"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8", "utf-32"])
def test_positions_after_emoji_and_cjk(start_server, tiny_gguf, engine, encoding):
    line_text = 'greeting = "héllo 😀 世界 👍🏽" + '
    text = "import sys\n" + line_text + "\nprint(greeting)\n"
    offset = len("import sys\n") + len(line_text)
    character = {
        "utf-16": utf16_length(line_text),
        "utf-8": len(line_text.encode("utf-8")),
        "utf-32": len(line_text),
    }[encoding]
    assert character != len(line_text) or encoding == "utf-32"
    expected = direct_text(engine, text, offset)
    client = start_server(["--model", str(tiny_gguf), "--threads", "2", "--max-tokens", "16"])
    assert client.initialize(position_encodings=[encoding])["capabilities"]["positionEncoding"] == encoding
    client.wait_model_ready()
    client.open(URI, text)
    items = client.inline(URI, 1, character)["items"]
    assert [item["insertText"] for item in items] == ([expected] if expected.strip() else [])
    for item in items:
        assert item["range"]["start"] == {"line": 1, "character": character}


def test_position_inside_a_surrogate_pair_snaps_to_the_emoji_start(server, engine):
    text = "x = '😀'\n"
    server.open(URI, text)
    items = server.inline(URI, 0, 6)["items"]  # between the two UTF-16 units of the emoji
    for item in items:
        assert item["range"]["start"] == {"line": 0, "character": 5}


def test_incremental_edits_then_completion(server, engine):
    server.open(URI, "def f(a):\n    return a\n", version=1)
    edits = [
        # rename the function: replace "f" with "scale"
        {"range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 5}}, "text": "scale"},
        # add a parameter with an emoji default, then a body line
        {"range": {"start": {"line": 0, "character": 11}, "end": {"line": 0, "character": 11}}, "text": ", k='😀'"},
        {"range": {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 12}}, "text": "y = a * k\n    return "},
        # an edit after the emoji counts UTF-16 units: replace the closing quote-paren
        {"range": {"start": {"line": 0, "character": 18}, "end": {"line": 0, "character": 20}}, "text": "')"},
    ]
    for version, edit in enumerate(edits, start=2):
        server.change(URI, version, [edit])
    expected_text = "def scale(a, k='😀'):\n    y = a * k\n    return \n"
    offset = expected_text.index("return ") + len("return ")
    expected = direct_text(engine, expected_text, offset)
    items = server.inline(URI, 2, 11)["items"]
    assert [item["insertText"] for item in items] == ([expected] if expected.strip() else [])


def test_full_document_change_replaces_the_text(server, engine):
    server.open(URI, "old = 1\n")
    new_text = "values = [1, 2, 3]\nsquares = "
    server.change(URI, 2, [{"text": new_text}])
    expected = direct_text(engine, new_text, len(new_text))
    items = server.inline(URI, 1, 10)["items"]
    assert [item["insertText"] for item in items] == ([expected] if expected.strip() else [])


def test_disabled_language_gets_no_suggestions(start_server, tiny_gguf):
    client = start_server(["--model", str(tiny_gguf), "--threads", "2"])
    client.initialize(initialization_options={"languages": {"markdown": False}})
    client.wait_model_ready()
    client.open("file:///notes.md", "# Title\n\nSome text ", language="markdown")
    assert client.inline("file:///notes.md", 2, 10) == {"items": []}
