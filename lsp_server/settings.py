"""Server settings: defaults, then CLI flags, then initializationOptions, then
workspace/didChangeConfiguration (section "seekcode"), each layer overriding the last.

Editors send camelCase keys (`{"model": "...", "contextSize": 4096}`); snake_case is
accepted too. The model path resolves as: explicit setting (flag or editor), then the
`SEEKCODE_MODEL` environment variable, then the GGUF bundled in `lsp_server/default_model`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lsp_server import default_model

MODEL_ENV_VAR = "SEEKCODE_MODEL"
CONFIG_SECTION = "seekcode"


class SettingsError(ValueError):
    """A setting with the wrong type or an impossible value."""


@dataclass(frozen=True)
class Settings:
    model: str | None = None
    context_size: int = 4096
    threads: int | None = None
    batch_size: int = 256
    max_tokens: int = 64
    # An answer is due this long after its request began (0: no limit): past it, generation
    # stops at the end of a line. A request that evaluated a new place's prompt answers with its
    # first line; a slow long line costs the user more than it gives.
    max_generation_ms: int = 600
    temperature: float = 0.0
    enabled: bool = True
    # Per-language switch, by LSP languageId; languages not listed follow `enabled`.
    languages: Mapping[str, bool] = field(default_factory=dict)
    prefix_tokens: int = 1024
    suffix_tokens: int = 256
    context_tokens: int = 512
    # Lines between moves of the prompt's head/tail split: moving it re-evaluates the
    # suffix, so a larger step is faster while typing line after line.
    anchor_step_lines: int = 8
    multiline: bool = True
    # FIM prompt layout: "auto" (the model family's, or the bundled model's own), or one of FIM_LAYOUTS.
    fim_layout: str = "auto"
    # llama.cpp's extra buffer types (repacked weights, AMX): "auto" probes the machine once
    # (lsp_server/backend/probe.py), "on"/"off" force either path.
    extra_buffer_types: str = "auto"
    # Cursor places kept evaluated in spare KV sequences, so jumping back is warm (0: off). Each
    # costs one more context window of KV memory; fewer are kept if that would pass 256 MiB.
    warm_places: int = 4
    # Small first: a request that would evaluate much of its prompt (the cursor moved to a new
    # place) is answered from a short window of this many prefix and suffix tokens, and the
    # full window is evaluated in the background for the next keystroke (0: off).
    quick_prefix_tokens: int = 320
    quick_suffix_tokens: int = 80
    # Reuse cached runs of tokens at shifted positions, as llama-server's --cache-reuse does.
    # Approximate (the answer can differ from a fresh evaluation's), so off by default.
    shift_reuse: bool = False
    # Idle work on the model: evaluate the next prompt after an edit or an answer, and
    # speculate the completion that follows a shown suggestion. Any request preempts it.
    prefill: bool = True
    # When review diagnostics run: on every save, only when asked (seekcode.review), or never.
    review_trigger: str = "onSave"
    # Run generated tests (executes code, in a subprocess in the project root) and keep only
    # those that pass three runs in a row. Off by default.
    tests_run: bool = False
    tests_timeout: float = 60.0  # seconds one run of the generated tests may take before it is killed
    # Remote inference (backend/http.py): a URL selects it instead of the local model.
    backend_url: str | None = None
    backend_api_key_env: str = "SEEKCODE_API_KEY"  # the environment variable holding the bearer token
    backend_api_key: str | None = field(default=None, repr=False)  # prefer the environment variable
    backend_family: str = "auto"  # FIM family for OpenAI-compatible servers that cannot tell
    backend_model: str | None = None  # model name for OpenAI-compatible servers (default: the first served)
    backend_allow_insecure: bool = False  # allow the key over plain HTTP to a non-loopback host
    backend_ca_bundle: str | None = None
    backend_timeout: float = 30.0  # seconds to wait for the next bytes of a reply

    def is_enabled_for(self, language_id: str) -> bool:
        return bool(self.languages.get(language_id, self.enabled))

    def merged(self, overrides: Mapping[str, Any] | None) -> "Settings":
        """A copy with `overrides` applied; raises SettingsError naming a bad key."""
        if not overrides:
            return self
        if not isinstance(overrides, Mapping):
            raise SettingsError(f"settings must be a JSON object, got {type(overrides).__name__}.")
        changes: dict[str, Any] = {}
        for raw_key, value in _flattened(overrides):
            key = _snake_case(raw_key).replace(".", "_")
            if key not in _FIELD_TYPES:
                continue  # unknown keys belong to other features or newer clients
            changes[key] = _coerce(key, value)
        return dataclasses.replace(self, **changes)


_FIELD_TYPES: dict[str, Any] = {
    "model": (str, type(None)),
    "context_size": int,
    "threads": (int, type(None)),
    "batch_size": int,
    "max_tokens": int,
    "max_generation_ms": int,
    "temperature": float,
    "enabled": bool,
    "languages": dict,
    "prefix_tokens": int,
    "suffix_tokens": int,
    "context_tokens": int,
    "anchor_step_lines": int,
    "multiline": bool,
    "fim_layout": str,
    "extra_buffer_types": str,
    "warm_places": int,
    "quick_prefix_tokens": int,
    "quick_suffix_tokens": int,
    "shift_reuse": bool,
    "prefill": bool,
    "review_trigger": str,
    "tests_run": bool,
    "tests_timeout": float,
    "backend_url": (str, type(None)),
    "backend_api_key_env": str,
    "backend_api_key": (str, type(None)),
    "backend_family": str,
    "backend_model": (str, type(None)),
    "backend_allow_insecure": bool,
    "backend_ca_bundle": (str, type(None)),
    "backend_timeout": float,
}

REVIEW_TRIGGERS = ("onSave", "onDemand", "off")


def _flattened(overrides: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested groups as dotted keys: {"review": {"trigger": x}} and "review.trigger" are the same."""
    items: list[tuple[str, Any]] = []
    for raw_key, value in overrides.items():
        key = f"{prefix}{raw_key}"
        if isinstance(value, Mapping) and _snake_case(key).replace(".", "_") not in _FIELD_TYPES:
            items += _flattened(value, f"{key}.")
        else:
            items.append((key, value))
    return items


