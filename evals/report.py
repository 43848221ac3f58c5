"""`gre eval report RUN_DIR`: Markdown and HTML reports of a run.

RUN_DIR/report/ gets `report.md`, `report.html` (the same content), two PNGs
(`accuracy_vs_distance.png`, `error_cdf.png`, matplotlib's Agg backend) and `map.html`
(predictions joined to their ground truth, coloured by error; Leaflet vendored, so it
renders offline; background tiles only when asked for). The accuracy table sets the run
beside the published numbers of `gre_agent.evals.published`. Worst cases and failures
link to their traces.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import math
from pathlib import Path
from typing import Any

import numpy as np

from gre_agent.evals._manifest import read_manifest
from gre_agent.evals.metrics import THRESHOLDS_KM, DistanceMethod
from gre_agent.evals.published import BENCHMARK_OF_FORMAT, published_for
from gre_agent.evals.scoring import RunScore, load_results, row_distances, score_results

KEYS = [f"{t:g}" for t in THRESHOLDS_KM]


@dataclasses.dataclass
class ReportFiles:
    markdown: Path
    html: Path
    accuracy_plot: Path
    cdf_plot: Path | None  # None when too few images answered for a curve
    map: Path
    score: RunScore


# -- formatting ------------------------------------------------------------------------------


def pct(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}"


def km(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:,.1f}"


Cell = str | tuple[str, str]  # text, or (text, link)


@dataclasses.dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    caption: str = ""

    def markdown(self) -> str:
        def cell(c: Cell) -> str:
            text, link = (c, None) if isinstance(c, str) else c
            text = text.replace("|", "\\|")
            return f"[{text}]({link})" if link else text

        out = ["| " + " | ".join(self.headers) + " |", "|" + " --- |" * len(self.headers)]
        out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows]
        if self.caption:
            out += ["", f"_{self.caption}_"]
        return "\n".join(out)

    def html(self) -> str:
        def cell(c: Cell) -> str:
            text, link = (c, None) if isinstance(c, str) else c
            text = html.escape(text)
            return f'<a href="{html.escape(link)}">{text}</a>' if link else text

        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in self.rows
        )
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclasses.dataclass
class Image:
    src: str
    alt: str


@dataclasses.dataclass
class Link:
    href: str
    text: str


Part = str | Table | Image | Link  # a str is a paragraph


@dataclasses.dataclass
class Section:
    title: str
    parts: list[Part]


# -- content ---------------------------------------------------------------------------------


def accuracy_table(score: RunScore, benchmark: str | None) -> Table:
    a = score.answered
    headers = ["system", *(f"@{k} km %" for k in KEYS), "median km", "GeoScore", "source"]
    rows: list[list[Cell]] = [
        [
            f"this run, all {score.n} images (failures as misses)",
            *(pct(score.acc_km.get(k)) for k in KEYS),
            km(score.median_km),
            f"{score.mean_geoscore:,.1f}",
            "this run",
        ],
        [
            f"this run, {score.n_answered} answered images",
            *(pct(a.acc_km.get(k)) for k in KEYS),
            km(a.median_km),
            f"{a.mean_geoscore:,.1f}" if a.n else "-",
            "this run",
        ],
    ]
    if a.ci:
        ci = a.ci
        rows.append(
            [
                f"{100 * ci.level:g}% bootstrap CI (answered)",
                *(f"{pct(ci.acc_km[k].low)}–{pct(ci.acc_km[k].high)}" for k in KEYS),
                f"{km(ci.median_km.low)}–{km(ci.median_km.high)}",
                f"{ci.mean_geoscore.low:,.0f}–{ci.mean_geoscore.high:,.0f}",
                "",
            ]
        )
    for p in published_for(benchmark):
        acc = [f"{v:g}" for v in p.acc_pct] if p.acc_pct else ["-"] * len(KEYS)
        score_text = f"{p.geoscore:,.0f}" if p.geoscore else "-"
        rows.append([f"{p.system} (published)", *acc, "-", score_text, p.source])
    caption = f"{a.conventions}. {score.failure_rule}."
    if benchmark and published_for(benchmark):
        caption += " Published numbers as compiled in DESIGN.md; check the papers before quoting."
    return Table(headers, rows, caption)


def scene_table(score: RunScore) -> Table | None:
    if not score.answered.by_scene:
        return None
    rows: list[list[Cell]] = [
        [s, str(v.n), *(pct(v.acc_km.get(k)) for k in KEYS), km(v.median_km)]
        for s, v in score.answered.by_scene.items()
    ]
    return Table(["scene", "n", *(f"@{k} km %" for k in KEYS), "median km"], rows)


def agent_parts(score: RunScore) -> list[Part]:
    a = score.answered.agent
    if a is None:
        return ["No agent statistics in these results."]
    rows: list[list[Cell]] = [
        ["tool calls per image", f"{a.tool_calls_per_image or 0:.2f}"],
        ["tool calls in all", str(a.tool_calls_total)],
        ["cache hits", f"{a.cache_hits_total} ({pct(a.cache_hit_rate)}% of tool calls)"],
    ]
    if c := a.cost:
        rows += [
            ["model calls per image", f"{c.model_calls:.2f}"],
            ["prompt tokens per image", f"{c.prompt_tokens:,.0f} ({c.cached_tokens:,.0f} cached)"],
            ["generated tokens per image", f"{c.completion_tokens:,.0f}"],
        ]
    parts: list[Part] = [Table(["statistic", "value"], rows)]
    v = a.verification
    if v:
        parts.append(
            f"Verification changed {pct(v.changed_share)}% of {v.n} answers (moved more than "
            "1 m from the best candidate before verification)."
        )
        ver: list[list[Cell]] = [
            [name, *(pct(s.acc_km.get(k)) for k in KEYS), km(s.median_km), km(s.mean_km)]
            for name, s in (("before verification", v.before), ("after verification", v.after))
        ]
        parts.append(Table(["answer", *(f"@{k} km %" for k in KEYS), "median km", "mean km"], ver))
    return parts


def worst_table(rows: list[dict], d: np.ndarray, n: int, link_prefix: str) -> Table:
    order = [i for i in np.argsort(-d, kind="stable") if np.isfinite(d[i])][:n]
    body: list[list[Cell]] = []
    for i in order:
        r = rows[i]
        trace = r.get("trace")
        body.append(
            [
                str(r["id"]),
                km(float(d[i])),
                f"{r['pred_lat']:.4f}, {r['pred_lon']:.4f}",
                f"{r['gt_lat']:.4f}, {r['gt_lon']:.4f}",
                str(r.get("pred_place") or "-"),
                (trace, link_prefix + trace) if trace else "-",
            ]
        )
    return Table(["id", "error km", "prediction", "truth", "predicted place", "trace"], body)


def failure_table(rows: list[dict], n: int, link_prefix: str) -> Table:
    body: list[list[Cell]] = []
    for r in [r for r in rows if r.get("pred_lat") is None][:n]:
        trace = r.get("trace")
        body.append(
            [
                str(r["id"]),
                str(r.get("status")),
                str(r.get("error") or "")[:200],
                (trace, link_prefix + trace) if trace else "-",
            ]
        )
    return Table(["id", "status", "error", "trace"], body)


# -- plots -----------------------------------------------------------------------------------


def plot_accuracy(path: Path, d: np.ndarray, benchmark: str | None, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = np.logspace(-1, math.log10(20_000), 300)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    acc = [100 * float(np.mean(d <= x)) if d.size else 0.0 for x in xs]
    ax.plot(xs, acc, label="this run (failures as misses)", color="#2c3e99")
    for p in published_for(benchmark):
        if p.acc_pct:
            ax.plot(
                [float(t) for t in THRESHOLDS_KM], p.acc_pct, "o--", ms=4, lw=0.8, label=p.system
            )
    for t in THRESHOLDS_KM:
        ax.axvline(t, color="#cccccc", lw=0.6, zorder=0)
    ax.set_xscale("log")
    ax.set_xlabel("distance threshold (km)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_cdf(path: Path, d: np.ndarray, before: np.ndarray | None, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for values, label, colour in (
        (d, "answer", "#2c3e99"),
        (before, "before verification", "#999999"),
    ):
        if values is None:
            continue
        v = np.sort(values[np.isfinite(values)])
        if v.size:
            ax.step(
                np.maximum(v, 1e-2),
                np.arange(1, v.size + 1) / v.size,
                where="post",
                label=f"{label} (n = {v.size})",
                color=colour,
            )
    ax.set_xscale("log")
    ax.set_xlabel("error (km)")
    ax.set_ylabel("share of answered images with error ≤ x")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# -- rendering -------------------------------------------------------------------------------

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}
caption{caption-side:bottom;font-size:0.8em;color:#555;text-align:left;padding-top:4px}
img{max-width:100%}"""


