"""Events scored against the truth by hand: one-to-one within the tolerance, same person and
type; documented and undocumented persons apart."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.evaluate import event_scores


@pytest.fixture
def con():
    c = duckdb.connect()
    # t1 documented: an immigration found 10 days off, an emigration found 90 days off (a
    # miss and a false event), and a second immigration found twice (one of the two false);
    # t2 undocumented: its one event missed; a predicted person owned by no one: false
    c.sql("""CREATE TABLE predicted AS SELECT * FROM (VALUES
        (1, 'continuous_12', 'immigration', DATE '2020-01-11', 't1'),
        (2, 'continuous_12', 'emigration', DATE '2021-04-01', 't1'),
        (3, 'continuous_12', 'immigration', DATE '2022-06-01', 't1'),
        (4, 'continuous_12', 'immigration', DATE '2022-06-20', 't1'),
        (5, 'continuous_12', 'emigration', DATE '2020-01-01', NULL),
        (6, '12_of_16', 'immigration', DATE '2020-01-01', 't1'))
        AS t(eid, rule, event_type, event_date, true_person_id)""")
    c.sql("""CREATE TABLE actual AS SELECT * FROM (VALUES
        (1, 'continuous_12', 'immigration', DATE '2020-01-01', 't1'),
        (2, 'continuous_12', 'emigration', DATE '2021-01-01', 't1'),
        (3, 'continuous_12', 'immigration', DATE '2022-06-10', 't1'),
        (4, 'continuous_12', 'immigration', DATE '2019-05-01', 't2'),
        (5, '12_of_16', 'immigration', DATE '2020-03-05', 't1'))
        AS t(eid, rule, event_type, event_date, true_person_id)""")
    c.sql("""CREATE TABLE documentation AS SELECT * FROM (VALUES ('t1', FALSE), ('t2', TRUE))
        AS t(true_person_id, undocumented)""")
    return c


def test_events_matched_one_to_one_within_the_tolerance(con):
    events, split = event_scores(con, "documentation", tolerance_days=62)
    c12 = events["continuous_12"]
    assert (c12["true_positives"], c12["predicted"], c12["actual"]) == (2, 5, 4)
    assert c12["f1"] == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    # 12_of_16: 64 days apart, one beyond the tolerance
    assert events["12_of_16"]["true_positives"] == 0
    assert events_with(con, 64)["12_of_16"]["true_positives"] == 1
    documented, undocumented = split["continuous_12"]["documented"], \
        split["continuous_12"]["undocumented"]
    assert (documented["true_positives"], documented["predicted"], documented["actual"]) \
        == (2, 5, 3)
    assert (undocumented["true_positives"], undocumented["predicted"],
            undocumented["actual"]) == (0, 0, 1)
    assert "12_of_16" not in split  # no undocumented person's event under that rule


def events_with(con, days):
    return event_scores(con, "documentation", tolerance_days=days)[0]