FIM_LAYOUTS = ("auto", "psm", "psm-anchored", "spm", "spm-tail")
EXTRA_BUFFER_TYPES = ("auto", "on", "off")

_MINIMUMS: dict[str, float] = {
    "context_size": 256,
    "threads": 1,
    "batch_size": 1,
    "max_tokens": 1,
    "max_generation_ms": 0,
    "temperature": 0.0,
    "prefix_tokens": 16,
    "suffix_tokens": 0,
    "context_tokens": 0,
    "anchor_step_lines": 1,
    "backend_timeout": 0.1,
    "tests_timeout": 1.0,
    "warm_places": 0,
    "quick_prefix_tokens": 0,
    "quick_suffix_tokens": 0,
}

BACKEND_FAMILIES = ("auto", "plain", "deepseek-coder", "qwen2.5-coder", "starcoder", "codellama", "codegemma")


def _snake_case(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).replace("-", "_").replace(".", "_").lower()


def _coerce(key: str, value: Any) -> Any:
    expected = _FIELD_TYPES[key]
    if key in ("model", "backend_url", "backend_model", "backend_ca_bundle", "backend_api_key") and isinstance(value, str):
        value = value.strip() or None
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    wrong_bool = isinstance(value, bool) and expected is not bool
    if wrong_bool or not isinstance(value, expected):
        wanted = expected.__name__ if isinstance(expected, type) else " or ".join(
            "null" if t is type(None) else t.__name__ for t in expected
        )
        shown = "another type" if key == "backend_api_key" else repr(value)  # a secret is never echoed
        raise SettingsError(f"setting '{key}' must be {wanted}, got {shown}.")
    if key in _MINIMUMS and value is not None and value < _MINIMUMS[key]:
        raise SettingsError(f"setting '{key}' must be at least {_MINIMUMS[key]}, got {value!r}.")
    if key == "fim_layout" and value not in FIM_LAYOUTS:
        raise SettingsError(f"setting 'fimLayout' must be one of {', '.join(FIM_LAYOUTS)}, got {value!r}.")
    if key == "extra_buffer_types" and value not in EXTRA_BUFFER_TYPES:
        raise SettingsError(
            f"setting 'extraBufferTypes' must be one of {', '.join(EXTRA_BUFFER_TYPES)}, got {value!r}."
        )
    if key == "review_trigger" and value not in REVIEW_TRIGGERS:
        raise SettingsError(f"setting 'review.trigger' must be one of {', '.join(REVIEW_TRIGGERS)}, got {value!r}.")
    if key == "backend_family" and value not in BACKEND_FAMILIES:
        raise SettingsError(f"setting 'backend.family' must be one of {', '.join(BACKEND_FAMILIES)}, got {value!r}.")
    if key == "languages":
        bad = [name for name, flag in value.items() if not isinstance(flag, bool)]
        if bad:
            raise SettingsError(f"setting 'languages' maps language ids to true/false; '{bad[0]}' is not a boolean.")
        value = dict(value)
    return value


@dataclass(frozen=True)
class ModelChoice:
    path: Path | None
    source: str  # "setting", "environment", "bundled" or "none"


def resolve_model(
    settings: Settings, environ: Mapping[str, str] | None = None, bundled_dir: Path | None = None
) -> ModelChoice:
    """Which GGUF to load: explicit setting, then $SEEKCODE_MODEL, then the bundled model."""
    environ = os.environ if environ is None else environ
    if settings.model:
        return ModelChoice(Path(settings.model).expanduser(), "setting")
    from_env = environ.get(MODEL_ENV_VAR, "").strip()
    if from_env:
        return ModelChoice(Path(from_env).expanduser(), "environment")
    bundled = default_model.bundled_model_path(bundled_dir or default_model.BUNDLED_MODEL_DIR)
    if bundled is not None:
        return ModelChoice(bundled, "bundled")
    return ModelChoice(None, "none")


def resolve_layout(settings: Settings, choice: ModelChoice) -> str | None:
    """The FIM layout to force, or None for the model family's own."""
    if settings.fim_layout != "auto":
        return settings.fim_layout
    if choice.source == "bundled":
        return default_model.BUNDLED_LAYOUT
    return None
