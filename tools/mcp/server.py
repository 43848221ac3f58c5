"""`gre tools serve`: the registry's Python tools (built-in and plugins) as an MCP server.

Each tool is listed with its description, its Args JSON schema as the input schema and
its Result schema as the output schema. A call runs `Tool.run`, so the settings
(offline/online, cache modes, rate limits) are those of `gre tools call`. A result is
sent as structured content plus the same JSON as text; a typed error as an isError
result whose text is `kind: message` (e.g. `invalid_args: query: Field required`),
which the MCP client side (tools/mcp/source.py) reads back into the same kind.

Tools that themselves come from MCP servers are not served again: a gre.toml that
points at `gre tools serve` must not make it start itself.
"""

from __future__ import annotations

import json
import socket
import sys
from typing import Any, Literal

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server

from gre_agent.tools.base import Backend, Tool
from gre_agent.tools.registry import Registry

Transport = Literal["stdio", "http"]
HTTP_PATH = "/mcp"


def served_name(name: str, flat: bool) -> str:
    """The name a client sees: as registered, or with '.' as '__' for clients that only
    take [A-Za-z0-9_-] (as `gre_agent.tools.langchain` names them)."""
    return name.replace(".", "__") if flat else name


def _listing(name: str, tool: Tool) -> types.Tool:
    return types.Tool(
        name=name,
        description=tool.description,
        input_schema=tool.Args.model_json_schema(),
        output_schema=tool.Result.model_json_schema(mode="serialization"),
        annotations=types.ToolAnnotations(
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=tool.backend == "online",
        ),
    )


def error_result(kind: str, message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=f"{kind}: {message}")], is_error=True
    )


def build_server(
    registry: Registry, *, backend: Backend | None = None, flat_names: bool = False
) -> Server[Any]:
    """An MCP server (the SDK's low-level Server) over the registry's Python tools."""
    tools = {served_name(n, flat_names): registry.get(n) for n in sorted(registry.classes)}

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[_listing(n, t) for n, t in tools.items()])

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = tools.get(params.name)
        if tool is None:
            known = ", ".join(tools)
            return error_result("invalid_args", f"unknown tool {params.name!r}; known: {known}")
        outcome = await tool.run(params.arguments or {}, backend=backend)
        if outcome.error is not None:
            return error_result(outcome.error.kind, outcome.error.message)
        result = outcome.model_dump(mode="json")["result"]  # the form traces store
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(result, ensure_ascii=False))],
            structured_content=result,
        )

    return Server(
        "gre-agent",
        version=_version(),
        instructions="Geolocation tools: gazetteer, OpenStreetMap, Wikipedia, country facts, "
        "EXIF and OCR. Each answer is the tool's JSON result; errors read `kind: message`.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gre-agent")
    except PackageNotFoundError:
        return ""


async def serve_stdio(server: Server[Any]) -> None:
    """Serve one client on stdin/stdout (the SDK points fd 1 at stderr meanwhile, so stray
    prints cannot corrupt the protocol) until stdin closes."""
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def serve_http(server: Server[Any], host: str, port: int) -> None:
    """Serve streamable HTTP on host:port (0: any free port). Once it accepts requests,
    one line `gre tools serve: http://HOST:PORT/mcp` goes to stderr."""
    import uvicorn

    app = server.streamable_http_app(streamable_http_path=HTTP_PATH, host=host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    url = f"http://{shown}:{bound}{HTTP_PATH}"

    class _Announcing(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                print(f"gre tools serve: {url}", file=sys.stderr, flush=True)

    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await _Announcing(config).serve(sockets=[sock])
