"""`gre sessions list | show ID | delete ID`: the chat sessions kept on disk."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from gre_agent.cli._console import Console

app = typer.Typer(help="Chat sessions (gre chat) kept on disk.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)

EXIT_NOT_FOUND = 1

DbOption = Annotated[
    Path | None, typer.Option("--db", help="Sessions database (default: $GRE_HOME).")
]


def _with_service(db: Path | None, work: Any) -> Any:
    from gre_agent.graphs.chat import ChatService

    async def main() -> Any:
        async with ChatService(db) as service:
            return await work(service)

    return asyncio.run(main())


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


@app.command("list")
def list_cmd(db: DbOption = None) -> None:
    """Sessions, most recently used first."""
    sessions = _with_service(db, lambda s: s.sessions())
    if not sessions:
        console.print("No sessions yet: start one with gre chat [IMAGE].")
        return
    table = Table("id", "title", "messages", "updated", "state")
    for s in sessions:
        state = "interrupted" if s.interrupted else ""
        table.add_row(s.id, escape(s.title), str(s.turns), _when(s.updated), state)
    console.print(table)


@app.command("show")
def show_cmd(
    session_id: Annotated[str, typer.Argument(help="Session id.")], db: DbOption = None
) -> None:
    """A session's conversation."""
    from gre_agent.cli.chat import print_reply

    async def work(service: Any) -> Any:
        if not await service.exists(session_id):
            return None
        return await service.history(session_id), await service.interrupted(session_id)

    found = _with_service(db, work)
    if found is None:
        console.print(f"[red]error:[/] no session {escape(session_id)}")
        raise typer.Exit(EXIT_NOT_FOUND)
    turns, interrupted = found
    for t in turns:
        if t.role == "user":
            photo = f" [dim]\\[photo {escape(t.image)}][/]" if t.image else ""
            console.print(f"[bold]you>[/] {escape(t.text)}{photo}")
        elif t.reply is not None:
            print_reply(t.reply)
        else:
            console.print(f"[bold magenta]gre>[/] {escape(t.text)}")
    if interrupted:
        console.print("[yellow]The last answer was cut off (gre chat --session ID, /resume).[/]")


@app.command("delete")
def delete_cmd(
    session_id: Annotated[str, typer.Argument(help="Session id.")], db: DbOption = None
) -> None:
    """Forget a session."""
    if not _with_service(db, lambda s: s.delete(session_id)):
        console.print(f"[red]error:[/] no session {escape(session_id)}")
        raise typer.Exit(EXIT_NOT_FOUND)
    console.print(f"deleted {escape(session_id)}")
