"""Metrics: GeoScore, summaries, validation, threads, bootstrap, admin accuracy, agent stats."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest

from gre_agent.core import geo
from gre_agent.evals import (
    AdminPlaces,
    PredictionRow,
    _admin,
    agent_stats,
    bootstrap_ci,
    gazetteer_reverser,
    geodesic_km,
    geoscore,
    haversine_km,
    labels_from_coordinates,
    metrics,
    parse_prediction_lines,
    score_rows,
    summarize,
)
from gre_agent.evals._admin import admin_accuracy, country_code, normalize_name


def test_doctests_of_the_metrics_module():
    for module in (metrics,):
        result = doctest.testmod(module)
        assert result.attempted >= 4 and result.failed == 0


def test_geoscore_is_unrounded_osv5m_formula():
    d = np.array([0.0, 100.0, 1492.7, 20000.0])
    np.testing.assert_allclose(geoscore(d), 5000 * np.exp(-d / 1492.7), rtol=1e-15)
    s = summarize([0.4, 0.6])  # 4999.8660... and 4999.799...: rounding per image would differ
    assert s.mean_geoscore == pytest.approx(
        float(np.mean(5000 * np.exp(-np.array([0.4, 0.6]) / 1492.7)))
    )
    assert s.mean_geoscore != round(s.mean_geoscore)


def test_summary_numbers():
    s = summarize([0.5, 10.0, 150.0, 800.0, 3000.0])
    assert s.n == 5
    assert s.acc_km == {"1": 0.2, "25": 0.4, "200": 0.6, "750": 0.6, "2500": 0.8}
    assert s.median_km == 150.0
    assert s.mean_km == pytest.approx(792.1)
    empty = summarize([])
    assert empty.n == 0 and math.isnan(empty.median_km) and math.isnan(empty.acc_km["1"])


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(91.0, 0.0), (-90.5, 0.0), (0.0, 180.01), (float("nan"), 0.0), (0.0, float("inf"))],
)
def test_distances_refuse_invalid_coordinates(lat, lon):
    for fn in (geodesic_km, haversine_km):
        with pytest.raises(ValueError, match="not a valid latitude/longitude"):
            fn([lat], [lon], [0.0], [0.0])
        with pytest.raises(ValueError, match="ground truth"):
            fn([0.0], [0.0], [lat], [lon])


def test_edges_are_valid_and_lengths_must_agree():
    d = geodesic_km([90.0, -90.0, 0.0], [180.0, -180.0, -180.0], [0.0, 0.0, 0.0], [0.0, 0.0, 180.0])
    assert np.all(np.isfinite(d)) and d[2] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="differ in length"):
        geodesic_km([0.0, 1.0], [0.0], [0.0], [0.0])


def test_threaded_geodesic_equals_single_thread(monkeypatch):
    rng = np.random.default_rng(3)
    n = 5001
    args = (
        rng.uniform(-90, 90, n),
        rng.uniform(-180, 180, n),
        rng.uniform(-90, 90, n),
        rng.uniform(-180, 180, n),
    )
    single = geodesic_km(*args, workers=1)
    monkeypatch.setattr(geo, "_PARALLEL_MIN", 10)
    np.testing.assert_array_equal(geodesic_km(*args, workers=3), single)


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(0)
    d = rng.exponential(500.0, size=400)
    a = bootstrap_ci(d, n_resamples=300, seed=7)
    assert a == bootstrap_ci(d, n_resamples=300, seed=7)
    assert a != bootstrap_ci(d, n_resamples=300, seed=8)
    s = summarize(d)
    assert a.median_km.low <= s.median_km <= a.median_km.high
    assert a.mean_km.low <= s.mean_km <= a.mean_km.high
    assert a.mean_geoscore.low <= s.mean_geoscore <= a.mean_geoscore.high
    for key, value in s.acc_km.items():
        assert a.acc_km[key].low <= value <= a.acc_km[key].high


def test_bootstrap_accuracy_interval_matches_row_resampling():
    # the binomial shortcut must give what resampling rows gives
    d = np.r_[np.full(60, 10.0), np.full(140, 900.0)]
    fast = bootstrap_ci(d, n_resamples=4000, seed=1).acc_km["25"]
    rng = np.random.default_rng(2)
    flags = d <= 25
    slow = np.quantile(flags[rng.integers(0, d.size, (4000, d.size))].mean(axis=1), [0.025, 0.975])
    assert fast.low == pytest.approx(slow[0], abs=0.015)
    assert fast.high == pytest.approx(slow[1], abs=0.015)


def test_bootstrap_chunks_cover_all_resamples(monkeypatch):
    monkeypatch.setattr("gre_agent.evals._bootstrap._CHUNK_ELEMENTS", 1000)
    d = np.linspace(1, 5000, 300)
    ci = bootstrap_ci(d, n_resamples=50, seed=0)
    assert ci.n_resamples == 50 and ci.mean_km.low < ci.mean_km.high
    with pytest.raises(ValueError):
        bootstrap_ci([], n_resamples=10)
    with pytest.raises(ValueError):
        bootstrap_ci(d, level=1.5)


def fake_reverser(table: dict[tuple[float, float], tuple[str, str, str, str]]):
    def reverse(lats, lons):
        rows = [table[(float(a), float(b))] for a, b in zip(lats, lons, strict=True)]
        cols = list(zip(*rows, strict=True))
        return AdminPlaces(*(np.array(c, dtype=object) for c in cols))

    return reverse


def test_admin_accuracy_is_hierarchical_and_skips_unlabelled_rows():
    reverse = fake_reverser(
        {
            (1.0, 1.0): ("US", "Illinois", "Sangamon", "Springfield"),
            (2.0, 2.0): ("US", "Massachusetts", "Hampden", "Springfield"),
            (3.0, 3.0): ("FR", "Île-de-France", "Paris", "Paris"),
            (4.0, 4.0): ("DE", "Berlin", "", "Berlin"),
        }
    )
    labels = {
        "country": ["US", "US", "France", None],
        "region": ["Illinois", "Illinois", "ile-de-france", None],
        "city": ["Springfield", "Springfield", "PARIS", "Berlin"],
    }
    acc = admin_accuracy([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], labels, reverse)
    assert acc.country.n == 3 and acc.country.accuracy == 1.0  # "France" is FR
    assert acc.region.n == 3 and acc.region.accuracy == pytest.approx(2 / 3)
    # Springfield, Massachusetts is not Springfield, Illinois; Berlin has only a city label
    assert acc.city.n == 4 and acc.city.accuracy == 0.75
    assert acc.sub_region.n == 0 and math.isnan(acc.sub_region.accuracy)


def test_label_normalisation():
    assert normalize_name("  Île-de-France ") == normalize_name("ILE-DE-FRANCE") == "ile-de-france"
    assert normalize_name("nan") == "" and normalize_name(None) == ""
    assert country_code("fr") == "FR" and country_code("Germany") == "DE"
    assert country_code("Atlantis") == "atlantis" and country_code("") == ""


def test_gazetteer_reverser_on_real_places():
    rev = gazetteer_reverser()
    assert isinstance(rev, _admin.GazetteerReverser)
    places = rev(np.array([48.8566, 45.764, 40.7128]), np.array([2.3522, 4.8357, -74.006]))
    assert list(places.country) == ["FR", "FR", "US"]
    labels = labels_from_coordinates([48.8566], [2.3522])
    assert labels["city"] == ["Paris"] and labels["country"] == ["FR"]
    # a prediction in Lyon for a photo in Paris: right country, wrong region and city
    acc = admin_accuracy(
        [45.764, 48.857], [4.8357, 2.351], {k: v * 2 for k, v in labels.items()}, rev
    )
    assert acc.country.accuracy == 1.0 and acc.region.accuracy == 0.5 and acc.city.accuracy == 0.5
    # across the antimeridian: Fiji's Taveuni (179.97 W side) finds a Fijian place
    assert rev(np.array([-16.85]), np.array([-179.97])).country[0] == "FJ"


def _rows(records):
    rows, problems = parse_prediction_lines(json.dumps(r) for r in records)
    assert not problems
    return rows


def test_agent_statistics():
    base = {"pred_lat": 0.0, "pred_lon": 0.0, "gt_lat": 0.0, "gt_lon": 0.0}
    rows = _rows(
        [
            {**base, "id": "a", "tool_calls": [{"name": "osm"}, {"name": "wiki"}], "cache_hits": 1},
            {
                **base,
                "id": "b",
                "tool_calls": 4,
                "cache_hits": 3,
                "pre_verify_lat": 1.0,
                "pre_verify_lon": 0.0,
            },
            {**base, "id": "c", "pre_verify_lat": 0.0, "pre_verify_lon": 0.0},
            {**base, "id": "d"},
        ]
    )
    stats = agent_stats(rows)
    assert stats is not None
    assert stats.n_with_tool_calls == 2 and stats.tool_calls_total == 6
    assert stats.tool_calls_per_image == 3.0
    assert stats.cache_hits_total == 4 and stats.cache_hit_rate == pytest.approx(4 / 6)
    v = stats.verification
    assert v is not None and v.n == 2 and v.changed_share == 0.5
    assert v.before.median_km == pytest.approx(geodesic_km([1.0], [0.0], [0.0], [0.0])[0] / 2)
    assert v.after.median_km == 0.0
    assert agent_stats(_rows([{**base, "id": "x"}])) is None


def test_prediction_rows_report_each_bad_row():
    lines = [
        '{"id": "ok", "pred_lat": 1, "pred_lon": 2, "gt_lat": 3, "gt_lon": 4}',
        "{broken",
        "[1, 2]",
        '{"id": "lat", "pred_lat": 95, "pred_lon": 2, "gt_lat": 3, "gt_lon": 4}',
        '{"id": "nan", "pred_lat": NaN, "pred_lon": 2, "gt_lat": 3, "gt_lon": 4}',
        '{"id": "str", "pred_lat": "north", "pred_lon": 2, "gt_lat": 3, "gt_lon": 4}',
        '{"pred_lat": 1, "pred_lon": 2, "gt_lat": 3, "gt_lon": 4}',
        '{"id": "ok", "pred_lat": 1, "pred_lon": 2, "gt_lat": 3, "gt_lon": 4}',
        '{"id": "nogt", "pred_lat": 1, "pred_lon": 2}',
        "",
    ]
    rows, problems = parse_prediction_lines(lines)
    assert [r.id for r in rows] == ["ok"]
    kinds = [(p.row, p.kind) for p in problems]
    assert kinds == [
        (2, "bad_row"),
        (3, "bad_row"),
        (4, "bad_coordinates"),
        (5, "bad_coordinates"),
        (6, "bad_coordinates"),
        (7, "bad_row"),
        (8, "duplicate_id"),
        (9, "bad_coordinates"),
    ]


def test_score_rows_breakdowns_and_admin_from_ground_truth():
    records = [
        {
            "id": "p",
            "pred_lat": 48.86,
            "pred_lon": 2.35,
            "gt_lat": 48.8566,
            "gt_lon": 2.3522,
            "scene": "urban",
        },
        {
            "id": "l",
            "pred_lat": 45.76,
            "pred_lon": 4.84,
            "gt_lat": 48.8566,
            "gt_lon": 2.3522,
            "scene": "urban",
        },
        {
            "id": "n",
            "pred_lat": 46.5,
            "pred_lon": 8.0,
            "gt_lat": 46.55,
            "gt_lon": 7.98,
            "scene": "natural",
        },
    ]
    rows = _rows(records)
    report = score_rows(rows, bootstrap=100, admin="gt")
    assert report.n == 3 and report.n_bad == 0
    assert set(report.by_scene) == {"natural", "urban"} and report.by_scene["urban"].n == 2
    assert report.admin is not None and report.admin_labels == {
        "from_data": 0,
        "from_ground_truth": 3,
    }
    assert report.admin.country.accuracy == 1.0 and report.admin.region.accuracy == pytest.approx(
        2 / 3
    )
    assert report.ci is not None and report.ci.n_resamples == 100
    assert "d <= T" in report.conventions
    off = score_rows(rows, bootstrap=0, admin="auto")
    assert off.admin is None and off.ci is None  # no labels in the rows, nothing derived
    assert off.acc_km == report.acc_km
    hav = score_rows(rows, bootstrap=0, distance="haversine")
    assert hav.distance == "haversine" and hav.median_km != report.median_km


def test_prediction_row_accepts_osv5m_sub_region_spelling():
    row = PredictionRow.model_validate(
        {"id": 7, "pred_lat": 0, "pred_lon": 0, "gt_lat": 0, "gt_lon": 0, "sub-region": "Paris"}
    )
    assert row.id == "7" and row.sub_region == "Paris" and row.has_labels
    same = PredictionRow.model_validate(
        {"id": "7", "pred_lat": 0, "pred_lon": 0, "gt_lat": 0, "gt_lon": 0, "sub_region": "Paris"}
    )
    assert same.sub_region == "Paris"
