"""The license is an SPDX string (issue 15.10): setuptools >= 77 warns that a
`project.license` table is deprecated (tests/test_packaging.py builds the wheel)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_license_is_an_spdx_string_for_setuptools_77():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in meta["build-system"]["requires"]
