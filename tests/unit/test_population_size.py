"""Dual- and multiple-systems estimation (``pipelines.population_size``) against published
tables, closed forms and simulated lists."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.population_size import capture_histories, chapman, estimate_population, fit_model

# Korean women held in Palembang, three lists (Ball, Shin and Yang 2018), as R's
# MultipleSystemsEstimation ships it
KOREA = pd.DataFrame([[0, 0, 1, 41], [0, 1, 0, 5], [1, 0, 0, 5], [1, 1, 0, 54], [1, 0, 1, 6],
                      [0, 1, 1, 0], [1, 1, 1, 12]], columns=["b", "c", "d", "count"])

# UK modern slavery 2013, six lists (Home Office 2014; UKdat in MultipleSystemsEstimation)
UK_LISTS = ["LA", "NG", "PF", "GO", "GP", "NCA"]
UK = pd.DataFrame([
    [1, 0, 0, 0, 0, 0, 54], [0, 1, 0, 0, 0, 0, 463], [0, 0, 1, 0, 0, 0, 907],
    [0, 0, 0, 1, 0, 0, 695], [0, 0, 0, 0, 1, 0, 316], [0, 0, 0, 0, 0, 1, 57],
    [1, 1, 0, 0, 0, 0, 15], [1, 0, 1, 0, 0, 0, 19], [1, 0, 0, 1, 0, 0, 3],
    [0, 1, 1, 0, 0, 0, 56], [0, 1, 0, 1, 0, 0, 19], [0, 1, 0, 0, 1, 0, 1],
    [0, 1, 0, 0, 0, 1, 3], [0, 0, 1, 1, 0, 0, 69], [0, 0, 1, 0, 1, 0, 10],
    [0, 0, 1, 0, 0, 1, 31], [0, 0, 0, 1, 1, 0, 8], [0, 0, 0, 1, 0, 1, 6],
    [0, 0, 0, 0, 1, 1, 1], [1, 1, 1, 0, 0, 0, 1], [1, 1, 0, 1, 0, 0, 1],
    [0, 1, 1, 1, 0, 0, 4], [0, 1, 1, 0, 0, 1, 3], [0, 0, 1, 1, 0, 1, 1],
    [1, 1, 1, 1, 0, 0, 1]], columns=[*UK_LISTS, "count"])

# HIV in Rome, four reporting centres (Abeni, Brancato and Perucci 1994), as Rcapture ships it
HIV = pd.DataFrame([
    [1, 1, 1, 1, 0], [1, 1, 1, 0, 3], [1, 1, 0, 1, 1], [1, 1, 0, 0, 33], [1, 0, 1, 1, 0],
    [1, 0, 1, 0, 20], [1, 0, 0, 1, 6], [1, 0, 0, 0, 403], [0, 1, 1, 1, 3], [0, 1, 1, 0, 35],
    [0, 1, 0, 1, 10], [0, 1, 0, 0, 545], [0, 0, 1, 1, 11], [0, 0, 1, 0, 621],
    [0, 0, 0, 1, 205]], columns=["c1", "c2", "c3", "c4", "count"])


def test_korea_bic_choice_and_ranking_as_in_r():
    """R's MultipleSystemsEstimation: [12,23] at 157.1667, BIC 57.14081; then [12,3]
    268.7778 (58.96860), [13,23] 123.4630 (91.89711), [1,2,3] 141.9926 (184.14431)."""
    result = estimate_population(KOREA)
    assert result.fit.name == "[12,23]"
    assert result.estimate == pytest.approx(157.1667, abs=1e-3)
    table = result.table().set_index("model")
    for model, estimate, bic in [("[12,23]", 157.1667, 57.14081), ("[12,3]", 268.7778, 58.96860),
                                 ("[13,23]", 123.4630, 91.89711), ("[23,1]", 126.1944, 138.06368),
                                 ("[13,2]", 126.9394, 155.16018),
                                 ("[1,2,3]", 141.9926, 184.14431)]:
        assert table.loc[model, "estimate"] == pytest.approx(estimate, abs=1e-3)
        assert table.loc[model, "bic"] == pytest.approx(bic, abs=1e-4)
    # the all-two-way model needs the empty cell (0,1,1) to be fitted as zero: not offered
    assert "[12,13,23]" not in table.index
    # Rcapture's closedpCI.t(mX = ~ . + c1:c2 + c2:c3): 95% profile interval 129 to 226.4
    low, high = result.interval
    assert low == pytest.approx(129.0, abs=0.1) and high == pytest.approx(226.4, abs=0.1)


def _uk_five_lists() -> pd.DataFrame:
    """The Home Office's five lists: police forces and the National Crime Agency as one."""
    uk = UK.assign(PFNCA=((UK.PF + UK.NCA) > 0).astype(int))
    return uk.groupby(["LA", "NG", "PFNCA", "GO", "GP"], as_index=False)["count"].sum()


def test_uk_home_office_model_reproduces_its_estimate():
    """Home Office (2014): 11,313 from the five lists; Rcapture's profile interval for
    that model is 9,889.2 to 13,063.1."""
    five = _uk_five_lists()
    lists = ["LA", "NG", "PFNCA", "GO", "GP"]
    terms = [(lists[i - 1], lists[j - 1]) for i, j in [(1, 2), (1, 3), (2, 4), (2, 5), (3, 5),
                                                       (4, 5)]]
    fit = fit_model(five, lists, terms)
    assert fit.observed == 2744
    assert fit.estimate == pytest.approx(11313.0, abs=1)
    assert fit.interval[0] == pytest.approx(9889.2, abs=0.5)
    assert fit.interval[1] == pytest.approx(13063.1, abs=0.5)


