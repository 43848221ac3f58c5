"""`make_backend(settings)`: the backend that `settings.model.backend` names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
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


def backend_from_options(
    backend: str | None = None,
    model: str | None = None,
    base_urls: str | Sequence[str] | None = None,
    replay_path: str | Path | None = None,
    **kwargs: Any,
) -> ModelBackend:
    """`make_backend` on the configured `[model]` settings, with command-line style overrides.

    `base_urls` may be one comma-separated string (`--base-url a,b`) or a list; options left
    as None keep what gre.toml / GRE_MODEL__* say.
    """
    from gre_agent.core.settings import load_settings

    updates: dict[str, Any] = {}
    if backend:
        updates["backend"] = backend
    if model:
        updates["model"] = model
    if isinstance(base_urls, str):
        base_urls = [u.strip() for u in base_urls.split(",") if u.strip()]
    if base_urls:
        updates["base_urls"] = list(base_urls)
    if replay_path:
        updates["replay_path"] = Path(replay_path)
    return make_backend(load_settings().model.model_copy(update=updates), **kwargs)
