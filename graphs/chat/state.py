"""State of the chat graph: the conversation plus what the GRE agent found, kept so that
follow-up questions are answered from it without running the agent again.

Messages are LangChain messages (so LangGraph's chat UIs can show them): a user message
may carry its photo's path in `additional_kwargs["image"]`, an assistant message its
structured reply (events.Reply as JSON) in `additional_kwargs["reply"]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages


@dataclass(kw_only=True)
class InputState:
    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    """The conversation; a turn's input is the user's new message."""

    image: str | None = None
    """A new photo sent with this message (a path); taken in and cleared by the router."""


@dataclass(kw_only=True)
class ChatState(InputState):
    intent: str | None = None
    """What the last user message asks (events.Intent)."""

    text: str = ""
    """The last user message's text (without a command prefix)."""

    photo: str | None = None
    """The photo under discussion."""

    hints: list[str] = field(default_factory=list)
    """What the user said about this photo; cleared when a new photo comes."""

    base: dict[str, Any] | None = None
    """The agent's perception of the photo (conversation and stage outputs up to the
    semantic stage), from which a hint re-runs hypotheses and verification."""

    run: dict[str, Any] | None = None
    """The last GRE run on this photo (runs.compact_run): prediction, hypotheses,
    evidence, tool calls, decisions, trace path."""

    runs: int = 0
    """GRE runs in this session."""

    reply: dict[str, Any] | None = None
    """The reply to the last user message (events.Reply as JSON)."""
