"""Stop generation as soon as post-processing would cut the rest anyway.

    stop = StreamingStop(context)
    backend.generate(prompt.tokens, ..., on_text=stop.feed)   # feed(piece) -> True: stop now

The checks are the cheap, final parts of the pipeline: a leaked special token, the end of
the line in single-line mode, and in multi-line mode a line that leaves the block (by
indentation), repeats the line that follows the cursor, or starts a loop. Each fires
only on text that no later token can change, so running the pipeline on the text at the
stop gives the same suggestion as running it on the longer text the model would have
produced.

`time_limit` is the one check that does cut. The answer is due `time_limit` seconds after
`started` (when the request began; without it, after the first generated text). Past that,
generation stops once a first line is complete, as llama.vim's t_max_predict_ms does: the
lines after it that a small model writes slowly cost the user more waiting than they give
(the engine keeps the complete lines, `complete_lines`). So a request that spent its time
evaluating a prompt (the cursor moved) answers with its first line, and a keystroke at a warm
place gets more lines in the same time. A first line still running on (a small model looping
on escapes or digits) is cut at the later of half a limit past the due time and a whole
limit after its first text; the user gets its start and can type on.
"""

from __future__ import annotations

import time

from lsp_server.engine.postprocess.base import Context, Mode
from lsp_server.engine.postprocess.block_indentation import find_block_end
from lsp_server.engine.postprocess.repetition import loop_start
from lsp_server.engine.postprocess.base import Suggestion
from lsp_server.engine.postprocess.held_back import drop_held_back
from lsp_server.engine.postprocess.strip_special_tokens import strip_special_tokens


TIME_LIMIT = "time limit"


def complete_lines(text: str) -> str:
    """The text up to its last line break ("" without one): what a generation stopped for time keeps."""
    return text[: text.rfind("\n") + 1]


class StreamingStop:
    def __init__(self, context: Context, time_limit: float | None = None, clock=time.perf_counter,
                 started: float | None = None) -> None:
        self.context = context
        self.time_limit = time_limit
        self._clock = clock
        self._request_started = started
        self._started: float | None = None  # the first generated text
        self.text = ""
        self.reason: str | None = None
        self._checked_lines = 0
        self._next_line = next((line.rstrip() for line in context.next_lines if line.strip()), None)

    def feed(self, piece: str) -> bool:
        """Add generated text; True when the suggestion is complete."""
        if self.reason is not None:
            return True
        self.text += piece
        if self._started is None:
            self._started = self._clock()
        self.reason = self._why_complete() or self._out_of_time()
        return self.reason is not None

    @property
    def cut_mid_line(self) -> bool:
        """Stopped by the clock with no line complete: the one line shown is unfinished, so it is
        not cached (typing through it would serve a truncated line instead of asking again)."""
        return self.reason == TIME_LIMIT and not complete_lines(self.text)

    def _out_of_time(self) -> str | None:
        if self.time_limit is None or self._started is None or not self.text.strip():
            return None
        now = self._clock()
        if self._request_started is None:
            due, line_cap = self._started + self.time_limit, self._started + 2 * self.time_limit
        else:
            due = self._request_started + self.time_limit
            line_cap = max(due + self.time_limit / 2, self._started + self.time_limit)
        if now > due and complete_lines(self.text).strip():
            return TIME_LIMIT
        return TIME_LIMIT if now > line_cap else None


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
