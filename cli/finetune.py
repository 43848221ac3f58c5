"""`gre finetune data | sft | dpo | grpo | config`: traces -> datasets -> trained models.

    gre finetune data runs/traces --gt gt.csv --kind agent --out data/agent
    gre finetune config sft > sft.yaml          # every setting, with its help
    gre finetune sft sft.yaml --learning_rate=5e-5 --max_steps=200

Bad input (no traces, unreadable ground truth, an unknown setting) exits 2 with a message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gre_agent.cli._console import Console

# torch, transformers, trl and datasets are imported inside the commands: `gre` starts fast.

app = typer.Typer(help="Fine-tune the model on the agent's trajectories.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
EXIT_USAGE = 2
_EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/] {message}")
    return typer.Exit(EXIT_USAGE)


def _km(value: str) -> float | None:
    if value.strip().lower() in ("none", "off", "inf", ""):
        return None
    try:
        km = float(value)
    except ValueError:
        raise _fail(f"--max-error-km: {value!r} is not a number (or 'none')") from None
    if km < 0:
        raise _fail("--max-error-km must be >= 0")
    return km


@app.command("data")
def data_cmd(
    traces: Annotated[list[Path], typer.Argument(help="Trace files or folders of traces.")],
    out: Annotated[Path, typer.Option("--out", help="Dataset folder to write.")],
    gt: Annotated[
        list[Path] | None,
        typer.Option("--gt", help="Ground truth: a CSV/JSONL table or an eval run folder."),
    ] = None,
    kind: Annotated[str, typer.Option("--kind", help="sft | agent | dpo | grpo")] = "sft",
    max_error_km: Annotated[
        str, typer.Option("--max-error-km", help="sft/agent: keep runs this close; 'none': all.")
    ] = "25",
    exclude: Annotated[
        list[Path] | None,
        typer.Option(
            "--exclude",
            help="Evaluation images to keep out: an image folder, a table, a run folder, "
            "or a list of ids / paths / sha256.",
        ),
    ] = None,
    val_fraction: Annotated[float, typer.Option("--val-fraction", min=0.0, max=0.9)] = 0.1,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    min_locatability: Annotated[
        float | None,
        typer.Option("--min-locatability", min=0.0, max=1.0, help="GeoReasoner's filter."),
    ] = None,
    locatability_model: Annotated[
        Path | None, typer.Option("--locatability-model", help="Trained scorer directory.")
    ] = None,
    min_margin_km: Annotated[float, typer.Option("--min-margin-km", min=0.0)] = 0.0,
    pairs: Annotated[str, typer.Option("--pairs", help="dpo: extremes | all")] = "extremes",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Build a Hugging Face dataset (saved to disk) from agent traces."""
    from gre_agent.agent.finetune.data import KINDS, DataOptions, build_dataset, save_dataset
    from gre_agent.agent.finetune.groundtruth import Exclusions, GroundTruth, GroundTruthError

    if kind not in KINDS:
        raise _fail(f"--kind {kind!r}: one of {', '.join(KINDS)}")
    if pairs not in ("extremes", "all"):
        raise _fail("--pairs: extremes or all")
    try:
        truth = GroundTruth.read(*gt) if gt else None
        exclusions = None
        if exclude:
            exclusions = Exclusions()
            for source in exclude:
                exclusions.add(source)
    except (GroundTruthError, OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    scorer = None
    if min_locatability is not None:
        from gre_agent.agent.locatability import LocatabilityScorer, default_model_dir

        loaded = LocatabilityScorer.load(locatability_model or default_model_dir())

        def scorer(images: list[str]) -> list[float | None]:
            return [r.score for r in loaded.score_many(images)]

    opts = DataOptions(
        kind=kind,  # type: ignore[arg-type]
        max_error_km=_km(max_error_km),
        min_locatability=min_locatability,
        val_fraction=val_fraction,
        seed=seed,
        min_margin_km=min_margin_km,
        pairs=pairs,  # type: ignore[arg-type]
    )
    import datasets

    datasets.disable_progress_bars()
    try:
        ds, report = build_dataset(
            traces, opts, gt=truth, exclusions=exclusions, locatability=scorer
        )
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from None
    save_dataset(ds, out, report, opts)
    summary = report.as_dict()
    if as_json:
        print(json.dumps({"out": str(out), **summary}))
        return
    err.print(
        f"{kind}: {report.train_records} train / {report.validation_records} validation records "
        f"({report.train_images} / {report.validation_images} images) from {report.read} traces "
        f"-> {out}"
    )
    for reason, n in sorted(report.dropped.items()):
        err.print(f"  dropped {n}: {reason}")


def _train(method: str, config: Path, ctx: typer.Context) -> None:
    from gre_agent.agent.finetune.config import CONFIGS, ConfigError, load_config

    try:
        cfg = load_config(CONFIGS[method], config, list(ctx.args))
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    from gre_agent.agent.finetune.train import train

    try:
        result = train(cfg)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise _fail(str(exc)) from None
    kind = "merged model" if result.merged else "adapter"
    err.print(
        f"{method}: {result.steps} steps, last loss {result.train_loss}, "
        f"{result.runtime_s:.1f} s -> {kind} in {result.output_dir}"
    )
    print(json.dumps({k: v for k, v in result.as_dict().items() if k != "log_history"}))


_TRAIN_HELP = (
    "CONFIG is a YAML file (see `gre finetune config {m}`); override any setting with "
    "--key=value after it."
)


@app.command(
    "sft",
    context_settings=_EXTRA,
    help="Supervised fine-tuning (TRL SFTTrainer). " + _TRAIN_HELP.format(m="sft"),
)
def sft_cmd(ctx: typer.Context, config: Annotated[Path, typer.Argument()]) -> None:
    _train("sft", config, ctx)


@app.command(
    "dpo",
    context_settings=_EXTRA,
    help="Preference tuning (TRL DPOTrainer). " + _TRAIN_HELP.format(m="dpo"),
)
def dpo_cmd(ctx: typer.Context, config: Annotated[Path, typer.Argument()]) -> None:
    _train("dpo", config, ctx)


@app.command(
    "grpo",
    context_settings=_EXTRA,
    help="GRPO with GRE's rewards (TRL GRPOTrainer). " + _TRAIN_HELP.format(m="grpo"),
)
def grpo_cmd(ctx: typer.Context, config: Annotated[Path, typer.Argument()]) -> None:
    _train("grpo", config, ctx)


@app.command("config")
def config_cmd(method: Annotated[str, typer.Argument(help="sft | dpo | grpo")]) -> None:
    """Print every setting of a method with its default and help, as YAML."""
    from gre_agent.agent.finetune.config import CONFIGS, config_template

    if method not in CONFIGS:
        raise _fail(f"{method!r}: one of {', '.join(CONFIGS)}")
    print(config_template(CONFIGS[method]), end="")
