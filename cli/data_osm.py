"""`gre data osm ...`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Offline osm data.", no_args_is_help=True)
