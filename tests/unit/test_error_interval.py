"""The interval of a lumpy error count (``pipelines.linkage_quality.error_count_interval``): groups
of pairs that are wrong as a whole, each with its own probability."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.linkage_quality import error_count_interval


def test_one_even_chance_group_is_all_or_nothing():
    assert error_count_interval(np.array([10]), np.array([0.5])) == [0.0, 10.0]


def test_certain_and_impossible_groups_have_no_spread():
    assert error_count_interval(np.array([3, 4]), np.array([1.0, 0.0])) == [3.0, 3.0]
    assert error_count_interval(np.array([], dtype=np.int64), np.array([])) == [0.0, 0.0]


def test_many_small_independent_groups_give_the_binomial_interval():
    # 10,000 single pairs each wrong with p = 0.01: Binomial(10000, 0.01), mean 100, sd 9.95;
    # its 5% and 95% quantiles are 84 and 117 (normal approximation 83.6 and 116.4)
    lo, hi = error_count_interval(np.ones(10_000, dtype=np.int64), np.full(10_000, 0.01))
    assert 82 <= lo <= 86 and 114 <= hi <= 118


def test_lumps_widen_the_interval_at_the_same_mean():
    # the same expected 10 errors: 100 single pairs at p = 0.1, or one join of 100 links
    single = error_count_interval(np.ones(100, dtype=np.int64), np.full(100, 0.1))
    lump = error_count_interval(np.array([100]), np.array([0.1]))
    assert lump == [0.0, 100.0]
    assert single[1] - single[0] < 15


def test_the_same_input_gives_the_same_interval():
    sizes, p = np.arange(1, 500), np.linspace(0, 0.2, 499)
    assert error_count_interval(sizes, p) == error_count_interval(sizes, p)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 50), st.floats(0, 1)), max_size=60))
def test_interval_lies_between_the_certain_and_the_possible_errors(groups):
    sizes = np.array([n for n, _ in groups], dtype=np.int64)
    p = np.array([q for _, q in groups], dtype=float)
    lo, hi = error_count_interval(sizes, p, draws=500)
    assert sizes[p == 1].sum() <= lo <= hi <= sizes[p > 0].sum()
