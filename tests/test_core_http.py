"""The shared HTTP layer through a minimal tool: cache modes, retries, faults, rate limits."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import BaseModel
from werkzeug import Request, Response

from gre_agent.core import http
from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.http import RateLimiter, limiter_for, request_json
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
    assert first.result == second.result == EchoResult(echo="hi")
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
    assert replayed.result == EchoResult(echo="hi") and replayed.cached
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
    assert outcome.result == EchoResult(echo="hi")
    assert arrivals[1] - arrivals[0] >= 0.9


def test_retry_after_too_long_fails_fast_as_rate_limited(tmp_path, httpserver):
    httpserver.expect_request("/echo").respond_with_data(
        "no", status=429, headers={"Retry-After": "3600"}
    )
    outcome = run(make(tmp_path, httpserver))
    assert outcome.error is not None and outcome.error.kind is ErrorKind.rate_limited
    assert "3600 s" in outcome.error.message
    assert len(httpserver.log) == 1  # refused to wait, so it never asked again


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
    assert run(make(tmp_path, httpserver)).result == EchoResult(echo="hi")


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


class FakeClock:
    """A clock that moves only through `sleep` (or not at all with advance=False); it
    records every wait, so a test reads the limiter's schedule instead of timing it."""

    def __init__(self, now: float = 100.0, *, advance: bool = True):
        self.now = now
        self.advance = advance
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if self.advance:
                self.now += seconds


def limited(interval: float, clock: FakeClock) -> RateLimiter:
    return RateLimiter(interval, clock=clock, sleep=clock.sleep)


def test_rate_limiter_spaces_a_burst_one_interval_apart():
    clock = FakeClock()
    limiter = limited(1.0, clock)
    starts = []
    for _ in range(4):
        limiter.wait()
        starts.append(clock.now)
    assert starts == [100.0, 101.0, 102.0, 103.0]
    assert clock.sleeps == [1.0, 1.0, 1.0]


def test_rate_limiter_waits_only_for_what_is_left_of_the_interval():
    clock = FakeClock()
    limiter = limited(1.0, clock)
    limiter.wait()
    clock.now += 0.25
    limiter.wait()
    assert clock.sleeps == [pytest.approx(0.75)]
    clock.now += 5.0  # idle for longer than the interval: the next request goes at once
    limiter.wait()
    limiter.wait()
    assert clock.sleeps == [pytest.approx(0.75), 1.0]


def test_rate_limiter_gives_concurrent_callers_distinct_slots():
    clock = FakeClock(advance=False)  # every thread asks at the same instant
    limiter = limited(1.0, clock)
    n = 16
    start = threading.Barrier(n)

    def call() -> None:
        start.wait()
        limiter.wait()

    with ThreadPoolExecutor(n) as pool:
        list(pool.map(lambda _: call(), range(n)))
    # one caller goes at once, the others wait 1, 2, ... 15 s: no two share a slot
    assert sorted(clock.sleeps) == [float(k) for k in range(1, n)]


def test_rate_limiter_with_no_interval_never_waits():
    clock = FakeClock()
    limiter = limited(0.0, clock)
    for _ in range(5):
        limiter.wait()
    assert clock.sleeps == []


def test_limiter_for_is_shared_per_backend_until_the_interval_changes(monkeypatch):
    monkeypatch.setattr(http, "_limiters", {})
    first = limiter_for("geo", 1.0)
    assert limiter_for("geo", 1.0) is first
    assert limiter_for("other", 1.0) is not first
    changed = limiter_for("geo", 2.0)
    assert changed is not first and changed.interval == 2.0


def test_every_sent_request_waits_for_the_shared_limiter(tmp_path, httpserver, monkeypatch):
    httpserver.expect_request("/echo").respond_with_handler(echo_handler)
    clock = FakeClock(advance=False)
    monkeypatch.setitem(http._limiters, "geo", limited(0.25, clock))
    tool = make(tmp_path, httpserver, min_interval_s=0.25)

    async def many():
        return await asyncio.gather(*(tool.run({"word": f"w{i}"}) for i in range(5)))

    outcomes = asyncio.run(many())
    assert all(o.ok for o in outcomes)
    assert len(httpserver.log) == 5
    assert sorted(clock.sleeps) == [0.25, 0.5, 0.75, 1.0]
    run(tool, "w0")  # a cache hit is not sent, so it takes no slot
    assert len(clock.sleeps) == 4 and len(httpserver.log) == 5


def test_rate_limited_concurrent_requests_all_arrive(tmp_path, httpserver):
    # End to end on the real clock; no timing assertion (the schedule is tested above).
    httpserver.expect_request("/echo").respond_with_handler(echo_handler)
    tool = make(tmp_path, httpserver, min_interval_s=0.05)

    async def many():
        return await asyncio.gather(*(tool.run({"word": f"w{i}"}) for i in range(5)))

    outcomes = asyncio.run(many())
    assert all(o.ok for o in outcomes)
    assert sorted(req.args["w"] for req, _ in httpserver.log) == [f"w{i}" for i in range(5)]


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
