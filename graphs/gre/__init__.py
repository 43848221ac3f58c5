"""The GRE agent graph: staged reasoning, verification with tools, commit.

from gre_agent.graphs.gre import Context, locate
result = await locate("photo.jpg", Context(backend="openai", base_url="http://gpu:8000/v1"))
result.prediction.lat, result.prediction.lon, result.prediction.confidence
"""

from gre_agent.core.prediction import Prediction
from gre_agent.graphs.gre.context import Context
from gre_agent.graphs.gre.graph import build_graph, graph
from gre_agent.graphs.gre.runner import LocateResult, locate
from gre_agent.graphs.gre.state import InputState, State

__all__ = [
    "Context",
    "InputState",
    "LocateResult",
    "Prediction",
    "State",
    "build_graph",
    "graph",
    "locate",
]
