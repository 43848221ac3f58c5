"""`gre locatability [score] IMAGE...` and `gre locatability train PAIRS`.

`score` is the default command: `gre locatability a.jpg b.jpg` scores two images (an image
file literally named `train` or `score` needs the explicit `gre locatability score train`).
Unreadable images get an error line and the exit status 1; the others are still scored.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from gre_agent.cli._console import Console

# gre_agent.agent.locatability (torch, transformers) is imported inside the commands, so
# that `gre` starts fast for every other sub-command.

EXIT_FAILED = 1
EXIT_USAGE = 2


class _DefaultScore(TyperGroup):
    """Routes arguments that do not name a sub-command to `score`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click Context
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["score", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultScore,
    help=(
        "Score how locatable images are (GeoReasoner's CLIP locatability network). "
        "`gre locatability IMAGE...` is short for `gre locatability score IMAGE...`."
    ),
    no_args_is_help=True,
)
err = Console(stderr=True, soft_wrap=True)  # paths in error lines stay whole


@app.command("score")
def score(
    images: Annotated[list[Path], typer.Argument(help="Image files to score.")],
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="Trained scorer directory (default: $GRE_HOME/models/locatability).",
            envvar="GRE_LOCATABILITY_MODEL",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", min=0.0, max=1.0, help="Mark images kept at score >= T."),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:1 ...")] = "auto",
) -> None:
    """Print a locatability score in [0, 1] (and the agent's effort) per image."""
    from gre_agent.agent.locatability import (
        LocatabilityError,
        LocatabilityScorer,
        default_model_dir,
        effort_for,
    )

    directory = model if model is not None else default_model_dir()
    try:
        scorer = LocatabilityScorer.load(directory, device=device)
    except LocatabilityError as exc:
        err.print(f"[red]error:[/] {exc}")
        if model is None:
            err.print("train one with `gre locatability train PAIRS.csv`, or pass --model DIR")
        raise typer.Exit(EXIT_USAGE) from exc
    results = scorer.score_many([str(p) for p in images], batch_size=batch_size)
    rows = []
    for r in results:
        row: dict[str, object] = {"image": r.source}
        if r.score is None:
            row["error"] = r.error
        else:
            row["score"] = round(r.score, 4)
            row["effort"] = str(effort_for(r.score).level)
            if threshold is not None:
                row["kept"] = r.score >= threshold
        rows.append(row)
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        columns = ["image", "score", "effort"] + (["kept"] if threshold is not None else [])
        table = Table(*columns)
        for row in rows:
            if "error" in row:
                continue
            cells = [str(row["image"]), f"{row['score']:.3f}", str(row["effort"])]
            if threshold is not None:
                cells.append("yes" if row["kept"] else "no")
            table.add_row(*cells)
        Console().print(table)
    failed = [row for row in rows if "error" in row]
    for row in failed:
        err.print(f"[red]error:[/] {row['image']}: {row['error']}")
    if failed:
        raise typer.Exit(EXIT_FAILED)


@app.command("train")
def train(
    pairs: Annotated[
        Path, typer.Argument(help="CSV or JSON lines of (image, score) pairs, scores in [0, 1].")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to save (default: $GRE_HOME/models/locatability)."),
    ] = None,
    encoder: Annotated[
        str | None,
        typer.Option(
            "--encoder",
            help="CLIP model id or local path (default: openai/clip-vit-large-patch14).",
        ),
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 100,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
    lr: Annotated[float, typer.Option("--lr", min=0.0)] = 1e-3,
    val_fraction: Annotated[float, typer.Option("--val-fraction", min=0.0, max=0.9)] = 0.2,
    patience: Annotated[int, typer.Option("--patience", min=1)] = 8,
    train_encoder: Annotated[
        bool, typer.Option("--train-encoder", help="Fine-tune the CLIP encoder too.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    device: Annotated[str, typer.Option("--device")] = "auto",
) -> None:
    """Train the locatability head on (image, score) pairs and save it."""
    from gre_agent.agent.locatability import (
        DEFAULT_ENCODER,
        LocatabilityError,
        LocatabilityScorer,
        TrainConfig,
        default_model_dir,
        read_pairs,
    )

    target = out if out is not None else default_model_dir()
    try:
        items = read_pairs(pairs)
        scorer = LocatabilityScorer.from_encoder(
            encoder or DEFAULT_ENCODER, device=device, seed=seed
        )
        config = TrainConfig(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            val_fraction=val_fraction,
            patience=patience,
            train_encoder=train_encoder,
            seed=seed,
        )
        report = scorer.fit([p for p, _ in items], [s for _, s in items], config)
    except LocatabilityError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    scorer.save(target)
    for source, reason in report.skipped:
        err.print(f"[yellow]skipped:[/] {source}: {reason}")
    summary = {
        "out": str(target),
        "n_train": report.n_train,
        "n_val": report.n_val,
        "skipped": len(report.skipped),
        "epochs_run": report.epochs_run,
        "best_epoch": report.best_epoch,
        "first_train_loss": round(report.train_loss[0], 4),
        "final_train_loss": round(report.train_loss[-1], 4),
        "best_val_loss": None if report.best_val_loss is None else round(report.best_val_loss, 4),
        "val_mae": None if report.val_mae is None else round(report.val_mae, 4),
        "stopped_early": report.stopped_early,
        "seconds": round(report.seconds, 2),
    }
    sys.stdout.write(json.dumps(summary) + "\n")
