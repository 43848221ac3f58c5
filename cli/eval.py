"""`gre eval score | run | merge | report | compare`: scoring, the batch runner, merging
shards, reports and paired comparisons."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table

from gre_agent.cli._console import Console
from gre_agent.cli.options import StagesOpt

if TYPE_CHECKING:  # the evals package loads on use: `gre --help` does not wait for it
    from gre_agent.evals import ScoreReport
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


def _tables(report: ScoreReport) -> list[Table]:
    """Accuracy, then distances: two narrow tables, the CI as a low and a high row, so
    every figure fits 80 columns whole (rich folds a cell rather than cut it)."""
    keys = list(report.acc_km)
    acc = Table(title=f"accuracy % within km, n = {report.n}")
    dist = Table(title="distance error and GeoScore", caption=report.conventions)
    for table, names in (
        (acc, [f"@{k}" for k in keys]),
        (dist, ["median km", "mean km", "GeoScore"]),
    ):
        table.add_column("set", overflow="fold")
        for name in names:
            table.add_column(name, justify="right", overflow="fold")

    def add(label: str, s: Any) -> None:
        acc.add_row(label, *(_pct(s.acc_km[k]) for k in keys))
        dist.add_row(label, _km(s.median_km), _km(s.mean_km), f"{s.mean_geoscore:,.1f}")

    add("all", report)
    if report.ci:
        ci = report.ci
        level = f"{100 * ci.level:g}% CI"
        for end, name in (("low", "low"), ("high", "high")):
            acc.add_row(f"{level} {name}", *(_pct(getattr(ci.acc_km[k], end)) for k in keys))
            dist.add_row(
                f"{level} {name}",
                _km(getattr(ci.median_km, end)),
                _km(getattr(ci.mean_km, end)),
                f"{getattr(ci.mean_geoscore, end):,.0f}",
            )
    for scene, s in report.by_scene.items():
        add(f"{scene} ({s.n})", s)
    return [acc, dist]


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
    from gre_agent.evals import read_predictions, score_rows

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
    mode = cast("AdminMode", admin)
    report = score_rows(rows, problems, distance=method, bootstrap=bootstrap, seed=seed, admin=mode)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    console = Console()
    for table in _tables(report):
        console.print(table)
    _print_extras(report, console)


# -- gre eval run ---------------------------------------------------------------------------

FORMATS = ("im2gps3k", "yfcc4k", "osv5m", "greval", "gre30k", "table", "hf")


def load_for_eval(fmt: str, path: Path, images: Path | None, split: str | None) -> Any:
    """A dataset by format name, images from `images` (default: beside the source)."""
    from gre_agent.evals.datasets import LOADERS

    if fmt not in LOADERS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt in ("table", "hf"):
        kwargs: dict[str, Any] = {"images_root": images}
        if fmt == "hf":
            kwargs["split"] = split
        return LOADERS[fmt](path, **kwargs)
    if fmt == "greval":
        return LOADERS[fmt](path, images, split=split)
    return LOADERS[fmt](path, images)


@app.command("run")
def run_cmd(
    dataset: Annotated[Path, typer.Argument(help="The benchmark's file (or folder).")],
    out: Annotated[Path, typer.Option("--out", help="Run folder (created; resumed if it exists).")],
    fmt: Annotated[
        str, typer.Option("--format", help=f"Dataset format: {', '.join(FORMATS)}.")
    ] = "table",
    images: Annotated[
        Path | None, typer.Option("--images", help="Image folder (default: beside DATASET).")
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="greval: urban/natural/landmark; hf: a split.")
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="agent (staged, verified) or single (GRE one-shot).")
    ] = "agent",
    verify: Annotated[str, typer.Option("--verify", help="graph or model.")] = "graph",
    stages: StagesOpt = None,
    backend: Annotated[
        str | None,
        typer.Option("--backend", help="openai, transformers, replay or ocr (no model)."),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="OpenAI-compatible endpoint(s), comma-separated."),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model id or path.")] = None,
    replay: Annotated[
        Path | None, typer.Option("--replay", help="replay backend: the trace to answer from.")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", help="Images in flight.")] = 8,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Only the first N images (of the shard).")
    ] = None,
    shard: Annotated[
        str | None, typer.Option("--shard", help="K/N: this machine's share (1 <= K <= N).")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline/--online", help="Offline tool backends (the default).")
    ] = True,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per image.")] = 600.0,
    exif: Annotated[
        bool, typer.Option("--exif/--no-exif", help="Let the agent read EXIF GPS (leaks!).")
    ] = False,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            help="Leakage guard: Wikipedia pages whose title or URL mention this are dropped "
            "(repeatable, e.g. --exclude flickr --exclude mapillary).",
        ),
    ] = None,
    max_rounds: Annotated[int, typer.Option("--max-rounds", help="Verification rounds.")] = 2,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Per model call.")] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run failed images again.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Run the GRE agent over a benchmark: concurrent, resumable (run again to continue),
    shardable (--shard K/N, then `gre eval merge`). Results: OUT/results.jsonl, one trace
    per image under OUT/traces/, OUT/manifest.json."""
    import asyncio

    from gre_agent.evals._manifest import ManifestError
    from gre_agent.evals._results import ResultsError
    from gre_agent.evals.datasets import DatasetFormatError
    from gre_agent.evals.runner import RunConfig, parse_shard, run_eval
    from gre_agent.evals.scoring import load_results, score_results

    problems = []
    if mode not in ("agent", "single"):
        problems.append(f"--mode must be agent or single, not {mode!r}")
    if verify not in ("graph", "model"):
        problems.append(f"--verify must be graph or model, not {verify!r}")
    if backend not in (None, "openai", "transformers", "replay", "ocr"):
        problems.append(f"--backend must be openai, transformers, replay or ocr, not {backend!r}")
    if concurrency < 1:
        problems.append("--concurrency must be at least 1")
    if timeout <= 0:
        problems.append("--timeout must be positive")
    if limit is not None and limit < 0:
        problems.append("--limit must be 0 or more")
    shard_kn = None
    if shard is not None:
        try:
            shard_kn = parse_shard(shard)
        except ValueError as exc:
            problems.append(str(exc))
    if fmt not in FORMATS:
        problems.append(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    for p in problems:
        err.print(f"[red]error:[/] {p}")
    if problems:
        raise typer.Exit(EXIT_USAGE)
    try:
        ds = load_for_eval(fmt, dataset, images, split)
    except (DatasetFormatError, OSError, ValueError) as exc:
        err.print(f"[red]error:[/] cannot load {dataset} as {fmt}: {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    err.print(ds.report.summary())
    for p in ds.report.problems[:_SHOWN_PROBLEMS]:
        err.print(f"[yellow]not evaluated[/] row {p.row} (id {p.id}): {p.kind}: {p.reason}")
    config = RunConfig(
        mode=mode,  # type: ignore[arg-type]
        verify=verify,  # type: ignore[arg-type]
        stages=stages,
        backend=backend if backend or replay is None else "replay",  # type: ignore[arg-type]
        model=model,
        base_urls=[u.strip() for u in (base_url or "").split(",") if u.strip()],
        replay_path=str(replay) if replay else None,
        offline=offline,
        use_exif=exif,
        exclude_domains=list(exclude or []),
        max_rounds=max_rounds,
        max_tokens=max_tokens,
        timeout_s=timeout,
        concurrency=concurrency,
        limit=limit,
        shard=shard_kn,
        retry_failed=retry_failed,
    )
    info = {
        "format": fmt,
        "path": str(dataset.resolve()),
        "images": str(images.resolve()) if images else None,
        "split": split,
    }
    try:
        summary = asyncio.run(run_eval(ds, out, config, dataset_info=info, progress=not quiet))
    except (ManifestError, ResultsError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    if summary.torn_bytes:
        err.print(f"repaired a partial last line ({summary.torn_bytes} bytes; see *.torn)")
    err.print(
        f"{summary.selected} images selected: {summary.done_before} done before, "
        f"{summary.ran} run now, {summary.failed} failed; {summary.elapsed_s:.1f} s"
    )
    run_score = score_results(load_results(out), bootstrap=0, admin="off")
    keys = list(run_score.acc_km)
    err.print(
        "accuracy (failures as misses): "
        + ", ".join(f"@{k} km {_pct(run_score.acc_km[k])}%" for k in keys)
        + f"; n = {run_score.n}, failed {run_score.n_failed}"
    )


# -- gre eval calibrate / merge / report / compare ---------------------------------------------


@app.command("calibrate")
def calibrate_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A finished `gre eval run` folder.")],
    threshold_km: Annotated[
        float, typer.Option("--threshold-km", help="'Correct' means within this distance.")
    ] = 25.0,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write it (default: RUN_DIR/calibration.json)."),
    ] = None,
) -> None:
    """Fit the agent's confidence to how often it is right; use the file with
    `gre locate --calibration FILE` or `calibration = "FILE"` in gre.toml."""
    from gre_agent.evals._results import ResultsError
    from gre_agent.evals.calibrate import calibrate_run

    try:
        cal = calibrate_run(run_dir, threshold_km)
    except (ResultsError, ValueError, OSError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    path = cal.save(out or run_dir / "calibration.json")
    err.print(
        f"fitted on {cal.n} images (correct = within {threshold_km:g} km): a = {cal.a:.3f}, "
        f"b = {cal.b:.3f}; Brier score {cal.brier_before:.4f} -> {cal.brier_after:.4f}"
    )
    typer.echo(str(path))


# -- gre eval merge / report / compare -------------------------------------------------------


@app.command("merge")
def merge_cmd(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (shards) to merge.")],
    out: Annotated[Path, typer.Option("--out", help="New run folder for the merged run.")],
) -> None:
    """Merge shards run on several machines: rows deduplicated by id, traces copied;
    the runs must share the dataset fingerprint and configuration."""
    from gre_agent.evals._manifest import ManifestError
    from gre_agent.evals._results import ResultsError
    from gre_agent.evals.merge import merge_runs

    try:
        summary = merge_runs(runs, out)
    except (ManifestError, ResultsError, OSError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    err.print(
        f"merged {len(runs)} runs into {out}: {summary.rows} rows, "
        f"{summary.duplicates} duplicate ids dropped"
    )
    if summary.missing_shards:
        err.print(f"[yellow]shards not merged:[/] {', '.join(summary.missing_shards)}")
    if summary.traces_missing:
        err.print(f"[yellow]{summary.traces_missing} traces missing in the inputs[/]")


@app.command("report")
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (gre eval run --out).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default RUN_DIR/report).")
    ] = None,
    distance: Annotated[str, typer.Option("--distance", help="geodesic or haversine.")] = (
        "geodesic"
    ),
    benchmark: Annotated[
        str | None,
        typer.Option(
            "--benchmark",
            help="Published numbers to compare with: im2gps3k, yfcc4k, gws15k, greval, osv5m "
            "(default: from the dataset format).",
        ),
    ] = None,
    tiles: Annotated[
        str,
        typer.Option(
            "--tiles",
            envvar="GRE_MAP_TILES",
            help="Map tile URL template ({z}/{x}/{y}); 'none' (default) draws no background, "
            "so the report needs no network.",
        ),
    ] = "none",
    worst: Annotated[int, typer.Option("--worst", help="Worst cases listed.")] = 20,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Resamples for CIs.")] = 1000,
) -> None:
    """Write RUN_DIR/report/: report.md, report.html, accuracy and error-CDF plots, a
    world map of predictions and errors, worst cases linked to their traces."""
    from gre_agent.evals._manifest import ManifestError
    from gre_agent.evals._results import ResultsError
    from gre_agent.evals.report import write_report

    if distance not in ("geodesic", "haversine"):
        err.print(f"[red]error:[/] --distance must be geodesic or haversine, not {distance!r}")
        raise typer.Exit(EXIT_USAGE)
    method: DistanceMethod = "haversine" if distance == "haversine" else "geodesic"
    try:
        files = write_report(
            run_dir,
            out,
            distance=method,
            benchmark=benchmark,
            tiles=None if tiles.lower() in ("", "none") else tiles,
            worst=worst,
            bootstrap=bootstrap,
        )
    except (ManifestError, ResultsError, OSError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    s = files.score
    err.print(
        f"{s.n} images, {s.n_failed} failed; "
        + ", ".join(f"@{k} km {_pct(v)}%" for k, v in s.acc_km.items())
    )
    typer.echo(str(files.markdown))
    typer.echo(str(files.html))


@app.command("compare")
def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="Run A (e.g. the agent).")],
    run_b: Annotated[Path, typer.Argument(help="Run B (e.g. single-shot).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Also write Markdown here.")] = None,
    distance: Annotated[str, typer.Option("--distance", help="geodesic or haversine.")] = (
        "geodesic"
    ),
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Paired resamples.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
) -> None:
    """Paired comparison of two runs: both accuracy tables, per-image differences, and a
    paired bootstrap interval on each accuracy difference (A - B)."""
    from gre_agent.evals._manifest import ManifestError
    from gre_agent.evals._results import ResultsError
    from gre_agent.evals.compare import compare_runs, comparison_markdown

    if distance not in ("geodesic", "haversine"):
        err.print(f"[red]error:[/] --distance must be geodesic or haversine, not {distance!r}")
        raise typer.Exit(EXIT_USAGE)
    method: DistanceMethod = "haversine" if distance == "haversine" else "geodesic"
    try:
        c = compare_runs(run_a, run_b, distance=method, bootstrap=bootstrap, seed=seed)
    except (ManifestError, ResultsError, OSError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    text = comparison_markdown(c)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    if not c.same_dataset:
        err.print("[yellow]warning:[/] the runs' dataset fingerprints differ")
    typer.echo(c.model_dump_json(indent=2) if as_json else text)
