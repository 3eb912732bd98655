"""The presence model's own error, measured on persons whose crossings are held out
(``pipelines.uncertainty.build_model_error``): a golden case worked by hand."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipelines import uncertainty
from pipelines.rules import RuleParameters
from pipelines.sql import day_number

WINDOW_START = day_number(dt.date(2016, 1, 1))
AS_OF = day_number(dt.date(2021, 6, 1))  # events final up to 2020-01-31: 2016-2019 complete


def d(text: str) -> int:
    return day_number(dt.date.fromisoformat(text))


@pytest.fixture()
def con(monkeypatch):
    monkeypatch.setattr(uncertainty, "LEAST_PINNED", 1)  # a handful of events, by hand
    con = duckdb.connect()
    # A, C, D held out; E not. With their crossings the model found emigrations of A and C in
    # 2017 and of D in 2018; A's and D's were dated by a crossing out, C's and E's by none.
    con.execute("CREATE TABLE presence_person AS SELECT * FROM (VALUES "
                "('A', 0), ('C', 1), ('D', 2), ('E', 3)) AS t(person_id, person_idx)")
    con.execute("CREATE TABLE presence_paths_held_out AS SELECT * FROM (VALUES "
                "(0, 0), (1, 0), (2, 0)) AS t(person_idx, sample)")
    con.execute(f"""CREATE TABLE events_days AS SELECT * FROM (VALUES
        ('A', 'continuous_12', 'emigration', {d('2017-03-01')}),
        ('C', 'continuous_12', 'emigration', {d('2017-05-01')}),
        ('D', 'continuous_12', 'emigration', {d('2018-07-01')}),
        ('E', 'continuous_12', 'emigration', {d('2017-09-01')})
        ) AS t(person_id, rule, event_type, event_day)""")
    con.execute(f"""CREATE TABLE presence_crossing AS SELECT * FROM (VALUES
        (0, 'out', {d('2017-03-05')}), (2, 'out', {d('2018-06-25')}),
        (1, 'in', {d('2017-05-01')})
        ) AS t(person_idx, direction, day)""")
    # without their crossings, all three read as staying throughout: no event at all
    con.execute(f"""CREATE TABLE presence_held_out AS SELECT * FROM (VALUES
        ('A', 1, {d('2010-01-01')}, NULL), ('C', 1, {d('2010-01-01')}, NULL),
        ('D', 1, {d('2010-01-01')}, NULL)) AS t(person_id, stay_no, arrival, departure)""")
    con.execute(f"""CREATE TABLE observed AS SELECT person_id, TRUE AS resident_at_start,
        {AS_OF} AS observation_end, TRUE AS alive FROM presence_person""")
    return con


def test_the_shift_is_the_events_lost_per_event_a_crossing_dated(con):
    uncertainty.build_model_error(con, ("continuous_12",), RuleParameters(), WINDOW_START,
                                  AS_OF)
    row = con.sql("""SELECT held_out_persons, events_with, events_pinned, events_without,
                            shift, variance_per_event
                     FROM model_error WHERE event_type = 'emigration'""").fetchone()
    held, with_, pinned, without, shift, variance = row
    assert (held, with_, pinned, without) == (3, 3, 2, 0)
    assert shift == pytest.approx(-1.5)  # (0 - 3) / 2
    # years' scatter about the shift: 2017 lost 2 with 1 pinned, 2018 lost 1 with 1 pinned:
    # (-2 + 1.5)^2 + (-1 + 1.5)^2 = 0.5, times 2 / (2 - 1) years, over 2 pinned events
    assert variance == pytest.approx(0.5)
    # C's crossing is an arrival: it does not date an emigration; no immigrations at all
    assert con.sql("SELECT shift FROM model_error WHERE event_type = 'immigration'"
                   ).fetchone()[0] is None


def test_each_years_unpinned_share_counts_every_person(con):
    uncertainty.build_model_error(con, ("continuous_12",), RuleParameters(), WINDOW_START,
                                  AS_OF)
    rows = dict(con.sql("""SELECT year, unpinned_share FROM model_error_by_year
                           WHERE event_type = 'emigration'""").fetchall())
    assert rows[2017] == pytest.approx(2 / 3)  # A pinned; C and E not
    assert rows[2018] == pytest.approx(0.0)
    shift_variance = con.sql("SELECT any_value(shift_variance) FROM model_error_by_year"
                             ).fetchone()[0]
    assert shift_variance == pytest.approx(0.25)  # 0.5 per event over 2 pinned events


def test_too_few_dated_events_measure_nothing(con, monkeypatch):
    monkeypatch.setattr(uncertainty, "LEAST_PINNED", 3)
    uncertainty.build_model_error(con, ("continuous_12",), RuleParameters(), WINDOW_START,
                                  AS_OF)
    assert con.sql("SELECT shift FROM model_error").fetchall() == [(None,), (None,)]
    assert con.sql("SELECT count(*) FROM model_error_by_year").fetchone()[0] == 0
