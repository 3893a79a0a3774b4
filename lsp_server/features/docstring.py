"""Docstrings for the function, method or class at the cursor, placed exactly.

    plan_docstring(text, offset, language, style="auto", replace=False) -> DocstringPlan
    DocstringPlan.edit(fills) -> TextEdit          # the one edit that places the docstring
    DocstringPlan.document_with(fills, hole) -> (text, offset of `hole`)   # for FIM prompts
    generate_docstring(plan, writer, abort) -> DocstringResult

The docstring is a *template with holes* built from the code: the summary, then one hole
per parameter, the return value and each raised exception, in the file's style (Google,
NumPy or reST for Python; JSDoc, Javadoc, Go and Rust doc comments elsewhere). A writer
fills the holes one line each: a base model by FIM at the hole, an instruct model through
its chat template with a grammar (features/writers.py), a script in tests. The names in
the template come from the code, so parameters, return and exceptions are always named.

Placement: Python docstrings become the first statement of the body, indented like it (a
one-line body `def f(): return 1` is split into a block); elsewhere the comment goes on the
lines right above the declaration, its decorators/attributes/export included. Only the
edit's range changes; the code is never touched. An existing docstring is replaced only
when `replace` is set.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from lsp_server.engine.symbols import Symbol, language_of, symbol_at
from lsp_server.features.edits import TextEdit, apply_edits

STYLES = ("google", "numpy", "rest")
STYLE_CHOICES = ("auto", *STYLES)
HOLE_MARK = "\x00"


class DocstringError(Exception):
    """Nothing could be generated; the message is one sentence for the user."""


@dataclass(frozen=True)
class Hole:
    key: str  # "summary", "param:x", "returns", "raises:ValueError"


Template = tuple["str | Hole", ...]


# -- style --------------------------------------------------------------------

_STYLE_PATTERNS = {
    "google": re.compile(r"^\s*(Args|Arguments|Returns|Raises|Yields|Attributes):\s*$", re.M),
    "numpy": re.compile(r"^\s*(Parameters|Returns|Raises|Yields)\s*\n\s*-{3,}\s*$", re.M),
    "rest": re.compile(r"^\s*:(param|returns?|raises?|rtype|type)\b", re.M),
}


def detect_style(text: str) -> str:
    """The docstring style the file's other docstrings use most; Google when none tells."""
    counts = {style: len(pattern.findall(text)) for style, pattern in _STYLE_PATTERNS.items()}
    best = max(STYLES, key=lambda style: counts[style])
    return best if counts[best] else "google"


# -- template -----------------------------------------------------------------


def docstring_template(symbol: Symbol, style: str) -> Template:
    """The docstring's content as literal text and holes; lines end with "\\n" except the last."""
    parts: list[str | Hole] = []
    language = symbol.language
    if language == "go":
        parts += [f"{symbol.name} ", Hole("summary")] if symbol.name else [Hole("summary")]
        return tuple(parts)
    parts.append(Hole("summary"))
    if symbol.kind in ("class", "block") or language == "rust":
        return tuple(parts)
    params, raises = symbol.params, symbol.raises
    if not (params or symbol.returns or symbol.yields or raises):
        return tuple(parts)
    if language == "python":
        parts += _python_sections(symbol, style)
    elif language in ("javascript", "typescript", "tsx"):
        parts.append("\n")
        for name in params:
            parts += [f"\n@param {name} - ", Hole(f"param:{name}")]
        if symbol.returns:
            parts += ["\n@returns ", Hole("returns")]
        for name in raises:
            parts += [f"\n@throws {{{name}}} ", Hole(f"raises:{name}")]
    elif language == "java":
        parts.append("\n")
        for name in params:
            parts += [f"\n@param {name} ", Hole(f"param:{name}")]
        if symbol.returns:
            parts += ["\n@return ", Hole("returns")]
        for name in raises:
            parts += [f"\n@throws {name} ", Hole(f"raises:{name}")]
    return tuple(parts)


def _python_sections(symbol: Symbol, style: str) -> list[str | Hole]:
    parts: list[str | Hole] = []
    params, raises = symbol.params, symbol.raises
    if style == "numpy":
        if params:
            parts.append("\n\nParameters\n----------")
            for name in params:
                parts += [f"\n{name}\n    ", Hole(f"param:{name}")]
        if symbol.returns:
            parts += [f"\n\nReturns\n-------\n{symbol.return_type or 'object'}\n    ", Hole("returns")]
        if symbol.yields:
            parts += ["\n\nYields\n------\nobject\n    ", Hole("yields")]
        if raises:
            parts.append("\n\nRaises\n------")
            for name in raises:
                parts += [f"\n{name}\n    ", Hole(f"raises:{name}")]
    elif style == "rest":
        parts.append("\n")
        for name in params:
            parts += [f"\n:param {name.lstrip('*')}: ", Hole(f"param:{name}")]
        if symbol.returns:
            parts += ["\n:returns: ", Hole("returns")]
        if symbol.yields:
            parts += ["\n:yields: ", Hole("yields")]
        for name in raises:
            parts += [f"\n:raises {name}: ", Hole(f"raises:{name}")]
    else:
        if params:
            parts.append("\n\nArgs:")
            for name in params:
                parts += [f"\n    {name}: ", Hole(f"param:{name}")]
        if symbol.returns:
            parts += ["\n\nReturns:\n    ", Hole("returns")]
        if symbol.yields:
            parts += ["\n\nYields:\n    ", Hole("yields")]
        if raises:
            parts.append("\n\nRaises:")
            for name in raises:
                parts += [f"\n    {name}: ", Hole(f"raises:{name}")]
    return parts


