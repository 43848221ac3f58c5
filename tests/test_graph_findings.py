"""The finding table: every kind of finding, its weight (log-odds) and effect."""

from __future__ import annotations

import pytest

from gre_agent.core.evidence import EvidenceItem
from gre_agent.graphs.gre.checks import check_key, pending
from gre_agent.graphs.gre.claims import Claims
from gre_agent.graphs.gre.evidence import Candidate, Finding

RAISES = {"confirm", "support", "move"}
LOWERS = {"against", "reject"}
RECORDS = {"neutral", "error"}


@pytest.mark.parametrize("finding", list(Finding), ids=lambda f: f.name)
def test_every_finding_has_a_weight_whose_sign_matches_its_effect(finding: Finding):
    assert finding.effect in RAISES | LOWERS | RECORDS
    if finding.effect in RAISES:
        assert finding.weight > 0
    elif finding.effect in LOWERS:
        assert finding.weight < 0
    else:
        assert finding.weight == 0
    assert finding.check and finding.label


def test_no_two_findings_are_one_row():
    # an Enum folds members with equal values into aliases: each row must stay its own
    assert len(list(Finding)) == len(Finding.__members__)


def test_weights_are_the_documented_log_odds():
    weights = {f.name.lower(): f.weight for f in Finding}
    assert (weights["street_found"], weights["intersection_found"], weights["exif_gps"]) == (
        2.5,
        3.0,
        4.0,
    )
    assert weights["model_rejected"] == -1.0 and Finding.MODEL_REJECTED.effect == "against"


def test_a_recorded_finding_scores_the_candidate_and_describes_itself():
    c = Candidate(place="Helsinki", country_code="FI", lat=60.17, lon=24.94, prior=0.5)
    item = Finding.DRIVING_SIDE_MISMATCH.record(
        c, claim="driving on the left", summary="Finland drives on the right", round=2
    )
    assert c.score == -1.5
    assert isinstance(item, EvidenceItem)
    assert (item.kind, item.effect, item.weight, item.round) == ("driving_side", "against", -1.5, 2)
    assert (item.candidate, item.candidate_key, item.ok) == (c.label, c.key, True)
    failed = Finding.CHECK_FAILED.record(None, claim="x", summary="check failed", error="timeout")
    assert (failed.ok, failed.effect, failed.weight, failed.candidate) == (
        False,
        "error",
        0.0,
        None,
    )


def test_check_keys_are_built_in_one_place():
    assert check_key("street", "Main St", "Helsinki|FI|") == "street:Main St:Helsinki|FI|"
    assert check_key("locate", "Oslo", None) == "locate:Oslo:None"
    assert check_key("exif") == "exif"
    c = Candidate(place="Helsinki", country_code="FI", lat=60.17, lon=24.94, radius_km=5)
    claims = Claims(streets=["Aleksanterinkatu"])
    assert pending(claims, [c], set())
    done = {check_key("geo", c.key), check_key("street", "Aleksanterinkatu", c.key)}
    assert not pending(claims, [c], done)
