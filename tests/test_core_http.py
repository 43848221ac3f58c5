"""The shared HTTP layer through a minimal tool: cache modes, retries, faults, rate limits."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest
from pydantic import BaseModel
from werkzeug import Request, Response

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.http import request_json
from gre_agent.core.settings import CacheMode, Settings
from gre_agent.tools.base import Tool
from tests.conftest import fast_http


class EchoArgs(BaseModel):
    word: str


class EchoResult(BaseModel):
    echo: str


class EchoTool(Tool):
    """Asks a local server to echo a word (stands in for any online backend)."""

    name = "geo.echo"  # the `geo` family's settings apply
    description = "test tool"
    Args = EchoArgs
    Result = EchoResult
    backends = ("online",)

    def online(self, args: EchoArgs) -> EchoResult:
        cfg = self.settings.geo
        data = request_json(
            self.session(),
            "GET",
            f"{cfg.endpoint}/echo",
            params={"w": args.word},
            timeout=cfg.timeout_s,
        )
        return EchoResult(echo=data["echo"])


def make(tmp_path, httpserver, cache_mode=CacheMode.read_write, **geo) -> EchoTool:
    settings = Settings(
        home=tmp_path,
        cache_mode=cache_mode,
        geo=fast_http(endpoint=httpserver.url_for("").rstrip("/"), **geo),
    )
    return EchoTool(settings)


def echo_handler(request: Request) -> Response:
    return Response(json.dumps({"echo": request.args["w"]}), content_type="application/json")


def run(tool: Tool, word: str = "hi"):
    return asyncio.run(tool.run({"word": word}))


def test_read_write_cache_answers_repeat_without_request(tmp_path, httpserver):
    httpserver.expect_request("/echo").respond_with_handler(echo_handler)
    tool = make(tmp_path, httpserver)
    first, second = run(tool), run(tool)
    assert first.result == second.result == {"echo": "hi"}
    assert (first.cached, second.cached) == (False, True)
    assert len(httpserver.log) == 1
    # the cache persists: a new tool (new session, same home) still hits it
    assert run(make(tmp_path, httpserver)).cached
    assert len(httpserver.log) == 1


def test_replay_only_never_touches_network(tmp_path, httpserver):
    httpserver.expect_request("/echo").respond_with_handler(echo_handler)
    miss = run(make(tmp_path, httpserver, CacheMode.replay_only))
    assert miss.error is not None and miss.error.kind is ErrorKind.cache_miss
    assert len(httpserver.log) == 0
    run(make(tmp_path, httpserver, CacheMode.read_write))  # record
    replayed = run(make(tmp_path, httpserver, CacheMode.replay_only))
    assert replayed.result == {"echo": "hi"} and replayed.cached
    assert len(httpserver.log) == 1


def test_cache_off_always_asks(tmp_path, httpserver):
    httpserver.expect_request("/echo").respond_with_handler(echo_handler)
    tool = make(tmp_path, httpserver, CacheMode.off)
    assert not run(tool).cached and not run(tool).cached
    assert len(httpserver.log) == 2
    assert not (tmp_path / "cache").exists()


def test_429_with_retry_after_is_honoured(tmp_path, httpserver):
    arrivals: list[float] = []

    def handler(request: Request) -> Response:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        return echo_handler(request)

    httpserver.expect_request("/echo").respond_with_handler(handler)
    outcome = run(make(tmp_path, httpserver))
    assert outcome.result == {"echo": "hi"}
    assert arrivals[1] - arrivals[0] >= 0.9


def test_retry_after_too_long_fails_fast_as_rate_limited(tmp_path, httpserver):
    httpserver.expect_request("/echo").respond_with_data(
        "no", status=429, headers={"Retry-After": "3600"}
    )
    outcome = run(make(tmp_path, httpserver))
    assert outcome.error is not None and outcome.error.kind is ErrorKind.rate_limited
    assert outcome.latency_ms < 5000


def test_persistent_429_is_rate_limited(tmp_path, httpserver):
    httpserver.expect_request("/echo").respond_with_data("no", status=429)
    outcome = run(make(tmp_path, httpserver, retries=1))
    assert outcome.error.kind is ErrorKind.rate_limited
    assert len(httpserver.log) == 2


def test_500_is_retried_then_http_error(tmp_path, httpserver):
    httpserver.expect_request("/echo").respond_with_data("boom", status=500)
    outcome = run(make(tmp_path, httpserver, retries=2))
    assert outcome.error.kind is ErrorKind.http_error
    assert len(httpserver.log) == 3


def test_500_then_success_recovers(tmp_path, httpserver):
    calls = []

    def handler(request: Request) -> Response:
        calls.append(1)
        return Response("boom", status=500) if len(calls) == 1 else echo_handler(request)

    httpserver.expect_request("/echo").respond_with_handler(handler)
    assert run(make(tmp_path, httpserver)).result == {"echo": "hi"}


def test_timeout_is_typed(tmp_path, httpserver):
    def slow(request: Request) -> Response:
        time.sleep(1.2)
        return echo_handler(request)

    httpserver.expect_request("/echo").respond_with_handler(slow)
    outcome = run(make(tmp_path, httpserver, retries=0, timeout_s=0.3))
    assert outcome.error.kind is ErrorKind.timeout


def test_malformed_json_is_bad_response_and_not_cached(tmp_path, httpserver):
    httpserver.expect_request("/echo").respond_with_data(
        "{not json", content_type="application/json"
    )
    tool = make(tmp_path, httpserver)
    assert run(tool).error.kind is ErrorKind.bad_response


def test_unreachable_server_is_http_error(tmp_path):
    settings = Settings(home=tmp_path, geo=fast_http(endpoint="http://127.0.0.1:9", retries=0))
    outcome = run(EchoTool(settings))
    assert outcome.error.kind is ErrorKind.http_error


def test_rate_limit_spaces_concurrent_requests(tmp_path, httpserver):
    arrivals: list[float] = []

    def handler(request: Request) -> Response:
        arrivals.append(time.monotonic())
        return echo_handler(request)

    httpserver.expect_request("/echo").respond_with_handler(handler)
    tool = make(tmp_path, httpserver, min_interval_s=0.25)

    async def many():
        return await asyncio.gather(*(tool.run({"word": f"w{i}"}) for i in range(5)))

    outcomes = asyncio.run(many())
    assert all(o.ok for o in outcomes)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(arrivals) == 5 and min(gaps) >= 0.23


class Broken(EchoTool):
    name = "geo.broken"

    def online(self, args: EchoArgs) -> EchoResult:
        raise RuntimeError("bug inside a tool")


class Failing(EchoTool):
    name = "geo.failing"

    async def online(self, args: EchoArgs) -> EchoResult:
        raise ToolFailure("not_found", "nothing called " + args.word)


@pytest.mark.parametrize(
    ("cls", "args", "kind"),
    [
        (Broken, {"word": "x"}, ErrorKind.internal),
        (Failing, {"word": "x"}, ErrorKind.not_found),
        (EchoTool, {"wrong": 1}, ErrorKind.invalid_args),
        (EchoTool, {"word": ["not", "a", "string"]}, ErrorKind.invalid_args),
    ],
)
def test_failures_become_typed_errors(tmp_path, cls, args, kind):
    outcome = asyncio.run(cls(Settings(home=tmp_path)).run(args))
    assert outcome.error is not None and outcome.error.kind is kind
    assert outcome.result is None and outcome.error.message


def test_whole_call_budget_bounds_a_hanging_tool(tmp_path):
    class Hangs(EchoTool):
        name = "geo.hangs"

        async def online(self, args: EchoArgs) -> EchoResult:
            await asyncio.sleep(60)
            raise AssertionError("unreachable")

    settings = Settings(home=tmp_path, geo=fast_http(timeout_s=0.1, retries=0))
    outcome = asyncio.run(Hangs(settings).run({"word": "x"}))
    assert outcome.error.kind is ErrorKind.timeout
