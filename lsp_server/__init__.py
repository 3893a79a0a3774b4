"""seekcode lsp_server package."""
