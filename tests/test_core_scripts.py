"""core.scripts: one table, read from letters and from prose, under one set of names."""

from __future__ import annotations

from gre_agent.core.scripts import COUNTRIES, SCRIPTS, script_named, scripts_in, scripts_named_in


def test_letters_give_distinctive_scripts_in_order():
    assert scripts_in("Больница, Main Street, 서울역, ひらがな カタカナ 東京") == [
        "Cyrillic",
        "Hangul",
        "Kana",
        "Han",
    ]
    assert scripts_in("Aleksanterinkatu 52") == []


def test_prose_names_scripts_and_needs_a_script_word_for_language_names():
    text = "Signs in Hiragana and Katakana, some Latin script, and Korean characters; Ge'ez too."
    assert scripts_named_in(text) == ["Kana", "Latin", "Hangul", "Ethiopic"]
    assert scripts_named_in("The language is Korean, the food Greek.") == []


def test_model_words_map_to_the_same_names_and_latin_to_none():
    assert script_named("Korean") == script_named(" hangul ") == "Hangul"
    assert script_named("Burmese") == "Myanmar" and script_named("Katakana") == "Kana"
    assert script_named("Latin") is None and script_named("Klingon") is None


def test_every_name_any_reader_returns_is_in_the_table():
    names = {s.name for s in SCRIPTS}
    assert len(names) == len(SCRIPTS)
    assert set(COUNTRIES) == names - {"Latin"}
    for s in SCRIPTS:
        if s.countries:
            assert script_named(s.name) == s.name
            assert all(script_named(alias) == s.name for alias in s.aliases)
