"""The one interface every backend implements, and what they share."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from ._types import Completion, Message, ToolCall

Messages = Sequence[Message | dict[str, Any]] | str
# Called with each piece of the answer's text as it is generated (streaming callers).
TextCallback = Callable[[str], object]


@runtime_checkable
class ModelBackend(Protocol):
    """Messages (text and images) in; a completion (text, tool calls, usage) out.

    `complete_batch` answers several conversations with the same sampling parameters,
    in order; backends batch them where they can (one `generate` call, concurrent HTTP).

    `on_text`, when given, is called with the answer's text as it is written: piece by
    piece where the backend streams, else once with the whole text before `complete`
    returns. The pieces join to the generated text (tool-call tags included).
    """

    name: str
    model: str

    async def complete(
        self,
        messages: Messages,
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
        extra_body: dict[str, Any] | None = None,
        on_text: TextCallback | None = None,
    ) -> Completion: ...

    async def complete_batch(
        self, batch: Sequence[Messages], **kwargs: Any
    ) -> list[Completion]: ...

    async def aclose(self) -> None: ...


class BaseBackend:
    """Shared plumbing: a default `complete_batch` (bounded concurrency) and async closing."""

    name = "base"
    model = ""
    max_concurrency = 8

    async def complete(
        self,
        messages: Messages,
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
        extra_body: dict[str, Any] | None = None,
        on_text: TextCallback | None = None,
    ) -> Completion:
        raise NotImplementedError

    async def complete_batch(self, batch: Sequence[Messages], **kwargs: Any) -> list[Completion]:
        sem = asyncio.Semaphore(self.max_concurrency)

        async def one(messages: Messages) -> Completion:
            async with sem:
                return await self.complete(messages, **kwargs)

        return list(await asyncio.gather(*(one(m) for m in batch)))

    async def aclose(self) -> None:
        return None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


_TOOL_CALL_RE = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def parse_arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    """Tool-call arguments as a dict, plus the raw string when it was not a JSON object."""
    if isinstance(raw, dict):
        return raw, None
    if raw is None or raw == "":
        return {}, None
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}, str(raw)
    return (value, None) if isinstance(value, dict) else ({}, str(raw))


def extract_tool_calls(text: str) -> tuple[str, list[ToolCall]]:
    """Cut `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks out of text.

    Returns the remaining text and the calls. Blocks that are not valid JSON with a name
    stay in the text (the caller sees what the model wrote).

    >>> text, calls = extract_tool_calls(
    ...     'Let me look. <tool_call>{"name": "geo", "arguments": {"q": 1}}</tool_call>')
    >>> text, calls[0].name, calls[0].arguments
    ('Let me look.', 'geo', {'q': 1})
    """
    calls: list[ToolCall] = []

    def take(match: re.Match[str]) -> str:
        try:
            body = json.loads(match.group(1))
        except ValueError:
            return match.group(0)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            return match.group(0)
        raw = body.get("arguments", body.get("parameters", {}))
        args, raw_args = parse_arguments(raw)
        calls.append(
            ToolCall(id=new_call_id(), name=body["name"], arguments=args, raw_arguments=raw_args)
        )
        return ""

    if "<tool_call>" not in text:
        return text, []
    rest = _TOOL_CALL_RE.sub(take, text)
    return (rest.strip() if calls else text), calls


def emit_text(on_text: TextCallback | None, completion: Completion) -> Completion:
    """Backends that do not stream: hand the whole generated text to `on_text` at once."""
    if on_text is not None:
        text = completion.raw_text if completion.raw_text is not None else completion.text
        if text:
            on_text(text)
    return completion


def finish_text(text: str, tool_calls: list[ToolCall]) -> dict[str, Any]:
    """Completion fields for generated text: tool calls parsed from tags when there are none."""
    if tool_calls:
        return {"text": text, "tool_calls": tool_calls}
    rest, parsed = extract_tool_calls(text)
    if parsed:
        return {"text": rest, "tool_calls": parsed, "raw_text": text}
    return {"text": text, "tool_calls": []}
