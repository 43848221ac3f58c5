"""`gre locate IMAGE...`: run the GRE agent on photos, with live progress of its stages.

Progress goes to stderr, results to stdout (`--json`: one JSON object per image, one per
line). Exit code 0 when every image got coordinates, 1 when any failed (unreadable image,
model or run error, or no place found), 2 for usage errors.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape

from gre_agent.cli._console import Console
from gre_agent.cli.options import (
    OSM_TILES,
    BackendOpt,
    BaseUrlOpt,
    ModelOpt,
    OfflineOpt,
    ReplayOpt,
    StagesOpt,
    TilesOpt,
    open_backend,
)
from gre_agent.core.text import json_line

if TYPE_CHECKING:  # settings and the trace models load on use: `gre --help` does not wait
    from gre_agent.core.settings import Settings

err = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)

EXIT_FAILED = 1

# The families whose tools have an online backend (`--online` switches them over).
ONLINE_FAMILIES = ("gazetteer", "osm", "wikipedia", "country")

# After a node finishes, what the graph does next (decide is routed by its decision).
NEXT = {
    "scene": "reading details",
    "detail": "interpreting the details",
    "semantic": "proposing places",
    "hypotheses": "verifying with tools",
    "verify": "revising with the evidence",
    "call_tools": "running the model's tool calls",
    "tools": "asking the model",
    "revise": "deciding",
    "single": "done",
    "commit": "done",
}


def tool_settings(online: bool) -> Settings:
    """Settings for the tools: offline forces every tool onto its offline backend; online
    switches every family that has an online backend to it (endpoints, rate limits and
    caches as configured in gre.toml / GRE_* variables)."""
    from gre_agent.core.settings import load_settings

    if not online:
        return load_settings(offline=True)
    settings = load_settings(offline=False)
    for family in ONLINE_FAMILIES:
        getattr(settings, family).backend = "online"
    return settings


def _short(text: Any, width: int = 70) -> str:
    """Free text in at most `width` characters, cut after a whole word (figures and counts
    are never passed through it: rich wraps those lines instead)."""
    s = " ".join(str(text).split())
    if len(s) <= width:
        return s
    cut = s[: width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip(" ,;:") + "…"


def describe(node: str, update: dict[str, Any], width: int = 70) -> str:
    """One line saying what a finished node produced (about `width` characters)."""
    from gre_agent.core.trace import ToolCallEvent, Trace

    trace = Trace.of(update.get("trace") or [])
    model_errors = trace.model_errors
    note = ""
    if model_errors:
        note = f" [red](model error: {escape(_short(model_errors[0].message, 60))})[/]"
    if node == "scene":
        scene = update.get("scene") or {}
        return _short(scene.get("setting") or scene.get("architecture") or "-", width) + note
    if node == "detail":
        texts = (update.get("details") or {}).get("texts") or []
        shown = ", ".join(f'"{t}"' for t in texts[:4]) or "no text read"
        return f"{len(texts)} text(s): " + _short(shown, max(20, width - 10)) + note
    if node == "semantic":
        sem = update.get("semantics") or {}
        bits = [
            "languages " + ", ".join(sem.get("languages") or []) if sem.get("languages") else "",
            "countries " + ", ".join(sem.get("country_hints") or [])
            if sem.get("country_hints")
            else "",
            f"drives on the {sem['driving_side']}" if sem.get("driving_side") else "",
        ]
        return _short("; ".join(b for b in bits if b) or "-", width) + note
    if node == "hypotheses":
        hyps = update.get("hypotheses") or []
        labels = [
            ", ".join(p for p in (h.get("place"), h.get("country_code")) if p) or "unnamed"
            for h in hyps
        ]
        head = f"{len(hyps)} candidate(s): "
        return head + _short("; ".join(labels[:4]), max(20, width - len(head))) + note
    if node == "verify":
        counts = trace.counts()
        found = sum(1 for e in update.get("evidence") or [] if e.get("weight"))
        best = (update.get("hypotheses") or [{}])[0]
        label = ", ".join(p for p in (best.get("place"), best.get("country_code")) if p)
        figures = (
            f"round {update.get('round')}: {counts.tool_calls} tool call(s), "
            f"{counts.tool_errors} error(s), {found} finding(s)"
        )
        return f"{figures}; best {_short(label or '-', max(20, width - len(figures)))}" + note
    if node == "call_tools":
        calls = trace.of_type(ToolCallEvent)  # the skipped ones were answered too
        errors = sum(1 for e in calls if not e.ok)
        return f"model's tool calls: {len(calls)} answered, {errors} error(s)"
    if node == "tools":
        return f"{len(update.get('tool_messages') or [])} tool call(s) run"
    if node == "revise":
        best = (update.get("hypotheses") or [{}])[0]
        label = ", ".join(p for p in (best.get("place"), best.get("country_code")) if p)
        return _short(f"revised with the evidence; best {label or '-'}", width) + note
    if node == "decide":
        # the reason holds figures ("confirmed (1.00 >= 0.80)"): whole, rich wraps it
        return f"{update.get('decision') or '-'}: {update.get('decision_reason') or ''}"
    if node in ("commit", "single"):
        pred = update.get("prediction") or {}
        if pred.get("lat") is None:
            return f"no coordinates ({pred.get('status', 'failed')})" + note
        return f"{pred['lat']:.5f}, {pred['lon']:.5f} ({pred.get('status')})" + note
    return ""


def failed(node: str, update: dict[str, Any]) -> bool:
    """A node whose step went wrong: the model could not answer, or the run committed no
    coordinates (a red cross in the progress, never a green check)."""
    from gre_agent.core.trace import Trace

    if Trace.of(update.get("trace") or []).model_errors:
        return True
    pred = update.get("prediction") if node in ("commit", "single") else None
    return pred is not None and pred.get("lat") is None


class Progress:
    """Live progress of one image's stages on stderr: a status line plus a line per node."""

    def __init__(self, console: Console, label: str, enabled: bool = True):
        self.console = console
        self.label = label
        self.enabled = enabled
        self.status: Any = None
        self.t0 = self.last = time.perf_counter()

    def __enter__(self) -> Progress:
        if self.enabled:
            self.console.print(f"[bold]{escape(self.label)}[/]")
            self.status = self.console.status(f"{escape(self.label)}: looking at the scene")
            self.status.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)

    def __call__(self, node: str, update: dict[str, Any]) -> None:
        now = time.perf_counter()
        took, self.last = now - self.last, now
        if not self.enabled:
            return
        line = describe(node, update, width=max(30, self.console.width - 26))
        mark = "[red]✗[/]" if failed(node, update) else "[green]✓[/]"
        self.console.print(f"  {mark} [cyan]{node:<10}[/] {line} [dim]{took:.2f}s[/]")
        nxt = NEXT.get(node, "working")
        if node == "decide":
            refine = update.get("decision") == "refine"
            nxt = "verifying further" if refine else "committing"
        if self.status is not None:
            self.status.update(f"{escape(self.label)}: {nxt}")


