"""`gre eval compare RUN_A RUN_B`: agent versus single-shot, or two models, image by image.

Paired on the images both runs attempted (by id). Failures count as misses (an infinite
error), as in the reports. Differences are A minus B; the interval is a paired
percentile bootstrap: each resample draws image ids and scores both runs on the same
draw, so the noise both runs share (hard images) cancels.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from gre_agent.evals._bootstrap import Interval
from gre_agent.evals._manifest import read_manifest
from gre_agent.evals.metrics import THRESHOLDS_KM, DistanceMethod
from gre_agent.evals.scoring import RunScore, load_results, row_distances, score_results

KEYS = [f"{t:g}" for t in THRESHOLDS_KM]


class AccuracyDiff(BaseModel):
    a: float
    b: float
    diff: float  # a - b
    ci: Interval


class Comparison(BaseModel):
    run_a: str
    run_b: str
    label_a: str
    label_b: str
    n_paired: int
    only_a: int
    only_b: int
    distance: DistanceMethod
    acc_km: dict[str, AccuracyDiff]
    median_km_a: float | None
    median_km_b: float | None
    a_closer: int  # paired images where A's error is smaller
    b_closer: int
    ties: int
    median_error_diff_km: float | None  # median over images of d_a - d_b (both answered)
    bootstrap: int
    level: float
    score_a: RunScore  # each run on all its images
    score_b: RunScore
    same_dataset: bool


def paired_bootstrap(
    hits_a: np.ndarray, hits_b: np.ndarray, resamples: int, level: float, seed: int
) -> Interval:
    """Percentile interval of mean(hits_a) - mean(hits_b) over paired resamples."""
    diff = hits_a.astype(np.float64) - hits_b.astype(np.float64)
    n = diff.size
    if n == 0 or resamples <= 0:
        return Interval(low=float("nan"), high=float("nan"))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, resamples, chunk):
        k = min(chunk, resamples - start)
        idx = rng.integers(0, n, size=(k, n))
        means[start : start + k] = diff[idx].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return Interval(low=float(low), high=float(high))


def _label(manifest: dict, fallback: str) -> str:
    c = manifest.get("config", {})
    return f"{c.get('model') or fallback} ({c.get('mode') or '?'})"


def _median(d: np.ndarray) -> float | None:
    if not d.size:
        return None
    m = float(np.median(d))
    return m if np.isfinite(m) else None


def compare_runs(
    run_a,
    run_b,
    *,
    distance: DistanceMethod = "geodesic",
    bootstrap: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Comparison:
    ma, mb = read_manifest(run_a), read_manifest(run_b)
    rows_a = {str(r["id"]): r for r in load_results(run_a)}
    rows_b = {str(r["id"]): r for r in load_results(run_b)}
    ids = sorted(set(rows_a) & set(rows_b))
    da = row_distances([rows_a[i] for i in ids], distance)
    db = row_distances([rows_b[i] for i in ids], distance)
    acc = {}
    for j, t in enumerate(THRESHOLDS_KM):
        ha, hb = da <= t, db <= t
        acc[KEYS[j]] = AccuracyDiff(
            a=float(ha.mean()) if ids else float("nan"),
            b=float(hb.mean()) if ids else float("nan"),
            diff=float(ha.mean() - hb.mean()) if ids else float("nan"),
            ci=paired_bootstrap(ha, hb, bootstrap, level, seed + j),
        )
    both = np.isfinite(da) & np.isfinite(db)
    return Comparison(
        run_a=str(run_a),
        run_b=str(run_b),
        label_a=_label(ma, "A"),
        label_b=_label(mb, "B"),
        n_paired=len(ids),
        only_a=len(set(rows_a) - set(rows_b)),
        only_b=len(set(rows_b) - set(rows_a)),
        distance=distance,
        acc_km=acc,
        median_km_a=_median(da),
        median_km_b=_median(db),
        a_closer=int(np.count_nonzero(da < db)),
        b_closer=int(np.count_nonzero(db < da)),
        ties=int(np.count_nonzero(da == db)),
        median_error_diff_km=float(np.median(da[both] - db[both])) if both.any() else None,
        bootstrap=bootstrap,
        level=level,
        score_a=score_results(list(rows_a.values()), distance=distance, bootstrap=0),
        score_b=score_results(list(rows_b.values()), distance=distance, bootstrap=0),
        same_dataset=ma.get("dataset", {}).get("fingerprint")
        == mb.get("dataset", {}).get("fingerprint"),
    )


def comparison_markdown(c: Comparison) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None or np.isnan(x) else f"{100 * x:.2f}"

    def km(x: float | None) -> str:
        return "-" if x is None else f"{x:,.1f}"

    lines = [
        f"# {c.label_a} (A) versus {c.label_b} (B)",
        "",
        f"A: `{c.run_a}`; B: `{c.run_b}`. Paired on {c.n_paired} images"
        + (
            f" ({c.only_a} only in A, {c.only_b} only in B, left out)"
            if c.only_a or c.only_b
            else ""
        )
        + ("" if c.same_dataset else "; **the runs' dataset fingerprints differ**")
        + ".",
        "",
        f"| threshold | A % | B % | A − B (points) | {100 * c.level:g}% paired bootstrap CI |",
        "| --- | --- | --- | --- | --- |",
    ]
    for k, v in c.acc_km.items():
        lines.append(
            f"| @{k} km | {pct(v.a)} | {pct(v.b)} | {100 * v.diff:+.2f} | "
            f"{100 * v.ci.low:+.2f} to {100 * v.ci.high:+.2f} |"
        )
    lines += [
        f"| median km | {km(c.median_km_a)} | {km(c.median_km_b)} | | |",
        "",
        f"Per image: A closer on {c.a_closer}, B closer on {c.b_closer}, equal on {c.ties}; "
        f"median of (error A − error B) over images both answered: "
        f"{km(c.median_error_diff_km)} km. Failures count as misses (infinite error); "
        f"{c.bootstrap} resamples.",
        "",
        "## Each run on all its images",
        "",
        "| run | n | failed | "
        + " | ".join(f"@{k} km %" for k in KEYS)
        + " | median km | model calls / image | prompt tokens / image | generated tokens / image |",
        "| --- | --- | --- |" + " --- |" * (len(KEYS) + 4),
    ]
    for name, s in (("A " + c.label_a, c.score_a), ("B " + c.label_b, c.score_b)):
        cost = s.answered.agent.cost if s.answered.agent else None
        spent = (
            f"{cost.model_calls:.2f} | {cost.prompt_tokens:,.0f} | {cost.completion_tokens:,.0f}"
            if cost
            else "- | - | -"
        )
        lines.append(
            f"| {name} | {s.n} | {s.n_failed} | "
            + " | ".join(pct(s.acc_km.get(k)) for k in KEYS)
            + f" | {km(s.median_km)} | {spent} |"
        )
    return "\n".join(lines) + "\n"
