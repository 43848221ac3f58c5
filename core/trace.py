"""Traces: one versioned JSON-lines file per image, the unit evals and fine-tuning consume.

Line 1 is the header, `TraceHeader`: {"type": "trace", "version": 1, "image",
"image_sha256", "config", "started"}. Then the run's events in order, each a model below,
told apart by `type`:
- "model_call" (`ModelCall`): request_hash, completion (text, tool_calls, usage,
  latency_s, ...), model, ts, stage; the same record the replay backend answers from
  (agent/backends/_replay.py); plus messages (the request: Message dicts, image parts as
  paths) and tools (when offered), which fine-tuning turns back into conversations;
- "model_error" (`ModelErrorEvent`): stage, kind, message, latency_s;
- "stage" (`StageEvent`): stage, parsed (the stage's pydantic model as JSON);
- "tool_call" (`ToolCallEvent`): round, claim, tool, backend, args, result | error,
  cached, latency_ms;
- "repair" / "fallback" (`RepairEvent`, `FallbackEvent`): how unparseable output was handled;
- "decision" (`DecisionEvent`): round, decision (commit | refine), reason;
- "prediction" (`PredictionEvent`): the committed `Prediction`, its fields inline;
- "error" (`ErrorEvent`): a run that failed or ended early (kind, message).
A line of another type loads as `OtherEvent`, kept as it is.

An event writes the fields it was given, from its constructor or from the file, and
nothing else: a loaded trace writes back what it read (unknown keys included), and an
emitter's line holds what it recorded. `Trace` holds the one definition of every count
(tool calls, errors, tokens, rounds) that the CLI, the eval runner and fine-tuning report.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    TypeAdapter,
    ValidationError,
    model_serializer,
)

from gre_agent.core.errors import GreError
from gre_agent.core.prediction import Prediction
from gre_agent.core.text import json_line

TRACE_VERSION = 1

# A tool call the model asked for beyond its budget is recorded with this error kind; it
# never ran, so it counts as no tool call and no tool error.
SKIPPED_KIND = "budget"


class TraceError(GreError, ValueError):
    """A file that is not a gre-agent trace, or of an unknown version."""


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (the photo's hash in the header, and leakage checks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Record(BaseModel):
    """A trace record: keeps unknown keys, writes only the fields it was given."""

    model_config = ConfigDict(extra="allow")
    # Written even when left at their default.
    ALWAYS: ClassVar[frozenset[str]] = frozenset({"type"})

    @model_serializer(mode="wrap")
    def _given_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        for name, info in type(self).model_fields.items():
            given = name in self.model_fields_set or name in self.ALWAYS
            if not given and not info.is_required():
                data.pop(name, None)
        if "type" in data:  # first, as every writer has put it
            data = {"type": data.pop("type"), **data}
        return data


class TraceHeader(Record):
    ALWAYS = frozenset({"type", "version"})

    type: Literal["trace"] = "trace"
    version: int = TRACE_VERSION
    image: str = ""
    image_sha256: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    started: float = 0.0


def header(image: str | Path, config: dict[str, Any]) -> TraceHeader:
    """The header of a run starting now (the photo hashed when it can be read)."""
    try:
        digest: str | None = file_sha256(image)
    except OSError:
        digest = None
    return TraceHeader(
        version=TRACE_VERSION,
        image=str(image),
        image_sha256=digest,
        config=config,
        started=time.time(),
    )


class TokenUsage(Record):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # of the prompt, served from the server's prefix cache


class CompletionRecord(Record):
    """A completion as stored (`Completion.model_dump(mode="json", exclude_none=True)`)."""

    text: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    latency_s: float = 0.0
    model: str = ""
    backend: str = ""
    finish_reason: str | None = None
    raw_text: str | None = None
    endpoint: str | None = None
    ttft_s: float | None = None  # streamed answers: time to the first token


class ModelCall(Record):
    type: Literal["model_call"] = "model_call"
    request_hash: str = ""
    completion: CompletionRecord
    model: str = ""
    ts: float = 0.0
    stage: str = ""
    messages: list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None


class ModelErrorEvent(Record):
    type: Literal["model_error"] = "model_error"
    stage: str = ""
    kind: str = ""
    message: str = ""
    latency_s: float = 0.0


class StageEvent(Record):
    type: Literal["stage"] = "stage"
    stage: str
    parsed: dict[str, Any] = Field(default_factory=dict)


class ToolErrorRecord(Record):
    kind: str = "error"
    message: str = ""


class ToolCallEvent(Record):
    type: Literal["tool_call"] = "tool_call"
    round: int = 0
    claim: str = ""
    tool: str = ""
    backend: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    # the tool's Result as JSON (an object); a model-driven call records whatever JSON its
    # tool message held
    result: Any = None
    error: ToolErrorRecord | str | None = None
    cached: bool = False
    latency_ms: float = 0.0

    @classmethod
    def of(cls, round: int, claim: str, outcome: BaseModel | dict[str, Any]) -> ToolCallEvent:
        """The event for a tool's outcome (a `ToolOutcome` or its JSON form)."""
        data = outcome.model_dump(mode="json") if isinstance(outcome, BaseModel) else outcome
        return cls.model_validate({"round": round, "claim": claim, **data})

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def skipped(self) -> bool:
        """Asked for beyond the budget: recorded, never run."""
        return isinstance(self.error, ToolErrorRecord) and self.error.kind == SKIPPED_KIND

    @property
    def error_kind(self) -> str | None:
        if not self.error:
            return None
        return self.error.kind if isinstance(self.error, ToolErrorRecord) else "error"

    @property
    def error_message(self) -> str | None:
        if not self.error:
            return None
        return self.error.message if isinstance(self.error, ToolErrorRecord) else self.error


