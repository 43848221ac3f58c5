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
((w/28) * (h/28) per image, from the decoded data URL), completion tokens are words.
Every request body is kept in `requests`.
"""

from __future__ import annotations

import base64
import io
import json
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


class FakeOpenAIServer:
    def __init__(self, default: str = "ok", delay_s: float = 1.0, name: str = "fake-model"):
        self.default = default
        self.script: list[str] = []
        self.delay_s = delay_s
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

    def answer(self, body: dict[str, Any], mode: str) -> tuple[int, bytes]:
        if mode in ("500", "503", "400", "429"):
            return int(mode), json.dumps({"error": {"message": f"fake {mode}"}}).encode()
        if mode == "malformed":
            return 200, b'{"choices": [ {"message": oops'
        if mode == "noshape":
            return 200, json.dumps({"hello": "world"}).encode()
        if mode == "slow":
            time.sleep(self.delay_s)
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
        data = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "model": body.get("model") or self.name,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": _prompt_tokens(body),
                "completion_tokens": completion_tokens,
                "total_tokens": _prompt_tokens(body) + completion_tokens,
            },
        }
        return 200, json.dumps(data).encode()

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
                status, payload = server.answer(body, server._next_mode())
                self._send(status, payload)

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
