"""Arguments and results of the country family."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gre_agent.tools.types import CountryCode, Latitude, Longitude


class FactsArgs(BaseModel):
    country_code: CountryCode


class CountryFacts(BaseModel):
    code: str = Field(description="ISO 3166-1 alpha-2 code, upper case.")
    name: str = Field(description="Common English name.")
    capital: str | None = None
    continent: str | None = Field(None, description="e.g. Europe, North America, Oceania.")
    languages: list[str] = Field(default_factory=list, description="English language names.")
    driving_side: Literal["left", "right"] | None = None
    calling_code: str | None = Field(None, description="International dialling prefix, '+358'.")
    tld: str | None = Field(None, description="Country-code top-level domain, '.fi'.")
    currency: str | None = Field(None, description="ISO 4217 code of the main currency.")
    currency_name: str | None = None
    neighbours: list[str] = Field(
        default_factory=list, description="Alpha-2 codes of the countries sharing a land border."
    )
    source: Literal["geonames", "restcountries"] = Field(description="Where the facts came from.")


class GeoCheckArgs(BaseModel):
    lat: Latitude
    lon: Longitude


class NearestPlace(BaseModel):
    name: str
    admin1: str | None = None
    country_code: str
    distance_km: float


class GeoCheckResult(BaseModel):
    on_land: bool = Field(description="Land per the 1 km GLOBE mask (most lakes count as land).")
    timezone: str | None = Field(None, description="IANA zone; Etc/GMT±N out at sea.")
    country_code: str | None = Field(
        None,
        description="Country of the nearest populated place, when the point is on land or "
        "within 22 km (12 nautical miles) of that place; null out at sea.",
    )
    country_name: str | None = None
    nearest_place: NearestPlace | None = Field(
        None, description="Nearest place of 1000+ inhabitants (GeoNames cities1000)."
    )
