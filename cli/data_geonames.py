"""`gre data geonames ...`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Offline geonames data.", no_args_is_help=True)
