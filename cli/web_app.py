"""The web chat: a Gradio page over `graphs.chat.ChatService`.

    from gre_agent.cli.web_app import WebChat, build_app
    web = WebChat(ChatService(db, lambda: ChatContext(backend="openai")), tiles=None)
    demo = build_app(web)
    demo.launch(server_name="127.0.0.1", ...)   # see `launch`

Left: the conversation (a photo and/or text per message; the agent's stages stream into a
collapsible box while it works). Right: the current answer, a map of hypotheses, evidence
and answer (a folium page in an iframe, Leaflet inlined: nothing from a CDN), and the
evidence list. Above: the session selector (new / resume / delete).

Security (issue 16): photos come only from uploads (`/image PATH` opens nothing on the
server and says nothing about the path); sessions belong to the browser that made them (a
signed owner id in the browser's storage, `gr.BrowserState`) unless `share_sessions`, the
single-user mode in which every browser sees every session, terminal ones included.

The handlers are the methods of `WebChat`, async generators and coroutines that tests call
directly; `build_app` only wires them to components. Gradio is imported here, and this
module is imported only by `gre web`, so the rest of `gre` starts without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import re
import secrets
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
STREAM_EVERY_S = 0.25  # at most this often, the progress box shows the text streamed
WORKING = "Locating the photo…"
MAX_UPLOAD = "50mb"  # larger uploads are refused by Gradio before any handler runs
UPLOADS_ONLY = (
    "In the web chat, photos come only from uploads: attach one with the paperclip button "
    "(/image PATH is for the terminal chat, `gre chat`)."
)
NOT_AVAILABLE = "That session is not available here: start a new one."
OWNER_KEY = "gre-owner"  # the browser storage key of the signed owner id

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


def is_image_command(text: str) -> bool:
    """Whether a message is the terminal's `/image PATH` (decided without touching a path)."""
    words = text.split(maxsplit=1)
    return bool(words) and words[0].lower() == "/image"


