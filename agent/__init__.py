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
    # prompts, parsers and stage schemas
    "AnswerParseError": "gre_agent.agent.parsing",
    "parse_answer": "gre_agent.agent.parsing",
    "try_parse_answer": "gre_agent.agent.parsing",
    "parse_think": "gre_agent.agent.parsing",
    "parse_stage": "gre_agent.agent.parsing",
    "extract_json": "gre_agent.agent.parsing",
    "Coordinates": "gre_agent.agent.schemas",
    "Scene": "gre_agent.agent.schemas",
    "Details": "gre_agent.agent.schemas",
    "Semantics": "gre_agent.agent.schemas",
    "Hypothesis": "gre_agent.agent.schemas",
    "Hypotheses": "gre_agent.agent.schemas",
    "Verification": "gre_agent.agent.schemas",
    "FinalAnswer": "gre_agent.agent.schemas",
    "ThinkSections": "gre_agent.agent.schemas",
    "STAGE_MODELS": "gre_agent.agent.schemas",
    "PromptError": "gre_agent.agent.prompts",
    "render_prompt": "gre_agent.agent.prompts:render",
    # model backends
    "Completion": "gre_agent.agent.backends",
    "Message": "gre_agent.agent.backends",
    "ModelBackend": "gre_agent.agent.backends",
    "ModelError": "gre_agent.agent.backends",
    "ToolCall": "gre_agent.agent.backends",
    "make_backend": "gre_agent.agent.backends",
}

__all__ = [
    "STAGE_MODELS",
    "AnswerParseError",
    "Completion",
    "Coordinates",
    "Details",
    "Effort",
    "EffortLevel",
    "EffortPolicy",
    "FinalAnswer",
    "Hypotheses",
    "Hypothesis",
    "ImageLoadError",
    "LocatabilityError",
    "LocatabilityScorer",
    "Message",
    "ModelBackend",
    "ModelError",
    "PromptError",
    "Scene",
    "Semantics",
    "ThinkSections",
    "ToolCall",
    "TrainConfig",
    "TrainReport",
    "Verification",
    "effort_for",
    "extract_json",
    "filter_locatable",
    "make_backend",
    "parse_answer",
    "parse_stage",
    "parse_think",
    "render_prompt",
    "try_parse_answer",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attr = module.partition(":")
    value = getattr(importlib.import_module(module), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
