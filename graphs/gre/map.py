"""Maps of what the agent considered: ranked hypotheses, evidence points, the answer.

    from gre_agent.graphs.gre.map import layer_from_result, write_map
    write_map("where.html", [layer_from_result(result)])          # result: a LocateResult

Maps render offline. folium's HTML loads Leaflet, jQuery and Bootstrap from public CDNs by
default; these maps use only Leaflet (circles, lines, popups, an expanded layer control),
served from the copy vendored in `gre_agent.graphs.gre.leaflet`: `assets="copy"` writes it
next to the HTML (`where_files/leaflet.js`, `.css`), `assets="inline"` embeds it in the
page (one self-contained file, e.g. for a web UI's iframe).

Map tiles are a separate source: the background comes from a tile server, by default
OpenStreetMap's (`DEFAULT_TILES`; mind its usage policy), which needs the network. Pass
another template (`{z}/{x}/{y}` URL of your own tile server, or a `file://` tree of
pre-rendered tiles), or `tiles=None` for no background at all: the points, circles and
popups still render.
"""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import folium
from branca.element import MacroElement
from jinja2 import Template

from gre_agent.core.geo import is_latitude, is_longitude
from gre_agent.core.trace import PredictionEvent, Record, ToolCallEvent, Trace

DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_ATTRIBUTION = "© OpenStreetMap contributors"
ASSETS = ("leaflet.js", "leaflet.css")
_JS_SLOT = "gre-leaflet-js"
_CSS_SLOT = "gre-leaflet-css"

STATUS_COLOURS = {"confirmed": "#1a9641", "open": "#fdae61", "rejected": "#d7191c"}
EFFECT_COLOURS = {
    "confirm": "#1a9641",
    "support": "#66bd63",
    "move": "#66bd63",
    "against": "#f46d43",
    "reject": "#d7191c",
    "neutral": "#878787",
    "error": "#878787",
}
ANSWER_COLOUR = "#2c3e99"
POINTS_PER_CALL = 3  # evidence points drawn per tool call (its best features)


@dataclass
class EvidencePoint:
    lat: float
    lon: float
    label: str
    claim: str = ""
    summary: str = ""
    effect: str = "neutral"
    tool: str = ""
    candidate: str | None = None


@dataclass
class MapLayer:
    """What one image contributes to a map."""

    image: str
    prediction: dict[str, Any] | None = None
    hypotheses: list[dict[str, Any]] = field(default_factory=list)
    initial: dict[str, Any] | None = None
    evidence: list[EvidencePoint] = field(default_factory=list)
    error: str | None = None

    def points(self) -> list[tuple[float, float]]:
        pts = [(h["lat"], h["lon"]) for h in self.hypotheses if _located(h)]
        pts += [(e.lat, e.lon) for e in self.evidence]
        if self.initial and _located(self.initial):
            pts.append((self.initial["lat"], self.initial["lon"]))
        if self.prediction and _located(self.prediction):
            pts.append((self.prediction["lat"], self.prediction["lon"]))
        return pts


def _located(d: dict[str, Any] | None) -> bool:
    return d is not None and all(isinstance(d.get(k), int | float) for k in ("lat", "lon"))


def _canon(args: Any) -> str:
    return json.dumps(args, sort_keys=True, default=str)


def result_points(result: Any, limit: int = POINTS_PER_CALL) -> list[tuple[float, float, str]]:
    """Coordinates in a tool result: the result itself, or items of its lists (features,
    candidates, pages ...), best first; each as (lat, lon, label)."""
    if not isinstance(result, dict):
        return []
    out: list[tuple[float, float, str]] = []

    def add(d: dict[str, Any]) -> None:
        if _located(d) and is_latitude(d["lat"]) and is_longitude(d["lon"]):
            label = d.get("name") or d.get("title") or d.get("label") or ""
            if d.get("osm_type") and d.get("osm_id"):
                label = f"{label} (OSM {d['osm_type']} {d['osm_id']})".strip()
            out.append((float(d["lat"]), float(d["lon"]), str(label)))

    add(result)
    for value in result.values():
        if isinstance(value, list):
            for item in value[:limit]:
                if isinstance(item, dict):
                    add(item)
    return out[:limit]


