"""Linkage errors against a negative control, the persons known to be two
(``pipelines.linkage_quality.two_persons_control``): hand-worked cases."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.linkage_quality import two_persons_control

MODEL = {"expected_missed_matches": 10.0, "expected_split_persons": 2.0,
         "expected_missed_matches_interval": [4.0, 16.0]}


def _tables(apart: list[tuple[int, int, bool, float, float, list[tuple[float, bool]]]]
            ) -> duckdb.DuckDBPyConnection:
    """Per pair of persons ``a``, ``b``: whether they are known two persons, their
    same-person probability, the model's without that knowledge, and their scored pairs as
    (match probability, two records of one duplicate-free source); each pair between two
    profiles of their own."""
    con = duckdb.connect()
    con.execute("CREATE TABLE profile_cluster (unique_id BIGINT, cluster BIGINT)")
    con.execute("CREATE TABLE pair_decisions (unique_id_l BIGINT, unique_id_r BIGINT, "
                "decision VARCHAR, match_probability DOUBLE, known_two_persons BOOLEAN)")
    con.execute("CREATE TABLE persons_apart (cluster_a BIGINT, cluster_b BIGINT, "
                "scored_pairs BIGINT, two_persons BOOLEAN, same_person_probability DOUBLE, "
                "model_same_person_probability DOUBLE)")
    profile = 0
    for a, b, two, same, model, pairs in apart:
        con.execute("INSERT INTO persons_apart VALUES (?, ?, ?, ?, ?, ?)",
                    [a, b, len(pairs), two, same, model])
        for p, known in pairs:
            con.executemany("INSERT INTO profile_cluster VALUES (?, ?)",
                            [(profile, a), (profile + 1, b)])
            con.execute("INSERT INTO pair_decisions VALUES (?, ?, 'apart', ?, ?)",
                        [profile, profile + 1, p, known])
            profile += 2
    return con


CASE = [
    # known two persons, two links refused (0.95, 0.92); their census pair at 0.97 is two
    # records of one source, not a refused link; above the threshold, not near a link; one
    # pair near a link (0.6); the model alone would call them one person with 0.8 (3 pairs
    # besides the census pair)
    (1, 2, True, 0.0, 0.8, [(0.95, False), (0.92, False), (0.6, False), (0.97, True)]),
    (3, 4, True, 0.0, 0.1, [(0.7, False)]),    # known two persons, a pair near a link
    (5, 6, False, 0.5, 0.5, [(0.8, False), (0.55, False)]),  # near, counted as half two
    (7, 8, False, 0.0, 0.0, [(0.6, False), (0.85, False), (0.3, False)]),  # 2 near, 1 not
    (9, 10, False, 0.0, 0.0, [(0.001, False)]),  # never near a link
]


def test_each_known_error_stands_for_the_unknown_share_over_the_known_share():
    control = two_persons_control(_tables(CASE), 0.9, MODEL)
    # in scored pairs near a link: q = 2 / (2 + 2 * 0.5 + 2) = 0.4, so each known error
    # stands for (1 - q) / q = 1.5
    assert control["known_two_persons_share"] == pytest.approx(0.4)
    assert control["errors_per_known_error"] == pytest.approx(1.5)
    assert control["scored_pairs_near_a_link"] == 6
    assert (control["refused_links"], control["person_pairs_refused"]) == (2, 1)
    assert control["false_matches"] == pytest.approx(3.0)
    # the interval is of the true count: lumps of 2 links, as many as 1.5 per refused lump
    low, high = control["false_matches_interval"]
    assert low <= 3.0 <= high and low % 2 == 0 and high % 2 == 0
    # the model's mass on the known two persons: 0.8 * 3 + 0.1 * 1 = 2.5 pairs (their census
    # pair left out, as the model's missed matches leave it out), 0.9 persons
    assert control["model_missed_matches_on_known_two_persons"] == pytest.approx(2.5)
    assert control["missed_matches"] == pytest.approx(10.0 - 1.5 * 2.5)
    low, high = control["missed_matches_interval"]  # the model's, moved by as much
    assert low == pytest.approx(4.0 - 3.75, abs=0.06)
    assert high == pytest.approx(16.0 - 3.75, abs=0.06)
    assert control["split_persons"] == pytest.approx(2.0 - 1.5 * 0.9)


def test_no_refused_links_count_no_false_matches():
    con = _tables([(1, 2, True, 0.0, 0.0, [(0.5, False)]),
                   (3, 4, False, 0.0, 0.0, [(0.6, False)])])
    control = two_persons_control(con, 0.9, MODEL)
    assert control["false_matches"] == 0.0
    # none refused is not none kept: a lump or more remains possible
    low, high = control["false_matches_interval"]
    assert low == 0.0 < high
    assert control["missed_matches"] == MODEL["expected_missed_matches"]


def test_without_known_two_persons_near_a_link_there_is_no_control():
    con = _tables([(1, 2, False, 0.1, 0.1, [(0.5, False)]),
                   (3, 4, True, 0.0, 0.0, [(0.3, False)])])
    assert two_persons_control(con, 0.9, MODEL) is None
    # nor with the threshold at even odds or below: nothing is near a link
    assert two_persons_control(_tables(CASE), 0.5, MODEL) is None
