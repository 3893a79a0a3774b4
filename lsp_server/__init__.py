"""seekcode lsp_server package."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seekcode")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0"
