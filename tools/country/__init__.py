"""Country and place facts.

- `country.facts` (FactsTool): capital, languages, driving side, calling code, TLD,
  currency and neighbours of a country; offline from GeoNames data, online from
  REST Countries v3.1.
- `clues`: which countries a phone prefix, domain, postal code, currency, language or
  country name points to (offline, GeoNames' country table), for the agent's search.
- `geo.check` (GeoCheckTool): on land?, time zone, country and nearest town of a
  coordinate; offline only.
"""

from gre_agent.tools.country import _clues as clues
from gre_agent.tools.country._driving import LEFT_HAND_TRAFFIC, driving_side
from gre_agent.tools.country._facts import FactsTool
from gre_agent.tools.country._geo import GeoCheckTool
from gre_agent.tools.country._models import (
    CountryFacts,
    FactsArgs,
    GeoCheckArgs,
    GeoCheckResult,
    NearestPlace,
)

__all__ = [
    "LEFT_HAND_TRAFFIC",
    "CountryFacts",
    "FactsArgs",
    "FactsTool",
    "GeoCheckArgs",
    "GeoCheckResult",
    "GeoCheckTool",
    "NearestPlace",
    "clues",
    "driving_side",
]
