"""Write the suggestion's indentation in the document's style (tabs or N spaces).

Lines after the first keep their depth relative to the cursor's line; only the
characters change: tabs become the document's spaces and vice versa, and a suggestion
indented by 4 spaces in a 2-space document is re-indented level by level (never the
other way round: smaller steps are usually continuation-line alignment).
"""

from __future__ import annotations

from lsp_server.engine.postprocess.base import (
    TAB_WIDTH,
    Context,
    Suggestion,
    indent_width,
    leading_whitespace,
)


def suggestion_indent_step(lines: list[str], base: int) -> int | None:
    """The smallest positive indentation step the suggestion's lines use, relative to `base`."""
    steps = sorted({indent_width(line) - base for line in lines if line.strip() and indent_width(line) > base})
    return steps[0] if steps else None


def keep_indentation_style(suggestion: Suggestion, context: Context) -> Suggestion:
    lines = suggestion.text.split("\n")
    if len(lines) < 2:
        return suggestion
    unit = context.indent_unit
    if unit is None:
        return suggestion
    unit_width = TAB_WIDTH if unit == "\t" else len(unit)
    base_line = context.line_prefix + lines[0]
    base = indent_width(base_line) if base_line.strip() else 0
    step = suggestion_indent_step(lines[1:], base)
    changed = [lines[0]]
    for line in lines[1:]:
        whitespace = leading_whitespace(line)
        if not line.strip() or not whitespace:
            changed.append(line)
            continue
        width = indent_width(line)
        # Only shrink (4 -> 2): a step smaller than the file's is usually alignment, not a level.
        if step and step > unit_width and step % unit_width == 0 and width >= base and (width - base) % step == 0:
            width = base + (width - base) // step * unit_width
        changed.append(_indentation(width, unit) + line[len(whitespace) :])
    text = "\n".join(changed)
    return suggestion if text == suggestion.text else Suggestion(text)


def _indentation(width: int, unit: str) -> str:
    if unit == "\t":
        return "\t" * (width // TAB_WIDTH) + " " * (width % TAB_WIDTH)
    return " " * width
