"""The three OSM tools, each with an Overpass (online) and a local-index (offline) backend."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.settings import Settings
from gre_agent.tools.base import Backend, Tool
from gre_agent.tools.osm import query
from gre_agent.tools.osm._index import AnyIndex, open_index
from gre_agent.tools.osm._models import (
    Feature,
    FeaturesNearArgs,
    FeaturesResult,
    FindAddressArgs,
    FindNamedArgs,
    StreetIntersectionArgs,
)
from gre_agent.tools.osm._overpass import features, run_query
from gre_agent.tools.osm._text import name_rank

# Overpass returns matches in storage order, not by distance: ask for more, sort locally.
OVERFETCH = 4
MAX_FETCH = 2000


def default_db_path(settings: Settings) -> Path:
    """Where `gre data osm import` writes and the offline backend reads."""
    return settings.osm.data_path or settings.data_dir / "osm.sqlite"


class _OsmTool(Tool):
    backends: ClassVar[tuple[Backend, ...]] = ("offline", "online")

    def index(self) -> AnyIndex:
        return open_index(default_db_path(self.settings))

    def overpass(self, ql: str, origin: tuple[float, float] | None = None) -> FeaturesResult:
        osm = self.settings.osm
        if not osm.endpoint:
            raise ToolFailure(ErrorKind.unavailable, "no Overpass endpoint set (osm.endpoint)")
        result = run_query(self.session(), osm.endpoint, ql, osm.timeout_s)
        return FeaturesResult(features=features(result, origin), source="overpass")


class FeaturesNearTool(_OsmTool):
    name = "osm.features_near"
    description = (
        "OpenStreetMap features within radius_m of a point that carry the given tags "
        '(e.g. {"amenity": "cafe"}, {"highway": null} for any value) and/or whose name '
        "contains `name`. Returns OSM id/type, coordinates (centre for ways), tags and "
        "distance, nearest first."
    )
    Args = FeaturesNearArgs
    Result = FeaturesResult

    def online(self, args: FeaturesNearArgs) -> FeaturesResult:
        ql = query.features_query(
            query.around(args.lat, args.lon, args.radius_m),
            tags=args.tags,
            name=args.name,
            limit=min(args.limit * OVERFETCH, MAX_FETCH),
            timeout_s=self.settings.osm.timeout_s,
        )
        result = self.overpass(ql, (args.lat, args.lon))
        result.features = result.features[: args.limit]
        return result

    def offline(self, args: FeaturesNearArgs) -> FeaturesResult:
        found = self.index().features_near(
            args.lat, args.lon, args.radius_m, args.tags, args.name, args.limit
        )
        return FeaturesResult(features=found, source="local")


class FindNamedTool(_OsmTool):
    name = "osm.find_named"
    description = (
        "Find OpenStreetMap features whose name (or a translation / alternative name) "
        "contains `name`, ignoring case and accents, inside `bbox` [south, west, north, "
        "east], `around` {lat, lon, radius_m} or `everywhere` (online within "
        "`country_code` if given); optional tag filter. Exact names first, then nearest "
        "first when `around` is given."
    )
    Args = FindNamedArgs
    Result = FeaturesResult

    def online(self, args: FindNamedArgs) -> FeaturesResult:
        origin = None
        if args.around is not None:
            spatial = query.around(args.around.lat, args.around.lon, args.around.radius_m)
            origin = (args.around.lat, args.around.lon)
        elif args.bbox is not None:
            spatial = query.bbox(*args.bbox)
        else:  # everywhere: a country's area, else the whole planet (Overpass's timeout)
            spatial = "(area.searched)" if args.country_code else ""
        ql = query.features_query(
            spatial,
            tags=args.tags,
            name=args.name,
            limit=min(args.limit * OVERFETCH, MAX_FETCH),
            timeout_s=self.settings.osm.timeout_s,
        )
        if args.everywhere and args.country_code:
            area = f"area[{query.string('ISO3166-1')}={query.string(args.country_code.upper())}]"
            ql = ql.replace(";\n(", f";\n{area}->.searched;\n(", 1)
        result = self.overpass(ql, origin)
        if origin is None:
            result.features.sort(key=lambda f: name_rank(f.name, args.name))
        else:  # exact names first, nearest first within each kind of match
            result.features.sort(key=lambda f: (name_rank(f.name, args.name)[0], f.distance_m))
        result.features = result.features[: args.limit]
        return result

    def offline(self, args: FindNamedArgs) -> FeaturesResult:
        around = None
        if args.around is not None:
            around = (args.around.lat, args.around.lon, args.around.radius_m)
        found = self.index().find_named(args.name, args.tags, args.bbox, around, args.limit)
        return FeaturesResult(features=found, source="local")


class StreetIntersectionTool(_OsmTool):
    name = "osm.street_intersection"
    description = (
        "Where two named streets cross: the OpenStreetMap nodes shared by a street named "
        "street_a and one named street_b (exact names, any case or accents), optionally "
        "only within `near` {lat, lon, radius_m}. The online backend needs `near`."
    )
    Args = StreetIntersectionArgs
    Result = FeaturesResult

    def online(self, args: StreetIntersectionArgs) -> FeaturesResult:
        if args.near is None:
            raise ToolFailure(
                ErrorKind.invalid_args,
                "online street_intersection needs `near` (lat, lon, radius_m)",
            )
        near = args.near
        ql = query.intersection_query(
            args.street_a,
            args.street_b,
            query.around(near.lat, near.lon, near.radius_m),
            limit=min(args.limit * OVERFETCH, MAX_FETCH),
            timeout_s=self.settings.osm.timeout_s,
        )
        result = self.overpass(ql, (near.lat, near.lon))
        result.features = [
            f.model_copy(update={"name": f"{args.street_a} / {args.street_b}"})
            for f in result.features
            if f.osm_type == "node"
        ][: args.limit]
        return result

    def offline(self, args: StreetIntersectionArgs) -> FeaturesResult:
        near = None
        if args.near is not None:
            near = (args.near.lat, args.near.lon, args.near.radius_m)
        found = self.index().street_intersection(args.street_a, args.street_b, near, args.limit)
        return FeaturesResult(features=found, source="local")


class FindAddressTool(_OsmTool):
    name = "osm.find_address"
    description = (
        "Find a street address read in the image (street and house number, any case or "
        "accents): offline in the OSM index's addr:street / addr:housenumber tags, online "
        "with a structured Nominatim query (optionally in a city or country). Optional "
        "`around` keeps only addresses within that circle, nearest first."
    )
    Args = FindAddressArgs
    Result = FeaturesResult

    def offline(self, args: FindAddressArgs) -> FeaturesResult:
        around = None
        if args.around is not None:
            around = (args.around.lat, args.around.lon, args.around.radius_m)
        found = self.index().find_address(args.street, args.housenumber, around, args.limit)
        return FeaturesResult(features=found, source="local")

    def online(self, args: FindAddressArgs) -> FeaturesResult:
        from geopy.exc import GeopyError

        from gre_agent.tools.gazetteer import _nominatim as nominatim
        from gre_agent.tools.osm._geo import distance_m

        fam = self.settings.gazetteer
        geocoder = nominatim.make_geocoder(
            self.session(nominatim.BACKEND),  # Nominatim's cache and one-per-second limit
            fam.endpoint or "nominatim.openstreetmap.org",
            fam.scheme,
            self.settings.user_agent_for(self.name),
            fam.timeout_s,
        )
        structured = {"street": f"{args.housenumber} {args.street}"}
        if args.city:
            structured["city"] = args.city
        try:
            locations = geocoder.geocode(
                structured,
                exactly_one=False,
                limit=args.limit,
                country_codes=args.country_code.lower() if args.country_code else None,
            )
        except GeopyError as exc:
            raise nominatim.failure_from_geopy(exc) from exc
        found = []
        for loc in locations or []:
            raw = loc.raw or {}
            osm_type = raw.get("osm_type")
            if osm_type not in ("node", "way", "relation"):
                continue
            d = None
            if args.around is not None:
                d = distance_m(args.around.lat, args.around.lon, loc.latitude, loc.longitude)
                if d > args.around.radius_m:
                    continue
            found.append(
                Feature(
                    osm_type=osm_type,
                    osm_id=int(raw.get("osm_id", 0)),
                    lat=loc.latitude,
                    lon=loc.longitude,
                    name=loc.address,
                    tags={"addr:street": args.street, "addr:housenumber": args.housenumber},
                    distance_m=None if d is None else round(d, 1),
                )
            )
        return FeaturesResult(features=found[: args.limit], source="nominatim")
