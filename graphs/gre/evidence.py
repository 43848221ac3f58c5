"""Candidates and evidence: how checked claims confirm, move or reject a hypothesis.

A candidate's confidence is `sigmoid(logit(prior) + score)`: `prior` is the model's own
confidence, `score` the sum of the evidence weights (log-odds) the tools produced. The
weights below are hand-set, documented guesses; `calibrate` refits the final mapping
from evaluation results (Platt scaling) when a user has them.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from gre_agent.agent.schemas import Hypothesis
from gre_agent.core.geo import geodesic_km

Effect = Literal["confirm", "support", "against", "reject", "move", "neutral", "error"]

# Log-odds each kind of finding adds to a candidate.
WEIGHTS: dict[str, float] = {
    "street_found": 2.5,  # a street read in the image exists within the candidate's radius
    "intersection_found": 3.0,  # two streets read in the image cross there
    "name_found": 1.0,  # a shop/sign name exists nearby in OSM
    "place_near": 1.0,  # a place name read in the image lies within the radius
    "landmark_near": 1.5,  # a landmark's Wikipedia coordinates lie within the radius
    "place_elsewhere": -0.7,  # a clear place name in the image lies in another country
    "landmark_elsewhere": -0.5,
    "street_missing": -0.2,  # weak: the offline map may simply not cover the area
    "in_sea": -2.0,  # the point is not on land
    "country_mismatch": -0.5,  # the point is in another country than the candidate says
    "driving_side_match": 0.3,
    "driving_side_mismatch": -1.5,
    "language_match": 0.3,
    "script_match": 0.5,  # the country writes every distinctive script read in the image
    "script_mismatch": -1.0,  # it writes none of them (Hangul read, candidate in Japan)
    "language_mismatch": -0.5,
    "model_rejected": -1.0,  # the model itself ruled the place out after the evidence
    "exif_gps": 4.0,  # the photo's own GPS tag
    "neutral": 0.0,  # a finding worth recording that moves no score
}
CONFIRMED_SCORE = 2.0  # a candidate at or above this is "confirmed"
REJECTED_SCORE = -2.5


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def logit(p: float) -> float:
    p = min(max(p, 1e-3), 1 - 1e-3)
    return math.log(p / (1 - p))


class Candidate(BaseModel):
    """A hypothesis the agent is checking."""

    place: str | None = None
    country: str | None = None
    country_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    radius_km: float = 50.0
    prior: float = Field(0.5, ge=0, le=1, description="The model's own confidence.")
    score: float = Field(0.0, description="Evidence log-odds so far.")
    snapped_to: str | None = Field(None, description="What the coordinates were moved onto.")
    snap_weight: float = Field(0.0, description="Strength of that snap (a stronger one wins).")
    origin: Literal["model", "evidence", "fallback"] = "model"
    model_evidence: list[str] = Field(default_factory=list)
    key: str = Field("", description="Stable id for 'checked already' bookkeeping.")

    @model_validator(mode="after")
    def _stable_key(self) -> Candidate:
        if not self.key:
            where = f"{self.lat:.3f},{self.lon:.3f}" if self.located else ""
            self.key = f"{self.place or ''}|{self.country_code or ''}|{where}"
        return self

    @classmethod
    def from_hypothesis(cls, h: Hypothesis, origin: str = "model") -> Candidate:
        return cls(
            place=h.place,
            country=h.country,
            country_code=h.country_code,
            lat=h.lat,
            lon=h.lon,
            radius_km=min(max(h.radius_km or 50.0, 0.5), 2500.0),
            prior=0.5 if h.confidence is None else h.confidence,
            origin=origin,
            model_evidence=list(h.evidence),
        )

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def confidence(self) -> float:
        return sigmoid(logit(self.prior) + self.score)

    @property
    def status(self) -> Literal["confirmed", "rejected", "open"]:
        if self.score >= CONFIRMED_SCORE:
            return "confirmed"
        if self.score <= REJECTED_SCORE:
            return "rejected"
        return "open"

    @property
    def label(self) -> str:
        where = ", ".join(p for p in (self.place, self.country_code or self.country) if p)
        if self.located:
            where += f" ({self.lat:.4f}, {self.lon:.4f})"
        return where or "unnamed candidate"

    def distance_to(self, lat: float, lon: float) -> float | None:
        if not self.located:
            return None
        return geodesic_km(self.lat, self.lon, lat, lon)  # type: ignore[arg-type]

    def within(self, lat: float, lon: float, slack: float = 1.0) -> bool:
        d = self.distance_to(lat, lon)
        return d is not None and d <= self.radius_km * slack

    def snap(self, lat: float, lon: float, what: str, weight: float, radius_km: float) -> None:
        """Move onto a checked feature, unless a stronger snap already happened."""
        if weight <= self.snap_weight:
            return
        self.lat, self.lon, self.snapped_to, self.snap_weight = lat, lon, what, weight
        self.radius_km = min(self.radius_km, radius_km)

    def summary(self) -> dict[str, Any]:
        data = self.model_dump()
        data.update(confidence=round(self.confidence, 4), status=self.status)
        return data


class EvidenceItem(BaseModel):
    """One checked claim and what it did to a candidate."""

    claim: str
    kind: str = Field(description="street, intersection, name, place, landmark, land, ...")
    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    ok: bool = True
    error: str | None = None
    summary: str = ""
    effect: Effect = "neutral"
    weight: float = 0.0
    candidate: str | None = Field(None, description="The candidate's label when checked.")
    candidate_key: str | None = Field(None, description="Candidate.key of that candidate.")
    round: int = 0

    @property
    def supports(self) -> bool | None:
        if self.weight > 0:
            return True
        if self.weight < 0:
            return False
        return None

    def line(self) -> str:
        """How the evidence is shown to the model and to people."""
        verdict = {True: "supports", False: "contradicts", None: "neutral"}[self.supports]
        target = f" [{self.candidate}]" if self.candidate else ""
        source = self.tool or "reasoning"
        return f"- {self.claim}{target} | {source} | {self.summary} | {verdict}"


def ranked(candidates: list[Candidate]) -> list[Candidate]:
    """Best first: located before unlocated, then by confidence."""
    return sorted(candidates, key=lambda c: (c.located, c.confidence), reverse=True)


def same_place(a: Candidate, b: Candidate) -> bool:
    """Two candidates denote the same place (by name and country, or by overlap)."""
    if a.place and b.place and a.place.casefold() == b.place.casefold():
        return (a.country_code or b.country_code) is None or a.country_code == b.country_code
    if a.located and b.located:
        d = geodesic_km(a.lat, a.lon, b.lat, b.lon)  # type: ignore[arg-type]
        return d <= max(1.0, min(a.radius_km, b.radius_km) * 0.5)
    return False


def calibrate(scores: list[float], correct: list[bool]) -> tuple[float, float]:
    """Platt scaling: (a, b) with P(correct) = sigmoid(a * logit(confidence) + b).

    Fit on an evaluation's (confidence, correct-within-threshold) pairs; identity (1, 0)
    when there is too little data or only one class.
    """
    import numpy as np
    from scipy.optimize import minimize

    if len(scores) < 10 or len(set(correct)) < 2:
        return 1.0, 0.0
    x = np.array([logit(s) for s in scores])
    y = np.array(correct, dtype=float)
    ridge = 1.0  # a weak pull towards the identity (a=1, b=0): unique even if x is constant

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] * x + theta[1]
        # log(1 + e^z) - y z, written to stay finite for any z
        nll = np.sum(np.logaddexp(0.0, z) - y * z)
        p = 1 / (1 + np.exp(-np.clip(z, -50, 50)))
        pull = theta - np.array([1.0, 0.0])
        grad = np.array([np.sum((p - y) * x), np.sum(p - y)]) + ridge * pull
        return float(nll + 0.5 * ridge * pull @ pull), grad

    a, b = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B").x
    return float(a), float(b)
