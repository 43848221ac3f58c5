"""The report's world map: each prediction joined to its ground truth, coloured by error.

Built on `gre_agent.graphs.gre.map` (the `gre locate --map` maps): Leaflet only, from the
vendored copy, so the page renders offline; tiles are a separate, optional source.
"""

from __future__ import annotations

import html
import shutil
from importlib.resources import files
from pathlib import Path
from typing import Any

import folium
from branca.element import MacroElement
from jinja2 import Template

from gre_agent.graphs.gre.map import ASSETS, DEFAULT_ATTRIBUTION, build_map, render_html

# Error bands (km, upper bound inclusive) and their colours, green to red.
BANDS = ((1, "#1a9641"), (25, "#66bd63"), (200, "#a6d96a"), (750, "#fdae61"), (2500, "#f46d43"))
FAR = "#d7191c"
TRUTH = "#2c3e99"
FAILED = "#7f7f7f"  # an image the agent did not answer
MAX_POINTS = 5000  # beyond this the page gets slow; the worst errors are drawn first


def band_colour(d_km: float) -> str:
    return next((c for t, c in BANDS if d_km <= t), FAR)


class _Tooltip(MacroElement):
    """A tooltip with its text passed as JSON (ids and places are data, not markup)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.bindTooltip({{ this.text|tojson }}, {"sticky": true});
        {% endmacro %}
        """
    )

    def __init__(self, text: str):
        super().__init__()
        self._name = "Tooltip"
        self.text = html.escape(text)


def _has_truth(row: dict[str, Any]) -> bool:
    lat, lon = row.get("gt_lat"), row.get("gt_lon")
    return isinstance(lat, int | float) and isinstance(lon, int | float)


def write_error_map(
    path: Path,
    rows: list[dict[str, Any]],
    distances: list[float],
    *,
    tiles: str | None = None,
    attribution: str = DEFAULT_ATTRIBUTION,
) -> Path:
    """Write `path` (HTML) and its Leaflet copy in `<stem>_files/`."""
    m = build_map([], tiles=tiles, attribution=attribution)
    m.options["zoom"] = 2
    answered = [(d, r) for d, r in zip(distances, rows, strict=True) if d != float("inf")]
    answered.sort(key=lambda x: -x[0])
    truth = folium.FeatureGroup(name="ground truth")
    preds = folium.FeatureGroup(name="predictions (colour: error)")
    lines = folium.FeatureGroup(name="errors")
    for d, r in answered[:MAX_POINTS]:
        colour = band_colour(d)
        gt = (r["gt_lat"], r["gt_lon"])
        pred = (r["pred_lat"], r["pred_lon"])
        tip = f"{r['id']}: error {d:,.1f} km"
        folium.PolyLine([gt, pred], color=colour, weight=1, opacity=0.6).add_to(lines)
        mark = folium.CircleMarker(gt, radius=3, color=TRUTH, fill=True, fill_opacity=0.7)
        mark.add_child(_Tooltip(f"{r['id']}: ground truth"))
        mark.add_to(truth)
        mark = folium.CircleMarker(pred, radius=4, color=colour, fill=True, fill_opacity=0.9)
        mark.add_child(_Tooltip(tip))
        mark.add_to(preds)
    # the images without an answer, at their ground truth: an outage shows where it hit
    failed = folium.FeatureGroup(name="failed images (ground truth)")
    for d, r in zip(distances, rows, strict=True):
        if d != float("inf") or not _has_truth(r):
            continue
        why = f"{r.get('status') or 'failed'}: {r.get('error') or 'no answer'}"
        mark = folium.CircleMarker(
            (r["gt_lat"], r["gt_lon"]), radius=4, color=FAILED, fill=True, fill_opacity=0.5
        )
        # a popup (click), not a tooltip: the error text is long
        mark.add_child(folium.Popup(html.escape(f"{r.get('id')}: {why[:300]}"), max_width=360))
        mark.add_to(failed)
    for group in (lines, truth, preds, failed):
        group.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.location = [20.0, 0.0]
    folder = path.parent / f"{path.stem}_files"
    folder.mkdir(parents=True, exist_ok=True)
    src = files("gre_agent.graphs.gre.leaflet")
    for name in (*ASSETS, "LICENSE.txt"):
        with (src / name).open("rb") as fin, open(folder / name, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    path.write_text(render_html(m, assets="copy", asset_dir=folder.name), encoding="utf-8")
    return path