def evidence_points(
    evidence: list[dict[str, Any]], events: Iterable[dict[str, Any] | Record]
) -> list[EvidencePoint]:
    """Points for the checked claims: each evidence item's tool call, found in the trace by
    (tool, args), drawn at the coordinates its result holds. Calls that only name the
    answer (gazetteer.reverse) or describe a point (geo.check) add no point."""
    calls: dict[tuple[str, str], ToolCallEvent] = {}
    for ev in Trace.of(events).of_type(ToolCallEvent):
        if ev.result is not None:
            calls.setdefault((ev.tool, _canon(ev.args)), ev)
    points: list[EvidencePoint] = []
    seen: set[tuple[float, float, str]] = set()
    for item in evidence:
        tool = item.get("tool")
        if not tool or tool in ("gazetteer.reverse", "geo.check"):
            continue
        call = calls.get((tool, _canon(item.get("args"))))
        if call is None:
            continue
        for lat, lon, label in result_points(call.result):
            key = (round(lat, 6), round(lon, 6), item.get("claim", ""))
            if key in seen:
                continue
            seen.add(key)
            points.append(
                EvidencePoint(
                    lat=lat,
                    lon=lon,
                    label=label or item.get("claim", ""),
                    claim=item.get("claim", ""),
                    summary=item.get("summary", ""),
                    effect=item.get("effect", "neutral"),
                    tool=tool,
                    candidate=item.get("candidate"),
                )
            )
    return points


def layer_from_result(result: Any) -> MapLayer:
    """A map layer from a `LocateResult` (the graph's final state and trace)."""
    state = result.state or {}
    pred = result.prediction.model_dump(mode="json") if result.prediction is not None else None
    hyps = (pred or {}).get("hypotheses") or state.get("hypotheses") or []
    return MapLayer(
        image=str(result.image),
        prediction=pred,
        hypotheses=list(hyps),
        initial=state.get("initial"),
        evidence=evidence_points(state.get("evidence") or [], state.get("trace") or []),
        error=result.error,
    )


def layer_from_trace(trace: Trace) -> MapLayer:
    """A map layer from a trace file (`core.trace.load_trace`).

    A trace holds the tool calls but not the evidence scores, so evidence points are the
    tool results with coordinates, coloured neutral."""
    stage = trace.stage("hypotheses")
    initial = None
    if stage and stage.parsed.get("hypotheses"):
        initial = next((h for h in stage.parsed["hypotheses"] if _located(h)), None)
    points = []
    for ev in trace.of_type(ToolCallEvent):
        if ev.tool in ("gazetteer.reverse", "geo.check"):
            continue
        for lat, lon, label in result_points(ev.result):
            points.append(EvidencePoint(lat, lon, label or ev.claim, ev.claim, tool=ev.tool))
    found = trace.of_type(PredictionEvent)
    # the prediction as recorded (its fields as written), for the popup
    prediction = found[-1].model_dump(mode="json", exclude={"type"}) if found else None
    error = trace.error.message if trace.error else None
    return MapLayer(
        image=trace.header.image if trace.header else "",
        prediction=prediction,
        hypotheses=list((prediction or {}).get("hypotheses") or []),
        initial=initial,
        evidence=points,
        error=error,
    )


class _Bind(MacroElement):
    """A popup or tooltip bound to its parent layer, its HTML passed as a JSON string.

    folium's own Popup builds its content with jQuery (`$(...)`); this needs nothing but
    Leaflet, and no model-written text can break out of a JavaScript template literal."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.{{ this.method }}(
                {{ this.content|tojson }}, {{ this.options|tojson }}
            );
        {% endmacro %}
        """
    )

    def __init__(self, method: str, content: str, **options: Any):
        super().__init__()
        self._name = "Bind"
        self.method = method
        self.content = content
        self.options = options


