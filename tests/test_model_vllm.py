"""The openai backend against a real vLLM server (CPU build) serving the tiny Qwen2.5-VL.

The contract scenarios run in test_model_contract.py; here: tool calls through vLLM's tools
API and hermes parser, and several endpoints with one of them dead. The tiny model's weights
are random, so a tool call is steered with vLLM's structured outputs (a regex over the
hermes `<tool_call>` format); the server's parser then turns the text into API tool calls.
"""

from __future__ import annotations

import socket

import pytest

from gre_agent.agent.backends import Message, OpenAIBackend
from gre_agent.core.settings import ModelSettings

pytestmark = pytest.mark.vllm

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
HERMES_CALL = (
    r'<tool_call>\n\{"name": "geocode", "arguments": \{"query": "(Oslo|Paris)"\}\}\n</tool_call>'
)


def settings(**kw) -> ModelSettings:
    return ModelSettings(model="tiny", timeout_s=60, retries=0, **kw)


async def test_tool_calls_through_the_tools_api(vllm_server: str):
    async with OpenAIBackend(settings(), base_urls=[vllm_server]) as backend:
        c = await backend.complete(
            [Message.user("Find Oslo")],
            tools=TOOLS,
            tool_choice="auto",
            max_tokens=120,
            temperature=0,
            extra_body={"structured_outputs": {"regex": HERMES_CALL}},
        )
    assert c.finish_reason == "tool_calls"
    assert len(c.tool_calls) == 1
    call = c.tool_calls[0]
    assert call.name == "geocode" and call.arguments["query"] in ("Oslo", "Paris")
    assert call.id and c.usage.prompt_tokens > 100  # the tool definitions are in the prompt


async def test_tool_result_conversation(vllm_server: str):
    async with OpenAIBackend(settings(), base_urls=[vllm_server]) as backend:
        first = Message.user("Find Oslo")
        c = await backend.complete(
            [first],
            tools=TOOLS,
            max_tokens=120,
            temperature=0,
            extra_body={"structured_outputs": {"regex": HERMES_CALL}},
        )
        conv = [
            first,
            Message.assistant(c.text, c.tool_calls),
            Message.tool(c.tool_calls[0].id, '{"lat": 59.91, "lon": 10.75}'),
        ]
        answer = await backend.complete(conv, tools=TOOLS, max_tokens=4, temperature=0)
    assert answer.usage.prompt_tokens > c.usage.prompt_tokens


async def test_failover_from_a_dead_endpoint(vllm_server: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    backend = OpenAIBackend(settings(), base_urls=[dead, vllm_server], backoff_s=0)
    async with backend:
        answers = await backend.complete_batch(["Where?"] * 4, max_tokens=2, temperature=0)
    assert {a.endpoint for a in answers} == {vllm_server.rstrip("/")}


# -- streaming: the same answer as without, its text as it is written -----------------------

LONG_PROMPT = "Describe the street, the signs, the plants and the hills you see. " * 30


async def _plain_and_streamed(backend: OpenAIBackend, conv, **kw):
    await backend.complete(conv, **kw)  # warm the prefix cache: both requests below hit it
    plain = await backend.complete(conv, **kw)
    pieces: list[str] = []
    streamed = await backend.complete(conv, on_text=pieces.append, **kw)
    return plain, streamed, pieces


async def test_streamed_completion_equals_the_plain_one(vllm_server: str):
    conv = [Message.user(LONG_PROMPT)]
    async with OpenAIBackend(settings(), base_urls=[vllm_server]) as backend:
        plain, streamed, pieces = await _plain_and_streamed(
            backend, conv, max_tokens=24, temperature=0
        )
    assert streamed.text == plain.text and len(pieces) > 1
    assert "".join(pieces) == plain.text
    assert streamed.finish_reason == plain.finish_reason
    assert streamed.usage == plain.usage and streamed.usage.completion_tokens > 0
    assert plain.ttft_s is None
    assert streamed.ttft_s is not None and 0 < streamed.ttft_s <= streamed.latency_s
    # the repeated prompt came from the prefix cache, and the server says so
    assert 0 < streamed.usage.cached_tokens < streamed.usage.prompt_tokens


async def test_streamed_image_completion(vllm_server: str):
    from PIL import Image

    conv = [Message.user("Where?", Image.new("RGB", (112, 84), (40, 90, 160)))]
    async with OpenAIBackend(settings(), base_urls=[vllm_server]) as backend:
        plain, streamed, pieces = await _plain_and_streamed(
            backend, conv, max_tokens=12, temperature=0
        )
    assert streamed.text == plain.text == "".join(pieces)
    assert streamed.usage.prompt_tokens == plain.usage.prompt_tokens > 10


async def test_streamed_tool_call_equals_the_plain_one(vllm_server: str):
    async with OpenAIBackend(settings(), base_urls=[vllm_server]) as backend:
        plain, streamed, _ = await _plain_and_streamed(
            backend,
            [Message.user("Find Oslo")],
            tools=TOOLS,
            tool_choice="auto",
            max_tokens=120,
            temperature=0,
            extra_body={"structured_outputs": {"regex": HERMES_CALL}},
        )
    assert streamed.finish_reason == plain.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in streamed.tool_calls] == [
        (c.name, c.arguments) for c in plain.tool_calls
    ]
    assert streamed.tool_calls[0].id and streamed.usage == plain.usage
