"""Argument types shared by tools: core's coordinate types, described for the model."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from gre_agent.core import geo

Latitude = Annotated[geo.Latitude, Field(description="WGS-84 latitude in degrees")]
Longitude = Annotated[geo.Longitude, Field(description="WGS-84 longitude in degrees")]
CountryCode = Annotated[
    str, Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 country code")
]
