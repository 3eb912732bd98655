"""Return migration, temporary stays and circular migrants on hand-written histories
(METHOD.md section 3 and section 1's circular migrant definition)."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.patterns import PatternSettings, build_patterns

Y = 365


def _run(events: list[tuple], stays: list[tuple], born: set[str],
         settings: PatternSettings | None = None) -> dict[tuple, tuple]:
    con = duckdb.connect()
    con.execute("CREATE TABLE rules_run AS SELECT 'continuous_12' AS rule")
    con.execute("CREATE TABLE events_days (person_id VARCHAR, rule VARCHAR, event_type "
                "VARCHAR, event_day BIGINT, status VARCHAR)")
    for row in events:
        con.execute("INSERT INTO events_days VALUES (?, 'continuous_12', ?, ?, ?)", row)
    con.execute("CREATE TABLE presence (person_id VARCHAR, stay_no BIGINT, arrival BIGINT, "
                "departure BIGINT)")
    for row in stays:
        con.execute("INSERT INTO presence VALUES (?, 1, ?, ?)", row)
    people = {e[0] for e in events} | {s[0] for s in stays}
    con.execute("CREATE TABLE observed (person_id VARCHAR, resident_at_start BOOLEAN)")
    for person in people:
        con.execute("INSERT INTO observed VALUES (?, ?)", (person, person in born))
    build_patterns(con, tm=365, settings=settings)
    return {(p, r): (ret, tmp, circ) for p, r, ret, tmp, circ in
            con.sql("SELECT * FROM migration_patterns").fetchall()}


def test_native_coming_back_is_a_return_migrant_not_a_first_immigrant():
    found = _run([("native", "emigration", 1000, "confirmed"),
                  ("native", "immigration", 1000 + 2 * Y, "confirmed"),
                  ("newcomer", "immigration", 1000, "confirmed")],
                 [], born={"native"})
    assert found[("native", "continuous_12")] == (1, 0, False)
    assert ("newcomer", "continuous_12") not in found


def test_second_immigration_is_a_return_and_three_moves_in_ten_years_are_circular():
    found = _run([("c", "immigration", 0, "confirmed"),
                  ("c", "emigration", 2 * Y, "confirmed"),
                  ("c", "immigration", 4 * Y, "confirmed")], [], born=set())
    assert found[("c", "continuous_12")] == (1, 0, True)


def test_moves_spread_over_more_than_ten_years_or_provisional_are_not_circular():
    found = _run([("slow", "immigration", 0, "confirmed"),
                  ("slow", "emigration", 6 * Y, "confirmed"),
                  ("slow", "immigration", 11 * Y, "confirmed"),
                  ("open", "immigration", 0, "confirmed"),
                  ("open", "emigration", 2 * Y, "confirmed"),
                  ("open", "immigration", 4 * Y, "provisional")], [], born=set())
    assert found[("slow", "continuous_12")][2] is False
    assert ("open", "continuous_12") not in found    # two confirmed moves only


def test_temporary_stays_are_90_days_to_under_a_year():
    found = _run([], [("t", 0, 89), ("t", 200, 290), ("t", 400, 764), ("t", 800, 1165),
                      ("t", 1200, None)], born=set())
    assert found[("t", "continuous_12")] == (0, 2, False)   # 90 and 364 days


def test_definitions_come_from_the_config():
    """Two events within 5 years make a circular migrant when [patterns] says so; a stay of
    60 days is temporary from 30 days on."""
    events = [("mover", "immigration", 1000, "confirmed"),
              ("mover", "emigration", 1000 + 2 * Y, "confirmed")]
    stays = [("visitor", 5000, 5060)]
    default = _run(events, stays, born=set())
    assert ("mover", "continuous_12") not in default  # no pattern at all
    assert ("visitor", "continuous_12") not in default
    custom = _run(events, stays, born=set(), settings=PatternSettings(
        temporary_min_days=30, circular_events=2, circular_years=5))
    assert custom[("mover", "continuous_12")][2] is True
    assert custom[("visitor", "continuous_12")] == (0, 1, False)
    with pytest.raises(ValueError, match="circular_events"):
        PatternSettings(circular_events=1)
