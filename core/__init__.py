"""Shared plumbing: settings, the error tree, HTTP with caching and rate limits.

The names load on first use: importing any `gre_agent.core.*` module runs this file, and
the settings (pydantic-settings) cost a tenth of a second that `gre --help` need not pay."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gre_agent.core.errors import ErrorKind, GreError, ToolFailure
    from gre_agent.core.settings import CacheMode, Settings, ToolSettings, load_settings

_HOMES = {
    "CacheMode": "settings",
    "ErrorKind": "errors",
    "GreError": "errors",
    "Settings": "settings",
    "ToolFailure": "errors",
    "ToolSettings": "settings",
    "load_settings": "settings",
}

__all__ = [
    "CacheMode",
    "ErrorKind",
    "GreError",
    "Settings",
    "ToolFailure",
    "ToolSettings",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"gre_agent.core.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
