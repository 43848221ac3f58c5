"""A small fake OpenAI-compatible chat server on 127.0.0.1, for faults a real one won't make.

Each request takes the next mode from `script` (then `default`):
    "ok"         a completion: "echo: <last user text>" cut to max_tokens words; when tools
                 are given (and tool_choice is not "none") a call of the first tool
    "500", "503", "400", "429"   that HTTP status
    "slow"       sleeps `delay_s`, then answers "ok"
    "malformed"  HTTP 200 with a body that is not JSON
    "noshape"    HTTP 200 with JSON that is not a chat completion
    "badargs"    a tool call whose arguments are not JSON
    "tagged"     text with a `<tool_call>{json}</tool_call>` block, no API tool calls
Usage is counted as a real server would: prompt tokens are words plus Qwen's image tokens
((w/28) * (h/28) per image, from the decoded data URL), completion tokens are words;
`cached_tokens` set: usage says that many prompt tokens came from the prefix cache
(`prompt_tokens_details`, as vLLM with --enable-prompt-tokens-details).
Every request body is kept in `requests`.

A request with `"stream": true` gets the same answer as server-sent events in the chunk
shapes vLLM and OpenAI send (a role chunk, one chunk per word or tool-call piece, an empty
delta with the finish reason, a usage chunk with no choices when
`stream_options.include_usage`, then `[DONE]`), `chunk_delay_s` apart. Streaming modes:
    "cut"          the connection drops after the first word
    "cut_early"    the connection drops after the role chunk, before any text
    "stall"        sleeps `delay_s` after the first word
    "badchunk"     a chunk that is not JSON after the role chunk
    "streamerror"  an error event (`{"error": {...}}`) after the first word
    "nostream"     a plain JSON completion, as a server that ignores "stream"
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image


def image_sizes(body: dict[str, Any]) -> list[tuple[int, int]]:
    """(width, height) of every data-URL image in a request body."""
    sizes = []
    for m in body.get("messages", []):
        if isinstance(m.get("content"), list):
            for part in m["content"]:
                if part.get("type") == "image_url":
                    url = part["image_url"]["url"]
                    data = base64.b64decode(url.split(",", 1)[1])
                    sizes.append(Image.open(io.BytesIO(data)).size)
    return sizes


def _user_text(body: dict[str, Any]) -> str:
    for m in reversed(body.get("messages", [])):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            return " ".join(p.get("text", "") for p in c if p.get("type") == "text")
    return ""


def _prompt_tokens(body: dict[str, Any]) -> int:
    words = 0
    for m in body.get("messages", []):
        c = m.get("content") or ""
        if isinstance(c, str):
            words += len(c.split()) + 3
        else:
            words += 3 + sum(len(p.get("text", "").split()) for p in c if p.get("type") == "text")
    words += sum((w // 28) * (h // 28) for w, h in image_sizes(body))
    words += 10 * len(body.get("tools") or [])
    return words


# Modes that stream when the request asks for it (the others answer as without "stream").
_STREAMED = {
    "ok",
    "slow",
    "badargs",
    "tagged",
    "cut",
    "cut_early",
    "stall",
    "badchunk",
    "streamerror",
}


class FakeOpenAIServer:
    def __init__(self, default: str = "ok", delay_s: float = 1.0, name: str = "fake-model"):
        self.default = default
        self.script: list[str] = []
        self.delay_s = delay_s
        self.chunk_delay_s = 0.0
        self.cached_tokens: int | None = None
        self.name = name
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_mode(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def completion(self, body: dict[str, Any], mode: str) -> dict[str, Any]:
        """The chat completion a request gets (as JSON data)."""
        max_tokens = int(body.get("max_tokens") or 16)
        words = ("echo: " + _user_text(body)).split()
        finish = "length" if len(words) > max_tokens else "stop"
        message: dict[str, Any] = {"role": "assistant", "content": " ".join(words[:max_tokens])}
        tools = body.get("tools") or []
        if mode == "tagged":
            message["content"] = (
                'Checking. <tool_call>{"name": "geocode", "arguments": {"query": "Oslo"}}'
                "</tool_call>"
            )
        elif (tools and body.get("tool_choice") != "none") or mode == "badargs":
            name = tools[0]["function"]["name"] if tools else "geocode"
            args = '{"query": "Oslo"' if mode == "badargs" else json.dumps({"query": "Oslo"})
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{len(self.requests)}",
                        "type": "function",
                        "function": {"name": name, "arguments": args},
                    }
                ],
            }
            finish = "tool_calls"
        completion_tokens = len((message.get("content") or "").split()) or 1
        usage: dict[str, Any] = {
            "prompt_tokens": _prompt_tokens(body),
            "completion_tokens": completion_tokens,
            "total_tokens": _prompt_tokens(body) + completion_tokens,
        }
        if self.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.name,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }

    def answer(self, body: dict[str, Any], mode: str) -> tuple[int, bytes]:
        if mode in ("500", "503", "400", "429"):
            return int(mode), json.dumps({"error": {"message": f"fake {mode}"}}).encode()
        if mode == "malformed":
            return 200, b'{"choices": [ {"message": oops'
        if mode == "noshape":
            return 200, json.dumps({"hello": "world"}).encode()
        if mode == "slow":
            time.sleep(self.delay_s)
        return 200, json.dumps(self.completion(body, mode)).encode()

    def events(self, body: dict[str, Any], mode: str) -> list[str | float | None]:
        """A streamed answer: SSE event data in order; a float sleeps, None drops the line."""
        data = self.completion(body, mode)
        choice, message = data["choices"][0], data["choices"][0]["message"]
        head = {k: data[k] for k in ("id", "created", "model")}
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            out = {
                **head,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if with_usage:
                out["usage"] = None  # OpenAI's shape: null on every chunk but the last
            return json.dumps(out)

        pieces: list[dict[str, Any]] = []
        words = (message.get("content") or "").split(" ")
        pieces += [{"content": w if i == 0 else " " + w} for i, w in enumerate(words) if w]
        for i, call in enumerate(message.get("tool_calls") or []):
            fn = call["function"]
            pieces.append(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": fn["name"], "arguments": ""},
                        }
                    ]
                }
            )
            args = fn["arguments"]
            for part in (args[: len(args) // 2], args[len(args) // 2 :]):
                pieces.append({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
        out: list[str | float | None] = [chunk({"role": "assistant", "content": ""})]
        if mode == "cut_early":
            return [*out, None]
        if mode == "badchunk":
            return [*out, '{"choices": [ {"delta": oops']
        for n, delta in enumerate(pieces):
            out += [self.chunk_delay_s, chunk(delta)]
            if n == 0 and mode == "cut":
                return [*out, None]
            if n == 0 and mode == "stall":
                out.append(self.delay_s)
            if n == 0 and mode == "streamerror":
                error = {"message": "fake failure mid-stream", "type": "InternalServerError"}
                return [*out, json.dumps({"error": {**error, "code": 500}})]
        out.append(chunk({}, choice["finish_reason"]))
        if with_usage:
            out.append(
                json.dumps(
                    {
                        **head,
                        "object": "chat.completion.chunk",
                        "choices": [],
                        "usage": data["usage"],
                    }
                )
            )
        return [*out, "[DONE]"]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, json.dumps({"data": [{"id": server.name}]}).encode())
                else:
                    self._send(404, b"{}")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(body)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b"{}")
                    return
                mode = server._next_mode()
                if body.get("stream") and mode in _STREAMED:
                    if mode == "slow":
                        time.sleep(server.delay_s)
                    self._send_events(server.events(body, mode))
                    return
                status, payload = server.answer(body, mode)
                self._send(status, payload)

            def _send_events(self, events: list[str | float | None]) -> None:
                """SSE over chunked HTTP/1.1; None drops the connection mid-body."""
                self.protocol_version = "HTTP/1.1"
                self.close_connection = True
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for event in events:
                        if event is None:
                            return  # no terminating chunk: the client sees a cut body
                        if isinstance(event, float):
                            if event:
                                time.sleep(event)
                            continue
                        data = f"data: {event}\n\n".encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):  # the client gave up
                    pass

            def _send(self, status: int, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    pass

        return Handler


def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
