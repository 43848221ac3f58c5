"""An MCP server's tools as registry tools: `<prefix>.<tool>`, each a `McpTool`.

Nothing connects until a tool of the server is asked for (`names`, `get`). The listing
comes from the live server, except in replay-only mode, where it comes from the cache
and the server is never started. When the listing cannot be had (server down, or a
replay-only cache without it), `get` still answers with a tool that takes any
arguments, so the call reports why (`unavailable`, `timeout`, `cache_miss`) instead of
the name being unknown.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.http import cache_hits
from gre_agent.core.settings import CacheMode, McpServerSettings, Settings
from gre_agent.tools.base import Backend, Tool, ToolOutcome
from gre_agent.tools.mcp.cache import LISTING, McpCache
from gre_agent.tools.mcp.connection import RemoteTool, connection_for
from gre_agent.tools.mcp.schema import SchemaArgs, args_model

log = logging.getLogger(__name__)

RETRY_LISTING_S = 30.0  # after a failed listing, names() skips the server this long
_ERROR_TEXT = re.compile(r"^(?P<kind>[a-z_]+): (?P<message>.*)$", re.DOTALL)


class McpResult(BaseModel):
    """What an MCP tool answered: its content blocks and structured content, as JSON."""

    content: list[dict[str, Any]] = Field(
        default_factory=list, description="MCP content blocks (text, image, resource...)."
    )
    structured_content: Any = Field(None, description="The tool's structured result, if any.")


class McpTool(Tool):
    """A tool of an MCP server. Subclasses are made per listed tool by `tool_class`."""

    source: ClassVar[str] = "mcp"
    Result = McpResult
    Args: ClassVar[type[BaseModel]] = SchemaArgs
    server: ClassVar[McpServerSettings]
    remote_name: ClassVar[str]
    #: Set on a tool made without a listing: the source, whose recent failure it reports.
    unlisted_in: McpSource | None = None

    @property
    def time_budget_s(self) -> float:
        return 2 * self.server.timeout_s + 16.0  # McpConnection bounds each step below this

    @property
    def cache_mode(self) -> CacheMode:
        return self.server.cache_mode or self.settings.cache_mode

    @classmethod
    def spec(cls) -> dict[str, Any]:
        return {
            **super().spec(),
            "backends": ["mcp"],
            "source": "mcp",
            "server": cls.server.name,
        }

    async def run(self, args: Any = None, *, backend: Backend | None = None) -> ToolOutcome:
        outcome = await super().run(args, backend=backend)
        outcome.backend = "mcp"  # what traces record: neither our online nor offline code
        return outcome

    # The server decides where its answers come from; both backends call it. They run in
    # Tool.run's worker thread, which waits on the session's own loop (McpConnection).
    def offline(self, args: BaseModel) -> McpResult:
        return self._call(args)

    def online(self, args: BaseModel) -> McpResult:
        return self._call(args)

    def _call(self, args: BaseModel) -> McpResult:
        sent = args.model_dump(mode="json", exclude_unset=True)
        mode = self.cache_mode
        cache = McpCache(self.settings.cache_dir / "mcp.sqlite")
        hits = cache_hits.get()
        if mode is not CacheMode.off:
            stored = cache.get(self.server.name, self.remote_name, sent)
            if stored is not None:
                if hits is not None:
                    hits.append(True)
                return McpResult.model_validate(stored)
            if mode is CacheMode.replay_only:
                raise ToolFailure(
                    ErrorKind.cache_miss,
                    f"no cached answer of {self.server.name}/{self.remote_name} for {sent}",
                )
        known = self.unlisted_in.recent_failure() if self.unlisted_in is not None else None
        if known is not None:  # the server just failed to list: do not wait on it twice
            raise known
        answer = connection_for(self.server).call_tool(self.remote_name, sent)
        if hits is not None:
            hits.append(False)
        if answer.is_error:
            raise remote_error(answer.content)
        result = McpResult(
            content=[
                b.model_dump(mode="json", by_alias=True, exclude_none=True) for b in answer.content
            ],
            structured_content=answer.structured_content,
        )
        if mode is CacheMode.read_write:
            cache.put(self.server.name, self.remote_name, sent, result.model_dump(mode="json"))
        return result


def remote_error(content: list[Any]) -> ToolFailure:
    """The ToolFailure for an isError answer; `kind: message` text (what `gre tools serve`
    sends) keeps its kind, other servers' errors are `internal`."""
    text = "\n".join(getattr(b, "text", "") for b in content).strip() or "the tool failed"
    match = _ERROR_TEXT.match(text)
    if match and match["kind"] in ErrorKind.__members__:
        return ToolFailure(ErrorKind(match["kind"]), match["message"])
    return ToolFailure(ErrorKind.internal, text)


