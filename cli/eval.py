"""`gre eval score` (the runner, report and compare commands join this sub-app later)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.table import Table

from gre_agent.evals import ScoreReport, read_predictions, score_rows
from gre_agent.evals._score import AdminMode
from gre_agent.evals.metrics import DistanceMethod

app = typer.Typer(help="Evaluate geolocation predictions.", no_args_is_help=True)
err = Console(stderr=True)

EXIT_USAGE = 2
_SHOWN_PROBLEMS = 20


def _pct(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{100 * x:.2f}"


def _km(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:,.1f}"


def _table(report: ScoreReport) -> Table:
    keys = list(report.acc_km)
    table = Table(title=f"accuracy % within km, n = {report.n}", caption=report.conventions)
    for name in ("set", *(f"@{k}" for k in keys), "median km", "mean km", "GeoScore"):
        table.add_column(name, justify="left" if name == "set" else "right")
    table.add_row(
        "all",
        *(_pct(report.acc_km[k]) for k in keys),
        _km(report.median_km),
        _km(report.mean_km),
        f"{report.mean_geoscore:,.1f}",
    )
    if report.ci:
        ci = report.ci
        table.add_row(
            f"{100 * ci.level:g}% CI",
            *(f"{_pct(ci.acc_km[k].low)}–{_pct(ci.acc_km[k].high)}" for k in keys),
            f"{_km(ci.median_km.low)}–{_km(ci.median_km.high)}",
            f"{_km(ci.mean_km.low)}–{_km(ci.mean_km.high)}",
            f"{ci.mean_geoscore.low:,.0f}–{ci.mean_geoscore.high:,.0f}",
        )
    for scene, s in report.by_scene.items():
        table.add_row(
            f"{scene} ({s.n})",
            *(_pct(s.acc_km[k]) for k in keys),
            _km(s.median_km),
            _km(s.mean_km),
            f"{s.mean_geoscore:,.1f}",
        )
    return table


def _print_extras(report: ScoreReport, console: Console) -> None:
    if report.admin:
        admin = Table("level", "labelled rows", "accuracy %", title="administrative accuracy")
        for level, acc in report.admin.model_dump().items():
            admin.add_row(level, str(acc["n"]), _pct(acc["accuracy"]))
        console.print(admin)
    if report.agent:
        a = report.agent
        console.print(
            f"tool calls per image: {a.tool_calls_per_image or 0:.2f} "
            f"({a.tool_calls_total} over {a.n_with_tool_calls} images); cache hits: "
            f"{a.cache_hits_total} (rate {_pct(a.cache_hit_rate)}%)"
        )
        if a.verification:
            v = a.verification
            console.print(
                f"verification changed {_pct(v.changed_share)}% of {v.n} answers; median error "
                f"{_km(v.before.median_km)} -> {_km(v.after.median_km)} km"
            )


@app.command("score")
def score(
    predictions: Annotated[
        Path, typer.Argument(help="JSON lines: id, pred_lat, pred_lon, gt_lat, gt_lon, ...")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    distance: Annotated[
        str, typer.Option("--distance", help="geodesic (WGS-84, default) or haversine (6371 km).")
    ] = "geodesic",
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples for intervals; 0 for none.")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    admin: Annotated[
        str,
        typer.Option(
            "--admin",
            help="Country/region/city accuracy: auto (when rows have labels), labels, "
            "gt (label unlabelled rows from their ground truth), off.",
        ),
    ] = "auto",
) -> None:
    """Score predictions: accuracy at 1/25/200/750/2500 km, median/mean error, GeoScore."""
    if distance not in ("geodesic", "haversine"):
        err.print(f"[red]error:[/] --distance must be geodesic or haversine, not {distance!r}")
        raise typer.Exit(EXIT_USAGE)
    if admin not in ("auto", "labels", "gt", "off"):
        err.print(f"[red]error:[/] --admin must be auto, labels, gt or off, not {admin!r}")
        raise typer.Exit(EXIT_USAGE)
    if bootstrap < 0:
        err.print("[red]error:[/] --bootstrap must be 0 or more")
        raise typer.Exit(EXIT_USAGE)
    try:
        rows, problems = read_predictions(predictions)
    except OSError as exc:
        err.print(f"[red]error:[/] cannot read {predictions}: {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    for p in problems[:_SHOWN_PROBLEMS]:
        err.print(f"[yellow]skipped[/] line {p.row} (id {p.id}): {p.kind}: {p.reason}")
    if len(problems) > _SHOWN_PROBLEMS:
        err.print(f"[yellow]... and {len(problems) - _SHOWN_PROBLEMS} more bad rows[/]")
    if problems:
        err.print(f"{len(problems)} bad rows skipped, {len(rows)} scored")
    method: DistanceMethod = "haversine" if distance == "haversine" else "geodesic"
    mode = cast(AdminMode, admin)
    report = score_rows(rows, problems, distance=method, bootstrap=bootstrap, seed=seed, admin=mode)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    console = Console()
    console.print(_table(report))
    _print_extras(report, console)
