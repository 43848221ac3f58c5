"""`gre data wikipedia ...`: offline Wikipedia (Kiwix ZIM files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gre_agent.cli._console import Console
from gre_agent.core.errors import ConfigError, ToolFailure

app = typer.Typer(help="Offline Wikipedia: Kiwix ZIM files.", no_args_is_help=True)
err = Console(stderr=True)


@app.command("build-zim")
def build_zim_cmd(
    facts: Annotated[Path, typer.Argument(help="JSON lines: {title, lang, summary, lat?, lon?}")],
    out: Annotated[Path, typer.Argument(help="The .zim file to write.")],
    lang: Annotated[
        str | None, typer.Option(help="Language to keep (default: the first record's).")
    ] = None,
    title: Annotated[str, typer.Option(help="The ZIM's Title metadata.")] = "Wikipedia facts",
) -> None:
    """Build a small Wikipedia-style ZIM (full-text and title indexed) from facts."""
    from gre_agent.tools.wikipedia._build import build_zim, read_facts

    if not facts.is_file():
        err.print(f"[red]error:[/] no such file: {facts}")
        raise typer.Exit(2)
    try:
        path, count = build_zim(read_facts(facts), out, lang=lang, title=title)
    except ConfigError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    typer.echo(f"wrote {path} ({count} articles, {path.stat().st_size} bytes)")


@app.command("list")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the ZIM files the offline Wikipedia tools would use, with their metadata."""
    from gre_agent.tools.wikipedia import _zim

    rows: list[dict[str, Any]] = []
    from gre_agent.core.settings import load_settings

    for path in _zim.candidate_paths(load_settings()):
        try:
            zim = _zim.open_zim(path)
        except ToolFailure as exc:
            rows.append({"path": str(path), "error": exc.message})
            continue
        a = zim.archive
        rows.append(
            {
                "path": str(path),
                "title": _zim.metadata(a, "Title"),
                "language": zim.language,
                "articles": a.article_count,
                "date": _zim.metadata(a, "Date"),
                "uuid": str(a.uuid),
                "fulltext_index": a.has_fulltext_index,
                "bytes": a.filesize,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        err.print("no ZIM files found; see `gre data wikipedia build-zim --help`")
        raise typer.Exit(1)
    table = Table("path", "title", "lang", "articles", "date", "full text", "size")
    for r in rows:
        if "error" in r:
            table.add_row(r["path"], f"[red]{r['error']}[/]", "", "", "", "", "")
            continue
        table.add_row(
            r["path"],
            r["title"],
            r["language"],
            str(r["articles"]),
            r["date"],
            "yes" if r["fulltext_index"] else "no",
            f"{r['bytes'] / 1e6:.2f} MB",
        )
    Console().print(table)


@app.command("geo-index")
def geo_index_cmd(
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="Processes that scan articles (default: one per CPU, fewer on small ZIMs)."
        ),
    ] = None,
) -> None:
    """Build the geosearch coordinate index of every ZIM found (otherwise done on first use).

    An interrupted build resumes where it stopped; a finished index is not rebuilt."""
    from gre_agent.core.settings import load_settings
    from gre_agent.tools.wikipedia import _zim

    settings = load_settings()
    for path in _zim.candidate_paths(settings):
        zim = _zim.open_zim(path)
        index, report = _zim.ensure_geo_index(settings, zim, workers=workers)
        where = _zim.geo_index_path(settings, zim)
        typer.echo(f"{path.name}: {len(index.titles)} articles with coordinates -> {where}")
        if report.reused:
            typer.echo("  already built")
            continue
        resumed = ""
        if report.chunks_resumed:
            resumed = f", resumed after {report.chunks_resumed}/{report.chunks} chunks"
        typer.echo(
            f"  scanned {report.articles} articles in {report.seconds:.1f} s"
            f" ({report.articles_per_s:,.0f} articles/s, {report.workers} workers{resumed})"
        )
