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

# The module holding each family's built-in tools, by name prefix ("gazetteer" of
# "gazetteer.geocode"): `Registry.get` imports only that module for a built-in name, so
# `gre tools call` waits for one family, not all of them (tests check it against BUILTIN).
FAMILIES: dict[str, str] = {
    "gazetteer": "gre_agent.tools.gazetteer",
    "osm": "gre_agent.tools.osm",
    "wikipedia": "gre_agent.tools.wikipedia",
    "exif": "gre_agent.tools.exif",
    "country": "gre_agent.tools.country",
    "geo": "gre_agent.tools.country",
    "ocr": "gre_agent.tools.ocr",
}


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


def builtin_class(name: str) -> type[Tool] | None:
    """The built-in tool class called `name`, importing only its family's module; None
    when no built-in has that name. Built-ins win over plugins, so no plugin is loaded."""
    module = FAMILIES.get(name.partition(".")[0])
    found = None
    for target in BUILTIN:
        if target.partition(":")[0] == module:
            for cls in _load(target):
                if cls.name == name:
                    found = cls  # the last one, as in discover()
    return found


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

    `classes` holds the Python tools (built-in and plugins), discovered on first use;
    `get` and `in` of a built-in name import only that tool's family. The tools of the MCP
    servers in `settings.mcp_servers` join as `<prefix>.<tool>` (`Tool.source == "mcp"`); a
    server is started or reached only when one of its tools is first asked for.
    """

    def __init__(self, settings: Settings | None = None, include_plugins: bool = True):
        self.settings = settings or load_settings()
        self.include_plugins = include_plugins
        self._classes: dict[str, type[Tool]] | None = None
        self._instances: dict[str, Tool] = {}
        self._mcp: list[McpSource] = []
        if self.settings.mcp_servers:
            from gre_agent.tools.mcp.source import McpSource  # imports the MCP SDK

            self._mcp = [McpSource(s, self.settings) for s in self.settings.mcp_servers]

    @property
    def classes(self) -> dict[str, type[Tool]]:
        """Every Python tool class by name: imports all the families (and plugins)."""
        if self._classes is None:
            self._classes = discover(self.include_plugins)
        return self._classes

    def _class(self, name: str) -> type[Tool] | None:
        if self._classes is None and (cls := builtin_class(name)) is not None:
            return cls
        return self.classes.get(name)

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
        cls = self._class(name)
        if cls is not None:
            tool = self._instances[name] = cls(self.settings)
            return tool
        source = self._source(name)
        found = source.get(name) if source is not None else None
        if found is None:
            raise UnknownToolError(name, self.classes)
        return found

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if self._class(name) is not None:
            return True
        source = self._source(name)
        return source is not None and source.has(name)

    def tools(self) -> list[Tool]:
        return [self.get(n) for n in self.names()]

    def close(self) -> None:
        """End the sessions of the MCP servers this registry used (reopened on next use)."""
        for source in self._mcp:
            source.close()
