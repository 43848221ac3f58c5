"""Evaluation: dataset loaders (`gre_agent.evals.datasets`), metrics, scoring, the
resumable runner (`run_eval`), shard merging, reports and paired comparisons.

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
from gre_agent.evals._manifest import ManifestError
from gre_agent.evals._predictions import PredictionRow, parse_prediction_lines, read_predictions
from gre_agent.evals._results import ResultsError
from gre_agent.evals._score import ScoreReport, conventions, score_rows
from gre_agent.evals.compare import Comparison, compare_runs
from gre_agent.evals.merge import MergeSummary, merge_runs
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
from gre_agent.evals.published import PUBLISHED, Published, published_for
from gre_agent.evals.report import ReportFiles, write_report
from gre_agent.evals.runner import RunConfig, RunSummary, run_eval
from gre_agent.evals.scoring import RunScore, load_results, score_results

__all__ = [
    "PUBLISHED",
    "THRESHOLDS_KM",
    "AdminAccuracy",
    "AdminPlaces",
    "AgentStats",
    "Comparison",
    "DistanceSummary",
    "GazetteerReverser",
    "Interval",
    "ManifestError",
    "MergeSummary",
    "PredictionRow",
    "Published",
    "ReportFiles",
    "ResultsError",
    "Reverser",
    "RunConfig",
    "RunScore",
    "RunSummary",
    "ScoreReport",
    "SummaryCI",
    "VerificationStats",
    "accuracy_within",
    "admin_accuracy",
    "agent_stats",
    "bootstrap_ci",
    "compare_runs",
    "conventions",
    "distance_km",
    "gazetteer_reverser",
    "geodesic_km",
    "geoscore",
    "haversine_km",
    "labels_from_coordinates",
    "load_results",
    "merge_runs",
    "parse_prediction_lines",
    "published_for",
    "read_predictions",
    "run_eval",
    "score_results",
    "score_rows",
    "summarize",
    "write_report",
]
