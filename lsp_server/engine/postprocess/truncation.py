"""A multi-line suggestion cut off by the token limit ends in a half-written line: drop
it, and drop lines before it that open a block whose body never came (`if x:` alone).

Not a pipeline filter, since only the backend knows why generation stopped:
`postprocess(text, context, truncated=generation.stop_reason is StopReason.MAX_TOKENS)`.
"""

from __future__ import annotations

from lsp_server.engine.postprocess.base import Context, Mode, opens_block


def drop_unfinished_line(text: str, context: Context) -> str:
    if context.mode is not Mode.MULTI_LINE or "\n" not in text.rstrip("\n"):
        return text
    lines = text.split("\n")
    if lines[-1].strip():
        lines.pop()
    while len(lines) > 1 and (not lines[-1].strip() or opens_block(lines[-1], context.language)):
        lines.pop()
    return "\n".join(lines)
