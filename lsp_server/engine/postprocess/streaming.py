"""Stop generation as soon as post-processing would cut the rest anyway.

    stop = StreamingStop(context)
    backend.generate(prompt.tokens, ..., on_text=stop.feed)   # feed(piece) -> True: stop now

The checks are the cheap, final parts of the pipeline: a leaked special token, the end of
the line in single-line mode, and in multi-line mode a line that leaves the block (by
indentation), repeats the line that follows the cursor, or starts a loop. Each fires
only on text that no later token can change, so running the pipeline on the text at the
stop gives the same suggestion as running it on the longer text the model would have
produced.
"""

from __future__ import annotations

from lsp_server.engine.postprocess.base import Context, Mode
from lsp_server.engine.postprocess.block_indentation import find_block_end
from lsp_server.engine.postprocess.repetition import loop_start
from lsp_server.engine.postprocess.base import Suggestion
from lsp_server.engine.postprocess.held_back import drop_held_back
from lsp_server.engine.postprocess.strip_special_tokens import strip_special_tokens


class StreamingStop:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.text = ""
        self.reason: str | None = None
        self._checked_lines = 0
        self._next_line = next((line.rstrip() for line in context.next_lines if line.strip()), None)

    def feed(self, piece: str) -> bool:
        """Add generated text; True when the suggestion is complete."""
        if self.reason is not None:
            return True
        self.text += piece
        self.reason = self._why_complete()
        return self.reason is not None

    def _why_complete(self) -> str | None:
        if strip_special_tokens(Suggestion(self.text), self.context).text != self.text:
            return "special token"
        if "\n" not in self.text:
            return None
        if self.context.mode is Mode.SINGLE_LINE:
            return "end of line"
        text = drop_held_back(Suggestion(self.text), self.context).text
        if find_block_end(self.context.line_prefix, text, self.context.language, final=False) is not None:
            return "end of block"
        lines = (self.context.line_prefix + text).split("\n")
        complete = lines[:-1]
        if len(complete) > self._checked_lines:
            self._checked_lines = len(complete)
            if self._next_line is not None and any(line.rstrip() == self._next_line for line in complete[1:]):
                return "reached the next line"
            if loop_start([line for line in complete[1:]]) is not None:
                return "repetition"
        return None
