"""The review tests share the LSP tests' fixtures: the tiny converter-made GGUF and real servers."""

from tests.lsp.conftest import start_server, tiny_gguf  # noqa: F401 (fixtures)

import os  # noqa: E402

import pytest  # noqa: E402

from lsp_server.backend.local import BackendOptions, LocalBackend  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def review_cache_dir(tmp_path_factory):
    """Calibrations (the CLI's and servers' one-time pass over held-out code) go to a session folder,
    never to the user's cache: computed once per test session, then read from there."""
    previous = os.environ.get("SEEKCODE_CACHE_DIR")
    os.environ["SEEKCODE_CACHE_DIR"] = str(tmp_path_factory.mktemp("seekcode-cache"))
    yield
    if previous is None:
        os.environ.pop("SEEKCODE_CACHE_DIR", None)
    else:
        os.environ["SEEKCODE_CACHE_DIR"] = previous


@pytest.fixture(scope="module")
def backend(tiny_gguf):  # noqa: F811 (tiny_gguf is the imported fixture)
    """A real backend on the tiny GGUF, one per test module."""
    backend = LocalBackend(tiny_gguf, BackendOptions(context_size=1024, threads=2, batch_size=64))
    yield backend
    backend.close()
