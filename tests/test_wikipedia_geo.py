"""Coordinates from Wikipedia / Kiwix article HTML."""

from __future__ import annotations

import pytest

from gre_agent.tools.wikipedia import parse_coordinates


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<span class="geo">60.17; 24.94</span>', (60.17, 24.94)),
        (
            '<span class="geo"><span class="latitude">-33.8568</span>, '
            '<span class="longitude">151.2153</span></span>',
            (-33.8568, 151.2153),
        ),
        ('<meta name="geo.position" content="48.8584;2.2945">', (48.8584, 2.2945)),
        ('<meta content="40.6892, -74.0445" name="ICBM">', (40.6892, -74.0445)),
        ('<a data-lon="12.4922" data-lat="41.8902">map</a>', (41.8902, 12.4922)),
        ('<span class="geo-dec">22.9519&#176;S 43.2105&#176;W</span>', (-22.9519, -43.2105)),
        (
            '<span class="geo-dms"><span class="latitude">35°21′38″N</span> '
            '<span class="longitude">138°43′39″E</span></span>',
            (35.360556, 138.7275),
        ),
        ("<span class=\"geo-dms\">52°31'N 13°22'E</span>", (52.516667, 13.366667)),
    ],
)
def test_markup_forms(html: str, expected: tuple[float, float]):
    assert parse_coordinates(f"<p>text</p>{html}<p>more</p>") == pytest.approx(expected, abs=1e-5)


def test_title_coordinates_block_beats_inline_mentions():
    html = (
        '<p>Ferries sail to Tallinn (<span class="geo">59.44; 24.75</span>).</p>'
        '<p><span id="coordinates"><span class="geo-dec">60.1675°N 24.9525°E</span></span></p>'
    )
    assert parse_coordinates(html) == pytest.approx((60.1675, 24.9525))


def test_no_or_invalid_coordinates():
    assert parse_coordinates("<p>No place here; 12; 13</p>") is None
    assert parse_coordinates('<span class="geo">123.0; 24.0</span>') is None
    assert parse_coordinates('<span class="geography">60.1; 24.9</span>') is None