def _popup_html(lines: list[tuple[str, Any]], title: str) -> str:
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:6px'>{html.escape(k)}</th>"
        f"<td>{html.escape(str(v))}</td></tr>"
        for k, v in lines
        if v not in (None, "", [])
    )
    return f"<b>{html.escape(title)}</b><table>{rows}</table>"


def _annotate(
    layer: Any, popup: tuple[list[tuple[str, Any]], str] | None, tooltip: str | None
) -> Any:
    if popup is not None:
        layer.add_child(_Bind("bindPopup", _popup_html(*popup), maxWidth=360))
    if tooltip:
        layer.add_child(_Bind("bindTooltip", html.escape(tooltip), sticky=True))
    return layer


def _hypothesis_label(h: dict[str, Any]) -> str:
    where = ", ".join(p for p in (h.get("place"), h.get("country_code") or h.get("country")) if p)
    return where or f"{h['lat']:.4f}, {h['lon']:.4f}"


def _add_layer(m: folium.Map, layer: MapLayer, show: bool) -> None:
    name = Path(layer.image).name or layer.image
    group = folium.FeatureGroup(name=html.escape(name), show=show)
    located = [h for h in layer.hypotheses if _located(h)]
    for rank, h in enumerate(located, 1):
        status = h.get("status", "open")
        colour = STATUS_COLOURS.get(status, STATUS_COLOURS["open"])
        conf = h.get("confidence")
        conf_text = f"{conf:.2f}" if isinstance(conf, int | float) else "?"
        title = f"#{rank} {_hypothesis_label(h)}"
        info = [
            ("rank", rank),
            ("status", status),
            ("confidence", conf_text),
            ("coordinates", f"{h['lat']:.5f}, {h['lon']:.5f}"),
            ("radius", f"{h.get('radius_km') or 0:g} km"),
            ("snapped to", h.get("snapped_to")),
            ("model's evidence", "; ".join(h.get("model_evidence") or [])),
        ]
        folium.Circle(
            [h["lat"], h["lon"]],
            radius=float(h.get("radius_km") or 1.0) * 1000.0,
            color=colour,
            weight=1,
            fill=True,
            fill_opacity=0.06,
        ).add_to(group)
        marker = folium.CircleMarker(
            [h["lat"], h["lon"]], radius=7, color=colour, fill=True, fill_opacity=0.8
        )
        _annotate(marker, (info, f"hypothesis {title}"), f"{title} ({status}, {conf_text})")
        marker.add_to(group)
    for e in layer.evidence:
        colour = EFFECT_COLOURS.get(e.effect, EFFECT_COLOURS["neutral"])
        marker = folium.CircleMarker(
            [e.lat, e.lon], radius=4, color=colour, fill=True, fill_opacity=0.9
        )
        info = [
            ("claim", e.claim),
            ("tool", e.tool),
            ("found", e.label),
            ("result", e.summary),
            ("effect", e.effect),
            ("for", e.candidate),
            ("coordinates", f"{e.lat:.5f}, {e.lon:.5f}"),
        ]
        _annotate(marker, (info, f"evidence: {e.claim or e.label}"), e.label or e.claim)
        marker.add_to(group)
    pred = layer.prediction
    if layer.initial and _located(layer.initial) and pred and _located(pred):
        first = (layer.initial["lat"], layer.initial["lon"])
        if first != (pred["lat"], pred["lon"]):
            marker = folium.CircleMarker(
                first, radius=6, color="#555555", dash_array="3", fill=False
            )
            info = [("coordinates", f"{first[0]:.5f}, {first[1]:.5f}")]
            title = f"first guess: {_hypothesis_label(layer.initial)}"
            _annotate(marker, (info, title), title).add_to(group)
            line = folium.PolyLine(
                [first, (pred["lat"], pred["lon"])], color="#555555", weight=2, dash_array="6"
            )
            _annotate(line, None, "moved by verification").add_to(group)
    if pred and _located(pred):
        place = ", ".join(p for p in (pred.get("place"), pred.get("country_code")) if p)
        marker = folium.CircleMarker(
            [pred["lat"], pred["lon"]],
            radius=11,
            color="white",
            weight=3,
            fill=True,
            fill_color=ANSWER_COLOUR,
            fill_opacity=1.0,
        )
        info = [
            ("image", layer.image),
            ("coordinates", f"{pred['lat']:.5f}, {pred['lon']:.5f}"),
            ("place", place),
            ("confidence", f"{pred.get('confidence') or 0:.2f}"),
            ("status", pred.get("status")),
            ("evidence", "; ".join(pred.get("evidence") or [])),
        ]
        _annotate(marker, (info, f"answer: {place or name}"), f"answer for {name}: {place}")
        marker.add_to(group)
    group.add_to(m)


