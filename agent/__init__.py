"""The model and its language: backends, prompts, parsers, schemas (model-layer issue)."""
