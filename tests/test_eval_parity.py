"""Parity with the peers' evaluation code, on the same predictions.

Default: geopy's `geodesic` (the call GRE, GeoCLIP, G3 and GeoRanker make), to 1e-6 km.
Option: a 6371 km haversine written here from the formula as OSV-5M / GeoEstimation
write it. Points sit just under, at and just over every threshold, at the poles and
across the antimeridian, and the accuracy flags must match.

About "at": two correct implementations of one formula can disagree in the last bit
(pyproj's C geodesic and geographiclib's Python differ by up to ~2e-12 km), so a point
placed exactly on a threshold can land on either side in either of them. The flags are
compared at offsets of 1 mm and 1 m (over 10^5 times that noise); exactly-at points are
compared by distance, and the tie rule itself (d <= T) is tested on exact values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from gre_agent.evals import THRESHOLDS_KM, accuracy_within, distance_km, geodesic_km, haversine_km

WGS84 = Geod(ellps="WGS84")
R = 6371.0

STARTS = [
    (0.0, 0.0),
    (48.8566, 2.3522),
    (-33.8688, 151.2093),
    (89.99, 0.0),  # near the north pole
    (-89.995, 120.0),  # near the south pole
    (90.0, 0.0),  # on the pole
    (-90.0, 0.0),
    (10.0, 179.9995),  # across the antimeridian
    (-20.0, -179.9999),
    (60.0, 180.0),
    (-45.0, -180.0),
]
AZIMUTHS = [0.0, 37.0, 90.0, 180.0, 271.0]
OFFSETS_KM = [-1e-3, -1e-6, 1e-6, 1e-3]  # just under / just over: 1 m and 1 mm


def osv5m_haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """OSV-5M's metrics/utils.py haversine, per point, in float64 (they use torch)."""
    p1, l1, p2, l2 = map(math.radians, (lat1, lon1, lat2, lon2))
    lhs = math.sin((p1 - p2) / 2) ** 2
    rhs = math.cos(p1) * math.cos(p2) * math.sin((l1 - l2) / 2) ** 2
    a = lhs + rhs
    return 6371 * 2 * math.atan2(math.sqrt(a), math.sqrt(1 - a))


def geoestimation_gcd(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """GeoEstimation's great-circle distance: the arcsin form on R = 6371 km."""
    p1, l1, p2, l2 = map(math.radians, (lat1, lon1, lat2, lon2))
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(a))


def sphere_destination(lat: float, lon: float, azimuth: float, d_km: float) -> tuple[float, float]:
    """The point d_km from (lat, lon) along `azimuth` on the 6371 km sphere."""
    p1, l1, th = math.radians(lat), math.radians(lon), math.radians(azimuth)
    delta = d_km / R
    p2 = math.asin(math.sin(p1) * math.cos(delta) + math.cos(p1) * math.sin(delta) * math.cos(th))
    l2 = l1 + math.atan2(
        math.sin(th) * math.sin(delta) * math.cos(p1), math.cos(delta) - math.sin(p1) * math.sin(p2)
    )
    lon2 = (math.degrees(l2) + 540.0) % 360.0 - 180.0
    return max(-90.0, min(90.0, math.degrees(p2))), lon2


def _near_threshold_points(destination, offsets):
    preds, truths, targets = [], [], []
    for lat, lon in STARTS:
        for az in AZIMUTHS:
            for t in THRESHOLDS_KM:
                for off in offsets:
                    preds.append(destination(lat, lon, az, t + off))
                    truths.append((lat, lon))
                    targets.append(t + off)
    return np.array(preds), np.array(truths), np.array(targets)


def _geodesic_destination(lat, lon, az, d_km):
    lon2, lat2, _ = WGS84.fwd(lon, lat, az, d_km * 1000.0)
    return lat2, lon2


def test_geodesic_matches_geopy_near_every_threshold():
    preds, truths, _ = _near_threshold_points(_geodesic_destination, [*OFFSETS_KM, 0.0])
    ours = geodesic_km(preds[:, 0], preds[:, 1], truths[:, 0], truths[:, 1])
    ref = np.array([geodesic(tuple(p), tuple(t)).km for p, t in zip(preds, truths, strict=True)])
    assert np.max(np.abs(ours - ref)) < 1e-6
    # the points straddle each threshold: compare flags where they are not exact ties
    clear = np.min(np.abs(ref[:, None] - np.array(THRESHOLDS_KM)[None, :]), axis=1) > 5e-7
    assert clear.sum() == len(STARTS) * len(AZIMUTHS) * len(THRESHOLDS_KM) * len(OFFSETS_KM)
    for t in THRESHOLDS_KM:
        np.testing.assert_array_equal(ours[clear] <= t, ref[clear] <= t)
    assert accuracy_within(ours[clear]) == accuracy_within(ref[clear])


