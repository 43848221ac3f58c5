"""Server-sent events of a streamed chat completion, assembled into one chat completion.

A streamed answer (`"stream": true`) arrives as SSE events, each a `data: {json}` line and
a blank line, ended by `data: [DONE]`. Each chunk's `choices[0].delta` holds a piece of the
answer: `content` text, or `tool_calls` pieces keyed by `index` (the first piece names the
call's `id` and function `name`, later ones add to its `arguments` string). With
`stream_options: {"include_usage": true}` a last chunk with no choices carries `usage`.
`StreamAssembler` joins the pieces into the JSON a non-streamed request would have got, so
both paths go through the same parsing.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from gre_agent.core.errors import ErrorKind

from ._errors import ModelError

DONE = "[DONE]"


async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The `data` of each server-sent event (several `data:` lines of one event joined)."""
    data: list[str] = []
    async for line in lines:
        if not line:  # a blank line ends an event
            if data:
                yield "\n".join(data)
                data = []
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
        # other fields (event:, id:, retry:) and comments (": keep-alive") carry nothing here
    if data:
        yield "\n".join(data)


class StreamAssembler:
    """Collects the chunks of one streamed completion; `feed` returns each text piece."""

    def __init__(self, url: str):
        self.url = url
        self.text: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.id: str | None = None
        self.done = False
        self.first_token_at: float | None = None  # perf_counter() of the first piece

    def _bad(self, what: str, data: str) -> ModelError:
        return ModelError(ErrorKind.bad_response, f"{self.url}: {what}: {data[:200]!r}")

    def feed(self, data: str) -> str:
        """One event's data; returns the text it adds ("" for none)."""
        if data.strip() == DONE:
            self.done = True
            return ""
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise self._bad("stream chunk is not JSON", data) from exc
        if not isinstance(chunk, dict):
            raise self._bad("stream chunk is not an object", data)
        if "error" in chunk or chunk.get("object") == "error":
            raise _stream_error(self.url, chunk)
        choices = chunk.get("choices") or []
        if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
            raise self._bad("stream chunk without choices", data)
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]  # the last one counts (continuous usage stats)
        self.model = chunk.get("model") or self.model
        self.id = chunk.get("id") or self.id
        if not choices:
            return ""
        choice = choices[0]
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise self._bad("stream delta is not an object", data)
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        piece = delta.get("content") or ""
        if not isinstance(piece, str):
            raise self._bad("stream content is not text", data)
        for raw in delta.get("tool_calls") or []:
            self._add_call(raw, data)
        if piece:
            self.text.append(piece)
        if (piece or delta.get("tool_calls")) and self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        return piece

    def _add_call(self, raw: Any, data: str) -> None:
        if not isinstance(raw, dict):
            raise self._bad("stream tool call is not an object", data)
        index = raw.get("index", len(self.calls))
        call = self.calls.setdefault(
            index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if raw.get("id"):
            call["id"] = raw["id"]
        fn = raw.get("function") or {}
        try:
            call["function"]["name"] += fn.get("name") or ""
            call["function"]["arguments"] += fn.get("arguments") or ""
        except TypeError as exc:  # a dict of arguments where a string piece belongs
            raise self._bad("stream tool call pieces are not text", data) from exc

    @property
    def complete(self) -> bool:
        """Whether the stream ended as a finished answer ([DONE], or a finish reason)."""
        return self.done or self.finish_reason is not None

    def completion_data(self) -> dict[str, Any]:
        """The assembled answer in the shape of a non-streamed chat completion."""
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.text) or None}
        if self.calls:
            message["tool_calls"] = [self.calls[i] for i in sorted(self.calls)]
        data: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion",
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
        }
        if self.usage is not None:
            data["usage"] = self.usage
        return data


def _stream_error(url: str, chunk: dict[str, Any]) -> ModelError:
    """An error the server sent inside the stream (vLLM and OpenAI shapes)."""
    inner = chunk.get("error")
    err: dict[str, Any] = inner if isinstance(inner, dict) else chunk
    code = err.get("code")
    status = code if isinstance(code, int) and 400 <= code < 600 else 500
    return ModelError(
        ErrorKind.http_error,
        f"{url}: error in the stream: {str(err.get('message') or err)[:300]}",
        status=status,
    )
