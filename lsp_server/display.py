"""Text from untrusted places (GGUF metadata, model output, file names, llama.cpp errors)
made safe to show: in an editor popup, in the server log, in a terminal tailing that log.

Control characters (ANSI escape sequences start with one) and lone surrogates are written
as visible escapes (`\\x1b`, `\\ud800`), and a message is cut at a length a person reads.
A log line cannot then repaint a terminal, fake a log entry or fill a disk with one string.
"""

from __future__ import annotations

import logging
import re

MESSAGE_LIMIT = 2_000  # characters in an editor message
LOG_RECORD_LIMIT = 50_000  # characters in one log record (a traceback fits)

# C0 controls but tab and newline, DEL, C1 controls, lone surrogates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSAFE_OR_NEWLINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def for_display(text: str, limit: int = MESSAGE_LIMIT, keep_newlines: bool = True) -> str:
    """`text` with unsafe characters escaped and at most `limit` characters (plus a note)."""
    pattern = _UNSAFE if keep_newlines else _UNSAFE_OR_NEWLINE
    return cap(pattern.sub(_escape, text), limit)


def contains_unsafe(text: str) -> bool:
    return _UNSAFE.search(text) is not None


class SafeFormatter(logging.Formatter):
    """A log formatter whose records (message, arguments, traceback) are `for_display`-safe.
    Lines after a record's first are indented: a newline in untrusted text (a chat template,
    a file name) cannot start what looks like a record of its own."""

    def format(self, record: logging.LogRecord) -> str:
        return for_display(super().format(record), LOG_RECORD_LIMIT).replace("\n", "\n  ")