def _file_path(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return item.get("path") or (item.get("file") or {}).get("path")
    return getattr(item, "path", None)


class WebChat:
    """The web chat's state and handlers; one per server, its service opened on Gradio's
    event loop at first use.

    With `share_sessions` every browser sees every session (one user); without it each
    session belongs to the browser that made it: handlers get the browser's owner token
    (`new_token`, signed with `secret`) and only the owner lists, opens, resumes, deletes or
    writes to a session."""

    def __init__(
        self,
        service: Any,
        *,
        tiles: str | None = None,
        share_sessions: bool = True,
        secret: bytes | None = None,
    ):
        self.chat = service  # a graphs.chat.ChatService, opened at first use
        self.tiles = tiles
        self.share_sessions = share_sessions
        self._secret = secret or secrets.token_bytes(32)
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

    # --- owners -------------------------------------------------------------------------

    def _sign(self, owner: str) -> str:
        return hmac.new(self._secret, owner.encode(), hashlib.sha256).hexdigest()

    def new_token(self) -> str:
        """A new browser's token: a random owner id and its signature."""
        owner = secrets.token_hex(16)
        return f"{owner}.{self._sign(owner)}"

    def owner_of(self, token: Any) -> str | None:
        """The owner id of a token this server signed; None for anything else."""
        if not isinstance(token, str) or token.count(".") != 1:
            return None
        owner, signature = token.split(".")
        return owner if hmac.compare_digest(signature, self._sign(owner)) else None

    async def _may_use(self, session_id: str, token: Any) -> bool:
        if self.share_sessions:
            return True
        owner = self.owner_of(token)
        svc = await self.service()
        return owner is not None and await svc.owner_of(session_id) == owner

    async def _take(self, session_id: str, token: Any) -> bool:
        """Whether this browser may write to the session; a new session becomes its own."""
        if self.share_sessions:
            return True
        owner = self.owner_of(token)
        if owner is None:
            return False
        svc = await self.service()
        if await svc.owner_of(session_id) is None and not await svc.exists(session_id):
            await svc.claim(session_id, owner)
        return await svc.owner_of(session_id) == owner

    # --- sessions -----------------------------------------------------------------------

    async def choices(self, current: str | None = None, token: Any = None) -> list[tuple[str, str]]:
        """(label, id) of every session this browser may see, newest first; `current`
        included even if new."""
        svc = await self.service()
        owner = None if self.share_sessions else (self.owner_of(token) or "")
        out = []
        for info in await svc.sessions(owner=owner):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.updated))
            title = info.title or "(untitled)"
            flag = " · interrupted" if info.interrupted else ""
            out.append((f"{title} · {when}{flag}", info.id))
        if current and all(sid != current for _, sid in out):
            out.insert(0, ("new session", current))
        return out

    async def new_session(
        self, token: Any = None
    ) -> tuple[Any, list[dict[str, Any]], str, str, str, Any]:
        svc = await self.service()
        sid = svc.new_session_id()
        return (
            gr.Dropdown(choices=await self.choices(sid, token), value=sid),
            [],
            answer_markdown(None),
            evidence_markdown([]),
            NO_MAP,
            gr.Button(visible=False),
        )

    async def open_session(
        self, session_id: str | None, token: Any = None
    ) -> tuple[list[dict[str, Any]], str, str, str, Any]:
        """A session's conversation and panels (to resume it)."""
        if not session_id:
            return [], answer_markdown(None), evidence_markdown([]), NO_MAP, gr.Button()
        if not await self._may_use(session_id, token):
            refused = [{"role": "assistant", "content": f"⚠️ {NOT_AVAILABLE}"}]
            hidden = gr.Button(visible=False)
            return refused, answer_markdown(None), evidence_markdown([]), NO_MAP, hidden
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
        self, request: gr.Request | None = None, token: Any = None
    ) -> tuple[Any, list[dict[str, Any]], str, str, str, Any, Any]:
        """Page load: the session named by `?session=ID` if it exists (and is this
        browser's), else a new one; last, the browser's owner token (a new one if it had
        none this server signed)."""
        if not self.share_sessions and self.owner_of(token) is None:
            token = self.new_token()
        wanted = (request.query_params.get("session") if request is not None else None) or ""
        svc = await self.service()
        if wanted and await svc.exists(wanted) and await self._may_use(wanted, token):
            chat, answer, evidence, map_html, resume = await self.open_session(wanted, token)
            choices = await self.choices(wanted, token)
            return (
                gr.Dropdown(choices=choices, value=wanted),
                chat,
                answer,
                evidence,
                map_html,
                resume,
                token,
            )
        return (*await self.new_session(token), token)

    async def delete_session(
        self, session_id: str | None, token: Any = None
    ) -> tuple[Any, list[dict[str, Any]], str, str, str, Any]:
        if session_id and await self._may_use(session_id, token):
            await (await self.service()).delete(session_id)
        return await self.new_session(token)

    async def panels(self, session_id: str) -> tuple[str, str, str]:
        """Answer, evidence and map of the session's last GRE run."""
        state = await (await self.service()).state(session_id)
        run = state.get("run")
        if not run:
            return answer_markdown(None), evidence_markdown([]), NO_MAP
        html_map = await asyncio.to_thread(map_iframe, [map_layer(run)], self.tiles)
        return (
            answer_markdown(run.get("prediction"), run.get("error")),
            evidence_markdown(run.get("evidence") or [], run.get("hypotheses") or []),
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
        self,
        message: dict[str, Any] | None,
        session_id: str | None,
        history: list[Any] | None,
        token: Any = None,
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
        if is_image_command(text):  # no server path is opened, or even looked at
            history.append({"role": "user", "content": esc(text)})
            history.append({"role": "assistant", "content": f"⚠️ {esc(UPLOADS_ONLY)}"})
            yield history, cleared, keep, keep, keep, keep
            return
        svc = await self.service()
        sid = session_id or svc.new_session_id()
        if not await self._take(sid, token):
            history.append({"role": "assistant", "content": f"⚠️ {NOT_AVAILABLE}"})
            yield history, cleared, keep, keep, keep, keep
            return
        show = await asyncio.to_thread(self._showable, image) if image else False
        history += self._user_messages(text, image, show)
        if len(files) > 1:
            history.append(
                {"role": "assistant", "content": "Only the first photo of a message is used."}
            )
        yield history, cleared, keep, keep, keep, keep
        async for out in self._stream(svc.send(sid, text, image), sid, history, image, token):
            yield out

    async def resume(
        self, session_id: str | None, history: list[Any] | None, token: Any = None
    ) -> AsyncIterator[Any]:
        """Finish an answer cut off by a crash, from its last completed stage."""
        history = list(history or [])
        svc = await self.service()
        if (
            not session_id
            or not await self._may_use(session_id, token)
            or not await svc.interrupted(session_id)
        ):
            history.append({"role": "assistant", "content": "Nothing to resume here."})
            yield (history, *[gr.skip()] * 5, gr.Button(visible=False))
            return
        async for out in self._stream(svc.resume(session_id), session_id, history, None, token):
            yield (*out, gr.Button(visible=False))

    async def _stream(
        self,
        events: AsyncIterator[Any],
        sid: str,
        history: list[Any],
        upload: str | None,
        token: Any = None,
    ) -> AsyncIterator[Outputs]:
        keep = gr.skip()
        stages: list[tuple[str, str]] = []
        box: dict[str, Any] | None = None
        t0 = shown = time.perf_counter()
        writing = ""  # the model's text of the call in progress (streamed)
        reply = None
        try:
            async for event in events:
                if event.type in ("progress", "text"):
                    if event.type == "progress":
                        stages.append((event.stage or "", event.text))
                        writing = ""
                    else:
                        writing += event.text
                        if time.perf_counter() - shown < STREAM_EVERY_S:
                            continue  # a browser update per piece would flood the page
                    shown = time.perf_counter()
                    if box is None:
                        box = {
                            "role": "assistant",
                            "content": "",
                            "metadata": {"title": WORKING, "status": "pending"},
                        }
                        history.append(box)
                    box["content"] = progress_markdown(stages, writing)
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
        session = gr.Dropdown(choices=await self.choices(sid, token), value=sid)
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
        # the browser's signed owner id, kept in its local storage across visits
        owner = gr.BrowserState(None, storage_key=OWNER_KEY)
        panels = [answer, evidence, map_html]
        page = [session, chat, *panels, resume]
        demo.load(web.load, owner, [*page, owner])
        new.click(web.new_session, owner, page)
        delete.click(web.delete_session, [session, owner], page)
        session.input(web.open_session, [session, owner], [chat, *panels, resume])
        # progress shows on the conversation only: the input box stays visible meanwhile
        # (a second message waits: submit triggers once at a time)
        box.submit(
            web.respond,
            [box, session, chat, owner],
            [chat, box, *panels, session],
            show_progress_on=chat,
        )
        resume.click(
            web.resume,
            [session, chat, owner],
            [chat, box, *panels, session, resume],
            show_progress_on=chat,
        )
    return demo


def launch(
    web: WebChat,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    block: bool = True,
    auth: tuple[str, str] | None = None,
    max_file_size: str | int = MAX_UPLOAD,
) -> gr.Blocks:
    """Serve the page; nothing is shared or fetched from the internet. `auth`: one
    user name and password (HTTP basic login through Gradio's login page)."""
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
        max_file_size=max_file_size,
        auth=auth,
        allowed_paths=svc_dirs,
        footer_links=[],
        css=CSS,
    )
    return demo