def country_name(code: str | None) -> str | None:
    if not code:
        return None
    import pycountry

    found = pycountry.countries.get(alpha_2=code.upper())
    return found.name if found else None


def result_json(result: Any) -> dict[str, Any]:
    """What `--json` prints for one image."""
    pred = None
    if result.prediction is not None:
        pred = result.prediction.model_dump(mode="json")
        pred["osm_url"] = result.prediction.osm_url
    return {
        "image": result.image,
        "ok": is_success(result),
        "error": result.error or failure_reason(result),
        "prediction": pred,
        "trace": str(result.trace_path) if result.trace_path else None,
    }


def is_success(result: Any) -> bool:
    p = result.prediction
    return result.error is None and p is not None and p.lat is not None and p.lon is not None


def failure_reason(result: Any) -> str | None:
    if is_success(result) or result.error:
        return None
    from gre_agent.graphs.gre.answer import failure_cause

    cause = failure_cause((getattr(result, "state", None) or {}).get("trace") or [])
    if cause:  # the model or a tool could not answer: its typed cause, not "no place"
        return cause
    if result.prediction is None:
        return "the run ended without a prediction"
    return f"no place found ({result.prediction.status}): {result.prediction.reasoning}"


def print_result(console: Console, result: Any) -> None:
    """The human-readable answer for one image."""
    console.print(f"[bold]{escape(result.image)}[/]")
    if result.error:
        console.print(f"  [red]error:[/] {escape(result.error)}")
        return
    p = result.prediction
    if not is_success(result):
        reason = failure_reason(result) or ""
        if p is None or not reason.startswith("no place found"):
            console.print(f"  [red]error:[/] {escape(reason)}")
            return
        console.print(f"  [red]no place found[/] ({p.status})")
        if p.reasoning:
            console.print(f"  {escape(p.reasoning)}")
        return
    country = country_name(p.country_code)
    place = ", ".join(x for x in (p.place, p.admin1) if x) or "-"
    rows = [
        ("coordinates", f"{p.lat:.5f}, {p.lon:.5f}"),
        ("place", place),
        ("country", f"{country} ({p.country_code})" if country else p.country_code or "-"),
        ("confidence", f"{p.confidence:.2f}" + (f" ({p.status})" if p.status != "ok" else "")),
        ("checks", f"{p.rounds} round(s), {p.tool_calls} tool call(s), {p.tool_errors} error(s)"),
        (
            "model",
            f"{p.model_calls} call(s), {p.prompt_tokens:,} prompt tokens "
            f"({p.cached_tokens:,} cached), {p.completion_tokens:,} generated",
        ),
    ]
    for key, value in rows:
        console.print(f"  [dim]{key:<12}[/] {escape(value)}")
    if p.evidence:
        console.print(f"  [dim]{'evidence':<12}[/]")
        for line in p.evidence:
            console.print(f"    - {escape(line)}")
    from gre_agent.graphs.gre.search import answer_moves  # lazily, as the graph itself

    state = getattr(result, "state", None) or {}
    moved = answer_moves(state.get("initial"), p.hypotheses, state.get("evidence") or [])
    if moved:  # each move of the answer with the finding that caused it
        console.print(f"  [dim]{'moves':<12}[/]")
        for line in moved:
            console.print(f"    - {escape(line)}")
    if p.osm_url:
        console.print(f"  [dim]{'map':<12}[/] [link={p.osm_url}]{p.osm_url}[/link]")
    if result.trace_path:
        console.print(f"  [dim]{'trace':<12}[/] {escape(str(result.trace_path))}")


