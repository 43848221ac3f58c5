"""Options shared by the commands that run the agent (locate, chat, web, eval run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape

from gre_agent.cli._console import Console

EXIT_USAGE = 2
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

BackendName = Literal["openai", "transformers", "replay", "ocr"]
BackendOpt = Annotated[
    BackendName | None,
    typer.Option(
        help="Model backend (default: settings model.backend); ocr: no model, the OCR "
        "baseline (the photo's text, placed by the offline tools)."
    ),
]
ModelOpt = Annotated[str | None, typer.Option(help="Model id or local path.")]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option("--base-url", help="OpenAI-compatible endpoint(s), comma-separated."),
]
ReplayOpt = Annotated[
    Path | None,
    typer.Option("--replay", help="A trace to replay model answers from (implies replay)."),
]
OfflineOpt = Annotated[
    bool,
    typer.Option("--offline/--online", help="Offline tool backends (default) or online ones."),
]
Stages = Literal["auto", "single-pass", "per-stage"]
StagesOpt = Annotated[
    Stages | None,
    typer.Option(
        "--stages",
        help="single-pass: one generation per image (GRE models); per-stage: a prompt per "
        "stage (other VLMs); auto: by the model's name (default: settings model.stages).",
    ),
]
TilesOpt = Annotated[
    str,
    typer.Option(
        "--tiles",
        envvar="GRE_MAP_TILES",
        help="Map tile URL template, or 'none' for no background (tiles are online).",
    ),
]


def open_backend(
    console: Console,
    backend: BackendName | None,
    model: str | None,
    base_url: str | None,
    replay: Path | None,
) -> tuple[Any, BackendName | None]:
    """The model backend the options name, or a readable usage error (exit 2).

    Returns (backend, backend name); `--replay` alone implies `--backend replay`.
    """
    from gre_agent.agent.backends import ModelError
    from gre_agent.graphs.gre.model import open_model

    if replay is not None:
        if backend not in (None, "replay"):
            console.print("[red]error:[/] --replay needs --backend replay (or no --backend)")
            raise typer.Exit(EXIT_USAGE)
        backend = "replay"
    try:
        return open_model(backend, model, base_url, replay), backend
    except (ModelError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/] model backend: {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from exc
