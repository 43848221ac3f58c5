"""The graph's access to the model and the tools, built once per configuration."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from langgraph.config import get_stream_writer

from gre_agent.agent.backends import (
    Message,
    ModelBackend,
    ModelError,
    backend_from_options,
    model_call_event,
)
from gre_agent.core.settings import Settings, load_settings
from gre_agent.core.trace import ModelErrorEvent
from gre_agent.graphs.gre.calibration import Calibration
from gre_agent.graphs.gre.calibration import load as load_calibration
from gre_agent.graphs.gre.context import Context
from gre_agent.tools import Registry


def open_model(
    backend: str | None,
    model: str | None = None,
    base_url: str | Sequence[str] | None = None,
    replay_path: str | Path | None = None,
    **kwargs: Any,
) -> ModelBackend:
    """The backend the options name: `ocr`, the model-free OCR baseline (built here: it
    runs a tool, which agent/ may not import), or one of agent/'s backends."""
    if backend == "ocr":
        from gre_agent.graphs.gre.ocr_model import OcrBackend

        return OcrBackend()
    return backend_from_options(backend, model, base_url, replay_path, **kwargs)


@lru_cache(maxsize=8)
def _backend(
    backend: str | None, model: str | None, base_url: str | None, replay_path: str | None
) -> ModelBackend:
    return open_model(backend, model, base_url, replay_path)


@dataclass
class _Setup:
    """What a run reads from the settings and files, resolved by `prepare` (None: not
    resolved, because resolving it failed: the run then fails where it would have)."""

    backend: ModelBackend | None = None
    registry: Registry | None = None
    stages: Literal["single-pass", "per-stage"] | None = None


# One per live run context (by id; an entry goes when its context is collected).
_SETUPS: dict[int, _Setup] = {}


def _setup(ctx: Context) -> _Setup | None:
    return _SETUPS.get(id(ctx))


@lru_cache(maxsize=1)
def _load_data() -> None:
    """The data files the graph's nodes read on first use (each cached for the process):
    prompts, pycountry's and GeoNames' country tables and the country clue tables."""
    from gre_agent.agent._vocab import countries_in
    from gre_agent.agent.prompts import PROMPTS, template
    from gre_agent.tools.country import clues
    from gre_agent.tools.country._offline import alpha3_to_alpha2

    for name in PROMPTS:
        template(name)
    countries_in("")
    alpha3_to_alpha2()
    clues.countries_named_in("")
    clues.countries_for_phone("358")
    clues.countries_for_postcode("00100")
    clues.countries_for_language("Finnish")
    clues.countries_for_currency("EUR")
    clues.population("FI")


def _resolve(ctx: Context) -> _Setup:
    _load_data()
    setup = _Setup()
    with contextlib.suppress(Exception):
        setup.backend = backend_for(ctx)
    with contextlib.suppress(Exception):
        setup.registry = registry_for(ctx)
    with contextlib.suppress(Exception):
        setup.stages = stages_for(ctx)
    return setup


async def prepare(ctx: Context) -> None:
    """Resolve in a thread, once per run context, what the run reads from the settings and
    files (the backend, the tool registry, the stages setting), so the graph's nodes never
    read a file on the event loop: LangGraph's server (`langgraph dev`, blockbuster) fails
    a run that does. Runs that skip it resolve the same things where they are used."""
    if _setup(ctx) is not None:
        return
    setup = await asyncio.to_thread(_resolve, ctx)
    if _setup(ctx) is None:
        _SETUPS[id(ctx)] = setup
        weakref.finalize(ctx, _SETUPS.pop, id(ctx), None)


def backend_for(ctx: Context) -> ModelBackend:
    if ctx.backend_obj is not None:
        return ctx.backend_obj
    setup = _setup(ctx)
    if setup is not None and setup.backend is not None:
        return setup.backend
    return _backend(ctx.backend, ctx.model, ctx.base_url, ctx.replay_path)


@lru_cache(maxsize=4)
def _registry(offline: bool) -> Registry:
    return Registry(Settings(offline=True) if offline else load_settings())


