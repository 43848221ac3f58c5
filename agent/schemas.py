"""Pydantic models of every stage the model goes through, and of its answers.

Every stage model is *partial-friendly*: all fields have defaults, so a stage the model
only half answered still validates. Coordinates are the one strict thing: a latitude is
in [-90, 90], a longitude in [-180, 180], both finite, checked at the edges.

Stages in graph order: Scene -> Details -> Semantics -> Hypotheses -> Verification ->
FinalAnswer. ThinkSections holds GRE's own `<think>` block, cut into numbered sections.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# One coordinate check for the whole package; re-exported here for the stage models' users.
from gre_agent.core.geo import Coordinates as Coordinates
from gre_agent.core.geo import Latitude as Latitude
from gre_agent.core.geo import Longitude as Longitude

DrivingSide = Literal["left", "right"]
Decision = Literal["commit", "refine"]


class StageModel(BaseModel):
    """Base of the stage models: tolerant of extra keys (prompts.format_stage shows them)."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    def is_empty(self) -> bool:
        """True when no field other than `notes` holds anything."""
        data = self.model_dump(exclude_none=True, exclude_defaults=True)
        data.pop("notes", None)
        return not data


class Scene(StageModel):
    """Stage 1, scene attributes: the broad setting, read before any detail."""

    setting: str | None = Field(None, description="urban, suburban, rural, natural, landmark…")
    terrain: str | None = Field(None, description="flat, hilly, mountains, coast, desert…")
    vegetation: str | None = Field(None, description="plants, trees, biome")
    climate: str | None = Field(None, description="climate the scene suggests")
    architecture: str | None = Field(None, description="building styles, materials, roofs")
    road_type: str | None = Field(None, description="road surface, width, kerbs, lanes")
    notes: str | None = Field(None, description="anything else, and unparsed text")


class Details(StageModel):
    """Stage 2, local details: what can be read or pointed at in the image."""

    texts: list[str] = Field(default_factory=list, description="text read verbatim")
    signs: list[str] = Field(default_factory=list, description="road and shop signs")
    license_plates: list[str] = Field(default_factory=list, description="plate shapes/colours")
    road_markings: list[str] = Field(default_factory=list, description="lines, colours")
    poles_bollards: list[str] = Field(default_factory=list, description="utility poles, bollards")
    shops_brands: list[str] = Field(default_factory=list, description="shops, brands, chains")
    landmarks: list[str] = Field(default_factory=list, description="named or notable structures")
    transport: str | None = Field(None, description="vehicles, traffic, transit context")
    notes: str | None = None


class Semantics(StageModel):
    """Stage 3, semantic features: what the details mean about the place."""

    languages: list[str] = Field(default_factory=list)
    scripts: list[str] = Field(default_factory=list, description="Latin, Cyrillic, Hangul…")
    brands: list[str] = Field(default_factory=list)
    cultural_cues: list[str] = Field(default_factory=list)
    driving_side: DrivingSide | None = None
    country_hints: list[str] = Field(default_factory=list, description="countries suggested")
    notes: str | None = None


class Hypothesis(StageModel):
    """One candidate place with the evidence for it."""

    place: str | None = Field(None, description="place name, most specific first")
    country: str | None = None
    country_code: str | None = Field(None, description="ISO 3166-1 alpha-2, upper case")
    lat: Latitude | None = None
    lon: Longitude | None = None
    radius_km: float | None = Field(None, gt=0, description="how far off it may be")
    confidence: float | None = Field(None, ge=0, le=1)
    evidence: list[str] = Field(default_factory=list)

    @field_validator("country_code")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if len(value) != 2 or not value.isalpha():
            raise ValueError(f"country_code {value!r} is not ISO 3166-1 alpha-2")
        return value

    @property
    def coordinates(self) -> Coordinates | None:
        if self.lat is None or self.lon is None:
            return None
        return Coordinates(lat=self.lat, lon=self.lon)


class Hypotheses(StageModel):
    """Stage 4: ranked candidate places, best first."""

    hypotheses: list[Hypothesis] = Field(default_factory=list)
    notes: str | None = None

    @property
    def best(self) -> Hypothesis | None:
        return self.hypotheses[0] if self.hypotheses else None


class Verification(StageModel):
    """Stage 5: evidence in, revised ranked hypotheses out."""

    hypotheses: list[Hypothesis] = Field(default_factory=list, description="revised, best first")
    rejected: list[str] = Field(default_factory=list, description="places ruled out, and why")
    findings: list[str] = Field(default_factory=list, description="what the evidence showed")
    checks_wanted: list[str] = Field(default_factory=list, description="further checks to run")
    decision: Decision | None = Field(None, description="commit now, or refine with more checks")
    notes: str | None = None

    @property
    def best(self) -> Hypothesis | None:
        return self.hypotheses[0] if self.hypotheses else None


class FinalAnswer(StageModel):
    """Stage 6: the committed answer. lat/lon may be missing if the model gave none."""

    lat: Latitude | None = None
    lon: Longitude | None = None
    place: str | None = None
    country: str | None = None
    confidence: float | None = Field(None, ge=0, le=1)
    reasoning: str | None = Field(None, description="short summary of why")
    notes: str | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> FinalAnswer:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon come together")
        return self

    @property
    def coordinates(self) -> Coordinates | None:
        if self.lat is None or self.lon is None:
            return None
        return Coordinates(lat=self.lat, lon=self.lon)


class ThinkSection(BaseModel):
    """One numbered section of a GRE `<think>` block."""

    key: str = Field(description="normalised name, e.g. 'textual_clues'")
    title: str = Field(description="the heading as written")
    number: int | None = None
    text: str = ""


class ThinkSections(BaseModel):
    """GRE's reasoning cut into sections, in order, plus every quoted string verbatim."""

    sections: list[ThinkSection] = Field(default_factory=list)
    preamble: str = Field("", description="text before the first section")
    quoted: list[str] = Field(default_factory=list, description="quoted strings, verbatim")
    think: str = Field("", description="the whole reasoning text")

    def get(self, key: str, default: str | None = None) -> str | None:
        """Text of the section(s) with this normalised key, joined; `default` if none."""
        texts = [s.text for s in self.sections if s.key == key]
        return "\n".join(texts) if texts else default

    def as_dict(self) -> dict[str, str]:
        """Normalised key -> text, first-seen order; repeated keys are joined."""
        out: dict[str, str] = {}
        for s in self.sections:
            out[s.key] = f"{out[s.key]}\n{s.text}" if s.key in out else s.text
        return out

    def keys(self) -> list[str]:
        return list(self.as_dict())


STAGE_MODELS: dict[str, type[StageModel]] = {
    "scene": Scene,
    "detail": Details,
    "semantic": Semantics,
    "hypotheses": Hypotheses,
    "verification": Verification,
    "final": FinalAnswer,
}
"""Stage name (as used by the prompts and the graph) -> model."""
