"""A scripted model: a test double that answers each stage of the graph from a script."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from gre_agent.agent.backends import (
    BaseBackend,
    Completion,
    Message,
    Usage,
    as_messages,
    emit_text,
)

STAGES = {
    "Stage 1 of 6": "scene",
    "Stage 2 of 6": "detail",
    "Stage 3 of 6": "semantic",
    "Stage 4 of 6": "hypotheses",
    "Stage 5 of 6": "verification",
    "I could not read any candidate place": "repair",
    "Where was this photo taken?": "gre",
    "Give only your best coordinates": "gre_repair",
    "Chat question:": "chat",  # the chat graph's free-form questions (graphs/chat/prompts.py)
}

Answer = str | Callable[[list[Message]], str | Completion]


def stage_of(messages: list[Message]) -> str:
    last = next(m for m in reversed(messages) if m.role == "user").text
    for marker, stage in STAGES.items():
        if marker in last:
            return stage
    raise AssertionError(f"unknown prompt: {last[:80]!r}")


class ScriptedBackend(BaseBackend):
    """Answers by stage; a list answers successive calls of that stage in turn."""

    name = "scripted"
    model = "scripted"

    def __init__(self, script: dict[str, Answer | Sequence[Answer]]):
        self.script = script
        self.calls: list[tuple[str, list[Message]]] = []

    async def complete(self, messages: Any, **kwargs: Any) -> Completion:
        msgs = as_messages(messages)
        stage = stage_of(msgs)
        n = sum(1 for s, _ in self.calls if s == stage)
        self.calls.append((stage, msgs))
        answer = self.script.get(stage, "")
        if isinstance(answer, list | tuple):
            answer = answer[min(n, len(answer) - 1)]
        if callable(answer):
            answer = answer(msgs)
        if isinstance(answer, Completion):
            return emit_text(kwargs.get("on_text"), answer)
        prompt_tokens = sum(len(re.findall(r"\S+", m.text)) for m in msgs)
        completion = Completion(
            text=answer,
            backend="scripted",
            model=self.model,
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=len(answer.split())),
        )
        return emit_text(kwargs.get("on_text"), completion)

    def stages(self) -> list[str]:
        return [s for s, _ in self.calls]


def gre_model(answer: str) -> ScriptedBackend:
    """A GRE model: it answers every prompt in its own format, whatever it is asked."""
    stages = ("gre", "scene", "detail", "semantic", "hypotheses", "verification")
    return ScriptedBackend({stage: answer for stage in stages})
