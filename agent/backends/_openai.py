"""Backend for any OpenAI-compatible chat endpoint (`vllm serve` first of all).

Requests go to `{base_url}/chat/completions` through httpx. Images are resized to the pixel
budget (multiples of 28, aspect kept) and sent as base64 data URLs. With several base URLs
(data-parallel servers) calls are spread round-robin; an endpoint that refuses connections,
times out or answers 5xx/429 is skipped (marked down for `cooldown_s`) and the call goes to
the next. After every endpoint failed, the whole round is retried `retries` times with
exponential backoff; then a `ModelError` says why (timeout, http_error, bad_response,
unavailable). Other 4xx answers are the request's fault and fail at once.

Streaming (`"stream": true`, SSE, with `stream_options.include_usage`): when the caller
passes `on_text` (or `model.stream` is true; false turns it off), the answer's text goes to
`on_text` piece by piece and the chunks are assembled into the same `Completion` as the
non-streamed path (text, tool calls, usage), plus `ttft_s`. A stream that fails before its
first piece reached `on_text` is retried and failed over like any request; once text has
been handed on, a failure is raised at once (the caller cannot take text back). A stream
cut or garbled midway is `bad_response`, a stalled one `timeout` (timeout_s between
chunks), an error event in it `http_error`.
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
from gre_agent.core.text import safe_value

from ._base import (
    BaseBackend,
    Messages,
    TextCallback,
    emit_text,
    finish_text,
    new_call_id,
    parse_arguments,
)
from ._errors import ModelError
from ._images import fit_image, to_data_url
from ._stream import StreamAssembler, sse_data
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

    async def _post(
        self, body: dict[str, Any], on_text: TextCallback | None = None
    ) -> tuple[dict[str, Any], str, float | None]:
        """The answer's JSON, the endpoint, and (streamed) when its first token came."""
        last: ModelError | None = None
        emitted = False

        def relay(piece: str) -> None:
            nonlocal emitted
            emitted = True
            if on_text is not None:
                on_text(piece)

        for attempt in range(self.settings.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            for base in self._order():
                try:
                    if body.get("stream"):
                        data, first = await self._stream_one(base, body, relay)
                        return data, base, first
                    return await self._post_one(base, body), base, None
                except ModelError as exc:
                    if (
                        emitted
                        or exc.kind in (ErrorKind.invalid_args,)
                        or (
                            exc.kind == ErrorKind.http_error and exc.status not in _RETRYABLE_STATUS
                        )
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
            raise _http_error(url, resp)
        return _chat_completion(url, resp)

    async def _stream_one(
        self, base: str, body: dict[str, Any], on_text: TextCallback
    ) -> tuple[dict[str, Any], float | None]:
        url = f"{base}/chat/completions"
        started = False  # whether the server answered (a cut after that is a broken answer)
        try:
            async with self._client().stream("POST", url, json=body) as resp:
                started = True
                if resp.status_code >= 400:
                    await resp.aread()
                    raise _http_error(url, resp)
                if "text/event-stream" not in resp.headers.get("content-type", ""):
                    # A server that ignored "stream": the whole answer in one piece.
                    await resp.aread()
                    data = _chat_completion(url, resp)
                    text = data["choices"][0]["message"].get("content")
                    if isinstance(text, str) and text:
                        on_text(text)
                    return data, None
                assembler = StreamAssembler(url)
                async for event in sse_data(resp.aiter_lines()):
                    piece = assembler.feed(event)
                    if piece:
                        on_text(piece)
                    if assembler.done:
                        break
        except httpx.TimeoutException as exc:
            raise ModelError(ErrorKind.timeout, f"{url}: no answer in time ({exc!r})") from exc
        except httpx.RequestError as exc:  # transport, protocol and body decoding errors
            if not started:
                raise ModelError(ErrorKind.unavailable, f"{url}: {exc!r}") from exc
            raise ModelError(ErrorKind.bad_response, f"{url}: stream cut: {exc!r}") from exc
        if not assembler.complete:
            raise ModelError(ErrorKind.bad_response, f"{url}: stream ended before the answer")
        return assembler.completion_data(), assembler.first_token_at

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

    def build_body(self, messages: Messages, *, stream: bool = False, **kw: Any) -> dict[str, Any]:
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
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(kw.get("extra_body") or {})
        return safe_value(body)  # a lone surrogate (from a model or a tool) cannot go as UTF-8

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
        stream = on_text is not None if self.settings.stream is None else self.settings.stream
        body = await asyncio.to_thread(  # image decoding and encoding stay off the event loop
            self.build_body,
            messages,
            stream=stream,
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
        data, base, first_token_at = await self._post(body, on_text if stream else None)
        latency = time.perf_counter() - t0
        completion = self._completion(data, base, latency)
        if stream:
            # ttft: from the call (retries included, as latency_s) to the first piece.
            ttft = latency if first_token_at is None else first_token_at - t0
            return completion.model_copy(update={"ttft_s": ttft})
        return emit_text(on_text, completion)

    def _completion(self, data: dict[str, Any], base: str, latency: float) -> Completion:
        """The answer as a Completion; a field of the wrong type is bad_response, and text
        UTF-8 cannot encode (lone surrogates) becomes U+FFFD before anything uses it."""
        try:
            return self._parse_completion(safe_value(data), base, latency)
        except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
            detail = f"{type(exc).__name__}: {exc}"[:300]
            raise ModelError(
                ErrorKind.bad_response, f"{base}: not a chat completion ({detail})"
            ) from exc

    def _parse_completion(self, data: dict[str, Any], base: str, latency: float) -> Completion:
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
        details = usage.get("prompt_tokens_details")
        details = details if isinstance(details, dict) else {}  # vLLM: null unless enabled
        return Completion(
            **finish_text(message.get("content") or "", calls),
            usage=Usage(
                prompt_tokens=usage.get("prompt_tokens") or 0,
                completion_tokens=usage.get("completion_tokens") or 0,
                cached_tokens=details.get("cached_tokens") or 0,
            ),
            latency_s=latency,
            model=data.get("model") or self.model,
            backend=self.name,
            finish_reason=choice.get("finish_reason"),
            endpoint=base,
        )


def _http_error(url: str, resp: httpx.Response) -> ModelError:
    return ModelError(
        ErrorKind.http_error,
        f"{url}: HTTP {resp.status_code}: {resp.text[:500]}",
        status=resp.status_code,
    )


def _chat_completion(url: str, resp: httpx.Response) -> dict[str, Any]:
    """The JSON of a chat-completion answer, or bad_response."""
    try:
        data = resp.json()
        if not isinstance(data["choices"][0]["message"], dict):
            raise TypeError("message is not an object")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ModelError(
            ErrorKind.bad_response, f"{url}: not a chat completion: {resp.text[:200]!r}"
        ) from exc
    return data


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


@lru_cache(maxsize=64)
def _file_data_url(path: str, mtime_ns: int, size: int, max_pixels: int, fmt: str) -> str:
    return to_data_url(fit_image(path, max_pixels), fmt)
