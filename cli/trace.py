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
from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

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
        table.add_row(key, escape(_short(value)))
    return table if table.row_count else Text("(nothing parsed)", style="dim")


def _header(head: dict[str, Any], path: Path) -> Panel:
    started = head.get("started")
    when = (
        dt.datetime.fromtimestamp(started, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if isinstance(started, int | float)
        else "?"
    )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    grid.add_row("image", escape(str(head.get("image"))))
    if head.get("image_sha256"):
        grid.add_row("sha256", str(head["image_sha256"])[:16] + "…")
    grid.add_row("version", str(head.get("version")))
    grid.add_row("started", when)
    config = head.get("config") or {}
    shown = ", ".join(f"{k}={v}" for k, v in config.items() if v is not None)
    grid.add_row("config", escape(shown or "-"))
    return Panel(grid, title=f"trace {escape(path.name)}", title_align="left")


def _prediction(p: dict[str, Any]) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    lat, lon = p.get("lat"), p.get("lon")
    if lat is not None and lon is not None:
        grid.add_row("coordinates", f"{lat:.5f}, {lon:.5f}")
        place = ", ".join(x for x in (p.get("place"), p.get("admin1"), p.get("country_code")) if x)
        grid.add_row("place", escape(place or "-"))
    grid.add_row("status", str(p.get("status")))
    grid.add_row("confidence", f"{p.get('confidence') or 0:.2f}")
    grid.add_row(
        "checks",
        f"{p.get('rounds', 0)} round(s), {p.get('tool_calls', 0)} tool call(s), "
        f"{p.get('tool_errors', 0)} error(s), {p.get('elapsed_s') or 0:.2f} s",
    )
    for line in p.get("evidence") or []:
        grid.add_row("evidence", escape(line))
    if p.get("reasoning"):
        grid.add_row("reasoning", escape(_short(p["reasoning"], 300)))
    if lat is not None and lon is not None:
        url = f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=15/{lat:.6f}/{lon:.6f}"
        grid.add_row("map", url)
    style = "green" if p.get("status") == "ok" else "yellow"
    return Panel(grid, title="prediction", title_align="left", border_style=style)


def render_event(e: dict[str, Any], text_lines: int) -> Any:
    """A renderable for one trace event (None for types this view skips)."""
    kind = e.get("type")
    if kind == "model_call":
        c = e.get("completion") or {}
        usage = c.get("usage") or {}
        lat = c.get("latency_s")
        head = Text.assemble(
            ("model ", "bold magenta"),
            (f"{e.get('stage', '?'):<12}", "magenta"),
            f" {usage.get('prompt_tokens', '?')} prompt + "
            f"{usage.get('completion_tokens', '?')} completion tokens",
            (f"  {lat:.2f} s" if isinstance(lat, int | float) else "", "dim"),
            (f"  {e.get('model') or c.get('model') or ''}", "dim"),
        )
        lines = [ln for ln in (c.get("text") or "").splitlines() if ln.strip()]
        body = [
            Text("    " + _short(ln, 400), style="dim", no_wrap=True, overflow="ellipsis")
            for ln in lines[:text_lines]
        ]
        if len(lines) > text_lines:
            body.append(Text(f"    … {len(lines) - text_lines} more line(s)", style="dim"))
        if c.get("tool_calls"):
            for call in c["tool_calls"]:
                body.append(
                    Text(f"    tool call: {call.get('name')} {_args(call.get('arguments'))}")
                )
        return Group(head, *body)
    if kind == "model_error":
        return Text.assemble(
            ("model ", "bold red"),
            (f"{e.get('stage', '?'):<12}", "red"),
            f" {e.get('kind')}: {_short(e.get('message'), 100)}",
        )
    if kind == "stage":
        return Group(
            Text.assemble(("stage ", "bold cyan"), (str(e.get("stage")), "cyan")),
            Panel(_stage_table(e.get("parsed") or {}), padding=(0, 1), border_style="dim"),
        )
    if kind == "tool_call":
        lat_ms = e.get("latency_ms")
        tail = Text.assemble(
            (" cached" if e.get("cached") else "", "blue"),
            (f"  {lat_ms:.0f} ms" if isinstance(lat_ms, int | float) else "", "dim"),
            (f"  [{e.get('backend')}]" if e.get("backend") else "", "dim"),
        )
        if e.get("error"):
            error = e["error"] if isinstance(e["error"], dict) else {"message": e["error"]}
            outcome = Text(
                f"✗ {error.get('kind', 'error')}: {_short(error.get('message'), 70)}", "red"
            )
        else:
            outcome = Text(f"→ {result_summary(e.get('result'))}")
        line = Text.assemble(("tool  ", "bold yellow"), (f"{e.get('tool', '?')}", "yellow"), tail)
        args = Text(f"      {_args(e.get('args'))}", no_wrap=True, overflow="ellipsis")
        return Group(line, args, Text.assemble("      ", outcome))
    if kind in ("repair", "fallback"):
        detail = {k: v for k, v in e.items() if k != "type"}
        return Text.assemble((f"{kind} ", "bold yellow"), _short(detail, 100))
    if kind == "decision":
        verdict = e.get("decision")
        return Text.assemble(
            ("decision ", "bold"),
            (f"round {e.get('round')}: ", "dim"),
            (str(verdict), "green" if verdict == "commit" else "yellow"),
            f" — {e.get('reason', '')}",
        )
    if kind == "prediction":
        return _prediction(e)
    if kind == "error":
        return Text(f"error {e.get('kind')}: {e.get('message')}", style="bold red")
    return Text(f"{kind}: {_short({k: v for k, v in e.items() if k != 'type'}, 100)}", "dim")


def render_trace(
    console: Console,
    head: dict[str, Any],
    events: list[dict[str, Any]],
    path: Path,
    text_lines: int = 3,
) -> None:
    console.print(_header(head, path))
    for event in events:
        console.print(render_event(event, text_lines))
    calls = [e for e in events if e.get("type") == "tool_call"]
    models = [e for e in events if e.get("type") == "model_call"]
    tokens = sum(
        ((e.get("completion") or {}).get("usage") or {}).get("prompt_tokens") or 0 for e in models
    )
    console.print(
        Text(
            f"{len(models)} model call(s), {tokens} prompt tokens; {len(calls)} tool call(s), "
            f"{sum(1 for e in calls if e.get('error'))} error(s), "
            f"{sum(1 for e in calls if e.get('cached'))} cached",
            style="dim",
        )
    )


def load(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """read_trace with every failure as a TraceError carrying a readable message."""
    from gre_agent.graphs.gre.trace import TraceError, read_trace

    try:
        head, events = read_trace(path)
    except TraceError:
        raise
    except FileNotFoundError as exc:
        raise TraceError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise TraceError(f"{path}: is a directory") from exc
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not a text file") from exc
    except json.JSONDecodeError as exc:
        raise TraceError(f"{path}: line {exc.lineno} is not JSON ({exc.msg})") from exc
    except (OSError, AttributeError) as exc:  # AttributeError: a line that is not an object
        raise TraceError(f"{path}: not a gre-agent trace ({exc})") from exc
    if any(not isinstance(e, dict) for e in events):
        raise TraceError(f"{path}: every line after the header must be a JSON object")
    return head, events


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
    from gre_agent.graphs.gre.trace import TraceError

    try:
        head, events = load(path)
    except TraceError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from exc
    render_trace(Console(highlight=False), head, events, path, text_lines)
    if map_path is not None:
        from gre_agent.graphs.gre.map import layer_from_trace, write_map

        written = write_map(map_path, [layer_from_trace(head, events)])
        err.print(f"map: {escape(str(written))}")
