"""Keystroke-to-suggestion latency while typing a real source file.

Replays typing a few hundred characters in several places of a real Python file (the
standard library's textwrap.py by default), one keystroke at a time, and requests a
completion at word boundaries, as an editor does once its debounce fires (after a
space, punctuation or a newline; a newline brings the next line's indentation with it,
like an auto-indenting editor). Every request goes to three engines in the same run, one engine after the other:

  seekcode      lsp_server.features.completion with KV-prefix reuse, the append-only
                prompt layout, type-through cache, streaming early stop
  naive         the same model, budgets and post-processing, but the textbook PSM FIM
                prompt evaluated in full on every request and no cache
  llama-server  llama.cpp's server /infill with cache_prompt and llama.vim's request
                (n_prefix 256 lines, n_suffix 64 lines, n_predict 128, top_k 40,
                top_p 0.90, samplers top_k/top_p/infill, t_max_prompt_ms 500,
                t_max_predict_ms 250 for a typed request, n_indent), server flags of
                llama.vim's --fim-qwen-*-default presets (-b/-ub 1024, --cache-reuse 256)
  llama-vim     (optional, --engines ...,llama-vim) llama-server plus llama.vim's
                client-side cache with type-through; run it in its own invocation, since
                two arms on one llama-server slot would share its prompt cache

    python bench/latency/run.py --model ~/.cache/seekcode-dev/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf \\
        --threads 2 [--llama-server bench/work/build-server/bin/llama-server] [--places 4 --chars 90]

Reports p50/p95 latency, type-through (cache) hit rate, prompt tokens evaluated per
request and how often the suggestion's first line equals what was typed next; writes
JSON with every request to bench/results/latency-<time>.json.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tokenize
import urllib.error
import urllib.request
from concurrent import futures
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from lsp_server.backend.local import OPENMP_WAIT_POLICY, BackendOptions, LocalBackend  # noqa: E402
from lsp_server.engine.cache import CompletionCache  # noqa: E402
from lsp_server.engine.families import Layout  # noqa: E402
from lsp_server.default_model import bundled_model_path  # noqa: E402
from lsp_server.features.completion import CompletionEngine, CompletionRequest  # noqa: E402
from lsp_server.engine.scheduler import Scheduler  # noqa: E402
from lsp_server.features.runtime import IDLE_JOB_KEY, engine_layout, idle_place  # noqa: E402
from lsp_server.settings import FIM_LAYOUTS, ModelChoice, Settings  # noqa: E402

DEFAULT_SERVER = REPO_ROOT / "bench" / "work" / "build-server" / "bin" / "llama-server"
RESULTS_DIR = REPO_ROOT / "bench" / "results"

# llama.vim (ggml-org/llama.vim autoload/llama.vim) defaults and its FIM request body
LLAMA_VIM_N_PREFIX_LINES = 256
LLAMA_VIM_N_SUFFIX_LINES = 64
LLAMA_VIM_REQUEST = {
    "n_predict": 128,
    "top_k": 40,
    "top_p": 0.90,
    "samplers": ["top_k", "top_p", "infill"],
    "stream": False,
    "cache_prompt": True,
    "t_max_prompt_ms": 500,
    "t_max_predict_ms": 250,  # llama.vim's value for a request without a previous suggestion
    "id_slot": 0,
    "stop": [],
    "input_extra": [],
    "response_fields": ["content", "timings/prompt_n", "timings/predicted_n", "tokens_cached"],
}


# -- the typing script ------------------------------------------------------------


@dataclass(frozen=True)
class TypingRequest:
    place: int
    doc_text: str
    cursor: int
    expected_line: str  # what the user goes on to type on this line ("" at a line end)
    path: str = "textwrap.py"  # the file typed in


def choose_places(source: str, places: int, chars: int) -> list[tuple[int, int]]:
    """`places` spans of whole indented code lines (about `chars` characters each), spread out.

    Code only: lines inside strings spanning several lines (docstrings) and comment lines
    are skipped, so the typing is code, not prose.
    """
    lines = source.split("\n")
    prose = _multiline_string_lines(source)
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def typeable(index: int) -> bool:
        stripped = lines[index].strip()
        return (
            lines[index].startswith("    ") and bool(stripped) and not stripped.startswith("#")
            and index + 1 not in prose
        )

    spans: list[tuple[int, int]] = []
    for place in range(places):
        index = int(len(lines) * (place + 1) / (places + 1))
        while index < len(lines) and not typeable(index):
            index += 1
        first = index
        total = 0
        while index < len(lines) and typeable(index) and total < chars:
            total += len(lines[index]) + 1
            index += 1
        if index == first:
            continue
        start = starts[first] + (len(lines[first]) - len(lines[first].lstrip()))
        end = starts[index - 1] + len(lines[index - 1])
        spans.append((start, end))
    return spans


def _multiline_string_lines(source: str) -> set[int]:
    """1-based numbers of the lines that a string spanning several lines touches."""
    touched: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and token.start[0] != token.end[0]:
            touched.update(range(token.start[0], token.end[0] + 1))
    return touched


def word_boundary(typed_char: str, following: str) -> bool:
    """An editor's debounce fires here: after a character that ends a word (not a letter, digit
    or underscore) when the user does not go on with a space or tab ("" : nothing follows)."""
    return not (typed_char.isalnum() or typed_char == "_") and following[:1] not in ("", " ", "\t")


def keystrokes(typed: str) -> list[str]:
    """What each keystroke inserts: one character, or a newline with the next line's indentation
    (auto-indent: the editor puts the cursor at the next line's indentation)."""
    strokes, index = [], 0
    while index < len(typed):
        end = index + 1
        if typed[index] == "\n":
            while end < len(typed) and typed[end] in " \t":
                end += 1
        strokes.append(typed[index:end])
        index = end
    return strokes


def typing_requests(source: str, spans: list[tuple[int, int]]) -> Iterator[TypingRequest]:
    """Requests while typing each span: at its start and after every word boundary."""
    for place, (start, end) in enumerate(spans):
        typed = source[start:end]
        after = source[end:]

        def request_at(done: int) -> TypingRequest:
            cursor = start + done
            line_end = source.find("\n", cursor)
            return TypingRequest(place, source[:cursor] + after, cursor, source[cursor:line_end])

        yield request_at(0)
        done = 0
        for stroke in keystrokes(typed):
            done += len(stroke)
            if word_boundary(stroke[0], typed[done : done + 1]):
                yield request_at(done)
        yield request_at(len(typed))


# -- engines ----------------------------------------------------------------------------


@dataclass
class Answer:
    text: str
    latency_ms: float
    from_cache: bool
    evaluated_tokens: int
    quick: bool = False  # seekcode answered from its short first window


class SeekcodeArm:
    """seekcode as its server runs it: completions and idle work (prefill, widening,
    speculation) on one worker thread (the server's Scheduler), type-through answered
    without the worker, so a cache hit never stops the idle work that is running."""

    name = "seekcode"

    def __init__(self, model: Path, settings: Settings, reuse: bool = True) -> None:
        options = BackendOptions(context_size=settings.context_size, threads=settings.threads, batch_size=settings.batch_size,
                                 reuse_prefix=reuse, warm_places=settings.warm_places if reuse else 0,
                                 shift_reuse=settings.shift_reuse and reuse)
        self.backend = LocalBackend(model, options)
        bundled = bundled_model_path()
        choice = ModelChoice(model, "bundled" if bundled and model.resolve() == bundled.resolve() else "setting")
        self._serve(CompletionEngine(self.backend, layout=engine_layout(settings, choice)) if reuse else CompletionEngine(
            self.backend, layout=Layout.PSM, use_cache=False
        ), settings)

    def _serve(self, engine: CompletionEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.scheduler = Scheduler(name=f"bench-{self.name}-worker")
        self._idle: Future | None = None  # the idle work submitted last

    def complete(self, request: TypingRequest) -> Answer:
        started = time.perf_counter()
        completion = self._completion(request)
        result = self.engine.from_cache(completion)
        if result is None:  # a newer job aborts the running idle work, as in the server
            result = self.scheduler.submit(completion.uri, lambda abort: self.engine.complete(completion, abort)).result()
        latency = (time.perf_counter() - started) * 1000
        if result.source == "model":
            job = self.engine.follow_up(completion, result) or self._edit_prefill(completion)
            if job is not None:
                self._submit_idle(completion, job)
        text = result.suggestions[0].text if result.suggestions else ""
        evaluated = result.stats.evaluated_tokens if result.stats else 0
        return Answer(text, latency, result.source == "cache", evaluated, result.quick)

    def _completion(self, request: TypingRequest) -> CompletionRequest:
        return CompletionRequest(request.doc_text, request.cursor, "python", settings=self.settings,
                                 uri=f"file:///{request.path}")

    def _edit_prefill(self, completion: CompletionRequest):
        """The server's idle work while the user types on at this cursor: each edit prefills the
        prompt there (widening a short window), unless the cache answers there."""
        if not self.settings.prefill:
            return None
        return lambda abort: self.engine.prefill(completion, abort)

    def _submit_idle(self, completion: CompletionRequest, job) -> None:
        self._idle = self.scheduler.submit(IDLE_JOB_KEY, job, idle=True, place=idle_place(completion))

    def arrive(self, request: TypingRequest, seconds: float) -> None:
        """The cursor came to rest at a new place `seconds` before the first request there: the
        editor client tells the server (seekcode/cursor), which prefills the prompt there as idle
        work, replacing whatever idle work was left from the last place."""
        completion = self._completion(request)
        if self.settings.prefill and self.engine.from_cache(completion) is None:
            self._submit_idle(completion, lambda abort: self.engine.prefill(completion, abort))
        self.pause(seconds)

    def pause(self, seconds: float) -> None:
        """The user's time before the next request; the idle work runs on the worker meanwhile
        and goes on after it until a request that needs the model aborts it. Returns early when
        the worker has nothing left to do."""
        if self._idle is not None and seconds > 0:
            futures.wait([self._idle], timeout=seconds)

    def close(self) -> None:
        self.scheduler.close()
        self.backend.close()


class NaiveArm(SeekcodeArm):
    name = "naive"

    def __init__(self, model: Path, settings: Settings) -> None:
        super().__init__(model, settings, reuse=False)


class LlamaServer:
    """A llama-server process on loopback with llama.vim's --fim-qwen-*-default flags."""

    # rpc: "host:port" of ggml-rpc-server workers; the model's layers are spread over them
    rpc: tuple[str, ...] = ()

    def __init__(self, binary: Path, model: Path, threads: int, context_size: int, parallel: int = 1) -> None:
        self.port = _free_port()
        env = dict(os.environ)
        env.setdefault(*OPENMP_WAIT_POLICY)  # the same OpenMP waiting as the in-process engines
        # -c is shared by the slots: each of `parallel` slots gets context_size tokens
        # its log goes to a file: an unread pipe fills up and stalls the server mid-run
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(self.port),
             "-t", str(threads), "-tb", str(threads), "-c", str(context_size * parallel), "-np", str(parallel),
             "-b", "1024", "-ub", "1024", "--cache-reuse", "256", "--no-webui",
             *(["--rpc", ",".join(self.rpc), "-ngl", "99"] if self.rpc else [])],
            stdout=subprocess.DEVNULL, stderr=self.log, env=env,
        )
        self._wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"llama-server exited: {self.log.read().decode(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        raise RuntimeError("llama-server did not become ready")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class RpcWorkers:
    """`ggml-rpc-server` processes on loopback (the binary beside llama-server); while they run,
    every LlamaServer of this run spreads its model over them (`--rpc ... -ngl 99`)."""

    def __init__(self, llama_server: Path, count: int, threads: int) -> None:
        binary = llama_server.with_name("ggml-rpc-server")
        if not binary.is_file():
            raise SystemExit(f"{binary} is missing; build the ggml-rpc-server target with -DGGML_RPC=ON.")
        self.processes = []
        endpoints = []
        for _ in range(count):
            port = _free_port()
            self.processes.append(subprocess.Popen(
                [str(binary), "-H", "127.0.0.1", "-p", str(port), "-t", str(threads)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
            endpoints.append(f"127.0.0.1:{port}")
        time.sleep(1.0)  # they listen within milliseconds; llama-server fails if one is not there yet
        LlamaServer.rpc = tuple(endpoints)

    def close(self) -> None:
        LlamaServer.rpc = ()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(10)


class LlamaServerArm:
    """Each request goes to /infill (the server's cache_prompt is its only cache)."""

    name = "llama-server"
    client_cache = False

    def __init__(self, binary: Path, model: Path, threads: int, context_size: int,
                 server: LlamaServer | None = None, slot: int = 0) -> None:
        self.owns_server = server is None
        self.server = server or LlamaServer(binary, model, threads, context_size)
        self.port = self.server.port
        self.slot = slot  # llama.vim pins slot 0 (one user per server); -1 lets the server choose
        self.cache = CompletionCache()

    def complete(self, request: TypingRequest) -> Answer:
        started = time.perf_counter()
        prefix, suffix = request.doc_text[: request.cursor], request.doc_text[request.cursor :]
        cached = self.cache.get(prefix, suffix) if self.client_cache else None
        if cached is not None:
            return Answer(cached, (time.perf_counter() - started) * 1000, True, 0)
        body = {**LLAMA_VIM_REQUEST, **llama_vim_context(request.doc_text, request.cursor), "id_slot": self.slot}
        data = json.dumps(body).encode()
        http = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/infill", data=data, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(http, timeout=600) as response:
            reply = json.loads(response.read())
        latency = (time.perf_counter() - started) * 1000
        content = reply.get("content", "")
        line_prefix = prefix[prefix.rfind("\n") + 1 :]
        if not line_prefix.strip() and content.startswith(line_prefix):
            # llama.vim sends a whitespace-only line from its start (indentation included in
            # the answer); the text to show after the cursor is the rest
            content = content[len(line_prefix) :]
        self.cache.put(prefix, suffix, content)
        # response_fields flattens nested fields: {"timings/prompt_n": ...}
        return Answer(content, latency, False, int(reply.get("timings/prompt_n", 0)))

    def close(self) -> None:
        if self.owns_server:
            self.server.close()


class HttpArm(SeekcodeArm):
    """seekcode's engine (prompt layout, cache, early stop) with the forward passes in a
    llama-server of its own, over HTTP (`/completion` with our prompt tokens, cache_prompt)."""

    name = "http"

    def __init__(self, binary: Path, model: Path, settings: Settings, server: LlamaServer | None = None) -> None:
        from lsp_server.backend.http import HttpBackend, HttpOptions

        self.owns_server = server is None
        self.server = server or LlamaServer(binary, model, settings.threads or 2, settings.context_size)
        # a whole first prompt on a busy shared CPU can take longer than the default 30 s
        self.backend = HttpBackend(HttpOptions(url=self.server.url, context_size=settings.context_size, read_timeout=600))
        bundled = bundled_model_path()
        choice = ModelChoice(model, "bundled" if bundled and model.resolve() == bundled.resolve() else "setting")
        self._serve(CompletionEngine(self.backend, layout=engine_layout(settings, choice)), settings)

    def close(self) -> None:
        self.scheduler.close()
        self.backend.close()
        if self.owns_server:
            self.server.close()


class LlamaVimArm(LlamaServerArm):
    """llama-server plus llama.vim's client-side cache: exact hits and type-through
    (llama.vim looks up to 128 characters back for a cached suggestion whose start was typed)."""

    name = "llama-vim"
    client_cache = True


def llama_vim_context(text: str, cursor: int) -> dict[str, Any]:
    """llama.vim's s:fim_ctx_local: prefix lines, the line's typed part (middle), suffix lines."""
    lines = text.split("\n")
    line_index = text.count("\n", 0, cursor)
    line = lines[line_index]
    column = cursor - (text.rfind("\n", 0, cursor) + 1)
    line_prefix, line_suffix = line[:column], line[column:]
    if not line.strip():
        indent, line_prefix, line_suffix = 0, "", ""
    else:
        indent = len(line) - len(line.lstrip())
    before = lines[max(0, line_index - LLAMA_VIM_N_PREFIX_LINES) : line_index]
    after = lines[line_index + 1 : line_index + 1 + LLAMA_VIM_N_SUFFIX_LINES]
    return {
        "input_prefix": "\n".join(before) + "\n",
        "prompt": line_prefix,
        "input_suffix": line_suffix + "\n" + "\n".join(after) + "\n",
        "n_indent": indent,
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- measurement ------------------------------------------------------------------------


def first_line(text: str) -> str:
    return text.split("\n", 1)[0].rstrip()


@dataclass
class Record:
    index: int
    place: int
    cursor: int
    expected_line: str
    text: str
    latency_ms: float
    from_cache: bool
    evaluated_tokens: int
    first_line_match: bool | None  # None where nothing is left to type on the line
    first_at_place: bool
    quick: bool = False


@dataclass
class ArmSummary:
    name: str
    requests: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    p50_model_ms: float  # requests the model answered (no cache hit)
    p95_warm_ms: float  # without the first request at each place (a new place re-evaluates a whole prompt)
    max_ms: float
    cache_hit_rate: float
    evaluated_tokens_per_request: float
    evaluated_tokens_per_model_request: float
    first_line_match_rate: float
    first_line_cases: int
    records: list[Record] = field(default_factory=list)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(name: str, records: list[Record]) -> ArmSummary:
    latencies = [record.latency_ms for record in records]
    model_records = [record for record in records if not record.from_cache]
    judged = [record for record in records if record.first_line_match is not None]
    return ArmSummary(
        name=name,
        requests=len(records),
        p50_ms=percentile(latencies, 0.50),
        p95_ms=percentile(latencies, 0.95),
        mean_ms=statistics.fmean(latencies),
        p50_model_ms=percentile([record.latency_ms for record in model_records], 0.50) if model_records else 0.0,
        p95_warm_ms=percentile([record.latency_ms for record in records if not record.first_at_place], 0.95),
        max_ms=max(latencies),
        cache_hit_rate=sum(record.from_cache for record in records) / len(records),
        evaluated_tokens_per_request=statistics.fmean(record.evaluated_tokens for record in records),
        evaluated_tokens_per_model_request=(
            statistics.fmean(record.evaluated_tokens for record in model_records) if model_records else 0.0
        ),
        first_line_match_rate=(sum(bool(record.first_line_match) for record in judged) / len(judged)) if judged else 0.0,
        first_line_cases=len(judged),
        records=records,
    )


def typing_seconds(request: TypingRequest, following: TypingRequest | None, char_seconds: float) -> float:
    """The time the user takes to type what lies between `request` and the next one at the same place."""
    if following is None or following.place != request.place:
        return 0.0
    return max(0, following.cursor - request.cursor) * char_seconds


def run(arms: list[Any], requests: list[TypingRequest], progress: Callable[[int], None],
        pause_seconds: float = 0.0, rest_seconds: float = 0.0, char_seconds: float = 0.0) -> dict[str, list[Record]]:
    """Every request to one arm after the other; after its answer an arm that has idle work
    (seekcode) gets `pause_seconds` of the user's time for it before its next request, plus
    `char_seconds` for each character typed before that request, and `rest_seconds` where the
    cursor rests at a new place before the first request there. One arm at a time, since
    seekcode's idle work goes on in the background past a pause, as in its server."""
    records: dict[str, list[Record]] = {arm.name: [] for arm in arms}
    for arm in arms:
        previous_place = None
        for index, request in enumerate(requests):
            following = requests[index + 1] if index + 1 < len(requests) else None
            pause = pause_seconds + typing_seconds(request, following, char_seconds)
            first_at_place = request.place != previous_place
            previous_place = request.place
            if first_at_place and rest_seconds > 0 and hasattr(arm, "arrive"):
                arm.arrive(request, rest_seconds)
            answer = arm.complete(request)
            expected = request.expected_line.rstrip()
            match = (first_line(answer.text) == expected) if expected.strip() else None
            records[arm.name].append(Record(
                index, request.place, request.cursor, request.expected_line, answer.text,
                answer.latency_ms, answer.from_cache, answer.evaluated_tokens, match, first_at_place, answer.quick,
            ))
            if pause > 0 and hasattr(arm, "pause"):
                arm.pause(pause)
            progress(index)
        if hasattr(arm, "scheduler"):  # its idle work must not run on behind the next arm's requests
            arm.scheduler.close()
    return records


def print_table(summaries: list[ArmSummary]) -> None:
    header = f"{'engine':<14}{'requests':>9}{'p50 ms':>10}{'p95 ms':>10}{'p95 warm':>10}{'max ms':>10}{'mean ms':>10}" \
             f"{'p50 model':>10}{'cache hits':>11}" \
             f"{'eval tok/req':>13}{'eval tok/model req':>19}{'1st-line match':>16}"
    print(header)
    print("-" * len(header))
    for summary in summaries:
        print(f"{summary.name:<14}{summary.requests:>9}{summary.p50_ms:>10.0f}{summary.p95_ms:>10.0f}"
              f"{summary.p95_warm_ms:>10.0f}{summary.max_ms:>10.0f}"
              f"{summary.mean_ms:>10.0f}{summary.p50_model_ms:>10.0f}{summary.cache_hit_rate:>10.0%} {summary.evaluated_tokens_per_request:>12.1f}"
              f"{summary.evaluated_tokens_per_model_request:>19.1f}"
              f"{summary.first_line_match_rate:>10.0%} of {summary.first_line_cases}")
    by_name = {summary.name: summary for summary in summaries}
    if "seekcode" in by_name and "llama-server" in by_name:
        ours, theirs = by_name["seekcode"], by_name["llama-server"]
        print(f"\nseekcode / llama-server: p50 {ours.p50_ms / theirs.p50_ms:.2f} (target <= 0.25), "
              f"p95 {ours.p95_ms / theirs.p95_ms:.2f} (target <= 0.50)")
    if "http" in by_name and "llama-server" in by_name:
        ours, theirs = by_name["http"], by_name["llama-server"]
        print(f"http / llama-server: p50 {ours.p50_ms / theirs.p50_ms:.2f}, p95 {ours.p95_ms / theirs.p95_ms:.2f} "
              f"(the same server binary and flags; seekcode's layout and cache vs llama.vim's request)")
    if "http" in by_name and "seekcode" in by_name:
        ours, local = by_name["http"], by_name["seekcode"]
        print(f"http / seekcode in-process: p50 of model answers {ours.p50_model_ms / max(local.p50_model_ms, 1e-9):.2f}")
    if "seekcode" in by_name and "naive" in by_name:
        print(f"first-line match: seekcode {by_name['seekcode'].first_line_match_rate:.0%} vs naive "
              f"{by_name['naive'].first_line_match_rate:.0%} (target: at least naive's)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="GGUF model (a FIM code model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx-size", type=int, default=4096)
    parser.add_argument("--source-module", default="textwrap", help="stdlib module whose file is typed")
    parser.add_argument("--places", type=int, default=3, help="places in the file where typing happens")
    parser.add_argument("--chars", type=int, default=150, help="characters typed per place (whole lines)")
    parser.add_argument("--anchor-step-lines", type=int, default=Settings.anchor_step_lines,
                        help="seekcode's prompt anchor step (1 = tail is only the cursor's line)")
    parser.add_argument("--fim-layout", choices=FIM_LAYOUTS, default="auto",
                        help="seekcode's prompt layout (auto: as the server picks it for this model)")
    parser.add_argument("--engines", default="seekcode,naive,llama-server")
    parser.add_argument("--llama-server", type=Path, default=DEFAULT_SERVER)
    parser.add_argument("--json", type=Path, default=None, help="results file (default bench/results/latency-<time>.json)")
    parser.add_argument("--rpc-workers", type=int, default=0,
                        help="spread llama-server's model over this many ggml-rpc-server workers on loopback")
    args = parser.parse_args(argv)

    if not args.model.is_file():
        parser.error(f"model {args.model} does not exist.")
    os.environ.setdefault(*OPENMP_WAIT_POLICY)
    source_path = Path(inspect.getsourcefile(importlib.import_module(args.source_module)))
    source = source_path.read_text(encoding="utf-8")
    spans = choose_places(source, args.places, args.chars)
    requests = list(typing_requests(source, spans))
    settings = Settings(threads=args.threads, context_size=args.ctx_size, anchor_step_lines=args.anchor_step_lines,
                        fim_layout=args.fim_layout)
    names = [name.strip() for name in args.engines.split(",") if name.strip()]
    if {"llama-server", "llama-vim", "http"} & set(names) and not args.llama_server.is_file():
        parser.error(f"{args.llama_server} is missing; build it (see bench/latency/README.md) or drop it from --engines.")

    from tqdm import tqdm

    arms: list[Any] = []
    workers = RpcWorkers(args.llama_server, args.rpc_workers, args.threads) if args.rpc_workers else None
    try:
        for name in names:
            if name == "seekcode":
                arms.append(SeekcodeArm(args.model, settings))
            elif name == "naive":
                arms.append(NaiveArm(args.model, settings))
            elif name == "llama-server":
                arms.append(LlamaServerArm(args.llama_server, args.model, args.threads, args.ctx_size))
            elif name == "llama-vim":
                arms.append(LlamaVimArm(args.llama_server, args.model, args.threads, args.ctx_size))
            elif name == "http":
                arms.append(HttpArm(args.llama_server, args.model, settings))
            else:
                parser.error(f"unknown engine {name!r}; choose from seekcode, naive, llama-server, llama-vim, http.")
        # One unmeasured request per engine at the top of the file: pages the model in, so
        # the first engine does not pay for reading it from disk.
        line_end = source.find("\n", source.find("\n") + 1)
        warm_up = TypingRequest(-1, source, line_end, "")
        for arm in arms:
            arm.complete(warm_up)
        typed = sum(end - start for start, end in spans)
        print(f"typing {typed} characters in {len(spans)} places of {source_path} -> {len(requests)} requests")
        with tqdm(total=len(requests) * len(arms), unit="req") as bar:
            records = run(arms, requests, lambda index: bar.update(1))
    finally:
        for arm in arms:
            arm.close()
        if workers is not None:
            workers.close()

    summaries = [summarize(name, records[name]) for name in names]
    print_table(summaries)
    output = args.json or RESULTS_DIR / f"latency-{time.strftime('%Y%m%d-%H%M%S')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({
        "command": " ".join([sys.executable, *sys.argv]),
        "model": str(args.model),
        "threads": args.threads,
        "source": str(source_path),
        "spans": spans,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "rpc_workers": args.rpc_workers,
        "load_average_after": os.getloadavg(),
        "summaries": [asdict(summary) for summary in summaries],
    }, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
