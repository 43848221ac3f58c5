"""Backend for any OpenAI-compatible chat endpoint (`vllm serve` first of all).

Requests go to `{base_url}/chat/completions` through httpx. Images are resized to the pixel
budget (multiples of 28, aspect kept) and sent as base64 data URLs. With several base URLs
(data-parallel servers) calls are spread round-robin; an endpoint that refuses connections,
times out or answers 5xx/429 is skipped (marked down for `cooldown_s`) and the call goes to
the next. After every endpoint failed, the whole round is retried `retries` times with
exponential backoff; then a `ModelError` says why (timeout, http_error, bad_response,
unavailable). Other 4xx answers are the request's fault and fail at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import httpx

from gre_agent.core.errors import ErrorKind
from gre_agent.core.images import file_version
from gre_agent.core.settings import ModelSettings

from ._base import BaseBackend, Messages, finish_text, new_call_id, parse_arguments
from ._errors import ModelError
from ._images import fit_image, to_data_url
from ._types import Completion, ImagePart, Message, ToolCall, Usage, as_messages, normalize_tools

_RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAIBackend(BaseBackend):
    """Chat completions over HTTP against one or more OpenAI-compatible base URLs."""

    name = "openai"

    def __init__(
        self,
        settings: ModelSettings | None = None,
        *,
        base_urls: Sequence[str] | None = None,
        model: str | None = None,
        backoff_s: float = 0.5,
        cooldown_s: float = 10.0,
        image_format: str = "JPEG",
        max_concurrency: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.settings = settings or ModelSettings()
        self.base_urls = [u.rstrip("/") for u in (base_urls or self.settings.base_urls)]
        if not self.base_urls:
            raise ValueError("OpenAIBackend needs at least one base URL")
        self.model = model or self.settings.model
        self.backoff_s = backoff_s
        self.cooldown_s = cooldown_s
        self.image_format = image_format
        self.max_concurrency = max_concurrency
        self._transport = transport
        self._rr = itertools.count()
        self._down_until: dict[str, float] = {}
        self._clients: dict[int, httpx.AsyncClient] = {}

    # -- HTTP plumbing ----------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        """One client per event loop (tests and scripts may run several loops in turn)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(id(loop))
        if client is None or client.is_closed:
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.timeout_s),
                headers={"Authorization": f"Bearer {self.settings.api_key}"},
                transport=self._transport,
                limits=httpx.Limits(max_connections=self.max_concurrency * 2),
            )
            self._clients[id(loop)] = client
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(RuntimeError):  # its loop is gone
                await client.aclose()

    def _order(self) -> list[str]:
        """Endpoints for one call: round-robin start, endpoints marked down last."""
        n = len(self.base_urls)
        start = next(self._rr) % n
        ring = self.base_urls[start:] + self.base_urls[:start]
        now = time.monotonic()
        up = [u for u in ring if self._down_until.get(u, 0.0) <= now]
        return up + [u for u in ring if u not in up]

    async def _post(self, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        last: ModelError | None = None
        for attempt in range(self.settings.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            for base in self._order():
                try:
                    return await self._post_one(base, body), base
                except ModelError as exc:
                    if exc.kind in (ErrorKind.invalid_args,) or (
                        exc.kind == ErrorKind.http_error and exc.status not in _RETRYABLE_STATUS
                    ):
                        raise
                    last = exc
                    self._down_until[base] = time.monotonic() + self.cooldown_s
        assert last is not None
        raise last

    async def _post_one(self, base: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{base}/chat/completions"
        try:
            resp = await self._client().post(url, json=body)
        except httpx.TimeoutException as exc:
            raise ModelError(ErrorKind.timeout, f"{url}: no answer in time ({exc!r})") from exc
        except httpx.TransportError as exc:
            raise ModelError(ErrorKind.unavailable, f"{url}: {exc!r}") from exc
        if resp.status_code >= 400:
            detail = resp.text[:500]
            raise ModelError(
                ErrorKind.http_error,
                f"{url}: HTTP {resp.status_code}: {detail}",
                status=resp.status_code,
            )
        try:
            data = resp.json()
            if not isinstance(data["choices"][0]["message"], dict):
                raise TypeError("message is not an object")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ModelError(
                ErrorKind.bad_response, f"{url}: not a chat completion: {resp.text[:200]!r}"
            ) from exc
        return data

    # -- request and response ---------------------------------------------------------------

    def _content(self, message: Message) -> str | list[dict[str, Any]] | None:
        if isinstance(message.content, str):
            return message.content
        parts: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, ImagePart):
                image = part.image
                if isinstance(image, str) and image.startswith(("http://", "https://")):
                    url = image
                else:
                    url = self._data_url(image)
                parts.append({"type": "image_url", "image_url": {"url": url}})
            else:
                parts.append({"type": "text", "text": part.text})
        return parts

    def _data_url(self, image: Any) -> str:
        if version := file_version(image):
            # Every stage of a conversation sends the same photo: encode it once per version.
            return _file_data_url(*version, self.settings.max_pixels, self.image_format)
        return to_data_url(fit_image(image, self.settings.max_pixels), self.image_format)

    def build_body(self, messages: Messages, **kw: Any) -> dict[str, Any]:
        """The JSON body of a chat-completions request (public for tests and debugging)."""
        s = self.settings
        out: list[dict[str, Any]] = []
        for m in as_messages(messages):
            msg: dict[str, Any] = {"role": m.role, "content": self._content(m)}
            if m.tool_calls:
                msg["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {
                            "name": c.name,
                            "arguments": c.raw_arguments or _dumps(c.arguments),
                        },
                    }
                    for c in m.tool_calls
                ]
            if m.tool_call_id:
                msg["tool_call_id"] = m.tool_call_id
            if m.name:
                msg["name"] = m.name
            out.append(msg)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": out,
            "max_tokens": kw.get("max_tokens") or s.max_tokens,
            "temperature": s.temperature if kw.get("temperature") is None else kw["temperature"],
            "top_p": s.top_p if kw.get("top_p") is None else kw["top_p"],
        }
        if tools := normalize_tools(kw.get("tools")):
            body["tools"] = tools
            if kw.get("tool_choice") is not None:
                body["tool_choice"] = kw["tool_choice"]
        if kw.get("stop"):
            body["stop"] = list(kw["stop"])
        if kw.get("seed") is not None:
            body["seed"] = kw["seed"]
        body.update(kw.get("extra_body") or {})
        return body

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
    ) -> Completion:
        body = await asyncio.to_thread(  # image decoding and encoding stay off the event loop
            self.build_body,
            messages,
            tools=tools,
            tool_choice=tool_choice,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop,
            seed=seed,
            extra_body=extra_body,
        )
        t0 = time.perf_counter()
        data, base = await self._post(body)
        latency = time.perf_counter() - t0
        return self._completion(data, base, latency)

    def _completion(self, data: dict[str, Any], base: str, latency: float) -> Completion:
        choice = data["choices"][0]
        message = choice.get("message") or {}
        calls = []
        for raw in message.get("tool_calls") or []:
            fn = raw.get("function") or {}
            args, raw_args = parse_arguments(fn.get("arguments"))
            calls.append(
                ToolCall(
                    id=raw.get("id") or new_call_id(),
                    name=fn.get("name", ""),
                    arguments=args,
                    raw_arguments=raw_args,
                )
            )
        usage = data.get("usage") or {}
        return Completion(
            **finish_text(message.get("content") or "", calls),
            usage=Usage(
                prompt_tokens=usage.get("prompt_tokens") or 0,
                completion_tokens=usage.get("completion_tokens") or 0,
            ),
            latency_s=latency,
            model=data.get("model") or self.model,
            backend=self.name,
            finish_reason=choice.get("finish_reason"),
            endpoint=base,
        )


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


@lru_cache(maxsize=64)
def _file_data_url(path: str, mtime_ns: int, size: int, max_pixels: int, fmt: str) -> str:
    return to_data_url(fit_image(path, max_pixels), fmt)
