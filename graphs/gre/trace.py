"""Traces: one versioned JSON-lines file per image, the unit evals and fine-tuning consume.

Line 1 is a header: {"type": "trace", "version": 1, "image", "image_sha256", "config",
"started"}. Then the run's events in order:
- "model_call": request_hash, completion (text, tool_calls, usage, latency_s, ...), stage;
  the same record the replay backend answers from (agent/backends/_replay.py); plus
  messages (the request: Message dicts, image parts as paths) and tools (when offered),
  which fine-tuning turns back into conversations (agent/finetune/);
- "model_error": stage, kind, message;
- "stage": stage, parsed (the stage's pydantic model as JSON);
- "tool_call": round, claim, tool, backend, args, result | error, cached, latency_ms;
- "repair" / "fallback": how unparseable output was handled;
- "decision": round, decision (commit | refine), reason;
- "prediction": the committed Prediction;
- "error": a run that failed before committing (kind, message).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

TRACE_VERSION = 1


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def header(image: str, config: dict[str, Any]) -> dict[str, Any]:
    try:
        digest = file_sha256(image)
    except OSError:
        digest = None
    return {
        "type": "trace",
        "version": TRACE_VERSION,
        "image": str(image),
        "image_sha256": digest,
        "config": config,
        "started": time.time(),
    }


def write_trace(path: str | Path, head: dict[str, Any], events: Iterable[dict[str, Any]]) -> Path:
    """Write atomically (temp file, then rename): a reader never sees half a trace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for event in (head, *events):
            fh.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)
    return path


class TraceError(ValueError):
    """A file that is not a gre-agent trace, or of an unknown version."""


def read_trace(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = [
        json.loads(line)
        for line in Path(path).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if not lines or lines[0].get("type") != "trace":
        raise TraceError(f"{path} is not a gre-agent trace (no header line)")
    if lines[0].get("version") != TRACE_VERSION:
        raise TraceError(
            f"{path} has trace version {lines[0].get('version')}, expected {TRACE_VERSION}"
        )
    return lines[0], lines[1:]
