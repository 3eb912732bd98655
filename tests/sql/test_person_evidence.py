"""Error estimates in persons (``linkage.persons.person_evidence``): hand-worked cases.

Weights are in bits; two groups of records are one person with probability
``1 / (1 + 2^-(mean evidence + prior))``, the evidence of a pair being its weight less its
pair prior. The hand cases give every pair a prior of 0 bits and the groups an even prior
(0.5, also 0 bits), so that a group's probability is read off its mean weight; the fitted
group prior has its own tests (``tests/test_priors.py``).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from linkage.cluster import one_to_one_clusters
from linkage.persons import person_evidence


def _run(profiles: list[tuple[int, str]], pairs: list[tuple[int, int, float]],
         threshold_weight: float = 6.0) -> duckdb.DuckDBPyConnection:
    """Cluster ``profiles`` (unique_id, source) by ``pairs`` (left, right, weight) as the
    pipeline does (links at or above ``threshold_weight``, census duplicate-free), and build
    ``pair_decisions`` the way ``linkage.persons.person_tables`` does."""
    con = duckdb.connect()
    n = max(u for u, _ in profiles) + 1
    bits = np.zeros(n, dtype=np.int64)
    for u, source in profiles:
        bits[u] = 1 if source == "census" else 0
    left = np.array([a for a, _, _ in pairs])
    right = np.array([b for _, b, _ in pairs])
    weight = np.array([w for _, _, w in pairs])
    linked = weight >= threshold_weight
    result = one_to_one_clusters(n, left[linked], right[linked],
                                 1 / (1 + 2.0 ** -weight[linked]), bits)
    con.execute("CREATE TABLE profiles (unique_id BIGINT, source VARCHAR)")
    con.executemany("INSERT INTO profiles VALUES (?, ?)", profiles)
    con.execute("CREATE TABLE profile_cluster (unique_id BIGINT, cluster BIGINT)")
    con.executemany("INSERT INTO profile_cluster VALUES (?, ?)",
                    [(u, int(result.cluster[u])) for u, _ in profiles])
    con.execute("CREATE TABLE pair_decisions (unique_id_l BIGINT, unique_id_r BIGINT, "
                "decision VARCHAR, known_two_persons BOOLEAN, one_to_one_weight DOUBLE, "
                "prior_bits DOUBLE)")
    source = dict(profiles)
    rows = []
    for a, b, w in pairs:
        apart = result.cluster[a] != result.cluster[b]
        known = source[a] == source[b] == "census"
        rows.append((a, b, "apart" if apart else ("link" if w >= threshold_weight
                                                 else "joined_through_others"),
                     known, None if known else w, 0.0))
    con.executemany("INSERT INTO pair_decisions VALUES (?, ?, ?, ?, ?, ?)", rows)
    person_evidence(con, result, ("census",), prior=0.5)
    return con


def test_two_persons_apart_are_weighed_by_the_mean_weight_between_them():
    # register 0 and tax records 1, 2 of one person; census 3 apart from them: its pairs
    # weigh +4 and -2 bits, mean +1, so one person with probability 2/3
    con = _run([(0, "population_register"), (1, "activity"), (2, "activity"), (3, "census")],
               [(0, 1, 20.0), (1, 2, 12.0), (0, 3, 4.0), (2, 3, -2.0)])
    rows = con.sql("SELECT scored_pairs, mean_evidence, same_person_probability "
                   "FROM persons_apart").fetchall()
    assert rows == [(2, pytest.approx(1.0), pytest.approx(2 / 3))]


def test_a_record_like_two_persons_is_at_most_one_of_them():
    # persons {0, 1} and {2, 3}; a survey record 4 weighs 0 bits against each (odds 1 at an
    # even prior): alone each would be one person with it at 1/2, but it is at most one of
    # them, so each keeps 1 / (1 + 1 + 1)
    con = _run([(0, "population_register"), (1, "activity"), (2, "population_register"),
                (3, "activity"), (4, "survey")],
               [(0, 1, 20.0), (2, 3, 20.0), (4, 0, 0.0), (4, 2, 0.0)])
    rows = con.sql("SELECT same_person_probability FROM persons_apart").fetchall()
    assert rows == [(pytest.approx(1 / 3),), (pytest.approx(1 / 3),)]


def test_competition_runs_both_ways():
    # as above, and a second survey record 5 weighs +2 bits (odds 4) against {0, 1} only:
    # {0, 1} is at most one of 4 and 5, and 4 at most one of {0, 1} and {2, 3}.
    # {0, 1} and 4: 1 / (1 + 1 + 4 + 1); {2, 3} and 4: 1 / (1 + 1 + 1);
    # {0, 1} and 5: 4 / (1 + 4 + 1)
    con = _run([(0, "population_register"), (1, "activity"), (2, "population_register"),
                (3, "activity"), (4, "survey"), (5, "survey")],
               [(0, 1, 20.0), (2, 3, 20.0), (4, 0, 0.0), (4, 2, 0.0), (5, 1, 2.0)])
    rows = sorted(p for p, in con.sql(
        "SELECT same_person_probability FROM persons_apart").fetchall())
    assert rows == [pytest.approx(1 / 7), pytest.approx(1 / 3), pytest.approx(4 / 6)]


def test_two_persons_each_with_a_census_record_are_never_one():
    con = _run([(0, "census"), (1, "activity"), (2, "census"), (3, "activity")],
               [(0, 1, 20.0), (2, 3, 20.0), (1, 3, 5.0)])
    assert con.sql("SELECT same_person_probability FROM persons_apart").fetchall() == [(0.0,)]


def test_a_join_is_weighed_by_every_pair_it_united():
    # 0-1 joined first (30 bits); then 2 joins them through 1-2 (10 bits), which also unites
    # the pair 0-2 (2 bits, below the threshold): mean 6, false with probability 1/65
    con = _run([(0, "population_register"), (1, "residence_permits"), (2, "activity")],
               [(0, 1, 30.0), (1, 2, 10.0), (0, 2, 2.0)])
    rows = con.sql("SELECT scored_pairs, mean_evidence, false_join_probability, "
                   "larger_group_profiles, smaller_group_profiles "
                   "FROM person_joins ORDER BY join_event").fetchall()
    assert rows[0][:2] == (1, pytest.approx(30.0)) and rows[0][3:] == (1, 1)
    assert rows[1] == (2, pytest.approx(6.0), pytest.approx(1 / 65), 2, 1)
    assert con.sql("SELECT count(*) FROM persons_apart").fetchall() == [(0,)]


def test_each_scored_pair_takes_its_two_groups_probability():
    # the census record 3 is one person with the others with probability 2/3 (mean +1 bit):
    # both its pairs, +4 and -2 bits on their own, count 2/3 of a missed match each; the
    # links count one minus their join's false probability (one pair each: its own weight)
    con = _run([(0, "population_register"), (1, "activity"), (2, "activity"), (3, "census")],
               [(0, 1, 20.0), (1, 2, 12.0), (0, 3, 4.0), (2, 3, -2.0)])
    rows = dict(((a, b), p) for a, b, p in con.sql(
        "SELECT unique_id_l, unique_id_r, person_match_probability FROM pair_decisions"
    ).fetchall())
    assert rows[(0, 3)] == pytest.approx(2 / 3) and rows[(2, 3)] == pytest.approx(2 / 3)
    assert rows[(0, 1)] == pytest.approx(1 / (1 + 2.0 ** -20))
    assert rows[(1, 2)] == pytest.approx(1 / (1 + 2.0 ** -12))


def test_pairs_of_two_persons_each_with_a_census_record_count_no_missed_match():
    con = _run([(0, "census"), (1, "activity"), (2, "census"), (3, "activity")],
               [(0, 1, 20.0), (2, 3, 20.0), (1, 3, 5.0), (0, 2, 9.0)])
    rows = dict(((a, b), p) for a, b, p in con.sql(
        "SELECT unique_id_l, unique_id_r, person_match_probability FROM pair_decisions"
    ).fetchall())
    assert rows[(1, 3)] == 0.0 and rows[(0, 2)] == 0.0
