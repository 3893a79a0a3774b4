"""The review tests share the LSP tests' fixtures: the tiny converter-made GGUF and real servers."""

from tests.lsp.conftest import start_server, tiny_gguf  # noqa: F401 (fixtures)
