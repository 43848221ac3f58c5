"""Build and compile the chat graph.

START -> understand -> locate   -> END     a new photo: the whole GRE agent (subgraph)
                    -> recheck  -> END     a hint / "check again": hypotheses -> verify ->
                                           commit again with the hints (runs.recheck_graph)
                    -> respond  -> END     questions answered from the stored run; help;
                                           errors; anything else: the model, if configured

`understand` routes by commands and keyword rules (intents.py), so every answer about a
run works with no model at all.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from gre_agent.core.geo import geodesic_km
from gre_agent.core.images import ImageError, check_image
from gre_agent.graphs.chat import answers, prompts
from gre_agent.graphs.chat.context import ChatContext, gre_context
from gre_agent.graphs.chat.events import Reply
from gre_agent.graphs.chat.intents import is_question, label_from_model, parse
from gre_agent.graphs.chat.runs import run_agent
from gre_agent.graphs.chat.state import ChatState, InputState
from gre_agent.graphs.gre.hints import hint_place


def _ctx(runtime: Runtime[ChatContext]) -> ChatContext:
    ctx = runtime.context
    if ctx is None:
        return ChatContext()
    if isinstance(ctx, dict):  # a server that passes the context through as JSON
        return ChatContext(**ctx)
    return ctx


def _home() -> Path:
    from gre_agent.core.settings import load_settings

    return load_settings().home


def _last_user(state: ChatState) -> HumanMessage | None:
    return next((m for m in reversed(state.messages) if isinstance(m, HumanMessage)), None)


def _save_data_url(url: str) -> str:
    """An image sent inline (a chat UI's data URL or base64 block), saved under $GRE_HOME."""
    head, _, data = url.partition(",")
    try:
        raw = base64.b64decode(data if head.startswith("data:") else url, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(f"an inline image that is not base64 ({exc})") from exc
    ext = head.split("/", 1)[1].split(";", 1)[0] if head.startswith("data:image/") else "img"
    folder = _home() / "chat-images"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(raw).hexdigest()[:20]}.{ext[:5]}"
    if not path.exists():
        path.write_bytes(raw)
    return str(path)


def _content(msg: HumanMessage) -> tuple[str, str | None]:
    """(text, inline image) of a message whose content is a string or content blocks."""
    if isinstance(msg.content, str):
        return msg.content, None
    texts, image = [], None
    for block in msg.content:
        if isinstance(block, str):
            texts.append(block)
        elif block.get("type") == "text":
            texts.append(block.get("text", ""))
        elif block.get("type") == "image_url":
            url = block["image_url"]
            image = _save_data_url(url["url"] if isinstance(url, dict) else url)
        elif block.get("type") == "image" and (data := block.get("data") or block.get("base64")):
            image = _save_data_url(data)
        elif block.get("type") == "image" and block.get("url"):
            image = _save_data_url(block["url"])
    return " ".join(t for t in texts if t).strip(), image


def _error(text: str) -> dict[str, Any]:
    return {"intent": "error", "text": text, "image": None, "reply": None}


async def understand(state: ChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    """What the last user message asks; takes in a new photo (checked) and hints."""
    msg = _last_user(state)
    if msg is None:
        return _error(prompts.EMPTY)
    # File work runs in threads: a server's event loop (langgraph dev) must not block.
    try:
        text, inline = await asyncio.to_thread(_content, msg)
    except ImageError as exc:
        return _error(f"That upload cannot be used as a photo: {exc}")
    image = state.image or inline or (msg.additional_kwargs or {}).get("image")
    parsed = parse(text, has_image=bool(image))
    out: dict[str, Any] = {"image": None, "reply": None, "text": parsed.text}
    if parsed.image and not image:
        image = parsed.image
    if parsed.intent == "locate" and not image:
        return _error("Which photo? /image PATH")
    if image:
        try:
            await asyncio.to_thread(check_image, image)
        except ImageError as exc:
            return _error(f"That file cannot be used as a photo: {exc}")
        image = str(Path(image).expanduser())
        if (msg.additional_kwargs or {}).get("image") != image:
            # keep the photo with its message, for the history (same id: replaced in place)
            kwargs = {**(msg.additional_kwargs or {}), "image": image}
            out["messages"] = [msg.model_copy(update={"additional_kwargs": kwargs})]
        hints = list(state.hints) if state.run is None else []
        if parsed.text and not is_question(parsed.text):
            hints.append(parsed.text)
        out.update(intent="locate", photo=image, hints=hints)
        return out
    intent = parsed.intent
    if intent == "error":
        return _error(prompts.EMPTY)
    if intent == "chat" and _ctx(runtime).router == "model":
        intent = await _model_intent(_ctx(runtime), parsed.text) or "chat"
    if intent == "hint":
        if not parsed.text:
            return _error(prompts.NO_HINT)
        out["hints"] = [*state.hints, parsed.text] if parsed.text not in state.hints else None
        if out["hints"] is None:
            del out["hints"]
    out["intent"] = intent
    return out


async def _model_intent(ctx: ChatContext, text: str) -> str | None:
    reply = await _ask_model(ctx, prompts.ROUTE_QUESTION.format(question=text), max_tokens=8)
    return label_from_model(reply or "")


async def _ask_model(ctx: ChatContext, question: str, max_tokens: int = 200) -> str | None:
    """One short model answer; None when no model can be reached."""
    from gre_agent.agent.backends import Message, ModelError
    from gre_agent.graphs.gre.model import backend_for

    try:
        backend = await asyncio.to_thread(backend_for, gre_context(ctx))  # reads settings
        completion = await backend.complete(
            [Message.system(prompts.CHAT_SYSTEM), Message.user(question)], max_tokens=max_tokens
        )
    except ModelError:
        return None
    text = completion.text.strip()
    return text[:1500] or None


def route(state: ChatState) -> Literal["locate", "recheck", "respond"]:
    if state.intent is None:
        raise ValueError("understand ran without an intent")
    if state.intent == "locate":
        return "locate"
    if state.intent in ("hint", "recheck") and state.photo:
        return "recheck" if state.run else "locate"
    return "respond"


def _trace_dir(ctx: ChatContext) -> Path:
    return Path(ctx.trace_dir) if ctx.trace_dir else _home() / "traces" / "chat"


def _reply(state: ChatState, intent: str, text: str, run: dict[str, Any] | None, **extra) -> Reply:
    run = run or {}
    pred = run.get("prediction")
    return Reply(
        intent=intent,  # type: ignore[arg-type]
        text=text,
        prediction=pred,
        evidence=list((pred or {}).get("evidence") or []),
        hypotheses=list(run.get("hypotheses") or []),
        initial=run.get("initial"),
        image=state.photo,
        hints=list(extra.pop("hints", state.hints)),
        trace_path=run.get("trace_path"),
        **extra,
    )


def _said(reply: Reply) -> dict[str, Any]:
    """The reply as an assistant message (text for any chat UI, the data alongside)."""
    data = reply.model_dump(mode="json")
    return {
        "reply": data,
        "messages": [AIMessage(content=reply.text, additional_kwargs={"reply": data})],
    }


def _located_text(run: dict[str, Any]) -> str:
    if run.get("error"):
        return f"The agent failed on this photo: {run['error']}"
    lines = [answers.where(run)]
    pred = run.get("prediction") or {}
    if pred.get("evidence"):
        lines += ["Evidence:", *[f"- {e}" for e in pred["evidence"][:8]]]
    elif pred.get("lat") is not None:
        lines.append("No tool finding confirmed it: this is the model's reading of the photo.")
    if run.get("model_errors"):
        lines.append(f"The model failed {len(run['model_errors'])} time(s).")
    url = answers.answer(run).splitlines()[1:] if pred.get("lat") is not None else []
    lines += [f"Map: {u}" for u in url]
    return "\n".join(lines)


async def locate(state: ChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    """A new photo: the whole agent, with any hints given so far."""
    ctx = _ctx(runtime)
    assert state.photo is not None
    trace_dir = await asyncio.to_thread(_trace_dir, ctx)
    run, base = await run_agent(gre_context(ctx), state.photo, state.hints, trace_dir)
    text = await asyncio.to_thread(_located_text, run)
    reply = _reply(state, "locate", text, run)
    return {"run": run, "base": base, "runs": state.runs + 1, **_said(reply)}


async def recheck(state: ChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    """Check again with the hints: from the stored perception (recheck="verify") or all over."""
    ctx = _ctx(runtime)
    assert state.photo is not None
    base = state.base if ctx.recheck == "verify" else None
    earlier = (state.run or {}).get("hypotheses") or []
    trace_dir = await asyncio.to_thread(_trace_dir, ctx)
    run, new_base = await run_agent(
        gre_context(ctx), state.photo, state.hints, trace_dir, base=base, earlier=earlier
    )
    before = (state.run or {}).get("prediction") or {}
    after = run.get("prediction") or {}
    hints = "; ".join(state.hints) or "none"
    lines = [f"Checked again with your hints ({hints})."]
    if after.get("lat") is not None and before.get("lat") is not None:
        moved = geodesic_km(before["lat"], before["lon"], after["lat"], after["lon"])
        if moved > 1.0:
            where = (
                f" from {before.get('place')} to {after.get('place')}" if after.get("place") else ""
            )
            lines.append(f"The answer moved {moved:.0f} km{where}.")
        else:
            lines.append("The answer stands.")
        lines.append(
            f"Confidence {before.get('confidence', 0):.2f} -> {after.get('confidence', 0):.2f}."
        )
    # a hint in words ("I think it is Tampere"): say which place it made the tools check
    if named := [p for h in state.hints if (p := hint_place(h)) and p != h.strip()]:
        lines.append(f"Your hint names {', '.join(named)}: checked with the tools.")
    lines.append(await asyncio.to_thread(_located_text, run))
    reply = _reply(state, state.intent or "recheck", "\n".join(lines), run)
    return {"run": run, "base": new_base or state.base, "runs": state.runs + 1, **_said(reply)}


ANSWERS = {
    "why": lambda run, q: answers.why(run, q),
    "evidence": lambda run, q: answers.evidence(run),
    "alternatives": lambda run, q: answers.alternatives(run),
    "confidence": lambda run, q: answers.confidence(run),
    "answer": lambda run, q: answers.answer(run),
}


async def respond(state: ChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    """Everything that needs no new run: answers from the stored run, help, errors."""
    intent = state.intent or "help"
    run = state.run
    if intent == "error":
        reply = _reply(state, "error", state.text, run, error=state.text)
    elif intent in ANSWERS:
        text = await asyncio.to_thread(ANSWERS[intent], run, state.text)  # pycountry loads
        reply = _reply(state, intent, text, run)
    elif intent == "hint":
        text = f"Noted ({state.text}). I will use it for the next photo: /image PATH"
        reply = _reply(state, "hint", text, run)
    elif intent == "recheck":
        reply = _reply(state, "recheck", answers.NO_RUN, run)
    elif intent == "chat":
        ctx = _ctx(runtime)
        said = None
        if ctx.chat_model:
            found = await asyncio.to_thread(_located_text, run) if run else "No photo yet."
            said = await _ask_model(
                ctx, prompts.CHAT_QUESTION.format(question=state.text, found=found)
            )
        reply = _reply(state, "chat", said or prompts.HELP, run)
    else:
        reply = _reply(state, "help", prompts.HELP, run)
    return _said(reply)


def build_graph(checkpointer: Any = None):
    builder = StateGraph(ChatState, input_schema=InputState, context_schema=ChatContext)
    builder.add_node("understand", understand)
    builder.add_node("locate", locate)
    builder.add_node("recheck", recheck)
    builder.add_node("respond", respond)
    builder.add_edge(START, "understand")
    builder.add_conditional_edges("understand", route)
    builder.add_edge("locate", END)
    builder.add_edge("recheck", END)
    builder.add_edge("respond", END)
    return builder.compile(checkpointer=checkpointer, name="gre-chat")


graph = build_graph()
"""The compiled chat graph (what langgraph.json serves; the server brings the checkpointer)."""
