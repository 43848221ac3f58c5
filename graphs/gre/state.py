"""State of the GRE agent graph.

Everything in the state is plain JSON (dicts, lists, strings), so any checkpointer can
store it and a trace can be rebuilt from it, except `tool_messages`: the LangChain
messages the ToolNode of model-driven verification reads and answers (LangGraph's
serializers store those too). Stage outputs are the `model_dump()` of the pydantic
models in `gre_agent.agent.schemas`.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


@dataclass(kw_only=True)
class InputState:
    image: str
    """Path of the photo to locate."""

    hints: list[str] = field(default_factory=list)
    """What the user knows ("taken in winter", "I think it is Finland"): extra context."""


@dataclass(kw_only=True)
class State(InputState):
    messages: list[dict[str, Any]] = field(default_factory=list)
    """The one conversation with the model (Message dicts); the image is in the first turn."""

    answer: str | None = None
    """Single-pass: the model's one staged answer, which every stage node reads."""

    scene: dict[str, Any] | None = None
    """Stage 1: Scene."""

    details: dict[str, Any] | None = None
    """Stage 2: Details."""

    semantics: dict[str, Any] | None = None
    """Stage 3: Semantics."""

    hypotheses: list[dict[str, Any]] = field(default_factory=list)
    """Ranked candidates (Candidate dicts), best first, with their evidence scores."""

    initial: dict[str, Any] | None = None
    """The best candidate before verification (for 'did verification change the answer')."""

    evidence: Annotated[list[dict[str, Any]], operator.add] = field(default_factory=list)
    """Checked claims (EvidenceItem dicts), all rounds."""

    grounding: dict[str, Any] | None = None
    """The model's texts against the photo's OCR (grounding.Grounding), from round 1."""

    checked: list[str] = field(default_factory=list)
    """Keys of checks already run, so a later round does not repeat them."""

    round: int = 0
    """Verification rounds begun (the current one included)."""

    tool_calls: int = 0
    """Tool calls made."""

    tool_errors: int = 0
    """Tool calls that ended in an error."""

    started_at: float = 0.0
    """time.time() when the run began (wall-time budget)."""

    tool_messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    """Model-driven verification: the calls the ToolNode may run and its answers."""

    tool_steps: int = 0
    """Model turns with tools in the current round (model-driven verification)."""

    decision: Literal["commit", "refine"] | None = None
    """The last decision."""

    decision_reason: str = ""
    """Why it was taken."""

    prediction: dict[str, Any] | None = None
    """The committed Prediction."""

    trace: Annotated[list[dict[str, Any]], operator.add] = field(default_factory=list)
    """Trace events of this run, in order (see core/trace.py)."""
