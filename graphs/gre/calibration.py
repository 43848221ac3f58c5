"""Calibrated confidence: Platt scaling fitted on an evaluation run, applied by the agent.

The agent's raw confidence maps evidence log-odds to [0, 1] with hand-set weights; it
ranks answers well but is not a frequency. `gre eval calibrate RUN_DIR` fits
P(correct within T km) = sigmoid(a * logit(raw) + b) on a run's results and writes a small
JSON file; `--calibration FILE` (or `calibration` in gre.toml) makes the agent apply it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from gre_agent.graphs.gre.evidence import calibrate, logit, sigmoid


class Calibration(BaseModel):
    a: float = 1.0
    b: float = 0.0
    threshold_km: float = Field(25.0, description="What 'correct' meant when it was fitted.")
    n: int = Field(0, description="Images it was fitted on.")
    source: str = Field("", description="The run it was fitted on.")
    brier_before: float | None = None
    brier_after: float | None = None

    def apply(self, raw: float) -> float:
        if (self.a, self.b) == (1.0, 0.0):
            return raw  # identity, without the round trip through logit
        return sigmoid(self.a * logit(raw) + self.b)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path


IDENTITY = Calibration()


def fit(
    raw: list[float], correct: list[bool], threshold_km: float, source: str = ""
) -> Calibration:
    """Fit on (raw confidence, correct within threshold) pairs; Brier scores before and after."""
    a, b = calibrate(raw, correct)
    cal = Calibration(a=a, b=b, threshold_km=threshold_km, n=len(raw), source=source)
    y = np.array(correct, dtype=float)
    if len(raw):
        cal.brier_before = float(np.mean((np.array(raw) - y) ** 2))
        cal.brier_after = float(np.mean((np.array([cal.apply(r) for r in raw]) - y) ** 2))
    return cal


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> Calibration:
    try:
        return Calibration.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a calibration file: {exc}") from exc


def load(path: str | Path | None) -> Calibration:
    """The calibration in `path`; identity when there is none."""
    if not path:
        return IDENTITY
    p = Path(path).expanduser()
    return _load(str(p.resolve()), p.stat().st_mtime_ns)
