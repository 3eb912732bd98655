"""Who is observed at all, and until when (``pipelines.presence.build_evidence_reach`` and
``build_observed``), as of two dates: hand-made evidence, expected rows written from the
rule (evidence on two distinct days by the as-of date, or a registration begun by then;
observation ends at the as-of date or at a death before it)."""

import duckdb
import pytest

from pipelines.presence import build_evidence_reach, build_observed

EARLY, LATE = 100, 200  # two as-of dates

POINTS = [  # (person, day) of evidence
    ("one_day", 50), ("one_day", 50),  # two records of one day: one day
    ("two_days_late", 50), ("two_days_late", 150),  # the second day after EARLY
    ("two_days", 10), ("two_days", 20),
    ("dies", 10), ("dies", 20),
    ("dies_late", 10), ("dies_late", 20),
]
SPELLS = [("registered", 180)]  # (person, registration start), no other evidence
DEATHS = [("dies", 60), ("dies_late", 150)]


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    people = sorted({p for p, _ in POINTS} | {p for p, _ in SPELLS})
    con.execute("CREATE TABLE persons (person_id VARCHAR, country_of_birth VARCHAR, "
                "birth_date DATE)")
    con.executemany("INSERT INTO persons VALUES (?, 'XXX', NULL)", [[p] for p in people])
    con.execute("CREATE TABLE evidence_point (person_id VARCHAR, day INTEGER, source VARCHAR)")
    con.executemany("INSERT INTO evidence_point VALUES (?, ?, 'activity')", POINTS)
    con.execute("CREATE TABLE cover_spell (person_id VARCHAR, spell_start INTEGER)")
    con.executemany("INSERT INTO cover_spell VALUES (?, ?)", SPELLS)
    con.execute("CREATE TABLE evidence_break (person_id VARCHAR, day INTEGER, kind VARCHAR)")
    con.executemany("INSERT INTO evidence_break VALUES (?, ?, 'death')", DEATHS)
    con.execute("CREATE TABLE presence AS SELECT person_id, 1 AS stay_no, 0 AS arrival, "
                "NULL AS departure FROM persons")
    build_evidence_reach(con)
    return con


def _observed(con, as_of: int) -> dict[str, tuple[int, bool]]:
    build_observed(con, "KAZ", as_of, table=f"observed_{as_of}")
    return {p: (end, alive) for p, end, alive in con.sql(
        f"SELECT person_id, observation_end, alive FROM observed_{as_of}").fetchall()}


def test_observed_as_of_an_early_date(con):
    assert _observed(con, EARLY) == {"two_days": (EARLY, True), "dies": (60, False),
                                     "dies_late": (EARLY, True)}


def test_observed_as_of_a_late_date(con):
    assert _observed(con, LATE) == {"two_days": (LATE, True), "dies": (60, False),
                                    "dies_late": (150, False), "two_days_late": (LATE, True),
                                    "registered": (LATE, True)}
