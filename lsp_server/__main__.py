"""`python -m lsp_server` = `seekcode-lsp`."""

import sys

from lsp_server.cli import main

if __name__ == "__main__":
    sys.exit(main())
