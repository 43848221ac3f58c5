"""HTTP for the online backends: one `requests` session per backend with
- a persistent SQLite response cache (requests-cache) in one of three modes,
- a machine-wide minimum interval between network requests (cache hits are free): the
  next free slot lives in a file under $GRE_HOME, taken under a file lock, so eval shards,
  `gre web` and `gre chat` on one machine share Nominatim's one request per second,
- retries with exponential backoff on 429/5xx that honour Retry-After (urllib3),
- errors mapped onto ToolFailure kinds.

Tools call the sync `request_json` from a worker thread (`asyncio.to_thread`), so the
threading lock of the rate limiter covers every concurrent caller in the process.
"""

from __future__ import annotations

import contextvars
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from gre_agent.core.errors import ErrorKind, GreError, ToolFailure
from gre_agent.core.settings import CacheMode, ToolSettings
from gre_agent.core.text import safe_value

SHARED_LIMITS = sys.platform != "win32"  # flock is POSIX; on Windows the limit is per process
if SHARED_LIMITS:
    import fcntl

RETRY_STATUSES = (429, 500, 502, 503, 504)

# Each tool call collects whether its HTTP responses came from the cache.
cache_hits: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "gre_cache_hits", default=None
)


class RetryAfterTooLong(GreError):
    """The server asked us to wait longer than we are willing to."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(f"server asked to retry after {seconds:.0f} s")


class _CappedRetry(Retry):
    """urllib3 Retry that refuses to sleep for an unreasonable Retry-After."""

    max_retry_after_s: float = 30.0

    def new(self, **kw: Any) -> _CappedRetry:
        new = super().new(**kw)
        new.max_retry_after_s = self.max_retry_after_s
        return new

    def sleep_for_retry(self, response: Any = None) -> bool:
        after = self.get_retry_after(response) if response is not None else None
        if after is not None and after > self.max_retry_after_s:
            raise RetryAfterTooLong(after)
        return super().sleep_for_retry(response)


class RateLimiter:
    """At most one request per `interval` seconds, shared by all threads.

    Each caller reserves the next free slot under the lock, then sleeps until it outside
    the lock, so concurrent callers leave one `interval` apart in the order they reserved.
    With `state_file`, the next free slot is also kept in that file and read and written
    under an exclusive `flock` on it, so every process that shares the file shares the
    schedule (time.monotonic is one clock for the whole machine on Linux and macOS).
    `clock` and `sleep` are injectable so tests can check the schedule without waiting.
    """

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        state_file: Path | None = None,
    ):
        self.interval = interval
        self.state_file = state_file
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def reserve(self) -> float:
        """Take the next free slot; return how many seconds to wait until it."""
        if self.interval <= 0:
            return 0.0
        with self._lock:
            if self.state_file is not None and SHARED_LIMITS:
                return self._reserve_shared(self.state_file)
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        return slot - now

    def _reserve_shared(self, path: Path) -> float:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by close
            now = self._clock()
            try:
                shared = float(os.read(fd, 64).decode() or 0.0)
            except ValueError:  # a torn or foreign file: start afresh
                shared = 0.0
            if shared > now + 3600 * self.interval:  # from before a reboot: ignore
                shared = 0.0
            slot = max(now, self._next, shared)
            self._next = slot + self.interval
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, repr(self._next).encode())
        finally:
            os.close(fd)
        return slot - now

    def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            self._sleep(delay)


_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(key: str, interval: float, state_file: Path | None = None) -> RateLimiter:
    """The process-wide limiter of one backend (created on first use); with `state_file`
    its schedule is shared with every process that uses the same file. One that exists
    stays (tests put their own in `_limiters`) unless the interval changed."""
    with _limiters_lock:
        limiter = _limiters.get(key)
        if limiter is None or limiter.interval != interval:
            limiter = _limiters[key] = RateLimiter(interval, state_file=state_file)
        return limiter


class _LimitedAdapter(HTTPAdapter):
    """Transport adapter that waits for the rate limiter; only real requests reach it."""

    def __init__(self, limiter: RateLimiter, **kw: Any):
        self.limiter = limiter
        super().__init__(**kw)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        self.limiter.wait()
        return super().send(request, stream, timeout, verify, cert, proxies)


def make_session(
    name: str, tool: ToolSettings, cache_mode: CacheMode, cache_dir: Path, user_agent: str
) -> requests.Session:
    """A session for backend `name` (its own cache file and rate limiter)."""
    if cache_mode is CacheMode.off:
        session: requests.Session = requests.Session()
    else:
        import requests_cache  # 0.1 s of imports an offline tool call never needs

        cache_dir.mkdir(parents=True, exist_ok=True)
        session = requests_cache.CachedSession(
            str(cache_dir / f"http-{name}.sqlite"),
            backend="sqlite",
            expire_after=requests_cache.NEVER_EXPIRE,
            allowable_methods=("GET", "POST"),
            allowable_codes=(200,),
            only_if_cached=cache_mode is CacheMode.replay_only,
        )
    retry = _CappedRetry(
        total=tool.retries,
        connect=tool.retries,
        read=tool.retries,
        status=tool.retries,
        backoff_factor=tool.backoff_s,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,  # Overpass queries go by POST and are idempotent
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    retry.max_retry_after_s = tool.max_retry_after_s
    # the schedule is shared machine-wide through a file next to the caches ($GRE_HOME)
    limiter = limiter_for(name, tool.min_interval_s, cache_dir / f"rate-{name}.next")
    adapter = _LimitedAdapter(limiter, max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    session.headers.update(tool.headers)  # a self-hosted instance may want a token
    session.hooks["response"].append(_record_cache_hit)
    return session


def _record_cache_hit(response: requests.Response, *args: Any, **kw: Any) -> None:
    hits = cache_hits.get()
    if hits is not None:
        hits.append(bool(getattr(response, "from_cache", False)))


def request_raw(
    session: requests.Session, method: str, url: str, *, timeout: float, **kw: Any
) -> requests.Response:
    """Send a request; map every failure onto a ToolFailure kind."""
    try:
        response = session.request(method, url, timeout=timeout, **kw)
    except RetryAfterTooLong as exc:
        raise ToolFailure(ErrorKind.rate_limited, str(exc)) from exc
    except requests.Timeout as exc:
        raise ToolFailure(ErrorKind.timeout, f"{url} did not answer in {timeout} s") from exc
    except requests.ConnectionError as exc:
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        if isinstance(reason, ReadTimeoutError):
            raise ToolFailure(ErrorKind.timeout, f"{url} did not answer in {timeout} s") from exc
        raise ToolFailure(ErrorKind.http_error, f"cannot reach {url}: {exc}") from exc
    except requests.RequestException as exc:
        raise ToolFailure(ErrorKind.http_error, f"{url}: {exc}") from exc
    # requests-cache answers a replay-only miss with a synthetic 504 (only 200s are stored)
    replay_only = getattr(getattr(session, "settings", None), "only_if_cached", False)
    if replay_only and response.status_code == 504:
        raise ToolFailure(ErrorKind.cache_miss, f"no cached answer for {method} {url}")
    status = response.status_code
    if status == 429:
        raise ToolFailure(ErrorKind.rate_limited, f"{url} answered 429 Too Many Requests")
    if status == 404:
        raise ToolFailure(ErrorKind.not_found, f"{url} answered 404")
    if status >= 400:
        raise ToolFailure(ErrorKind.http_error, f"{url} answered HTTP {status}")
    return response


def request_json(
    session: requests.Session, method: str, url: str, *, timeout: float, **kw: Any
) -> Any:
    """`request_raw`, then the body parsed as JSON (bad_response if it is not)."""
    response = request_raw(session, method, url, timeout=timeout, **kw)
    try:
        return safe_value(response.json())  # a lone surrogate in a tool's text: U+FFFD
    except (ValueError, json.JSONDecodeError) as exc:
        raise ToolFailure(
            ErrorKind.bad_response, f"{url} did not return JSON: {response.text[:120]!r}"
        ) from exc
