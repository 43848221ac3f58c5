"""The clue corpus: scripted GRE answers whose first guess is in another city or country,
and the agent's search must move the answer to where the clues are (tests/data/clues/).

Each case is a GRE-format answer (five numbered sections, then the answer) served by a
model that answers every prompt with the same text, run single-pass on the offline data:
the Helsinki OSM extract, GeoNames cities500 and the country table. Kinds: street, feature
(shop or landmark), address, place (place names inside texts), phone, tld, postal,
currency, country_name, script, language; plus nothing (nothing to check: the guess stays)
and distractor (a place name inside a business's name must not move a supported answer).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from gre_agent.core.geo import geodesic_km
from gre_agent.core.settings import Settings
from gre_agent.graphs.gre import Context, locate
from gre_agent.tools import Registry
from tests.scripted import gre_model

CASES_PATH = Path(__file__).parent / "data" / "clues" / "cases.jsonl"
KEEP_KINDS = ("nothing", "distractor")  # the answer must stay where the model put it
NEAR_KINDS = ("street", "feature", "address")  # within 1 km of the truth
KEEP_KM = 5.0  # "kept": the answer stays this close to the model's first guess


def load_cases() -> list[dict]:
    return [json.loads(line) for line in CASES_PATH.read_text(encoding="utf-8").splitlines()]


@dataclass
class Outcome:
    case: dict
    first_km: float  # the model's first guess to the truth
    final_km: float  # the agent's answer to the truth
    moved_km: float  # the first guess to the agent's answer
    model_calls: int
    elapsed_s: float
    error: str | None

    @property
    def ok(self) -> bool:
        kind = self.case["kind"]
        if kind in KEEP_KINDS:
            return self.moved_km <= KEEP_KM
        return self.final_km <= (1.0 if kind in NEAR_KINDS else 25.0)


def run_case(case: dict, photo: Path, registry: Registry) -> Outcome:
    result = asyncio.run(
        locate(
            photo,
            Context(backend_obj=gre_model(case["answer"]), registry=registry, stages="single-pass"),
            trace_dir=photo.parent / "traces",
        )
    )
    truth = case["truth"]
    first = result.state["initial"]
    pred = result.prediction
    return Outcome(
        case=case,
        first_km=geodesic_km(first["lat"], first["lon"], *truth),
        final_km=geodesic_km(pred.lat, pred.lon, *truth),
        moved_km=geodesic_km(first["lat"], first["lon"], pred.lat, pred.lon),
        model_calls=pred.model_calls,
        elapsed_s=pred.elapsed_s,
        error=result.error,
    )


def registry_for(home: Path, osm_db: Path) -> Registry:
    settings = Settings(home=home, offline=True, osm={"data_path": str(osm_db)})
    return Registry(settings, include_plugins=False)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, helsinki_osm_db: Path) -> list[Outcome]:
    tmp = tmp_path_factory.mktemp("clues")
    photo = tmp / "photo.jpg"
    Image.new("RGB", (64, 48), (120, 130, 140)).save(photo)
    registry = registry_for(tmp / "home", helsinki_osm_db)
    return [run_case(case, photo, registry) for case in load_cases()]


def test_the_corpus_covers_every_clue_kind_with_a_wrong_first_guess():
    cases = load_cases()
    kinds: dict[str, int] = {}
    for case in cases:
        kinds[case["kind"]] = kinds.get(case["kind"], 0) + 1
        assert case["answer"].startswith("<think> 1. Street-level analysis")
        assert "</think> <answer>" in case["answer"]
    assert len([c for c in cases if c["kind"] not in KEEP_KINDS]) >= 30
    assert all(n >= 3 for n in kinds.values()), kinds
    assert {"nothing", "distractor"} <= set(kinds)


def test_clue_cases_reach_the_truth(outcomes: list[Outcome]):
    assert all(o.error is None for o in outcomes), [o.error for o in outcomes if o.error]
    clue = [o for o in outcomes if o.case["kind"] not in KEEP_KINDS]
    # every first guess is in another city or country
    assert all(o.first_km > 25 for o in clue), [o.case["id"] for o in clue if o.first_km <= 25]
    within = [o for o in clue if o.final_km <= 25]
    assert len(within) >= 0.9 * len(clue), [(o.case["id"], round(o.final_km)) for o in clue]
    near = [o for o in clue if o.case["kind"] in NEAR_KINDS]
    assert all(o.final_km <= 1.0 for o in near), [
        (o.case["id"], round(o.final_km, 2)) for o in near if o.final_km > 1.0
    ]


def test_nothing_to_check_and_distractors_keep_the_answer(outcomes: list[Outcome]):
    keep = [o for o in outcomes if o.case["kind"] in KEEP_KINDS]
    assert keep and all(o.ok for o in keep), [
        (o.case["id"], round(o.moved_km, 1)) for o in keep if not o.ok
    ]


def test_single_pass_costs_at_most_one_and_a_half_model_calls(outcomes: list[Outcome]):
    mean = sum(o.model_calls for o in outcomes) / len(outcomes)
    assert mean <= 1.5, mean
