"""wikipedia.* online: a real local server speaking the MediaWiki action API as the
`wikipedia` package calls it, including faults."""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from gre_agent.core.settings import Settings
from gre_agent.tools.wikipedia import GeosearchTool, PageTool, SearchTool

from .conftest import fast_http

API = "/{lang}/w/api.php"

# A tiny wiki per language: title -> (pageid, lead, coordinates or None).
PAGES: dict[str, dict[str, tuple[int, str, tuple[float, float] | None]]] = {
    "en": {
        "Helsinki Cathedral": (
            101,
            "Helsinki Cathedral is a Lutheran cathedral on Senate Square in Helsinki.",
            (60.170278, 24.952222),
        ),
        "Senate Square, Helsinki": (
            102,
            "Senate Square is a square in central Helsinki designed by Carl Ludvig Engel.",
            (60.169444, 24.952222),
        ),
        "Uspenski Cathedral": (
            103,
            "Uspenski Cathedral is an Orthodox cathedral on the Katajanokka peninsula.",
            (60.168611, 24.959722),
        ),
        "Sauna": (104, "A sauna is a room heated for bathing in dry or steamy heat.", None),
        "Mercury": (105, "", None),
    },
    "fi": {
        "Helsingin tuomiokirkko": (
            201,
            "Helsingin tuomiokirkko on Senaatintorin laidalla oleva luterilainen kirkko.",
            (60.170278, 24.952222),
        ),
    },
}
REDIRECTS = {
    "Helsingin katedraali": "Helsingin tuomiokirkko",
    "Senate Square": "Senate Square, Helsinki",
}
DISAMBIGUATION = {"Mercury": ["Mercury (planet)", "Mercury (element)", "Mercury (mythology)"]}


def _dist_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dp, dl = p2 - p1, math.radians(b[1] - a[1])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


def _json(body: Any) -> Response:
    return Response(json.dumps(body), content_type="application/json")


def mediawiki(request: Request) -> Response:
    """The subset of api.php (action=query) that the wikipedia package uses."""
    lang = request.path.split("/")[1]
    wiki = PAGES.get(lang, {})
    a = request.args
    if a.get("action") != "query" or a.get("format") != "json":
        return _json({"error": {"code": "badparams", "info": "unsupported request"}})
    if a.get("list") == "search":
        words = a["srsearch"].lower().split()
        hits = [
            {"ns": 0, "title": t, "pageid": p[0], "snippet": _snippet(p[1], words)}
            for t, p in wiki.items()
            if any(w in (t + " " + p[1]).lower() for w in words)
        ][: int(a.get("srlimit", 10))]
        return _json({"query": {"searchinfo": {"totalhits": len(hits)}, "search": hits}})
    if a.get("list") == "geosearch":
        lat, lon = (float(x) for x in a["gscoord"].split("|"))
        radius = int(a["gsradius"])
        if not 10 <= radius <= 10000:
            return _json({"error": {"code": "badvalue", "info": "Invalid value for gsradius"}})
        near = sorted(
            (_dist_m((lat, lon), p[2]), t, p) for t, p in wiki.items() if p[2] is not None
        )
        hits = [
            {
                "pageid": p[0],
                "ns": 0,
                "title": t,
                "lat": p[2][0],
                "lon": p[2][1],
                "dist": round(d, 1),
                "primary": "",
            }
            for d, t, p in near
            if d <= radius
        ][: int(a["gslimit"])]
        return _json({"batchcomplete": "", "query": {"geosearch": hits}})
    title = a.get("titles", "")
    query: dict[str, Any] = {}
    if "redirects" in a and title in REDIRECTS:
        query["redirects"] = [{"from": title, "to": REDIRECTS[title]}]
        title = REDIRECTS[title]
    if title not in wiki:
        query["pages"] = {"-1": {"ns": 0, "title": title, "missing": ""}}
        return _json({"query": query})
    pageid, lead, coords = wiki[title]
    page: dict[str, Any] = {"pageid": pageid, "ns": 0, "title": title}
    prop = a.get("prop", "")
    if prop == "info|pageprops":
        page["fullurl"] = f"https://{lang}.wikipedia.org/wiki/{title.replace(' ', '_')}"
        if title in DISAMBIGUATION:
            page["pageprops"] = {"disambiguation": ""}
    elif prop == "revisions":
        items = "".join(f'<li><a href="/wiki/{o}">{o}</a></li>' for o in DISAMBIGUATION[title])
        page["revisions"] = [{"*": f"<p>{title} may refer to:</p><ul>{items}</ul>"}]
    elif prop == "extracts":
        page["extract"] = lead
    elif prop == "coordinates" and coords is not None:
        page["coordinates"] = [
            {"lat": coords[0], "lon": coords[1], "primary": "", "globe": "earth"}
        ]
    query["pages"] = {str(pageid): page}
    return _json({"batchcomplete": "", "query": query})


