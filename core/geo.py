"""Coordinates and distances: the one home of latitude/longitude checks and distance formulas.

Conventions (the evaluations repeat them wherever results are reported):

- A latitude is a finite number of WGS-84 degrees in [-90, 90], a longitude in [-180, 180];
  both edges are valid. `Latitude`/`Longitude` check that in pydantic models,
  `check_latitude`/`check_longitude` for single numbers, `check_points` for arrays.
- Distance is geodesic on the WGS-84 ellipsoid by default (`geodesic_km`): pyproj's
  `Geod.inv` runs Karney's algorithm, as geopy's `geodesic` does (the call GRE, GeoCLIP, G3
  and GeoRanker make), so the two agree to well under a millimetre; pyproj does it in C for
  whole arrays (`geodesic_km_many`).
- Haversine on a sphere is the option (`haversine_km`, `haversine_km_many`): R = 6371.0 km
  by default, the sphere OSV-5M and GeoEstimation use; the map tools pass the IUGG mean
  radius (`MEAN_EARTH_RADIUS_KM`) instead.
- Accuracy at threshold T counts d <= T (see `gre_agent.evals.metrics`).

Distances are in km; callers that measure in metres multiply by 1000. The scalar forms are
for one pair at a time (no numpy overhead); the `_many` forms take arrays of equal length
(a plain number broadcasts against them) and refuse invalid coordinates.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pyproj import Geod

MAX_LATITUDE = 90.0
MAX_LONGITUDE = 180.0
EARTH_RADIUS_KM = 6371.0  # the sphere OSV-5M and GeoEstimation use: the haversine default
MEAN_EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius: what the map tools measure with

_WGS84 = Geod(ellps="WGS84")
# Below this many pairs a thread pool costs more than it saves.
_PARALLEL_MIN = 200_000

ArrayLike = float | Iterable[float] | np.ndarray


def is_latitude(value: float) -> bool:
    """True for a finite latitude in [-90, 90]."""
    return math.isfinite(value) and -MAX_LATITUDE <= value <= MAX_LATITUDE


def is_longitude(value: float) -> bool:
    """True for a finite longitude in [-180, 180]."""
    return math.isfinite(value) and -MAX_LONGITUDE <= value <= MAX_LONGITUDE


def check_latitude(value: float) -> float:
    """The latitude itself, or ValueError when it is not finite or outside [-90, 90]."""
    if not is_latitude(value):
        raise ValueError(f"latitude {value} outside [-90, 90]")
    return value


def check_longitude(value: float) -> float:
    """The longitude itself, or ValueError when it is not finite or outside [-180, 180]."""
    if not is_longitude(value):
        raise ValueError(f"longitude {value} outside [-180, 180]")
    return value


# The bounds also go into the JSON schema: tool argument schemas show them to the model.
Latitude = Annotated[
    float,
    AfterValidator(check_latitude),
    Field(json_schema_extra={"minimum": -MAX_LATITUDE, "maximum": MAX_LATITUDE}),
]
Longitude = Annotated[
    float,
    AfterValidator(check_longitude),
    Field(json_schema_extra={"minimum": -MAX_LONGITUDE, "maximum": MAX_LONGITUDE}),
]


class Coordinates(BaseModel):
    """A validated point: latitude in [-90, 90], longitude in [-180, 180] (WGS-84 degrees)."""

    model_config = ConfigDict(frozen=True)

    lat: Latitude
    lon: Longitude

    def as_tuple(self) -> tuple[float, float]:
        return (self.lat, self.lon)


def valid_points(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Boolean mask of the (lat, lon) pairs that `check_latitude`/`check_longitude` accept."""
    with np.errstate(invalid="ignore"):
        return (
            np.isfinite(lat)
            & np.isfinite(lon)
            & (np.abs(lat) <= MAX_LATITUDE)
            & (np.abs(lon) <= MAX_LONGITUDE)
        )


def check_points(lat: np.ndarray, lon: np.ndarray, what: str = "point") -> None:
    """Raise ValueError naming the first latitude/longitude that is NaN or out of range."""
    bad = ~valid_points(lat, lon)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{what} {i} ({lat[i]}, {lon[i]}) is not a valid latitude/longitude")


