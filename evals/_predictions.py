"""Prediction rows (one JSON object per image) and a reader that never stops on a bad row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gre_agent.core.geo import Latitude, Longitude
from gre_agent.evals.datasets import RowProblem


class PredictionRow(BaseModel):
    """One scored image. Only id and the four coordinates are required.

    Optional agent fields feed the agent statistics: `tool_calls` (a count or the list of
    calls), `cache_hits`, the answer before verification (`pre_verify_lat/lon`), and the
    cost: `model_calls`, `prompt_tokens` (of which `cached_tokens` came from the server's
    prefix cache) and `completion_tokens` (generated).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    pred_lat: Latitude
    pred_lon: Longitude
    gt_lat: Latitude
    gt_lon: Longitude
    scene: str | None = None
    country: str | None = None
    region: str | None = None
    sub_region: str | None = Field(default=None, alias="sub-region")
    city: str | None = None
    tool_calls: int | list[Any] | None = None
    cache_hits: int | None = Field(default=None, ge=0)
    pre_verify_lat: Latitude | None = None
    pre_verify_lon: Longitude | None = None
    model_calls: int | None = Field(default=None, ge=0)
    prompt_tokens: int | None = Field(default=None, ge=0)
    cached_tokens: int | None = Field(default=None, ge=0)
    completion_tokens: int | None = Field(default=None, ge=0)

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, v: Any) -> str:
        if v is None or isinstance(v, bool) or (isinstance(v, str) and not v.strip()):
            raise ValueError("id is missing")
        return str(v)

    @property
    def tool_call_count(self) -> int | None:
        if isinstance(self.tool_calls, list):
            return len(self.tool_calls)
        return self.tool_calls

    @property
    def has_labels(self) -> bool:
        return any((self.country, self.region, self.sub_region, self.city))


_COORDINATES = {"pred_lat", "pred_lon", "gt_lat", "gt_lon", "pre_verify_lat", "pre_verify_lon"}


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "row"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse_prediction_lines(lines) -> tuple[list[PredictionRow], list[RowProblem]]:
    """Rows and problems (bad JSON, missing fields, bad coordinates, duplicate ids)."""
    rows: list[PredictionRow] = []
    problems: list[RowProblem] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(RowProblem(row=number, kind="bad_row", reason=f"not JSON: {exc}"))
            continue
        if not isinstance(data, dict):
            problems.append(RowProblem(row=number, kind="bad_row", reason="not a JSON object"))
            continue
        row_id = None if data.get("id") is None else str(data.get("id"))
        try:
            row = PredictionRow.model_validate(data)
        except ValidationError as exc:
            fields = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
            kind = "bad_coordinates" if fields & _COORDINATES else "bad_row"
            problems.append(RowProblem(row=number, id=row_id, kind=kind, reason=_reason(exc)))
            continue
        if row.id in seen:
            problems.append(
                RowProblem(row=number, id=row.id, kind="duplicate_id", reason="id seen before")
            )
            continue
        seen.add(row.id)
        rows.append(row)
    return rows, problems


def read_predictions(path: Path) -> tuple[list[PredictionRow], list[RowProblem]]:
    """Read a predictions JSON-lines file (see `parse_prediction_lines`)."""
    with Path(path).open(encoding="utf-8") as f:
        return parse_prediction_lines(f)