def _snippet(text: str, words: list[str]) -> str:
    for w in words:
        at = text.lower().find(w)
        if at >= 0:
            found = text[at : at + len(w)]
            return text[:at] + f'<span class="searchmatch">{found}</span>' + text[at + len(w) :]
    return text


@pytest.fixture
def wiki(httpserver: HTTPServer) -> HTTPServer:
    for lang in PAGES:
        httpserver.expect_request(f"/{lang}/w/api.php").respond_with_handler(mediawiki)
    return httpserver


def make_settings(tmp_path: Path, server: HTTPServer, **overrides: object) -> Settings:
    endpoint = f"http://127.0.0.1:{server.port}{API}"
    return Settings(home=tmp_path / "home", wikipedia=fast_http(endpoint=endpoint, **overrides))


def api_calls(server: HTTPServer) -> list[dict[str, str]]:
    return [dict(req.args) for req, _ in server.log]


async def test_search_returns_titles_snippets_and_urls(wiki: HTTPServer, tmp_path: Path):
    out = await SearchTool(make_settings(tmp_path, wiki)).run({"query": "Lutheran"})
    assert out.ok, out.error
    hits = out.result.results
    assert [h.title for h in hits] == ["Helsinki Cathedral"]
    assert "Lutheran cathedral" in hits[0].snippet
    assert "<span" not in hits[0].snippet
    port = wiki.port
    assert hits[0].url == f"http://127.0.0.1:{port}/en/wiki/Helsinki_Cathedral"
    sent = api_calls(wiki)[0]
    assert sent["list"] == "search" and sent["srsearch"] == "Lutheran" and sent["srlimit"] == "10"


async def test_user_agent_is_ours_not_the_packages(wiki: HTTPServer, tmp_path: Path):
    settings = make_settings(tmp_path, wiki)
    await SearchTool(settings).run({"query": "sauna"})
    (request, _), *_ = wiki.log
    assert request.headers["User-Agent"] == settings.user_agent


async def test_page_summary_url_and_coordinates(wiki: HTTPServer, tmp_path: Path):
    out = await PageTool(make_settings(tmp_path, wiki)).run({"title": "Helsinki Cathedral"})
    assert out.ok, out.error
    r = out.result
    assert r.title == "Helsinki Cathedral"
    assert r.summary.startswith("Helsinki Cathedral is a Lutheran cathedral")
    assert r.url == "https://en.wikipedia.org/wiki/Helsinki_Cathedral"
    assert (r.lat, r.lon) == pytest.approx((60.170278, 24.952222))
    props = [c.get("prop") for c in api_calls(wiki)]
    assert props == ["info|pageprops", "extracts", "coordinates"]


async def test_page_without_coordinates(wiki: HTTPServer, tmp_path: Path):
    out = await PageTool(make_settings(tmp_path, wiki)).run({"title": "Sauna"})
    assert out.ok, out.error
    assert out.result.lat is None and out.result.lon is None
    assert "sauna" in out.result.summary


async def test_page_follows_redirects_in_other_language(wiki: HTTPServer, tmp_path: Path):
    tool = PageTool(make_settings(tmp_path, wiki))
    out = await tool.run({"title": "Helsingin katedraali", "lang": "fi"})
    assert out.ok, out.error
    assert out.result.title == "Helsingin tuomiokirkko"
    assert out.result.url.startswith("https://fi.wikipedia.org/")
    assert all(req.path == "/fi/w/api.php" for req, _ in wiki.log)


async def test_page_missing_is_not_found(wiki: HTTPServer, tmp_path: Path):
    out = await PageTool(make_settings(tmp_path, wiki)).run({"title": "Atlantis City"})
    assert out.error is not None and out.error.kind == "not_found"


