"""Runner throughput: `run_eval` against a local OpenAI-compatible server that answers
each request after a fixed delay (the server runs in its own process).

    python benchmarks/bench_eval_runner.py [--concurrency 64] [--delay 1.0] [--rounds 6]
        [--mode single|agent] [--stages single-pass|per-stage] [--json]

Ideal rate = concurrency / (delay * model calls per image): what the runner would reach
if it added no time of its own. Target at concurrency 64: at least 90% of it. The rate
counts the whole run (manifest, results fsync, traces, the graph), after a one-image
warm-up that loads the offline gazetteer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gre_agent.core.settings import Settings  # noqa: E402
from gre_agent.evals import RunConfig, run_eval  # noqa: E402
from gre_agent.evals.datasets import load_table  # noqa: E402
from gre_agent.tools import Registry  # noqa: E402
from tests.eval_data import make_dataset  # noqa: E402

SERVER = """
import sys
sys.argv = sys.argv[1:]
from benchmarks.bench_eval_runner import serve
serve(sys.argv[0], float(sys.argv[1]))
"""


def serve(answers_path: str, delay: float) -> None:
    """An OpenAI-compatible chat server on asyncio (HTTP/1.1 keep-alive): each request is
    answered `delay` seconds after it arrived, whatever the others do. (http.server's
    thread per request added 0.1-0.2 s per round of 64 on a loaded 2-CPU machine: the
    server's limit, not the runner's.) Prints its URL, serves until stdin closes."""
    from tests.eval_data import colour_completion

    answers = {int(k): v for k, v in json.loads(Path(answers_path).read_text()).items()}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                arrived = time.perf_counter()
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = json.loads(await reader.readexactly(length)) if length else {}
                payload = json.dumps(colour_completion(body, answers, "colour-model")).encode()
                await asyncio.sleep(max(0.0, delay - (time.perf_counter() - arrived)))
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        print(f"http://127.0.0.1:{port}/v1", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per request")
    parser.add_argument("--rounds", type=int, default=6, help="images = concurrency * rounds")
    parser.add_argument("--mode", choices=("single", "agent"), default="single")
    parser.add_argument(
        "--stages", choices=("auto", "single-pass", "per-stage"), default="single-pass"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = args.concurrency * args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = make_dataset(root / "bench", n + 1, seed=0)
        answers = root / "answers.json"
        answers.write_text(json.dumps({str(k): v for k, v in data["answers"].items()}))
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(answers), str(args.delay)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            url = server.stdout.readline().strip()
            out = run(root, data, url, args, n)
        finally:
            server.stdin.close()
            server.wait(timeout=10)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(
        f"{out['images']} images, {args.mode} mode, concurrency {args.concurrency}, "
        f"server delay {args.delay} s, {out['model_calls_per_image']:.2f} model calls per image"
    )
    print(f"  wall time              {out['wall_s']:8.2f} s")
    print(f"  throughput             {out['images_per_s']:8.2f} images/s")
    print(f"  ideal                  {out['ideal_images_per_s']:8.2f} images/s")
    print(f"  share of ideal         {100 * out['share_of_ideal']:8.1f} %  (target >= 90 %)")
    print(f"  failed images          {out['failed']:8d}")
    print(
        f"  bare httpx client      {out['raw_client_requests_per_s']:8.2f} requests/s "
        f"({100 * out['raw_client_share_of_ideal']:.1f} % of ideal: server + machine)"
    )
    print(f"  machine load (1 min)   {out['load_average_1min']:8.2f} on {os.cpu_count()} CPUs")


async def raw_client(url: str, data: dict, concurrency: int, n: int) -> float:
    """The same requests from a bare httpx client (no graph, no runner): what the server
    and the machine allow; the runner's own cost is the gap to this."""
    import base64

    import httpx

    images = sorted(data["images"].iterdir())
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=2 * concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(i: int) -> None:
            png = base64.b64encode(images[i % len(images)].read_bytes()).decode()
            content = [
                {"type": "text", "text": "Where was this photo taken?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
            ]
            body = {"model": "colour-model", "messages": [{"role": "user", "content": content}]}
            async with sem:
                (await client.post(f"{url}/chat/completions", json=body)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - started)


def run(root: Path, data: dict, url: str, args, n: int) -> dict:
    ds = load_table(data["csv"])
    registry = Registry(Settings(home=root / "home", offline=True))
    config = RunConfig(
        mode=args.mode,
        stages=args.stages,
        backend="openai",
        base_urls=[url],
        model="colour-model",
        concurrency=args.concurrency,
    )
    warm = ds.model_copy(update={"samples": ds.samples[:1]})
    asyncio.run(run_eval(warm, root / "warm", config, registry=registry, progress=False))
    rest = ds.model_copy(update={"samples": ds.samples[1:]})
    calls = []
    started = time.perf_counter()
    summary = asyncio.run(
        run_eval(
            rest,
            root / "run",
            config,
            registry=registry,
            progress=False,
            on_row=lambda row: calls.append(row.get("model_calls") or 0),
        )
    )
    wall = time.perf_counter() - started
    baseline = asyncio.run(raw_client(url, data, args.concurrency, n))
    per_image = sum(calls) / len(calls)
    ideal = args.concurrency / (args.delay * per_image)
    rate = n / wall
    return {
        "images": n,
        "mode": args.mode,
        "stages": args.stages,
        "concurrency": args.concurrency,
        "delay_s": args.delay,
        "model_calls_per_image": per_image,
        "wall_s": wall,
        "images_per_s": rate,
        "ideal_images_per_s": ideal,
        "share_of_ideal": rate / ideal,
        "failed": summary.failed,
        "raw_client_requests_per_s": baseline,
        "raw_client_share_of_ideal": baseline / (args.concurrency / args.delay),
        "load_average_1min": os.getloadavg()[0],
    }


if __name__ == "__main__":
    main()