class RepairEvent(Record):
    type: Literal["repair"] = "repair"
    stage: str = ""
    recovered: bool = False


class FallbackEvent(Record):
    type: Literal["fallback"] = "fallback"
    stage: str = ""
    reason: str = ""
    candidates: list[str] = Field(default_factory=list)


class DecisionEvent(Record):
    type: Literal["decision"] = "decision"
    round: int = 0
    decision: Literal["commit", "refine"]
    reason: str = ""


class PredictionEvent(Record, Prediction):
    """The committed prediction, its fields inline after `type`."""

    type: Literal["prediction"] = "prediction"

    @classmethod
    def of(cls, prediction: Prediction) -> PredictionEvent:
        return cls.model_validate(prediction.model_dump(mode="json"))

    def prediction(self) -> Prediction:
        return Prediction.model_validate(self.model_dump(mode="json", exclude={"type"}))


class ErrorEvent(Record):
    type: Literal["error"] = "error"
    kind: str = ""
    message: str = ""


class OtherEvent(Record):
    """A line of a type this version does not know: kept, shown, never counted."""

    type: str


EVENT_TYPES: dict[str, type[Record]] = {
    "model_call": ModelCall,
    "model_error": ModelErrorEvent,
    "stage": StageEvent,
    "tool_call": ToolCallEvent,
    "repair": RepairEvent,
    "fallback": FallbackEvent,
    "decision": DecisionEvent,
    "prediction": PredictionEvent,
    "error": ErrorEvent,
}


def _event_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in EVENT_TYPES else "other"


TraceEvent = Annotated[
    Annotated[ModelCall, Tag("model_call")]
    | Annotated[ModelErrorEvent, Tag("model_error")]
    | Annotated[StageEvent, Tag("stage")]
    | Annotated[ToolCallEvent, Tag("tool_call")]
    | Annotated[RepairEvent, Tag("repair")]
    | Annotated[FallbackEvent, Tag("fallback")]
    | Annotated[DecisionEvent, Tag("decision")]
    | Annotated[PredictionEvent, Tag("prediction")]
    | Annotated[ErrorEvent, Tag("error")]
    | Annotated[OtherEvent, Tag("other")],
    Discriminator(_event_tag),
]

_event_adapter: TypeAdapter[TraceEvent] = TypeAdapter(TraceEvent)
E = TypeVar("E", bound=Record)


def parse_event(data: dict[str, Any] | Record) -> TraceEvent:
    """One event from its JSON form (a model is returned as it is)."""
    if isinstance(data, Record):
        return cast("TraceEvent", data)  # a Record given here is one of the union's models
    return _event_adapter.validate_python(data)


class TraceCounts(BaseModel):
    """The numbers of a run, defined once (see `Trace`)."""

    tool_calls: int = 0
    tool_errors: int = 0
    cache_hits: int = 0
    model_calls: int = 0
    model_errors: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    rounds: int = 0


