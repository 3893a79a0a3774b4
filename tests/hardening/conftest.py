"""Fixtures for the hardening tests: real server processes, misbehaving editors, faults."""

from __future__ import annotations

import os

# Before anything in this process loads llama.cpp (see tests/lsp/conftest.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from lsp_server.default_model import bundled_model_path


@pytest.fixture(scope="session")
def bundled_model():
    path = bundled_model_path()
    assert path is not None, "the bundled model lsp_server/default_model/*.gguf is part of the repository"
    return path
