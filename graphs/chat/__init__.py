"""The chat graph: conversations about photos, with the GRE agent as a subgraph, persisted
sessions, and answers to follow-up questions from the stored run.

    from gre_agent.graphs.chat import ChatContext, ChatService

    async with ChatService(db_path, lambda: ChatContext(backend="openai")) as chat:
        async for event in chat.send("session-1", "", image="photo.jpg"):
            ...  # ChatEvent: progress per stage, then the reply

See service.py for the whole API, graph.py for the graph.
"""

from gre_agent.graphs.chat.context import ChatContext
from gre_agent.graphs.chat.events import ChatEvent, Intent, Reply, SessionInfo, Turn
from gre_agent.graphs.chat.graph import build_graph, graph
from gre_agent.graphs.chat.service import ChatService, default_db_path
from gre_agent.graphs.chat.state import ChatState, InputState

__all__ = [
    "ChatContext",
    "ChatEvent",
    "ChatService",
    "ChatState",
    "InputState",
    "Intent",
    "Reply",
    "SessionInfo",
    "Turn",
    "build_graph",
    "default_db_path",
    "graph",
]
