"""Traces -> a Hugging Face dataset on disk (`gre finetune data`).

    opts = DataOptions(kind="agent")
    ds, report = build_dataset(["runs/traces"], opts, gt=GroundTruth.read("gt.csv"))
    save_dataset(ds, "data/agent", report, opts)

Steps, each counted in the report: read traces; attach ground truth; drop evaluation
images (leakage); drop duplicates; keep successful runs (sft, agent); keep locatable
images (optional); build records; split train / validation by image. Images are embedded
in the dataset (bytes), so it trains on another machine without the original files.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from gre_agent.agent.finetune import filters
from gre_agent.agent.finetune.groundtruth import Exclusions, GroundTruth
from gre_agent.agent.finetune.records import agent_record, dpo_records, grpo_record, sft_record
from gre_agent.agent.finetune.traces import Trajectory, load_trajectories

__all__ = ["KINDS", "DataOptions", "build_dataset", "build_records", "load_split", "save_dataset"]

Kind = Literal["sft", "agent", "dpo", "grpo"]
KINDS: tuple[str, ...] = ("sft", "agent", "dpo", "grpo")
REPORT_FILE = "gre_finetune_data.json"


@dataclass
class DataOptions:
    kind: Kind = "sft"
    max_error_km: float | None = 25.0
    """sft / agent: keep runs within this error (GRE's city level); None keeps all runs."""
    min_locatability: float | None = None
    """Keep images scoring at least this (GeoReasoner's filter); needs a scorer."""
    val_fraction: float = 0.1
    seed: int = 0
    min_margin_km: float = 0.0
    """dpo: the rejected run's error must exceed the chosen one's by more than this."""
    pairs: Literal["extremes", "all"] = "extremes"
    embed_images: bool = True


def _records(kind: str, trajs: list[Trajectory], opts: DataOptions) -> list[dict[str, Any]]:
    if kind == "dpo":
        groups: dict[str, list[Trajectory]] = defaultdict(list)
        for t in trajs:
            groups[t.image_id].append(t)
        return [r for g in groups.values() for r in dpo_records(g, opts.min_margin_km, opts.pairs)]
    if kind == "grpo":  # one prompt per image
        seen, out = set(), []
        for t in trajs:
            if t.image_id not in seen and (r := grpo_record(t)) is not None:
                seen.add(t.image_id)
                out.append(r)
        return out
    build = sft_record if kind == "sft" else agent_record
    return [r for t in trajs if (r := build(t)) is not None]


def build_records(
    traces: Iterable[str | Path],
    opts: DataOptions,
    *,
    gt: GroundTruth | None = None,
    exclusions: Exclusions | None = None,
    locatability: Callable[[list[str]], list[float | None]] | None = None,
) -> tuple[dict[str, list[dict[str, Any]]], filters.FilterReport]:
    """{"train": [...], "validation": [...]} records and the report of what was dropped."""
    if opts.kind not in KINDS:
        raise ValueError(f"unknown kind {opts.kind!r}: one of {', '.join(KINDS)}")
    trajs, problems = load_trajectories(traces)
    report = filters.FilterReport(read=len(trajs) + len(problems))
    report.problems = [f"{p.path}: {p.reason}" for p in problems]
    report.drop("unreadable trace", len(problems))
    filters.attach_ground_truth(trajs, gt)
    if opts.kind in ("dpo", "grpo") or opts.max_error_km is not None:
        missing = [t for t in trajs if t.gt is None]
        if missing and gt is None:
            hint = "" if opts.kind in ("dpo", "grpo") else " (or --max-error-km none)"
            raise ValueError(f"{opts.kind} data needs ground truth: pass --gt{hint}")
        trajs = [t for t in trajs if t.gt is not None]
        report.drop("no ground truth for the image", len(missing))
    trajs = filters.exclude(trajs, exclusions, report)
    trajs = filters.dedupe(trajs, report)
    if opts.kind in ("sft", "agent"):
        trajs = filters.successful(trajs, opts.max_error_km, report)
    trajs = filters.by_locatability(trajs, opts.min_locatability, locatability, report)
    report.kept = len(trajs)
    records = []
    for r in _records(opts.kind, trajs, opts):
        missing = [i for i in r.get("images", []) if not Path(i).is_file()]
        if missing:
            report.drop("image file missing")
            report.problems.append(f"{r.get('trace') or r['image_id']}: no image at {missing[0]}")
        else:
            records.append(r)
    train_ids, val_ids = filters.split_by_image(
        [r["image_id"] for r in records], opts.val_fraction, opts.seed
    )
    split = {
        "train": [r for r in records if r["image_id"] in train_ids],
        "validation": [r for r in records if r["image_id"] in val_ids],
    }
    report.train_records, report.validation_records = len(split["train"]), len(split["validation"])
    report.train_images, report.validation_images = len(train_ids), len(val_ids)
    return split, report


def _features(records: list[dict[str, Any]], embed: bool):
    from datasets import Dataset, Image, List

    if embed:  # bytes in the dataset: it trains on another machine without the files
        records = [
            {
                **r,
                "images": [
                    {"bytes": Path(i).read_bytes(), "path": Path(i).name} for i in r["images"]
                ],
            }
            for r in records
        ]
    ds = Dataset.from_list(records)
    return ds.cast_column("images", List(Image())) if "images" in ds.column_names else ds


def build_dataset(
    traces: Iterable[str | Path],
    opts: DataOptions,
    *,
    gt: GroundTruth | None = None,
    exclusions: Exclusions | None = None,
    locatability: Callable[[list[str]], list[float | None]] | None = None,
):
    """A `datasets.DatasetDict` (train, and validation when it has records) and the report."""
    from datasets import DatasetDict

    split, report = build_records(
        traces, opts, gt=gt, exclusions=exclusions, locatability=locatability
    )
    if not split["train"]:
        raise ValueError(
            "no training records left after filtering: "
            + json.dumps(report.as_dict()["dropped"] or {"read": report.read})
        )
    parts = {k: _features(v, opts.embed_images) for k, v in split.items() if v}
    return DatasetDict(parts), report


def save_dataset(ds: Any, out: str | Path, report: filters.FilterReport, opts: DataOptions) -> Path:
    out = Path(out)
    ds.save_to_disk(str(out))
    meta = {"options": asdict(opts), "report": report.as_dict()}
    (out / REPORT_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return out


def load_split(path: str | Path, split: str = "train"):
    """One split of a dataset written by `save_dataset` (or any `save_to_disk` folder)."""
    from datasets import DatasetDict, load_from_disk

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no dataset at {path} (write one with `gre finetune data`)")
    ds = load_from_disk(str(path))
    if isinstance(ds, DatasetDict):
        if split not in ds:
            raise KeyError(f"{path} has no {split!r} split (has {', '.join(ds)})")
        return ds[split]
    return ds
