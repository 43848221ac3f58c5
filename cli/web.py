"""`gre web`: the chat in a browser (Gradio), on this machine only unless told otherwise.

Sessions are the same as `gre chat`'s (`gre sessions list` shows both). The page, its
scripts and the map's Leaflet are served by this process; nothing is fetched from the
internet except the map's background tiles (`--tiles none` for none). Gradio is imported
only when the command runs.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from gre_agent.cli.locate import tool_settings
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

err = Console(stderr=True, highlight=False)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_web_chat(
    *,
    backend_obj: Any,
    registry: Any,
    db_path: Path | None = None,
    tiles: str | None = None,
    ctx_kwargs: dict[str, Any] | None = None,
) -> Any:
    """A WebChat over a ChatService whose runs use `backend_obj` and `registry`."""
    from gre_agent.cli.web_app import WebChat
    from gre_agent.graphs.chat import ChatContext, ChatService

    kwargs = dict(ctx_kwargs or {})

    def context() -> ChatContext:
        return ChatContext(backend_obj=backend_obj, registry=registry, **kwargs)

    return WebChat(ChatService(db_path, context), tiles=tiles)


def web_cmd(
    host: Annotated[
        str, typer.Option(help="Address to listen on (default: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 7860,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    replay: ReplayOpt = None,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="Sessions database (default: $GRE_HOME/sessions.sqlite)."),
    ] = None,
    offline: OfflineOpt = True,
    stages: StagesOpt = None,
    tiles: TilesOpt = OSM_TILES,
) -> None:
    """Chat with the agent in a browser: upload photos, see its answer, evidence and map."""
    from gre_agent.tools import Registry

    backend_obj, backend = open_backend(err, backend, model, base_url, replay)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from gre_agent.cli.web_app import launch

    settings = tool_settings(online=not offline)
    ctx_kwargs = {
        "backend": backend_obj.name if backend is None else backend,
        "model": model or getattr(backend_obj, "model", None),
        "base_url": base_url,
        "replay_path": str(replay) if replay else None,
        "offline": offline,
        "stages": stages,
    }
    web = make_web_chat(
        backend_obj=backend_obj,
        registry=Registry(settings),
        db_path=db,
        tiles=None if tiles.strip().lower() in ("", "none") else tiles,
        ctx_kwargs=ctx_kwargs,
    )
    if not is_loopback(host):
        err.print(
            f"[yellow]warning:[/] listening on {escape(host)}: anyone who can reach it can "
            "use the agent and read its sessions (there is no login)."
        )
    err.print(f"gre web: http://{escape(host)}:{port}/  (Ctrl-C stops it)")
    try:
        launch(web, host, port, block=True)
    except OSError as exc:  # the port is taken, the address is not ours
        err.print(f"[red]error:[/] cannot listen on {escape(host)}:{port}: {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from exc
