"""The Wikipedia tools: search, page, geosearch (online: MediaWiki API; offline: ZIM).

Leakage guard: `settings.wikipedia.exclude_domains` drops every result whose title or
URL contains one of its strings (case-insensitive), in both backends; evaluations use
it to hide pages tied to a benchmark's source.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import ModuleType
from typing import Annotated

from pydantic import BaseModel, Field

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.tools.base import Tool
from gre_agent.tools.types import Latitude, Longitude

from . import _mediawiki as mw
from . import _zim

Lang = Annotated[
    str,
    Field(
        pattern=r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$",
        description="Wikipedia language code, e.g. en, fi, sv",
    ),
]


class SearchArgs(BaseModel):
    query: str = Field(min_length=1, max_length=300, description="Words to look for.")
    lang: Lang = "en"
    limit: int = Field(10, ge=1, le=50, description="Most results to return.")


class SearchHit(BaseModel):
    title: str
    url: str
    snippet: str | None = Field(None, description="Text around the match, where available.")


class SearchResult(BaseModel):
    query: str
    lang: str
    results: list[SearchHit]


class PageArgs(BaseModel):
    title: str = Field(min_length=1, max_length=300, description="Exact article title.")
    lang: Lang = "en"


class PageResult(BaseModel):
    title: str
    summary: str = Field(description="The article's lead as plain text.")
    url: str
    lat: float | None = None
    lon: float | None = None
    options: list[str] = Field(
        default_factory=list,
        description="Set when the title is ambiguous: the pages it may refer to.",
    )


class GeosearchArgs(BaseModel):
    lat: Latitude
    lon: Longitude
    radius_m: int = Field(
        1000, ge=10, le=10000, description="Search radius in metres (MediaWiki: 10..10000)."
    )
    limit: int = Field(10, ge=1, le=50, description="Most results to return.")
    lang: Lang = "en"


class GeoHit(BaseModel):
    title: str
    url: str
    lat: float
    lon: float
    distance_m: float


class GeosearchResult(BaseModel):
    lat: float
    lon: float
    radius_m: int
    results: list[GeoHit]


class _WikipediaTool(Tool):
    backends = ("offline", "online")

    def excluded(self, *texts: str) -> bool:
        """The leakage guard: whether any text mentions an excluded domain."""
        needles = [d.casefold() for d in self.settings.wikipedia.exclude_domains if d.strip()]
        return any(n in t.casefold() for n in needles for t in texts)

    def api(self, lang: str) -> AbstractContextManager[ModuleType]:
        """The `wikipedia` package's module, bound to our endpoint and session."""
        fam = self.settings.wikipedia
        endpoint = fam.endpoint or "https://{lang}.wikipedia.org/w/api.php"
        return mw.wikipedia_api(self.session("mediawiki"), endpoint, lang, fam.timeout_s)

    def article_url(self, lang: str, title: str) -> str:
        endpoint = self.settings.wikipedia.endpoint or "https://{lang}.wikipedia.org/w/api.php"
        return mw.article_url(mw.api_url(endpoint, lang), title)

    def zim_url(self, lang: str, title: str) -> str:
        """Offline pages link to the article they copy on the public Wikipedia."""
        return mw.article_url(f"https://{lang}.wikipedia.org/w/api.php", title)

    def _fetch_count(self, limit: int) -> int:
        # ask for a few more when the guard may drop some
        return min(50, limit * 2) if self.settings.wikipedia.exclude_domains else limit