def test_geodesic_poles_and_antimeridian_by_hand():
    cases = [
        ((90.0, 0.0), (90.0, 135.0)),  # the pole is one point whatever its longitude
        ((90.0, 0.0), (-90.0, 0.0)),  # pole to pole
        ((89.9, -179.0), (89.9, 179.0)),
        ((0.0, 179.99), (0.0, -179.99)),  # 2.2 km across the antimeridian, not 40,000
        ((-16.5, 179.9), (-16.6, -179.95)),  # Fiji
        ((0.0, 0.0), (0.5, 179.7)),  # nearly antipodal: Karney converges, Vincenty fails
        ((51.5, -0.13), (51.5, -0.13)),
    ]
    p = np.array([c[0] for c in cases])
    g = np.array([c[1] for c in cases])
    ours = geodesic_km(p[:, 0], p[:, 1], g[:, 0], g[:, 1])
    ref = np.array([geodesic(a, b).km for a, b in cases])
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)
    assert ours[0] == pytest.approx(0.0, abs=1e-9)
    assert ours[3] == pytest.approx(2.226, abs=1e-3)


def test_haversine_matches_osv5m_and_geoestimation_near_every_threshold():
    preds, truths, targets = _near_threshold_points(sphere_destination, [*OFFSETS_KM, 0.0])
    ours = haversine_km(preds[:, 0], preds[:, 1], truths[:, 0], truths[:, 1])
    ref = np.array(
        [osv5m_haversine(p[0], p[1], t[0], t[1]) for p, t in zip(preds, truths, strict=True)]
    )
    ref_gcd = np.array(
        [geoestimation_gcd(p[0], p[1], t[0], t[1]) for p, t in zip(preds, truths, strict=True)]
    )
    assert np.max(np.abs(ours - ref)) < 1e-9
    assert np.max(np.abs(ours - ref_gcd)) < 1e-6
    np.testing.assert_allclose(ours, targets, atol=1e-6)  # the construction is right
    clear = np.min(np.abs(ref[:, None] - np.array(THRESHOLDS_KM)[None, :]), axis=1) > 5e-7
    for t in THRESHOLDS_KM:
        np.testing.assert_array_equal(ours[clear] <= t, ref[clear] <= t)
        np.testing.assert_array_equal(ours[clear] <= t, ref_gcd[clear] <= t)


def test_tie_rule_counts_exact_threshold_as_correct():
    d = np.array(THRESHOLDS_KM, dtype=float)
    acc = accuracy_within(d)
    # each d equals one threshold: with d <= T it is correct there and at every larger T
    assert acc == {"1": 0.2, "25": 0.4, "200": 0.6, "750": 0.8, "2500": 1.0}
    strict = {f"{t:g}": float(np.mean(d < t)) for t in THRESHOLDS_KM}
    assert strict == {"1": 0.0, "25": 0.2, "200": 0.4, "750": 0.6, "2500": 0.8}
    nudged = np.nextafter(d, np.inf)
    assert accuracy_within(nudged) == strict


def test_haversine_option_differs_from_geodesic_by_the_ellipsoid_only():
    lat = np.array([0.0, 45.0, 80.0])
    lon = np.array([0.0, 10.0, -30.0])
    g = distance_km(lat, lon, lat + 1.0, lon + 1.0, "geodesic")
    h = distance_km(lat, lon, lat + 1.0, lon + 1.0, "haversine")
    assert np.all(np.abs(g - h) / g < 0.006)  # flattening ~0.34%, at most ~0.56%
    with pytest.raises(ValueError, match="unknown distance"):
        distance_km(lat, lon, lat, lon, "vincenty")  # type: ignore[arg-type]


lats = st.floats(-90, 90, allow_nan=False)
lons = st.floats(-180, 180, allow_nan=False)
points = st.tuples(lats, lons)


@settings(max_examples=150, deadline=None)
@given(points, points)
def test_geodesic_agrees_with_geopy_everywhere(a, b):
    ours = float(geodesic_km([a[0]], [a[1]], [b[0]], [b[1]])[0])
    assert ours == pytest.approx(geodesic(a, b).km, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(points, points)
def test_distances_are_symmetric_and_bounded(a, b):
    for method, half_circumference in (("geodesic", 20003.94), ("haversine", math.pi * R)):
        ab = float(distance_km([a[0]], [a[1]], [b[0]], [b[1]], method)[0])
        ba = float(distance_km([b[0]], [b[1]], [a[0]], [a[1]], method)[0])
        assert ab == pytest.approx(ba, rel=1e-12, abs=1e-9)
        assert 0.0 <= ab <= half_circumference
        aa = float(distance_km([a[0]], [a[1]], [a[0]], [a[1]], method)[0])
        assert aa == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 20100, allow_nan=False), min_size=1, max_size=50))
def test_accuracy_is_a_monotone_fraction(d):
    acc = list(accuracy_within(d).values())
    assert all(0.0 <= x <= 1.0 for x in acc)
    assert acc == sorted(acc)


@settings(max_examples=50, deadline=None)
@given(points, st.floats(0.01, 3000.0), st.floats(0, 360))
def test_haversine_distance_of_a_constructed_point(start, d_km, az):
    lat2, lon2 = sphere_destination(start[0], start[1], az, d_km)
    assert float(haversine_km([lat2], [lon2], [start[0]], [start[1]])[0]) == pytest.approx(
        d_km, abs=1e-6
    )
