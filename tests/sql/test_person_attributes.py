"""A person's attributes from its records (``linkage.profiles.person_attributes_sql``): the value
most records state; on ties a register's value, then the first in order; hand cases."""

from __future__ import annotations

import datetime as dt

import duckdb

from linkage.profiles import person_attributes_sql

D = dt.date


def _attributes(records: list[tuple]) -> dict[str, tuple]:
    con = duckdb.connect()
    con.execute("CREATE TABLE r (person_id VARCHAR, source VARCHAR, sex VARCHAR, "
                "citizenship VARCHAR, country_of_birth VARCHAR, birth_date DATE, "
                "birth_year_any INTEGER)")
    con.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?, ?, ?)", records)
    return {row[0]: row[1:] for row in con.sql(person_attributes_sql("r")).fetchall()}


def test_most_records_win_then_a_register_then_the_first():
    rows = _attributes([
        # P1: two tax records say 1990-01-01, the register 1990-01-02: most records win
        ("P1", "activity", "F", "UKR", "UKR", D(1990, 1, 1), 1990),
        ("P1", "activity", "F", "UKR", "UKR", D(1990, 1, 1), 1990),
        ("P1", "population_register", "F", "UKR", "UKR", D(1990, 1, 2), 1990),
        # P2: one each: the register's birth date and citizenship, though later in order
        ("P2", "survey", "M", "KAZ", "KAZ", D(1980, 5, 1), 1980),
        ("P2", "aliens_register", "M", "UZB", "KAZ", D(1980, 5, 2), 1980),
        # P3: one each, no register: the first in order; unknown values do not count
        ("P3", "activity", None, "TJK", None, D(2001, 3, 4), 2001),
        ("P3", "survey", "F", "KGZ", None, D(2001, 3, 3), 2001),
    ])
    assert rows["P1"] == ("F", 1990, D(1990, 1, 1), "UKR", "UKR")
    assert rows["P2"] == ("M", 1980, D(1980, 5, 2), "UZB", "KAZ")
    assert rows["P3"] == ("F", 2001, D(2001, 3, 3), "KGZ", None)


def test_the_answer_does_not_depend_on_the_order_of_the_records():
    records = [("P", s, "F", c, c, D(1990, 1, d), 1990)
               for s, c, d in (("activity", "UKR", 1), ("survey", "RUS", 2),
                               ("census", "UKR", 2), ("activity", "RUS", 1))]
    first = _attributes(records)
    for shift in range(1, len(records)):
        assert _attributes(records[shift:] + records[:shift]) == first