def _osm_index_warning(settings: Settings) -> str | None:
    from gre_agent.tools.osm import default_db_path

    if settings.backend_for("osm.find_named") != "offline":
        return None
    db = default_db_path(settings)
    if db.exists():
        return None
    return (
        f"no offline OSM index at {db}: street and shop checks will fail. Import one with "
        "`gre data osm import FILE.osm.pbf` (or `--sample helsinki` for the demo)."
    )


async def run_all(
    images: list[Path],
    ctx_kwargs: dict[str, Any],
    backend_obj: Any,
    registry: Any,
    trace_dir: Path | None,
    quiet: bool,
) -> list[Any]:
    from gre_agent.graphs.gre import Context, locate

    results = []
    try:
        for n, image in enumerate(images, 1):
            ctx = Context(backend_obj=backend_obj, registry=registry, **ctx_kwargs)
            label = f"[{n}/{len(images)}] {image}" if len(images) > 1 else str(image)
            with Progress(err, label, enabled=not quiet) as progress:
                result = await locate(image, ctx, trace_dir=trace_dir, on_event=progress)
            if result.error and not quiet:
                err.print(f"  [red]✗ {escape(result.error)}[/]")
            results.append(result)
    finally:
        close = getattr(backend_obj, "aclose", None)
        if close is not None:
            await close()
    return results


def locate_cmd(
    images: Annotated[list[Path], typer.Argument(help="Photos to locate (JPEG, PNG, ...).")],
    backend: BackendOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    replay: ReplayOpt = None,
    mode: Annotated[
        Literal["agent", "single"],
        typer.Option(help="agent: staged reasoning with verification; single: one GRE prompt."),
    ] = "agent",
    verify: Annotated[
        Literal["graph", "model"],
        typer.Option(help="graph: the graph calls the tools; model: the model does."),
    ] = "graph",
    stages: StagesOpt = None,
    offline: OfflineOpt = True,
    exif: Annotated[
        bool, typer.Option("--exif/--no-exif", help="Use the photo's EXIF GPS as evidence.")
    ] = False,
    ocr: Annotated[
        bool | None,
        typer.Option(
            "--ocr/--no-ocr",
            help="Ground the model's texts in the photo's OCR (default: on for openai and "
            "transformers, off for replay and ocr).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per image on stdout.")
    ] = False,
    trace_dir: Annotated[
        Path | None,
        typer.Option("--trace-dir", help="Where traces go (default: $GRE_HOME/traces)."),
    ] = None,
    map_path: Annotated[
        Path | None,
        typer.Option("--map", help="Write a map of hypotheses, evidence and answers (HTML)."),
    ] = None,
    tiles: TilesOpt = OSM_TILES,
    max_rounds: Annotated[
        int | None, typer.Option("--max-rounds", min=0, help="Verification rounds.")
    ] = None,
    max_tool_calls: Annotated[
        int | None, typer.Option("--max-tool-calls", min=0, help="Tool calls per image.")
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            "--calibration",
            exists=True,
            dir_okay=False,
            help="Confidence calibration from `gre eval calibrate` (default: settings).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
) -> None:
    """Locate photos: coordinates, place, country, confidence and the evidence behind them."""
    from gre_agent.tools import Registry

    backend_obj, backend = open_backend(err, backend, model, base_url, replay)
    settings = tool_settings(online=not offline)
    if not quiet and (warning := _osm_index_warning(settings)):
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    ctx_kwargs: dict[str, Any] = {
        "mode": mode,
        "verify": verify,
        "stages": stages,
        "backend": backend_obj.name if backend is None else backend,
        "model": model or getattr(backend_obj, "model", None),
        "base_url": base_url,
        "replay_path": str(replay) if replay else None,
        "offline": offline,
        "use_exif": exif,
        "ocr": ocr,
    }
    if max_rounds is not None:
        ctx_kwargs["max_rounds"] = max_rounds
    if max_tool_calls is not None:
        ctx_kwargs["max_tool_calls"] = max_tool_calls
    if calibration is not None:
        ctx_kwargs["calibration"] = str(calibration)
    traces = trace_dir or settings.home / "traces"
    results = asyncio.run(
        run_all(images, ctx_kwargs, backend_obj, Registry(settings), traces, quiet)
    )
    for result in results:
        if as_json:
            sys.stdout.write(json_line(result_json(result)) + "\n")
        else:
            print_result(out, result)
    if map_path is not None:
        from gre_agent.graphs.gre.map import layer_from_result, write_map

        written = write_map(
            map_path,
            [layer_from_result(r) for r in results],
            tiles=None if tiles.strip().lower() in ("", "none") else tiles,
        )
        if not quiet:
            err.print(f"map: {escape(str(written))}")
    if not all(is_success(r) for r in results):
        raise typer.Exit(EXIT_FAILED)
