"""The model's life on the worker thread: load, reload, complete, close.

`Runtime` pairs the `Scheduler` (one worker thread) with whatever is loaded: the
`LocalBackend` and the `CompletionEngine` built on it. Every touch of the model happens
in a job on the worker, so the caller (the LSP message loop, the CLI, a benchmark)
only ever holds futures. No LSP types here.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lsp_server.backend.base import Backend, BackendError, ModelLoadError
from lsp_server.backend.local import BackendOptions, LocalBackend
from lsp_server.backend.probe import ProbeOutcome, decide as decide_extra_buffer_types
from lsp_server.engine.scheduler import Scheduler
from lsp_server.features.completion import CompletionEngine, CompletionRequest, CompletionResult
from lsp_server.features.review import ReviewRequest, ReviewResult, review_all
from lsp_server.features.review_calibration import calibrated_options
from lsp_server.features.review_model import review_model_for
from lsp_server.engine.families import Layout
from lsp_server.settings import ModelChoice, Settings, resolve_layout, resolve_model

if TYPE_CHECKING:
    from lsp_server.backend.http import HttpOptions

logger = logging.getLogger(__name__)

MODEL_JOB_KEY = ("model",)
IDLE_JOB_KEY = ("idle",)  # prefill and speculation: one at a time, the newest wins


def idle_place(request: CompletionRequest) -> tuple[str, int]:
    """Where idle work for `request` works: its document and the block of lines its prompt's
    tail starts in (the anchor moves every `anchor_step_lines`). Typing on inside it changes
    only the prompt's end, so a running prefill or speculation there is not aborted for it."""
    line = request.doc_text.count("\n", 0, request.cursor_offset)
    return request.uri, line // max(1, request.settings.anchor_step_lines)


class ModelState(str, enum.Enum):
    NOT_LOADED = "not-loaded"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class LoadOutcome:
    state: ModelState
    choice: ModelChoice
    error: ModelLoadError | None = None
    description: str = ""  # family and prompt layout of a loaded model, for the log
    notice: str | None = None  # something the user should hear once (e.g. the probe's fallback)


BackendFactory = Callable[[Path, BackendOptions], LocalBackend]
Probe = Callable[[Settings, ModelChoice], ProbeOutcome]


def probe_machine(settings: Settings, choice: ModelChoice) -> ProbeOutcome:
    """The probe runs the small bundled model when there is one: a crash is the CPU's, not the model's."""
    from lsp_server import default_model

    return decide_extra_buffer_types(settings.extra_buffer_types, default_model.bundled_model_path() or choice.path)
RemoteBackendFactory = Callable[["HttpOptions"], Backend]


def http_options(settings: Settings, environ: Mapping[str, str] | None = None) -> "HttpOptions":
    """Where and how to reach the inference server; the key from the environment first."""
    from lsp_server.backend.http import HttpOptions

    environ = os.environ if environ is None else environ
    api_key = environ.get(settings.backend_api_key_env, "").strip() or settings.backend_api_key
    return HttpOptions(
        url=settings.backend_url or "",
        api_key=api_key or None,
        family=settings.backend_family,
        model=settings.backend_model,
        context_size=settings.context_size,
        ca_bundle=settings.backend_ca_bundle,
        allow_insecure=settings.backend_allow_insecure,
        read_timeout=settings.backend_timeout,
    )


def open_http_backend(options: "HttpOptions") -> Backend:
    from lsp_server.backend.http import HttpBackend

    return HttpBackend(options)


def open_backend(settings: Settings, environ: Mapping[str, str] | None = None) -> tuple[Backend, ModelChoice]:
    """The backend the settings name, for one-shot commands: the server at `backend.url`,
    else the local GGUF. Raises ModelLoadError, or LookupError when no model is configured."""
    if settings.backend_url:
        return open_http_backend(http_options(settings, environ)), remote_choice(settings)
    choice = resolve_model(settings, environ)
    if choice.path is None:
        raise LookupError("no model is configured")
    return LocalBackend(choice.path, backend_options(settings)), choice


def remote_choice(settings: Settings) -> ModelChoice:
    return ModelChoice(None, "remote")


def engine_layout(settings: Settings, choice: ModelChoice) -> Layout | None:
    layout = resolve_layout(settings, choice)
    return None if layout is None else Layout(layout)


def backend_options(settings: Settings, probe: ProbeOutcome | None = None) -> BackendOptions:
    return BackendOptions(
        context_size=settings.context_size, threads=settings.threads, batch_size=settings.batch_size,
        extra_buffer_types=True if probe is None else probe.extra_buffer_types, warm_places=settings.warm_places,
        shift_reuse=settings.shift_reuse,
    )


