"""The web chat: a Gradio page over `graphs.chat.ChatService`.

    from gre_agent.cli.web_app import WebChat, build_app
    web = WebChat(ChatService(db, lambda: ChatContext(backend="openai")), tiles=None)
    demo = build_app(web)
    demo.launch(server_name="127.0.0.1", ...)   # see `launch`

Left: the conversation (a photo and/or text per message; the agent's stages stream into a
collapsible box while it works). Right: the current answer, a map of hypotheses, evidence
and answer (a folium page in an iframe, Leaflet inlined: nothing from a CDN), and the
evidence list. Above: the session selector (new / resume / delete).

The handlers are the methods of `WebChat`, async generators and coroutines that tests call
directly; `build_app` only wires them to components. Gradio is imported here, and this
module is imported only by `gre web`, so the rest of `gre` starts without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio summarises every finished event with pandas for its "Runs" view (even with
# analytics off): work per message, and pandas 3 deprecation warnings. Summarise never.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(2**62))

import gradio as gr

from gre_agent.cli.web_view import (
    NO_MAP,
    answer_markdown,
    esc,
    esc_links,
    evidence_markdown,
    map_iframe,
    map_layer,
    progress_markdown,
)
from gre_agent.core.images import ImageError, check_image

EMPTY_MESSAGE = "Type a question or a hint, or attach a photo (the paperclip button) to locate it."
WORKING = "Locating the photo…"
MAX_UPLOAD = "50mb"  # larger uploads are refused by Gradio before any handler runs

CSS = """
.gre-no-map {padding: 2em; color: #777; border: 1px dashed #bbb; border-radius: 8px;}
"""

# What the handlers that change the conversation return, in this order: chat, input box,
# answer, evidence, map, session selector.
Outputs = tuple[list[dict[str, Any]], Any, Any, Any, Any, Any]


def reply_markdown(text: str, error: bool = False) -> str:
    """A reply's plain text for the chat: escaped line by line, URLs as links."""
    body = esc_links(text) or "-"
    return f"⚠️ {body}" if error else body


def _file_path(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return item.get("path") or (item.get("file") or {}).get("path")
    return getattr(item, "path", None)


class WebChat:
    """The web chat's state and handlers; one per server, its service opened on Gradio's
    event loop at first use."""

    def __init__(self, service: Any, *, tiles: str | None = None):
        self.chat = service  # a graphs.chat.ChatService, opened at first use
        self.tiles = tiles
        self._open = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening = asyncio.Lock()

    async def service(self) -> Any:
        async with self._opening:
            if not self._open:
                await self.chat.open()
                self._open = True
                self._loop = asyncio.get_running_loop()
        return self.chat

    async def aclose(self) -> None:
        if self._open:
            self._open = False
            await self.chat.close()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Close the service from another thread (the one that launched the server)."""
        loop = self._loop
        if not self._open or loop is None or loop.is_closed():
            return
        # a loop already gone takes its connection with it
        with contextlib.suppress(FutureTimeout, RuntimeError):
            asyncio.run_coroutine_threadsafe(self.aclose(), loop).result(timeout)

    # --- sessions -----------------------------------------------------------------------

    async def choices(self, current: str | None = None) -> list[tuple[str, str]]:
        """(label, id) of every session, newest first; `current` included even if new."""
        svc = await self.service()
        out = []
        for info in await svc.sessions():
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.updated))
            title = info.title or "(untitled)"
            flag = " · interrupted" if info.interrupted else ""
            out.append((f"{title} · {when}{flag}", info.id))
        if current and all(sid != current for _, sid in out):
            out.insert(0, ("new session", current))
        return out

    async def new_session(self) -> tuple[Any, list[dict[str, Any]], str, str, str, Any]:
        svc = await self.service()
        sid = svc.new_session_id()
        return (
            gr.Dropdown(choices=await self.choices(sid), value=sid),
            [],
            answer_markdown(None),
            evidence_markdown([]),
            NO_MAP,
            gr.Button(visible=False),
        )

    async def open_session(
        self, session_id: str | None
    ) -> tuple[list[dict[str, Any]], str, str, str, Any]:
        """A session's conversation and panels (to resume it)."""
        if not session_id:
            return [], answer_markdown(None), evidence_markdown([]), NO_MAP, gr.Button()
        svc = await self.service()
        history: list[dict[str, Any]] = []
        for turn in await svc.history(session_id):
            if turn.role == "user":
                history += self._user_messages(turn.text, turn.image, self._showable(turn.image))
            else:
                error = turn.reply is not None and turn.reply.intent == "error"
                history.append(
                    {"role": "assistant", "content": reply_markdown(turn.text, error=error)}
                )
        interrupted = await svc.interrupted(session_id)
        if interrupted:
            history.append(
                {
                    "role": "assistant",
                    "content": "⚠️ The last answer was cut off. Press “Finish the "
                    "interrupted answer” to continue from its last completed stage.",
                }
            )
        answer, evidence, map_html = await self.panels(session_id)
        return history, answer, evidence, map_html, gr.Button(visible=interrupted)

    async def load(
        self, request: gr.Request | None = None
    ) -> tuple[Any, list[dict[str, Any]], str, str, str, Any]:
        """Page load: the session named by `?session=ID` if it exists, else a new one."""
        wanted = (request.query_params.get("session") if request is not None else None) or ""
        svc = await self.service()
        if wanted and await svc.exists(wanted):
            chat, answer, evidence, map_html, resume = await self.open_session(wanted)
            choices = await self.choices(wanted)
            return (
                gr.Dropdown(choices=choices, value=wanted),
                chat,
                answer,
                evidence,
                map_html,
                resume,
            )
        return await self.new_session()

    async def delete_session(
        self, session_id: str | None
    ) -> tuple[Any, list[dict[str, Any]], str, str, str, Any]:
        if session_id:
            await (await self.service()).delete(session_id)
        return await self.new_session()

    async def panels(self, session_id: str) -> tuple[str, str, str]:
        """Answer, evidence and map of the session's last GRE run."""
        state = await (await self.service()).state(session_id)
        run = state.get("run")
        if not run:
            return answer_markdown(None), evidence_markdown([]), NO_MAP
        html_map = await asyncio.to_thread(map_iframe, [map_layer(run)], self.tiles)
        return (
            answer_markdown(run.get("prediction"), run.get("error")),
            evidence_markdown(run.get("evidence") or []),
            html_map,
        )

    # --- messages -----------------------------------------------------------------------

    @staticmethod
    def _showable(image: str | None) -> bool:
        """Whether a photo may be shown in the chat: only one that passed the checks, so a
        decompression bomb never reaches the browser's decoder."""
        if not image:
            return False
        try:
            check_image(image)
        except ImageError:
            return False
        return True

    @staticmethod
    def _user_messages(text: str, image: str | None, show: bool) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if image and show:
            out.append({"role": "user", "content": {"path": image}})
        elif image:
            out.append({"role": "user", "content": f"[file: {esc(Path(image).name)}]"})
        if text:
            out.append({"role": "user", "content": esc(text)})
        return out

    def _tidy(self, text: str, upload: str | None) -> str:
        """Error texts name the service's stored copy of an upload; say its own name."""
        if upload and getattr(self.chat, "images_dir", None):
            stored = re.escape(str(self.chat.images_dir)) + r"/[^\s:]+"
            text = re.sub(stored, Path(upload).name, text)
        return text

    async def respond(
        self, message: dict[str, Any] | None, session_id: str | None, history: list[Any] | None
    ) -> AsyncIterator[Outputs]:
        """One user message: stream the agent's stages, then the reply and the panels."""
        history = list(history or [])
        message = message or {}
        text = (message.get("text") or "").strip()
        files = [p for p in map(_file_path, message.get("files") or []) if p]
        image = files[0] if files else None
        cleared = gr.MultimodalTextbox(value=None)
        keep = gr.skip()
        if not text and not image:
            history.append({"role": "assistant", "content": f"⚠️ {EMPTY_MESSAGE}"})
            yield history, cleared, keep, keep, keep, keep
            return
        svc = await self.service()
        sid = session_id or svc.new_session_id()
        show = await asyncio.to_thread(self._showable, image) if image else False
        history += self._user_messages(text, image, show)
        if len(files) > 1:
            history.append(
                {"role": "assistant", "content": "Only the first photo of a message is used."}
            )
        yield history, cleared, keep, keep, keep, keep
        async for out in self._stream(svc.send(sid, text, image), sid, history, image):
            yield out

    async def resume(self, session_id: str | None, history: list[Any] | None) -> AsyncIterator[Any]:
        """Finish an answer cut off by a crash, from its last completed stage."""
        history = list(history or [])
        svc = await self.service()
        if not session_id or not await svc.interrupted(session_id):
            history.append({"role": "assistant", "content": "Nothing to resume here."})
            yield (history, *[gr.skip()] * 5, gr.Button(visible=False))
            return
        async for out in self._stream(svc.resume(session_id), session_id, history, None):
            yield (*out, gr.Button(visible=False))

    async def _stream(
        self, events: AsyncIterator[Any], sid: str, history: list[Any], upload: str | None
    ) -> AsyncIterator[Outputs]:
        keep = gr.skip()
        stages: list[tuple[str, str]] = []
        box: dict[str, Any] | None = None
        t0 = time.perf_counter()
        reply = None
        try:
            async for event in events:
                if event.type == "progress":
                    stages.append((event.stage or "", event.text))
                    if box is None:
                        box = {
                            "role": "assistant",
                            "content": "",
                            "metadata": {"title": WORKING, "status": "pending"},
                        }
                        history.append(box)
                    box["content"] = progress_markdown(stages)
                    yield history, keep, keep, keep, keep, keep
                else:
                    reply = event.reply
        except Exception as exc:  # the session goes on; what was saved stays saved
            history.append({"role": "assistant", "content": f"⚠️ Something went wrong: {esc(exc)}"})
        if box is not None:
            box["metadata"] = {
                "title": f"The agent's stages ({len(stages)})",
                "status": "done",
                "duration": round(time.perf_counter() - t0, 1),
            }
        if reply is not None:
            text = self._tidy(reply.text, upload)
            history.append(
                {"role": "assistant", "content": reply_markdown(text, reply.intent == "error")}
            )
        answer, evidence, map_html = await self.panels(sid)
        # the selector shows this session (new: now with its title) among the others
        session = gr.Dropdown(choices=await self.choices(sid), value=sid)
        yield history, keep, answer, evidence, map_html, session


def build_app(web: WebChat, title: str = "gre-agent: where was this photo taken?") -> gr.Blocks:
    """The page: session bar, conversation, and answer / map / evidence beside it."""
    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        gr.Markdown(f"## {title}")
        with gr.Row(equal_height=False):
            session = gr.Dropdown(
                label="Session", choices=[], scale=4, elem_id="gre-session", interactive=True
            )
            new = gr.Button("New session", scale=1, elem_id="gre-new")
            delete = gr.Button("Delete session", scale=1, variant="stop", elem_id="gre-delete")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                chat = gr.Chatbot(
                    label="Conversation",
                    height=560,
                    elem_id="gre-chat",
                    buttons=["copy"],
                    feedback_options=None,
                    placeholder="Attach a photo (the paperclip button) and send it: the agent "
                    "reads the scene, proposes places, checks them with map and gazetteer "
                    "tools, then answers. "
                    "Then ask why, add a hint, or ask it to check again.",
                )
                resume = gr.Button(
                    "Finish the interrupted answer", visible=False, elem_id="gre-resume"
                )
                box = gr.MultimodalTextbox(
                    placeholder="A photo, a question (why? why not Sweden?) or a hint "
                    "(it was taken in winter)",
                    sources=["upload"],
                    file_count="single",
                    show_label=False,
                    elem_id="gre-input",
                )
            with gr.Column(scale=4):
                answer = gr.Markdown(answer_markdown(None), elem_id="gre-answer")
                map_html = gr.HTML(NO_MAP, elem_id="gre-map")
                evidence = gr.Markdown(evidence_markdown([]), elem_id="gre-evidence")
        panels = [answer, evidence, map_html]
        page = [session, chat, *panels, resume]
        demo.load(web.load, None, page)
        new.click(web.new_session, None, page)
        delete.click(web.delete_session, session, page)
        session.input(web.open_session, session, [chat, *panels, resume])
        # progress shows on the conversation only: the input box stays visible meanwhile
        # (a second message waits: submit triggers once at a time)
        box.submit(
            web.respond, [box, session, chat], [chat, box, *panels, session], show_progress_on=chat
        )
        resume.click(
            web.resume,
            [session, chat],
            [chat, box, *panels, session, resume],
            show_progress_on=chat,
        )
    return demo


def launch(
    web: WebChat, host: str = "127.0.0.1", port: int = 7860, *, block: bool = True
) -> gr.Blocks:
    """Serve the page; nothing is shared or fetched from the internet."""
    demo = build_app(web)
    # resumed sessions show their photos from the service's store
    svc_dirs = [str(web.chat.images_dir)] if getattr(web.chat, "images_dir", None) else []
    demo.queue(default_concurrency_limit=8)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        prevent_thread_lock=not block,
        ssr_mode=False,
        quiet=True,
        show_error=True,
        max_file_size=MAX_UPLOAD,
        allowed_paths=svc_dirs,
        footer_links=[],
        css=CSS,
    )
    return demo
