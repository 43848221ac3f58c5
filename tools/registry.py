"""Which tools exist: the built-in ones plus third-party plugins.

A plugin package advertises its tools in the entry-point group `gre_agent.tools`:

    [project.entry-points."gre_agent.tools"]
    my_tool = "my_package.module:MyTool"

The target is a `Tool` subclass (or a list of them).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from gre_agent.core.errors import GreError
from gre_agent.core.settings import Settings, load_settings
from gre_agent.tools.base import Tool

if TYPE_CHECKING:
    from gre_agent.tools.mcp.source import McpSource

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "gre_agent.tools"

# "module:Class" of each built-in tool; imported lazily so `gre tools list` stays fast.
BUILTIN: tuple[str, ...] = (
    "gre_agent.tools.gazetteer:GeocodeTool",
    "gre_agent.tools.gazetteer:ReverseTool",
    "gre_agent.tools.gazetteer:SpotTool",
    "gre_agent.tools.osm:FeaturesNearTool",
    "gre_agent.tools.osm:FindNamedTool",
    "gre_agent.tools.osm:StreetIntersectionTool",
    "gre_agent.tools.osm:FindAddressTool",
    "gre_agent.tools.wikipedia:SearchTool",
    "gre_agent.tools.wikipedia:PageTool",
    "gre_agent.tools.wikipedia:GeosearchTool",
    "gre_agent.tools.exif:GpsTool",
    "gre_agent.tools.country:FactsTool",
    "gre_agent.tools.country:GeoCheckTool",
    "gre_agent.tools.ocr:ReadTool",
)


class UnknownToolError(GreError, KeyError):
    """No tool of that name is registered (a KeyError, as for a missing mapping key)."""

    def __init__(self, name: str, known: Iterable[str]):
        self.name = name
        super().__init__(f"unknown tool {name!r}; known tools: {', '.join(sorted(known))}")

    def __str__(self) -> str:
        return str(self.args[0])


def _load(target: str) -> list[type[Tool]]:
    module, _, attr = target.partition(":")
    obj = getattr(importlib.import_module(module), attr)
    classes = list(obj) if isinstance(obj, list | tuple) else [obj]
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, Tool)):
            raise TypeError(f"{target} is not a gre_agent Tool subclass")
    return classes


def discover(include_plugins: bool = True) -> dict[str, type[Tool]]:
    """Tool classes by name. A broken plugin is logged and skipped, never fatal."""
    found: dict[str, type[Tool]] = {}
    for target in BUILTIN:
        for cls in _load(target):
            found[cls.name] = cls
    if include_plugins:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                classes = _load(ep.value)
            except Exception as exc:
                log.warning("skipping tool plugin %s (%s): %s", ep.name, ep.value, exc)
                continue
            for cls in classes:
                if cls.name in found:
                    log.warning(
                        "plugin %s redefines tool %s; keeping the first", ep.value, cls.name
                    )
                    continue
                found[cls.name] = cls
    return found


class Registry:
    """Tool instances sharing one Settings (and so one cache and rate limits).

    `classes` holds the Python tools (built-in and plugins). The tools of the MCP servers
    in `settings.mcp_servers` join as `<prefix>.<tool>` (`Tool.source == "mcp"`); a server
    is started or reached only when one of its tools is first asked for.
    """

    def __init__(self, settings: Settings | None = None, include_plugins: bool = True):
        self.settings = settings or load_settings()
        self.classes = discover(include_plugins)
        self._instances: dict[str, Tool] = {}
        self._mcp: list[McpSource] = []
        if self.settings.mcp_servers:
            from gre_agent.tools.mcp.source import McpSource  # imports the MCP SDK

            self._mcp = [McpSource(s, self.settings) for s in self.settings.mcp_servers]

    def names(self) -> list[str]:
        return sorted([*self.classes, *self.mcp_names()])

    def mcp_names(self) -> list[str]:
        """Names of the MCP servers' tools (lists each server; one that is down has none)."""
        own = set(self.classes)
        return sorted(n for src in self._mcp for n in src.names() if n not in own)

    def _source(self, name: str) -> McpSource | None:
        return next((src for src in self._mcp if src.owns(name)), None)

    def get(self, name: str) -> Tool:
        if name in self._instances:
            return self._instances[name]
        if name in self.classes:
            tool = self._instances[name] = self.classes[name](self.settings)
            return tool
        source = self._source(name)
        found = source.get(name) if source is not None else None
        if found is None:
            raise UnknownToolError(name, self.classes)
        return found

    def __contains__(self, name: object) -> bool:
        if name in self.classes:
            return True
        if not isinstance(name, str):
            return False
        source = self._source(name)
        return source is not None and source.has(name)

    def tools(self) -> list[Tool]:
        return [self.get(n) for n in self.names()]

    def close(self) -> None:
        """End the sessions of the MCP servers this registry used (reopened on next use)."""
        for source in self._mcp:
            source.close()
