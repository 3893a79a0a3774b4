"""Snippets from other documents: ranking, budget, stable order, sticky choice."""

from __future__ import annotations

from lsp_server.engine.context import (
    ContextSelector,
    SourceDocument,
    Snippet,
    chunk_document,
    identifiers,
    jaccard,
    rank_snippets,
    select_snippets,
)

GEOMETRY = "\n".join(
    [
        "import math",
        "",
        "def circle_area(radius):",
        "    return math.pi * radius ** 2",
        "",
        "def rectangle_area(width, height):",
        "    return width * height",
    ]
)
NETWORK = "\n".join(
    [
        "import socket",
        "",
        "def open_connection(host, port):",
        "    sock = socket.create_connection((host, port))",
        "    return sock",
    ]
)


def count_words(text: str) -> int:
    return len(text.split())


def test_identifiers_and_jaccard() -> None:
    assert identifiers("x = circle_area(radius) + 2") == {"circle_area", "radius"}
    assert jaccard(frozenset({"a1", "b1"}), frozenset({"b1", "c1"})) == 1 / 3
    assert jaccard(frozenset(), frozenset({"a1"})) == 0.0


def test_chunks_are_line_windows_without_blank_ones() -> None:
    document = SourceDocument("a.py", "\n".join(f"line{i}" for i in range(45)) + "\n\n\n")
    chunks = chunk_document(document, lines_per_chunk=20)
    assert [chunk.start_line for chunk in chunks] == [0, 20, 40]
    assert chunks[1].text.split("\n")[0] == "line20"


def test_ranking_prefers_the_similar_document() -> None:
    query = "area = circle_area(radius)\nprint(math.pi, radius)"
    ranked = rank_snippets(query, [SourceDocument("net.py", NETWORK), SourceDocument("geo.py", GEOMETRY)])
    assert ranked[0].path == "geo.py"
    assert ranked[0].score > ranked[1].score


def test_selection_respects_budget_and_returns_stable_order() -> None:
    ranked = [
        Snippet("z.py", 40, "z " * 10, 0.9),
        Snippet("a.py", 20, "a " * 10, 0.8),
        Snippet("a.py", 0, "b " * 50, 0.7),  # too big for what is left
        Snippet("m.py", 0, "m " * 5, 0.6),
        Snippet("q.py", 0, "q", 0.01),  # below min_score
    ]
    chosen = select_snippets(ranked, top_k=3, min_score=0.05, token_budget=40, count_tokens=count_words)
    assert [(s.path, s.start_line) for s in chosen] == [("a.py", 20), ("m.py", 0), ("z.py", 40)]


def test_selector_keeps_its_choice_while_typing_in_the_region() -> None:
    selector = ContextSelector(lines_per_chunk=3, top_k=1, region_lines=32)
    others = [SourceDocument("geo.py", GEOMETRY), SourceDocument("net.py", NETWORK)]
    prefix = "def total_area(radius):\n    return circle_area(radius)"
    first = selector.snippets_for("main.py", prefix, "\n", others, 200, count_words)
    assert first and first[0].path == "geo.py"
    # Now the cursor text looks like networking code, but it is the same region: same choice.
    typed = prefix + "\nsock = socket.create_connection((host, port))"
    assert selector.snippets_for("main.py", typed, "\n", others, 200, count_words) == first
    # A different region re-ranks.
    far = "\n" * 40 + "sock = socket.create_connection((host, port))\nopen_connection(host, port)"
    again = selector.snippets_for("main.py", far, "\n", others, 200, count_words)
    assert again[0].path == "net.py"


def test_selector_refreshes_text_of_kept_windows_and_skips_the_current_file() -> None:
    selector = ContextSelector(lines_per_chunk=3, top_k=1)
    prefix = "x = circle_area(radius)"
    others = [SourceDocument("geo.py", GEOMETRY), SourceDocument("main.py", "circle_area radius")]
    first = selector.snippets_for("main.py", prefix, "", others, 200, count_words)
    assert [s.path for s in first] == ["geo.py"]
    edited = [SourceDocument("geo.py", GEOMETRY.replace("import math", "import math as m"))]
    refreshed = selector.snippets_for("main.py", prefix + "\n", "", edited + others[1:], 200, count_words)
    assert (refreshed[0].path, refreshed[0].start_line) == (first[0].path, first[0].start_line)
    assert refreshed[0].text.startswith("import math as m")


def test_no_budget_or_no_documents_gives_nothing() -> None:
    selector = ContextSelector()
    assert selector.snippets_for("a.py", "x", "", [SourceDocument("b.py", GEOMETRY)], 0, count_words) == ()
    assert selector.snippets_for("a.py", "x", "", [], 100, count_words) == ()
