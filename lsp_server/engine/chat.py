"""Instruct models: their GGUF chat template, rendered; grammars that constrain the answer.

    render_chat(template, messages, bos_token="", eos_token="", add_generation_prompt=True) -> str
    chat_prompt(backend, messages, answer_prefix="") -> list[int]
    grammar_literal(text) -> str           # a GBNF string literal
    one_line_grammar(max_chars=...) -> str # one line of plain text, then a newline
    generate_constrained(backend, messages, grammar, max_tokens, answer_prefix="", abort=None) -> Generation
    prefixed_grammar(grammar, prefix) -> str  # answers that start with `prefix`, then follow `grammar`

The template is the Jinja text stored in the GGUF (`tokenizer.chat_template`), rendered
in a sandbox the way llama.cpp's and Hugging Face's chat code do. `answer_prefix` is text
the assistant's turn starts with (a pre-filled answer the model continues). No
llama_cpp import here: `chat_prompt`'s backend is anything with `chat_template`,
`special_text(kind)` and `tokenize(text, special=...)` (LocalBackend; HttpBackend on
llama-server, whose /props gives the template); `generate_constrained`'s has `chat`.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

Message = Mapping[str, str]


class ChatTemplateError(ValueError):
    """The model has no chat template, or its template cannot be rendered."""


@functools.lru_cache(maxsize=8)
def _compiled(template: str):
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise ChatTemplateError(f"the model's chat template refused the messages: {message}")

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    environment.globals["raise_exception"] = raise_exception
    try:
        return environment.from_string(template)
    except TemplateError as error:
        raise ChatTemplateError(f"the model's chat template does not parse ({error}); use another GGUF.") from None


def render_chat(
    template: str,
    messages: Sequence[Message],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """The prompt text for `messages`, as the model was trained to see a conversation."""
    from jinja2 import TemplateError

    try:
        return _compiled(template).render(
            messages=[dict(message) for message in messages],
            bos_token=bos_token,
            eos_token=eos_token,
            add_generation_prompt=add_generation_prompt,
        )
    except TemplateError as error:
        raise ChatTemplateError(f"the model's chat template failed to render ({error}); use another GGUF.") from None


def chat_prompt(backend: Any, messages: Sequence[Message], answer_prefix: str = "") -> list[int]:
    """Tokens of the rendered conversation (special markers as tokens) plus the answer's start."""
    template = backend.chat_template
    if not template:
        raise ChatTemplateError("this model has no chat template (a base model); it cannot be prompted as a chat.")
    text = render_chat(
        template, messages, bos_token=backend.special_text("bos"), eos_token=backend.special_text("eos")
    )
    # The template writes the BOS spelling itself where the model wants one.
    return backend.tokenize(text, special=True) + backend.tokenize(answer_prefix)


def grammar_literal(text: str) -> str:
    """`text` as a GBNF double-quoted literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def one_line_grammar(min_chars: int = 1, max_chars: int = 160, forbidden: str = '"`\\\\') -> str:
    """One line of text (no double quotes, backticks or backslashes by default) ended by a
    newline: the content of one docstring hole."""
    char = f"[^\\n\\r{forbidden}]"
    return (
        f"root ::= [ ]? first {char}{{0,{max_chars - 1}}} \"\\n\"\n"
        f"first ::= [^\\n\\r {forbidden}]\n"
    ) if min_chars > 0 else f"root ::= {char}{{0,{max_chars}}} \"\\n\"\n"


_QUOTED_OR_CLASS = re.compile(r'"(?:[^"\\]|\\.)*"|\[(?:[^\]\\]|\\.)*\]')
_ROOT_NAME = re.compile(r"(?<![\w-])root(?![\w-])")
ANSWER_RULE = "answer-after-prefix"


def prefixed_grammar(grammar: str | None, prefix: str) -> str:
    """A grammar for answers that spell `prefix` first, then follow `grammar` (any text if None).

    A chat API has no way to pre-fill the assistant's answer; a server that takes a
    grammar can be made to write the prefix itself, so the answer continues after it."""
    if grammar is None:
        grammar = "root ::= [^\\x00]*\n"
    # `root` becomes an ordinary rule (outside literals and character classes only).
    renamed = "".join(
        _ROOT_NAME.sub(ANSWER_RULE, part) if index % 2 == 0 else part
        for index, part in enumerate(_split_literals(grammar))
    )
    head = f"root ::= {grammar_literal(prefix)} {ANSWER_RULE}\n" if prefix else f"root ::= {ANSWER_RULE}\n"
    return head + renamed


def _split_literals(grammar: str) -> list[str]:
    """Alternating [text, literal, text, literal, ...] pieces of a grammar."""
    pieces, position = [], 0
    for match in _QUOTED_OR_CLASS.finditer(grammar):
        pieces += [grammar[position : match.start()], match.group()]
        position = match.end()
    return pieces + [grammar[position:]]


def generate_constrained(
    backend: Any,
    messages: Sequence[Message],
    grammar: str,
    *,
    max_tokens: int,
    answer_prefix: str = "",
    abort: threading.Event | None = None,
):
    """Greedy generation of the assistant's answer, every token allowed by `grammar`
    (through `backend.chat`: the local template, or a remote server's chat)."""
    return backend.chat(messages, max_tokens=max_tokens, grammar=grammar, answer_prefix=answer_prefix,
                        temperature=0.0, abort=abort)
