"""The online backend: Overpass QL over the tool's cached, rate-limited session.

overpy parses the answer; its own HTTP client is not used, so every request gets the
project's cache, rate limit, retries (Retry-After honoured) and typed errors.
"""

from __future__ import annotations

from decimal import Decimal

import overpy
import overpy.exception
import requests

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.http import request_raw
from gre_agent.tools.osm._geo import distance_m
from gre_agent.tools.osm._models import Feature


def run_query(
    session: requests.Session, endpoint: str, query: str, timeout: float
) -> overpy.Result:
    """POST `query` as `data=`; an error reported inside a 200 body becomes a ToolFailure."""
    response = request_raw(session, "POST", endpoint, timeout=timeout, data={"data": query})
    try:
        return overpy.Overpass().parse_json(response.content)
    except overpy.exception.OverpassRuntimeError as exc:
        _forget(session, response)  # a transient failure must not be replayed from the cache
        kind = ErrorKind.timeout if "timed out" in exc.msg else ErrorKind.bad_response
        raise ToolFailure(kind, f"Overpass: {exc.msg}") from exc
    except (overpy.exception.OverpassRuntimeRemark, overpy.exception.OverpassUnknownError) as exc:
        _forget(session, response)
        raise ToolFailure(ErrorKind.bad_response, f"Overpass: {exc.msg}") from exc
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        _forget(session, response)
        raise ToolFailure(
            ErrorKind.bad_response, f"{endpoint} did not return Overpass JSON: {exc}"
        ) from exc


def _forget(session: requests.Session, response: requests.Response) -> None:
    cache = getattr(session, "cache", None)
    if cache is not None:
        cache.delete(requests=[response.request])


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def features(result: overpy.Result, origin: tuple[float, float] | None = None) -> list[Feature]:
    """Nodes, ways and relations of an answer (ways and relations at their centres)."""
    found: list[Feature] = []
    elements: list[tuple[str, overpy.Element, float | None, float | None]] = []
    elements += [("node", n, _float(n.lat), _float(n.lon)) for n in result.nodes]
    elements += [("way", w, _float(w.center_lat), _float(w.center_lon)) for w in result.ways]
    elements += [
        ("relation", r, _float(r.center_lat), _float(r.center_lon)) for r in result.relations
    ]
    for osm_type, element, lat, lon in elements:
        if lat is None or lon is None:
            continue  # no centre (Overpass leaves it out for empty geometries)
        tags = {str(k): str(v) for k, v in element.tags.items()}
        distance = None if origin is None else round(distance_m(*origin, lat, lon), 1)
        found.append(
            Feature(
                osm_type=osm_type,  # type: ignore[arg-type]
                osm_id=element.id,
                lat=lat,
                lon=lon,
                name=tags.get("name"),
                tags=tags,
                distance_m=distance,
            )
        )
    found.sort(key=lambda f: (f.distance_m or 0.0, f.osm_type, f.osm_id))
    return found
