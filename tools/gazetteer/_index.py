"""A compact, fast name index over GeoNames places.

Places live in column arrays (numpy); names live in one dict from normalised key to a
slice of posting arrays (place ids, and whether the key came from an alternate name).
An exact lookup is a hash probe plus a few vectorised numpy operations, which is what
makes thousands of queries per second possible; rapidfuzz runs only when a key is missing.

Strings stay packed in one UTF-8 buffer each (PackedStrings) and keys are found through
a sorted array of their CRC-32s, not a dict: a full GeoNames dump has about 8 million
keys, and building 8 million Python strings and a dict of them took 15-20 s per load.

The same index, saved as a `.npz` file without pickled objects, serves both the packaged
data (cached under the data dir) and GeoNames dumps imported with `gre data geonames`.
"""

from __future__ import annotations

import json
import math
import os
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

import numpy as np
from rapidfuzz import fuzz, process

from gre_agent.tools.gazetteer._normalize import normalize

FORMAT_VERSION = 2  # 2 adds the key hash table; version 1 files still load (hashed then)
READABLE_FORMATS = (1, 2)
_SEP = "\x1f"  # unit separator: never part of a place name
_SEP_BYTE = 0x1F


class PackedStrings(Sequence[str]):
    """Strings joined by the unit separator in one UTF-8 buffer.

    One string decodes on access; iterating decodes them all once and keeps the list.
    """

    __slots__ = ("_all", "_buf", "blob", "off")

    def __init__(self, blob: np.ndarray, count: int) -> None:
        self.blob = blob  # uint8
        self._buf = blob.tobytes()
        # off[i] is where string i starts; off[i + 1] - 1 where it ends (the separator)
        off = np.empty(count + 1, dtype=np.int64)
        if count:
            off[0] = 0
            off[1:count] = np.flatnonzero(blob == _SEP_BYTE) + 1
        off[count] = len(blob) + 1
        self.off = off
        self._all: list[str] | None = None

    @classmethod
    def of(cls, strings: Sequence[str]) -> PackedStrings:
        packed = cls(_pack(list(strings)), len(strings))
        if isinstance(strings, list):
            packed._all = strings
        return packed

    def __len__(self) -> int:
        return len(self.off) - 1

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if self._all is not None:
            return self._all[i]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.bytes_at(i).decode("utf-8")

    def bytes_at(self, i: int) -> bytes:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._buf[int(self.off[i]) : int(self.off[i + 1]) - 1]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_list())

    def as_list(self) -> list[str]:
        if self._all is None:
            self._all = _unpack(self.blob, len(self))
        return self._all


def key_hash(key_utf8: bytes) -> int:
    return zlib.crc32(key_utf8)


