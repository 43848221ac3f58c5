"""Per-run settings of the chat graph: the GRE agent's settings plus the chat's own."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from gre_agent.graphs.gre.context import Context


@dataclass(kw_only=True)
class ChatContext(Context):
    trace_dir: str | None = None
    """Where the GRE runs' traces go; None: $GRE_HOME/traces/chat."""

    recheck: Literal["verify", "full"] = "verify"
    """How a hint is used. verify: keep the scene/detail/semantic stages already read and
    re-run hypotheses -> verify -> decide -> commit with the hints (the hints reach the
    hypothesis prompt, the verification prompt and the checked claims). full: re-run the
    whole agent with the hints."""

    router: Literal["rules", "model"] = "rules"
    """rules: commands and keywords decide what a message asks. model: the model is asked
    too when the rules find nothing (off by default: the GRE model is no chat model)."""

    chat_model: bool = True
    """Answer free-form questions with the model (falls back to the help text when the
    model cannot be reached). Questions about the answer never need the model."""


def gre_context(ctx: Context) -> Context:
    """The GRE agent's part of a chat context."""
    names = {f.name for f in dataclasses.fields(Context)}
    return Context(**{n: getattr(ctx, n) for n in names})
