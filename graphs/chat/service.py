"""Chat sessions over the chat graph, persisted in SQLite: the API both chats use.

    from gre_agent.graphs.chat import ChatContext, ChatService

    async with ChatService("sessions.sqlite", lambda: ChatContext(backend="openai")) as chat:
        sid = chat.new_session_id()
        async for event in chat.send(sid, "where is this?", image="photo.jpg"):
            if event.type == "progress":       # one per GRE stage: event.stage, event.text
                print(event.stage, event.text)
            else:                              # last: the reply
                reply = event.reply            # .text .prediction .evidence .hypotheses ...
        async for event in chat.send(sid, "I think it is Finland"):   # re-verify with the hint
            ...
        async for event in chat.send(sid, "why not Sweden?"):         # from the stored trace
            ...
        await chat.sessions()      # [SessionInfo(id, title, created, updated, turns, ...)]
        await chat.history(sid)    # [Turn(role, text, image, reply)]
        await chat.map_layer(sid)  # graphs.gre.map.MapLayer of the current answer
        await chat.delete(sid)

Each session is one LangGraph thread in an AsyncSqliteSaver. Every step is written before
the next one starts (durability "sync"), and the GRE agent runs as a subgraph that
checkpoints each of its stages, so a process killed at any point loses at most the stage
it was in: `history` shows the conversation up to there, `SessionInfo.interrupted` /
`interrupted()` say an answer was cut off, and `resume` finishes it from the last completed
stage (a new `send` instead starts a fresh turn and drops the cut-off one).

Images are copied into `images_dir` (default: `chat-images/` beside the database) before
the graph sees them, so a session can be re-verified or mapped after an upload's temporary
file is gone. Bad input (an empty message, a file that is not an image, a corrupt or
oversized image) gets a reply with intent "error" and a clear `text`; the session goes on.

One service per event loop; `send` calls on one session run one after another, calls on
different sessions run concurrently and never see each other's state.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosqlite
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from gre_agent.core.text import safe_text
from gre_agent.graphs.chat.context import ChatContext
from gre_agent.graphs.chat.events import ChatEvent, Reply, SessionInfo, Turn

__all__ = ["ChatService", "default_db_path"]

# Who owns a session (the web server's signed browser ids); terminal sessions have no row.
_OWNERS_SQL = """
CREATE TABLE IF NOT EXISTS chat_owners (
    session_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL
)
"""

_SESSIONS_SQL = """
CREATE TABLE IF NOT EXISTS chat_sessions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL
)
"""


def default_db_path() -> Path:
    """$GRE_HOME/sessions.sqlite (settings.home)."""
    from gre_agent.core.settings import load_settings

    return load_settings().home / "sessions.sqlite"


def _title(text: str, image: str | None) -> str:
    words = " ".join(text.split())
    if image and not words:
        words = f"photo {Path(image).name}"
    return words[:60]


class ChatService:
    def __init__(
        self,
        db_path: str | Path | None = None,
        context_factory: Callable[[], ChatContext] | ChatContext | None = None,
        *,
        images_dir: str | Path | None = None,
    ):
        self.db_path = Path(db_path) if db_path else default_db_path()
        self.images_dir = Path(images_dir) if images_dir else self.db_path.parent / "chat-images"
        if context_factory is None or isinstance(context_factory, ChatContext):
            fixed = context_factory or ChatContext()
            self._context: Callable[[], ChatContext] = lambda: fixed
        else:
            self._context = context_factory
        self._conn: aiosqlite.Connection | None = None
        self._graph: Any = None
        self._locks: dict[str, asyncio.Lock] = {}

    # --- lifecycle ----------------------------------------------------------------------

    async def open(self) -> ChatService:
        from gre_agent.graphs.chat.graph import build_graph

        if self._conn is not None:
            return self
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = await aiosqlite.connect(self.db_path)
        saver = AsyncSqliteSaver(self._conn)
        await saver.setup()
        await self._conn.execute(_SESSIONS_SQL)
        await self._conn.execute(_OWNERS_SQL)
        await self._conn.commit()
        self._graph = build_graph(checkpointer=saver)
        return self

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
            self._graph = None

    async def __aenter__(self) -> ChatService:
        return await self.open()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    @property
    def graph(self) -> Any:
        """The compiled chat graph with the SQLite checkpointer."""
        if self._graph is None:
            raise RuntimeError("ChatService is not open: use `async with` or `await open()`")
        return self._graph

    # --- turns --------------------------------------------------------------------------

    @staticmethod
    def new_session_id() -> str:
        return uuid.uuid4().hex[:12]

    def _config(self, session_id: str) -> dict[str, Any]:
        if not session_id or not str(session_id).strip():
            raise ValueError("session id must not be empty")
        return {"configurable": {"thread_id": str(session_id)}}

    def store_image(self, image: str | Path) -> str:
        """Copy a photo into images_dir (content-addressed); a missing path stays as is, for
        the graph to report."""
        src = Path(image).expanduser()
        if not src.is_file():
            return str(src)
        digest = hashlib.sha256()
        with open(src, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        self.images_dir.mkdir(parents=True, exist_ok=True)
        dest = self.images_dir / f"{digest.hexdigest()[:20]}{src.suffix.lower()[:8]}"
        if not dest.exists():
            tmp = dest.with_name(dest.name + ".tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(dest)
        return str(dest)

    async def send(
        self, session_id: str, text: str = "", image: str | Path | None = None
    ) -> AsyncIterator[ChatEvent]:
        """One user message (text and/or a photo): progress events, then the reply."""
        config = self._config(session_id)
        text = safe_text(text or "")  # a browser may send lone surrogates; SQLite refuses them
        stored = self.store_image(image) if image else None
        extra = {"image": stored} if stored else {}
        message = HumanMessage(content=text or "", additional_kwargs=extra)
        title = _title(text or "", str(image) if image else None)
        inputs = {"messages": [message], "image": stored}
        async for event in self._run(session_id, inputs, config, title):
            yield event

    async def resume(self, session_id: str) -> AsyncIterator[ChatEvent]:
        """Finish an answer that was cut off, from its last completed stage."""
        config = self._config(session_id)
        if not await self.interrupted(session_id):
            raise ValueError(f"session {session_id!r} has no interrupted answer")
        async for event in self._run(session_id, None, config):
            yield event

    async def _run(
        self,
        session_id: str,
        inputs: dict[str, Any] | None,
        config: dict[str, Any],
        title: str = "",
    ) -> AsyncIterator[ChatEvent]:
        """The graph's events; the session is listed (`sessions`) from the first sign that
        the message was accepted (a stage of the agent, or a reply that is not an error),
        so a bad upload or an empty message in a new session leaves no empty one behind,
        and a run cut off after its first stage is listed to be resumed."""
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            listed = await self.exists(session_id)
            if listed:
                await self._touch(session_id, title)
            values: dict[str, Any] = {}
            async for mode, chunk in self.graph.astream(
                inputs,
                config,
                context=self._context(),
                stream_mode=["custom", "values"],
                durability="sync",
            ):
                if mode == "custom" and not listed:
                    await self._touch(session_id, title)
                    listed = True
                if mode == "custom":
                    streamed = "delta" in chunk
                    yield ChatEvent(
                        type="text" if streamed else "progress",
                        session_id=session_id,
                        stage=chunk.get("stage"),
                        text=chunk.get("delta" if streamed else "text", ""),
                    )
                else:
                    values = chunk
            reply = values.get("reply")
            if reply is None:
                raise RuntimeError("the chat graph ended without a reply")
            answer = Reply.model_validate(reply)
            if listed or answer.intent != "error":
                await self._touch(session_id, title)
            yield ChatEvent(type="reply", session_id=session_id, reply=answer)

    # --- sessions -----------------------------------------------------------------------

    async def _touch(self, session_id: str, title: str = "") -> None:
        now = time.time()
        assert self._conn is not None
        await self._conn.execute(
            "INSERT INTO chat_sessions (id, title, created, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET updated = excluded.updated, "
            "title = CASE WHEN chat_sessions.title = '' THEN excluded.title "
            "ELSE chat_sessions.title END",
            (session_id, title, now, now),
        )
        await self._conn.commit()

    async def state(self, session_id: str) -> dict[str, Any]:
        """The session's chat state (empty for an unknown session)."""
        snapshot = await self.graph.aget_state(self._config(session_id))
        return dict(snapshot.values or {})

    async def interrupted(self, session_id: str) -> bool:
        snapshot = await self.graph.aget_state(self._config(session_id))
        return bool(snapshot.next)

    async def exists(self, session_id: str) -> bool:
        assert self._conn is not None
        async with self._conn.execute(
            "SELECT 1 FROM chat_sessions WHERE id = ?", (session_id,)
        ) as cur:
            return await cur.fetchone() is not None

    async def claim(self, session_id: str, owner: str) -> str:
        """Give a session an owner unless it has one; the session's owner."""
        assert self._conn is not None
        await self._conn.execute(
            "INSERT OR IGNORE INTO chat_owners (session_id, owner) VALUES (?, ?)",
            (session_id, owner),
        )
        await self._conn.commit()
        return await self.owner_of(session_id) or owner

    async def owner_of(self, session_id: str) -> str | None:
        assert self._conn is not None
        async with self._conn.execute(
            "SELECT owner FROM chat_owners WHERE session_id = ?", (session_id,)
        ) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def sessions(self, owner: str | None = None) -> list[SessionInfo]:
        """All sessions (with `owner`: only that owner's), most recently used first."""
        _ = self.graph
        assert self._conn is not None
        sql = "SELECT id, title, created, updated FROM chat_sessions"
        args: tuple[str, ...] = ()
        if owner is not None:
            sql += " WHERE id IN (SELECT session_id FROM chat_owners WHERE owner = ?)"
            args = (owner,)
        async with self._conn.execute(sql + " ORDER BY updated DESC", args) as cur:
            rows = await cur.fetchall()
        out = []
        for sid, title, created, updated in rows:
            snapshot = await self.graph.aget_state(self._config(sid))
            messages = (snapshot.values or {}).get("messages") or []
            out.append(
                SessionInfo(
                    id=sid,
                    title=title,
                    created=created,
                    updated=updated,
                    turns=len(messages),
                    interrupted=bool(snapshot.next),
                )
            )
        return out

    async def history(self, session_id: str) -> list[Turn]:
        """The session's messages in order (user turns with their photo, replies)."""
        turns = []
        for msg in (await self.state(session_id)).get("messages") or []:
            extra = getattr(msg, "additional_kwargs", {}) or {}
            if isinstance(msg, HumanMessage):
                turns.append(Turn(role="user", text=_text(msg.content), image=extra.get("image")))
            elif isinstance(msg, AIMessage):
                reply = Reply.model_validate(extra["reply"]) if extra.get("reply") else None
                turns.append(Turn(role="assistant", text=_text(msg.content), reply=reply))
        return turns

    async def map_layer(self, session_id: str) -> Any:
        """The session's current answer as a graphs.gre.map.MapLayer (None before any run):
        hypotheses, first guess, evidence points, answer. Draw it with
        `graphs.gre.map.write_map(path, [layer])` or `render_html(build_map([layer]))`."""
        from gre_agent.graphs.chat.maps import run_layer

        run = (await self.state(session_id)).get("run")
        return run_layer(run) if run else None

    async def delete(self, session_id: str) -> bool:
        """Forget a session (its checkpoints and its row); False if there was none."""
        known = await self.exists(session_id)
        await self.graph.checkpointer.adelete_thread(str(session_id))
        assert self._conn is not None
        await self._conn.execute("DELETE FROM chat_sessions WHERE id = ?", (session_id,))
        await self._conn.execute("DELETE FROM chat_owners WHERE session_id = ?", (session_id,))
        await self._conn.commit()
        return known


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(
        p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
    )
