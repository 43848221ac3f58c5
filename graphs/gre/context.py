"""Per-run settings of the GRE agent graph (LangGraph's `context_schema`).

Plain fields can come from JSON (LangGraph Server, `langgraph dev`); `backend_obj` and
`registry` let Python callers inject a live backend (a scripted model in tests, a shared
vLLM client in evaluations) and a tool registry. Those two are left out of the JSON schema
(`SkipJsonSchema`: langgraph builds the schema with pydantic's TypeAdapter), so a client
of the server is never offered fields it cannot send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic.json_schema import SkipJsonSchema


@dataclass(kw_only=True)
class Context:
    mode: Literal["agent", "single"] = "agent"
    """agent: staged reasoning with verification; single: GRE's one-shot prompt, no tools."""

    stages: Literal["auto", "single-pass", "per-stage"] | None = None
    """single-pass: one generation, GRE's staged answer, which the scene, detail, semantic
    and hypotheses nodes read; per-stage: one prompt per stage, for instruction-following
    VLMs that answer each stage's JSON prompt; auto: single-pass for GRE models (by the
    model's name); None takes settings.model.stages."""

    verify: Literal["graph", "model"] = "graph"
    """graph: the graph extracts claims and calls tools; model: the model calls tools."""

    backend: Literal["openai", "transformers", "replay", "ocr"] | None = None
    """Model backend (ocr: the model-free OCR baseline, graphs/gre/ocr_model.py); None takes
    settings.model.backend."""

    model: str | None = None
    """Model id or path; None takes settings.model.model."""

    base_url: str | None = None
    """An OpenAI-compatible endpoint (several: comma-separated)."""

    replay_path: str | None = None
    """The trace a replay backend answers from."""

    offline: bool = True
    """Use the offline backends of every tool (the reproducible default)."""

    ocr: bool | None = None
    """Ground the texts the model quotes in the photo's own OCR (`ocr.read`, see
    graphs/gre/grounding.py) and add legible texts it missed as claims. None (auto): on
    for the model backends (openai, transformers) when the registry has ocr.read; off for
    replay (it reproduces a recorded run), for the OCR baseline (its texts are the OCR's)
    and for test doubles. Graph-driven verification only."""

    use_exif: bool = False
    """Read the photo's EXIF GPS as evidence (off for evaluations: it leaks the answer)."""

    max_rounds: int = 2
    """Verification rounds before the agent must commit."""

    max_tool_calls: int = 24
    """Tool calls per image, all rounds together."""

    max_wall_s: float = 600.0
    """Wall time per image; past it the agent commits with what it has."""

    max_hypotheses: int = 3
    """Candidate places the model is asked for."""

    commit_threshold: float = 0.75
    """Confidence of the best hypothesis at which the agent stops verifying."""

    calibration: str | None = None
    """A calibration file from `gre eval calibrate`; None takes settings.calibration."""

    stream_text: bool = False
    """Send the model's text as it is written, as custom stream events {"stage", "delta"}
    (`stream_mode="custom"`): the chats show the reasoning live. Streams from the server."""

    max_tokens: int | None = None
    """Per model call; None takes settings.model.max_tokens."""

    backend_obj: SkipJsonSchema[Any] = field(default=None, repr=False)
    """A ready ModelBackend (overrides backend/model/base_url)."""

    registry: SkipJsonSchema[Any] = field(default=None, repr=False)
    """A ready tool Registry (overrides offline)."""
