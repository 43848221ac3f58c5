"""Which trajectories may train a model: ground truth, leakage, success, locatability,
duplicates; then a train / validation split by image (never by record, so no photo is on
both sides)."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gre_agent.agent.finetune.groundtruth import Exclusions, GroundTruth
from gre_agent.agent.finetune.traces import Trajectory
from gre_agent.core.geo import geodesic_km

__all__ = ["FilterReport", "attach_ground_truth", "dedupe", "split_by_image"]


@dataclass
class FilterReport:
    """How many trajectories each step kept and dropped, and why."""

    read: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    kept: int = 0
    train_records: int = 0
    validation_records: int = 0
    train_images: int = 0
    validation_images: int = 0
    problems: list[str] = field(default_factory=list)

    def drop(self, reason: str, n: int = 1) -> None:
        if n:
            self.dropped[reason] += n

    def as_dict(self) -> dict[str, object]:
        return {
            "read": self.read,
            "kept": self.kept,
            "dropped": dict(self.dropped),
            "train": {"records": self.train_records, "images": self.train_images},
            "validation": {"records": self.validation_records, "images": self.validation_images},
            "problems": self.problems[:50],
        }


def attach_ground_truth(trajs: Sequence[Trajectory], gt: GroundTruth | None) -> None:
    """Set each trajectory's `gt` and `error_km` (None where unknown or nothing predicted)."""
    for t in trajs:
        t.gt = gt.lookup(t.image, t.image_sha256) if gt is not None else None
        point = t.point
        if t.gt is not None and point is not None:
            t.error_km = geodesic_km(point[0], point[1], t.gt[0], t.gt[1])


def exclude(
    trajs: list[Trajectory], exclusions: Exclusions | None, report: FilterReport
) -> list[Trajectory]:
    if exclusions is None:
        return trajs
    kept = [t for t in trajs if not exclusions.excludes(t.image, t.image_sha256)]
    report.drop("evaluation image (leakage)", len(trajs) - len(kept))
    return kept


def by_locatability(
    trajs: list[Trajectory],
    threshold: float | None,
    score: Callable[[list[str]], list[float | None]] | None,
    report: FilterReport,
) -> list[Trajectory]:
    """GeoReasoner's filter: keep images whose locatability score is >= threshold."""
    if threshold is None:
        return trajs
    if score is None:
        raise ValueError("a locatability threshold needs a scorer (--locatability-model)")
    scores = score([t.image for t in trajs])
    kept = []
    for t, s in zip(trajs, scores, strict=True):
        t.locatability = s
        if s is None:
            report.drop("image unreadable for the locatability scorer")
        elif s < threshold:
            report.drop(f"locatability < {threshold:g}")
        else:
            kept.append(t)
    return kept


def _content_key(t: Trajectory) -> str:
    said = [
        [m.get("content"), m.get("tool_calls")]
        for conv in t.conversations
        for m in conv
        if m.get("role") == "assistant"
    ]
    blob = json.dumps([t.image_id, said, t.point], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def dedupe(trajs: list[Trajectory], report: FilterReport) -> list[Trajectory]:
    """Drop repeats: the same image with the same model outputs (a re-run, a copied trace)."""
    seen: set[str] = set()
    out = []
    for t in trajs:
        key = _content_key(t)
        if key in seen:
            report.drop("duplicate trajectory")
            continue
        seen.add(key)
        out.append(t)
    return out


def successful(
    trajs: list[Trajectory], max_error_km: float | None, report: FilterReport
) -> list[Trajectory]:
    """Keep runs that ended within `max_error_km` of the ground truth (None: keep all)."""
    if max_error_km is None:
        return trajs
    out = []
    for t in trajs:
        if t.error_km is None:
            report.drop("no ground truth or no prediction" if t.gt is None else "no prediction")
        elif not t.error_km <= max_error_km:
            report.drop(f"error > {max_error_km:g} km")
        else:
            out.append(t)
    return out


def split_by_image(
    image_ids: Sequence[str], val_fraction: float, seed: int = 0
) -> tuple[set[str], set[str]]:
    """(train ids, validation ids): a seeded shuffle of the distinct images.

    >>> train, val = split_by_image(["a", "b", "c", "d", "a"], 0.25, seed=1)
    >>> len(train), len(val), train.isdisjoint(val)
    (3, 1, True)
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError("val_fraction must be in [0, 1)")
    ids = sorted(set(image_ids))
    random.Random(seed).shuffle(ids)
    n_val = math.ceil(val_fraction * len(ids)) if val_fraction > 0 and len(ids) > 1 else 0
    return set(ids[n_val:]), set(ids[:n_val])
