"""A compact, fast name index over GeoNames places.

Places live in column arrays (numpy); names live in one dict from normalised key to a
slice of posting arrays (place ids, and whether the key came from an alternate name).
An exact lookup is a dict hit plus a few vectorised numpy operations, which is what makes
thousands of queries per second possible; rapidfuzz runs only when a key is missing.

The same index, saved as a `.npz` file without pickled objects, serves both the packaged
data (cached under the data dir) and GeoNames dumps imported with `gre data geonames`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from gre_agent.tools.gazetteer._normalize import normalize

FORMAT_VERSION = 1
_SEP = "\x1f"  # unit separator: never part of a place name


@dataclass(slots=True)
class Place:
    """One GeoNames place, as the builders feed it in."""

    geonameid: int
    name: str
    lat: float
    lon: float
    country_code: str
    admin1_code: str
    population: int
    alternate_names: Iterable[str] = ()
    feature_class: str = "P"  # GeoNames' class: P populated place, A division, ...


@dataclass
class PlaceIndex:
    source: str
    geonameid: np.ndarray  # int64[n]
    lat: np.ndarray  # float64[n]
    lon: np.ndarray  # float64[n]
    population: np.ndarray  # int64[n]
    country: np.ndarray  # <U2[n]
    admin1: list[str]  # admin1 code per place
    name: list[str]
    keys: list[str]  # normalised names
    ptr: np.ndarray  # int64[len(keys) + 1]: postings of keys[i] are ptr[i]:ptr[i+1]
    ids: np.ndarray  # int32[m]: place of each posting
    alt: np.ndarray  # bool[m]: posting came from an alternate name only
    admin1_names: dict[str, str]  # "CC.code" -> name
    # <U1[n], GeoNames feature class; None (indexes saved before it) means all "P"
    feature_class: np.ndarray | None = None
    _slot: dict[str, int] = field(init=False, repr=False)
    _buckets: dict[tuple[str, int], list[str]] | None = field(default=None, init=False, repr=False)
    prominence: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._slot = {k: i for i, k in enumerate(self.keys)}
        if self.feature_class is None:
            self.feature_class = np.full(len(self.name), "P", dtype="<U1")
        # log-population in [0, 1]: 10 million people and more count as fully prominent
        self.prominence = np.minimum(1.0, np.log10(self.population + 10.0) / 7.0)

    def __len__(self) -> int:
        return len(self.name)

    # -- queries -----------------------------------------------------------------------
    def lookup(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(place ids, alternate-only flags) of an exact normalised name, or None."""
        slot = self._slot.get(key)
        if slot is None:
            return None
        lo, hi = self.ptr[slot], self.ptr[slot + 1]
        return self.ids[lo:hi], self.alt[lo:hi]

    def fuzzy_keys(
        self, key: str, limit: int = 25, cutoff: float = 84.0
    ) -> list[tuple[str, float]]:
        """Keys spelt like `key` (rapidfuzz ratio >= cutoff), best first.

        Only keys with the same first letter and a length the cutoff allows are compared:
        typos rarely hit the first letter, and ratio = 2M / (a + b) >= c bounds the
        length b of a match to [a c / (2 - c), a (2 - c) / c]. That leaves a few
        thousand keys of the million.
        """
        if not key:
            return []
        if self._buckets is None:
            buckets: dict[tuple[str, int], list[str]] = {}
            for k in self.keys:
                buckets.setdefault((k[0], len(k)), []).append(k)
            self._buckets = buckets
        c = cutoff / 100.0
        shortest = math.ceil(len(key) * c / (2 - c))
        longest = math.floor(len(key) * (2 - c) / c)
        found: list[tuple[str, float]] = []
        for length in range(shortest, longest + 1):
            choices = self._buckets.get((key[0], length))
            if choices:
                hits = process.extract(
                    key, choices, scorer=fuzz.ratio, score_cutoff=cutoff, limit=limit
                )
                found.extend((k, score) for k, score, _ in hits)
        found.sort(key=lambda t: -t[1])
        return found[:limit]

    def admin1_name(self, i: int) -> str | None:
        return self.admin1_names.get(f"{self.country[i]}.{self.admin1[i]}")

    # -- building ----------------------------------------------------------------------
    @classmethod
    def build(
        cls, places: Iterable[Place], source: str, admin1_names: dict[str, str] | None = None
    ) -> PlaceIndex:
        cols: dict[str, list] = {
            k: [] for k in ("gid", "lat", "lon", "pop", "cc", "a1", "nm", "fc")
        }
        slot_of: dict[str, int] = {}
        post_slot: list[int] = []
        post_id: list[int] = []
        post_alt: list[bool] = []

        def add(key: str, i: int, alternate: bool) -> None:
            if key:
                post_slot.append(slot_of.setdefault(key, len(slot_of)))
                post_id.append(i)
                post_alt.append(alternate)

        for i, p in enumerate(places):
            cols["gid"].append(p.geonameid)
            cols["lat"].append(p.lat)
            cols["lon"].append(p.lon)
            cols["pop"].append(p.population)
            cols["cc"].append(p.country_code)
            cols["a1"].append(p.admin1_code)
            cols["nm"].append(p.name)
            cols["fc"].append(p.feature_class[:1] or "P")
            add(normalize(p.name), i, False)
            for name in p.alternate_names:
                add(normalize(name), i, True)
        # group postings by key; of a place listed twice under one key keep the
        # primary-name posting (alt=False sorts first)
        slots = np.asarray(post_slot, dtype=np.int64)
        ids = np.asarray(post_id, dtype=np.int32)
        alt = np.asarray(post_alt, dtype=bool)
        order = np.lexsort((alt, ids, slots))
        slots, ids, alt = slots[order], ids[order], alt[order]
        first = np.ones(len(slots), dtype=bool)
        first[1:] = (slots[1:] != slots[:-1]) | (ids[1:] != ids[:-1])
        slots, ids, alt = slots[first], ids[first], alt[first]
        ptr = np.zeros(len(slot_of) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(np.bincount(slots, minlength=len(slot_of)))
        keys = list(slot_of)  # insertion order is slot order
        return cls(
            source=source,
            geonameid=np.asarray(cols["gid"], dtype=np.int64),
            lat=np.asarray(cols["lat"], dtype=np.float64),
            lon=np.asarray(cols["lon"], dtype=np.float64),
            population=np.asarray(cols["pop"], dtype=np.int64),
            country=np.asarray(cols["cc"], dtype="<U2"),
            admin1=cols["a1"],
            name=cols["nm"],
            keys=keys,
            ptr=ptr,
            ids=ids,
            alt=alt,
            admin1_names=dict(admin1_names or {}),
            feature_class=np.asarray(cols["fc"], dtype="<U1"),
        )

    # -- storage -----------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write atomically: a reader never sees half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT_VERSION, "source": self.source, "admin1": self.admin1_names}
        tmp = path.with_name(path.name + ".tmp.npz")
        assert self.feature_class is not None  # __post_init__ fills it
        np.savez(
            tmp,
            geonameid=self.geonameid,
            lat=self.lat,
            lon=self.lon,
            population=self.population,
            country=self.country,
            feature_class=self.feature_class,
            ptr=self.ptr,
            ids=self.ids,
            alt=self.alt,
            admin1=_pack(self.admin1),
            name=_pack(self.name),
            keys=_pack(self.keys),
            meta=_pack([json.dumps(meta)]),
        )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> PlaceIndex:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(_unpack(z["meta"], 1)[0])
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(
                    f"{path} has index format {meta.get('format')}, not {FORMAT_VERSION}"
                )
            return cls(
                source=meta["source"],
                geonameid=z["geonameid"],
                lat=z["lat"],
                lon=z["lon"],
                population=z["population"],
                country=z["country"],
                admin1=_unpack(z["admin1"], len(z["geonameid"])),
                name=_unpack(z["name"], len(z["geonameid"])),
                keys=_unpack(z["keys"], len(z["ptr"]) - 1),
                ptr=z["ptr"],
                ids=z["ids"],
                alt=z["alt"],
                admin1_names=meta["admin1"],
                feature_class=z["feature_class"] if "feature_class" in z.files else None,
            )


def _pack(strings: list[str]) -> np.ndarray:
    return np.frombuffer(_SEP.join(strings).encode("utf-8"), dtype=np.uint8)


def _unpack(blob: np.ndarray, count: int) -> list[str]:
    # "".split() gives [""], so an empty list needs its count to round-trip
    return blob.tobytes().decode("utf-8").split(_SEP) if count else []
