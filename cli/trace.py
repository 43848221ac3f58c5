"""`gre trace show FILE`: a trace of the GRE agent, readable.

Header (image, config, version), then the run in order: each model call (stage, tokens,
latency, the first lines of its text), each stage's parsed fields, each tool call (tool,
arguments, result summary or error, cache hit, latency), repairs, decisions, and the
prediction. A file that is not a trace exits with code 2.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gre_agent.cli._console import Console
from gre_agent.core.trace import (
    DecisionEvent,
    ErrorEvent,
    FallbackEvent,
    ModelCall,
    ModelErrorEvent,
    PredictionEvent,
    RepairEvent,
    StageEvent,
    ToolCallEvent,
    Trace,
    TraceError,
    TraceEvent,
    TraceHeader,
    load_trace,
)

app = typer.Typer(help="Inspect traces of the GRE agent.", no_args_is_help=True)
err = Console(stderr=True, highlight=False)

EXIT_USAGE = 2


def _short(value: Any, width: int = 90) -> str:
    s = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    s = " ".join(s.split())
    return s if len(s) <= width else s[: width - 1] + "…"


def _args(args: Any) -> str:
    if not isinstance(args, dict):
        return _short(args, 70)
    parts = []
    for key, value in args.items():
        if value is None or value == {} or value == []:
            continue
        if isinstance(value, dict) and {"lat", "lon"} <= value.keys():
            value = f"({value['lat']:.4f}, {value['lon']:.4f}" + (
                f", {value['radius_m']:.0f} m)" if value.get("radius_m") else ")"
            )
        elif not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False, default=str)
        parts.append(f"{key}={value}")
    return _short(", ".join(parts), 200)


def _point(d: dict[str, Any]) -> str:
    name = d.get("name") or d.get("title") or ""
    if isinstance(d.get("lat"), int | float) and isinstance(d.get("lon"), int | float):
        return f"{name} ({d['lat']:.4f}, {d['lon']:.4f})".strip()
    return str(name)


def result_summary(result: Any) -> str:
    """One line for a tool result: counts and the first hits, or its main fields."""
    if not isinstance(result, dict):
        return _short(result, 80)
    for key, value in result.items():
        if isinstance(value, list) and (not value or isinstance(value[0], dict)):
            if not value:
                return f"no {key}"
            first = value[0]
            head = _point(first) if isinstance(first, dict) else _short(first, 40)
            more = f" (+{len(value) - 1} more)" if len(value) > 1 else ""
            return _short(f"{len(value)} {key}: {head}{more}", 80)
    if "lat" in result and "lon" in result:
        extra = ", ".join(
            str(result[k]) for k in ("admin1", "country_code") if result.get(k) is not None
        )
        return _short(_point(result) + (f", {extra}" if extra else ""), 80)
    scalars = [
        f"{k}={v}"
        for k, v in result.items()
        if isinstance(v, str | int | float | bool) and k not in ("source",)
    ]
    return _short(", ".join(scalars[:5]) or result, 80)


def _stage_table(parsed: dict[str, Any]) -> Table | Text:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    shown: dict[str, str] = {}
    for key, value in parsed.items():
        if value in (None, "", [], {}):
            continue
        if key == "hypotheses" and isinstance(value, list):
            for i, h in enumerate(value, 1):
                where = ", ".join(p for p in (h.get("place"), h.get("country_code")) if p)
                at = (
                    f" ({h['lat']:.4f}, {h['lon']:.4f})"
                    if isinstance(h.get("lat"), int | float)
                    and isinstance(h.get("lon"), int | float)
                    else ""
                )
                conf = h.get("confidence")
                tail = f", confidence {conf:.2f}" if isinstance(conf, int | float) else ""
                table.add_row(f"#{i}", escape(_short(f"{where or 'unnamed'}{at}{tail}")))
            continue
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        text = " ".join(str(value).split())
        # a single-pass answer fills several fields from one sentence: show it once
        first = next((k for k, v in shown.items() if v == text), None)
        if first is not None:
            table.add_row(key, Text(f"(as {first})", style="dim"))
            continue
        prefix = next((v for v in shown.values() if len(v) > 20 and text.startswith(v)), None)
        shown[key] = text
        if prefix is not None:
            text = "… " + text[len(prefix) :].lstrip(" ;,.")
        table.add_row(key, escape(_short(text)))
    return table if table.row_count else Text("(nothing parsed)", style="dim")


def _header(head: TraceHeader | None, path: Path) -> Panel:
    head = head or TraceHeader()
    when = (
        dt.datetime.fromtimestamp(head.started, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if "started" in head.model_fields_set
        else "?"
    )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    grid.add_row("image", escape(head.image if "image" in head.model_fields_set else "None"))
    if head.image_sha256:
        grid.add_row("sha256", head.image_sha256[:16] + "…")
    grid.add_row("version", str(head.version))
    grid.add_row("started", when)
    shown = ", ".join(f"{k}={v}" for k, v in head.config.items() if v is not None)
    grid.add_row("config", escape(shown or "-"))
    return Panel(grid, title=f"trace {escape(path.name)}", title_align="left")


def _prediction(p: PredictionEvent) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    lat, lon = p.lat, p.lon
    if lat is not None and lon is not None:
        grid.add_row("coordinates", f"{lat:.5f}, {lon:.5f}")
        place = ", ".join(x for x in (p.place, p.admin1, p.country_code) if x)
        grid.add_row("place", escape(place or "-"))
    grid.add_row("status", p.status)
    grid.add_row("confidence", f"{p.confidence or 0:.2f}")
    grid.add_row(
        "checks",
        f"{p.rounds} round(s), {p.tool_calls} tool call(s), "
        f"{p.tool_errors} error(s), {p.elapsed_s or 0:.2f} s",
    )
    for line in p.evidence:
        grid.add_row("evidence", escape(line))
    if p.reasoning:
        grid.add_row("reasoning", escape(_short(p.reasoning, 300)))
    if p.osm_url:
        grid.add_row("map", p.osm_url)
    style = "green" if p.status == "ok" else "yellow"
    return Panel(grid, title="prediction", title_align="left", border_style=style)


def _model_call(e: ModelCall, text_lines: int) -> Group:
    c = e.completion
    usage, given = c.usage, c.model_fields_set
    prompt = usage.prompt_tokens if "prompt_tokens" in usage.model_fields_set else "?"
    completion = usage.completion_tokens if "completion_tokens" in usage.model_fields_set else "?"
    head = Text.assemble(
        ("model ", "bold magenta"),
        (f"{e.stage or '?':<12}", "magenta"),
        f" {prompt} prompt + {completion} completion tokens",
        (f"  {c.latency_s:.2f} s" if "latency_s" in given else "", "dim"),
        (f"  {e.model or c.model or ''}", "dim"),
    )
    lines = [ln for ln in c.text.splitlines() if ln.strip()]
    body = [
        Text("    " + _short(ln, 400), style="dim", no_wrap=True, overflow="ellipsis")
        for ln in lines[:text_lines]
    ]
    if len(lines) > text_lines:
        body.append(Text(f"    … {len(lines) - text_lines} more line(s)", style="dim"))
    for call in c.tool_calls:
        body.append(Text(f"    tool call: {call.get('name')} {_args(call.get('arguments'))}"))
    return Group(head, *body)


def _tool_call(e: ToolCallEvent) -> Group:
    given = e.model_fields_set
    tail = Text.assemble(
        (" cached" if e.cached else "", "blue"),
        (f"  {e.latency_ms:.0f} ms" if "latency_ms" in given else "", "dim"),
        (f"  [{e.backend}]" if e.backend else "", "dim"),
    )
    if not e.ok:
        outcome = Text(f"✗ {e.error_kind}: {_short(e.error_message, 70)}", "red")
    else:
        outcome = Text(f"→ {result_summary(e.result)}")
    line = Text.assemble(("tool  ", "bold yellow"), (e.tool or "?", "yellow"), tail)
    # indented as a block: a result that wraps stays under its tool, not at column 0
    args = Padding(Text(_args(e.args)), (0, 0, 0, 6), expand=False)
    return Group(line, args, Padding(outcome, (0, 0, 0, 6), expand=False))


def _detail(e: Any) -> str:
    return _short(e.model_dump(mode="json", exclude={"type"}), 100)


def render_event(e: TraceEvent, text_lines: int) -> Any:
    """A renderable for one trace event."""
    if isinstance(e, ModelCall):
        return _model_call(e, text_lines)
    if isinstance(e, ModelErrorEvent):
        return Text.assemble(
            ("model ", "bold red"),
            (f"{e.stage or '?':<12}", "red"),
            f" {e.kind}: {_short(e.message, 100)}",
        )
    if isinstance(e, StageEvent):
        return Group(
            Text.assemble(("stage ", "bold cyan"), (e.stage, "cyan")),
            Panel(_stage_table(e.parsed), padding=(0, 1), border_style="dim"),
        )
    if isinstance(e, ToolCallEvent):
        return _tool_call(e)
    if isinstance(e, RepairEvent | FallbackEvent):
        return Text.assemble((f"{e.type} ", "bold yellow"), _detail(e))
    if isinstance(e, DecisionEvent):
        return Text.assemble(
            ("decision ", "bold"),
            (f"round {e.round}: ", "dim"),
            (e.decision, "green" if e.decision == "commit" else "yellow"),
            f" — {e.reason}",
        )
    if isinstance(e, PredictionEvent):
        return _prediction(e)
    if isinstance(e, ErrorEvent):
        return Text(f"error {e.kind}: {e.message}", style="bold red")
    return Text(f"{e.type}: {_detail(e)}", "dim")


def render_trace(console: Console, trace: Trace, path: Path, text_lines: int = 3) -> None:
    console.print(_header(trace.header, path))
    for event in trace.events:
        console.print(render_event(event, text_lines))
    n = trace.counts()
    console.print(
        Text(
            f"{n.model_calls} model call(s), {n.prompt_tokens} prompt tokens; "
            f"{n.tool_calls} tool call(s), {n.tool_errors} error(s), {n.cache_hits} cached",
            style="dim",
        )
    )


def load(path: Path) -> Trace:
    """The typed trace; every failure is a TraceError carrying a readable message."""
    return load_trace(path)


@app.command("show")
def show(
    path: Annotated[Path, typer.Argument(help="A trace (.jsonl) written by gre locate.")],
    text_lines: Annotated[
        int, typer.Option("--lines", min=0, help="Lines of each model answer to show.")
    ] = 3,
    map_path: Annotated[
        Path | None, typer.Option("--map", help="Also write a map of the trace (HTML).")
    ] = None,
) -> None:
    """Render a trace readably: stages, model calls, tool calls, decisions, prediction."""
    try:
        trace = load(path)
    except TraceError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from exc
    render_trace(Console(highlight=False), trace, path, text_lines)
    if map_path is not None:
        from gre_agent.graphs.gre.map import layer_from_trace, write_map

        written = write_map(map_path, [layer_from_trace(trace)])
        err.print(f"map: {escape(str(written))}")
