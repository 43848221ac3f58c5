"""`gre data geonames PATH`: import a GeoNames dump for the offline gazetteer.

Download a dump from https://download.geonames.org/export/dump/ (allCountries.zip,
cities500.zip, a country file such as FI.zip, ...) and import it; the offline
`gazetteer.geocode` then searches it before the packaged cities500 data.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from gre_agent.cli._console import Console

app = typer.Typer(
    help="Import a GeoNames dump (allCountries.txt, cities500.txt, or their .zip).",
    no_args_is_help=True,
    # `gre data geonames PATH [OPTIONS]`: one command, wired in as a group by cli/data.py,
    # so let options follow the path and keep COMMAND out of the usage line.
    context_settings={"allow_interspersed_args": True},
    subcommand_metavar="",
)
err = Console(stderr=True)


@app.callback(invoke_without_command=True)
def import_dump(
    path: Annotated[
        Path,
        typer.Argument(
            help="GeoNames dump: .txt (tab-separated) or .zip.", exists=True, dir_okay=False
        ),
    ],
    classes: Annotated[
        str,
        typer.Option(
            "--classes",
            help="Feature classes to keep (P populated places, A divisions, T terrain, "
            "H water, L areas, S spots, V vegetation, R roads, U undersea); 'all' keeps all.",
        ),
    ] = "P",
    min_population: Annotated[
        int, typer.Option("--min-population", min=0, help="Drop smaller places.")
    ] = 0,
    admin1_codes: Annotated[
        Path | None,
        typer.Option(
            "--admin1-codes",
            exists=True,
            dir_okay=False,
            help="GeoNames admin1CodesASCII.txt for division names "
            "(default: one next to the dump, else names derived from the packaged data).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Index to write (default: gazetteer.data_path).")
    ] = None,
) -> None:
    """Build the local GeoNames index the offline geocoder reads."""
    from gre_agent.core.settings import load_settings
    from gre_agent.tools.gazetteer._dump import (
        ADMIN1_FILE,
        DumpError,
        build_index,
        index_path,
        read_admin1_names,
    )
    from gre_agent.tools.gazetteer._packaged import packaged_index

    settings = load_settings()
    target = out or index_path(settings)
    wanted = (
        None if classes.strip().lower() == "all" else frozenset(classes.replace(",", "").upper())
    )
    # Division names: the packaged table, overridden by GeoNames' own file when present.
    admin1 = dict(packaged_index(settings.data_dir / "gazetteer").admin1_names)
    admin1_file = admin1_codes or path.with_name(ADMIN1_FILE)
    if admin1_file.exists():
        admin1.update(read_admin1_names(admin1_file))
    started = time.perf_counter()
    try:
        index, stats = build_index(
            path, target, classes=wanted, min_population=min_population, admin1_names=admin1
        )
    except (DumpError, UnicodeDecodeError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    err.print(
        f"imported {stats.kept:,} of {stats.read:,} places ({stats.malformed:,} malformed lines, "
        f"{len(index.keys):,} names) in {time.perf_counter() - started:.1f} s"
    )
    typer.echo(str(target))
