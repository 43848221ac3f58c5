"""One live MCP client session per configured server, shared by the whole process.

The SDK's client lives in anyio task groups that must be entered and left by the same
task of one event loop, while our tools are called from many loops (`asyncio.run` in the
CLI, the graph's loop, LangChain's sync wrapper). So each server gets a worker thread
with its own loop: a holder task there opens the session on first use and keeps it open
until `close()`; calls from any thread or loop are handed to that loop.

Every step has a time budget (the server's `timeout_s` for connecting, listing and each
call); a server that is down, slow or dies mid-session becomes a ToolFailure
(`unavailable`, `timeout`), never a hang. A lost session is reopened on the next call.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx2
import mcp_types as types
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from pydantic import BaseModel

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.settings import McpServerSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

# JSON-RPC codes the SDK uses for a closed connection and a request that timed out.
_CONNECTION_CLOSED = -32000
_REQUEST_TIMEOUT = -32001
_INVALID_PARAMS = -32602
_CLOSE_BUDGET_S = 10.0  # a stdio server gets 2 s to exit on EOF before it is killed


class RemoteTool(BaseModel):
    """One tool as a server lists it (what the cache stores for replay-only runs)."""

    name: str
    description: str | None = None
    input_schema: dict[str, Any] = {"type": "object"}
    output_schema: dict[str, Any] | None = None


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups from the SDK's task groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def failure(server: McpServerSettings, doing: str, exc: BaseException) -> ToolFailure:
    """A typed ToolFailure for an error raised while `doing` something with `server`."""
    exc = _leaf(exc)
    where = f"MCP server {server.name!r}"
    if isinstance(exc, ToolFailure):
        return exc
    if isinstance(exc, TimeoutError):
        return ToolFailure(ErrorKind.timeout, f"{where}: {doing} took over {server.timeout_s} s")
    if isinstance(exc, MCPError):
        if exc.code == _REQUEST_TIMEOUT:
            return ToolFailure(
                ErrorKind.timeout, f"{where}: {doing} took over {server.timeout_s} s"
            )
        if exc.code == _INVALID_PARAMS:
            return ToolFailure(ErrorKind.invalid_args, f"{where}: {exc}")
        if exc.code == _CONNECTION_CLOSED:
            return ToolFailure(ErrorKind.unavailable, f"{where} closed the connection ({doing})")
        return ToolFailure(ErrorKind.bad_response, f"{where}: {doing}: {exc}")
    if isinstance(exc, OSError | httpx2.TransportError):
        return ToolFailure(ErrorKind.unavailable, f"{where} is not reachable ({doing}): {exc}")
    if isinstance(exc, httpx2.HTTPStatusError):
        return ToolFailure(ErrorKind.http_error, f"{where}: {doing}: {exc}")
    if isinstance(exc, RuntimeError):  # the SDK's output-schema check, among others
        return ToolFailure(ErrorKind.bad_response, f"{where}: {doing}: {exc}")
    return ToolFailure(ErrorKind.unavailable, f"{where}: {doing}: {type(exc).__name__}: {exc}")


class McpConnection:
    """A lazily opened client session to one server, usable from any thread or loop."""

    def __init__(self, server: McpServerSettings):
        self.server = server
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # Touched only on the worker loop:
        self._client: Client | None = None
        self._ready: asyncio.Future[Client] | None = None
        self._holder: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._tools: list[RemoteTool] | None = None

    # -- the worker loop ------------------------------------------------------------
    def _worker(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name=f"mcp-{self.server.name}", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._worker())

    @property
    def _budget_s(self) -> float:
        # connect, close a failed attempt, one request: each bounded on the worker loop,
        # which so answers first; this is only the backstop
        return 2 * self.server.timeout_s + _CLOSE_BUDGET_S + 5.0

    def _run(self, coro: Coroutine[Any, Any, T], doing: str) -> T:
        """Run `coro` on the worker loop; the calling thread waits (never a loop's own
        thread: Tool.run calls the backends in a worker thread)."""
        future = self._submit(coro)
        try:
            return future.result(self._budget_s)
        except ToolFailure:
            raise
        except BaseException as exc:
            future.cancel()
            raise failure(self.server, doing, exc) from exc

    # -- on the worker loop ---------------------------------------------------------
    def _new_client(self) -> Client:
        s = self.server
        if s.url is not None:
            http = httpx2.AsyncClient(
                headers=s.headers or None, timeout=httpx2.Timeout(s.timeout_s)
            )
            return Client(
                _HttpTransport(s.url, http), read_timeout_seconds=s.timeout_s, mode="auto"
            )
        assert s.command is not None
        params = StdioServerParameters(
            command=s.command,
            args=list(s.args),
            env=dict(s.env) or None,
            cwd=s.cwd,
        )
        return Client(params, read_timeout_seconds=s.timeout_s, mode="auto")

    async def _hold(self, ready: asyncio.Future[Client], stop: asyncio.Event) -> None:
        """Open the session, publish it, keep it open until `stop`; the same task
        enters and leaves the SDK's context, as anyio requires."""
        try:
            async with self._new_client() as client:
                self._client = client
                ready.set_result(client)
                await stop.wait()
        except asyncio.CancelledError:
            ready.cancel()
            raise
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            else:
                log.warning("MCP server %r: session lost: %s", self.server.name, _leaf(exc))
        finally:
            self._client = None
            self._tools = None

    async def _session(self) -> Client:
        if self._client is not None and self._holder is not None and not self._holder.done():
            return self._client
        if self._ready is None or self._ready.done():
            await self._drop()
            loop = asyncio.get_running_loop()
            self._ready, self._stop = loop.create_future(), asyncio.Event()
            # a caller that gave up waiting must not leave the error unretrieved
            self._ready.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._holder = loop.create_task(self._hold(self._ready, self._stop))
        ready = self._ready
        try:
            return await asyncio.wait_for(asyncio.shield(ready), self.server.timeout_s)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await self._drop()
            raise failure(self.server, "connecting", exc) from exc

    async def _drop(self) -> None:
        """Close the session (if any) and wait, within a budget, for its transport to end:
        an open session is asked to end, one still connecting is cancelled."""
        holder, stop, ready = self._holder, self._stop, self._ready
        self._holder = self._stop = self._ready = None
        if holder is None or holder.done():
            return
        if stop is not None and ready is not None and ready.done() and not ready.cancelled():
            stop.set()
        else:
            holder.cancel()
        _, pending = await asyncio.wait({holder}, timeout=_CLOSE_BUDGET_S)
        if pending:
            holder.cancel()
            await asyncio.wait({holder}, timeout=_CLOSE_BUDGET_S)

    async def _list(self) -> list[RemoteTool]:
        client = await self._session()
        if self._tools is None:
            tools: list[RemoteTool] = []
            cursor: str | None = None
            for _ in range(100):  # a paginator that never ends cannot hang us
                try:
                    page = await asyncio.wait_for(
                        client.list_tools(cursor=cursor), self.server.timeout_s
                    )
                except asyncio.CancelledError:
                    raise
                except BaseException as exc:
                    raise failure(self.server, "listing tools", exc) from exc
                tools.extend(_remote(t) for t in page.tools)
                cursor = page.next_cursor
                if cursor is None:
                    break
            self._tools = tools
        return self._tools

    async def _call(self, name: str, args: dict[str, Any]) -> types.CallToolResult:
        client = await self._session()
        try:
            return await asyncio.wait_for(
                client.call_tool(name, args, read_timeout_seconds=self.server.timeout_s),
                self.server.timeout_s + 1.0,
            )
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            raise failure(self.server, f"calling {name}", exc) from exc

    # -- the API --------------------------------------------------------------------
    def list_tools(self) -> list[RemoteTool]:
        """The server's tools (starts the session if needed); blocks the calling thread."""
        return self._run(self._list(), "listing tools")

    def call_tool(self, name: str, args: dict[str, Any]) -> types.CallToolResult:
        return self._run(self._call(name, args), f"calling {name}")

    def close(self) -> None:
        """End the session (a stdio server's process exits) and the worker thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None or not thread.is_alive():
            return
        with contextlib.suppress(BaseException):
            asyncio.run_coroutine_threadsafe(self._drop(), loop).result(2 * _CLOSE_BUDGET_S + 1)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)
        if not thread.is_alive():
            loop.close()


class _HttpTransport:
    """The SDK's streamable-HTTP transport over our own httpx2 client (headers, timeouts),
    closing that client with the transport."""

    def __init__(self, url: str, http: httpx2.AsyncClient):
        self.url, self.http = url, http
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Any:
        await self._stack.enter_async_context(self.http)
        return await self._stack.enter_async_context(
            streamable_http_client(self.url, http_client=self.http)
        )

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._stack.__aexit__(*exc)


def _remote(tool: types.Tool) -> RemoteTool:
    return RemoteTool(
        name=tool.name,
        description=tool.description,
        input_schema=tool.input_schema,
        output_schema=tool.output_schema,
    )


_pool: dict[str, McpConnection] = {}
_pool_lock = threading.Lock()


def connection_for(server: McpServerSettings) -> McpConnection:
    """The process's connection to `server` (one per distinct configuration)."""
    key = server.model_dump_json()
    with _pool_lock:
        conn = _pool.get(key)
        if conn is None:
            conn = _pool[key] = McpConnection(server)
        return conn


def close_all() -> None:
    """Close every MCP session this process opened (also run at exit)."""
    with _pool_lock:
        conns = list(_pool.values())
        _pool.clear()
    for conn in conns:
        conn.close()


atexit.register(close_all)
