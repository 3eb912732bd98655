"""The comparison level a pair of identities lands in, pinned with tables of cases.

Each case gives two identities as sources write them (any script) and the level of the
model's comparison it must reach; the levels are evaluated by DuckDB from the SQL Splink
generates for the model, on columns prepared as ``linkage.link`` prepares them.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from linkage import model
from linkage.names import name_skeleton, standard_name, surname_stem

EXACT = "Exact match on full_std"
TRANSLIT = "same names but for transliteration"
SWAPPED = "first and last name swapped"
GENDERED = "same first name, surname but for the gendered ending"
TYPO = "one name the same, the other one typo apart"
SIMILAR = "both names similar"
SURNAME = "same surname, another first name"
FIRST = "same first name, another surname"
ELSE = "All other comparisons"

NAME_CASES = [
    (("Иван", "Щербаков"), ("IVAN", "SHCHERBAKOV"), EXACT),  # ICAO is our fixed scheme
    (("Иван", "Щербаков"), ("IVAN", "SCHERBAKOV"), TRANSLIT),
    (("Иван", "Щербаков"), ("Ivan", "ŠČERBAKOV"), EXACT),  # š, č spelt out as sh, ch
    (("Иван", "Щербаков"), ("IVAN", "SHHERBAKOV"), TRANSLIT),
    (("Юлия", "Фёдорова"), ("YULIYA", "FYODOROVA"), TRANSLIT),
    (("Юлия", "Фёдорова"), ("IULIIA", "FEDOROVA"), EXACT),
    (("Олександр", "Кравченко"), ("OLEKSANDR", "KRAVCHENKO"), EXACT),  # Ukrainian
    (("Єлизавета", "Коваль"), ("YELYZAVETA", "KOVAL"), TRANSLIT),
    (("Нұрлан", "Қасымов"), ("NURLAN", "KASYMOV"), EXACT),  # Kazakh letters
    (("Ivan", "Petrov"), ("Petrov", "Ivan"), SWAPPED),
    (("Анна", "Иванова"), ("ANNA", "IVANOV"), GENDERED),
    (("Ирина", "Вишневская"), ("IRINA", "VISHNEVSKII"), GENDERED),
    (("Ivan", "Petrov"), ("Ivan", "Petorv"), TYPO),
    (("Aleksandr", "Smirnov"), ("Aleksandar", "Smirnov"), TYPO),
    (("Ekaterina", "Smirnova"), ("Ekatarina", "Smirnowa"), TYPO),  # w = v in skeletons
    (("Ekaterina", "Smirnova"), ("Ekatarina", "Smyrnoba"), SIMILAR),
    (("Ivan", "Petrov"), ("Oleg", "Petrov"), SURNAME),
    (("Ivan", "Petrov"), ("Ivan", "Sidorenko"), FIRST),
    (("Ivan", "Petrov"), ("Maria", "Garcia"), ELSE),
]

BIRTH_CASES = [
    ("1980-03-07", None, "1980-03-07", None, "exact"),
    ("1980-03-07", None, "1980-07-03", None, "day and month swapped"),
    ("1980-03-07", None, "1980-03-17", None, "same year, month or day"),
    ("1980-03-07", None, "1908-03-07", None, "same day and month, year one digit apart"),
    ("1980-03-07", None, "1990-03-07", None, "same day and month, year one digit apart"),
    ("1980-03-07", None, None, 1980, "same year, a side knowing only the year"),
    (None, 1980, None, 1980, "same year, a side knowing only the year"),
    ("1980-03-07", None, "1980-11-20", None, "same year"),
    ("1980-03-07", None, "1981-11-20", None, "year within 1"),
    ("1980-03-07", None, "1975-03-07", None, "All other comparisons"),
    ("1980-03-07", None, None, None, "null"),
]


def _level(comparison, row: dict) -> str:
    """Label of the first level of ``comparison`` whose SQL holds for ``row``."""
    compiled = comparison.get_comparison("duckdb")
    cases = " ".join(f"WHEN {lv.sql_condition} THEN '{lv.label_for_charts}'"
                     if lv.sql_condition != "ELSE" else f"ELSE '{lv.label_for_charts}'"
                     for lv in compiled.comparison_levels)
    con = duckdb.connect()
    def typed(key: str) -> str:  # a NULL parameter needs the column's type
        kind = "DATE" if "birth_date" in key else "INTEGER" if "year" in key else "VARCHAR"
        return f"CAST(? AS {kind}) AS \"{key}\""

    columns = ", ".join(typed(k) for k in row)
    con.execute(f"CREATE TABLE pair AS SELECT {columns}", list(row.values()))
    return con.sql(f"SELECT CASE {cases} END FROM pair").fetchall()[0][0]


def _names(side: str, first: str, last: str) -> dict:
    f, la = standard_name(first), standard_name(last)
    return {f"first_std_{side}": f, f"last_std_{side}": la,
            f"first_skel_{side}": name_skeleton(first), f"last_skel_{side}": name_skeleton(last),
            f"last_stem_{side}": surname_stem(last),
            f"full_std_{side}": f"{f}|{la}",
            f"full_skel_{side}": f"{name_skeleton(first)}|{name_skeleton(last)}"}


@pytest.mark.parametrize("left,right,expected", NAME_CASES)
def test_name_pairs_reach_their_level(left, right, expected):
    row = {**_names("l", *left), **_names("r", *right)}
    assert _level(model._name_comparison(), row) == expected


def test_missing_names_are_the_null_level():
    row = {**_names("l", "Ivan", "Petrov"),
           **{k.replace("_l", "_r"): None for k in _names("l", "x", "y")}}
    assert _level(model._name_comparison(), row) == "null"


@pytest.mark.parametrize("date_l,year_l,date_r,year_r,expected", BIRTH_CASES)
def test_birth_dates_reach_their_level(date_l, year_l, date_r, year_r, expected):
    def side(date, year):
        d = dt.date.fromisoformat(date) if date else None
        return d, (d.year if d else year)

    (dl, yl), (dr, yr) = side(date_l, year_l), side(date_r, year_r)
    row = {"birth_date_l": dl, "birth_date_r": dr, "birth_year_any_l": yl,
           "birth_year_any_r": yr}
    assert _level(model._birth_date_comparison(), row) == expected


KEY_CASES = [
    ("123456789", "123456789", "Exact match on person_key"),
    ("123456789", "123456798", "one typo apart"),   # two digits transposed
    ("123456789", "123457789", "one typo apart"),
    ("123456789", "987654321", "All other comparisons"),
    # HMAC-encoded keys of numbers one typo apart share nothing
    ("9f86d081884c7d659a2feaa0c55ad015", "60303ae22b998861bce3b28f33eec1be", "All other comparisons"),
    ("123456789", None, "person_key is NULL"),
]


@pytest.mark.parametrize("key_l,key_r,expected", KEY_CASES)
def test_person_keys_reach_their_level(key_l, key_r, expected):
    row = {"person_key_l": key_l, "person_key_r": key_r}
    assert _level(model._person_key_comparison(), row).lower() == expected.lower()
