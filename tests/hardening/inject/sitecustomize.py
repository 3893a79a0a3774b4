"""Fault injection for the hardening tests, loaded by Python at start-up when this folder is
on PYTHONPATH. It acts only in a process whose command line names a target module given in
$SEEKCODE_INJECT_TARGET, and only as $SEEKCODE_INJECT_FAULT says:

- `signal:NAME` kills the process with that signal (a native crash, as far as the parent sees);
- `exit:N` exits with status N before the module runs.

The real server starts the real child (e.g. the llama.cpp probe); only the child's fate is chosen.
"""

import os
import signal
import sys

_target = os.environ.get("SEEKCODE_INJECT_TARGET")
_fault = os.environ.get("SEEKCODE_INJECT_FAULT", "")
if _target and _target in getattr(sys, "orig_argv", ()):
    kind, _, value = _fault.partition(":")
    if kind == "signal":
        os.kill(os.getpid(), getattr(signal, value))
    elif kind == "exit":
        os._exit(int(value))