def holes(template: Template) -> list[Hole]:
    return [part for part in template if isinstance(part, Hole)]


def clean_fill(text: str) -> str:
    """One line of generated text as a hole's content: first line, no quotes or comment marks."""
    line = text.replace("\r", "").lstrip(" \t\n").split("\n", 1)[0]
    line = re.split(r'"""|\'\'\'|\*/', line, maxsplit=1)[0]  # the literal or comment closed: the rest is code
    return " ".join(line.split()).strip()


def fill_template(template: Template, fills: Mapping[str, str], mark: Hole | None = None) -> str:
    """The content text; `mark`'s place gets HOLE_MARK and holes not yet filled stay empty."""
    pieces: list[str] = []
    for part in template:
        if isinstance(part, Hole):
            pieces.append(HOLE_MARK if part == mark else fills.get(part.key, ""))
        else:
            pieces.append(part)
    lines = "".join(pieces).split("\n")
    return "\n".join(line.rstrip() if HOLE_MARK not in line else line for line in lines)


# -- placement ----------------------------------------------------------------


def newline_of(text: str) -> str:
    """The file's line ending: that of its first line (CRLF files stay CRLF)."""
    index = text.find("\n")
    return "\r\n" if index > 0 and text[index - 1] == "\r" else "\n"


def indent_unit(text: str) -> str:
    """One indentation level as the file writes it: a tab, or the smallest space step."""
    widths = []
    for line in text.splitlines():
        stripped = line.lstrip(" \t")
        if not stripped or line == stripped:
            continue
        leading = line[: len(line) - len(stripped)]
        if leading.startswith("\t"):
            return "\t"
        widths.append(len(leading))
    return " " * (min(widths) if widths else 4)


def _line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def _leading_whitespace(text: str, offset: int) -> str:
    start = _line_start(text, offset)
    return re.match(r"[ \t]*", text[start:]).group(0)


def python_literal(content: str, indent: str, newline: str) -> str:
    """A triple-quoted docstring literal; lines after the first are indented by `indent`."""
    content = content.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if content.endswith('"'):
        content = content[:-1] + '\\"'
    lines = content.split("\n")
    if len(lines) == 1:
        return f'"""{lines[0]}"""'
    body = newline.join([lines[0]] + [indent + line if line else "" for line in lines[1:]])
    return f'"""{body}{newline}{indent}"""'


def comment_block(content: str, language: str, indent: str, newline: str) -> str:
    """The doc comment for `content` in `language`, every line indented and ended."""
    lines = content.split("\n")
    if language in ("go", "rust") or language_of(language) is None:
        marker = {"go": "//", "rust": "///"}.get(language) or _line_comment(language)
        return "".join(f"{indent}{marker} {line}".rstrip() + newline for line in lines)
    lines = [line.replace("*/", "*\\/") for line in lines]
    if len(lines) == 1:
        return f"{indent}/** {lines[0]} */{newline}"
    middle = "".join(f"{indent} * {line}".rstrip() + newline for line in lines)
    return f"{indent}/**{newline}{middle}{indent} */{newline}"


def _line_comment(language: str) -> str:
    from lsp_server.engine.prompt import line_comment

    return line_comment(language)


