"""`gre eval merge`: shards run on several machines (or several runs of one
configuration) into one run folder.

The runs must be compatible: the same dataset fingerprint and the same `config` in their
manifests (endpoints, concurrency, limits and timeouts may differ). Rows are deduplicated
by id: an answered row wins over a failed one, otherwise the first run listed wins. Each
kept row's trace is copied into OUT/traces/.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any

from gre_agent.evals._manifest import (
    MANIFEST_VERSION,
    ManifestError,
    incompatibility,
    read_manifest,
    write_manifest,
)
from gre_agent.evals._results import RESULTS_NAME, read_rows, repair_tail, rewrite
from gre_agent.evals.scoring import is_answered


@dataclasses.dataclass
class MergeSummary:
    out: Path
    rows: int
    duplicates: int  # ids found in more than one run
    missing_shards: list[str]  # "K/N" never merged (when the inputs are shards of N)
    traces_missing: int


def merge_runs(run_dirs: list[Path], out: Path) -> MergeSummary:
    run_dirs = [Path(r) for r in run_dirs]
    out = Path(out)
    if not run_dirs:
        raise ManifestError("nothing to merge: name at least one run folder")
    if any(r.resolve() == out.resolve() for r in run_dirs):
        raise ManifestError(f"--out {out} is one of the inputs: merge into a new folder")
    if (out / RESULTS_NAME).exists() and (out / RESULTS_NAME).stat().st_size:
        raise ManifestError(f"{out} already holds results: merge into a new folder")
    manifests = [read_manifest(r) for r in run_dirs]
    first = manifests[0]
    for r, m in zip(run_dirs[1:], manifests[1:], strict=True):
        why = incompatibility(first, m)
        if why:
            raise ManifestError(f"{r} cannot merge with {run_dirs[0]}: {why}")

    kept: dict[str, tuple[dict[str, Any], Path]] = {}
    duplicates = 0
    sources = []
    for r, m in zip(run_dirs, manifests, strict=True):
        repair_tail(r / RESULTS_NAME)
        rows = read_rows(r / RESULTS_NAME)
        sources.append(
            {
                "path": str(r.resolve()),
                "shard": m.get("selection", {}).get("shard"),
                "rows": len(rows),
            }
        )
        for sid, row in rows.items():
            if sid in kept:
                duplicates += 1
                if is_answered(row) and not is_answered(kept[sid][0]):
                    kept[sid] = (row, r)
                continue
            kept[sid] = (row, r)

    out.mkdir(parents=True, exist_ok=True)
    (out / "traces").mkdir(exist_ok=True)
    traces_missing = 0
    for row, src in kept.values():
        trace = row.get("trace")
        if not trace:
            continue
        source = src / trace
        if source.is_file():
            target = out / trace
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        else:
            traces_missing += 1
    rewrite(out / RESULTS_NAME, [row for row, _ in kept.values()])

    shards = [s["shard"] for s in sources if s["shard"]]
    missing: list[str] = []
    if shards and len(shards) == len(sources):
        ns = {int(s.split("/")[1]) for s in shards}
        if len(ns) == 1:
            n = ns.pop()
            missing = [f"{k}/{n}" for k in range(1, n + 1) if f"{k}/{n}" not in shards]
    manifest = {
        "version": MANIFEST_VERSION,
        "kind": "gre-eval-run",
        "dataset": first["dataset"],
        "selection": {"shard": None, "merged_shards": shards, "missing_shards": missing},
        "config": first["config"],
        "runtime": {"merged": [m.get("runtime") for m in manifests]},
        "versions": first.get("versions"),
        "git": first.get("git"),
        "started": min(m.get("started") or time.time() for m in manifests),
        "ended": max(m.get("ended") or 0 for m in manifests) or None,
        "sessions": [s for m in manifests for s in m.get("sessions", [])],
        "merged_from": sources,
        "merged_at": time.time(),
    }
    write_manifest(out, manifest)
    return MergeSummary(
        out=out,
        rows=len(kept),
        duplicates=duplicates,
        missing_shards=missing,
        traces_missing=traces_missing,
    )