def render_markdown(title: str, sections: list[Section]) -> str:
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        for part in s.parts:
            if isinstance(part, Table):
                out.append(part.markdown())
            elif isinstance(part, Image):
                out.append(f"![{part.alt}]({part.src})")
            elif isinstance(part, Link):
                out.append(f"[{part.text}]({part.href})")
            else:
                out.append(part)
            out.append("")
    return "\n".join(out)


def render_html(title: str, sections: list[Section]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"]
    for s in sections:
        body.append(f"<h2>{html.escape(s.title)}</h2>")
        for part in s.parts:
            if isinstance(part, Table):
                body.append(part.html())
            elif isinstance(part, Image):
                src, alt = html.escape(part.src), html.escape(part.alt)
                body.append(f'<p><img src="{src}" alt="{alt}"></p>')
            elif isinstance(part, Link):
                body.append(
                    f'<p><a href="{html.escape(part.href)}">{html.escape(part.text)}</a></p>'
                )
            else:
                body.append(f"<p>{html.escape(part)}</p>")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


MIN_CDF_POINTS = 3  # answered images an error CDF needs to show a curve


def answers_source(config: dict[str, Any]) -> str:
    """Who answered: the model and its backend, or the trace a replay read its answers from
    (a replay of hand-written answers is not an evaluation of the model it names)."""
    backend = config.get("backend")
    if backend == "replay":
        trace = config.get("replay_path")
        return f"answers replayed from {Path(trace).name if trace else 'a trace'} (replay)"
    if backend == "ocr":
        return "the OCR baseline (no model)"
    return f"{config.get('model') or '?'} via {backend or '?'}"


def selection_text(selection: Any) -> str:
    """The manifest's selection as words ("limit 5, shard 1/4"), not a Python dict."""
    if not selection:
        return "every image"
    if not isinstance(selection, dict):
        return str(selection)
    parts = [
        f"{k.replace('_', ' ')} {', '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in selection.items()
        if v not in (None, "", [], {})
    ]
    return "; ".join(parts) or "every image"


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def write_report(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    distance: DistanceMethod = "geodesic",
    benchmark: str | None = None,
    tiles: str | None = None,
    worst: int = 20,
    bootstrap: int = 1000,
    seed: int = 0,
) -> ReportFiles:
    """Write the report of `run_dir` into `out_dir` (default RUN_DIR/report).
    `benchmark` picks the published numbers (default: from the dataset format)."""
    from gre_agent.evals._report_map import write_error_map

    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir else run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(run_dir)
    rows = load_results(run_dir)
    fmt = manifest.get("dataset", {}).get("format")
    benchmark = benchmark or BENCHMARK_OF_FORMAT.get(fmt or "")
    score = score_results(rows, distance=distance, bootstrap=bootstrap, seed=seed)
    d = row_distances(rows, distance)
    before = None
    pre = [i for i, r in enumerate(rows) if r.get("pre_verify_lat") is not None]
    if pre:
        pre_rows = [
            {
                **rows[i],
                "pred_lat": rows[i]["pre_verify_lat"],
                "pred_lon": rows[i]["pre_verify_lon"],
            }
            for i in pre
        ]
        before = row_distances(pre_rows, distance)

    config = manifest.get("config", {})
    name = manifest.get("dataset", {}).get("name") or run_dir.name
    title = f"Evaluation of {answers_source(config)} ({config.get('mode')}) on {name}"
    acc_png = plot_accuracy(out / "accuracy_vs_distance.png", d, benchmark, title)
    # an error curve of one or two points says nothing: none, and the report says why
    enough = int(np.isfinite(d).sum()) >= MIN_CDF_POINTS
    cdf_png = plot_cdf(out / "error_cdf.png", d, before, title) if enough else None
    map_html = write_error_map(out / "map.html", rows, list(d), tiles=tiles)
    link = _relative(run_dir, out)

    git = manifest.get("git") or {}
    info = Table(
        ["run", "value"],
        [
            [
                "dataset",
                f"{name} ({fmt or '?'}), fingerprint {manifest['dataset'].get('fingerprint')}",
            ],
            ["selection", selection_text(manifest.get("selection"))],
            ["model", answers_source(config)],
            ["mode", f"{config.get('mode')} (verify: {config.get('verify')})"],
            ["tools", "offline" if config.get("offline") else "online"],
            [
                "leakage guard",
                f"EXIF {'ON' if config.get('use_exif') else 'off'}; Wikipedia "
                f"excludes {config.get('exclude_domains') or 'nothing'}",
            ],
            ["code", f"{git.get('commit', '-')}{' (dirty)' if git.get('dirty') else ''}"],
            ["run", f"{_when(manifest.get('started'))} to {_when(manifest.get('ended'))}"],
            [
                "images",
                f"{score.n} images: {score.n_answered} answered, {score.n_failed} failed "
                f"({', '.join(f'{k} {v}' for k, v in score.failures.items()) or 'none'})",
            ],
        ],
    )
    sections = [
        Section("Run", [info]),
        Section("Accuracy", [accuracy_table(score, benchmark)]),
        Section(
            "Curves",
            [
                Image(acc_png.name, "accuracy versus distance"),
                Image(cdf_png.name, "error CDF")
                if cdf_png
                else f"No error CDF: {score.n_answered} image(s) answered, fewer than "
                f"{MIN_CDF_POINTS}.",
            ],
        ),
        Section("Map", [Link(map_html.name, "World map of predictions and errors")]),
    ]
    scenes = scene_table(score)
    if scenes:
        sections.append(Section("By scene (answered images)", [scenes]))
    if score.answered.admin:
        admin = Table(
            ["level", "labelled rows", "accuracy %"],
            [
                [k, str(v["n"]), pct(v["accuracy"])]
                for k, v in score.answered.admin.model_dump().items()
            ],
        )
        sections.append(Section("Administrative accuracy (answered images)", [admin]))
    sections.append(Section("Agent statistics (answered images)", agent_parts(score)))
    sections.append(Section(f"Worst {worst} answers", [worst_table(rows, d, worst, link)]))
    if score.n_failed:
        sections.append(Section(f"Failures (first {worst})", [failure_table(rows, worst, link)]))
    md = render_markdown(title, sections)
    page = render_html(title, sections)
    md_path = out / "report.md"
    html_path = out / "report.html"
    md_path.write_text(md, encoding="utf-8")
    html_path.write_text(page, encoding="utf-8")
    return ReportFiles(md_path, html_path, acc_png, cdf_png, map_html, score)


def _relative(run_dir: Path, out: Path) -> str:
    """Prefix that turns a row's `traces/...` path into a link from the report folder."""
    import os

    rel = os.path.relpath(run_dir.resolve(), out.resolve())
    return "" if rel == "." else rel.rstrip("/") + "/"
