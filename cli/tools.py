"""`gre tools list | call | serve`."""

from __future__ import annotations

import asyncio
import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.padding import Padding

from gre_agent.cli._console import Console

if TYPE_CHECKING:  # settings and the registry load on use: `gre --help` does not wait
    from gre_agent.core.settings import Settings

app = typer.Typer(help="List, call and serve the agent's tools.", no_args_is_help=True)
err = Console(stderr=True)

EXIT_USAGE = 2


@app.command("list")
def list_tools(
    as_json: Annotated[bool, typer.Option("--json", help="Print specs with JSON schemas.")] = False,
) -> None:
    """List the registered tools (built-in and plugins)."""
    from gre_agent.core.settings import load_settings
    from gre_agent.tools.registry import Registry

    registry = Registry(load_settings())
    try:
        tools = registry.tools()
        specs = [tool.spec() for tool in tools]
        if as_json:
            typer.echo(json.dumps(specs, indent=2))
            return
        # a list, not a table: at 80 columns a four-column table squeezes every description
        # into a narrow column of many lines
        console = Console(highlight=False)
        for tool, spec in zip(tools, specs, strict=True):
            active = "mcp" if tool.source == "mcp" else tool.backend
            others = [b for b in spec["backends"] if b != active]
            also = f" (also: {', '.join(others)})" if others else ""
            console.print(f"[bold]{escape(spec['name'])}[/]  [dim]{escape(active + also)}[/]")
            console.print(Padding(escape(spec["description"]), (0, 0, 0, 4), expand=False))
    finally:
        registry.close()


@app.command("call")
def call_tool(
    name: Annotated[str, typer.Argument(help="Tool name, e.g. gazetteer.geocode")],
    args: Annotated[str, typer.Option("--args", help="Arguments as a JSON object.")] = "{}",
    offline: Annotated[bool, typer.Option("--offline", help="Force the offline backend.")] = False,
    online: Annotated[bool, typer.Option("--online", help="Force the online backend.")] = False,
) -> None:
    """Call one tool and print its result as JSON on stdout."""
    try:
        parsed = json.loads(args)
    except json.JSONDecodeError as exc:
        err.print(f"[red]error:[/] --args is not valid JSON: {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    if not isinstance(parsed, dict):
        err.print("[red]error:[/] --args must be a JSON object")
        raise typer.Exit(EXIT_USAGE)
    from gre_agent.tools.registry import Registry, UnknownToolError

    registry = Registry(_settings(offline))
    try:
        tool = registry.get(name)
        outcome = asyncio.run(tool.run(parsed, backend="online" if online else None))
    except UnknownToolError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    finally:
        registry.close()
    if outcome.error is not None:
        err.print(f"[red]{outcome.error.kind}:[/] {outcome.error.message}")
        sys.stdout.write(json.dumps({"error": outcome.error.model_dump(mode="json")}) + "\n")
        raise typer.Exit(EXIT_USAGE if outcome.error.kind == "invalid_args" else 1)
    result = outcome.model_dump(mode="json")["result"]  # the form traces store
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


@app.command("serve")
def serve_tools(
    transport: Annotated[
        Transport, typer.Option("--transport", help="stdio (for a client that starts us) or http.")
    ] = Transport.stdio,
    host: Annotated[str, typer.Option("--host", help="http: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="http: port (0: any free one).")] = 8765,
    offline: Annotated[bool, typer.Option("--offline", help="Force the offline backends.")] = False,
    online: Annotated[bool, typer.Option("--online", help="Force the online backends.")] = False,
    flat_names: Annotated[
        bool,
        typer.Option(
            "--flat-names", help="Name tools gazetteer__geocode, for clients without '.'."
        ),
    ] = False,
) -> None:
    """Serve the tools (built-in and plugins) over the Model Context Protocol.

    Settings (offline/online, cache modes) are those of `gre tools call`. Over http the
    endpoint is http://HOST:PORT/mcp (printed on stderr once it accepts requests).
    """
    import anyio

    from gre_agent.tools.mcp.server import build_server, serve_http, serve_stdio
    from gre_agent.tools.registry import Registry

    if offline and online:
        err.print("[red]error:[/] --offline and --online exclude each other")
        raise typer.Exit(EXIT_USAGE)
    server = build_server(
        Registry(_settings(offline)), backend="online" if online else None, flat_names=flat_names
    )
    try:
        if transport is Transport.stdio:
            anyio.run(serve_stdio, server)
        else:
            anyio.run(serve_http, server, host, port)
    except KeyboardInterrupt:
        pass


def _settings(offline: bool) -> Settings:
    from gre_agent.core.settings import load_settings

    return load_settings(offline=True) if offline else load_settings()