def build_map(
    layers: list[MapLayer],
    *,
    tiles: str | None = DEFAULT_TILES,
    attribution: str = DEFAULT_ATTRIBUTION,
) -> folium.Map:
    """A folium map of the layers, fitted to their points; Leaflet only (no CDN defaults)."""
    points = [p for layer in layers for p in layer.points()]
    m = folium.Map(location=points[0] if points else (0.0, 0.0), zoom_start=3, tiles=None)
    # Leaflet alone, from local slots filled in by `render_html`: no jQuery, no Bootstrap,
    # no awesome-markers, no Font Awesome (folium's CDN defaults).
    m.default_js = [("leaflet", _JS_SLOT)]
    m.default_css = [("leaflet_css", _CSS_SLOT)]
    if tiles:
        folium.TileLayer(tiles=tiles, attr=attribution, name="map", control=False).add_to(m)
    for i, layer in enumerate(layers):
        _add_layer(m, layer, show=True if len(layers) < 10 else i == 0)
    if len(layers) > 1:
        folium.LayerControl(collapsed=False).add_to(m)
    if len(points) > 1:
        lats = [p[0] for p in points]
        lons = [p[1] for p in points]
        m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(30, 30))
    elif points:
        m.location = list(points[0])
        m.options["zoom"] = 15
    return m


def _asset(name: str) -> str:
    return (files("gre_agent.graphs.gre.leaflet") / name).read_text(encoding="utf-8")


def render_html(
    m: folium.Map,
    assets: Literal["inline", "copy"] = "inline",
    asset_dir: str = "",
) -> str:
    """The map's HTML. inline: Leaflet embedded; copy: linked at `asset_dir/leaflet.*`."""
    page = m.get_root().render()
    js_tag = f'<script src="{_JS_SLOT}"></script>'
    css_tag = f'<link rel="stylesheet" href="{_CSS_SLOT}"/>'
    if js_tag not in page or css_tag not in page:
        raise RuntimeError("folium did not render the Leaflet slots (folium version change?)")
    if assets == "inline":
        js = _asset("leaflet.js").replace("</script", "<\\/script")
        page = page.replace(js_tag, f"<script>{js}</script>", 1)
        page = page.replace(css_tag, f"<style>{_asset('leaflet.css')}</style>", 1)
    else:
        prefix = f"{asset_dir.rstrip('/')}/" if asset_dir else ""
        page = page.replace(js_tag, f'<script src="{html.escape(prefix)}leaflet.js"></script>')
        page = page.replace(
            css_tag, f'<link rel="stylesheet" href="{html.escape(prefix)}leaflet.css"/>'
        )
    return page


def write_map(
    path: str | Path,
    layers: list[MapLayer],
    *,
    tiles: str | None = DEFAULT_TILES,
    attribution: str = DEFAULT_ATTRIBUTION,
    assets: Literal["inline", "copy"] = "copy",
) -> Path:
    """Write the map to `path`. copy: Leaflet goes to `<stem>_files/` beside the HTML."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    m = build_map(layers, tiles=tiles, attribution=attribution)
    asset_dir = ""
    if assets == "copy":
        folder = path.parent / f"{path.stem}_files"
        folder.mkdir(exist_ok=True)
        src = files("gre_agent.graphs.gre.leaflet")
        for name in (*ASSETS, "LICENSE.txt"):
            with (src / name).open("rb") as fin, open(folder / name, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        asset_dir = folder.name
    page = render_html(m, assets=assets, asset_dir=asset_dir)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
