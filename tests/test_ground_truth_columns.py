"""One ground-truth column resolver (issue 15.9): `gre finetune data --gt` and the eval
loaders read the same spellings (`lat`/`lon` as well as `gt_lat`/`gt_lon`, any case)."""

from __future__ import annotations

import pytest

from gre_agent.agent.finetune.groundtruth import GroundTruth
from gre_agent.core.columns import LAT, LON, find_column, pick
from gre_agent.evals.datasets._table import Columns


@pytest.mark.parametrize(
    ("lat", "lon"),
    [("gt_lat", "gt_lon"), ("lat", "lon"), ("Lat", "Lng"), ("latitude", "longitude")],
)
def test_both_readers_find_the_same_columns(tmp_path, lat, lon):
    path = tmp_path / "gt.csv"
    path.write_text(f"id,image_path,{lat},{lon}\na,photos/a.jpg,60.17,24.94\n")
    gt = GroundTruth.read(path)
    assert gt.lookup("photos/a.jpg") == pytest.approx((60.17, 24.94))
    cols = Columns.detect(["id", "image_path", lat, lon])
    assert (cols.lat, cols.lon) == (lat, lon)
    assert find_column(["id", lat, lon], LAT) == lat and find_column(["id", lat, lon], LON) == lon


def test_pick_prefers_the_explicit_ground_truth_and_skips_empty_cells():
    assert pick({"lat": "1", "gt_lat": "2"}, LAT) == "2"
    assert pick({"gt_lat": "", "LAT": "3"}, LAT) == "3"
    assert pick({"Latitude": 4.0}, LAT) == 4.0
    assert pick({"x": 1}, LAT) is None
