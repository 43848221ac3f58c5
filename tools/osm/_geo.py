"""Small spherical helpers (metres, degrees); good to centimetres at city scale."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from gre_agent.core.geo import MEAN_EARTH_RADIUS_KM, haversine_km

EARTH_RADIUS_M = MEAN_EARTH_RADIUS_KM * 1000.0
M_PER_DEG = math.pi * EARTH_RADIUS_M / 180.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres on the mean radius: how OSM radii are measured."""
    return 1000.0 * haversine_km(lat1, lon1, lat2, lon2, MEAN_EARTH_RADIUS_KM)


def radius_bbox(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(south, west, north, east) enclosing the circle (clamped at the poles)."""
    dlat = radius_m / M_PER_DEG
    dlon = radius_m / (M_PER_DEG * max(math.cos(math.radians(lat)), 1e-6))
    return max(-90.0, lat - dlat), lon - dlon, min(90.0, lat + dlat), lon + dlon


def polyline_distance_m(lat: float, lon: float, points: Sequence[tuple[float, float]]) -> float:
    """Distance from a point to the nearest part of a polyline (local flat projection)."""
    kx = M_PER_DEG * math.cos(math.radians(lat))
    xy = [((plon - lon) * kx, (plat - lat) * M_PER_DEG) for plat, plon in points]
    if len(xy) == 1:
        return math.hypot(*xy[0])
    best = math.inf
    for (ax, ay), (bx, by) in itertools.pairwise(xy):
        dx, dy = bx - ax, by - ay
        span = dx * dx + dy * dy
        t = 0.0 if span == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / span))
        best = min(best, math.hypot(ax + t * dx, ay + t * dy))
    return best


def bbox_distance_m(lat: float, lon: float, box: tuple[float, float, float, float]) -> float:
    """Distance from a point to a (south, west, north, east) box; 0 inside it."""
    south, west, north, east = box
    return distance_m(lat, lon, min(max(lat, south), north), min(max(lon, west), east))