def as_arrays(*columns: ArrayLike) -> list[np.ndarray]:
    """Contiguous float64 vectors of one length; a plain number is repeated to that length."""
    arrays = [np.asarray(c, dtype=np.float64) for c in columns]
    sizes = {a.size for a in arrays if a.ndim > 0}
    if len(sizes) > 1:
        raise ValueError(f"coordinate arrays differ in length: {[a.size for a in arrays]}")
    n = sizes.pop() if sizes else 1
    return [np.full(n, a) if a.ndim == 0 else np.ascontiguousarray(a.ravel()) for a in arrays]


def geodesic_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Geodesic distance on WGS-84 in km, for one pair of points.

    >>> round(geodesic_km(0.0, 0.0, 0.0, 1.0), 6)
    111.319491
    """
    return float(_WGS84.inv(lon1, lat1, lon2, lat2, return_back_azimuth=False)[2]) / 1000.0


def geodesic_km_many(
    lat1: ArrayLike,
    lon1: ArrayLike,
    lat2: ArrayLike,
    lon2: ArrayLike,
    workers: int | None = None,
) -> np.ndarray:
    """Geodesic distances on WGS-84 in km, element-wise.

    pyproj releases the GIL inside `Geod.inv`, so large inputs are split over threads.

    >>> geodesic_km_many([0.0], [0.0], [0.0], [1.0]).round(6).tolist()
    [111.319491]
    """
    a_lat, a_lon, b_lat, b_lon = as_arrays(lat1, lon1, lat2, lon2)
    check_points(a_lat, a_lon)
    check_points(b_lat, b_lon)
    n = a_lat.size
    workers = workers or min(os.cpu_count() or 1, 8)
    if workers <= 1 or n < _PARALLEL_MIN:
        return _WGS84.inv(a_lon, a_lat, b_lon, b_lat, return_back_azimuth=False)[2] / 1000.0
    out = np.empty(n)
    bounds = np.linspace(0, n, workers + 1, dtype=np.int64)

    def part(k: int) -> None:
        s = slice(bounds[k], bounds[k + 1])
        out[s] = _WGS84.inv(a_lon[s], a_lat[s], b_lon[s], b_lat[s], return_back_azimuth=False)[2]

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(part, range(workers)))
    return out / 1000.0


def haversine_km(
    lat1: float, lon1: float, lat2: float, lon2: float, radius_km: float = EARTH_RADIUS_KM
) -> float:
    """Great-circle distance in km on a sphere (R = 6371.0 km by default), for one pair.

    The arctan2 form OSV-5M writes (better conditioned near antipodes than arcsin).

    >>> round(haversine_km(0.0, 0.0, 0.0, 1.0), 6)
    111.194927
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p1 - p2) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon1 - lon2) / 2) ** 2
    )
    a = min(max(a, 0.0), 1.0)  # rounding can push a past 1 for antipodes
    return radius_km * 2.0 * math.atan2(math.sqrt(a), math.sqrt(1.0 - a))


def haversine_km_many(
    lat1: ArrayLike,
    lon1: ArrayLike,
    lat2: ArrayLike,
    lon2: ArrayLike,
    radius_km: float = EARTH_RADIUS_KM,
) -> np.ndarray:
    """Great-circle distances in km on a sphere (R = 6371.0 km by default), element-wise.

    >>> haversine_km_many([0.0], [0.0], [0.0], [1.0]).round(6).tolist()
    [111.194927]
    """
    a_lat, a_lon, b_lat, b_lon = as_arrays(lat1, lon1, lat2, lon2)
    check_points(a_lat, a_lon)
    check_points(b_lat, b_lon)
    p1, p2 = np.radians(a_lat), np.radians(b_lat)
    a = (
        np.sin((p1 - p2) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(a_lon - b_lon) / 2) ** 2
    )
    a = np.clip(a, 0.0, 1.0)
    return radius_km * 2.0 * np.arctan2(np.sqrt(a), np.sqrt(1.0 - a))
