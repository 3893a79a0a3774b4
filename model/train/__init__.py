"""Training the bundled default model: data pipeline (``data``), schedule, loop, CLI (``cli``)."""
