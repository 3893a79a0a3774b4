"""Properties over generated inputs: prompts only grow at the end while typing, and the
post-processing pipeline never fails and leaves no special tokens."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsp_server.engine.families import detect_family
from lsp_server.engine.postprocess import Context, StreamingStop, postprocess
from lsp_server.engine.prompt import PromptBuilder

SPECIALS = ("<|endoftext|>", "<|file_sep|>", "<|fim_middle|>")
code_text = st.text(alphabet=st.sampled_from(list("abcxyz_019 ()[]{}:;,.=+\"'\n\t#/<|>")), max_size=80)
typed_text = st.text(alphabet=st.sampled_from(list("abcdefxyz_0123 ().,=+:\"'")), min_size=1, max_size=30)
languages = st.sampled_from(["python", "javascript", "go", "rust", "typescript", "ruby", ""])
# Code-shaped lines: indentation steps, openers, closers, statements.
code_lines = st.lists(
    st.tuples(
        st.sampled_from(["", "  ", "    ", "\t", "        "]),
        st.sampled_from(["x = 1", "if a:", "}", "foo(", "end", "return x", "def f():", "y = f(a) {", "", "log()", ")"]),
    ),
    max_size=8,
).map(lambda lines: "\n".join(indent + text for indent, text in lines))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=code_text, after=code_text, typed=typed_text)
def test_typing_without_newlines_only_rewrites_the_last_tokens(load_vocab, before: str, after: str, typed: str) -> None:
    vocab = load_vocab("deepseek-coder")
    builder = PromptBuilder(detect_family(vocab.token_id, vocab.metadata), vocab.tokenize)
    previous = builder.build(before, after)
    for count in range(1, len(typed) + 1):
        current = builder.build(before + typed[:count], after)
        shared = 0
        for left, right in zip(previous.tokens, current.tokens):
            if left != right:
                break
            shared += 1
        assert shared >= min(previous.stable_length, current.stable_length)
        previous = current


@settings(max_examples=200, deadline=None)
@given(prefix=code_text, suffix=code_text, raw=code_text, language=languages, special=st.sampled_from(SPECIALS))
def test_pipeline_never_fails_and_strips_specials(prefix: str, suffix: str, raw: str, language: str, special: str) -> None:
    context = Context.create(prefix, suffix, language, SPECIALS)
    text = postprocess(raw + special + raw, context)
    assert not any(token in text for token in SPECIALS)
    assert text == "" or text.strip()
    stop = StreamingStop(context)
    for start in range(0, len(raw), 2):
        if stop.feed(raw[start : start + 2]):
            break
    assert raw.startswith(stop.text)


@settings(max_examples=300, deadline=None)
@given(prefix=code_lines, suffix=code_lines, raw=code_lines, language=languages, piece=st.integers(1, 5))
def test_streaming_stop_never_changes_the_final_suggestion(
    prefix: str, suffix: str, raw: str, language: str, piece: int
) -> None:
    context = Context.create(prefix, suffix, language, SPECIALS)
    stop = StreamingStop(context)
    for start in range(0, len(raw), piece):
        if stop.feed(raw[start : start + piece]):
            break
    assert postprocess(stop.text, context) == postprocess(raw, context)
