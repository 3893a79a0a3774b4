"""Documents written with the cursor marked by ║, as editors show them in golden cases."""

from __future__ import annotations

CURSOR = "║"


def split_at_cursor(document: str) -> tuple[str, str]:
    """(prefix, suffix) of a document holding exactly one ║."""
    if document.count(CURSOR) != 1:
        raise ValueError(f"a case document needs exactly one {CURSOR} marking the cursor, found {document.count(CURSOR)}.")
    prefix, suffix = document.split(CURSOR)
    return prefix, suffix
