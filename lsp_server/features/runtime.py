"""The model's life on the worker thread: load, reload, complete, close.

`Runtime` pairs the `Scheduler` (one worker thread) with whatever is loaded: the
`LocalBackend` and the `CompletionEngine` built on it. Every touch of the model happens
in a job on the worker, so the caller (the LSP message loop, the CLI, a benchmark)
only ever holds futures. No LSP types here.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from lsp_server.backend.base import ModelLoadError
from lsp_server.backend.local import BackendOptions, LocalBackend
from lsp_server.engine.scheduler import Scheduler
from lsp_server.features.completion import CompletionEngine, CompletionRequest, CompletionResult
from lsp_server.features.review import ReviewRequest, ReviewResult, review_all
from lsp_server.features.review_model import LocalReviewModel
from lsp_server.engine.families import Layout
from lsp_server.settings import ModelChoice, Settings, resolve_layout, resolve_model

logger = logging.getLogger(__name__)

MODEL_JOB_KEY = ("model",)


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


BackendFactory = Callable[[Path, BackendOptions], LocalBackend]


def engine_layout(settings: Settings, choice: ModelChoice) -> Layout | None:
    layout = resolve_layout(settings, choice)
    return None if layout is None else Layout(layout)


def backend_options(settings: Settings) -> BackendOptions:
    return BackendOptions(
        context_size=settings.context_size, threads=settings.threads, batch_size=settings.batch_size
    )


class Runtime:
    def __init__(self, backend_factory: BackendFactory = LocalBackend, environ: Mapping[str, str] | None = None) -> None:
        self.scheduler = Scheduler()
        self._backend_factory = backend_factory
        self._environ = environ
        self._engine: CompletionEngine | None = None
        self._engine_lock = threading.Lock()
        self._loaded_key: tuple[object, ...] | None = None
        self.state = ModelState.NOT_LOADED
        self.last_outcome: LoadOutcome | None = None

    @staticmethod
    def model_key(settings: Settings, choice: ModelChoice) -> tuple[object, ...]:
        """What a loaded model depends on; a settings change that alters it needs a reload."""
        return (str(choice.path), settings.context_size, settings.threads, settings.batch_size,
                resolve_layout(settings, choice))

    def needs_reload(self, settings: Settings) -> bool:
        return self.model_key(settings, resolve_model(settings, self._environ)) != self._loaded_key

    def load(self, settings: Settings) -> Future[LoadOutcome | None]:
        """Load (or reload) the model the settings resolve to; a newer load supersedes."""
        choice = resolve_model(settings, self._environ)
        self.state = ModelState.LOADING
        return self.scheduler.submit(MODEL_JOB_KEY, lambda abort: self._load(settings, choice))

    def _load(self, settings: Settings, choice: ModelChoice) -> LoadOutcome:
        self._unload()
        key = self.model_key(settings, choice)
        if choice.path is None:
            error = ModelLoadError(
                "No model is configured: set 'seekcode.model' (or SEEKCODE_MODEL) to a GGUF file, "
                "or install the bundled model.",
                "no setting, no SEEKCODE_MODEL and no GGUF in lsp_server/default_model",
            )
            return self._record(LoadOutcome(ModelState.FAILED, choice, error), key)
        try:
            backend = self._backend_factory(choice.path, backend_options(settings))
        except ModelLoadError as error:
            return self._record(LoadOutcome(ModelState.FAILED, choice, error), key)
        with self._engine_lock:
            self._engine = CompletionEngine(backend, layout=engine_layout(settings, choice))
        layout = (self._engine.layout or self._engine.family.layout).value
        description = f"family {self._engine.family.name}, layout {layout}"
        logger.info("loaded %s (%s) as %s", choice.path, choice.source, description)
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
        return engine.complete(request, abort)

    def review(self, key: str, request: ReviewRequest) -> Future[ReviewResult | None]:
        """Review on the worker as a background job: completions preempt it; a newer review of `key` supersedes."""
        return self.scheduler.submit(("review", key), lambda abort: self._review(request, abort), background=True)

    def _review(self, request: ReviewRequest, abort: threading.Event) -> ReviewResult:
        engine = self._engine
        if engine is None:
            return ReviewResult([], notes=["no model is loaded; see the earlier error message."])
        return review_all(request, LocalReviewModel(engine.backend), abort=abort)

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
