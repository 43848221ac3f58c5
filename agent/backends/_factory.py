"""`make_backend(settings)`: the backend that `settings.model.backend` names."""

from __future__ import annotations

from typing import Any

from gre_agent.core.settings import ModelSettings, Settings

from ._base import ModelBackend


def make_backend(settings: ModelSettings | Settings | None = None, **kwargs: Any) -> ModelBackend:
    """Build the configured backend: "openai" (default), "transformers" or "replay".

    Accepts the whole `Settings` or just its `model` section; keyword arguments go to the
    backend's constructor (e.g. `base_urls=`, `batch_size=`, `match=`).
    """
    if isinstance(settings, Settings):
        settings = settings.model
    settings = settings or ModelSettings()
    if settings.backend == "openai":
        from ._openai import OpenAIBackend

        return OpenAIBackend(settings, **kwargs)
    if settings.backend == "transformers":
        from ._transformers import TransformersBackend

        return TransformersBackend(settings, **kwargs)
    if settings.backend == "replay":
        from ._replay import ReplayBackend

        return ReplayBackend(settings=settings, **kwargs)
    raise ValueError(f"unknown model backend {settings.backend!r}")
