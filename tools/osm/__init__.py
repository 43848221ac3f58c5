"""OpenStreetMap tools: features near a point, named features, street crossings, addresses.

Online they ask an Overpass server (`settings.osm.endpoint`); offline they read a local
index built from any .osm.pbf by `gre data osm import`.
"""

from gre_agent.tools.osm._index import ImportStats, OsmIndex, import_pbf, open_index
from gre_agent.tools.osm._models import (
    Feature,
    FeaturesNearArgs,
    FeaturesResult,
    FindAddressArgs,
    FindNamedArgs,
    StreetIntersectionArgs,
)
from gre_agent.tools.osm._tools import (
    FeaturesNearTool,
    FindAddressTool,
    FindNamedTool,
    StreetIntersectionTool,
    default_db_path,
)

__all__ = [
    "Feature",
    "FeaturesNearArgs",
    "FeaturesNearTool",
    "FeaturesResult",
    "FindAddressArgs",
    "FindAddressTool",
    "FindNamedArgs",
    "FindNamedTool",
    "ImportStats",
    "OsmIndex",
    "StreetIntersectionArgs",
    "StreetIntersectionTool",
    "default_db_path",
    "import_pbf",
    "open_index",
]
