"""A compact, fast name index over GeoNames places.

Places live in column arrays (numpy); each normalised key maps to a slice of posting
arrays (place ids, and whether the key came from an alternate name). An exact lookup is
a hash probe plus a few vectorised numpy operations, which is what makes thousands of
queries per second possible; rapidfuzz runs only when a key is missing.

Strings stay packed in one UTF-8 buffer each (PackedStrings) and keys are found through
an open-addressing table of their CRC-32s saved with the index (KeyTable), not a dict:
a full GeoNames dump has about 8 million keys, and building 8 million Python strings
and a dict of them took 8-17 s of every load.

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

    __slots__ = ("_all", "_buf", "_offv", "blob", "off")

    def __init__(self, blob: np.ndarray, count: int) -> None:
        self._buf = blob.tobytes()
        self.blob = np.frombuffer(self._buf, dtype=np.uint8)  # a view: one copy in memory
        # off[i] is where string i starts; off[i + 1] - 1 where it ends (the separator)
        off = np.empty(count + 1, dtype=np.int64)
        if count:
            off[0] = 0
            off[1:count] = np.flatnonzero(blob == _SEP_BYTE) + 1
        off[count] = len(blob) + 1
        self.off = off
        self._offv = off.data  # a memoryview: Python ints on indexing, without numpy's overhead
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
            if i < 0:
                raise IndexError(i)
        off = self._offv
        return self._buf[off[i] : off[i + 1] - 1]  # off[len + 1] raises IndexError

    def take(self, slots: np.ndarray) -> list[str]:
        """The strings at `slots`, in that order."""
        if self._all is not None:
            return [self._all[i] for i in slots.tolist()]
        buf = self._buf
        starts = self.off[slots].tolist()
        ends = (self.off[slots + 1] - 1).tolist()
        return [buf[a:b].decode("utf-8") for a, b in zip(starts, ends, strict=True)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_list())

    def as_list(self) -> list[str]:
        if self._all is None:
            self._all = _unpack(self.blob, len(self))
        return self._all


def key_hash(key_utf8: bytes) -> int:
    return zlib.crc32(key_utf8)


class KeyTable:
    """Key slots in an open-addressing hash table (linear probing; -1 is an empty cell).

    A key lives at or after cell (CRC-32 of its UTF-8 bytes) & mask; a probe walks on
    from there until it finds the key or an empty cell. Half the cells at least are
    empty, so a probe looks at one or two. Cells are read through a memoryview, which
    gives Python ints without numpy's per-item overhead.
    """

    __slots__ = ("_view", "cells", "mask")

    def __init__(self, cells: np.ndarray) -> None:
        # a probe ends at an empty cell: a damaged table without one would never end
        if not len(cells) or len(cells) & (len(cells) - 1) or not (cells == -1).any():
            raise ValueError("damaged key table")
        self.cells = cells  # int32 (int64 past 2**31 keys), a power of two long
        self.mask = len(cells) - 1
        self._view = np.ascontiguousarray(cells).data

    @classmethod
    def of(cls, keys: PackedStrings) -> KeyTable:
        n = len(keys)
        size = 1 << max(4, (2 * n).bit_length())  # more than twice the keys
        home = np.fromiter(
            (key_hash(keys.bytes_at(i)) for i in range(n)), dtype=np.int64, count=n
        ) & (size - 1)
        cells = np.full(size, -1, dtype=np.int32 if n < 2**31 else np.int64)
        # Round r puts each key still waiting into cell home + r if that is empty (the
        # lowest slot wins a cell several want): every cell a key skipped was taken, as
        # linear probing needs. Waiting keys thin out fast at this load.
        waiting = np.arange(n)
        r = 0
        while len(waiting):
            at = (home[waiting] + r) & (size - 1)
            free = np.flatnonzero(cells[at] == -1)
            _, first = np.unique(at[free], return_index=True)
            won = free[first]
            cells[at[won]] = waiting[won]
            keep = np.ones(len(waiting), dtype=bool)
            keep[won] = False
            waiting = waiting[keep]
            r += 1
        return cls(cells)

    def find(self, keys: PackedStrings, key: str) -> int | None:
        raw = key.encode("utf-8")
        view, mask = self._view, self.mask
        j = key_hash(raw) & mask
        while True:
            slot = view[j]
            if slot < 0:
                return None
            if keys.bytes_at(slot) == raw:
                return slot
            j = (j + 1) & mask


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
    country_code64: np.ndarray = field(init=False, repr=False)

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
        # the same codes as one uint64 each (a <U2 is 8 bytes): integer compares, not
        # string compares, when a query names a country
        self.country = np.ascontiguousarray(self.country, dtype="<U2")
        self.country_code64 = self.country.view(np.uint64)

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
        keys = self.keys
        assert isinstance(keys, PackedStrings) and self.key_table is not None  # __post_init__
        return self.key_table.find(keys, key)

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
        keys = self.keys
        assert isinstance(keys, PackedStrings)  # __post_init__ packs them
        if self._fuzzy is None:
            self._fuzzy = _FuzzyTable.of(keys)
        return self._fuzzy.extract(keys, key, limit, cutoff)

    @staticmethod
    def code64(country: str) -> np.uint64:
        """`country` as an element of country_code64."""
        return np.array([country], dtype="<U2").view(np.uint64)[0]

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
            key_table=self.key_table.cells,
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
            table = KeyTable(z["key_table"]) if "key_table" in z.files else None
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
    """The keys grouped by (first character, length), with a letter-count signature each.

    A character counts in class (last byte of its UTF-8 form & 31); a key's signature holds
    how many of its bytes fall in each of the 32 classes, 2 bits each (3 meaning "3 or
    more"). The longest common subsequence of query and key is at most the sum over the
    query's classes of min(query count, key count), so keys whose bound cannot reach the
    ratio cutoff are skipped before rapidfuzz sees them. The bound is exact (it never
    drops a match), and the keys left keep their slot order, so rapidfuzz's ties come out
    as they did without it.
    """

    def __init__(
        self, order: np.ndarray, sigs: np.ndarray, groups: dict[tuple[int, int], tuple[int, int]]
    ):
        self.order = order  # slots grouped by (first character, length), slot order inside
        self.sigs = sigs  # uint64 signature of each slot in `order`
        self.groups = groups  # (first character's code point, length) -> order[lo:hi]

    @classmethod
    def of(cls, keys: PackedStrings) -> _FuzzyTable:
        n = len(keys)
        if not n:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.uint64), {})
        lengths = np.zeros(n, dtype=np.int64)
        sigs = np.zeros(n, dtype=np.uint64)
        step = 1 << 15  # keys per chunk: the counts fit in the CPU cache
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            a, b = int(keys.off[lo]), int(keys.off[hi]) - 1
            seg = keys.blob[a:b]
            starts = keys.off[lo:hi] - a
            kid = np.repeat(np.arange(hi - lo, dtype=np.int32), np.diff(np.append(starts, b - a)))
            real = seg != _SEP_BYTE
            # characters: bytes that are not UTF-8 continuation bytes (nor separators)
            chars = np.concatenate(([0], np.cumsum(real & ((seg & 0xC0) != 0x80))))
            lengths[lo:hi] = np.diff(chars[np.append(starts, b - a)])
            cls_of = kid[real] * 32 + (seg[real] & 31)
            counts = np.bincount(cls_of, minlength=(hi - lo) * 32)
            c2 = np.minimum(counts, 3).astype(np.uint8).reshape(-1, 32)
            # 2 bits a class, class c at bits 2c (low) and 2c + 1 (high): one uint64
            bits = np.stack((c2 & 1, c2 >> 1), axis=2).reshape(-1, 64)
            sigs[lo:hi] = np.packbits(bits, axis=1, bitorder="little").view("<u8").ravel()
        group = _first_code_points(keys) * 65536 + np.minimum(lengths, 65535)
        order = np.argsort(group, kind="stable")
        group = group[order]
        edges = np.flatnonzero(np.diff(group)) + 1
        los = np.concatenate(([0], edges)).astype(np.int64).tolist()
        his = np.concatenate((edges, [n])).astype(np.int64).tolist()
        groups = {
            (g >> 16, g & 65535): (lo, hi)
            for g, lo, hi in zip(group[los].tolist(), los, his, strict=True)
        }
        return cls(order, sigs[order], groups)

    def extract(
        self, keys: PackedStrings, key: str, limit: int, cutoff: float
    ) -> list[tuple[str, float]]:
        a = len(key)
        c = cutoff / 100.0
        shortest = math.ceil(a * c / (2 - c))
        longest = math.floor(a * (2 - c) / c)
        weight: dict[int, int] = {}  # class -> how many query characters fall in it
        for ch in key:
            cls_ = ch.encode("utf-8")[-1] & 31
            weight[cls_] = weight.get(cls_, 0) + 1
        found: list[tuple[str, float]] = []
        for length in range(shortest, longest + 1):
            span = self.groups.get((ord(key[0]), length))
            if span is None:
                continue
            lo, hi = span
            # ratio = 200 LCS / (a + b) >= cutoff needs LCS >= this (a hair below: float)
            need = math.ceil(cutoff * (a + length) / 200.0 - 1e-6)
            if need > min(a, length):
                continue
            # a - (the LCS bound): query characters no copy of which the key can hold
            sigs = self.sigs[lo:hi]
            deficit = np.zeros(hi - lo, dtype=np.int16)
            for cls_, w in weight.items():
                have = ((sigs >> np.uint64(2 * cls_)) & np.uint64(3)).astype(np.intp)
                deficit += _DEFICIT[min(w, len(_DEFICIT) - 1)][have]
            slots = self.order[lo:hi][deficit <= a - need]
            if not len(slots):
                continue
            hits = process.extract(
                key, keys.take(slots), scorer=fuzz.ratio, score_cutoff=cutoff, limit=limit
            )
            found.extend((k, score) for k, score, _ in hits)
        found.sort(key=lambda t: -t[1])
        return found[:limit]


# _DEFICIT[w][have]: of w query characters in a class, how many a key with `have` (0, 1,
# 2, or 3 meaning 3 or more) bytes in that class cannot match. Rows past 64 never matter
# (keys are short), and the last row stands for all larger w.
_DEFICIT = np.array(
    [[max(w - h, 0) if h < 3 else 0 for h in range(4)] for w in range(64)], dtype=np.int16
)


def _first_code_points(keys: PackedStrings) -> np.ndarray:
    """The code point of each key's first character, straight from the UTF-8 bytes."""
    at = keys.off[:-1]
    if not len(keys.blob):
        return np.zeros(len(at), dtype=np.int64)

    def byte(k: int) -> np.ndarray:
        return np.take(keys.blob, at + k, mode="clip").astype(np.int64)

    b0, b1, b2, b3 = byte(0), byte(1) & 63, byte(2) & 63, byte(3) & 63
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
