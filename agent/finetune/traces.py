"""Agent traces read back as trajectories: the image, the conversations, the prediction.

A trace (core/trace.py) stores each model call's request (`messages`, `tools`) and
its completion. One run is one conversation that grows stage by stage, so a trajectory's
conversations are the calls' requests plus their answers, keeping only the longest: a
call whose conversation is a prefix of a later one adds nothing. Traces written before
requests were stored cannot be turned into conversations: they are reported, not guessed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gre_agent.core.prediction import Prediction
from gre_agent.core.trace import CompletionRecord, TraceError, load_trace

NOT_TRACES = {"results.jsonl", "predictions.jsonl"}

__all__ = ["TraceProblem", "Trajectory", "assistant_turn", "find_traces", "load_trajectories"]


@dataclass
class Trajectory:
    """One agent run on one image, as fine-tuning sees it."""

    path: Path
    image: str
    image_sha256: str | None
    mode: str
    conversations: list[list[dict[str, Any]]]
    """Each a list of Message dicts (the final assistant turn included); usually one."""
    tools: list[dict[str, Any]] | None
    """Tool definitions offered in the run (model-driven verification), else None."""
    stage_texts: dict[str, str]
    """Stage -> the model's text for it (the last call of that stage)."""
    prediction: Prediction | None
    tool_calls: int = 0
    """As `core.trace.Trace` counts them (the reverse geocode naming the answer included)."""
    error_km: float | None = None
    gt: tuple[float, float] | None = None
    locatability: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def point(self) -> tuple[float, float] | None:
        p = self.prediction
        if p is None or p.lat is None or p.lon is None or p.status == "failed":
            return None
        return float(p.lat), float(p.lon)

    @property
    def image_id(self) -> str:
        """The key a split and a deduplication go by: the pixels' file hash, else the path."""
        return self.image_sha256 or str(Path(self.image).resolve())


@dataclass(frozen=True)
class TraceProblem:
    path: str
    reason: str


def find_traces(paths: Iterable[str | Path]) -> list[Path]:
    """Trace files: the files given, and the `*.jsonl` files under the folders given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            # an eval run folder also holds results.jsonl: only traces are wanted here
            out.extend(q for q in sorted(p.rglob("*.jsonl")) if q.name not in NOT_TRACES)
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(f"no trace file or folder at {p}")
    return out


def assistant_turn(completion: CompletionRecord, stage: str = "") -> dict[str, Any]:
    """The assistant message a completion became in the conversation (as the graph builds it)."""
    calls = completion.tool_calls
    if calls and stage == "verify_tools":  # model-driven verification: text + structured calls
        return {"role": "assistant", "content": completion.text, "tool_calls": calls}
    return {"role": "assistant", "content": completion.raw_text or completion.text}


def _canon(message: dict[str, Any]) -> str:
    keep = {k: message.get(k) for k in ("role", "content", "tool_call_id")}
    keep["tool_calls"] = [
        [c.get("name"), c.get("arguments")] for c in message.get("tool_calls") or []
    ]
    return json.dumps(keep, sort_keys=True, ensure_ascii=False, default=str)


def _maximal(convs: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    keys = [[_canon(m) for m in c] for c in convs]
    out = []
    for i, conv in enumerate(convs):
        n = len(keys[i])
        covered = any(
            j != i and keys[j][:n] == keys[i] and (len(keys[j]) > n or j > i)
            for j in range(len(convs))
        )
        if not covered:
            out.append(conv)
    return out


def _trajectory(path: Path) -> Trajectory:
    trace = load_trace(path)
    calls = trace.model_calls
    if calls and any(e.messages is None for e in calls):
        raise TraceError(f"{path}: its model calls do not store their requests (an older trace)")
    convs = [[*(e.messages or []), assistant_turn(e.completion, e.stage)] for e in calls]
    tools = next((e.tools for e in reversed(calls) if e.tools), None)
    stage_texts = {e.stage: e.completion.text for e in calls}
    prediction = trace.prediction
    head = trace.header
    config = head.config if head else {}
    return Trajectory(
        path=path,
        image=head.image if head else "",
        image_sha256=head.image_sha256 if head else None,
        mode=str(config.get("mode") or (prediction.mode if prediction else None) or "agent"),
        conversations=_maximal(convs),
        tools=tools,
        stage_texts=stage_texts,
        prediction=prediction,
        tool_calls=trace.counts().tool_calls,
    )


def load_trajectories(
    paths: Iterable[str | Path],
) -> tuple[list[Trajectory], list[TraceProblem]]:
    """Read every trace; unreadable ones are listed with the reason, never dropped silently."""
    good: list[Trajectory] = []
    bad: list[TraceProblem] = []
    for path in find_traces(paths):
        try:
            good.append(_trajectory(path))
        except (TraceError, ValueError, KeyError, TypeError, OSError) as exc:
            bad.append(TraceProblem(str(path), str(exc)))
    return good, bad
