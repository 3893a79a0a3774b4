"""SIGTERM as an interruption, so a killed CLI cleans up like one stopped with Ctrl-C.

Python's default SIGTERM ends the process at once: `finally` blocks do not run, and a
conversion or checkpoint save leaves its hidden temporary file or folder beside the
output (the output itself is only ever replaced by a rename, so it is never half-written).
Raising KeyboardInterrupt instead runs the same clean-up paths as Ctrl-C.
"""

from __future__ import annotations

import signal
import threading


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def terminate_as_interrupt() -> None:
    """In the main thread of a CLI: SIGTERM raises KeyboardInterrupt from now on."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
