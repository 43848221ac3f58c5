"""Published accuracy of GRE, its base model and its peers, per benchmark, with sources.

Percent correct within 1 / 25 / 200 / 750 / 2500 km, as compiled in DESIGN.md (rounded;
check the papers before quoting). Reports set a run's numbers beside these; mind that
peers differ in their threshold rule (d < T versus d <= T, ties only) and that their
test copies of a benchmark may differ by a few images.
"""

from __future__ import annotations

from dataclasses import dataclass

THRESHOLDS = ("1", "25", "200", "750", "2500")

SOURCES = {
    "GRE": "GRE Suite: Geo-localization Inference via Fine-Tuned Vision-Language Models "
    "and Enhanced Reasoning Chains (2025)",
    "Qwen2.5-VL-7B": "as reported in the GRE Suite paper (2025)",
    "GeoCLIP": "Vivanco Cepeda et al., GeoCLIP, NeurIPS 2023",
    "PIGEOTTO": "Haas et al., PIGEON: Predicting Image Geolocations, CVPR 2024",
    "Img2Loc": "Zhou et al., Img2Loc, SIGIR 2024",
    "G3": "Jia et al., G3: An Effective and Adaptive Framework for Worldwide "
    "Geolocalization, NeurIPS 2024",
    "GeoRanker": "Jia et al., GeoRanker: Distance-Aware Ranking for Worldwide Image "
    "Geolocalization (2025)",
    "OSV-5M baseline": "Astruc et al., OpenStreetView-5M, CVPR 2024",
}


@dataclass(frozen=True)
class Published:
    system: str
    benchmark: str
    acc_pct: tuple[float, float, float, float, float] | None = None  # @1/25/200/750/2500
    geoscore: float | None = None
    admin_pct: dict[str, float] | None = None  # country / region / city

    @property
    def source(self) -> str:
        return SOURCES[self.system]


PUBLISHED: tuple[Published, ...] = (
    Published("GRE", "im2gps3k", (11.3, 35.3, 51.7, 69.3, 85.7)),
    Published("GeoCLIP", "im2gps3k", (14.1, 34.5, 50.7, 69.7, 83.8)),
    Published("PIGEOTTO", "im2gps3k", (11.3, 36.7, 53.8, 72.4, 85.3)),
    Published("Img2Loc", "im2gps3k", (17.1, 45.1, 57.9, 72.9, 84.7)),
    Published("G3", "im2gps3k", (16.7, 40.9, 55.6, 71.2, 84.7)),
    Published("GeoRanker", "im2gps3k", (18.8, 45.1, 61.5, 76.3, 89.3)),
    Published("GeoCLIP", "yfcc4k", (9.6, 19.3, 32.6, 55.0, 74.7)),
    Published("PIGEOTTO", "yfcc4k", (10.4, 23.7, 40.6, 62.2, 77.7)),
    Published("Img2Loc", "yfcc4k", (14.1, 29.6, 41.4, 59.3, 76.9)),
    Published("G3", "yfcc4k", (24.0, 35.9, 47.0, 64.3, 78.2)),
    Published("GeoRanker", "yfcc4k", (32.9, 43.5, 54.3, 69.8, 82.5)),
    Published("GRE", "gws15k", (0.9, 4.1, 18.9, 54.8, 78.3)),
    Published("GRE", "greval", (6.14, 26.15, 44.67, 66.56, 83.16)),
    Published("Qwen2.5-VL-7B", "greval", (0.33, 4.34, 6.84, 9.39, 10.90)),
    Published(
        "OSV-5M baseline",
        "osv5m",
        geoscore=3361.0,
        admin_pct={"country": 68.0, "region": 39.4, "city": 5.9},
    ),
)

# Dataset formats of `gre eval run` that are these benchmarks.
BENCHMARK_OF_FORMAT = {
    "im2gps3k": "im2gps3k",
    "yfcc4k": "yfcc4k",
    "greval": "greval",
    "osv5m": "osv5m",
}


def published_for(benchmark: str | None) -> list[Published]:
    return [p for p in PUBLISHED if p.benchmark == benchmark]