async def test_disambiguation_lists_options(wiki: HTTPServer, tmp_path: Path):
    out = await PageTool(make_settings(tmp_path, wiki)).run({"title": "Mercury"})
    assert out.ok, out.error
    assert out.result.options == DISAMBIGUATION["Mercury"]
    assert out.result.lat is None


async def test_geosearch_nearest_first_with_distances(wiki: HTTPServer, tmp_path: Path):
    args = {"lat": 60.1703, "lon": 24.9522, "radius_m": 1000, "limit": 5}
    out = await GeosearchTool(make_settings(tmp_path, wiki)).run(args)
    assert out.ok, out.error
    hits = out.result.results
    assert [h.title for h in hits] == [
        "Helsinki Cathedral",
        "Senate Square, Helsinki",
        "Uspenski Cathedral",
    ]
    assert hits[0].distance_m < 5 and 80 < hits[1].distance_m < 120
    assert hits[2].lat == pytest.approx(60.168611)
    sent = api_calls(wiki)[0]
    assert sent["gscoord"] == "60.1703|24.9522" and sent["gsradius"] == "1000"


async def test_geosearch_radius_is_validated_before_any_request(wiki: HTTPServer, tmp_path: Path):
    tool = GeosearchTool(make_settings(tmp_path, wiki))
    out = await tool.run({"lat": 60.17, "lon": 24.95, "radius_m": 20000})
    assert out.error is not None and out.error.kind == "invalid_args"
    out = await tool.run({"lat": 91, "lon": 24.95})
    assert out.error is not None and out.error.kind == "invalid_args"
    assert wiki.log == []


async def test_empty_results(wiki: HTTPServer, tmp_path: Path):
    settings = make_settings(tmp_path, wiki)
    out = await SearchTool(settings).run({"query": "zzyzx"})
    assert out.ok and out.result.results == []
    out = await GeosearchTool(settings).run({"lat": -45.0, "lon": 170.0, "radius_m": 10000})
    assert out.ok and out.result.results == []


async def test_repeat_is_a_cache_hit(wiki: HTTPServer, tmp_path: Path):
    tool = PageTool(make_settings(tmp_path, wiki))
    first = await tool.run({"title": "Helsinki Cathedral"})
    sent = len(wiki.log)
    second = await tool.run({"title": "Helsinki Cathedral"})
    assert first.ok and second.ok
    assert not first.cached and second.cached
    assert len(wiki.log) == sent
    assert second.result == first.result


async def test_concurrent_calls_keep_their_language(wiki: HTTPServer, tmp_path: Path):
    # the package's API_URL is module-global: interleaved calls must not cross wires
    settings = make_settings(tmp_path, wiki, cache_mode="off")
    tool = PageTool(settings)
    calls = [
        {"title": "Helsinki Cathedral", "lang": "en"},
        {"title": "Helsingin tuomiokirkko", "lang": "fi"},
    ] * 4
    outs = await asyncio.gather(*(tool.run(c) for c in calls))
    for call, out in zip(calls, outs, strict=True):
        assert out.ok, out.error
        assert out.result.title == call["title"]


# -- leakage guard -------------------------------------------------------------------


async def test_exclude_domains_drops_matching_results(wiki: HTTPServer, tmp_path: Path):
    settings = make_settings(tmp_path, wiki, exclude_domains=["cathedral"])
    out = await SearchTool(settings).run({"query": "Helsinki"})
    assert out.ok, out.error
    titles = [h.title for h in out.result.results]
    assert titles == ["Senate Square, Helsinki"]
    out = await GeosearchTool(settings).run({"lat": 60.1703, "lon": 24.9522})
    assert [h.title for h in out.result.results] == ["Senate Square, Helsinki"]


async def test_exclude_domains_matches_urls_and_blocks_pages(wiki: HTTPServer, tmp_path: Path):
    settings = make_settings(tmp_path, wiki, exclude_domains=["Senate_Square"])
    out = await PageTool(settings).run({"title": "Senate Square, Helsinki"})
    assert out.error is not None and out.error.kind == "not_found"
    assert wiki.log == []  # refused before anything is asked
    # reached through a redirect: the resolved page is checked too
    out = await PageTool(settings).run({"title": "Senate Square"})
    assert out.error is not None and out.error.kind == "not_found"
    out = await PageTool(settings).run({"title": "Helsinki Cathedral"})
    assert out.ok