class Runtime:
    def __init__(
        self,
        backend_factory: BackendFactory = LocalBackend,
        environ: Mapping[str, str] | None = None,
        probe: Probe = probe_machine,
        remote_factory: RemoteBackendFactory = open_http_backend,
    ) -> None:
        self.scheduler = Scheduler()
        self._backend_factory = backend_factory
        self._probe = probe
        self.probe_outcome: ProbeOutcome | None = None
        self._notices_given: set[str | None] = set()
        self._remote_factory = remote_factory
        self.last_backend_error: BackendError | None = None
        self._environ = environ
        self._engine: CompletionEngine | None = None
        self._engine_lock = threading.Lock()
        self._loaded_key: tuple[object, ...] | None = None
        self._requested_key: tuple[object, ...] | None = None
        self.state = ModelState.NOT_LOADED
        self.last_outcome: LoadOutcome | None = None

    @staticmethod
    def model_key(settings: Settings, choice: ModelChoice) -> tuple[object, ...]:
        """What a loaded model depends on; a settings change that alters it needs a reload."""
        remote = (settings.backend_url, settings.backend_api_key_env, settings.backend_api_key, settings.backend_family,
                  settings.backend_model, settings.backend_allow_insecure, settings.backend_ca_bundle,
                  settings.backend_timeout) if settings.backend_url else None
        return (str(choice.path), settings.context_size, settings.threads, settings.batch_size,
                resolve_layout(settings, choice), settings.extra_buffer_types, settings.warm_places, settings.shift_reuse,
                remote)

    def choose(self, settings: Settings) -> ModelChoice:
        return remote_choice(settings) if settings.backend_url else resolve_model(settings, self._environ)

    def needs_reload(self, settings: Settings) -> bool:
        # Against the last load asked for, finished or not: editors send didChangeConfiguration right
        # after `initialized`, and the same settings must not start a second load of the same model.
        return self.model_key(settings, self.choose(settings)) != self._requested_key

    def load(self, settings: Settings) -> Future[LoadOutcome | None]:
        """Load (or reload) the model the settings resolve to; a newer load supersedes."""
        choice = self.choose(settings)
        self._requested_key = self.model_key(settings, choice)
        self.state = ModelState.LOADING
        return self.scheduler.submit(MODEL_JOB_KEY, lambda abort: self._load(settings, choice))

    def _load(self, settings: Settings, choice: ModelChoice) -> LoadOutcome:
        self._unload()
        key = self.model_key(settings, choice)
        if settings.backend_url:
            return self._connect(settings, choice, key)
        if choice.path is None:
            error = ModelLoadError(
                "No model is configured: set 'seekcode.model' (or SEEKCODE_MODEL) to a GGUF file, "
                "or install the bundled model.",
                "no setting, no SEEKCODE_MODEL and no GGUF in lsp_server/default_model",
            )
            return self._record(LoadOutcome(ModelState.FAILED, choice, error), key)
        probe = self._probe(settings, choice)
        notice = probe.notice if probe.notice not in self._notices_given else None  # say it once
        self._notices_given.add(notice)
        self.probe_outcome = probe
        if notice:
            logger.warning("%s", notice)
        try:
            backend = self._backend_factory(choice.path, backend_options(settings, probe))
        except ModelLoadError as error:
            return self._record(LoadOutcome(ModelState.FAILED, choice, error, notice=notice), key)
        with self._engine_lock:
            self._engine = CompletionEngine(backend, layout=engine_layout(settings, choice))
        layout = (self._engine.layout or self._engine.family.layout).value
        description = f"family {self._engine.family.name}, layout {layout}"
        logger.info("loaded %s (%s) as %s", choice.path, choice.source, description)
        return self._record(LoadOutcome(ModelState.READY, choice, description=description, notice=notice), key)

    def _connect(self, settings: Settings, choice: ModelChoice, key: tuple[object, ...]) -> LoadOutcome:
        """The remote backend: reach the server, learn its tokens, build the engine on it."""
        try:
            backend = self._remote_factory(http_options(settings, self._environ))
            engine = CompletionEngine(backend, layout=engine_layout(settings, choice))
        except (ModelLoadError, BackendError) as error:
            failure = error if isinstance(error, ModelLoadError) else ModelLoadError(str(error), error.reason)
            return self._record(LoadOutcome(ModelState.FAILED, choice, failure), key)
        with self._engine_lock:
            self._engine = engine
        layout = (engine.layout or engine.family.layout).value
        description = f"{getattr(backend, 'description', 'remote server')}; family {engine.family.name}, layout {layout}"
        logger.info("connected to %s", description)
        return self._record(LoadOutcome(ModelState.READY, choice, description=description), key)

    def _record(self, outcome: LoadOutcome, key: tuple[object, ...]) -> LoadOutcome:
        self._loaded_key = key
        self.state = outcome.state
        self.last_outcome = outcome
        if outcome.error is not None:
            logger.error("model not loaded: %s (%s)", outcome.error, outcome.error.reason)
        return outcome

    def _unload(self) -> None:
        with self._engine_lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.backend.close()

    @property
    def engine(self) -> CompletionEngine | None:
        return self._engine

    def cached(self, request: CompletionRequest) -> CompletionResult | None:
        """A completion served from the cache (type-through), without the worker."""
        with self._engine_lock:
            engine = self._engine
        return engine.from_cache(request) if engine is not None else None

    def complete(self, key: str, request: CompletionRequest) -> Future[CompletionResult | None]:
        """Run a completion on the worker; it supersedes the pending one for `key`."""
        return self.scheduler.submit(key, lambda abort: self._complete(request, abort))

    def _complete(self, request: CompletionRequest, abort: threading.Event) -> CompletionResult:
        engine = self._engine
        if engine is None:
            return CompletionResult.empty("no-model")
        logger.info("completion for %s started on the worker", request.uri)
        try:
            result = engine.complete(request, abort)
        except BackendError as error:  # a remote failure: no suggestion, one message, keep serving
            logger.warning("completion failed: %s (%s)", error, error.reason)
            self.last_backend_error = error
            return CompletionResult.empty("backend-error")
        if result.source == "model":
            self.last_backend_error = None
            follow_up = engine.follow_up(request, result)
            if follow_up is not None:
                self.scheduler.submit(IDLE_JOB_KEY, self._idle(engine, follow_up), idle=True,
                                      place=idle_place(request))
        return result

    def prefill(self, request: CompletionRequest) -> None:
        """Evaluate the prompt for a cursor the user is typing at, as idle work (an edit at a new
        place arrives a little before its completion request)."""
        engine = self._engine
        if engine is None or not request.settings.prefill or engine.from_cache(request) is not None:
            return  # a cached suggestion answers here; don't replace a speculation with nothing
        def prefill(abort: threading.Event) -> None:
            evaluated = engine.prefill(request, abort)
            logger.info("prefill at offset %d of %s: %d tokens evaluated%s", request.cursor_offset, request.uri,
                        evaluated, " (aborted)" if abort.is_set() else "")

        self.scheduler.submit(IDLE_JOB_KEY, self._idle(engine, prefill), idle=True, place=idle_place(request))

    def _idle(self, engine: CompletionEngine, job):
        def run(abort: threading.Event) -> None:
            if self._engine is not engine:
                return  # the model was reloaded since: its backend is closed
            try:
                job(abort)
            except Exception as error:  # idle work is optional: a failure costs nothing but a log line
                logger.info("idle work failed: %s", error)
        return run

    def review(self, key: str, request: ReviewRequest, progress=None) -> Future[ReviewResult | None]:
        """Review on the worker as a background job: completions preempt it; a newer review of `key` supersedes.
        `progress(done, total, what)` hears of the model's one-time calibration, if it runs."""
        return self.scheduler.submit(("review", key), lambda abort: self._review(request, abort, progress),
                                     background=True)

    def _review(self, request: ReviewRequest, abort: threading.Event, progress=None) -> ReviewResult:
        engine = self._engine
        if engine is None:
            return ReviewResult([], notes=["no model is loaded; see the earlier error message."])
        model = review_model_for(engine.backend)
        options = calibrated_options(model, abort, progress)
        if options is None:
            return ReviewResult([], aborted=True)
        return review_all(request, model, options, abort=abort)

    def supersede(self, key: str) -> None:
        """Abort the running or queued completion for `key` (its answer is stale)."""
        self.scheduler.supersede(key)

    def settings_changed(self) -> None:
        """Cached suggestions were made under the old settings (length, budgets, sampling)."""
        with self._engine_lock:
            engine = self._engine
        if engine is not None:
            engine.clear_cache()

    def cancel(self, future: Future[object]) -> None:
        self.scheduler.cancel(future)

    def close(self) -> None:
        self.scheduler.close()
        self._unload()
