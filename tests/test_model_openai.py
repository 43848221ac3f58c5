"""The openai backend against a fake OpenAI-compatible server: faults, failover, tools, images,
streaming."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from gre_agent.agent.backends import Completion, Message, ModelError, OpenAIBackend, make_backend
from gre_agent.core.errors import ErrorKind, GreError
from gre_agent.core.settings import ModelSettings, Settings
from tests.fake_openai import dead_url, image_sizes

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "geocode",
            "description": "Find a place by name.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        },
    }
]


def backend(urls: list[str], **settings) -> OpenAIBackend:
    base = {"model": "fake-model", "timeout_s": 2.0, "retries": 1, **settings}
    return OpenAIBackend(ModelSettings(**base), base_urls=urls, backoff_s=0.0)


async def test_retries_a_500_then_succeeds(servers):
    server = servers()
    server.script = ["500"]
    async with backend([server.url]) as b:
        c = await b.complete("Where?")
    assert c.text == "echo: Where?"
    assert len(server.requests) == 2


async def test_persistent_500_is_http_error(servers):
    server = servers(default="500")
    async with backend([server.url], retries=2) as b:
        with pytest.raises(ModelError) as err:
            await b.complete("Where?")
    assert err.value.kind == ErrorKind.http_error and err.value.status == 500
    assert isinstance(err.value, GreError)
    assert len(server.requests) == 3  # one try plus two retries


async def test_400_fails_at_once(servers):
    server = servers(default="400")
    async with backend([server.url], retries=3) as b:
        with pytest.raises(ModelError) as err:
            await b.complete("Where?")
    assert err.value.status == 400
    assert len(server.requests) == 1


async def test_429_is_retried(servers):
    server = servers()
    server.script = ["429", "429"]
    async with backend([server.url], retries=2) as b:
        assert (await b.complete("Hi")).text == "echo: Hi"


async def test_timeout(servers):
    server = servers(default="slow", delay_s=1.5)
    async with backend([server.url], timeout_s=0.3, retries=0) as b:
        with pytest.raises(ModelError) as err:
            await b.complete("Where?")
    assert err.value.kind == ErrorKind.timeout


@pytest.mark.parametrize("mode", ["malformed", "noshape"])
async def test_malformed_answer_is_bad_response(servers, mode):
    server = servers(default=mode)
    async with backend([server.url], retries=0) as b:
        with pytest.raises(ModelError) as err:
            await b.complete("Where?")
    assert err.value.kind == ErrorKind.bad_response


async def test_malformed_then_good_endpoint(servers):
    bad, good = servers(default="malformed"), servers()
    async with backend([bad.url, good.url], retries=0) as b:
        for _ in range(3):
            assert (await b.complete("Hi")).endpoint == good.url


async def test_nothing_listening_is_unavailable():
    async with backend([dead_url()], retries=1) as b:
        with pytest.raises(ModelError) as err:
            await b.complete("Where?")
    assert err.value.kind == ErrorKind.unavailable


async def test_failover_skips_a_dead_endpoint(servers):
    server = servers()
    dead = dead_url()
    async with backend([dead, server.url], retries=0) as b:
        answers = [await b.complete(f"q{i}") for i in range(4)]
    assert {a.endpoint for a in answers} == {server.url}
    assert [a.text for a in answers] == [f"echo: q{i}" for i in range(4)]


async def test_failover_on_5xx(servers):
    broken, good = servers(default="503"), servers()
    async with backend([broken.url, good.url], retries=0, cooldown_s=60) as b:
        for _ in range(4):
            assert (await b.complete("Hi")).endpoint == good.url
    # The broken endpoint was tried once, then left alone while cooling down.
    assert len(broken.requests) == 1


async def test_round_robin(servers):
    a, b_ = servers(), servers()
    async with backend([a.url, b_.url]) as b:
        answers = await b.complete_batch([f"q{i}" for i in range(6)])
    assert len(a.requests) == 3 and len(b_.requests) == 3
    assert [c.text for c in answers] == [f"echo: q{i}" for i in range(6)]


async def test_tool_calls_via_the_tools_api(servers):
    server = servers()
    async with backend([server.url]) as b:
        c = await b.complete("Find Oslo", tools=TOOLS, tool_choice="auto")
    assert c.finish_reason == "tool_calls"
    assert [(t.name, t.arguments) for t in c.tool_calls] == [("geocode", {"query": "Oslo"})]
    sent = server.requests[0]
    assert sent["tools"] == TOOLS and sent["tool_choice"] == "auto"


async def test_bare_function_tools_are_wrapped(servers):
    server = servers()
    async with backend([server.url]) as b:
        await b.complete("Find Oslo", tools=[TOOLS[0]["function"]])
    assert server.requests[0]["tools"] == TOOLS


async def test_tool_call_with_bad_json_arguments_keeps_the_raw_text(servers):
    server = servers(default="badargs")
    async with backend([server.url]) as b:
        c = await b.complete("Find Oslo")
    assert c.tool_calls[0].arguments == {}
    assert c.tool_calls[0].raw_arguments == '{"query": "Oslo"'


async def test_tool_call_tags_in_text_are_parsed(servers):
    server = servers(default="tagged")
    async with backend([server.url]) as b:
        c = await b.complete("Find Oslo")
    assert c.text == "Checking."
    assert c.tool_calls[0].name == "geocode" and c.tool_calls[0].arguments == {"query": "Oslo"}
    assert "<tool_call>" in (c.raw_text or "")


async def test_tool_results_round_trip(servers):
    server = servers()
    first = Message.user("Find Oslo")
    async with backend([server.url]) as b:
        call = (await b.complete([first], tools=TOOLS)).tool_calls[0]
        conversation = [
            first,
            Message.assistant("", [call]),
            Message.tool(call.id, '{"lat": 59.91, "lon": 10.75}', name="geocode"),
        ]
        await b.complete(conversation, tools=TOOLS, tool_choice="none")
    sent = server.requests[1]["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {
        "name": "geocode",
        "arguments": '{"query": "Oslo"}',
    }
    assert sent[2] == {
        "role": "tool",
        "content": '{"lat": 59.91, "lon": 10.75}',
        "tool_call_id": call.id,
        "name": "geocode",
    }


async def test_image_arrives_as_a_data_url_within_budget(servers, tmp_path: Path):
    server = servers()
    path = tmp_path / "wide.png"
    Image.new("RGB", (1000, 750), (10, 120, 30)).save(path)
    budget = 256 * 28 * 28
    async with backend([server.url], max_pixels=budget) as b:
        await b.complete([Message.user("Where?", path)])
    part = server.requests[0]["messages"][0]["content"][0]
    assert part["type"] == "image_url" and part["image_url"]["url"].startswith("data:image/jpeg")
    ((w, h),) = image_sizes(server.requests[0])
    assert w % 28 == 0 and h % 28 == 0
    assert w * h <= budget and w * h > budget * 0.8
    assert abs(w / h - 1000 / 750) < 0.1


async def test_small_images_are_not_blown_up(servers):
    server = servers()
    async with backend([server.url]) as b:
        await b.complete([Message.user("Where?", Image.new("RGB", (112, 84)))])
    assert image_sizes(server.requests[0]) == [(112, 84)]


async def test_sampling_parameters_and_usage(servers):
    server = servers()
    async with backend([server.url], temperature=0.7, max_tokens=5) as b:
        c = await b.complete(
            "one two three four five six seven", top_p=0.9, seed=3, stop=["\n"], max_tokens=4
        )
        await b.complete("x", extra_body={"top_k": 20})
    body = server.requests[0]
    assert (body["temperature"], body["top_p"], body["seed"], body["stop"]) == (0.7, 0.9, 3, ["\n"])
    assert body["max_tokens"] == 4 and body["model"] == "fake-model"
    assert server.requests[1]["top_k"] == 20 and server.requests[1]["max_tokens"] == 5
    assert c.finish_reason == "length" and c.usage.completion_tokens == 4
    assert c.usage.total_tokens == c.usage.prompt_tokens + 4
    assert c.backend == "openai"


async def test_unreadable_image_is_invalid_args(servers, tmp_path: Path):
    server = servers()
    bad = tmp_path / "x.jpg"
    bad.write_text("not an image")
    async with backend([server.url]) as b:
        with pytest.raises(ModelError) as err:
            await b.complete([Message.user("Where?", bad)])
    assert err.value.kind == ErrorKind.invalid_args
    assert server.requests == []


def test_make_backend_picks_by_settings(tmp_path: Path):
    assert isinstance(make_backend(Settings()), OpenAIBackend)
    trace = tmp_path / "t.jsonl"
    trace.write_text("")
    replay = make_backend(ModelSettings(backend="replay", replay_path=trace))
    assert replay.name == "replay"
    tf = make_backend(ModelSettings(backend="transformers", model="some/model"))
    assert tf.name == "transformers" and tf.model == "some/model"


# -- streaming (SSE) --------------------------------------------------------------------------


def same_answer(c: Completion) -> tuple:
    """What a streamed and a non-streamed completion must agree on."""
    calls = [(t.name, t.arguments, t.raw_arguments) for t in c.tool_calls]
    return (c.text, calls, c.usage, c.finish_reason, c.model, c.raw_text, c.endpoint)


@pytest.mark.parametrize(
    ("mode", "kwargs"),
    [
        ("ok", {}),
        ("ok", {"max_tokens": 2}),  # cut at max_tokens: finish_reason "length"
        ("ok", {"tools": TOOLS}),  # tool-call deltas
        ("badargs", {}),
        ("tagged", {}),  # <tool_call> tags in the text, cut out as without streaming
    ],
)
async def test_streamed_completion_equals_the_plain_one(servers, mode, kwargs):
    server = servers(default=mode)
    server.cached_tokens = 3
    pieces: list[str] = []
    async with backend([server.url]) as b:
        plain = await b.complete("Find Oslo now", **kwargs)
        streamed = await b.complete("Find Oslo now", on_text=pieces.append, **kwargs)
    assert "stream" not in server.requests[0]
    assert server.requests[1]["stream"] is True
    assert server.requests[1]["stream_options"] == {"include_usage": True}
    assert same_answer(streamed) == same_answer(plain)
    assert streamed.usage.prompt_tokens > 0 and streamed.usage.cached_tokens == 3
    assert "".join(pieces) == (plain.raw_text or plain.text)
    assert plain.ttft_s is None and streamed.ttft_s is not None


async def test_text_arrives_piece_by_piece_with_time_to_first_token(servers):
    server = servers()
    server.chunk_delay_s = 0.05
    pieces: list[str] = []
    async with backend([server.url]) as b:
        c = await b.complete("one two three four", on_text=pieces.append)
    assert pieces == ["echo:", " one", " two", " three", " four"]
    assert c.text == "echo: one two three four" and c.usage.completion_tokens == 5
    assert c.ttft_s is not None and 0.04 < c.ttft_s < c.latency_s - 0.15


async def test_stream_setting_forces_or_forbids_streaming(servers):
    server = servers()
    pieces: list[str] = []
    async with backend([server.url], stream=True) as b:
        forced = await b.complete("Hi")
    async with backend([server.url], stream=False) as b:
        forbidden = await b.complete("Hi", on_text=pieces.append)
    assert server.requests[0]["stream"] is True and forced.ttft_s is not None
    assert "stream" not in server.requests[1] and forbidden.ttft_s is None
    assert pieces == ["echo: Hi"]  # the whole text at once


async def test_server_that_ignores_stream(servers):
    server = servers(default="nostream")
    pieces: list[str] = []
    async with backend([server.url]) as b:
        c = await b.complete("Hi", on_text=pieces.append)
    assert c.text == "echo: Hi" and pieces == ["echo: Hi"]


async def test_no_cached_tokens_reported_is_zero(servers):
    server = servers()
    async with backend([server.url]) as b:
        assert (await b.complete("Hi")).usage.cached_tokens == 0
        assert (await b.complete("Hi", on_text=lambda _: None)).usage.cached_tokens == 0


@pytest.mark.parametrize("mode", ["badchunk", "cut_early"])
async def test_stream_broken_before_any_text_fails_over(servers, mode):
    bad, good = servers(default=mode), servers()
    pieces: list[str] = []
    async with backend([bad.url, good.url], retries=0) as b:
        c = await b.complete("Hi", on_text=pieces.append)
    assert c.endpoint == good.url and c.text == "echo: Hi" and pieces == ["echo:", " Hi"]


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        ("badchunk", ErrorKind.bad_response),
        ("cut_early", ErrorKind.bad_response),
        ("cut", ErrorKind.bad_response),
        ("streamerror", ErrorKind.http_error),
        ("500", ErrorKind.http_error),
    ],
)
async def test_stream_errors_are_typed(servers, mode, kind):
    server = servers(default=mode)
    async with backend([server.url], retries=0) as b:
        with pytest.raises(ModelError) as err:
            await b.complete("Where is it?", on_text=lambda _: None)
    assert err.value.kind == kind


@pytest.mark.parametrize(("mode", "kind"), [("cut", "bad_response"), ("stall", "timeout")])
async def test_stream_failing_after_text_is_not_retried(servers, mode, kind):
    server = servers(default=mode, delay_s=1.0)
    pieces: list[str] = []
    async with backend([server.url], retries=2, timeout_s=0.3) as b:
        with pytest.raises(ModelError) as err:
            await b.complete("Where is it?", on_text=pieces.append)
    assert err.value.kind == kind
    assert pieces == ["echo:"]  # handed on before the failure, so not asked again
    assert len(server.requests) == 1


async def test_stream_stalled_before_the_answer_is_a_timeout(servers):
    server = servers(default="slow", delay_s=1.0)
    async with backend([server.url], retries=0, timeout_s=0.3) as b:
        with pytest.raises(ModelError) as err:
            await b.complete("Hi", on_text=lambda _: None)
    assert err.value.kind == ErrorKind.timeout
