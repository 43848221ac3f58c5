"""`gre tools list | call`."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gre_agent.core.settings import load_settings
from gre_agent.tools.registry import Registry, UnknownToolError

app = typer.Typer(help="List and call the agent's tools.", no_args_is_help=True)
err = Console(stderr=True)

EXIT_USAGE = 2


@app.command("list")
def list_tools(
    as_json: Annotated[bool, typer.Option("--json", help="Print specs with JSON schemas.")] = False,
) -> None:
    """List the registered tools (built-in and plugins)."""
    registry = Registry(load_settings())
    specs = [registry.classes[n].spec() for n in registry.names()]
    if as_json:
        typer.echo(json.dumps(specs, indent=2))
        return
    table = Table("tool", "backends", "active", "description")
    for spec in specs:
        active = registry.get(spec["name"]).backend
        table.add_row(spec["name"], ", ".join(spec["backends"]), active, spec["description"])
    Console().print(table)


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
    registry = Registry(load_settings(offline=True) if offline else load_settings())
    try:
        tool = registry.get(name)
    except UnknownToolError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    outcome = asyncio.run(tool.run(parsed, backend="online" if online else None))
    if outcome.error is not None:
        err.print(f"[red]{outcome.error.kind}:[/] {outcome.error.message}")
        sys.stdout.write(json.dumps({"error": outcome.error.model_dump(mode="json")}) + "\n")
        raise typer.Exit(EXIT_USAGE if outcome.error.kind == "invalid_args" else 1)
    result = outcome.model_dump(mode="json")["result"]  # the form traces store
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
