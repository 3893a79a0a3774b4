"""The completion cache: exact hits, type-through, auto-closed brackets, LRU bound."""

from __future__ import annotations

from lsp_server.engine.cache import CompletionCache

from tests.lsp_engine.cursor import split_at_cursor


def test_exact_position_hits() -> None:
    cache = CompletionCache()
    cache.put("def f(x):\n    return ", "\n", "x * 2")
    assert cache.get("def f(x):\n    return ", "\n") == "x * 2"
    assert cache.hits == 1


def test_miss_on_other_text() -> None:
    cache = CompletionCache()
    cache.put("a = ", "\n", "1")
    assert cache.get("b = ", "\n") is None
    assert cache.get("a = ", "\nmore") is None
    assert cache.misses == 2


def test_type_through_returns_the_rest_without_the_model() -> None:
    cache = CompletionCache()
    prefix, suffix = split_at_cursor("def area(r):\n    return ║\n")
    cache.put(prefix, suffix, "math.pi * r ** 2")
    typed = ""
    for char in "math.pi * r":
        typed += char
        assert cache.get(prefix + typed, suffix) == "math.pi * r ** 2"[len(typed) :]
    assert cache.type_through_hits == len("math.pi * r")


def test_type_through_ends_when_the_user_types_something_else() -> None:
    cache = CompletionCache()
    cache.put("x = ", "\n", "compute()")
    assert cache.get("x = comp", "\n") == "ute()"
    assert cache.get("x = compx", "\n") is None


def test_typing_the_whole_suggestion_ends_type_through() -> None:
    cache = CompletionCache()
    cache.put("x = ", "\n", "1")
    assert cache.get("x = 1", "\n") is None


def test_type_through_into_the_next_line_of_a_multiline_suggestion() -> None:
    cache = CompletionCache()
    cache.put("def f():", "\n", "\n    return 1")
    assert cache.get("def f():\n", "\n") == "    return 1"
    assert cache.get("def f():\n    ret", "\n") == "urn 1"


def test_type_through_with_an_auto_closed_bracket() -> None:
    cache = CompletionCache()
    cache.put("print", "\n", "(total)")
    # The editor inserted ")" after the cursor when "(" was typed.
    assert cache.get("print(", ")\n") == "total"
    assert cache.get("print(tot", ")\n") == "al"


def test_empty_suggestions_are_remembered() -> None:
    cache = CompletionCache()
    cache.put("x = 1", "\n", "")
    assert cache.get("x = 1", "\n") == ""


def test_lru_bound_drops_the_oldest() -> None:
    cache = CompletionCache(max_entries=3)
    for index in range(5):
        cache.put(f"v{index} = ", "\n", str(index))
    assert len(cache) == 3
    assert cache.get("v0 = ", "\n") is None
    assert cache.get("v4 = ", "\n") == "4"


def test_recently_used_entries_survive() -> None:
    cache = CompletionCache(max_entries=2)
    cache.put("a", "", "1")
    cache.put("b", "", "2")
    assert cache.get("a", "") == "1"
    cache.put("c", "", "3")
    assert cache.get("a", "") == "1"
    assert cache.get("b", "") is None


def test_key_uses_only_the_text_near_the_cursor() -> None:
    cache = CompletionCache(prefix_chars=10, suffix_chars=5)
    cache.put("far away text" + "  x = foo(", ")\nrest of file", "a")
    assert cache.get("other start!" + "  x = foo(", ")\nrest of another file") == "a"


def test_clear() -> None:
    cache = CompletionCache()
    cache.put("a", "", "1")
    cache.clear()
    assert cache.get("a", "") is None


def test_type_through_in_a_long_document() -> None:
    cache = CompletionCache()
    prefix = "# filler line\n" * 5000 + "value = "
    cache.put(prefix, "\n", "compute(42)")
    assert cache.get(prefix + "comp", "\n") == "ute(42)"
    assert cache.get("# other\n" + prefix[8:] + "comp", "\n") == "ute(42)"  # far-away text is not in the key
