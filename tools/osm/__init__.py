"""OpenStreetMap tools: features near a point, named features, street crossings, addresses.

Online they ask an Overpass server (`settings.osm.endpoint`); offline they read a local
index built from any .osm.pbf by `gre data osm import` (one or several regions).
"""

from gre_agent.tools.osm._index import (
    AnyIndex,
    ImportStats,
    OsmIndex,
    RegionsIndex,
    import_pbf,
    open_index,
    regions_dir,
)
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
    "AnyIndex",
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
    "RegionsIndex",
    "StreetIntersectionArgs",
    "StreetIntersectionTool",
    "default_db_path",
    "import_pbf",
    "open_index",
    "regions_dir",
]
