"""The online backend: geopy's Nominatim client over the tool's own HTTP session.

geopy builds the URLs and parses the answers; the transport is swapped for
`SessionAdapter`, so every request goes through `core.http.request_raw` on the tool's
session: the SQLite cache (a hit never reaches the rate limiter), the process-wide
one-request-per-second limiter, and urllib3 retries that honour Retry-After on 429/5xx
before geopy ever sees a response. What still fails arrives as a ToolFailure; the few
geopy exceptions left (unparsable JSON, bad query) are mapped by `failure_from_geopy`.
"""

from __future__ import annotations

import re
from typing import Any

import requests
from geopy.adapters import BaseSyncAdapter, RequestsAdapter
from geopy.exc import (
    ConfigurationError,
    GeocoderAuthenticationFailure,
    GeocoderInsufficientPrivileges,
    GeocoderParseError,
    GeocoderQueryError,
    GeocoderQuotaExceeded,
    GeocoderRateLimited,
    GeocoderServiceError,
    GeocoderTimedOut,
    GeocoderUnavailable,
    GeopyError,
)
from geopy.geocoders import Nominatim
from geopy.location import Location

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.geo import MEAN_EARTH_RADIUS_KM, haversine_km
from gre_agent.core.http import request_raw
from gre_agent.tools.gazetteer._models import Candidate, ReverseResult

SOURCE = "nominatim"
BACKEND = "nominatim"  # name of the HTTP session: its cache file and rate limiter

# Most specific first: geopy's exceptions subclass each other.
_KINDS: tuple[tuple[type[GeopyError], ErrorKind], ...] = (
    (GeocoderTimedOut, ErrorKind.timeout),
    (GeocoderRateLimited, ErrorKind.rate_limited),
    (GeocoderQuotaExceeded, ErrorKind.rate_limited),
    (GeocoderParseError, ErrorKind.bad_response),
    (GeocoderQueryError, ErrorKind.invalid_args),
    (GeocoderAuthenticationFailure, ErrorKind.http_error),
    (GeocoderInsufficientPrivileges, ErrorKind.http_error),
    (GeocoderUnavailable, ErrorKind.http_error),
    (GeocoderServiceError, ErrorKind.http_error),
    (ConfigurationError, ErrorKind.unavailable),
)


def failure_from_geopy(exc: GeopyError) -> ToolFailure:
    for cls, kind in _KINDS:
        if isinstance(exc, cls):
            return ToolFailure(kind, f"nominatim: {exc}")
    return ToolFailure(ErrorKind.http_error, f"nominatim: {type(exc).__name__}: {exc}")


class SessionAdapter(RequestsAdapter):
    """A geopy adapter that sends through a given (cached, rate-limited) session."""

    def __init__(self, session: requests.Session, *, proxies: Any = None, ssl_context: Any = None):
        # Skip RequestsAdapter.__init__: it would build a private session of its own.
        BaseSyncAdapter.__init__(self, proxies=proxies, ssl_context=ssl_context)
        self.session = session

    def _request(self, url: str, *, timeout: float, headers: dict[str, str]) -> requests.Response:
        return request_raw(self.session, "GET", url, timeout=timeout, headers=headers)

    def get_json(self, url: str, *, timeout: float, headers: dict[str, str]) -> Any:
        response = self._request(url, timeout=timeout, headers=headers)
        try:
            return response.json()
        except ValueError as exc:
            # A garbled 200 was cached on the way in; drop it so a retry can succeed.
            cache = getattr(self.session, "cache", None)
            if cache is not None:
                cache.delete(requests=[response.request])
            raise GeocoderParseError(f"not JSON: {response.text[:120]!r}") from exc

    # The session belongs to the tool, which reuses it: never close it from here.
    def __exit__(self, *exc: object) -> None:
        pass

    def __del__(self) -> None:
        pass


def split_endpoint(endpoint: str, scheme: str) -> tuple[str, str]:
    """(scheme, domain) from "host[:port][/path]" or a full "https://host/path" URL."""
    if "://" in endpoint:
        scheme, endpoint = endpoint.split("://", 1)
    return scheme, endpoint.rstrip("/")


def make_geocoder(
    session: requests.Session, endpoint: str, scheme: str, user_agent: str, timeout: float
) -> Nominatim:
    scheme, domain = split_endpoint(endpoint, scheme)
    return Nominatim(
        domain=domain,
        scheme=scheme,
        user_agent=user_agent,
        timeout=timeout,
        adapter_factory=lambda **kw: SessionAdapter(session, **kw),
    )


def _population(extratags: dict[str, Any] | None) -> int | None:
    # OSM population tags are free text: "2165423", "2 165 423", "12000;13000"
    raw = (extratags or {}).get("population")
    digits = re.sub(r"[\s,.']", "", str(raw).split(";")[0]) if raw else ""
    return int(digits) if digits.isdigit() else None


def _admin1(address: dict[str, Any]) -> tuple[str | None, str | None]:
    name = address.get("state") or address.get("region") or address.get("province")
    iso = address.get("ISO3166-2-lvl4") or address.get("ISO3166-2-lvl3")
    code = iso.split("-", 1)[1] if iso and "-" in iso else None
    return name, code


def _place_name(raw: dict[str, Any]) -> str:
    address = raw.get("address") or {}
    for key in ("city", "town", "village", "hamlet", "municipality", "suburb", "county"):
        if address.get(key):
            return str(address[key])
    return str(raw.get("name") or raw.get("display_name", "").split(",")[0]).strip()


def candidate(location: Location, rank: int) -> Candidate:
    raw: dict[str, Any] = location.raw
    address = raw.get("address") or {}
    admin1, admin1_code = _admin1(address)
    importance: Any = raw.get("importance")  # a number, text or missing
    try:
        score = float(importance)
    except (TypeError, ValueError):
        score = 1.0 / (1 + rank)  # no importance given: trust Nominatim's order
    return Candidate(
        name=str(raw.get("name") or raw.get("display_name", "").split(",")[0]).strip(),
        lat=float(location.latitude),
        lon=float(location.longitude),
        country_code=(address.get("country_code") or "").upper() or None,
        admin1=admin1,
        admin1_code=admin1_code,
        population=_population(raw.get("extratags")),
        source=SOURCE,
        score=min(1.0, max(0.0, score)),
    )


def reverse_result(location: Location, lat: float, lon: float) -> ReverseResult:
    raw: dict[str, Any] = location.raw
    address = raw.get("address") or {}
    admin1, _ = _admin1(address)
    return ReverseResult(
        name=_place_name(raw),
        admin1=admin1,
        admin2=address.get("county") or address.get("state_district"),
        country_code=(address.get("country_code") or "").upper() or None,
        distance_km=haversine_km(
            lat, lon, location.latitude, location.longitude, MEAN_EARTH_RADIUS_KM
        ),
        lat=float(location.latitude),
        lon=float(location.longitude),
        source=SOURCE,
    )
