"""Online OSM tools against a local server that speaks Overpass (POST data= at
/api/interpreter, Overpass JSON back), including its faults."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from gre_agent.core.errors import ErrorKind
from gre_agent.core.settings import Settings
from gre_agent.tools.base import Tool, ToolOutcome
from gre_agent.tools.osm import FeaturesNearTool, FindNamedTool, StreetIntersectionTool
from gre_agent.tools.osm import query as ql
from tests.conftest import fast_http
from tests.osm_ql import literals, tokenize

PATH = "/api/interpreter"
CENTRE = {"lat": 60.1699, "lon": 24.9384}
BBOX = [60.15, 24.90, 60.19, 24.97]

CAFE = {"type": "node", "id": 60068035, "lat": 60.169967, "lon": 24.937518,
        "tags": {"amenity": "cafe", "name": "Cafe Java"}}  # fmt: skip
FAR_CAFE = {"type": "node", "id": 2, "lat": 60.1730, "lon": 24.9384,
            "tags": {"amenity": "cafe", "name": "Far Café"}}  # fmt: skip
MUSEUM = {"type": "way", "id": 8033120, "center": {"lat": 60.17002, "lon": 24.94407},
          "tags": {"tourism": "museum", "name": "Ateneum"}}  # fmt: skip


def overpass_json(*elements: dict[str, Any], remark: str | None = None) -> str:
    body: dict[str, Any] = {
        "version": 0.6,
        "generator": "Overpass API 0.7.62",
        "osm3s": {"timestamp_osm_base": "2024-01-01T00:00:00Z"},
        "elements": list(elements),
    }
    if remark is not None:
        body["remark"] = remark
    return json.dumps(body)


class Overpass:
    """Records each query it receives, checks it is well-formed QL, answers in turn."""

    def __init__(self, *answers: Response | str):
        self.answers = list(answers)
        self.queries: list[str] = []
        self.times: list[float] = []

    def __call__(self, request: Request) -> Response:
        self.times.append(time.monotonic())
        form = parse_qs(request.get_data(as_text=True))
        assert request.method == "POST" and list(form) == ["data"]
        query = form["data"][0]
        tokenize(query)  # raises on a malformed string literal
        self.queries.append(query)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, str):
            return Response(answer, content_type="application/json")
        return answer


def settings_for(tmp_path: Path, server: HTTPServer, **osm: Any) -> Settings:
    return Settings(home=tmp_path, osm=fast_http(endpoint=server.url_for(PATH), **osm))


def serve(server: HTTPServer, *answers: Response | str) -> Overpass:
    overpass = Overpass(*answers)
    server.expect_request(PATH, method="POST").respond_with_handler(overpass)
    return overpass


def run(tool: Tool, args: dict[str, Any]) -> ToolOutcome:
    return asyncio.run(tool.run(args, backend="online"))


def test_features_near_sends_around_and_tags_and_sorts_by_distance(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    server = serve(httpserver, overpass_json(FAR_CAFE, MUSEUM, CAFE))
    tool = FeaturesNearTool(settings_for(tmp_path, httpserver))
    outcome = run(tool, {**CENTRE, "radius_m": 250, "tags": {"amenity": "cafe"}, "limit": 2})
    assert outcome.error is None, outcome.error
    features = outcome.result.features
    assert [f.osm_id for f in features] == [60068035, 8033120]  # nearest two
    assert features[0].distance_m == pytest.approx(49.4, abs=0.5)
    assert features[1].osm_type == "way" and features[1].lat == 60.17002
    assert outcome.result.source == "overpass"
    (sent,) = server.queries
    assert "(around:250,60.1699,24.9384)" in sent and "out tags center" in sent
    assert literals(tokenize(sent)) == ["amenity", "cafe"] * 3


def test_a_name_with_quotes_reaches_overpass_well_formed(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    name = 'Kaisa\'s "Bar"]; out; node(1); // \\ café\n'
    server = serve(httpserver, overpass_json(CAFE))
    tool = FindNamedTool(settings_for(tmp_path, httpserver))
    outcome = run(tool, {"name": name, "bbox": BBOX})
    assert outcome.error is None, outcome.error
    (sent,) = server.queries
    tokens = tokenize(sent)
    regexes = [t for t in literals(tokens) if t != ql.NAME_KEYS]
    assert len(regexes) == 3 and len(set(regexes)) == 1
    assert re.search(regexes[0], f"The {name}", re.IGNORECASE)  # the name, literally
    assert re.search(regexes[0], name.replace("é", "E"), re.IGNORECASE)  # any accents
    assert tokens.count(("word", "out")) == 2  # [out:json] and the one out statement
    assert "(60.15,24.9,60.19,24.97)" in sent


def test_find_named_around_and_bbox_order(tmp_path: Path, httpserver: HTTPServer) -> None:
    exact = {**FAR_CAFE, "id": 3, "tags": {"name": "Java"}}
    serve(httpserver, overpass_json(CAFE, exact))
    tool = FindNamedTool(settings_for(tmp_path, httpserver, cache_mode="off"))
    by_name = run(tool, {"name": "java", "bbox": BBOX}).result.features
    assert [f.name for f in by_name] == ["Java", "Cafe Java"]  # exact match first
    assert all(f.distance_m is None for f in by_name)
    near = run(tool, {"name": "java", "around": {**CENTRE, "radius_m": 500}})
    # issue 12: the exact name first even around a point, though "Cafe Java" is nearer
    assert [f.name for f in near.result.features] == ["Java", "Cafe Java"]
    assert near.result.features[0].distance_m > near.result.features[1].distance_m


def test_street_intersection_online(tmp_path: Path, httpserver: HTTPServer) -> None:
    crossing = {"type": "node", "id": 313959167, "lat": 60.1698747, "lon": 24.9387388}
    server = serve(httpserver, overpass_json(crossing))
    tool = StreetIntersectionTool(settings_for(tmp_path, httpserver))
    near = {**CENTRE, "radius_m": 300}
    outcome = run(tool, {"street_a": "Mannerheimintie", "street_b": "Kaivokatu", "near": near})
    (feature,) = outcome.result.features
    assert feature.osm_id == 313959167 and feature.name == "Mannerheimintie / Kaivokatu"
    (sent,) = server.queries
    regexes = [t for t in literals(tokenize(sent)) if t not in (ql.NAME_KEYS, "highway")]
    assert re.fullmatch(regexes[0], "MANNERHEIMINTIE", re.I)
    assert not re.fullmatch(regexes[0], "Mannerheimintie 2", re.I)
    assert re.fullmatch(regexes[1], "kaivokatu", re.I)
    assert "node.na.nb(around:300,60.1699,24.9384);" in sent


def test_street_intersection_online_needs_near(tmp_path: Path, httpserver: HTTPServer) -> None:
    tool = StreetIntersectionTool(settings_for(tmp_path, httpserver))
    outcome = run(tool, {"street_a": "A", "street_b": "B"})
    assert outcome.error.kind == ErrorKind.invalid_args
    assert httpserver.log == []  # nothing was sent


def test_empty_results_are_an_empty_list(tmp_path: Path, httpserver: HTTPServer) -> None:
    serve(httpserver, overpass_json())
    tool = FindNamedTool(settings_for(tmp_path, httpserver))
    outcome = run(tool, {"name": "Nowhere", "around": {**CENTRE, "radius_m": 100}})
    assert outcome.error is None and outcome.result.features == []


def test_answers_are_cached(tmp_path: Path, httpserver: HTTPServer) -> None:
    server = serve(httpserver, overpass_json(CAFE))
    tool = FeaturesNearTool(settings_for(tmp_path, httpserver))
    args = {**CENTRE, "tags": {"amenity": "cafe"}}
    first, second = run(tool, args), run(tool, args)
    assert first.result == second.result and second.cached and not first.cached
    assert len(server.queries) == 1


def test_timeout(tmp_path: Path, httpserver: HTTPServer) -> None:
    released = threading.Event()

    def slow(request: Request) -> Response:
        released.wait(timeout=2.0)  # far past the client's timeout
        return Response(overpass_json(), content_type="application/json")

    httpserver.expect_request(PATH, method="POST").respond_with_handler(slow)
    tool = FeaturesNearTool(settings_for(tmp_path, httpserver, retries=0, timeout_s=0.3))
    try:
        outcome = run(tool, {**CENTRE, "tags": {"amenity": "cafe"}})
    finally:
        released.set()  # free the (single-threaded) server for the next test
    assert outcome.error.kind == ErrorKind.timeout


def test_429_with_retry_after_is_honoured(tmp_path: Path, httpserver: HTTPServer) -> None:
    busy = Response("rate limited", status=429, headers={"Retry-After": "1"})
    server = serve(httpserver, busy, overpass_json(CAFE))
    tool = FeaturesNearTool(settings_for(tmp_path, httpserver))
    outcome = run(tool, {**CENTRE, "tags": {"amenity": "cafe"}})
    assert outcome.error is None and outcome.result.features[0].name == "Cafe Java"
    assert len(server.queries) == 2
    assert server.times[1] - server.times[0] >= 0.9  # waited as asked, measured server-side


def test_429_asking_too_long_a_wait_fails_fast(tmp_path: Path, httpserver: HTTPServer) -> None:
    serve(httpserver, Response("busy", status=429, headers={"Retry-After": "3600"}))
    tool = FeaturesNearTool(settings_for(tmp_path, httpserver))
    outcome = run(tool, {**CENTRE, "tags": {"amenity": "cafe"}})
    assert outcome.error.kind == ErrorKind.rate_limited


def test_500_is_retried_then_reported(tmp_path: Path, httpserver: HTTPServer) -> None:
    server = serve(httpserver, Response("boom", status=500))
    tool = FeaturesNearTool(settings_for(tmp_path, httpserver, retries=1))
    outcome = run(tool, {**CENTRE, "tags": {"amenity": "cafe"}})
    assert outcome.error.kind == ErrorKind.http_error
    assert len(server.queries) == 2


def test_malformed_json_is_a_bad_response_and_not_cached(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    server = serve(httpserver, '{"elements": [', overpass_json(CAFE))
    tool = FeaturesNearTool(settings_for(tmp_path, httpserver))
    args = {**CENTRE, "tags": {"amenity": "cafe"}}
    assert run(tool, args).error.kind == ErrorKind.bad_response
    assert run(tool, args).error is None  # the broken answer was not replayed
    assert len(server.queries) == 2


@pytest.mark.parametrize(
    ("remark", "kind"),
    [
        (
            'runtime error: Query timed out in "query" at line 3 after 26 seconds.',
            ErrorKind.timeout,
        ),
        (
            "runtime error: Query run out of memory using about 2048 MB of RAM.",
            ErrorKind.bad_response,
        ),
        ("runtime remark: Timeout is 180 and maxsize is 536870912.", ErrorKind.bad_response),
    ],
)
def test_errors_inside_a_200_body(
    tmp_path: Path, httpserver: HTTPServer, remark: str, kind: ErrorKind
) -> None:
    server = serve(httpserver, overpass_json(CAFE, remark=remark), overpass_json(CAFE))
    tool = FindNamedTool(settings_for(tmp_path, httpserver))
    args = {"name": "Java", "bbox": BBOX}
    outcome = run(tool, args)
    assert outcome.error.kind == kind and "Overpass" in outcome.error.message
    assert run(tool, args).error is None  # a failed answer is not served from the cache
    assert len(server.queries) == 2


def test_no_endpoint_is_unavailable(tmp_path: Path) -> None:
    tool = FeaturesNearTool(Settings(home=tmp_path, osm={"endpoint": None}))
    outcome = run(tool, {**CENTRE, "tags": {"amenity": "cafe"}})
    assert outcome.error.kind == ErrorKind.unavailable
