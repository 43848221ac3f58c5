"""The committed prediction: coordinates, place, country, confidence, evidence, GRE text."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from gre_agent.graphs.gre.calibration import IDENTITY, Calibration
from gre_agent.graphs.gre.evidence import Candidate, EvidenceItem
from gre_agent.tools import Registry

# Confidence lost per failed tool call: an answer that could not be checked is less sure.
ERROR_PENALTY = 0.3


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
    tool_calls: int = 0
    tool_errors: int = 0
    elapsed_s: float = 0.0

    @property
    def osm_url(self) -> str | None:
        if self.lat is None or self.lon is None:
            return None
        return f"https://www.openstreetmap.org/?mlat={self.lat:.6f}&mlon={self.lon:.6f}#map=15/{self.lat:.6f}/{self.lon:.6f}"


def gre_answer_text(lat: float, lon: float, reasoning: str) -> str:
    """GRE's output format, so the answer parses like the GRE model's own."""
    think = reasoning.strip() or "No reasoning recorded."
    return (
        f'<think> {think} </think> <answer> "Latitude": "{lat:.4f}°", '
        f'"Longitude": "{lon:.4f}°" </answer>'
    )


def _reasoning(best: Candidate, evidence: list[EvidenceItem]) -> str:
    lines = [f"Best candidate: {best.label} ({best.status}, confidence {best.confidence:.2f})."]
    if best.snapped_to:
        lines.append(f"Coordinates snapped to {best.snapped_to}.")
    for e in evidence:
        if e.candidate_key == best.key and e.weight != 0:
            lines.append(f"{e.claim}: {e.summary}.")
    return " ".join(lines[:8])


async def build_prediction(
    registry: Registry,
    cands: list[Candidate],
    evidence: list[EvidenceItem],
    state: Any,
    mode: Literal["agent", "single"],
    answer_text: str | None = None,
    calibration: Calibration = IDENTITY,
) -> tuple[Prediction, list[dict[str, Any]]]:
    """Turn the best located candidate into a Prediction (reverse geocoded)."""
    events: list[dict[str, Any]] = []
    located = [c for c in cands if c.located]
    elapsed = time.time() - state.started_at if getattr(state, "started_at", 0) else 0.0
    common = {
        "mode": mode,
        "rounds": getattr(state, "round", 0),
        "tool_calls": getattr(state, "tool_calls", 0),
        "tool_errors": getattr(state, "tool_errors", 0),
        "elapsed_s": elapsed,
        "hypotheses": [c.summary() for c in cands],
    }
    if not located:
        return Prediction(
            status="failed",
            reasoning="No candidate place could be read from the "
            "model's answers or located with the tools.",
            **common,
        ), events
    best = located[0]
    raw = best.confidence * (1 - ERROR_PENALTY) ** min(common["tool_errors"], 5)
    conf = calibration.apply(raw)
    outcome = await registry.get("gazetteer.reverse").run({"lat": best.lat, "lon": best.lon})
    events.append(
        {
            "type": "tool_call",
            "round": common["rounds"],
            "claim": "name of the answer",
            **outcome.model_dump(mode="json"),
        }
    )
    rev = outcome.result or {}
    supporting = [e for e in evidence if e.candidate_key == best.key and e.weight > 0]
    reasoning = _reasoning(best, evidence) if mode == "agent" else "Single-shot GRE answer."
    prediction = Prediction(
        status="fallback" if best.origin == "fallback" else "ok",
        lat=best.lat,
        lon=best.lon,
        place=rev.get("name") or best.place,
        admin1=rev.get("admin1"),
        country_code=rev.get("country_code") or best.country_code,
        confidence=round(conf, 4),
        raw_confidence=round(raw, 4),
        calibrated=calibration is not IDENTITY,
        reasoning=reasoning,
        evidence=[f"{e.claim}: {e.summary}" for e in supporting],
        answer_text=answer_text
        if mode == "single" and answer_text
        else gre_answer_text(best.lat, best.lon, reasoning),  # type: ignore[arg-type]
        **common,
    )
    return prediction, events
