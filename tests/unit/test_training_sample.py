"""How an EM session of the linkage model samples its pairs (``linkage.scoring.em_sample``):
all of them up to ``em_max_pairs``; beyond, Splink's count of them reads a record sample
whose pairs are about ``PROBE_PAIRS`` (the pairs of a record sample of share p are p² of
all), never every blocked pair."""

import math

from hypothesis import given
from hypothesis import strategies as st

from linkage.scoring import PROBE_PAIRS, em_sample


@given(st.floats(min_value=0, max_value=5e6))
def test_sessions_within_the_budget_use_every_pair(pairs):
    assert em_sample(pairs, max_pairs=5e6) == {}


@given(st.floats(min_value=5e6 + 1, max_value=1e13))
def test_larger_sessions_are_sampled_and_counted_on_a_record_sample(pairs):
    chosen = em_sample(pairs, max_pairs=5e6)
    assert chosen["max_pairs"] == 5e6
    share = chosen["record_sample_proportion"]
    assert 0 < share <= 1
    probe = share ** 2 * pairs
    assert probe <= max(PROBE_PAIRS, pairs) * (1 + 1e-9)
    assert math.isclose(probe, min(PROBE_PAIRS, pairs), rel_tol=1e-9)