def test_uk_six_lists_main_effects_solves_darrochs_equation_and_selection_in_range():
    """Main effects (model Mt): the MLE solves 1 - n/N = prod_j (1 - n_j/N) (Darroch
    1958), found here by bisection apart from any GLM; the chosen model's estimate lies in
    the Home Office's range of 10,000 to 13,000."""
    fit = fit_model(UK, UK_LISTS, ())
    n = UK["count"].sum()
    caught = [(UK[c] * UK["count"]).sum() for c in UK_LISTS]
    lo, hi = n + 1.0, 1e7
    for _ in range(200):
        size = (lo + hi) / 2
        if np.prod([1 - c / size for c in caught]) > 1 - n / size:
            lo = size
        else:
            hi = size
    assert fit.estimate == pytest.approx(size, rel=1e-7)
    chosen = estimate_population(UK)
    assert 10_000 <= chosen.estimate <= 13_000
    assert chosen.interval[0] < chosen.estimate < chosen.interval[1]


def test_rcapture_hiv_models():
    """Rcapture's closedp.t and closedpCI.t on its HIV table: Mt 11,124.6 (AIC 90.062,
    BIC 117.800); Mt with the [1,2] interaction 12,318.5 (AIC 86.65, BIC 119.935) and 95%
    profile interval 10,266 to 14,992.3."""
    lists = ["c1", "c2", "c3", "c4"]
    mt = fit_model(HIV, lists, ())
    assert mt.estimate == pytest.approx(11124.6, abs=0.1)
    assert mt.aic == pytest.approx(90.062, abs=1e-3) and mt.bic == pytest.approx(117.800, abs=1e-3)
    m12 = fit_model(HIV, lists, [("c1", "c2")])
    assert m12.estimate == pytest.approx(12318.5, abs=0.1)
    assert m12.aic == pytest.approx(86.65, abs=1e-2)
    assert m12.interval[0] == pytest.approx(10266, abs=1)
    assert m12.interval[1] == pytest.approx(14992.3, abs=0.5)


def test_two_lists_are_lincoln_petersen_and_chapman_by_hand():
    table = pd.DataFrame({"a": [1, 0, 1], "b": [0, 1, 1], "count": [60, 30, 40]})
    fit = fit_model(table, ["a", "b"], ())
    assert fit.estimate == pytest.approx(100 * 70 / 40)  # n1 n2 / m
    # Chapman by hand: (101 x 71) / 41 - 1 = 173.902...; variance 101 71 60 30 / (41^2 42)
    dse = chapman(100, 70, 40)
    assert dse["estimate"] == pytest.approx(101 * 71 / 41 - 1)
    assert dse["standard_error"] == pytest.approx((101 * 71 * 60 * 30 / (41 ** 2 * 42)) ** 0.5)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=7, max_size=7))
def test_three_lists_all_two_way_closed_form(counts):
    """With every two-list interaction, the three-list model is saturated and the
    unobserved cell is n100 n010 n001 n111 / (n110 n101 n011)."""
    histories = list(itertools.product([0, 1], repeat=3))[1:]
    table = pd.DataFrame(histories, columns=["x", "y", "z"]).assign(count=counts)
    cell = {h: c for h, c in zip(histories, counts, strict=True)}
    fit = fit_model(table, ["x", "y", "z"], [("x", "y"), ("x", "z"), ("y", "z")], level=None)
    expected = (cell[(1, 0, 0)] * cell[(0, 1, 0)] * cell[(0, 0, 1)] * cell[(1, 1, 1)]
                / (cell[(1, 1, 0)] * cell[(1, 0, 1)] * cell[(0, 1, 1)]))
    if fit is None:  # only on the boundary (a parameter beyond any sensible size)
        assert expected > 1e9 or expected < 1e-9
    else:
        assert fit.unobserved == pytest.approx(expected, rel=1e-6)


def test_capture_histories_counts_units():
    units = pd.DataFrame({"a": [True, True, False, False, True], "b": [1, 0, 1, 0, 1],
                          "w": [2, 1, 1, 5, 1]})
    table = capture_histories(units, ["a", "b"], weight="w").sort_values(["a", "b"])
    assert table.to_dict("list") == {"a": [0, 1, 1], "b": [1, 0, 1], "count": [1, 1, 3]}


def test_interval_covers_the_truth_on_independent_lists():
    """Four independent lists with unequal capture rates over 20 populations: the 95%
    profile interval of the chosen model holds the true size at least 17 times."""
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(20):
        size = 3000
        caught = rng.random((size, 4)) < np.array([0.5, 0.3, 0.2, 0.1])
        table = capture_histories(pd.DataFrame(caught, columns=list("abcd")), list("abcd"))
        result = estimate_population(table)
        covered += result.interval[0] <= size <= result.interval[1]
    assert covered >= 17


def test_bad_tables_are_refused():
    with pytest.raises(ValueError, match="all-zero"):
        fit_model(pd.DataFrame({"a": [0, 1], "b": [0, 1], "count": [3, 4]}), ["a", "b"])
    with pytest.raises(ValueError, match="criterion"):
        estimate_population(KOREA, criterion="cp")
