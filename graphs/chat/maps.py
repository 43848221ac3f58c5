"""A chat answer on a map: the stored run as a layer for graphs.gre.map (which draws it).

from gre_agent.graphs.gre.map import write_map
layer = await chat.map_layer(session_id)      # or run_layer(state["run"])
write_map("answer.html", [layer], tiles=None)
"""

from __future__ import annotations

from typing import Any

from gre_agent.core.trace import TraceError, TraceEvent, load_trace
from gre_agent.graphs.gre.map import MapLayer, evidence_points


def run_layer(run: dict[str, Any]) -> MapLayer:
    """Hypotheses, the first guess, evidence points (from the run's trace) and the answer."""
    events: list[TraceEvent] = []
    if run.get("trace_path"):
        try:
            events = load_trace(run["trace_path"]).events
        except (OSError, TraceError, ValueError):
            events = []  # a trace moved away: the map still shows the candidates
    return MapLayer(
        image=str(run.get("photo") or ""),
        prediction=run.get("prediction"),
        hypotheses=list(run.get("hypotheses") or []),
        initial=run.get("initial"),
        evidence=evidence_points(run.get("evidence") or [], events),
        error=run.get("error"),
    )