@dataclass(frozen=True)
class KeyTable:
    """Key slots ordered by the CRC-32 of their UTF-8 bytes (equal hashes: slot order)."""

    hashes: np.ndarray  # uint32, sorted
    slots: np.ndarray  # int32 (int64 past 2**31 keys): the slot of each hash

    @classmethod
    def of(cls, keys: PackedStrings) -> KeyTable:
        hashes = np.fromiter(
            (key_hash(keys.bytes_at(i)) for i in range(len(keys))),
            dtype=np.uint32,
            count=len(keys),
        )
        order = np.argsort(hashes, kind="stable")
        dtype = np.int32 if len(keys) < 2**31 else np.int64
        return cls(hashes[order], order.astype(dtype))


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
    admin1: Sequence[str]  # admin1 code per place
    name: Sequence[str]
    keys: Sequence[str]  # normalised names
    ptr: np.ndarray  # int64[len(keys) + 1]: postings of keys[i] are ptr[i]:ptr[i+1]
    ids: np.ndarray  # int32[m]: place of each posting
    alt: np.ndarray  # bool[m]: posting came from an alternate name only
    admin1_names: dict[str, str]  # "CC.code" -> name
    # <U1[n], GeoNames feature class; None (indexes saved before it) means all "P"
    feature_class: np.ndarray | None = None
    key_table: KeyTable | None = None  # None: built from the keys
    _slot_dict: dict[str, int] | None = field(default=None, init=False, repr=False)
    _fuzzy: _FuzzyTable | None = field(default=None, init=False, repr=False)
    prominence: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.admin1 = _packed(self.admin1)
        self.name = _packed(self.name)
        self.keys = _packed(self.keys)
        if self.key_table is None:
            self.key_table = KeyTable.of(self.keys)
        if self.feature_class is None:
            self.feature_class = np.full(len(self.name), "P", dtype="<U1")
        # log-population in [0, 1]: 10 million people and more count as fully prominent
        self.prominence = np.minimum(1.0, np.log10(self.population + 10.0) / 7.0)

    def __len__(self) -> int:
        return len(self.name)

    # -- queries -----------------------------------------------------------------------
    @property
    def _slot(self) -> dict[str, int]:
        """Key -> slot as a dict, built on first use (the spotter probes many keys)."""
        if self._slot_dict is None:
            self._slot_dict = {k: i for i, k in enumerate(self.keys)}
        return self._slot_dict

    def slot(self, key: str) -> int | None:
        """The slot of a normalised name, or None."""
        if self._slot_dict is not None:
            return self._slot_dict.get(key)
        table = self.key_table
        assert table is not None  # __post_init__ fills it
        raw = key.encode("utf-8")
        h = np.uint32(key_hash(raw))
        hashes = table.hashes
        j = int(np.searchsorted(hashes, h))
        keys = self.keys
        assert isinstance(keys, PackedStrings)
        while j < len(hashes) and hashes[j] == h:
            slot = int(table.slots[j])
            if keys.bytes_at(slot) == raw:
                return slot
            j += 1
        return None

    def lookup(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(place ids, alternate-only flags) of an exact normalised name, or None."""
        slot = self.slot(key)
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
        if self._fuzzy is None:
            keys = self.keys
            assert isinstance(keys, PackedStrings)
            self._fuzzy = _FuzzyTable.of(keys)
        return self._fuzzy.extract(self.keys, key, limit, cutoff)

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
        assert self.feature_class is not None and self.key_table is not None  # __post_init__
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
            admin1=_packed(self.admin1).blob,
            name=_packed(self.name).blob,
            keys=_packed(self.keys).blob,
            key_hashes=self.key_table.hashes,
            key_slots=self.key_table.slots,
            meta=_pack([json.dumps(meta)]),
        )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> PlaceIndex:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(_unpack(z["meta"], 1)[0])
            if meta.get("format") not in READABLE_FORMATS:
                raise ValueError(
                    f"{path} has index format {meta.get('format')}, not {FORMAT_VERSION}"
                )
            n, n_keys = len(z["geonameid"]), len(z["ptr"]) - 1
            table = KeyTable(z["key_hashes"], z["key_slots"]) if "key_hashes" in z.files else None
            return cls(
                source=meta["source"],
                geonameid=z["geonameid"],
                lat=z["lat"],
                lon=z["lon"],
                population=z["population"],
                country=z["country"],
                admin1=PackedStrings(z["admin1"], n),
                name=PackedStrings(z["name"], n),
                keys=PackedStrings(z["keys"], n_keys),
                ptr=z["ptr"],
                ids=z["ids"],
                alt=z["alt"],
                admin1_names=meta["admin1"],
                feature_class=z["feature_class"] if "feature_class" in z.files else None,
                key_table=table,
            )


class _FuzzyTable:
    """The keys grouped by (first character, length), with a letter mask each.

    A key's mask has bit (b & 31) set for each byte b of its UTF-8 form. A query
    character whose last byte's bit is missing from a key's mask is not in that key, so
    the key's longest common subsequence with the query is at most the query's length
    less those characters; keys that cannot reach the ratio cutoff that way are skipped
    before rapidfuzz sees them. The bound is exact (never drops a match), and the keys
    left keep their slot order, so rapidfuzz's ties come out as they did without it.
    """

    def __init__(
        self, order: np.ndarray, masks: np.ndarray, groups: dict[tuple[int, int], tuple[int, int]]
    ):
        self.order = order  # slots grouped by (first character, length), slot order inside
        self.masks = masks  # uint32 mask of each slot in `order`
        self.groups = groups  # (first character's code point, length) -> order[lo:hi]

    @classmethod
    def of(cls, keys: PackedStrings) -> _FuzzyTable:
        n = len(keys)
        if not n:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.uint32), {})
        blob = keys.blob
        starts = keys.off[:-1]
        # characters per key: bytes that are not UTF-8 continuation bytes, less the separator
        lead = ((blob & 0xC0) != 0x80).astype(np.int32)
        lengths = np.add.reduceat(lead, starts) if len(blob) else np.zeros(n, np.int32)
        lengths[:-1] -= 1
        del lead
        first = _first_code_points(keys)
        masks = np.empty(n, dtype=np.uint32)
        step = 1 << 20
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            a, b = int(keys.off[lo]), int(keys.off[hi]) - 1
            bits = np.left_shift(np.uint32(1), (blob[a:b] & 31).astype(np.uint32))
            masks[lo:hi] = np.bitwise_or.reduceat(bits, keys.off[lo:hi] - a) if b > a else 0
        group = first * 65536 + np.minimum(lengths, 65535)
        order = np.argsort(group, kind="stable")
        group = group[order]
        edges = np.flatnonzero(np.diff(group)) + 1
        los = np.concatenate(([0], edges)).tolist()
        his = np.concatenate((edges, [n])).tolist()
        groups = {
            (g >> 16, g & 65535): (lo, hi)
            for g, lo, hi in zip(group[los].tolist(), los, his, strict=True)
        }
        return cls(order, masks[order], groups)

    def extract(
        self, keys: Sequence[str], key: str, limit: int, cutoff: float
    ) -> list[tuple[str, float]]:
        a = len(key)
        c = cutoff / 100.0
        shortest = math.ceil(a * c / (2 - c))
        longest = math.floor(a * (2 - c) / c)
        weight: dict[int, int] = {}  # mask bit -> how many query characters map to it
        for ch in key:
            bit = ch.encode("utf-8")[-1] & 31
            weight[bit] = weight.get(bit, 0) + 1
        found: list[tuple[str, float]] = []
        for length in range(shortest, longest + 1):
            span = self.groups.get((ord(key[0]), length))
            if span is None:
                continue
            lo, hi = span
            # ratio = 200 LCS / (a + b) >= cutoff needs LCS >= this (a hair below: float)
            need = math.ceil(cutoff * (a + length) / 200.0 - 1e-6)
            allowed = a - need  # query characters that may be absent from the key
            if allowed < 0 or need > length:
                continue
            masks = self.masks[lo:hi]
            missing = np.zeros(hi - lo, dtype=np.int32)
            for bit, w in weight.items():
                missing += w * ((masks & np.uint32(1 << bit)) == 0)
            slots = self.order[lo:hi][missing <= allowed].tolist()
            if not slots:
                continue
            choices = [keys[s] for s in slots]
            hits = process.extract(
                key, choices, scorer=fuzz.ratio, score_cutoff=cutoff, limit=limit
            )
            found.extend((k, score) for k, score, _ in hits)
        found.sort(key=lambda t: -t[1])
        return found[:limit]


def _first_code_points(keys: PackedStrings) -> np.ndarray:
    """The code point of each key's first character, straight from the UTF-8 bytes."""
    blob = np.concatenate((keys.blob, np.zeros(4, np.uint8))).astype(np.int64)
    at = keys.off[:-1]
    b0, b1, b2, b3 = blob[at], blob[at + 1] & 63, blob[at + 2] & 63, blob[at + 3] & 63
    return np.select(
        [b0 < 0x80, b0 < 0xE0, b0 < 0xF0],
        [b0, ((b0 & 31) << 6) | b1, ((b0 & 15) << 12) | (b1 << 6) | b2],
        ((b0 & 7) << 18) | (b1 << 12) | (b2 << 6) | b3,
    )


def _packed(strings: Sequence[str]) -> PackedStrings:
    return strings if isinstance(strings, PackedStrings) else PackedStrings.of(strings)


def _pack(strings: list[str]) -> np.ndarray:
    return np.frombuffer(_SEP.join(strings).encode("utf-8"), dtype=np.uint8)


def _unpack(blob: np.ndarray, count: int) -> list[str]:
    # "".split() gives [""], so an empty list needs its count to round-trip
    return blob.tobytes().decode("utf-8").split(_SEP) if count else []
