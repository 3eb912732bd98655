"""The presence model's own error, measured on persons whose crossings are held out
(``pipelines.uncertainty.build_model_error``): a golden case worked by hand."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipelines import uncertainty
from pipelines.rules import RuleParameters
from schemas.sql import day_number

WINDOW_START = day_number(dt.date(2016, 1, 1))
AS_OF = day_number(dt.date(2021, 6, 1))  # events final up to 2020-01-31: 2016-2019 complete


def d(text: str) -> int:
    return day_number(dt.date.fromisoformat(text))


@pytest.fixture()
def con():
    con = duckdb.connect()
    # Citizens A, C, D held out; F, a citizen, and E, a foreigner, not. With their crossings
    # the model found emigrations of A, C, E and F in 2017 and of D in 2018; A's, C's and
    # D's were dated by a crossing out, E's and F's by none.
    con.execute("CREATE TABLE presence_person AS SELECT * FROM (VALUES "
                "('A', 0, 0), ('C', 1, 0), ('D', 2, 0), ('E', 3, 1), ('F', 4, 0)) "
                "AS t(person_id, person_idx, person_group)")
    con.execute("CREATE TABLE presence_paths_held_out AS SELECT * FROM (VALUES "
                "(0, 0), (1, 0), (2, 0)) AS t(person_idx, sample)")
    con.execute(f"""CREATE TABLE events_days AS SELECT * FROM (VALUES
        ('A', 'continuous_12', 'emigration', {d('2017-03-01')}),
        ('C', 'continuous_12', 'emigration', {d('2017-05-01')}),
        ('D', 'continuous_12', 'emigration', {d('2018-07-01')}),
        ('E', 'continuous_12', 'emigration', {d('2017-09-01')}),
        ('F', 'continuous_12', 'emigration', {d('2017-11-01')})
        ) AS t(person_id, rule, event_type, event_day)""")
    con.execute(f"""CREATE TABLE presence_crossing AS SELECT * FROM (VALUES
        (0, 'out', {d('2017-03-05')}), (1, 'out', {d('2017-05-03')}),
        (2, 'out', {d('2018-06-25')}), (3, 'in', {d('2017-09-01')})
        ) AS t(person_idx, direction, day)""")
    # without their crossings, A and C read as staying throughout; D still leaves in 2018
    con.execute(f"""CREATE TABLE presence_held_out AS SELECT * FROM (VALUES
        ('A', 1, {d('2010-01-01')}, NULL), ('C', 1, {d('2010-01-01')}, NULL),
        ('D', 1, {d('2010-01-01')}, {d('2018-07-01')})
        ) AS t(person_id, stay_no, arrival, departure)""")
    con.execute(f"""CREATE TABLE observed AS SELECT person_id, TRUE AS resident_at_start,
        {AS_OF} AS observation_end, TRUE AS alive FROM presence_person""")
    return con


def test_the_shift_is_the_events_lost_per_event_a_crossing_dated(con):
    uncertainty.build_model_error(con, ("continuous_12",), RuleParameters(), WINDOW_START,
                                  AS_OF, least_pinned=1)  # a handful of events, by hand
    row = con.sql("""SELECT held_out_persons, events_with, events_pinned, events_without,
                            shift, variance_per_event
                     FROM model_error WHERE event_type = 'emigration'
                     AND person_group = 0""").fetchone()
    held, with_, pinned, without, shift, variance = row
    assert (held, with_, pinned, without) == (3, 3, 3, 1)
    assert shift == pytest.approx(-2 / 3)  # (1 - 3) / 3
    # years' scatter about the shift: 2017 lost 2 of 2 pinned, 2018 lost 0 of 1 pinned:
    # (-2 + 4/3)^2 + (0 + 2/3)^2 = 8/9, times 2 / (2 - 1) years, over 3 pinned events
    assert variance == pytest.approx(16 / 27)
    assert con.sql("SELECT shift FROM model_error WHERE event_type = 'immigration'"
                   " AND person_group = 0").fetchone()[0] is None  # no immigration at all
    # no foreigner was held out: nothing measured for them; all persons: the citizens
    assert con.sql("SELECT held_out_persons, shift FROM model_error WHERE person_group = 1 "
                   "AND event_type = 'emigration'").fetchone() == (0, None)
    assert con.sql("SELECT held_out_persons, shift FROM model_error WHERE person_group = -1 "
                   "AND event_type = 'emigration'").fetchone() == (3, pytest.approx(-2 / 3))


def test_each_cell_takes_the_shift_of_its_undated_events_group_else_all(con):
    uncertainty.build_model_error(con, ("continuous_12",), RuleParameters(), WINDOW_START,
                                  AS_OF, least_pinned=1)  # a handful of events, by hand
    rows = {y: r for y, *r in con.sql("""
        SELECT year, unpinned_share, shift_rate, variance_rate, squared_rate
        FROM model_error_by_year WHERE event_type = 'emigration'""").fetchall()}
    # 2017: A and C dated, F and E undated; nothing was measured on foreigners, so E takes
    # all held-out persons' shift (the citizens'): undated share 1/2. Found = true * (1 +
    # shift), so each undated event found stands for 1 / (1 - 2/3) = 3: a gain of 2.
    share, shift_rate, variance_rate, squared_rate = rows[2017]
    assert share == pytest.approx(2 / 4)
    assert shift_rate == pytest.approx(-2 * 2 / 4)
    assert variance_rate == pytest.approx(2 * 1 / 4 * 16 / 27 * 3 ** 2)
    assert squared_rate == pytest.approx(2 * (1 / 4) ** 2 * (2 ** 2 + 16 / 27 / 3 * 3 ** 4))
    assert rows[2018][0] == pytest.approx(0.0)  # D's emigration was dated


def test_too_few_dated_events_measure_nothing(con):
    uncertainty.build_model_error(con, ("continuous_12",), RuleParameters(), WINDOW_START,
                                  AS_OF, least_pinned=4)
    assert {s for (s,) in con.sql("SELECT shift FROM model_error").fetchall()} == {None}
    assert con.sql("SELECT count(*) FROM model_error_by_year").fetchone()[0] == 0
