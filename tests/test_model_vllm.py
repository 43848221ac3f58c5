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
