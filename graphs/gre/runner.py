"""Run the GRE agent on images: validation, streaming of stage events, traces."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gre_agent.core.images import check_image
from gre_agent.core.prediction import Prediction
from gre_agent.core.trace import ErrorEvent, header, write_trace
from gre_agent.graphs.gre.context import Context
from gre_agent.graphs.gre.graph import graph as default_graph


@dataclasses.dataclass
class LocateResult:
    image: str
    prediction: Prediction | None
    state: dict[str, Any]
    trace_path: Path | None = None
    error: str | None = None


def context_config(ctx: Context) -> dict[str, Any]:
    """The JSON-able part of the context, for the trace header and manifests."""
    return {
        f.name: getattr(ctx, f.name)
        for f in dataclasses.fields(ctx)
        if f.name not in ("backend_obj", "registry")
    }


def write_unfinished_trace(
    path: str | Path, image: str | Path, ctx: Context, kind: str, message: str
) -> Path:
    """The trace of a run that ended before the graph wrote one (a timeout, a crash
    outside it): the header and one error event."""
    head = header(str(image), context_config(ctx))
    return write_trace(path, head, [ErrorEvent(kind=kind, message=message)])


def trace_name(image: str | Path) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{Path(image).stem}-{stamp}.jsonl"


async def locate(
    image: str | Path,
    ctx: Context | None = None,
    *,
    hints: list[str] | None = None,
    trace_dir: str | Path | None = None,
    trace_path: str | Path | None = None,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    graph: Any = None,
) -> LocateResult:
    """Locate one image. A bad image gives a result with `error`, never an exception."""
    ctx = ctx or Context()
    graph = graph or default_graph
    head = header(str(image), context_config(ctx))
    state: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    error = None
    try:
        await asyncio.to_thread(check_image, image)  # a full decode: off the event loop
        inputs = {"image": str(image), "hints": hints or []}
        async for mode, chunk in graph.astream(
            inputs, context=ctx, stream_mode=["updates", "values"]
        ):
            if mode == "values":
                state = dict(chunk)  # the whole state, reducers applied
                continue
            for node, update in chunk.items():
                events.extend((update or {}).get("trace", []))
                if on_event is not None:
                    on_event(node, update or {})
    except Exception as exc:  # reported in the result and the trace; the batch goes on
        error = f"{type(exc).__name__}: {exc}"
        events.append(ErrorEvent(kind=type(exc).__name__, message=str(exc)).model_dump(mode="json"))
    path = None
    if trace_path:
        path = write_trace(Path(trace_path), head, events)
    elif trace_dir:
        path = write_trace(Path(trace_dir) / trace_name(image), head, events)
    pred = Prediction.model_validate(state["prediction"]) if state.get("prediction") else None
    state["trace"] = events
    return LocateResult(
        image=str(image), prediction=pred, state=state, trace_path=path, error=error
    )