@dataclass
class DocstringPlan:
    text: str
    language: str  # grammar name, or the LSP languageId for the indentation fallback
    symbol: Symbol
    style: str
    template: Template
    replace: bool = False

    @property
    def holes(self) -> list[Hole]:
        return holes(self.template)

    def edit(self, fills: Mapping[str, str], mark: Hole | None = None) -> TextEdit:
        content = fill_template(self.template, fills, mark)
        if self.language == "python":
            return self._python_edit(content)
        return self._comment_edit(content)

    def document_with(self, fills: Mapping[str, str], hole: Hole) -> tuple[str, int]:
        """The document as it would read with the docstring placed, filled up to `hole`,
        and the offset of `hole` in it: the FIM cursor."""
        marked = apply_edits(self.text, [self.edit(fills, mark=hole)])
        offset = marked.index(HOLE_MARK)
        return marked[:offset] + marked[offset + 1 :], offset

    def _python_edit(self, content: str) -> TextEdit:
        text, symbol = self.text, self.symbol
        newline = newline_of(text)
        header_line_end = text.find("\n", symbol.header_end)
        one_line_body = header_line_end == -1 or header_line_end >= symbol.body_start
        if one_line_body:
            body_indent = symbol.indent + indent_unit(text)
        else:
            body_indent = _leading_whitespace(text, symbol.body_start)
        unit = indent_unit(text)
        if unit != "    ":  # the template's section indentation follows the file's
            content = re.sub(r"(?m)^((?:    )+)", lambda match: unit * (len(match.group(1)) // 4), content)
        literal = python_literal(content, body_indent, newline)
        if symbol.doc is not None:
            return TextEdit(symbol.doc[0], symbol.doc[1], literal)
        if one_line_body:
            # `def f(): return 1` -> the body moves to its own line under the docstring.
            return TextEdit(symbol.header_end, symbol.body_start, f"{newline}{body_indent}{literal}{newline}{body_indent}")
        insert_at = header_line_end + 1
        return TextEdit(insert_at, insert_at, f"{body_indent}{literal}{newline}")

    def _comment_edit(self, content: str) -> TextEdit:
        text, symbol = self.text, self.symbol
        newline = newline_of(text)
        if symbol.doc is not None:
            indent = _leading_whitespace(text, symbol.doc[0])
            block = comment_block(content, self.language, indent, newline)
            if not text[symbol.doc[0] : symbol.doc[1]].endswith("\n"):
                block = block[: -len(newline)]  # the old comment was the file's last line
            return TextEdit(symbol.doc[0], symbol.doc[1], block)
        line_start = _line_start(text, symbol.start)
        if text[line_start : symbol.start].strip():
            # Code before the declaration on its line (`impl S { fn g() {} }`): the comment
            # and the declaration go on lines of their own.
            indent = symbol.indent + indent_unit(text)
            block = comment_block(content, self.language, indent, newline)
            gap_start = len(text[: symbol.start].rstrip(" \t"))
            return TextEdit(gap_start, symbol.start, f"{newline}{block}{indent}")
        block = comment_block(content, self.language, symbol.indent, newline)
        return TextEdit(line_start, line_start, block)


def plan_docstring(
    text: str, offset: int, language: str, style: str = "auto", replace: bool = False
) -> DocstringPlan:
    """Where the docstring for the symbol at `offset` goes and what it must name."""
    if style not in STYLE_CHOICES:
        raise DocstringError(f"style '{style}' is not one of {', '.join(STYLE_CHOICES)}.")
    grammar = language_of(language)
    symbol = symbol_at(text, offset, language)
    if symbol is None:
        raise DocstringError("there is no function, method or class at the cursor; place it inside one.")
    if symbol.doc is not None and not replace:
        raise DocstringError(
            f"'{symbol.name}' already has a docstring; ask to replace it (--replace or the 'Replace docstring' action)."
        )
    if grammar == "python":
        chosen = detect_style(text) if style == "auto" else style
    else:
        chosen = "google" if style == "auto" else style
    return DocstringPlan(text, grammar or language, symbol, chosen, docstring_template(symbol, chosen), replace)


# -- generation ---------------------------------------------------------------


class DocstringWriter:
    """Fills a plan's holes; `fill(plan, hole, fills, abort)` returns one line of text."""

    name = "writer"

    def fill(self, plan: DocstringPlan, hole: Hole, fills: Mapping[str, str], abort: threading.Event) -> str:
        raise NotImplementedError


class Aborted(Exception):
    """Generation stopped because it was cancelled or preempted."""


@dataclass
class DocstringResult:
    edit: TextEdit
    new_text: str
    fills: dict[str, str] = field(default_factory=dict)
    symbol: Symbol | None = None


def generate_docstring(
    plan: DocstringPlan,
    writer: DocstringWriter,
    abort: threading.Event | None = None,
    fills: dict[str, str] | None = None,
    on_hole: Callable[[int, int], None] | None = None,
) -> DocstringResult:
    """Fill the plan's holes in order and return the placing edit.

    `fills` carries holes already filled across calls: a generation preempted by a
    completion raises Aborted, and the next call with the same dict resumes at the first
    hole still missing.
    """
    abort = abort or threading.Event()
    fills = {} if fills is None else fills
    todo = plan.holes
    for number, hole in enumerate(todo):
        if hole.key in fills:
            continue
        if on_hole is not None:
            on_hole(number, len(todo))
        value = writer.fill(plan, hole, fills, abort)
        if abort.is_set():
            raise Aborted()
        fills[hole.key] = clean_fill(value)
    if not fills.get("summary"):
        raise DocstringError(f"the model wrote no summary for '{plan.symbol.name}'; try again or use another model.")
    edit = plan.edit(fills)
    return DocstringResult(edit, apply_edits(plan.text, [edit]), dict(fills), plan.symbol)


def fills_for(template: Template, values: Sequence[str]) -> dict[str, str]:
    return {hole.key: value for hole, value in zip(holes(template), values)}


def docstring_for_file(
    path, text: str, offset: int, language: str, writer: DocstringWriter, *, style: str = "auto",
    replace: bool = False, abort: threading.Event | None = None, fills: dict[str, str] | None = None,
    on_hole: Callable[[int, int], None] | None = None,
):
    """The FileEdit that adds (or replaces) the docstring of the symbol at `offset`."""
    from lsp_server.features.edits import FileEdit

    plan = plan_docstring(text, offset, language, style=style, replace=replace)
    result = generate_docstring(plan, writer, abort, fills, on_hole)
    return FileEdit(path, (result.edit,), text), result