class SearchTool(_WikipediaTool):
    name = "wikipedia.search"
    description = (
        "Search Wikipedia for articles by words (place names, landmarks, signs). "
        "Returns titles with a text snippet; read one with wikipedia.page."
    )
    Args = SearchArgs
    Result = SearchResult

    def online(self, args: SearchArgs) -> SearchResult:
        with self.api(args.lang) as api:
            hits = mw.search(api, args.query, self._fetch_count(args.limit))
        results = [
            SearchHit(title=h.title, url=self.article_url(args.lang, h.title), snippet=h.snippet)
            for h in hits
        ]
        return self._result(args, results)

    def offline(self, args: SearchArgs) -> SearchResult:
        zim = _zim.zim_for(self.settings, args.lang)
        results = [
            SearchHit(
                title=a.title,
                url=self.zim_url(args.lang, a.title),
                snippet=_zim.snippet(_zim.summary_of(a.html, 2000), args.query),
            )
            for a in _zim.search(zim, args.query, self._fetch_count(args.limit))
        ]
        return self._result(args, results)

    def _result(self, args: SearchArgs, results: list[SearchHit]) -> SearchResult:
        kept = [r for r in results if not self.excluded(r.title, r.url)]
        return SearchResult(query=args.query, lang=args.lang, results=kept[: args.limit])


class PageTool(_WikipediaTool):
    name = "wikipedia.page"
    description = (
        "Read a Wikipedia article by exact title: its lead summary, URL and, when the "
        "article has them, its coordinates (lat, lon). Ambiguous titles list options."
    )
    Args = PageArgs
    Result = PageResult

    def online(self, args: PageArgs) -> PageResult:
        self._guard(args.title, self.article_url(args.lang, args.title))
        with self.api(args.lang) as api:
            page = mw.page(api, args.title)
        self._guard(page.title, page.url)
        options = [o for o in page.options if not self.excluded(o)]
        return PageResult(
            title=page.title,
            summary=page.summary,
            url=page.url,
            lat=page.lat,
            lon=page.lon,
            options=options,
        )

    def offline(self, args: PageArgs) -> PageResult:
        self._guard(args.title, self.zim_url(args.lang, args.title))
        zim = _zim.zim_for(self.settings, args.lang)
        article = _zim.find_article(zim, args.title)
        if article is None:
            raise ToolFailure(ErrorKind.not_found, f"no article {args.title!r} in {zim.path.name}")
        url = self.zim_url(args.lang, article.title)
        self._guard(article.title, url)
        coords = _zim.parse_coordinates(article.html)
        return PageResult(
            title=article.title,
            summary=_zim.summary_of(article.html),
            url=url,
            lat=coords[0] if coords else None,
            lon=coords[1] if coords else None,
        )

    def _guard(self, title: str, url: str) -> None:
        if self.excluded(title, url):
            raise ToolFailure(
                ErrorKind.not_found, f"{title!r} is excluded (wikipedia.exclude_domains)"
            )


class GeosearchTool(_WikipediaTool):
    name = "wikipedia.geosearch"
    description = (
        "List Wikipedia articles located near a point (lat, lon) within radius_m metres "
        "(10..10000), nearest first, with their coordinates and distance."
    )
    Args = GeosearchArgs
    Result = GeosearchResult

    def online(self, args: GeosearchArgs) -> GeosearchResult:
        with self.api(args.lang) as api:
            hits = mw.geosearch(
                api, args.lat, args.lon, args.radius_m, self._fetch_count(args.limit)
            )
        results = [
            GeoHit(
                title=h.title,
                url=self.article_url(args.lang, h.title),
                lat=h.lat,
                lon=h.lon,
                distance_m=h.dist,
            )
            for h in hits
        ]
        return self._result(args, results)

    def offline(self, args: GeosearchArgs) -> GeosearchResult:
        zim = _zim.zim_for(self.settings, args.lang)
        index = _zim.geo_index(self.settings, zim)
        results = [
            GeoHit(
                title=index.titles[row],
                url=self.zim_url(args.lang, index.titles[row]),
                lat=float(index.lats[row]),
                lon=float(index.lons[row]),
                distance_m=round(dist, 1),
            )
            for row, dist in index.near(
                args.lat, args.lon, args.radius_m, self._fetch_count(args.limit)
            )
        ]
        return self._result(args, results)

    def _result(self, args: GeosearchArgs, results: list[GeoHit]) -> GeosearchResult:
        kept = [r for r in results if not self.excluded(r.title, r.url)]
        return GeosearchResult(
            lat=args.lat, lon=args.lon, radius_m=args.radius_m, results=kept[: args.limit]
        )
