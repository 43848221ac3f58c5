"""osm.find_named ranks the exact name first (issue 12), on the real Helsinki extract."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gre_agent.core.settings import Settings
from gre_agent.tools.osm import FindNamedTool


def test_exact_name_before_a_nearer_longer_one(tmp_path: Path, helsinki_osm_db: Path) -> None:
    tool = FindNamedTool(Settings(home=tmp_path, osm={"data_path": helsinki_osm_db}))
    # Stockmann Q-Park (the car park under it) is nearer this point than the store itself
    around = {"lat": 60.1687, "lon": 24.9410, "radius_m": 2000}
    out = asyncio.run(tool.run({"name": "stockmann", "around": around, "limit": 5}))
    assert out.ok, out.error
    names = [f.name for f in out.result.features]
    assert names[0] == "Stockmann" and "Stockmann Q-Park" in names
    exact = [f for f in out.result.features if f.name == "Stockmann"]
    assert names[: len(exact)] == ["Stockmann"] * len(exact)  # every exact one first
    q_park = next(f for f in out.result.features if f.name == "Stockmann Q-Park")
    assert q_park.distance_m < exact[0].distance_m
    # the same for a name that a parish's name merely starts with
    out = asyncio.run(
        tool.run({"name": "Helsingin tuomiokirkko", "bbox": [60.15, 24.90, 60.19, 24.99]})
    )
    assert [f.name for f in out.result.features][:2] == [
        "Helsingin tuomiokirkko",
        "Helsingin Tuomiokirkkoseurakunta",
    ]
