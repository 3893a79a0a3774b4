"""The one error type the converter shows to a user."""

from __future__ import annotations


class ConvertError(Exception):
    """A problem with the input or the environment, stated in one actionable sentence.

    The CLI prints ``str(error)`` on one line of stderr and exits non-zero; no
    traceback reaches the user.
    """
