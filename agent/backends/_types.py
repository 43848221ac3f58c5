"""The model layer's data: chat messages (text, images) in; completions (text, tool calls) out.

An image is given as a path (`str` or `Path`), raw encoded bytes, or a `PIL.Image.Image`;
an `http(s)://` or `data:` URL is passed through to servers that fetch it themselves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

Role = Literal["system", "user", "assistant", "tool"]


class TextPart(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ImagePart(BaseModel):
    """An image: a file path, encoded bytes (JPEG, PNG ...), a PIL image, or a URL."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    type: Literal["image"] = "image"
    image: Any = Field(description="Path, str path or URL, bytes, or PIL.Image.Image.")


Part = TextPart | ImagePart


class ToolCall(BaseModel):
    """One call of a tool the model asked for."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str | None = Field(
        None, description="The arguments as sent, when they were not a valid JSON object."
    )


class Message(BaseModel):
    """A chat message. `content` is a string or a list of text and image parts."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    role: Role
    content: str | list[Part] = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role="system", content=text)

    @classmethod
    def user(cls, text: str, *images: Any) -> Message:
        """A user turn: the images first (as Qwen-VL is trained), then the text."""
        if not images:
            return cls(role="user", content=text)
        parts: list[Part] = [ImagePart(image=i) for i in images]
        parts.append(TextPart(text=text))
        return cls(role="user", content=parts)

    @classmethod
    def assistant(cls, text: str, tool_calls: Sequence[ToolCall] = ()) -> Message:
        return cls(role="assistant", content=text, tool_calls=list(tool_calls))

    @classmethod
    def tool(cls, tool_call_id: str, content: str, name: str | None = None) -> Message:
        return cls(role="tool", content=content, tool_call_id=tool_call_id, name=name)

    @property
    def parts(self) -> list[Part]:
        if isinstance(self.content, str):
            return [TextPart(text=self.content)] if self.content else []
        return list(self.content)

    @property
    def images(self) -> list[Any]:
        return [p.image for p in self.parts if isinstance(p, ImagePart)]

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))


class Usage(BaseModel):
    """Token counts as the server reports them; `cached_tokens` is the part of the prompt
    its prefix cache already held (`usage.prompt_tokens_details.cached_tokens`, 0 when the
    server does not say)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Completion(BaseModel):
    """What a backend returns for one request."""

    text: str = Field(description="The answer's text (tool-call blocks removed when parsed).")
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0
    model: str = ""
    backend: str = ""
    finish_reason: str | None = None
    raw_text: str | None = Field(
        None, description="The text as generated, when `<tool_call>` blocks were cut out of it."
    )
    endpoint: str | None = Field(None, description="openai backend: the base URL that answered.")
    ttft_s: float | None = Field(
        None, description="Streamed answers: seconds from the request to the first token."
    )


_messages_adapter = TypeAdapter(list[Message])


def as_messages(messages: Sequence[Message | dict[str, Any]] | str) -> list[Message]:
    """Validate messages given as `Message` objects or plain dicts (a str is one user turn)."""
    if isinstance(messages, str):
        return [Message.user(messages)]
    return _messages_adapter.validate_python(
        [m if isinstance(m, Message) else dict(m) for m in messages]
    )


def normalize_tools(tools: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Tool definitions in the OpenAI form `{"type": "function", "function": {...}}`.

    Accepts that form or bare function dicts `{"name", "description", "parameters"}`.
    """
    if not tools:
        return None
    out = []
    for tool in tools:
        if tool.get("type") == "function" and "function" in tool:
            out.append(dict(tool))
        else:
            out.append({"type": "function", "function": dict(tool)})
    return out


def image_digest(image: Any) -> str:
    """sha256 of an image's RGB pixels and size (the same for a path, its bytes or PIL image).

    URLs are hashed as strings: their pixels are not fetched.
    """
    from gre_agent.agent.backends._images import load_image
    from gre_agent.core.images import file_version

    if isinstance(image, str) and image.startswith(("http://", "https://", "data:")):
        return hashlib.sha256(image.encode()).hexdigest()
    if version := file_version(image):
        # Every stage of a conversation hashes the same photo: decode it once per version.
        return _file_digest(*version)
    return _pixel_digest(load_image(image))


@lru_cache(maxsize=256)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    from gre_agent.agent.backends._images import load_image

    return _pixel_digest(load_image(path))


def _pixel_digest(img: Any) -> str:
    h = hashlib.sha256(f"{img.width}x{img.height}".encode())
    h.update(img.tobytes())
    return h.hexdigest()


def request_hash(
    messages: Sequence[Message | dict[str, Any]] | str,
    tools: Sequence[dict[str, Any]] | None = None,
) -> str:
    """A stable hash of a request (messages with image pixels, and tool definitions).

    Sampling parameters are left out on purpose: a replay answers the same conversation
    whatever the temperature was. The replay backend and the trace writers share it.
    """
    canon = []
    for m in as_messages(messages):
        parts = []
        for p in m.parts:
            if isinstance(p, TextPart):
                parts.append({"text": p.text})
            else:
                parts.append({"image": image_digest(p.image)})
        canon.append(
            {
                "role": m.role,
                "parts": parts,
                "tool_calls": [[c.name, c.arguments] for c in m.tool_calls],
                "tool_call_id": m.tool_call_id,
            }
        )
    payload = {"messages": canon, "tools": normalize_tools(tools) or []}
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()
