"""Priors fitted by EM (``linkage.priors``), u of attributes given names
(``linkage.dependence``) and name frequencies over identities (``linkage.link``): hand-worked
cases and the fixed-point property."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from linkage.dependence import condition_on_names
from linkage.priors import LOWEST, fit_prior, logit2, profile_pairs, source_pair_priors
from linkage.scoring import identity_frequencies_sql


def test_a_prior_is_the_share_of_certain_matches_among_all_pairs():
    # two certain matches and one certain non-match among 1,000 pairs (997 never compared)
    prior = fit_prior(np.array([60.0, 60.0, -60.0]), np.ones(3), 1000, start=0.1)
    assert prior == pytest.approx(0.002, rel=1e-6)


def test_no_evidence_keeps_the_start_within_bounds():
    assert fit_prior(np.array([]), np.array([]), 100, start=0.0) == LOWEST


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-30, 30), min_size=1, max_size=40),
       st.floats(1.0, 1e6))
def test_the_fitted_prior_is_the_mean_match_probability_it_implies(evidence, spare):
    # EM's fixed point: the prior equals the mean probability of all pairs computed with it
    values = np.array(evidence)
    pairs = len(values) + spare
    prior = fit_prior(values, np.ones_like(values), pairs, start=0.01)
    implied = np.sum(1 / (1 + np.exp2(-(values + logit2(prior))))) / pairs
    assume(LOWEST < prior < 0.5)  # at a bound the slope, not the fixed point, decides
    assert prior == pytest.approx(implied, rel=1e-6)


def test_profile_pairs_split_into_dated_and_undated():
    sizes = {("a", True): 3, ("a", False): 2, ("b", True): 4}
    assert profile_pairs(sizes, "a", "b", undated=False) == 12
    assert profile_pairs(sizes, "a", "b", undated=True) == 5 * 4 - 12
    assert profile_pairs(sizes, "a", "a", undated=False) == 3
    assert profile_pairs(sizes, "a", "a", undated=True) == 10 - 3


def test_each_source_pair_gets_its_own_prior_and_the_pairs_their_weights():
    con = duckdb.connect()
    con.execute("CREATE TABLE profiles AS SELECT * FROM (VALUES "
                "(0, 'a', 1980), (1, 'a', 1990), (2, 'b', 1980), (3, 'b', 1990)) "
                "AS t(unique_id, source, birth_year_any)")
    shift = float(logit2(0.01))  # the model's single prior, in bits
    con.execute(f"""CREATE TABLE scored_pairs AS SELECT unique_id_l, unique_id_r,
        evidence + {shift} AS match_weight, 0.0 AS match_probability FROM (VALUES
        (0, 2, 40.0), (1, 3, 40.0), (0, 1, -40.0)) AS t(unique_id_l, unique_id_r, evidence)""")
    priors = source_pair_priors(con, 0.01)
    by_pair = {(r.source_a, r.source_b): r.prior for r in priors.itertuples()}
    # a x b: 2 certain matches among 4 pairs, capped at one half; a x a: none of 1
    assert by_pair == {("a", "b"): pytest.approx(0.5), ("a", "a"): LOWEST}
    rows = dict(((left, right), (weight, p, bits)) for left, right, weight, p, bits in con.sql(
        "SELECT unique_id_l, unique_id_r, match_weight, match_probability, prior_bits "
        "FROM scored_pairs").fetchall())
    assert rows[(0, 2)][0] == pytest.approx(40.0) and rows[(0, 2)][1] == pytest.approx(1.0)
    assert rows[(0, 1)][0] == pytest.approx(-40.0 + float(logit2(LOWEST)))
    assert rows[(0, 1)][2] == pytest.approx(float(logit2(LOWEST)))


def _sex_model() -> dict:
    return {"comparisons": [{"output_column_name": "sex", "comparison_levels": [
        {"sql_condition": '"sex_l" IS NULL OR "sex_r" IS NULL', "label_for_charts": "null",
         "is_null_level": True},
        {"sql_condition": '"sex_l" = "sex_r"', "label_for_charts": "Exact match on sex",
         "m_probability": 0.99, "u_probability": 0.5},
        {"sql_condition": "ELSE", "label_for_charts": "All other comparisons",
         "m_probability": 0.01, "u_probability": 0.5}]}]}


def test_namesakes_born_years_apart_give_the_u_of_sex_given_the_name():
    # thirty namesakes born two years apart from one another, all men: given the same full
    # name, sex agrees for every one of their 435 pairs (smoothed towards u = 0.5 by ten);
    # thirty others with names of their own, so no other stratum has pairs
    rows = [(i, "ivan|petrov", "petrov", "ivan", 1900 + 2 * i, "M") for i in range(30)]
    rows += [(30 + i, f"f{i}|l{i}", f"l{i}", f"f{i}", 1950, "MF"[i % 2]) for i in range(30)]
    con = duckdb.connect()
    con.execute("CREATE TABLE profiles (unique_id BIGINT, full_skel VARCHAR, "
                "last_skel VARCHAR, first_skel VARCHAR, birth_year_any INTEGER, sex VARCHAR)")
    con.executemany("INSERT INTO profiles VALUES (?, ?, ?, ?, ?, ?)", rows)
    available = {"full_std", "full_skel", "last_skel", "first_skel", "sex"}
    model = condition_on_names(con, _sex_model(), available, floor=1e-9)
    levels = model["comparisons"][0]["comparison_levels"]
    labels = [lv["label_for_charts"] for lv in levels]
    assert labels == ["null", "Exact match on sex, given the same full name",
                      "All other comparisons, given the same full name",
                      "Exact match on sex", "All other comparisons"]
    assert levels[1]["u_probability"] == pytest.approx((435 + 10 * 0.5) / 445)
    assert levels[2]["u_probability"] == pytest.approx(10 * 0.5 / 445)
    assert levels[2]["sql_condition"] == '"full_skel_l" = "full_skel_r"'
    assert [lv.get("m_probability") for lv in levels[1:]] == [0.99, 0.01, 0.99, 0.01]
    assert levels[3]["u_probability"] == 0.5  # pairs without the same names keep their u


def test_name_frequencies_count_identities_not_profiles():
    # one person seen in six sources (six profiles, one name, one birth date) and two other
    # persons sharing another name: counted over identities, 1 of 3 and 2 of 3
    rows = [(i, "anna|ivanova", "1980-01-02", 1980) for i in range(6)]
    rows += [(6, "olga|petrova", "1970-05-06", 1970), (7, "olga|petrova", None, 1991)]
    con = duckdb.connect()
    con.execute("CREATE TABLE profiles (unique_id BIGINT, full_std VARCHAR, "
                "birth_date DATE, birth_year_any INTEGER)")
    con.executemany("INSERT INTO profiles VALUES (?, ?, ?, ?)", rows)
    shares = dict(con.sql(identity_frequencies_sql("full_std")).fetchall())
    assert shares == {"anna|ivanova": pytest.approx(1 / 3), "olga|petrova": pytest.approx(2 / 3)}
