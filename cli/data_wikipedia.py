"""`gre data wikipedia ...`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Offline wikipedia data.", no_args_is_help=True)
