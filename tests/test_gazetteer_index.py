"""PlaceIndex internals: packed strings, the key hash table, the fuzzy prefilter, old files."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz import fuzz, process

from gre_agent.tools.gazetteer import _index
from gre_agent.tools.gazetteer._index import PackedStrings, Place, PlaceIndex, _pack

WORDS = ["helsinki", "san jose", "göteborg", "sankt peterburg", "москва", "東京", "서울", "a", "ab"]


@pytest.mark.parametrize(
    "strings", [[], [""], ["", "", "x"], ["x", ""], WORDS, ["ünï", "", "çödé", "東京都"]]
)
def test_packed_strings_round_trip(strings):
    packed = PackedStrings(_pack(strings), len(strings))
    assert len(packed) == len(strings)
    assert [packed[i] for i in range(len(strings))] == strings
    assert list(packed) == strings  # iteration decodes them all at once
    assert packed[-1:] == strings[-1:]
    with pytest.raises(IndexError):
        packed[len(strings)]


def places(n: int, seed: int = 3) -> list[Place]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzäöü"
    out = []
    for i in range(n):
        word = "".join(rng.choice(letters) for _ in range(rng.randint(3, 12)))
        alts = [rng.choice(WORDS), word.upper() + "ville"] if rng.random() < 0.3 else []
        out.append(
            Place(i + 1, word.capitalize(), 1.0, 2.0, "FI", "01", rng.randrange(10**6), alts)
        )
    return out


def test_every_key_is_found_and_unknown_keys_are_not():
    index = PlaceIndex.build(places(3000), "test")
    for slot, key in enumerate(index.keys):
        assert index.slot(key) == slot
    for missing in ("", "zzzzzzzzzzzzzzzz", "helsinki!", "Helsinki"):
        assert index.slot(missing) is None and index.lookup(missing) is None
    # the dict the spotter uses agrees, and the index answers the same once it exists
    assert index._slot == {k: i for i, k in enumerate(index.keys)}
    assert index.slot("helsinki") == index._slot["helsinki"]


def test_hash_collisions_are_told_apart(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(_index, "key_hash", lambda raw: len(raw) % 3)  # nearly all collide
    index = PlaceIndex.build(places(400), "test")
    for slot, key in enumerate(index.keys):
        assert index.slot(key) == slot
    assert index.slot("nothing like it") is None


def plain_fuzzy_keys(keys: list[str], key: str, limit: int, cutoff: float) -> list:
    """The fuzzy key search without the letter-mask prefilter (how it was written first)."""
    c = cutoff / 100.0
    found = []
    for length in range(math.ceil(len(key) * c / (2 - c)), math.floor(len(key) * (2 - c) / c) + 1):
        choices = [k for k in keys if k[0] == key[0] and len(k) == length]
        hits = process.extract(key, choices, scorer=fuzz.ratio, score_cutoff=cutoff, limit=limit)
        found.extend((k, s) for k, s, _ in hits)
    found.sort(key=lambda t: -t[1])
    return found[:limit]


def typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, max(2, len(word)))
    return rng.choice(
        [
            word[:i] + word[i:],  # as is
            word[:i] + word[i - 1] + word[i:],  # doubled letter
            word[:i] + word[i + 1 :],  # dropped letter
            word[:i] + rng.choice("aeiouxyzö") + word[i + 1 :],  # changed letter
            word[: i - 1] + word[i : i + 1] + word[i - 1 : i] + word[i + 1 :],  # swapped
        ]
    )


@pytest.mark.parametrize("cutoff", [70.0, 84.0, 95.0])
def test_the_fuzzy_prefilter_drops_no_match(cutoff):
    index = PlaceIndex.build(places(4000), "test")
    keys = list(index.keys)
    rng = random.Random(11)
    for _ in range(150):
        query = typo(rng.choice(keys), rng)
        for limit in (3, 25):
            got = index.fuzzy_keys(query, limit=limit, cutoff=cutoff)
            assert got == plain_fuzzy_keys(keys, query, limit, cutoff), query


def test_an_index_of_format_1_still_loads(tmp_path: Path):
    index = PlaceIndex.build(places(500), "test", {"FI.01": "Uusimaa"})
    new = tmp_path / "new.npz"
    index.save(new)
    # a file written before the key table: no key_table, format 1
    old = tmp_path / "old.npz"
    with np.load(new, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "key_table"}
    meta = json.loads(arrays["meta"].tobytes().decode())
    arrays["meta"] = _pack([json.dumps({**meta, "format": 1})])
    np.savez(old, **arrays)
    for path in (new, old):
        loaded = PlaceIndex.load(path)
        assert list(loaded.keys) == list(index.keys)
        assert list(loaded.name) == list(index.name)
        assert list(loaded.admin1) == list(index.admin1)
        for slot, key in enumerate(index.keys):
            assert loaded.slot(key) == slot
        assert np.array_equal(loaded.key_table.cells, index.key_table.cells)


@pytest.mark.parametrize("cells", [[0, 1, 2], [0, 1, 2, 3], []])
def test_a_damaged_key_table_is_refused(cells):
    with pytest.raises(ValueError, match="damaged key table"):
        _index.KeyTable(np.asarray(cells, dtype=np.int32))