_GRE_NAME = re.compile(r"(?<![a-z])gre(?![a-z])", re.IGNORECASE)


def is_gre_model(model: str) -> bool:
    """A GRE model by its id or path ("Anonymous0515/GRE", "gre-7b-sft", ...)."""
    return bool(_GRE_NAME.search(model))


def stages_for(ctx: Context) -> Literal["single-pass", "per-stage"]:
    """The run's stages setting, `auto` resolved by the model's name."""
    from gre_agent.graphs.gre.ocr_model import OCR_MODEL

    if ctx.backend == "ocr" or getattr(ctx.backend_obj, "model", None) == OCR_MODEL:
        return "single-pass"  # the OCR baseline answers in GRE's format only
    setup = _setup(ctx)
    if setup is not None and setup.stages is not None:
        return setup.stages
    wanted = ctx.stages or load_settings().model.stages
    if wanted == "auto":
        return "single-pass" if is_gre_model(backend_for(ctx).model or "") else "per-stage"
    if wanted not in ("single-pass", "per-stage"):
        raise ValueError(f"unknown stages setting {wanted!r}")
    return wanted


def asks_again(ctx: Context) -> bool:
    """May the graph ask the model again (a repair, a revision)? Not a backend whose
    answer is fixed by the photo (`answers_once`: the OCR baseline)."""
    return not getattr(backend_for(ctx), "answers_once", False)


def calibration_for(ctx: Context) -> Calibration:
    return load_calibration(ctx.calibration or load_settings().calibration)


def registry_for(ctx: Context) -> Registry:
    if ctx.registry is not None:
        return ctx.registry
    setup = _setup(ctx)
    if setup is not None and setup.registry is not None:
        return setup.registry
    return _registry(ctx.offline)


async def ask(
    ctx: Context,
    messages: list[dict[str, Any]],
    stage: str,
    tools: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """One model call; returns (completion dict or None on error, trace event as JSON:
    a core.trace.ModelCall or ModelErrorEvent)."""
    backend = backend_for(ctx)
    msgs = [Message.model_validate(m) for m in messages]
    started = time.perf_counter()
    try:
        kwargs: dict[str, Any] = {"tools": tools} if tools else {}
        if ctx.max_tokens:
            kwargs["max_tokens"] = ctx.max_tokens
        if ctx.stream_text:
            kwargs["on_text"] = _text_writer(stage)
        completion = await backend.complete(msgs, **kwargs)
    except ModelError as exc:
        error = ModelErrorEvent(
            stage=stage,
            kind=str(exc.kind),
            message=str(exc),
            latency_s=time.perf_counter() - started,
        )
        return None, error.model_dump(mode="json")
    # The request itself (images as paths), so fine-tuning can rebuild the conversation.
    recorded: dict[str, Any] = {"stage": stage, "messages": [_plain(m) for m in msgs]}
    if tools:
        recorded["tools"] = tools
    # The event hashes the request with the photo's pixels (file reads): not on the loop.
    recorded_event = await asyncio.to_thread(model_call_event, msgs, completion, tools, **recorded)
    return completion.model_dump(mode="json"), recorded_event.model_dump(mode="json")


def _text_writer(stage: str) -> Callable[[str], None]:
    """Model text as it is written, as custom stream events {"stage", "delta"}."""
    writer = get_stream_writer()

    def write(delta: str) -> None:
        if delta:
            writer({"stage": stage, "delta": delta})

    return write


def _plain(message: Message) -> dict[str, Any]:
    out = message.model_dump(mode="json", exclude_none=True, exclude={"content"})
    out["content"] = message.content
    if isinstance(message.content, list):
        out["content"] = [
            {"type": "image", "image": str(p.image) if isinstance(p.image, str | Path) else None}
            if p.type == "image"
            else {"type": "text", "text": p.text}
            for p in message.content
        ]
    return out


def assistant_message(completion: dict[str, Any]) -> dict[str, Any]:
    return Message.assistant(
        completion.get("raw_text") or completion["text"],
    ).model_dump(mode="json")
