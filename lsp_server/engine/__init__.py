"""The completion engine: no LSP, no torch. families (FIM tokens per model family) ·
prompt (token-list prompts that typing only appends to) · context (snippets from other
documents) · cache (completion cache with type-through) · postprocess (filters and the
streaming stop check) · scheduler (one worker, supersede, abort)."""
