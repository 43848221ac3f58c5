"""core.geo: coordinate checks at the edges, geodesic against geopy, haversine known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from geopy.distance import geodesic
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from gre_agent.core import geo
from gre_agent.core.geo import (
    Coordinates,
    Latitude,
    Longitude,
    check_latitude,
    check_longitude,
    check_points,
    geodesic_km,
    geodesic_km_many,
    haversine_km,
    haversine_km_many,
)

latitudes = st.floats(-90.0, 90.0, allow_nan=False)
longitudes = st.floats(-180.0, 180.0, allow_nan=False)

BAD_LATITUDES = [90.000001, -90.000001, 91.0, math.nan, math.inf, -math.inf]
BAD_LONGITUDES = [180.000001, -180.000001, 181.0, math.nan, math.inf, -math.inf]


class Point(BaseModel):
    lat: Latitude
    lon: Longitude | None = None


@pytest.mark.parametrize("lat", [90.0, -90.0, 0.0, 89.999999])
def test_latitudes_at_the_edges_are_valid(lat: float):
    assert check_latitude(lat) == lat
    assert Point(lat=lat).lat == lat
    assert Coordinates(lat=lat, lon=0.0).as_tuple() == (lat, 0.0)


@pytest.mark.parametrize("lon", [180.0, -180.0, 0.0])
def test_longitudes_at_the_edges_are_valid(lon: float):
    assert check_longitude(lon) == lon
    assert Point(lat=0.0, lon=lon).lon == lon


@pytest.mark.parametrize("lat", BAD_LATITUDES)
def test_bad_latitudes_are_refused_everywhere(lat: float):
    with pytest.raises(ValueError, match=r"latitude .* outside \[-90, 90\]"):
        check_latitude(lat)
    with pytest.raises(ValidationError, match=r"latitude .* outside \[-90, 90\]"):
        Point(lat=lat)
    with pytest.raises(ValidationError):
        Coordinates(lat=lat, lon=0.0)
    with pytest.raises(ValueError, match=r"point 1 .* not a valid latitude/longitude"):
        check_points(np.array([0.0, lat]), np.array([0.0, 0.0]))


@pytest.mark.parametrize("lon", BAD_LONGITUDES)
def test_bad_longitudes_are_refused_everywhere(lon: float):
    with pytest.raises(ValueError, match=r"longitude .* outside \[-180, 180\]"):
        check_longitude(lon)
    with pytest.raises(ValidationError, match=r"longitude .* outside \[-180, 180\]"):
        Point(lat=0.0, lon=lon)
    with pytest.raises(ValueError, match="not a valid latitude/longitude"):
        check_points(np.array([0.0]), np.array([lon]))


def test_coordinates_are_frozen_and_optional_fields_take_none():
    c = Coordinates(lat=1.0, lon=2.0)
    with pytest.raises(ValidationError):
        c.lat = 3.0  # type: ignore[misc]
    assert Point(lat=1.0).lon is None


def test_the_bounds_are_in_the_json_schema():
    props = Point.model_json_schema()["properties"]
    assert (props["lat"]["minimum"], props["lat"]["maximum"]) == (-90.0, 90.0)
    assert {"minimum": -180.0, "maximum": 180.0}.items() <= props["lon"]["anyOf"][0].items()


def test_geodesic_matches_geopy_on_random_points():
    rng = np.random.default_rng(11)
    lat1, lat2 = rng.uniform(-90, 90, (2, 500))
    lon1, lon2 = rng.uniform(-180, 180, (2, 500))
    many = geodesic_km_many(lat1, lon1, lat2, lon2)
    for i in range(500):
        expected = geodesic((lat1[i], lon1[i]), (lat2[i], lon2[i])).km
        assert many[i] == pytest.approx(expected, abs=1e-6)
        assert geodesic_km(lat1[i], lon1[i], lat2[i], lon2[i]) == many[i]


@given(latitudes, longitudes, latitudes, longitudes)
def test_geodesic_agrees_with_geopy_anywhere(lat1, lon1, lat2, lon2):
    expected = geodesic((lat1, lon1), (lat2, lon2)).km
    assert geodesic_km(lat1, lon1, lat2, lon2) == pytest.approx(expected, abs=1e-6)


def test_haversine_known_values():
    # One degree of the equator on the 6371.0 km sphere, and half the circumference.
    assert haversine_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(6371.0 * math.pi / 180, rel=1e-15)
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(6371.0 * math.pi, rel=1e-15)
    assert haversine_km(90.0, 0.0, -90.0, 0.0) == pytest.approx(6371.0 * math.pi, rel=1e-15)
    assert haversine_km(10.0, 20.0, 10.0, 20.0) == 0.0
    # Moved from test_wikipedia_geo (metres there): Helsinki Cathedral to Uspenski Cathedral.
    assert haversine_km(60.170278, 24.952222, 60.168611, 24.959722) == pytest.approx(
        0.453, abs=0.005
    )
    assert haversine_km(0, 0, 0, 180) == pytest.approx(20_015.115, rel=1e-4)
    # The radius is a parameter: the map tools measure on the IUGG mean radius.
    assert haversine_km(0.0, 0.0, 0.0, 1.0, geo.MEAN_EARTH_RADIUS_KM) == pytest.approx(
        geo.MEAN_EARTH_RADIUS_KM * math.pi / 180, rel=1e-15
    )


@given(latitudes, longitudes, latitudes, longitudes)
def test_scalar_and_vectorised_forms_agree(lat1, lon1, lat2, lon2):
    assert geodesic_km(lat1, lon1, lat2, lon2) == geodesic_km_many(lat1, lon1, lat2, lon2)[0]
    h = haversine_km(lat1, lon1, lat2, lon2)
    assert haversine_km_many([lat1], [lon1], [lat2], [lon2])[0] == pytest.approx(
        h, rel=1e-12, abs=1e-9
    )
    assert haversine_km(lat2, lon2, lat1, lon1) == pytest.approx(h, rel=1e-12, abs=1e-9)


def test_vectorised_forms_broadcast_numbers_and_refuse_bad_input():
    d = haversine_km_many(0.0, 0.0, [0.0, 0.0], [1.0, 2.0])
    assert d.shape == (2,) and d[1] == pytest.approx(2 * d[0])
    with pytest.raises(ValueError, match="differ in length"):
        geodesic_km_many([0.0, 1.0], [0.0], [0.0], [0.0])
    for fn in (geodesic_km_many, haversine_km_many):
        with pytest.raises(ValueError, match="not a valid latitude/longitude"):
            fn([0.0], [0.0], [91.0], [0.0])


def test_threaded_geodesic_equals_single_thread(monkeypatch):
    rng = np.random.default_rng(5)
    args = [rng.uniform(-90, 90, 3001), rng.uniform(-180, 180, 3001)] * 2
    single = geodesic_km_many(*args, workers=1)
    monkeypatch.setattr(geo, "_PARALLEL_MIN", 10)
    np.testing.assert_array_equal(geodesic_km_many(*args, workers=3), single)


def test_doctests():
    import doctest

    result = doctest.testmod(geo)
    assert result.attempted >= 4 and result.failed == 0
