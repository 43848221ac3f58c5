"""`gre chat [IMAGE]`: talk with the agent about photos, in the terminal.

Every session is kept in a SQLite database (default $GRE_HOME/sessions.sqlite);
`--session ID` resumes one (its history is shown first). Lines typed are messages; the
commands are the chat graph's (/image PATH, /hint TEXT, /why, /recheck, ...) plus the
terminal's own: /map [PATH], /trace, /resume, /session, /quit.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape

from gre_agent.cli._console import Console
from gre_agent.cli.options import (
    EXIT_USAGE,
    OSM_TILES,
    BackendOpt,
    BaseUrlOpt,
    ModelOpt,
    OfflineOpt,
    ReplayOpt,
    StagesOpt,
    TilesOpt,
    open_backend,
)

console = Console(highlight=False, soft_wrap=True)


LOCAL_HELP = """Terminal commands: /map [PATH] writes a map of the answer (HTML), /trace shows the
trace of the answer, /resume finishes an answer that was cut off, /session shows the session
id, /quit (or Ctrl-D) leaves; the session is kept."""


# --- rendering -------------------------------------------------------------------------------


class EventPrinter:
    """Prints a turn's events: the model's text as it is written (dim), a line per finished
    stage, then the reply."""

    def __init__(self) -> None:
        self.midline = False  # streamed text that has not ended its line yet

    def __call__(self, event: Any) -> None:
        if event.type == "text":
            console.print(event.text, end="", style="dim", markup=False, highlight=False)
            self.midline = not event.text.endswith("\n")
            return
        if self.midline:
            console.print()
            self.midline = False
        if event.type == "progress":
            print_progress(event)
        else:
            print_reply(event.reply)


def print_progress(event: Any) -> None:
    console.print(f"  [green]✓[/] [cyan]{event.stage or '':<10}[/] {escape(event.text)}")


def print_reply(reply: Any) -> None:
    from gre_agent.graphs.chat.answers import country_name

    if reply.intent == "error":
        console.print(f"[red]✗ {escape(reply.text)}[/]")
        return
    p = reply.prediction or {}
    if reply.intent not in ("locate", "hint", "recheck") or p.get("lat") is None:
        console.print(f"[bold magenta]gre>[/] {escape(reply.text)}")
        return
    if reply.intent != "locate":  # what the re-check changed
        head = [ln for ln in reply.text.splitlines()[:3] if not ln.startswith("Map:")]
        console.print("[bold magenta]gre>[/] " + escape(" ".join(head[:2])))
    else:
        console.print("[bold magenta]gre>[/] [bold]answer[/]")
    country = country_name(p.get("country_code"))
    code = p.get("country_code")
    status = f" ({p['status']})" if p.get("status") != "ok" else ""
    checks = (
        f"{p.get('rounds', 0)} round(s), {p.get('tool_calls', 0)} tool call(s), "
        f"{p.get('tool_errors', 0)} error(s)"
    )
    rows = [
        ("coordinates", f"{p['lat']:.5f}, {p['lon']:.5f}"),
        ("place", ", ".join(x for x in (p.get("place"), p.get("admin1")) if x) or "-"),
        ("country", f"{country} ({code})" if country else code or "-"),
        ("confidence", f"{p.get('confidence', 0):.2f}{status}"),
        ("checks", checks),
    ]
    if reply.hints:
        rows.append(("hints", "; ".join(reply.hints)))
    for key, value in rows:
        console.print(f"  [dim]{key:<12}[/] {escape(str(value))}")
    if reply.evidence:
        console.print(f"  [dim]{'evidence':<12}[/]")
        for line in reply.evidence[:10]:
            console.print(f"    - {escape(line)}")
    if reply.osm_url:
        console.print(f"  [dim]{'map':<12}[/] {reply.osm_url}")
    console.print("  [dim]ask: why? / what did the tools say? / how sure are you? / a hint[/]")


def print_history(turns: list[Any]) -> None:
    for t in turns:
        if t.role == "user":
            photo = f" [dim]\\[photo {escape(t.image)}][/]" if t.image else ""
            console.print(f"[bold]you>[/] {escape(t.text)}{photo}")
        else:
            lines = t.text.splitlines() or [""]
            more = f" [dim](+{len(lines) - 3} lines)[/]" if len(lines) > 3 else ""
            console.print("[bold magenta]gre>[/] " + escape("\n     ".join(lines[:3])) + more)


# --- the loop ------------------------------------------------------------------------------


class Chat:
    def __init__(self, service: Any, session_id: str, tiles: str | None):
        self.service = service
        self.session_id = session_id
        self.tiles = tiles

    async def send(self, text: str = "", image: str | None = None) -> None:
        show = EventPrinter()
        async for event in self.service.send(self.session_id, text, image=image):
            show(event)

    async def resume(self) -> None:
        if not await self.service.interrupted(self.session_id):
            console.print("Nothing to resume: the last answer is complete.")
            return
        show = EventPrinter()
        async for event in self.service.resume(self.session_id):
            show(event)

    async def write_map(self, arg: str) -> None:
        from gre_agent.core.settings import load_settings
        from gre_agent.graphs.gre.map import write_map

        layer = await self.service.map_layer(self.session_id)
        if layer is None:
            console.print("No answer to map yet: send a photo first (/image PATH).")
            return
        path = Path(arg).expanduser() if arg else (
            load_settings().home / "maps" / f"chat-{self.session_id}.html"
        )  # fmt: skip
        written = write_map(path, [layer], tiles=self.tiles)
        console.print(f"map: {escape(str(written))}")

    async def show_trace(self) -> None:
        from gre_agent.cli.trace import load, render_trace
        from gre_agent.core.trace import TraceError

        run = (await self.service.state(self.session_id)).get("run") or {}
        if not run.get("trace_path"):
            console.print("No trace yet: send a photo first (/image PATH).")
            return
        path = Path(run["trace_path"])
        try:
            trace = load(path)
        except TraceError as exc:
            console.print(f"[red]✗ {escape(str(exc))}[/]")
            return
        render_trace(console, trace, path, text_lines=2)
        console.print(f"trace: {escape(str(path))}")

    async def handle(self, line: str) -> bool:
        """One typed line; False when the user leaves."""
        stripped = line.strip()
        command, _, rest = stripped.partition(" ")
        command = command.lower()
        if command in ("/quit", "/exit", "/q"):
            return False
        if command == "/map":
            await self.write_map(rest.strip())
        elif command == "/trace":
            await self.show_trace()
        elif command == "/resume":
            await self.resume()
        elif command == "/session":
            console.print(f"session {self.session_id}")
        elif command == "/image":
            from gre_agent.graphs.chat.intents import split_path

            path, text = split_path(rest)
            if not path:
                console.print("[red]✗ Which photo? /image PATH[/]")
            else:
                await self.send(text, image=path)
        else:
            await self.send(stripped)
            if command == "/help":
                console.print(LOCAL_HELP)
        return True


def run_chat(service: Any, session: str | None, image: Path | None, tiles: str | None) -> None:
    with asyncio.Runner() as runner:
        runner.run(service.open())
        try:
            sid = session or service.new_session_id()
            chat = Chat(service, sid, tiles)
            if session and runner.run(service.exists(session)):
                console.print(f"[bold]session {escape(sid)}[/] (resumed)")
                print_history(runner.run(service.history(sid)))
                if runner.run(service.interrupted(sid)):
                    console.print("[yellow]The last answer was cut off: /resume finishes it.[/]")
            else:
                console.print(
                    f"[bold]session {escape(sid)}[/] (new; resume it with "
                    f"gre chat --session {escape(sid)})"
                )
            console.print("[dim]/image PATH, /hint TEXT, /why, /map, /trace, /help, /quit[/]")
            if image is not None:
                runner.run(chat.send("", image=str(image)))
            while True:
                try:
                    line = console.input("[bold]you>[/] ")
                except EOFError:
                    break
                except KeyboardInterrupt:
                    console.print()
                    break
                if not line.strip():
                    continue
                try:
                    if not runner.run(chat.handle(line)):
                        break
                except KeyboardInterrupt:
                    console.print("\n[yellow]interrupted: /resume finishes the answer[/]")
            console.print(f"bye; the session is kept: gre chat --session {escape(sid)}")
        finally:
            runner.run(service.close())
            close = getattr(service._context().backend_obj, "aclose", None)
            if close is not None:
                runner.run(close())


def chat_cmd(
    image: Annotated[Path | None, typer.Argument(help="A photo to start with.")] = None,
    session: Annotated[
        str | None, typer.Option("--session", "-s", help="Resume (or name) a session.")
    ] = None,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    replay: ReplayOpt = None,
    offline: OfflineOpt = True,
    stages: StagesOpt = None,
    recheck: Annotated[
        Literal["verify", "full"],
        typer.Option(help="A hint re-runs verification (verify) or the whole agent (full)."),
    ] = "verify",
    max_rounds: Annotated[
        int | None, typer.Option("--max-rounds", min=0, help="Verification rounds.")
    ] = None,
    db: Annotated[
        Path | None, typer.Option("--db", help="Sessions database (default: $GRE_HOME).")
    ] = None,
    tiles: TilesOpt = OSM_TILES,
) -> None:
    """Chat about photos: locate, ask why, add hints; sessions are kept."""
    from gre_agent.cli.locate import tool_settings
    from gre_agent.graphs.chat import ChatContext, ChatService
    from gre_agent.tools import Registry

    if image is not None and not image.exists():
        console.print(f"[red]error:[/] {escape(str(image))}: no such file")
        raise typer.Exit(EXIT_USAGE)
    backend_obj, backend = open_backend(console, backend, model, base_url, replay)
    settings = tool_settings(online=not offline)
    extra: dict[str, Any] = {"max_rounds": max_rounds} if max_rounds is not None else {}
    context = ChatContext(
        backend_obj=backend_obj,
        registry=Registry(settings),
        backend=backend or backend_obj.name,
        model=model or getattr(backend_obj, "model", None),
        base_url=base_url,
        replay_path=str(replay) if replay else None,
        offline=offline,
        stages=stages,
        stream_text=True,
        recheck=recheck,
        trace_dir=str(settings.home / "traces" / "chat"),
        **extra,
    )
    service = ChatService(db, lambda: context)
    run_chat(service, session, image, None if tiles.strip().lower() in ("", "none") else tiles)
