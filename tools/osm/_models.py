"""Arguments and results of the OSM tools (shared by both backends)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from gre_agent.tools.types import CountryCode, Latitude, Longitude

Radius = Annotated[float, Field(ge=1.0, le=50_000.0, description="Search radius in metres.")]
Limit = Annotated[int, Field(ge=1, le=500, description="Most features to return.")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
TagKey = Annotated[str, Field(min_length=1, max_length=100)]
Tags = dict[TagKey, Annotated[str, Field(max_length=200)] | None]

TAGS_HELP = 'OSM tags to match: key -> value, or null for any value ({"amenity": "cafe"}).'


class Around(BaseModel):
    lat: Latitude
    lon: Longitude
    radius_m: Radius = 1000.0


class FeaturesNearArgs(BaseModel):
    lat: Latitude
    lon: Longitude
    radius_m: Radius = 500.0
    tags: Tags = Field(default_factory=dict, description=TAGS_HELP)
    name: Name | None = Field(None, description="Name contains this (any case, any accents).")
    limit: Limit = 50

    @model_validator(mode="after")
    def _something_to_match(self) -> FeaturesNearArgs:
        if not self.tags and not self.name:
            raise ValueError("give tags or a name to look for")
        return self


class FindNamedArgs(BaseModel):
    name: Name = Field(description="Name contains this (any case, any accents).")
    tags: Tags = Field(default_factory=dict, description=TAGS_HELP)
    bbox: tuple[Latitude, Longitude, Latitude, Longitude] | None = Field(
        None, description="[south, west, north, east] in degrees, at most 2 degrees a side."
    )
    around: Around | None = None
    everywhere: bool = Field(
        False,
        description="Search the whole offline index (online: within `country_code`, else "
        "the planet, under Overpass's timeout) instead of bbox or around.",
    )
    country_code: CountryCode | None = Field(None, description="With everywhere: one country.")
    limit: Limit = 20

    @model_validator(mode="after")
    def _one_area(self) -> FindNamedArgs:
        if sum((self.bbox is not None, self.around is not None, self.everywhere)) != 1:
            raise ValueError("give exactly one of bbox, around or everywhere")
        if self.bbox is not None:
            south, west, north, east = self.bbox
            if not (south <= north and west <= east):
                raise ValueError("bbox must be [south, west, north, east] with south <= north")
            if north - south > 2.0 or east - west > 2.0:
                raise ValueError("bbox is larger than 2 degrees a side")
        return self


class StreetIntersectionArgs(BaseModel):
    street_a: Name
    street_b: Name
    near: Around | None = Field(None, description="Only crossings within this circle.")
    limit: Limit = 10

    @model_validator(mode="after")
    def _two_streets(self) -> StreetIntersectionArgs:
        if self.street_a.strip().casefold() == self.street_b.strip().casefold():
            raise ValueError("street_a and street_b must differ")
        return self


class FindAddressArgs(BaseModel):
    street: Name = Field(description="The street as written on the sign or door.")
    housenumber: Annotated[str, Field(min_length=1, max_length=20)] = Field(
        description='The house number, "12", "12 B", "12b".'
    )
    city: Annotated[str, Field(max_length=200)] | None = None
    country_code: CountryCode | None = None
    around: Around | None = Field(None, description="Only addresses within this circle.")
    limit: Limit = 5


class Feature(BaseModel):
    osm_type: Literal["node", "way", "relation"]
    osm_id: int
    lat: float = Field(description="The node, or the centre of a way or relation.")
    lon: float
    name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    distance_m: float | None = Field(None, description="From the query point, if any.")


class FeaturesResult(BaseModel):
    features: list[Feature]
    source: Literal["overpass", "local", "nominatim"]
