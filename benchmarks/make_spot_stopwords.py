"""Regenerate tools/gazetteer/spot_stopwords.json, the words `gazetteer.spot` skips.

A stop word is a frequent word of a language that is also a gazetteer key ("nice",
"tie", "osa", "sale"): on a sign it is almost always the word, not the place. Big places
(a primary name with at least 100,000 people) stay names unless they are listed in
AMBIGUOUS below, so "Lahti", "Oslo" and "York" are still found.

Needs `wordfreq` (not a dependency of the package; install it in a scratch venv) and the
packaged gazetteer (`KEYS` is written by the first step, run with the project's venv):

    .venv/bin/python benchmarks/make_spot_stopwords.py keys /tmp/keys.json
    /tmp/wfenv/bin/python benchmarks/make_spot_stopwords.py words /tmp/keys.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _words(text: str) -> set[str]:
    return set(text.split())


OUT = Path(__file__).resolve().parents[1] / "tools" / "gazetteer" / "spot_stopwords.json"
TOP_N = 5000
BIG = 100_000
HOME_TOWN = 10_000  # a town of the language's own countries: its name is mostly the town
HOME_CITY = 50_000  # the same by an alternate name (GeoNames' alternates hold noise)
# Where each language is at home (wordfreq's codes; "sh" is Serbo-Croatian).
HOME = {
    "en": "GB US AU NZ IE CA ZA",
    "fi": "FI",
    "sv": "SE FI",
    "nb": "NO",
    "da": "DK",
    "de": "DE AT CH",
    "nl": "NL BE",
    "fr": "FR BE CH CA LU",
    "es": "ES MX AR CO CL PE VE EC BO UY PY",
    "it": "IT CH",
    "pt": "PT BR",
    "pl": "PL",
    "cs": "CZ",
    "ru": "RU BY KZ",
    "uk": "UA",
    "tr": "TR",
    "hu": "HU",
    "ro": "RO MD",
    "id": "ID",
    "ca": "ES AD",
    "sh": "HR RS BA ME",
    "sk": "SK",
}
HOME = {lang: tuple(ccs.split()) for lang, ccs in HOME.items()}  # type: ignore[misc]
LANGS = list(HOME)
# Big places whose name is mostly a word: blocked all the same.
AMBIGUOUS = _words(
    """anda bade banan banda bello beni bukan bunda delta dila dili engels gaya george guna
    handa ica ise itu jos kara kati kaya kent kira kisi kita kota lahan lander latina
    libertad lira loja male man marka mary masina mati mau mesa metro mitte mobile moga
    moro nada natal negara nice orange osan ota pare parla pati plano poblacion pueblo
    regina reading sale san sanaa sano sari saga saham soka split surprise tama tanta tema
    tete tima uji van virar vista yola victoria jackson corona chico gracia resistencia
    serra mestre paulista passos pereira rodriguez cua tours lille essen"""
)
# Town names at home that are still mostly words there.
WORDS_AT_HOME = _words(
    """reading mobile surprise orange sale mary george victoria come tour port pont rien
    selon marche monte mont koska gerne esse kilo monster allen para jete pole lion mets
    bella banco pico baru boru sert karisi karin kasaba koruma baris soder materia"""
)
# Sign and shop words in no top list, or in all of them: blocked in every language.
SIGNAGE = _words(
    """hotel hostel motel taxi pizza pizzeria kebab sushi cafe bar pub grill bistro
    bank police polis poliisi pharmacy apotek apteekki farmacia apotheke pharmacie market
    markt marked center centre centrum keskus station asema bahnhof gare estacion museum
    museo church kirkko kirche iglesia school koulu schule parking parkering pysakointi
    exit entrance ausgang sortie salida uscita restaurant ravintola restaurang bakery
    bageri leipomo salon kiosk kioski shop store mall plaza city central park street road
    north south east west new old super sale open closed welcome info tourist hospital
    airport port harbour ferry metro tram bus stop"""
)


def dump_keys(path: Path) -> None:
    from gre_agent.core.settings import load_settings
    from gre_agent.tools.gazetteer import offline_indexes

    ix = offline_indexes(load_settings())[-1]
    # key -> {country: most people of a place so named there, "*": anywhere; "~CC": the
    # same counting alternate names too ("Napoli", "Göteborg", "München")}
    out: dict[str, dict[str, int]] = {}
    for slot, key in enumerate(ix.keys):
        ids = ix.ids[ix.ptr[slot] : ix.ptr[slot + 1]]
        alt = ix.alt[ix.ptr[slot] : ix.ptr[slot + 1]]
        pops = {"*": int(ix.population[ids[~alt]].max()) if (~alt).any() else -1}
        for i, a in zip(ids.tolist(), alt.tolist(), strict=True):
            cc, people = str(ix.country[i]), int(ix.population[i])
            pops["~" + cc] = max(pops.get("~" + cc, 0), people)
            if not a:
                pops[cc] = max(pops.get(cc, 0), people)
        out[key] = pops
    path.write_text(json.dumps(out))


def make_words(path: Path) -> None:
    import wordfreq

    sys.path.insert(0, str(OUT.parent))
    from _normalize import normalize  # the same keys as the index, without the package

    keys: dict[str, dict[str, int]] = json.loads(path.read_text())

    def at_home(word: str, lang: str) -> bool:
        # GeoNames names places in English, so the other languages' own names of their
        # towns are its alternate names; English alternates at home are mostly noise.
        pops = keys[word]
        own = max((pops.get(cc, 0) for cc in HOME[lang]), default=0)
        alt = max((pops.get("~" + cc, 0) for cc in HOME[lang]), default=0) if lang != "en" else 0
        return (own >= HOME_TOWN or alt >= HOME_CITY) and word not in WORDS_AT_HOME

    def is_place(word: str, lang: str) -> bool:
        return at_home(word, lang) or (keys[word]["*"] >= BIG and word not in AMBIGUOUS)

    stop: dict[str, list[str]] = {}
    for lang in LANGS:
        words = {normalize(w) for w in wordfreq.top_n_list(lang, TOP_N)}
        stop[lang] = sorted(
            w for w in words if w in keys and any(c.isalpha() for c in w) and not is_place(w, lang)
        )
    stop["*"] = sorted({normalize(w) for w in SIGNAGE} & set(keys))
    # With no language given: English (the signs' second language nearly everywhere) and
    # the other lists, less the words that are a town's name where their language is spoken.
    union = {w for lang in LANGS for w in stop[lang]}
    homes = {w for w in union if any(at_home(w, lang) for lang in LANGS)}
    stop["default"] = sorted(set(stop["en"]) | (union - homes))
    lines = [
        f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in sorted(stop.items())
    ]
    OUT.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    print(OUT, {k: len(v) for k, v in stop.items()})


if __name__ == "__main__":
    step, where = sys.argv[1], Path(sys.argv[2])
    dump_keys(where) if step == "keys" else make_words(where)
