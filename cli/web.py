"""`gre web`: the chat in a browser (Gradio), on this machine only unless told otherwise.

Sessions are the same as `gre chat`'s (`gre sessions list` shows both). On 127.0.0.1 one
user sees them all (`--share-sessions`); on any other --host each browser sees only the
sessions it made (a signed owner id; the secret is $GRE_HOME/web-secret) unless
--share-sessions is given, and `--auth USER:PASSWORD` asks for a login. The page, its
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
from rich.markup import escape

from gre_agent.cli._console import Console
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


def server_secret(home: Path) -> bytes:
    """The key that signs browsers' owner ids: made once, kept in $GRE_HOME/web-secret
    (readable by this user only), so a restart keeps every browser's sessions."""
    path = home / "web-secret"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        home.mkdir(parents=True, exist_ok=True)
        key = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key.hex())
        return key


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """`USER:PASSWORD` as Gradio's `auth`; None for none."""
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise typer.BadParameter("expected USER:PASSWORD", param_hint="--auth")
    return user, password


def make_web_chat(
    *,
    backend_obj: Any,
    registry: Any,
    db_path: Path | None = None,
    tiles: str | None = None,
    ctx_kwargs: dict[str, Any] | None = None,
    share_sessions: bool = True,
    secret: bytes | None = None,
) -> Any:
    """A WebChat over a ChatService whose runs use `backend_obj` and `registry`."""
    from gre_agent.cli.web_app import WebChat
    from gre_agent.graphs.chat import ChatContext, ChatService

    kwargs = dict(ctx_kwargs or {})

    def context() -> ChatContext:
        return ChatContext(backend_obj=backend_obj, registry=registry, **kwargs)

    service = ChatService(db_path, context)
    return WebChat(service, tiles=tiles, share_sessions=share_sessions, secret=secret)


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
    share_sessions: Annotated[
        bool | None,
        typer.Option(
            "--share-sessions/--own-sessions",
            help="Every browser sees every session, terminal ones too (default on 127.0.0.1), "
            "or each browser only its own (default on any other --host).",
        ),
    ] = None,
    auth: Annotated[
        str | None, typer.Option("--auth", help="USER:PASSWORD: ask for a login.")
    ] = None,
) -> None:
    """Chat with the agent in a browser: upload photos, see its answer, evidence and map."""
    from gre_agent.tools import Registry

    login = parse_auth(auth)
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
        "stream_text": True,
    }
    web = make_web_chat(
        backend_obj=backend_obj,
        registry=Registry(settings),
        db_path=db,
        tiles=None if tiles.strip().lower() in ("", "none") else tiles,
        ctx_kwargs=ctx_kwargs,
        share_sessions=is_loopback(host) if share_sessions is None else share_sessions,
        secret=server_secret(settings.home),
    )
    if not is_loopback(host) and login is None:
        shared = "and read every session" if web.share_sessions else "(each browser: its own)"
        err.print(
            f"[yellow]warning:[/] listening on {escape(host)}: anyone who can reach it can "
            f"use the agent {shared}; --auth USER:PASSWORD asks for a login."
        )
    err.print(f"gre web: http://{escape(host)}:{port}/  (Ctrl-C stops it)")
    try:
        launch(web, host, port, block=True, auth=login)
    except OSError as exc:  # the port is taken, the address is not ours
        err.print(f"[red]error:[/] cannot listen on {escape(host)}:{port}: {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from exc
