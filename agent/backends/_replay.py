"""Backend that answers from a recorded trace: deterministic re-runs, demos, debugging.

Trace format (JSON lines; lines of other types are ignored, so a graph trace that holds
tool calls, stages and so on replays as it is). A model call is one line:

    {"type": "model_call",
     "request_hash": "<sha256 hex of request_hash(messages, tools)>",
     "completion": {"text": "...", "tool_calls": [{"id": "...", "name": "...",
                     "arguments": {...}}], "usage": {"prompt_tokens": 0,
                     "completion_tokens": 0}, "latency_s": 0.0, "model": "...",
                     "backend": "...", "finish_reason": "stop"},
     "model": "...", "ts": 1764428400.0}          # optional: who answered, when

`completion` is a `Completion` as JSON (`model_dump(mode="json")`); only `text` is required
(usage may hold `cached_tokens`, a streamed one `ttft_s`).
`request_hash` comes from `gre_agent.agent.backends.request_hash` (messages with image
pixels, plus tool definitions; sampling parameters are not part of it). A record is the
trace event `core.trace.ModelCall`: build one with `model_call_event(...)` (or its JSON with
`model_call_record(...)`), or wrap a backend in `RecordingBackend`.

The trace may be one file or a folder of them (an eval run's `traces/`, every `*.jsonl`
below it, in name order): one index of records keyed by request, so replaying a dataset
is deterministic at any concurrency (a request hashes its photo's pixels, so no image
gets another's answer).

Matching: a request takes the first unused record with its hash (identical requests take
their records in recorded order); a record without `request_hash` answers any request,
in call order. None left: `ModelError(kind=cache_miss)`, naming the request.
`match="hash_then_order"` instead falls back to call order when no record has the hash
(the first unused record in file order): for a single conversation whose prompts changed
since it was recorded, never for a dataset.
A replayed completion keeps the recorded text, tool calls and usage; `backend` is "replay"
and `latency_s` is the replay's own (near zero).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from gre_agent.core.errors import ErrorKind
from gre_agent.core.settings import ModelSettings
from gre_agent.core.trace import CompletionRecord, ModelCall

from ._base import BaseBackend, Messages, ModelBackend, TextCallback, emit_text
from ._errors import ModelError
from ._types import Completion, request_hash

RECORD_TYPE = "model_call"


def model_call_event(
    messages: Messages,
    completion: Completion,
    tools: Sequence[dict[str, Any]] | None = None,
    /,
    **fields: Any,
) -> ModelCall:
    """The trace event for a model call; `fields` adds what the graph records with it
    (stage, the request's `messages` as plain dicts, the `tools` offered)."""
    return ModelCall(
        request_hash=request_hash(messages, tools),
        completion=CompletionRecord.model_validate(
            completion.model_dump(mode="json", exclude_none=True)
        ),
        model=completion.model,
        ts=time.time(),
        **fields,
    )


def model_call_record(
    messages: Messages,
    completion: Completion,
    tools: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One trace line (a dict, ready for `json.dumps`) for a model call."""
    return model_call_event(messages, completion, tools).model_dump(mode="json")


class ReplayBackend(BaseBackend):
    """Answers requests with the completions recorded in a JSON-lines trace."""

    name = "replay"

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        settings: ModelSettings | None = None,
        match: Literal["hash", "hash_then_order"] = "hash",
    ):
        settings = settings or ModelSettings()
        path = path or settings.replay_path
        if path is None:
            raise ModelError(ErrorKind.unavailable, "replay backend needs a trace (replay_path)")
        self.path = Path(path)
        self.match = match
        self.max_concurrency = 1  # keeps call order well-defined in complete_batch
        self._records = [r for f in self._files(self.path) for r in self._read(f)]
        # the model that answered when the trace was recorded: what the replay stands in for
        recorded = next((r.completion.model for r in self._records if r.completion.model), "")
        self.model = recorded or settings.model
        self._used = [False] * len(self._records)
        self._by_hash: dict[str, deque[int]] = {}
        for i, rec in enumerate(self._records):
            self._by_hash.setdefault(rec.request_hash, deque()).append(i)

    @staticmethod
    def _files(path: Path) -> list[Path]:
        if path.is_dir():
            files = sorted(path.rglob("*.jsonl"))
            if not files:
                raise ModelError(ErrorKind.unavailable, f"no traces (*.jsonl) under {path}")
            return files
        return [path]

    @staticmethod
    def _read(path: Path) -> list[ModelCall]:
        if not path.exists():
            raise ModelError(ErrorKind.unavailable, f"no trace at {path}")
        records = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise ModelError(ErrorKind.bad_response, f"{path}:{n}: not JSON") from exc
            if isinstance(rec, dict) and rec.get("type") == RECORD_TYPE:
                try:
                    records.append(ModelCall.model_validate(rec))
                except ValidationError as exc:
                    raise ModelError(
                        ErrorKind.bad_response, f"{path}:{n}: not a model_call record"
                    ) from exc
        return records

    @property
    def remaining(self) -> int:
        return self._used.count(False)

    def _take(self, key: str) -> ModelCall:
        waiting = self._by_hash.get(key)
        while waiting:  # records of this request, in recorded order
            i = waiting.popleft()
            if not self._used[i]:
                self._used[i] = True
                return self._records[i]
        keyless = self._by_hash.get("")  # hand-written records with no hash: call order
        while keyless:
            i = keyless.popleft()
            if not self._used[i]:
                self._used[i] = True
                return self._records[i]
        if self.match == "hash_then_order":
            for i, rec in enumerate(self._records):
                if not self._used[i]:
                    self._used[i] = True
                    return rec
        raise ModelError(
            ErrorKind.cache_miss,
            f"{self.path}: no recorded answer for request {key[:12]} "
            f"({self.remaining} of {len(self._records)} records unused)",
        )

    async def complete(
        self,
        messages: Messages,
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        on_text: TextCallback | None = None,
        **kwargs: Any,
    ) -> Completion:
        t0 = time.perf_counter()
        # hashing reads and decodes the photo: in a thread, off a server's event loop
        rec = self._take(await asyncio.to_thread(request_hash, messages, tools))
        try:
            completion = Completion.model_validate(rec.completion.model_dump(mode="json"))
        except ValueError as exc:
            raise ModelError(ErrorKind.bad_response, f"bad record: {exc}") from exc
        completion = completion.model_copy(
            update={"backend": self.name, "latency_s": time.perf_counter() - t0}
        )
        return emit_text(on_text, completion)  # the recorded text, in one piece


class RecordingBackend(BaseBackend):
    """Wraps a backend and appends a `model_call` record per completion to a trace file."""

    def __init__(self, inner: ModelBackend, path: str | Path):
        self.inner = inner
        self.path = Path(path)
        self.name = inner.name
        self.model = inner.model

    def _write(self, messages: Messages, completion: Completion, tools: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(model_call_record(messages, completion, tools)) + "\n")

    async def complete(self, messages: Messages, **kwargs: Any) -> Completion:
        completion = await self.inner.complete(messages, **kwargs)
        self._write(messages, completion, kwargs.get("tools"))
        return completion

    async def complete_batch(self, batch: Sequence[Messages], **kwargs: Any) -> list[Completion]:
        completions = await self.inner.complete_batch(batch, **kwargs)
        for messages, completion in zip(batch, completions, strict=True):
            self._write(messages, completion, kwargs.get("tools"))
        return completions

    async def aclose(self) -> None:
        await self.inner.aclose()
