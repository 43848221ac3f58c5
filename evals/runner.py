"""The evaluation runner: the GRE graph over a dataset, concurrent, resumable, shardable.

    from gre_agent.evals.runner import RunConfig, run_eval
    summary = asyncio.run(run_eval(dataset, "runs/im2gps3k-agent", RunConfig(concurrency=32)))

RUN_DIR holds `manifest.json` (see `_manifest`), `results.jsonl` (one row per image,
see `_results` and `result_row`) and `traces/<id>.jsonl` (one trace per image). Running
the same command again continues where it stopped: images whose id has a row are
skipped. Failures (unreadable image, model error, timeout, no coordinates) are rows too,
with `error` set and no prediction; reports count them as misses (see `scoring`).

Leakage guard: EXIF is off (`Context.use_exif` False and `settings.exif.enabled` False)
unless `use_exif=True`, and `exclude_domains` reaches the Wikipedia tool
(`settings.wikipedia.exclude_domains`), e.g. "flickr" or "mapillary" for a benchmark
drawn from those sites.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from gre_agent.core.trace import Trace
from gre_agent.evals._manifest import (
    MANIFEST_VERSION,
    ManifestError,
    git_commit,
    incompatibility,
    package_versions,
    read_manifest,
    session_record,
    write_manifest,
)
from gre_agent.evals._results import (
    RESULTS_NAME,
    ResultsWriter,
    read_rows,
    repair_tail,
    rewrite,
)
from gre_agent.evals.datasets import LoadedDataset, Sample

TRACES = "traces"
# Reasons a row carries no prediction; reports count each as a miss.
FAILURE_STATUSES = ("error", "timeout", "no_answer")


@dataclasses.dataclass(kw_only=True)
class RunConfig:
    """How to run. Fields under `config` in the manifest must match to resume or merge;
    `RUNTIME_FIELDS` may change between sessions and machines."""

    mode: Literal["agent", "single"] = "agent"
    verify: Literal["graph", "model"] = "graph"
    stages: Literal["auto", "single-pass", "per-stage"] | None = None  # None: settings
    backend: Literal["openai", "transformers", "replay", "ocr"] | None = None
    model: str | None = None
    base_urls: list[str] = dataclasses.field(default_factory=list)
    replay_path: str | None = None
    offline: bool = True
    use_exif: bool = False
    exclude_domains: list[str] = dataclasses.field(default_factory=list)
    max_rounds: int = 2
    max_tool_calls: int = 24
    max_tokens: int | None = None
    timeout_s: float = 600.0
    concurrency: int = 8
    limit: int | None = None
    shard: tuple[int, int] | None = None  # (k, n), k in 1..n
    retry_failed: bool = False


RUNTIME_FIELDS = (
    "base_urls",
    "replay_path",
    "timeout_s",
    "concurrency",
    "limit",
    "shard",
    "retry_failed",
)


@dataclasses.dataclass
class RunSummary:
    run_dir: Path
    selected: int  # images of this shard / limit
    done_before: int  # rows found when the run started
    ran: int  # images run now
    failed: int  # failure rows among all rows of the selection
    torn_bytes: int  # bytes of a partial last line repaired at start
    elapsed_s: float


def parse_shard(text: str) -> tuple[int, int]:
    """ "K/N" with 1 <= K <= N."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m:
        raise ValueError(f"--shard takes K/N (e.g. 1/4), not {text!r}")
    k, n = int(m.group(1)), int(m.group(2))
    if not 1 <= k <= n:
        raise ValueError(f"--shard {text}: K must be between 1 and N")
    return k, n


