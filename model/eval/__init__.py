"""Evaluation of the default model: held-out perplexity and next-line exact match through FIM.

``cases``: the fixed sample of held-out lines; ``predictors``: the PyTorch reference, llama.cpp on a
GGUF (our model or a reference model in its own FIM format) and the n-gram baseline;
``perplexity``: held-out perplexity through PyTorch and llama.cpp; ``cli``: ``python -m model eval``.
"""