# -- faults --------------------------------------------------------------------------


async def test_timeout(httpserver: HTTPServer, tmp_path: Path):
    def slow(request: Request) -> Response:
        time.sleep(0.6)
        return mediawiki(request)

    httpserver.expect_request("/en/w/api.php").respond_with_handler(slow)
    settings = make_settings(tmp_path, httpserver, timeout_s=0.2, retries=0)
    out = await SearchTool(settings).run({"query": "Lutheran"})
    assert out.error is not None and out.error.kind == "timeout"
    deadline = time.monotonic() + 5  # let the slow handler finish inside this test
    while not httpserver.log and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def test_429_with_retry_after_then_success(httpserver: HTTPServer, tmp_path: Path):
    httpserver.expect_oneshot_request("/en/w/api.php").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "1"})
    )
    arrivals: list[float] = []

    def timed(request: Request) -> Response:
        arrivals.append(time.monotonic())
        return mediawiki(request)

    httpserver.expect_request("/en/w/api.php").respond_with_handler(timed)
    started = time.monotonic()
    out = await SearchTool(make_settings(tmp_path, httpserver)).run({"query": "Lutheran"})
    assert out.ok, out.error
    assert out.result.results[0].title == "Helsinki Cathedral"
    statuses = [resp.status_code for _, resp in httpserver.log]
    assert statuses == [429, 200]
    assert arrivals[0] - started >= 0.9  # the retry waited for Retry-After


async def test_429_retry_after_too_long_is_rate_limited(httpserver: HTTPServer, tmp_path: Path):
    httpserver.expect_request("/en/w/api.php").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "120"})
    )
    out = await SearchTool(make_settings(tmp_path, httpserver)).run({"query": "x"})
    assert out.error is not None and out.error.kind == "rate_limited"


async def test_500_is_retried_then_http_error(httpserver: HTTPServer, tmp_path: Path):
    httpserver.expect_request("/en/w/api.php").respond_with_response(Response("boom", status=500))
    out = await PageTool(make_settings(tmp_path, httpserver)).run({"title": "Sauna"})
    assert out.error is not None and out.error.kind == "http_error"
    assert len(httpserver.log) == 3  # first try plus two retries


async def test_malformed_json_is_bad_response(httpserver: HTTPServer, tmp_path: Path):
    httpserver.expect_request("/en/w/api.php").respond_with_data(
        "<html>maintenance</html>", content_type="text/html"
    )
    settings = make_settings(tmp_path, httpserver)
    for tool, args in (
        (SearchTool, {"query": "x"}),
        (PageTool, {"title": "Sauna"}),
        (GeosearchTool, {"lat": 60.17, "lon": 24.95}),
    ):
        out = await tool(settings).run(args)
        assert out.error is not None and out.error.kind == "bad_response", tool.name


async def test_unexpected_json_shape_is_bad_response(httpserver: HTTPServer, tmp_path: Path):
    httpserver.expect_request("/en/w/api.php").respond_with_json({"batchcomplete": ""})
    out = await PageTool(make_settings(tmp_path, httpserver)).run({"title": "Sauna"})
    assert out.error is not None and out.error.kind == "bad_response"


async def test_api_error_members_are_typed(httpserver: HTTPServer, tmp_path: Path):
    httpserver.expect_oneshot_request("/en/w/api.php").respond_with_json(
        {"error": {"code": "internal_api_error", "info": "HTTP request timed out."}}
    )
    httpserver.expect_oneshot_request("/en/w/api.php").respond_with_json(
        {"error": {"code": "badvalue", "info": "Invalid coordinate"}}
    )
    settings = make_settings(tmp_path, httpserver, cache_mode="off")
    out = await SearchTool(settings).run({"query": "x"})
    assert out.error is not None and out.error.kind == "timeout"
    out = await GeosearchTool(settings).run({"lat": 1.0, "lon": 2.0})
    assert out.error is not None and out.error.kind == "bad_response"
    assert "Invalid coordinate" in out.error.message


async def test_replay_only_without_cache_is_cache_miss(wiki: HTTPServer, tmp_path: Path):
    settings = make_settings(tmp_path, wiki, cache_mode="replay-only")
    out = await SearchTool(settings).run({"query": "Lutheran"})
    assert out.error is not None and out.error.kind == "cache_miss"
    assert wiki.log == []