def shard_of(sample_id: str, n: int) -> int:
    """1-based shard of an id: stable across machines and dataset orderings."""
    digest = hashlib.sha256(sample_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def select(samples: list[Sample], shard: tuple[int, int] | None, limit: int | None) -> list[Sample]:
    chosen = [s for s in samples if shard is None or shard_of(s.id, shard[1]) == shard[0]]
    return chosen if limit is None else chosen[: max(limit, 0)]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def trace_file(sample_id: str) -> str:
    """traces/<id>.jsonl; ids with other characters get a hash so names never collide."""
    safe = _UNSAFE.sub("_", sample_id).strip("._")[:80] or "image"
    if safe != sample_id:
        safe += "-" + hashlib.sha256(sample_id.encode("utf-8")).hexdigest()[:10]
    return f"{TRACES}/{safe}.jsonl"


def _config_dict(config: RunConfig, backend_name: str | None, model: str | None) -> dict:
    data = dataclasses.asdict(config)
    for name in RUNTIME_FIELDS:
        data.pop(name)
    data["backend"] = backend_name or data["backend"]
    data["model"] = model or data["model"]
    data["exclude_domains"] = sorted(data["exclude_domains"])
    return data


def _labels(sample: Sample) -> dict[str, Any]:
    meta = sample.metadata
    labels = {k: getattr(meta, k) for k in ("scene", "country", "region", "sub_region", "city")}
    return {k: v for k, v in labels.items() if v is not None}


def _base_row(sample: Sample, trace: str) -> dict[str, Any]:
    return {
        "id": sample.id,
        "image": str(sample.image_path),
        "gt_lat": sample.gt_lat,
        "gt_lon": sample.gt_lon,
        **_labels(sample),
        "pred_lat": None,
        "pred_lon": None,
        "status": "error",
        "error": None,
        "trace": trace,
    }


def result_row(sample: Sample, result: Any, mode: str, trace: str, elapsed: float) -> dict:
    """One results row from a `LocateResult`.

    Agent fields, counted by `core.trace.Trace` as everywhere: `tool_calls` (every tool
    call that ran, the final reverse geocode included: the prediction's own number),
    `cache_hits` (those answered wholly from the HTTP cache), and in agent mode
    `pre_verify_lat/lon` (the best candidate before verification, `state["initial"]`)."""
    from gre_agent.graphs.gre.answer import failure_cause  # graphs load on use (fast CLI)

    row = _base_row(sample, trace)
    raw_events = result.state.get("trace") or []
    events = Trace.of(raw_events)
    counts = events.counts()
    row.update(
        tool_calls=counts.tool_calls,
        cache_hits=counts.cache_hits,
        tool_errors=counts.tool_errors,
        model_calls=counts.model_calls,
        model_errors=counts.model_errors,
        prompt_tokens=counts.prompt_tokens,
        cached_tokens=counts.cached_tokens,
        completion_tokens=counts.completion_tokens,
        elapsed_s=round(elapsed, 4),
    )
    pred = result.prediction
    if pred is not None:
        row.update(
            confidence=pred.confidence,
            raw_confidence=pred.raw_confidence,
            pred_place=pred.place,
            pred_country_code=pred.country_code,
            mode=pred.mode,
            rounds=pred.rounds,
        )
    initial = result.state.get("initial") or {}
    if mode == "agent" and initial.get("lat") is not None and initial.get("lon") is not None:
        row.update(pre_verify_lat=initial["lat"], pre_verify_lon=initial["lon"])
    if result.error:
        row.update(status="error", error=result.error)
    elif (pred is None or pred.lat is None) and (cause := failure_cause(raw_events)):
        # the model or a tool could not answer (unreachable, timed out, no recorded
        # answer): an error naming the typed cause, not a hard image
        row.update(status="error", error=cause)
    elif pred is None or pred.lat is None or pred.lon is None:
        why = pred.reasoning if pred is not None else "the run ended without a prediction"
        row.update(status="no_answer", error=f"no coordinates: {why}")
    else:
        row.update(status=pred.status, pred_lat=pred.lat, pred_lon=pred.lon)
    return row


class _Tally:
    """Running numbers for the progress bar."""

    def __init__(self) -> None:
        self.done = 0
        self.failed = 0
        self.hits25 = 0
        self.hits750 = 0
        self.ran = 0
        self.started = time.perf_counter()

    def add(self, row: dict[str, Any], new: bool) -> None:
        from gre_agent.evals.metrics import distance_km

        self.done += 1
        self.ran += int(new)
        if row.get("pred_lat") is None:
            self.failed += 1
            return
        pred_lat, pred_lon = [row["pred_lat"]], [row["pred_lon"]]
        d = float(distance_km(pred_lat, pred_lon, [row["gt_lat"]], [row["gt_lon"]])[0])
        self.hits25 += d <= 25
        self.hits750 += d <= 750

    def text(self) -> str:
        if not self.done:
            return ""
        rate = self.ran / max(time.perf_counter() - self.started, 1e-9)
        return (
            f"{rate:.2f} img/s  acc@25km {100 * self.hits25 / self.done:.1f}%  "
            f"@750km {100 * self.hits750 / self.done:.1f}%  failed {self.failed}"
        )


def _prepare(run_dir: Path, manifest: dict[str, Any]) -> tuple[dict[str, dict], int]:
    """Check an existing run is this run, repair its tail, load its rows."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / TRACES).mkdir(exist_ok=True)
    results = run_dir / RESULTS_NAME
    if (run_dir / "manifest.json").exists():
        old = read_manifest(run_dir)
        why = incompatibility(old, manifest)
        if why is None and old.get("selection", {}).get("shard") != manifest["selection"]["shard"]:
            why = (
                f"shards differ ({old['selection'].get('shard')} vs "
                f"{manifest['selection']['shard']})"
            )
        if why:
            raise ManifestError(
                f"{run_dir} holds another run: {why}. Use another --out, or delete it."
            )
        manifest["sessions"] = [*old.get("sessions", []), *manifest["sessions"]]
        manifest["started"] = old.get("started", manifest["started"])
    elif results.exists() and results.stat().st_size:
        raise ManifestError(f"{results} exists without a manifest: not a run folder")
    torn = len(repair_tail(results))
    return read_rows(results), torn


def _make_backend(config: RunConfig) -> Any:
    from gre_agent.core.settings import load_settings
    from gre_agent.graphs.gre.model import open_model

    kind = config.backend or load_settings().model.backend
    # openai: enough pooled connections for every worker, across every endpoint
    extra = {"max_concurrency": max(config.concurrency, 1)} if kind == "openai" else {}
    return open_model(config.backend, config.model, config.base_urls, config.replay_path, **extra)


def make_registry(config: RunConfig) -> Any:
    """Tools with the leakage guard: EXIF off unless asked, Wikipedia exclusions."""
    from gre_agent.core.settings import load_settings
    from gre_agent.tools import Registry

    settings = load_settings(offline=True) if config.offline else load_settings()
    settings.exif.enabled = config.use_exif
    settings.wikipedia.exclude_domains = list(config.exclude_domains)
    return Registry(settings)


async def run_eval(
    dataset: LoadedDataset,
    run_dir: str | Path,
    config: RunConfig | None = None,
    *,
    dataset_info: dict[str, Any] | None = None,
    backend_obj: Any = None,
    registry: Any = None,
    progress: bool = True,
    console: Any = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    fsync: bool = True,
) -> RunSummary:
    """Run (or continue) an evaluation of `dataset` into `run_dir`.

    `backend_obj` / `registry`: ready objects (a scripted model in tests, a shared vLLM
    client); otherwise they are built from `config` and closed at the end."""
    from gre_agent.graphs.gre import Context, locate
    from gre_agent.graphs.gre.runner import write_unfinished_trace

    config = config or RunConfig()
    run_dir = Path(run_dir)
    if config.concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if config.timeout_s <= 0:
        raise ValueError("timeout must be positive")
    started = time.perf_counter()
    own_backend = backend_obj is None
    backend = backend_obj if backend_obj is not None else _make_backend(config)
    try:
        registry = registry if registry is not None else make_registry(config)
        chosen = select(list(dataset.samples), config.shard, config.limit)
        manifest = {
            "version": MANIFEST_VERSION,
            "kind": "gre-eval-run",
            "dataset": {
                "name": dataset.name,
                **(dataset_info or {}),
                "fingerprint": dataset.fingerprint(),
                "samples": len(dataset.samples),
                "load_summary": dataset.report.summary(),
                "problems": [p.model_dump() for p in dataset.report.problems],
                "decisions": dataset.report.decisions,
            },
            "selection": {
                "shard": f"{config.shard[0]}/{config.shard[1]}" if config.shard else None,
                "limit": config.limit,
                "selected": len(chosen),
            },
            "config": _config_dict(
                config, getattr(backend, "name", None), getattr(backend, "model", None)
            ),
            "runtime": {
                "base_urls": list(config.base_urls),
                "concurrency": config.concurrency,
                "timeout_s": config.timeout_s,
            },
            "versions": package_versions(),
            "git": git_commit(),
            "started": time.time(),
            "ended": None,
            "sessions": [session_record()],
        }
        rows, torn = _prepare(run_dir, manifest)
        results_path = run_dir / RESULTS_NAME
        if config.retry_failed:
            kept = [r for r in rows.values() if r.get("pred_lat") is not None]
            if len(kept) != len(rows):
                rewrite(results_path, kept)
                rows = {str(r["id"]): r for r in kept}
        elif torn or len(rows) != sum(1 for _ in _lines(results_path)):
            rewrite(results_path, list(rows.values()))  # one row per id from here on
        write_manifest(run_dir, manifest)
        todo = [s for s in chosen if s.id not in rows]
        done_before = len(chosen) - len(todo)

        tally = _Tally()
        for s in chosen:
            if s.id in rows:
                tally.add(rows[s.id], new=False)
        ctx_fields: dict[str, Any] = {
            "mode": config.mode,
            "verify": config.verify,
            "stages": config.stages,
            "offline": config.offline,
            "use_exif": config.use_exif,
            "max_rounds": config.max_rounds,
            "max_tool_calls": config.max_tool_calls,
            "max_tokens": config.max_tokens,
            # the agent commits with what it has before the hard per-image timeout
            "max_wall_s": min(600.0, 0.8 * config.timeout_s),
        }
        writer = ResultsWriter(results_path, fsync=fsync)
        queue: asyncio.Queue[Sample] = asyncio.Queue()
        for s in todo:
            queue.put_nowait(s)

        async def one(sample: Sample) -> dict[str, Any]:
            trace = trace_file(sample.id)
            ctx = Context(backend_obj=backend, registry=registry, **ctx_fields)
            t0 = time.perf_counter()
            try:
                result = await asyncio.wait_for(
                    locate(sample.image_path, ctx, trace_path=run_dir / trace),
                    config.timeout_s,
                )
            except TimeoutError:
                message = f"no answer within {config.timeout_s:g} s"
                write_unfinished_trace(run_dir / trace, sample.image_path, ctx, "timeout", message)
                row = _base_row(sample, trace)
                row.update(status="timeout", error=f"timeout: {message}")
                row["elapsed_s"] = round(time.perf_counter() - t0, 4)
                return row
            except Exception as exc:  # a bug must not end the batch: a failure row
                row = _base_row(sample, trace)
                row.update(status="error", error=f"{type(exc).__name__}: {exc}")
                return row
            return result_row(sample, result, config.mode, trace, time.perf_counter() - t0)

        with _progress_bar(console, progress, len(chosen), done_before) as bar:
            bar.update(tally.text())

            async def worker() -> None:
                while True:
                    try:
                        sample = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    row = await one(sample)
                    row["finished"] = time.time()
                    writer.append(row)
                    tally.add(row, new=True)
                    bar.advance(tally.text())
                    if on_row is not None:
                        on_row(row)

            try:
                workers = min(config.concurrency, len(todo))
                await asyncio.gather(*(worker() for _ in range(workers)))
            finally:
                writer.close()
        manifest["sessions"][-1].update(
            ended=time.time(), rows_written=writer.written, complete=True
        )
        manifest["ended"] = time.time()
        write_manifest(run_dir, manifest)
        final = read_rows(results_path)
        failed = sum(1 for s in chosen if s.id in final and final[s.id].get("pred_lat") is None)
        return RunSummary(
            run_dir=run_dir,
            selected=len(chosen),
            done_before=done_before,
            ran=writer.written,
            failed=failed,
            torn_bytes=torn,
            elapsed_s=time.perf_counter() - started,
        )
    finally:
        if own_backend:
            close = getattr(backend, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()


def _lines(path: Path):
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield line


class _Bar:
    def __init__(self, progress: Any, task: Any):
        self.progress = progress
        self.task = task

    def update(self, text: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, stats=text)

    def advance(self, text: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=1, stats=text)


@contextlib.contextmanager
def _progress_bar(console: Any, enabled: bool, total: int, done: int):
    """A live bar on stderr: done/total, throughput and ETA of this session, running
    accuracy over every row of the selection, failures."""
    if not enabled:
        yield _Bar(None, None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]eval[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[stats]}"),
        console=console or Console(stderr=True),
        transient=False,
    )
    with progress:
        task = progress.add_task("eval", total=total, completed=done, stats="")
        yield _Bar(progress, task)
