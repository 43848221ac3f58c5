"""The model and its language: backends, prompts, parsers, schemas (model-layer issue)."""

from __future__ import annotations

import importlib
from typing import Any

# Re-exported lazily (on first attribute access): the locatability scorer imports torch and
# transformers (the `model` extra), which a user of the parsers alone should not pay for.
_LAZY = {
    "LocatabilityScorer": "gre_agent.agent.locatability",
    "LocatabilityError": "gre_agent.agent._locatability_base",
    "ImageLoadError": "gre_agent.agent._locatability_base",
    "TrainConfig": "gre_agent.agent.locatability",
    "TrainReport": "gre_agent.agent.locatability",
    "filter_locatable": "gre_agent.agent._locatability_base",
    "effort_for": "gre_agent.agent._locatability_base",
    "Effort": "gre_agent.agent._locatability_base",
    "EffortLevel": "gre_agent.agent._locatability_base",
    "EffortPolicy": "gre_agent.agent._locatability_base",
}

__all__ = [
    "Effort",
    "EffortLevel",
    "EffortPolicy",
    "ImageLoadError",
    "LocatabilityError",
    "LocatabilityScorer",
    "TrainConfig",
    "TrainReport",
    "effort_for",
    "filter_locatable",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
