"""The project's error tree.

    GreError                      root of every error gre_agent raises on purpose
    ├── ConfigError               bad settings or missing offline data
    ├── ToolFailure               a tool could not answer; carries an ErrorKind
    ├── PromptError               a prompt template is missing or lacks a value
    ├── ModelError                a model backend gave no completion; carries an ErrorKind
                                  (timeout, http_error, bad_response, unavailable,
                                  invalid_args, cache_miss): `agent.backends`
    └── AnswerParseError          a model's answer holds no valid coordinates (the reason
                                  says which: none found, or out of range); only
                                  `agent.parsing.parse_answer` raises it: stage parsers
                                  never raise on model text

Inside the agent a ToolFailure never escapes: `Tool.run` turns it (and any other
exception) into a typed error result the model and the trace can read.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    timeout = "timeout"
    rate_limited = "rate_limited"
    http_error = "http_error"
    bad_response = "bad_response"
    not_found = "not_found"
    invalid_args = "invalid_args"
    cache_miss = "cache_miss"  # replay-only cache had no answer; nothing was sent
    unavailable = "unavailable"  # backend not set up (e.g. offline data not imported)
    internal = "internal"  # a bug in a tool: reported, never raised into the agent


class GreError(Exception):
    """Root of the errors gre_agent raises on purpose."""


class ConfigError(GreError):
    """Settings are invalid or offline data is missing."""


class ToolFailure(GreError):
    """A tool could not produce a result; `kind` says why."""

    def __init__(self, kind: ErrorKind | str, message: str):
        self.kind = ErrorKind(kind)
        self.message = message
        super().__init__(f"{self.kind}: {message}")


class PromptError(GreError):
    """A prompt template does not exist, or a value it needs was not given."""


class AnswerParseError(GreError):
    """No valid coordinates in a model's answer; `reason` says why, `text` is the input."""

    def __init__(self, reason: str, text: str = ""):
        self.reason = reason
        self.text = text
        super().__init__(reason)
