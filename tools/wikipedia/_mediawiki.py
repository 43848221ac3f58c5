"""Online Wikipedia through the `wikipedia` package (1.4), made safe to share.

The package keeps its API URL in a module global and calls `requests.get` directly.
`wikipedia_api` serialises access with a lock, points `API_URL` at the configured
endpoint for the language, and swaps the module's `requests` for a shim that sends
through the tool's cached, rate-limited session (core.http.request_raw), so caching,
retries and typed errors apply. It also gives the package an explicit HTML parser
(its bare `BeautifulSoup(html)` warns). The package's exceptions become ToolFailures.

Which package calls are used:
- page: `wikipedia.page(title, auto_suggest=False)` (prop=info|pageprops with redirects,
  then prop=extracts, prop=coordinates); disambiguation pages list their options.
- search and geosearch: the package's own request function `_wiki_request` with the
  parameters its `search` / `geosearch` send, plus `srprop=snippet`, because those
  functions throw away the snippets, coordinates and distances we need.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import quote

import requests
import wikipedia
import wikipedia.wikipedia as wiki_module
from bs4 import BeautifulSoup

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.http import request_raw

T = TypeVar("T")

_lock = threading.Lock()
_TIMEOUT_INFOS = ("HTTP request timed out.", "Pool queue is full")


class _RequestsShim:
    """Stands in for the `requests` module inside `wikipedia.wikipedia`."""

    def __init__(self, session: requests.Session, timeout: float):
        self.session = session
        self.timeout = timeout

    def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> Any:
        # The package's own User-Agent is dropped: the session carries ours, and
        # Wikimedia asks for one that names the tool.
        return request_raw(self.session, "GET", url, params=params, timeout=self.timeout)


def _soup(markup: str, *args: Any, **kw: Any) -> BeautifulSoup:
    return BeautifulSoup(markup, "html.parser")


def api_url(endpoint: str, lang: str) -> str:
    return endpoint.replace("{lang}", lang)


def article_url(api: str, title: str) -> str:
    """The article URL on the wiki that serves `api` (…/w/api.php -> …/wiki/Title)."""
    base = api.rsplit("/api.php", 1)[0]
    path = quote(title.replace(" ", "_"), safe="/:(),'!*@$;")
    if base.endswith("/w"):
        return f"{base[:-2]}/wiki/{path}"
    return f"{base}/index.php?title={path}"


@contextmanager
def wikipedia_api(
    session: requests.Session, endpoint: str, lang: str, timeout: float
) -> Iterator[ModuleType]:
    """The `wikipedia.wikipedia` module, pointed at our endpoint and session, exclusively."""
    with _lock:
        saved = (wiki_module.API_URL, wiki_module.requests, wiki_module.BeautifulSoup)
        wiki_module.API_URL = api_url(endpoint, lang)
        wiki_module.requests = _RequestsShim(session, timeout)  # type: ignore[assignment]
        wiki_module.BeautifulSoup = _soup  # type: ignore[assignment,misc]
        try:
            yield wiki_module
        finally:
            wiki_module.API_URL, wiki_module.requests, wiki_module.BeautifulSoup = saved


def translate(call: Callable[[], T], what: str) -> T:
    """Run a package call; its exceptions become ToolFailures."""
    try:
        return call()
    except ToolFailure:
        raise
    except wikipedia.PageError as exc:
        raise ToolFailure(ErrorKind.not_found, f"no Wikipedia page {what}") from exc
    except wikipedia.RedirectError as exc:
        raise ToolFailure(ErrorKind.not_found, f"{what} is a redirect: {exc}") from exc
    except wikipedia.HTTPTimeoutError as exc:
        raise ToolFailure(ErrorKind.timeout, f"Wikipedia timed out on {what}") from exc
    except wikipedia.WikipediaException as exc:
        raise ToolFailure(ErrorKind.bad_response, f"Wikipedia API error on {what}: {exc}") from exc
    except ValueError as exc:  # requests' JSONDecodeError is a ValueError
        raise ToolFailure(
            ErrorKind.bad_response, f"Wikipedia answer on {what} is not JSON"
        ) from exc
    except (KeyError, IndexError, TypeError, AttributeError, AssertionError) as exc:
        raise ToolFailure(
            ErrorKind.bad_response, f"unexpected Wikipedia answer on {what}: {exc!r}"
        ) from exc


def _check_api_error(raw: Any, what: str) -> dict[str, Any]:
    """What the package's search/geosearch do with an `error` member, typed."""
    if not isinstance(raw, dict):
        raise ToolFailure(ErrorKind.bad_response, f"Wikipedia answer on {what} is not an object")
    if "error" in raw:
        info = str(raw["error"].get("info", raw["error"]))
        if info in _TIMEOUT_INFOS:
            raise ToolFailure(ErrorKind.timeout, f"Wikipedia timed out on {what}: {info}")
        raise ToolFailure(ErrorKind.bad_response, f"Wikipedia API error on {what}: {info}")
    return raw


_TAG = re.compile(r"<[^>]+>")


def plain(snippet_html: str) -> str:
    """A search snippet (HTML with <span class="searchmatch">) as text."""
    return " ".join(html.unescape(_TAG.sub("", snippet_html)).split())


@dataclass
class SearchHit:
    title: str
    snippet: str | None


def search(api: ModuleType, query: str, limit: int) -> list[SearchHit]:
    params = {
        "list": "search",
        "srprop": "snippet",
        "srlimit": limit,
        "limit": limit,
        "srsearch": query,
    }
    what = f"search {query!r}"

    def call() -> list[SearchHit]:
        raw = _check_api_error(api._wiki_request(params), what)
        hits = raw.get("query", {}).get("search", [])
        return [
            SearchHit(h["title"], plain(h["snippet"]) if h.get("snippet") else None) for h in hits
        ]

    return translate(call, what)


@dataclass
class GeoHit:
    title: str
    lat: float
    lon: float
    dist: float


def geosearch(api: ModuleType, lat: float, lon: float, radius: int, limit: int) -> list[GeoHit]:
    params = {
        "list": "geosearch",
        "gsradius": radius,
        "gscoord": f"{lat}|{lon}",
        "gslimit": limit,
    }
    what = f"geosearch {lat},{lon}"

    def call() -> list[GeoHit]:
        raw = _check_api_error(api._wiki_request(params), what)
        hits = raw.get("query", {}).get("geosearch", [])
        return [
            GeoHit(h["title"], float(h["lat"]), float(h["lon"]), float(h["dist"])) for h in hits
        ]

    return translate(call, what)


@dataclass
class Page:
    title: str
    url: str
    summary: str
    lat: float | None = None
    lon: float | None = None
    options: list[str] = field(default_factory=list)


def page(api: ModuleType, title: str) -> Page:
    what = repr(title)

    def call() -> Page:
        try:
            found = api.page(title, auto_suggest=False, redirect=True)
        except wikipedia.DisambiguationError as exc:
            name = str(exc.title)
            return Page(
                title=name,
                url=article_url(api.API_URL, name),
                summary=f"{name} may refer to several pages; see options.",
                options=[str(o) for o in exc.options],
            )
        summary = found.summary
        try:
            coords = found.coordinates
        except KeyError:  # the package indexes ['coordinates'] even when a page has none
            coords = None
        lat, lon = (float(coords[0]), float(coords[1])) if coords else (None, None)
        return Page(title=found.title, url=found.url, summary=summary, lat=lat, lon=lon)

    return translate(call, what)