def local_name(remote: str) -> str:
    """A tool name models accept ([A-Za-z0-9_-]) for a server's tool name."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", remote) or "_"


def tool_class(server: McpServerSettings, remote: RemoteTool | None, name: str) -> type[McpTool]:
    """The McpTool subclass of one listed tool (or, without a listing, a tool that takes
    any arguments and reports why the server cannot be used)."""
    camel = "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", name) if p)
    if remote is None:
        args: type[BaseModel] = SchemaArgs
        description = f"A tool of the MCP server {server.name!r} (not listed yet)."
        remote_name = name.split(".", 1)[1]
    else:
        args = args_model(f"{camel}Args", remote.input_schema)
        description = remote.description or f"{remote.name} from the MCP server {server.name!r}."
        remote_name = remote.name
    attrs = {
        "name": name,
        "description": description,
        "Args": args,
        "server": server,
        "remote_name": remote_name,
        "__module__": __name__,
    }
    return type(f"{camel}McpTool", (McpTool,), attrs)


class McpSource:
    """One configured server's tools, for one Registry."""

    def __init__(self, server: McpServerSettings, settings: Settings):
        self.server = server
        self.settings = settings
        self.prefix = server.tool_prefix
        self._classes: dict[str, type[McpTool]] | None = None
        self._failure: ToolFailure | None = None
        self._failed_at = 0.0
        self._instances: dict[str, McpTool] = {}

    @property
    def cache_mode(self) -> CacheMode:
        return self.server.cache_mode or self.settings.cache_mode

    def _listing(self) -> list[RemoteTool] | None:
        cache = McpCache(self.settings.cache_dir / "mcp.sqlite")
        if self.cache_mode is CacheMode.replay_only:
            stored = cache.get(self.server.name, LISTING, {})
            return None if stored is None else [RemoteTool.model_validate(t) for t in stored]
        if self.recent_failure() is not None:
            return None
        try:
            tools = connection_for(self.server).list_tools()
        except ToolFailure as exc:
            log.warning("MCP server %r: no tools listed: %s", self.server.name, exc.message)
            self._failure, self._failed_at = exc, time.monotonic()
            return None
        self._failure = None
        if self.cache_mode is CacheMode.read_write:
            cache.put(self.server.name, LISTING, {}, [t.model_dump(mode="json") for t in tools])
        return tools

    def recent_failure(self) -> ToolFailure | None:
        """Why the last listing failed, within RETRY_LISTING_S of it."""
        if self._failure is not None and time.monotonic() - self._failed_at < RETRY_LISTING_S:
            return self._failure
        return None

    def classes(self) -> dict[str, type[McpTool]]:
        """Tool classes by registry name (lists the server on first use; {} if it cannot)."""
        if self._classes is not None:
            return self._classes
        listing = self._listing()
        if listing is None:
            return {}
        found: dict[str, type[McpTool]] = {}
        for remote in listing:
            name = f"{self.prefix}.{local_name(remote.name)}"
            if name in found:
                log.warning("MCP server %r: two tools map to %s", self.server.name, name)
                continue
            found[name] = tool_class(self.server, remote, name)
        self._classes = found
        return found

    def names(self) -> list[str]:
        return sorted(self.classes())

    def owns(self, name: str) -> bool:
        return name.startswith(self.prefix + ".") and len(name) > len(self.prefix) + 1

    def has(self, name: str) -> bool:
        return self.owns(name) and name in self.classes()

    def get(self, name: str) -> McpTool | None:
        """The tool `name`; None if the server is listed and has no such tool."""
        if name not in self._instances:
            classes = self.classes()
            if name in classes:
                cls = classes[name]
            elif self._classes is None:  # not listed: let the call say why
                cls = tool_class(self.server, None, name)
            else:
                return None
            tool = self._instances[name] = cls(self.settings)
            if name not in classes:
                tool.unlisted_in = self
        return self._instances[name]

    def close(self) -> None:
        connection_for(self.server).close()
