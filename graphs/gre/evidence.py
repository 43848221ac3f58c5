"""Candidates and evidence: how checked claims confirm, move or reject a hypothesis.

A candidate's confidence is `sigmoid(logit(prior) + score)`: `prior` is the model's own
confidence, `score` the sum of the weights (log-odds) of the findings the checks made
(`Finding`). The weights are hand-set, documented guesses; `calibrate` refits the final mapping
from evaluation results (Platt scaling) when a user has them.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from gre_agent.agent.schemas import Hypothesis
from gre_agent.core.evidence import Effect, EvidenceItem
from gre_agent.core.geo import geodesic_km


class Finding(Enum):
    """Every kind of finding a check can make, with what it does to a candidate.

    Each row is (check, weight, effect, label). `weight` is log-odds added to the
    candidate's score: +1.0 multiplies the odds that the candidate is right by e (about
    2.7), -0.7 halves them, 0 records the finding without scoring it. `check` is the
    evidence kind stored in traces (`EvidenceItem.kind`); `effect` says how the finding
    is shown (see `core.evidence.Effect`); the weight's sign always matches it.
    """

    check: str
    weight: float
    effect: Effect
    label: str

    LOCATED = ("geocode", 0.0, "neutral", "a candidate known by name only was given coordinates")
    STREET_FOUND = ("street", 2.5, "confirm", "a street read in the image exists within the radius")
    SAME_STREET = ("street", 0.0, "neutral", "a street read twice, under two names (fi/sv signs)")
    # weak: the offline map may simply not cover the area
    STREET_MISSING = ("street", -0.2, "against", "no street of that name within the radius")
    INTERSECTION_FOUND = ("intersection", 3.0, "confirm", "two streets read in the image cross")
    NAME_FOUND = ("name", 1.0, "support", "a shop or sign name exists nearby in OSM")
    PLACE_NEAR = ("place", 1.0, "support", "a place name read in the image lies within the radius")
    PLACE_ELSEWHERE = ("place", -0.7, "against", "a clear place name lies in another country")
    PLACE_CANDIDATE = ("place", 1.0, "move", "a place name read in the image: a new candidate")
    LANDMARK_NEAR = ("landmark", 1.5, "support", "a landmark's Wikipedia position is within")
    LANDMARK_ELSEWHERE = ("landmark", -0.5, "against", "a landmark lies outside the radius")
    LANDMARK_CANDIDATE = ("landmark", 1.5, "move", "a landmark's position: a new candidate")
    IN_SEA = ("land", -2.0, "against", "the point is not on land")
    COUNTRY_MISMATCH = ("country", -0.5, "against", "the point lies in another country")
    DRIVING_SIDE_MATCH = ("driving_side", 0.3, "support", "the country drives on that side")
    DRIVING_SIDE_MISMATCH = ("driving_side", -1.5, "against", "it drives on the other side")
    LANGUAGE_MATCH = ("language", 0.3, "support", "the country speaks a language seen")
    LANGUAGE_MISMATCH = ("language", -0.5, "against", "it speaks none of the languages seen")
    # the country writes every distinctive script read in the image ...
    SCRIPT_MATCH = ("script", 0.5, "support", "the country writes the scripts read")
    # ... or none of them (Hangul read, candidate in Japan)
    SCRIPT_MISMATCH = ("script", -1.0, "against", "it writes none of the scripts read")
    # search: the evidence finds the place when no candidate fits it. A move's weight stays
    # below CONFIRMED_SCORE, so the new candidate is checked (next round) before it is kept.
    # A place name inside a business's name ("Pizzeria Napoli"): a weak lead, never against
    PLACE_IN_NAME = ("place", 0.3, "move", "a place name inside a business's name: a weak lead")
    STREET_SEARCHED = ("street", 1.5, "move", "a street found nowhere near, but once in the index")
    NAME_SEARCHED = ("name", 1.2, "move", "a shop or landmark name found once in the whole index")
    ADDRESS_FOUND = ("address", 3.0, "confirm", "the street address read exists within the radius")
    ADDRESS_CANDIDATE = ("address", 1.8, "move", "the street address read: a new candidate")
    # phone prefixes, domains, postal codes, currencies, country names in the texts
    COUNTRY_CLUE_MATCH = ("country_clue", 0.5, "support", "a country-level clue fits the country")
    COUNTRY_CLUE_MISMATCH = ("country_clue", -1.0, "against", "a country-level clue points away")
    COUNTRY_CANDIDATE = ("country_clue", 1.0, "move", "the country the clues point to, as a place")
    # text grounding (grounding.py): the model's quotes against the photo's own OCR. Per
    # candidate that a text's findings support, once per text; unscored rows (no
    # candidate) say the verdict of every text. An OCR miss is weak (small or stylised
    # print), so it stays above CONTRADICTS: alone it never makes the agent ask again.
    TEXT_SEEN_BY_BOTH = ("text", 0.5, "support", "the OCR read the text the model quotes too")
    TEXT_NOT_SEEN = ("text", -0.4, "against", "the OCR read legible text, not the quoted one")
    TEXT_FROM_OCR = ("text", 0.0, "neutral", "a legible OCR text the model did not mention")
    EXIF_GPS = ("exif", 4.0, "move", "the photo's own GPS tag")
    MODEL_REJECTED = ("model", -1.0, "against", "the model ruled the place out after the evidence")
    CHECK_FAILED = ("error", 0.0, "error", "a tool call failed")
    # model-driven verification: what the model's own calls returned, for it to weigh
    MODEL_TOOL_RESULT = ("model_tool", 0.0, "neutral", "a tool the model called answered")
    MODEL_TOOL_FAILED = ("model_tool", 0.0, "error", "a tool the model called failed")

    def __init__(self, check: str, weight: float, effect: Effect, label: str) -> None:
        self.check = check
        self.weight = weight
        self.effect = effect
        self.label = label

    def record(
        self,
        candidate: Candidate | None,
        *,
        claim: str,
        summary: str,
        tool: str | None = None,
        args: dict[str, Any] | None = None,
        error: str | None = None,
        round: int = 0,
    ) -> EvidenceItem:
        """The evidence of this finding; scores the candidate (if any) by the weight."""
        if candidate is not None:
            candidate.score += self.weight
        return EvidenceItem(
            claim=claim,
            kind=self.check,
            tool=tool,
            args=args or {},
            ok=error is None,
            error=error,
            summary=summary,
            effect=self.effect,
            weight=self.weight,
            candidate=candidate.label if candidate else None,
            candidate_key=candidate.key if candidate else None,
            round=round,
        )


CONFIRMED_SCORE = 2.0  # a candidate at or above this is "confirmed"
# A finding this strongly against a candidate contradicts it (another country, the wrong
# driving side or script): in single-pass, what makes the agent ask the model again.
CONTRADICTS = -0.5
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
