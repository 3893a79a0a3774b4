"""The model behind a docstring: a base model fills each hole by FIM, an instruct model
through its chat template with a one-line grammar.

    writer_for(backend, family=None, layout=None, settings=Settings()) -> DocstringWriter
    FimDocstringWriter(backend, family, layout, settings)
    ChatDocstringWriter(backend)

Both fill one hole per call (docstring.generate_docstring walks the holes), so a long
docstring is many short generations that share their prompt prefix in the KV cache, and
a keystroke's completion can run between two of them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from lsp_server.backend.base import StopReason
from lsp_server.engine.chat import generate_constrained, one_line_grammar
from lsp_server.engine.families import Family, Layout, detect_family
from lsp_server.engine.prompt import PromptBuilder
from lsp_server.features.completion import budget_for
from lsp_server.features.docstring import HOLE_MARK, DocstringPlan, DocstringWriter, Hole, clean_fill, fill_template
from lsp_server.settings import Settings

HOLE_MAX_TOKENS = 48

_STYLE_NAMES = {"google": "Google-style", "numpy": "NumPy-style", "rest": "reStructuredText (Sphinx)"}
_COMMENT_NAMES = {
    "javascript": "JSDoc comment", "typescript": "TSDoc/JSDoc comment", "tsx": "TSDoc/JSDoc comment",
    "go": "Go doc comment", "rust": "Rust doc comment (///)", "java": "Javadoc comment",
}


class LineStop:
    """`on_text` callback: stop as soon as a line of text is complete."""

    def __init__(self) -> None:
        self.text = ""

    def feed(self, piece: str) -> bool:
        self.text += piece
        return "\n" in self.text.lstrip(" \t\r\n")  # a model may start its text on the next line


class FimDocstringWriter(DocstringWriter):
    """A base model writes each hole where it stands in the document (fill-in-the-middle)."""

    name = "fim"

    def __init__(self, backend, family: Family | None = None, layout: Layout | None = None,
                 settings: Settings = Settings(), max_tokens: int = HOLE_MAX_TOKENS) -> None:
        self.backend = backend
        self.family = family or detect_family(backend.token_id, backend.metadata)
        self.builder = PromptBuilder(self.family, backend.tokenize, budget_for(settings, backend.context_size), layout=layout)
        self.max_tokens = max_tokens

    def fill(self, plan: DocstringPlan, hole: Hole, fills: Mapping[str, str], abort: threading.Event) -> str:
        document, offset = plan.document_with(fills, hole)
        prompt = self.builder.build(document[:offset], document[offset:], language=plan.language)
        for temperature in (0.0, 0.8):  # greedy first; a small model that ends the line at once gets one sampled try
            stop = LineStop()
            generation = self.backend.generate(
                prompt.tokens, max_tokens=self.max_tokens, stop_ids=prompt.stop_ids, abort=abort,
                on_text=stop.feed, temperature=temperature,
            )
            text = whole_sentences(generation.text.lstrip(" \t\r\n"), generation.stop_reason)
            if clean_fill(text) or hole.key != "summary" or abort.is_set():
                return text
        return text


def docstring_messages(plan: DocstringPlan) -> list[dict[str, str]]:
    symbol = plan.symbol
    if plan.language == "python":
        what = f"the {_STYLE_NAMES.get(plan.style, plan.style)} docstring"
        form = "the docstring's text only, without the quotes"
    else:
        what = f"the {_COMMENT_NAMES.get(plan.language, 'doc comment')}"
        form = "the comment's text only, without comment markers"
    code = plan.text[symbol.start : symbol.end]
    if len(code) > 6000:
        code = code[:6000] + "\n..."
    return [
        {"role": "system", "content": "You are an expert programmer who writes precise, concise documentation. "
         "The summary is one imperative sentence ('Return ...', 'Create ...'); every other entry is one short sentence."},
        {
            "role": "user",
            "content": f"Write {what} for the {symbol.kind} `{symbol.name}` below. "
            f"Reply with {form}. Describe what it does, not how.\n\n```{plan.language}\n{code}\n```",
        },
    ]


class ChatDocstringWriter(DocstringWriter):
    """An instruct model continues its answer, pre-filled with the docstring so far; a
    grammar allows exactly one line of plain text for the hole."""

    name = "chat"

    def __init__(self, backend, max_tokens: int = HOLE_MAX_TOKENS, max_chars: int = 160) -> None:
        self.backend = backend
        self.max_tokens = max_tokens
        self.max_chars = max_chars
        self.grammar = one_line_grammar(max_chars=max_chars)

    def fill(self, plan: DocstringPlan, hole: Hole, fills: Mapping[str, str], abort: threading.Event) -> str:
        content = fill_template(plan.template, fills, mark=hole)
        answer_prefix = content[: content.index(HOLE_MARK)]
        generation = generate_constrained(
            self.backend, docstring_messages(plan), self.grammar,
            max_tokens=self.max_tokens, answer_prefix=answer_prefix, abort=abort,
        )
        line = generation.text.rstrip("\n")
        if len(line) >= self.max_chars - 1:  # the grammar's length limit ended the line mid-sentence
            return whole_sentences(line, StopReason.MAX_TOKENS)
        return whole_sentences(generation.text, generation.stop_reason)


def whole_sentences(text: str, stop_reason) -> str:
    """A line cut off by the token limit, trimmed back to its last full sentence."""
    if stop_reason is not StopReason.MAX_TOKENS or "\n" in text:
        return text
    end = max(text.rfind(". "), text.rfind(".", len(text) - 1))
    if end > 0:
        return text[: end + 1]
    words = text.rsplit(" ", 1)[0].rstrip(",;:")
    return words + "."


def writer_for(backend, family: Family | None = None, layout: Layout | None = None,
               settings: Settings = Settings()) -> DocstringWriter:
    """The chat writer for a model with a chat template, else FIM (or plain prefix) writing."""
    if backend.can_chat:
        return ChatDocstringWriter(backend)
    return FimDocstringWriter(backend, family, layout, settings)