class Trace(BaseModel):
    """A run's events (from a file, with its header, or from the graph state)."""

    header: TraceHeader | None = None
    events: list[TraceEvent] = Field(default_factory=list)

    @classmethod
    def of(
        cls, events: Iterable[dict[str, Any] | Record], header: TraceHeader | None = None
    ) -> Trace:
        return cls(header=header, events=[parse_event(e) for e in events])

    def of_type(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def tool_calls(self) -> list[ToolCallEvent]:
        """Every tool call that ran, the reverse geocode naming the answer included."""
        return [e for e in self.of_type(ToolCallEvent) if not e.skipped]

    @property
    def model_calls(self) -> list[ModelCall]:
        return self.of_type(ModelCall)

    @property
    def model_errors(self) -> list[ModelErrorEvent]:
        return self.of_type(ModelErrorEvent)

    @property
    def stages(self) -> list[StageEvent]:
        return self.of_type(StageEvent)

    @property
    def decisions(self) -> list[DecisionEvent]:
        return self.of_type(DecisionEvent)

    def stage(self, name: str) -> StageEvent | None:
        """The first parsed stage of that name."""
        return next((e for e in self.stages if e.stage == name), None)

    @property
    def prediction(self) -> Prediction | None:
        """The last committed prediction."""
        found = self.of_type(PredictionEvent)
        return found[-1].prediction() if found else None

    @property
    def error(self) -> ErrorEvent | None:
        """The first run error (a run that failed or ended early)."""
        found = self.of_type(ErrorEvent)
        return found[0] if found else None

    def counts(self) -> TraceCounts:
        calls = self.tool_calls
        usage = [e.completion.usage for e in self.model_calls]
        numbered = [e.round for e in self.of_type(ToolCallEvent)] + [
            e.round for e in self.decisions
        ]
        return TraceCounts(
            tool_calls=len(calls),
            tool_errors=sum(1 for e in calls if not e.ok),
            cache_hits=sum(1 for e in calls if e.cached),
            model_calls=len(self.model_calls),
            model_errors=len(self.model_errors),
            prompt_tokens=sum(u.prompt_tokens for u in usage),
            cached_tokens=sum(u.cached_tokens for u in usage),
            completion_tokens=sum(u.completion_tokens for u in usage),
            rounds=max(numbered, default=0),
        )

    def dump_events(self) -> list[dict[str, Any]]:
        return [e.model_dump(mode="json") for e in self.events]


def write_trace(
    path: str | Path,
    head: TraceHeader | dict[str, Any],
    events: Iterable[Record | dict[str, Any]],
) -> Path:
    """Write atomically (temp file, then rename): a reader never sees half a trace.
    Events given as JSON dicts (the graph state's) are written as they are, except that
    text UTF-8 cannot encode (a model's lone surrogate) is written as U+FFFD."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for event in (head, *events):
            data = event.model_dump(mode="json") if isinstance(event, BaseModel) else event
            fh.write(json_line(data) + "\n")
    tmp.replace(path)
    return path


def read_trace(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and events as the file holds them (JSON objects); `load_trace` types them.
    Every failure (no file, not text, not JSON, no header, another version) is a TraceError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TraceError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise TraceError(f"{path}: is a directory") from exc
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not a text file") from exc
    except OSError as exc:
        raise TraceError(f"{path}: not a gre-agent trace ({exc})") from exc
    try:
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise TraceError(f"{path}: line {exc.lineno} is not JSON ({exc.msg})") from exc
    if not lines or not isinstance(lines[0], dict) or lines[0].get("type") != "trace":
        raise TraceError(f"{path} is not a gre-agent trace (no header line)")
    if lines[0].get("version") != TRACE_VERSION:
        raise TraceError(
            f"{path} has trace version {lines[0].get('version')}, expected {TRACE_VERSION}"
        )
    if any(not isinstance(e, dict) for e in lines[1:]):
        raise TraceError(f"{path}: every line after the header must be a JSON object")
    return lines[0], lines[1:]


def load_trace(path: str | Path) -> Trace:
    """A trace file as a typed `Trace`; a line that fits no event model is a TraceError."""
    head, events = read_trace(path)
    try:
        parsed_head = TraceHeader.model_validate(head)
    except ValidationError as exc:
        raise TraceError(f"{path}: bad header ({_first_error(exc)})") from exc
    parsed: list[TraceEvent] = []
    for number, event in enumerate(events, 2):
        try:
            parsed.append(parse_event(event))
        except ValidationError as exc:
            raise TraceError(f"{path}: line {number} ({_first_error(exc)})") from exc
    return Trace(header=parsed_head, events=parsed)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]
