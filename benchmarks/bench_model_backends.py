"""Model backends on the tiny random Qwen2.5-VL: load and request latency.

Prints: transformers backend load time and latency (text, image, batch of 8); with
.venv-vllm present (`make vllm-venv`), a real vLLM server's start-up time and the openai
backend's latency against it (text, image, 8 concurrent). Numbers are for a CPU machine and
a random 680k-parameter model: they measure overhead, not model speed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from PIL import Image

from gre_agent.agent.backends import Message, OpenAIBackend, TransformersBackend
from gre_agent.agent.testing import build_tiny_qwen25vl
from gre_agent.cli.serve import vllm_command
from gre_agent.core.settings import ModelSettings

ROOT = Path(__file__).resolve().parents[1]

IMAGE = Image.new("RGB", (224, 168), (30, 120, 200))


async def timed(backend, n: int = 5, **kw) -> dict[str, float]:
    out = {}
    for label, conv in (("text", "Where?"), ("image", [Message.user("Where?", IMAGE)])):
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            await backend.complete(conv, max_tokens=16, temperature=0, **kw)
            ts.append(time.perf_counter() - t0)
        out[label] = statistics.median(ts)
    t0 = time.perf_counter()
    await backend.complete_batch(["Where?"] * 8, max_tokens=16, temperature=0, **kw)
    out["batch8"] = time.perf_counter() - t0
    return out


def show(name: str, numbers: dict[str, float]) -> None:
    print(f"{name:<28}" + "  ".join(f"{k}={v * 1000:.0f}ms" for k, v in numbers.items()))


async def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    model_dir = build_tiny_qwen25vl(tmp / "tiny")
    print(f"build tiny Qwen2.5-VL        {time.perf_counter() - t0:.2f}s")
    settings = ModelSettings(model=str(model_dir), device="cpu", dtype="float32")
    tf = TransformersBackend(settings)
    t0 = time.perf_counter()
    tf.load()
    print(f"transformers load            {time.perf_counter() - t0:.2f}s")
    show("transformers (16 tokens)", await timed(tf))

    vllm_python = ROOT / ".venv-vllm" / "bin" / "python"
    if not vllm_python.exists():
        print("vLLM: skipped (no .venv-vllm; run `make vllm-venv`)")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = vllm_command(
        str(model_dir),
        python=str(vllm_python),
        port=port,
        served_model_name="tiny",
        max_model_len=1024,
        images_per_prompt=2,
        dtype="float32",
        enforce_eager=True,
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1"}
    log = (tmp / "vllm.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, start_new_session=True)
    try:
        import httpx

        t0 = time.perf_counter()
        while True:
            if proc.poll() is not None:
                print("vLLM exited:", (tmp / "vllm.log").read_text()[-2000:])
                return
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        print(f"vLLM start-up (to /v1/models) {time.perf_counter() - t0:.1f}s")
        ms = ModelSettings(model="tiny", timeout_s=60)
        async with OpenAIBackend(ms, base_urls=[f"http://127.0.0.1:{port}/v1"]) as backend:
            t0 = time.perf_counter()
            await backend.complete("Hello", max_tokens=16, temperature=0)
            print(f"vLLM first request           {time.perf_counter() - t0:.2f}s")
            show("openai -> vLLM (16 tokens)", await timed(backend))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


if __name__ == "__main__":
    asyncio.run(main())
