"""Evaluation: dataset loaders (`gre_agent.evals.datasets`), metrics, scoring.

Conventions, repeated wherever numbers are reported: distances are geodesic on WGS-84 by
default (what geopy's `geodesic` gives, as GRE, GeoCLIP, G3 and GeoRanker use), haversine
on R = 6371.0 km as an option (OSV-5M, GeoEstimation); correct at T when d <= T;
GeoScore = 5000 * exp(-d / 1492.7) averaged without rounding. See `metrics`.
"""

from gre_agent.evals._admin import (
    AdminAccuracy,
    AdminPlaces,
    GazetteerReverser,
    Reverser,
    admin_accuracy,
    gazetteer_reverser,
    labels_from_coordinates,
)
from gre_agent.evals._agent_stats import AgentStats, VerificationStats, agent_stats
from gre_agent.evals._bootstrap import Interval, SummaryCI, bootstrap_ci
from gre_agent.evals._predictions import PredictionRow, parse_prediction_lines, read_predictions
from gre_agent.evals._score import ScoreReport, conventions, score_rows
from gre_agent.evals.metrics import (
    THRESHOLDS_KM,
    DistanceSummary,
    accuracy_within,
    distance_km,
    geodesic_km,
    geoscore,
    haversine_km,
    summarize,
)

__all__ = [
    "THRESHOLDS_KM",
    "AdminAccuracy",
    "AdminPlaces",
    "AgentStats",
    "DistanceSummary",
    "GazetteerReverser",
    "Interval",
    "PredictionRow",
    "Reverser",
    "ScoreReport",
    "SummaryCI",
    "VerificationStats",
    "accuracy_within",
    "admin_accuracy",
    "agent_stats",
    "bootstrap_ci",
    "conventions",
    "distance_km",
    "gazetteer_reverser",
    "geodesic_km",
    "geoscore",
    "haversine_km",
    "labels_from_coordinates",
    "parse_prediction_lines",
    "read_predictions",
    "score_rows",
    "summarize",
]
