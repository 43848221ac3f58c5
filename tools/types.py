"""Argument types shared by tools."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

Latitude = Annotated[
    float, Field(ge=-90.0, le=90.0, allow_inf_nan=False, description="WGS-84 latitude in degrees")
]
Longitude = Annotated[
    float,
    Field(ge=-180.0, le=180.0, allow_inf_nan=False, description="WGS-84 longitude in degrees"),
]
CountryCode = Annotated[
    str, Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 country code")
]
