"""Online gazetteer tools against a local server that speaks Nominatim's API
(`/search` and `/reverse` with `format=json`, as geopy sends them), faults included."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from geopy import exc as geopy_exc
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from gre_agent.core import http
from gre_agent.core.errors import ErrorKind
from gre_agent.core.http import RateLimiter
from gre_agent.core.settings import Settings
from gre_agent.tools.gazetteer import GeocodeResult, GeocodeTool, ReverseTool
from gre_agent.tools.gazetteer._nominatim import BACKEND, failure_from_geopy
from tests.conftest import fast_http

UA = "gre-agent-tests/1.0"

HELSINKI = {
    "place_id": 258513543,
    "licence": "Data © OpenStreetMap contributors, ODbL 1.0.",
    "osm_type": "relation",
    "osm_id": 34914,
    "lat": "60.1674881",
    "lon": "24.9427473",
    "class": "boundary",
    "type": "administrative",
    "place_rank": 16,
    "importance": 0.7755,
    "addresstype": "city",
    "name": "Helsinki",
    "display_name": "Helsinki, Helsingin seutukunta, Uusimaa, Manner-Suomi, Suomi / Finland",
    "address": {
        "city": "Helsinki",
        "municipality": "Helsingin seutukunta",
        "state": "Uusimaa",
        "ISO3166-2-lvl4": "FI-18",
        "country": "Suomi / Finland",
        "country_code": "fi",
    },
    "extratags": {"population": "664028", "wikidata": "Q1757"},
    "boundingbox": ["59.9224887", "60.2978389", "24.7828249", "25.2544922"],
}
HELSINKI_TX = {
    **HELSINKI,
    "place_id": 1,
    "lat": "31.0",
    "lon": "-97.0",
    "importance": 0.2,
    "display_name": "Helsinki, Texas, United States",
    "address": {"city": "Helsinki", "state": "Texas", "country_code": "us"},
    "extratags": {},
}
REVERSE_HELSINKI = {
    **{k: v for k, v in HELSINKI.items() if k not in ("importance", "extratags")},
    "address": {**HELSINKI["address"], "county": "Helsingin seutukunta"},
}


def settings_for(tmp_path: Path, server: HTTPServer, **overrides: Any) -> Settings:
    return Settings(
        home=tmp_path / "home",
        user_agent=UA,
        gazetteer={
            "endpoint": f"{server.host}:{server.port}",
            "scheme": "http",
            **fast_http(**overrides),
        },
    )


class Nominatim:
    """Answers /search and /reverse in turn and records every request it sees."""

    def __init__(self, *answers: Response | Callable[[Request], Response] | Any):
        self.answers = list(answers)
        self.requests: list[Request] = []
        self.times: list[float] = []

    def __call__(self, request: Request) -> Response:
        self.times.append(time.monotonic())
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(answer) and not isinstance(answer, Response):
            return answer(request)
        if isinstance(answer, Response):
            return answer
        return Response(json.dumps(answer), content_type="application/json")


def serve(server: HTTPServer, path: str, fake: Nominatim) -> Nominatim:
    server.expect_request(path).respond_with_handler(fake)
    return fake


def run(tool: Any, args: dict[str, Any]):
    return asyncio.run(tool.run(args))


def test_geocode_sends_nominatim_query_and_maps_candidates(tmp_path: Path, httpserver: HTTPServer):
    fake = serve(httpserver, "/search", Nominatim([HELSINKI_TX, HELSINKI]))
    tool = GeocodeTool(settings_for(tmp_path, httpserver))
    out = run(tool, {"query": "Helsinki", "country_code": "fi", "limit": 3})
    assert out.ok, out.error
    assert out.backend == "online"
    first, second = out.result.candidates
    assert first.model_dump() == {
        "name": "Helsinki",
        "lat": 60.1674881,
        "lon": 24.9427473,
        "country_code": "FI",
        "admin1": "Uusimaa",
        "admin1_code": "18",
        "population": 664028,
        "source": "nominatim",
        "score": 0.7755,
    }
    assert second.country_code == "US" and second.population is None
    (req,) = fake.requests
    assert req.args["q"] == "Helsinki"
    assert req.args["format"] == "json"
    assert req.args["limit"] == "3"
    assert req.args["countrycodes"] == "fi"
    assert req.headers["User-Agent"] == UA


def test_admin1_goes_into_the_query(tmp_path: Path, httpserver: HTTPServer):
    fake = serve(httpserver, "/search", Nominatim([HELSINKI_TX]))
    out = run(
        GeocodeTool(settings_for(tmp_path, httpserver)), {"query": "Helsinki", "admin1": "Texas"}
    )
    assert out.ok and out.result.candidates[0].admin1 == "Texas"
    assert fake.requests[0].args["q"] == "Helsinki, Texas"


def test_reverse_maps_address_and_distance(tmp_path: Path, httpserver: HTTPServer):
    fake = serve(httpserver, "/reverse", Nominatim(REVERSE_HELSINKI))
    out = run(ReverseTool(settings_for(tmp_path, httpserver)), {"lat": 60.1699, "lon": 24.9384})
    assert out.ok, out.error
    r = out.result
    assert (r.name, r.admin1, r.admin2, r.country_code) == (
        "Helsinki",
        "Uusimaa",
        "Helsingin seutukunta",
        "FI",
    )
    assert 0.2 < r.distance_km < 0.5  # the two points are ~0.34 km apart
    (req,) = fake.requests
    assert (req.args["lat"], req.args["lon"], req.args["zoom"]) == ("60.1699", "24.9384", "10")


def test_empty_search_is_an_empty_list(tmp_path: Path, httpserver: HTTPServer):
    serve(httpserver, "/search", Nominatim([]))
    out = run(GeocodeTool(settings_for(tmp_path, httpserver)), {"query": "Xyzzyville"})
    assert out.ok and out.result == GeocodeResult(candidates=[])


def test_reverse_in_the_ocean_is_not_found(tmp_path: Path, httpserver: HTTPServer):
    serve(httpserver, "/reverse", Nominatim({"error": "Unable to geocode"}))
    out = run(ReverseTool(settings_for(tmp_path, httpserver)), {"lat": 0.0, "lon": -140.0})
    assert out.error is not None and out.error.kind is ErrorKind.not_found


def test_timeout(tmp_path: Path, httpserver: HTTPServer):
    released = threading.Event()

    def stall(request: Request) -> Response:
        released.wait(5)
        return Response("[]", content_type="application/json")

    serve(httpserver, "/search", Nominatim(stall))
    tool = GeocodeTool(settings_for(tmp_path, httpserver, timeout_s=0.3, retries=0))
    try:
        out = run(tool, {"query": "Helsinki"})
    finally:
        released.set()  # free the single-threaded server for the next test
    assert out.error is not None and out.error.kind is ErrorKind.timeout


def test_429_with_retry_after_then_success(tmp_path: Path, httpserver: HTTPServer):
    busy = Response("slow down", status=429, headers={"Retry-After": "1"})
    fake = serve(httpserver, "/search", Nominatim(busy, [HELSINKI]))
    out = run(GeocodeTool(settings_for(tmp_path, httpserver)), {"query": "Helsinki"})
    assert out.ok, out.error
    assert out.result.candidates[0].name == "Helsinki"
    assert len(fake.times) == 2
    assert fake.times[1] - fake.times[0] >= 0.9  # Retry-After was honoured


def test_429_asking_too_long_fails_fast_as_rate_limited(tmp_path: Path, httpserver: HTTPServer):
    busy = Response("slow down", status=429, headers={"Retry-After": "3600"})
    fake = serve(httpserver, "/search", Nominatim(busy))
    out = run(GeocodeTool(settings_for(tmp_path, httpserver)), {"query": "Helsinki"})
    assert out.error is not None and out.error.kind is ErrorKind.rate_limited
    assert len(fake.requests) == 1


def test_500_is_retried_then_reported(tmp_path: Path, httpserver: HTTPServer):
    fake = serve(httpserver, "/search", Nominatim(Response("oops", status=500)))
    out = run(GeocodeTool(settings_for(tmp_path, httpserver, retries=2)), {"query": "Helsinki"})
    assert out.error is not None and out.error.kind is ErrorKind.http_error
    assert "500" in out.error.message
    assert len(fake.requests) == 3  # one try and two retries


def test_500_then_success(tmp_path: Path, httpserver: HTTPServer):
    serve(httpserver, "/reverse", Nominatim(Response("oops", status=503), REVERSE_HELSINKI))
    out = run(ReverseTool(settings_for(tmp_path, httpserver)), {"lat": 60.17, "lon": 24.94})
    assert out.ok and out.result.name == "Helsinki"


def test_malformed_json_is_a_bad_response_and_not_cached(tmp_path: Path, httpserver: HTTPServer):
    garbled = Response('[{"lat": "60.1', content_type="application/json")
    fake = serve(httpserver, "/search", Nominatim(garbled, [HELSINKI]))
    tool = GeocodeTool(settings_for(tmp_path, httpserver))
    out = run(tool, {"query": "Helsinki"})
    assert out.error is not None and out.error.kind is ErrorKind.bad_response
    again = run(tool, {"query": "Helsinki"})  # the garbled answer must not be replayed
    assert again.ok and again.result.candidates[0].name == "Helsinki"
    assert not again.cached and len(fake.requests) == 2


def test_second_identical_call_comes_from_the_cache(tmp_path: Path, httpserver: HTTPServer):
    fake = serve(httpserver, "/search", Nominatim([HELSINKI]))
    tool = GeocodeTool(settings_for(tmp_path, httpserver))
    first = run(tool, {"query": "Helsinki"})
    second = run(tool, {"query": "Helsinki"})
    assert first.ok and not first.cached
    assert second.ok and second.cached
    assert second.result == first.result
    assert len(fake.requests) == 1
    # another tool instance (a later process, say) shares the cache file
    third = run(GeocodeTool(settings_for(tmp_path, httpserver)), {"query": "Helsinki"})
    assert third.cached and len(fake.requests) == 1


def test_replay_only_with_an_empty_cache_is_a_cache_miss(tmp_path: Path, httpserver: HTTPServer):
    fake = serve(httpserver, "/search", Nominatim([HELSINKI]))
    tool = GeocodeTool(settings_for(tmp_path, httpserver, cache_mode="replay-only"))
    out = run(tool, {"query": "Helsinki"})
    assert out.error is not None and out.error.kind is ErrorKind.cache_miss
    rev = run(ReverseTool(tool.settings), {"lat": 60.17, "lon": 24.94})
    assert rev.error is not None and rev.error.kind is ErrorKind.cache_miss
    assert fake.requests == [] and httpserver.log == []


def test_replay_only_answers_what_was_recorded(tmp_path: Path, httpserver: HTTPServer):
    fake = serve(httpserver, "/search", Nominatim([HELSINKI]))
    recorded = run(GeocodeTool(settings_for(tmp_path, httpserver)), {"query": "Helsinki"})
    replay = GeocodeTool(settings_for(tmp_path, httpserver, cache_mode="replay-only"))
    out = run(replay, {"query": "Helsinki"})
    assert out.ok and out.cached and out.result == recorded.result
    assert len(fake.requests) == 1


def test_concurrent_calls_reach_nominatim_at_most_once_a_second(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
):
    # The limiter runs on a clock that stands still and records each wait instead of
    # sleeping: the schedule is read exactly, and a slow machine cannot change it.
    waits: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    limiter = RateLimiter(1.0, clock=lambda: 0.0, sleep=sleep)
    monkeypatch.setitem(http._limiters, BACKEND, limiter)
    fake = serve(httpserver, "/search", Nominatim([HELSINKI]))
    tool = GeocodeTool(settings_for(tmp_path, httpserver, min_interval_s=1.0))

    async def all_at_once():
        return await asyncio.gather(*(tool.run({"query": f"Helsinki {i}"}) for i in range(16)))

    outcomes = asyncio.run(all_at_once())
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert len(fake.requests) == 16
    # each request left in its own one-second slot: at once, then after 1, 2, ... 15 s
    assert sorted(waits) == [float(k) for k in range(1, 16)]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (geopy_exc.GeocoderTimedOut("slow"), ErrorKind.timeout),
        (geopy_exc.GeocoderRateLimited("busy", retry_after=5), ErrorKind.rate_limited),
        (geopy_exc.GeocoderQuotaExceeded("quota"), ErrorKind.rate_limited),
        (geopy_exc.GeocoderParseError("junk"), ErrorKind.bad_response),
        (geopy_exc.GeocoderQueryError("bad"), ErrorKind.invalid_args),
        (geopy_exc.GeocoderUnavailable("down"), ErrorKind.http_error),
        (geopy_exc.GeocoderServiceError("500"), ErrorKind.http_error),
        (geopy_exc.ConfigurationError("no agent"), ErrorKind.unavailable),
    ],
)
def test_geopy_errors_map_to_tool_failure_kinds(error: Exception, kind: ErrorKind):
    assert failure_from_geopy(error).kind is kind
