"""The committed answer for one image: what the graph returns, the trace's last event holds,
and evaluations score."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Prediction(BaseModel):
    """What the agent commits to for one image."""

    status: Literal["ok", "fallback", "failed"] = "ok"
    lat: float | None = None
    lon: float | None = None
    place: str | None = Field(None, description="Reverse-geocoded name of the point.")
    admin1: str | None = None
    country_code: str | None = None
    confidence: float = 0.0
    raw_confidence: float = Field(0.0, description="Before calibration (what a fit uses).")
    calibrated: bool = Field(False, description="A fitted calibration was applied.")
    mode: Literal["agent", "single"] = "agent"
    reasoning: str = ""
    evidence: list[str] = Field(default_factory=list, description="Supporting evidence lines.")
    answer_text: str = Field("", description="The answer in GRE's own format.")
    hypotheses: list[dict[str, Any]] = Field(default_factory=list, description="Ranked, final.")
    rounds: int = 0
    tool_calls: int = Field(
        0, description="Tool calls of the run, the reverse geocode naming the answer included."
    )
    tool_errors: int = 0
    model_calls: int = Field(0, description="Model calls of the run (each a generation).")
    prompt_tokens: int = Field(0, description="Prompt tokens sent, all model calls together.")
    cached_tokens: int = Field(0, description="Of those, served from the server's prefix cache.")
    completion_tokens: int = Field(0, description="Tokens generated, all model calls together.")
    elapsed_s: float = 0.0

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def osm_url(self) -> str | None:
        if self.lat is None or self.lon is None:
            return None
        return f"https://www.openstreetmap.org/?mlat={self.lat:.6f}&mlon={self.lon:.6f}#map=15/{self.lat:.6f}/{self.lon:.6f}"
