"""Shared plumbing: settings, the error tree, HTTP with caching and rate limits."""

from gre_agent.core.errors import ErrorKind, GreError, ToolFailure
from gre_agent.core.settings import CacheMode, Settings, ToolSettings, load_settings

__all__ = [
    "CacheMode",
    "ErrorKind",
    "GreError",
    "Settings",
    "ToolFailure",
    "ToolSettings",
    "load_settings",
]
