"""Test-only requests that let the hardening tests and load benches look inside the server.

Registered only when `SEEKCODE_DEBUG_REQUESTS=1` is in the server's environment; an
editor never sees them (a normal server answers MethodNotFound). They read state and
change nothing:

- `seekcode/debug/documentText` `{"uri"}` -> `{"text", "version"}` of the server's copy
  of an open document, or `null` when it is not open (the fuzzer compares it with a
  reference model of the edits it sent).
- `seekcode/debug/state` `{}` -> `{"queued", "documents", "model", "pending_messages"}`: jobs
  waiting on the worker, open documents, model state, messages pygls still tracks (the load
  bench checks the queue stays bounded; a test checks handled notifications are forgotten).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

DEBUG_ENV = "SEEKCODE_DEBUG_REQUESTS"
DOCUMENT_TEXT = "seekcode/debug/documentText"
STATE = "seekcode/debug/state"


def debug_requests_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(DEBUG_ENV) == "1"


def register_debug_requests(server: Any) -> None:
    @server.feature(DOCUMENT_TEXT)
    def document_text(ls: Any, params: Any) -> dict[str, Any] | None:
        uri = params.get("uri") if isinstance(params, dict) else getattr(params, "uri", None)  # pygls: an Object
        document = ls.documents.get(uri) if isinstance(uri, str) else None
        return None if document is None else {"text": document.text, "version": document.version}

    @server.feature(STATE)
    def state(ls: Any, params: Any) -> dict[str, Any]:
        return {
            "queued": ls.runtime.scheduler.queued,
            "documents": len(ls.documents),
            "model": ls.runtime.state.value,
            "pending_messages": len(ls.protocol._request_futures),
        }
