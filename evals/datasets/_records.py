"""Reading JSON records: JSON lines (a bad line is that row's problem) or a JSON file
holding a list (or an object with one list of records, e.g. {"data": [...]})."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gre_agent.evals.datasets._model import DatasetFormatError

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


class BadRecord:
    """Stands in for a record that could not be parsed; loaders report it as a bad row."""

    def __init__(self, reason: str):
        self.reason = reason


def _whole_file(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(f"{path}: not valid JSON ({exc})") from exc
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    raise DatasetFormatError(f"{path}: expected a list of records (or an object holding one)")


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | BadRecord]]:
    """(1-based row or line number, record) pairs; unparsable rows come as BadRecord."""
    path = Path(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8-sig") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, BadRecord(f"line {number} is not JSON: {exc}")
                    continue
                yield number, record if isinstance(record, dict) else BadRecord("not a JSON object")
        return
    for number, record in enumerate(_whole_file(path), start=1):
        yield number, record if isinstance(record, dict) else BadRecord("not a JSON object")


def record_files(path: Path) -> list[Path]:
    """The JSON / JSON-lines files of a path: itself, or those directly in the folder."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in JSON_SUFFIXES)
        if not files:
            raise DatasetFormatError(f"{path}: no .json or .jsonl files in this folder")
        return files
    if not path.exists():
        raise DatasetFormatError(f"{path} does not exist")
    return [path]


def require(record: dict[str, Any] | BadRecord) -> dict[str, Any]:
    """The record, or the BadRecord's reason raised as that row's error."""
    if isinstance(record, BadRecord):
        raise ValueError(record.reason)
    return record


def images_root(path: Path, given: Path | None) -> Path:
    """Where relative image paths start: `given`, else the records' folder."""
    if given is not None:
        return Path(given)
    path = Path(path)
    return path if path.is_dir() else path.parent
