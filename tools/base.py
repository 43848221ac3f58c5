"""The one interface every tool implements.

A tool is a class with a dotted `name` (`family.verb`), a `description` the model
reads, pydantic `Args` and `Result` models, and one method per backend (`online`,
`offline`; sync or async). `Tool.run` validates the arguments, picks the backend from
the settings, enforces a timeout, and always returns a `ToolOutcome`: the tool's own
`Result` model, or a failure recorded as a `ToolErrorInfo`, never an exception escaping
into the agent. Readers get the result typed with `outcome.value(GeocodeResult)`; its
JSON form (what traces store) is `outcome.model_dump(mode="json")["result"]`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypeVar

import requests
from pydantic import BaseModel, Field, SerializeAsAny, ValidationError

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.http import cache_hits, make_session
from gre_agent.core.settings import Settings, load_settings

Backend = Literal["online", "offline"]
R = TypeVar("R", bound=BaseModel)


class ToolErrorInfo(BaseModel):
    """Why a tool call failed: a record in the outcome, not an exception."""

    kind: ErrorKind
    message: str


class ToolOutcome(BaseModel):
    """What one tool call produced; the unit recorded in traces."""

    tool: str
    backend: str
    args: dict[str, Any]
    # The tool's own Result instance; dumped as that class (not as a bare BaseModel).
    result: SerializeAsAny[BaseModel] | None = None
    error: ToolErrorInfo | None = None
    cached: bool = Field(False, description="Every HTTP answer came from the cache.")
    latency_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def value(self, cls: type[R]) -> R:
        """The result as the tool's Result class `cls`; TypeError if it is not one."""
        if not isinstance(self.result, cls):
            got = "no result" if self.result is None else type(self.result).__name__
            raise TypeError(f"{self.tool} gave {got}, not {cls.__name__}")
        return self.result


class Tool:
    """Base class of all tools. Subclasses set the class attributes and backends."""

    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[BaseModel]]
    Result: ClassVar[type[BaseModel]]
    #: Backends this tool implements, the first being the fallback.
    backends: ClassVar[tuple[Backend, ...]] = ("offline", "online")
    #: Where the tool comes from: "python" (built-in or plugin class) or "mcp" (a
    #: configured MCP server's tool, see tools/mcp).
    source: ClassVar[str] = "python"

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or load_settings()
        self._sessions: dict[str, requests.Session] = {}

    # -- what subclasses implement -------------------------------------------------
    def online(self, args: Any) -> BaseModel:  # may also be `async def`
        raise ToolFailure(ErrorKind.unavailable, f"{self.name} has no online backend")

    def offline(self, args: Any) -> BaseModel:  # may also be `async def`
        raise ToolFailure(ErrorKind.unavailable, f"{self.name} has no offline backend")

    # -- helpers for subclasses ----------------------------------------------------
    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def backend(self) -> Backend:
        wanted = self.settings.backend_for(self.name)
        return wanted if wanted in self.backends else self.backends[0]

    def session(self, backend_name: str | None = None) -> requests.Session:
        """The cached, rate-limited HTTP session of this tool's online backend."""
        key = backend_name or self.family
        if key not in self._sessions:
            self._sessions[key] = make_session(
                key,
                self.settings.family(self.name),
                self.settings.cache_mode_for(self.name),
                self.settings.cache_dir,
                self.settings.user_agent_for(self.name),
            )
        return self._sessions[key]

    @property
    def time_budget_s(self) -> float:
        """Wall time one call may take, retries and backoff included."""
        fam = self.settings.family(self.name)
        waits = sum(fam.backoff_s * 2**i for i in range(fam.retries))
        return fam.timeout_s * (fam.retries + 1) + waits + fam.min_interval_s * 64 + 1.0

    # -- the entry point -----------------------------------------------------------
    async def run(
        self, args: Mapping[str, Any] | BaseModel | None = None, *, backend: Backend | None = None
    ) -> ToolOutcome:
        started = time.perf_counter()
        backend = backend or self.backend
        raw = args.model_dump() if isinstance(args, BaseModel) else dict(args or {})
        outcome = ToolOutcome(tool=self.name, backend=backend, args=_jsonable(raw))
        hits: list[bool] = []
        token = cache_hits.set(hits)
        try:
            parsed = self.Args.model_validate(raw)
            outcome.args = parsed.model_dump(mode="json")
            method = self.online if backend == "online" else self.offline
            if inspect.iscoroutinefunction(method):
                call = method(parsed)
            else:
                call = asyncio.to_thread(method, parsed)
            result = await asyncio.wait_for(call, timeout=self.time_budget_s)
            outcome.result = self.Result.model_validate(result)
        except ValidationError as exc:
            outcome.error = ToolErrorInfo(kind=ErrorKind.invalid_args, message=_readable(exc))
        except ToolFailure as exc:
            outcome.error = ToolErrorInfo(kind=exc.kind, message=exc.message)
        except TimeoutError:
            outcome.error = ToolErrorInfo(
                kind=ErrorKind.timeout, message=f"{self.name} took over {self.time_budget_s:.1f} s"
            )
        except Exception as exc:  # a bug in a tool must not take the agent down
            outcome.error = ToolErrorInfo(
                kind=ErrorKind.internal, message=f"{type(exc).__name__}: {exc}"
            )
        finally:
            cache_hits.reset(token)
        outcome.cached = outcome.error is None and bool(hits) and all(hits)
        outcome.latency_ms = (time.perf_counter() - started) * 1000
        return outcome

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """Name, description and JSON schemas (what `gre tools list --json` prints)."""
        return {
            "name": cls.name,
            "description": cls.description,
            "backends": list(cls.backends),
            "args_schema": cls.Args.model_json_schema(),
            "result_schema": cls.Result.model_json_schema(),
        }


def _readable(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(value, default=str))
