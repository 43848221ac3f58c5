"""What a chat turn produces: progress events, then one reply (the public types of the API)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Intent = Literal[
    "locate",  # a new photo: run the GRE agent
    "hint",  # the user adds what they know: re-verify with it
    "recheck",  # check again with the hints so far
    "why",  # why this answer / why not X
    "evidence",  # what the tools said
    "alternatives",  # the other hypotheses, rejected ones
    "confidence",  # how sure, and why
    "answer",  # restate the answer
    "help",
    "chat",  # anything else: a short answer from the model, or the help text
    "error",  # bad input (empty message, unusable image): said in the chat
]


class Reply(BaseModel):
    """The assistant's answer to one user message."""

    intent: Intent
    text: str = Field(description="What the assistant says (plain text, a few lines).")
    prediction: dict[str, Any] | None = Field(
        None, description="The current answer (graphs.gre.Prediction as JSON), if any."
    )
    evidence: list[str] = Field(default_factory=list, description="Evidence lines to show.")
    hypotheses: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Ranked candidates (place, country_code, lat, lon, radius_km, confidence, "
        "status, label) for a map.",
    )
    initial: dict[str, Any] | None = Field(None, description="Best candidate before checking.")
    image: str | None = Field(None, description="The photo under discussion.")
    hints: list[str] = Field(default_factory=list, description="The user's hints so far.")
    trace_path: str | None = Field(None, description="Trace of the GRE run behind the answer.")
    error: str | None = Field(None, description="Why the message could not be handled.")

    @property
    def osm_url(self) -> str | None:
        p = self.prediction or {}
        if p.get("lat") is None or p.get("lon") is None:
            return None
        lat, lon = p["lat"], p["lon"]
        return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=15/{lat:.6f}/{lon:.6f}"


class ChatEvent(BaseModel):
    """One item of `ChatService.send`'s stream: the model's text as it is written (when the
    context streams text), progress lines, then one reply."""

    type: Literal["text", "progress", "reply"]
    session_id: str
    stage: str | None = Field(
        None, description="progress: the GRE node that finished; text: the model call's stage."
    )
    text: str = Field(
        "", description="progress: one line on what the stage produced; text: the next piece."
    )
    reply: Reply | None = Field(None, description="reply: the answer.")


class Turn(BaseModel):
    """One message of a session's history."""

    role: Literal["user", "assistant"]
    text: str
    image: str | None = None
    reply: Reply | None = None


class SessionInfo(BaseModel):
    id: str
    title: str = ""
    created: float = 0.0
    updated: float = 0.0
    turns: int = 0
    interrupted: bool = Field(False, description="The last answer was cut off (see resume).")
