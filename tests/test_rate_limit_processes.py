"""Issue 16 (4): Nominatim's one request per second holds across processes on one machine.

Three processes, ten geocode calls each, share $GRE_HOME and send to one local fake
Nominatim, which records arrival times with time.monotonic(): no two arrivals closer than
0.9 s (the limiter schedules 1.0 s apart; the 0.1 s is slack for scheduling jitter).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from gre_agent.core.http import RateLimiter

PROCESSES = 3
CALLS = 10

# The gazetteer's own HTTP path (core.http.make_session, as tools.base builds it), without
# importing the tools: the processes start fast enough for the test to stay near 30 s.
WORKER = """
import sys
from pathlib import Path
from gre_agent.core.http import make_session, request_json
from gre_agent.core.settings import CacheMode, Settings

home, url, name, calls = sys.argv[1:5]
settings = Settings(home=home, gazetteer={"backend": "online", "min_interval_s": 1.0})
session = make_session(
    "gazetteer", settings.gazetteer, CacheMode.off, settings.cache_dir, "gre-agent-tests/1.0"
)
for i in range(int(calls)):
    assert request_json(session, "GET", url, params={"q": f"{name}-{i}"}, timeout=10.0) == []
"""


def test_two_limiters_sharing_a_file_keep_one_schedule(tmp_path: Path):
    """Two processes' limiters in one: each reads the other's slot from the file."""
    now = [100.0]
    state = tmp_path / "rate-gazetteer.next"
    a, b = (RateLimiter(1.0, clock=lambda: now[0], state_file=state) for _ in range(2))
    assert [a.reserve(), b.reserve(), a.reserve(), b.reserve()] == [0.0, 1.0, 2.0, 3.0]
    now[0] = 110.0  # long after: no waiting
    assert b.reserve() == 0.0 and a.reserve() == 1.0
    state.write_text("garbage")  # a torn file costs nothing but the shared slot
    assert RateLimiter(1.0, clock=lambda: now[0], state_file=state).reserve() == 0.0


def test_three_processes_keep_one_request_per_second(tmp_path: Path, httpserver: HTTPServer):
    arrivals: list[float] = []

    def answer(request: Request) -> Response:
        arrivals.append(time.monotonic())
        return Response(json.dumps([]), content_type="application/json")

    httpserver.expect_request("/search").respond_with_handler(answer)
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    url = httpserver.url_for("/search")
    env = {**os.environ, "GRE_HOME": str(tmp_path / "home")}
    started = time.monotonic()
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / "home"), url, f"p{n}", str(CALLS)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=90)
        assert worker.returncode == 0, errors
    assert len(arrivals) == PROCESSES * CALLS
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.9, sorted(gaps)[:5]
    assert time.monotonic() - started < 60
    assert list((tmp_path / "home" / "cache").glob("rate-gazetteer.next"))  # under $GRE_HOME
