"""The model layer's error: one class under GreError, with the shared ErrorKind.

GreError
└── ModelError            a backend could not produce a completion; `kind` says why:
      timeout             the server (every endpoint) took longer than timeout_s
      http_error          4xx/5xx answers after retries and failover
      bad_response        the answer was not a valid chat completion (malformed JSON ...)
      unavailable         no endpoint reachable, or the model/weights cannot be loaded
      invalid_args        the request itself is wrong (unreadable image, bad message)
      cache_miss          replay: the trace holds no answer for this request
"""

from __future__ import annotations

from gre_agent.core.errors import ErrorKind, GreError


class ModelError(GreError):
    """A model backend could not produce a completion; `kind` says why."""

    def __init__(self, kind: ErrorKind | str, message: str, *, status: int | None = None):
        self.kind = ErrorKind(kind)
        self.message = message
        self.status = status
        super().__init__(f"{self.kind}: {message}")
