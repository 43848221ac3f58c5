"""MCP test helpers: a small MCP server (the SDK's MCPServer) and ways to run servers.

`python tests/mcp_support.py` serves the demo tools over stdio; with `--http` it serves
streamable HTTP on a free loopback port and prints `demo: URL` on stderr once ready.
Each start appends a line to the file named by DEMO_MARKER, if set, so tests can tell
whether a server was started at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parents[1]
GRE = Path(sys.executable).with_name("gre")

demo = MCPServer("demo")


@demo.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@demo.tool()
def echo(text: str, shout: bool = False) -> dict[str, Any]:
    """Say the text back, in capitals when shout is set."""
    return {"text": text.upper() if shout else text, "length": len(text)}


@demo.tool()
def fail(reason: str) -> str:
    """Always fails with the reason."""
    raise ValueError(reason)


@demo.tool()
async def slow(seconds: float) -> str:
    """Answers after `seconds`."""
    await asyncio.sleep(seconds)
    return "late"


@demo.tool(name="starts")
def starts() -> int:
    """How many times a demo server was started with this DEMO_MARKER."""
    marker = os.environ.get("DEMO_MARKER")
    return len(Path(marker).read_text().splitlines()) if marker else 0


def _mark_start() -> None:
    marker = os.environ.get("DEMO_MARKER")
    if marker:
        with open(marker, "a") as f:
            f.write(f"{os.getpid()}\n")


# -- running servers ------------------------------------------------------------------


class _Ready:
    """Lines of a child's stderr, read by a thread, waited on with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]):
        self.proc = proc
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        raise RuntimeError(f"no {prefix!r} line in {timeout} s; stderr:\n{''.join(self.seen)}")


@contextlib.contextmanager
def http_server(cmd: list[str], prefix: str, env: dict[str, str]) -> Iterator[str]:
    """Run `cmd` (a server that prints `prefix URL` on stderr when ready); yield the URL."""
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    ready = _Ready(proc)
    try:
        yield ready.wait_for(prefix, timeout=120)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        ready.thread.join(timeout=10)  # it reads stderr to EOF, then the pipe can close
        assert proc.stderr is not None
        proc.stderr.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve_http() -> None:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"

    class Announcing(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            print(f"demo: {url}", file=sys.stderr, flush=True)

    app = demo.streamable_http_app()
    await Announcing(uvicorn.Config(app, log_level="warning")).serve(sockets=[sock])


if __name__ == "__main__":
    _mark_start()
    if "--http" in sys.argv:
        asyncio.run(_serve_http())
    else:
        demo.run("stdio")
