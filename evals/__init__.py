"""Datasets, metrics, the resumable runner and reports (evaluation issue)."""
