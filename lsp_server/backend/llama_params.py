"""Load a `llama_cpp.Llama` with default parameters that its constructor has no argument for.

`Llama.__init__` starts from `llama_model_default_params()` and `llama_context_default_params()`
and sets only the fields it knows. `use_extra_bufts` (llama.cpp's repacked weights),
`n_seq_max` and `kv_unified` (several sequences in one KV cache) are not among them, so
within `llama_defaults(...)` those two functions return params with the given fields set.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping

_lock = threading.RLock()  # nested blocks (one per kind of field) must not deadlock


def _with_fields(original, fields: Mapping[str, object]):
    def defaults():
        params = original()
        for name, value in fields.items():
            setattr(params, name, value)
        return params

    return defaults


@contextlib.contextmanager
def llama_defaults(
    model: Mapping[str, object] | None = None, context: Mapping[str, object] | None = None
) -> Iterator[None]:
    """Within the block, `Llama(...)` starts from llama.cpp's defaults with these fields changed."""
    if not model and not context:
        yield
        return
    from llama_cpp import llama as llama_module

    low_level = llama_module.llama_cpp
    originals = (low_level.llama_model_default_params, low_level.llama_context_default_params)
    with _lock:
        if model:
            low_level.llama_model_default_params = _with_fields(originals[0], model)
        if context:
            low_level.llama_context_default_params = _with_fields(originals[1], context)
        try:
            yield
        finally:
            low_level.llama_model_default_params, low_level.llama_context_default_params = originals
