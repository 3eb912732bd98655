"""One-to-one clustering: golden cases and properties (``linkage.cluster``)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.cluster import join_events, one_to_one_clusters

CENSUS, SURVEY = 1, 2


def _clusters(n, links, bits):
    left, right, p = (np.array(x) for x in zip(*links, strict=True)) if links else ([], [], [])
    return one_to_one_clusters(n, left, right, p, np.array(bits))


def test_a_register_record_goes_to_its_more_probable_census_record():
    # node 0: register record; 1 and 2: census records of two namesakes
    result = _clusters(3, [(0, 1, 0.995), (0, 2, 0.999)], [0, CENSUS, CENSUS])
    assert result.cluster[0] == result.cluster[2] != result.cluster[1]
    assert result.refused == 1


def test_without_duplicate_free_sources_it_is_connected_components():
    result = _clusters(5, [(0, 1, 0.99), (1, 2, 0.995), (3, 4, 0.999)], [0] * 5)
    assert result.cluster[0] == result.cluster[1] == result.cluster[2] != result.cluster[3]
    assert result.cluster[3] == result.cluster[4] and result.refused == 0


def test_census_and_survey_pair_up_one_to_one():
    # census 0, 1; survey 2, 3; 0 likes both, 1 only likes 2 a little less than 0 does
    links = [(0, 2, 0.999), (0, 3, 0.998), (1, 2, 0.997), (1, 3, 0.995)]
    result = _clusters(4, links, [CENSUS, CENSUS, SURVEY, SURVEY])
    assert result.cluster[0] == result.cluster[2] and result.cluster[1] == result.cluster[3]
    assert result.cluster[0] != result.cluster[1]


def test_ties_are_broken_deterministically():
    links = [(0, 1, 0.995), (0, 2, 0.995)]
    first = _clusters(3, links, [0, CENSUS, CENSUS]).cluster
    again = _clusters(3, list(reversed(links)), [0, CENSUS, CENSUS]).cluster
    assert (first == again).all() and first[0] == first[1]


def test_join_events_name_the_join_that_first_united_two_records():
    # joins in descending probability: (0,1) first, then (2,3), then (1,2) unites both pairs
    links = [(1, 2, 0.991), (0, 1, 0.999), (2, 3, 0.995)]
    result = _clusters(5, links, [0] * 5)
    pairs = [(0, 1), (2, 3), (0, 3), (1, 2), (0, 4)]
    events = join_events(5, result, np.array([a for a, _ in pairs]),
                         np.array([b for _, b in pairs]))
    assert events.tolist() == [0, 1, 2, 2, -1]


@st.composite
def graphs(draw):
    n = draw(st.integers(2, 30))
    bits = draw(st.lists(st.sampled_from([0, 0, CENSUS, SURVEY]), min_size=n, max_size=n))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                                    st.floats(0.99, 1.0)), max_size=60))
    return n, [(a, b, p) for a, b, p in edges if a != b], bits


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_no_person_holds_two_records_of_a_duplicate_free_source(graph):
    n, links, bits = graph
    result = _clusters(n, links, bits)
    for cluster in set(result.cluster.tolist()):
        members = np.flatnonzero(result.cluster == cluster)
        for bit in (CENSUS, SURVEY):
            assert sum(1 for m in members if bits[m] & bit) <= 1
    # a link left between two persons was refused for a reason: joining them would put two
    # records of one duplicate-free source together
    def bits_of(cluster):
        out = 0
        for m in np.flatnonzero(result.cluster == cluster):
            out |= bits[m]
        return out

    for a, b, _ in links:
        if result.cluster[a] != result.cluster[b]:
            assert bits_of(result.cluster[a]) & bits_of(result.cluster[b])


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_free_of_constraints_it_equals_connected_components(graph):
    n, links, _ = graph
    result = _clusters(n, links, [0] * n)
    # reference: repeated min-label propagation
    label = list(range(n))
    changed = True
    while changed:
        changed = False
        for a, b, _ in links:
            low = min(label[a], label[b])
            if label[a] != low or label[b] != low:
                label[a] = label[b] = low
                changed = True
    for a in range(n):
        for b in range(n):
            assert (label[a] == label[b]) == (result.cluster[a] == result.cluster[b])


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_join_events_agree_with_replaying_the_joins(graph):
    n, links, bits = graph
    result = _clusters(n, links, bits)
    left = np.array([a for a in range(n) for b in range(n) if a < b], dtype=np.int64)
    right = np.array([b for a in range(n) for b in range(n) if a < b], dtype=np.int64)
    events = join_events(n, result, left, right)
    # reference: after the first k joins, which nodes are together (by label propagation)
    label = list(range(n))
    together_after = []
    for ra, rb in zip(result.merged_into.tolist(), result.merged.tolist(), strict=True):
        old, new = label[rb], label[ra]
        label = [new if x == old else x for x in label]
        together_after.append(list(label))
    for a, b, event in zip(left.tolist(), right.tolist(), events.tolist(), strict=True):
        if result.cluster[a] != result.cluster[b]:
            assert event == -1
            continue
        assert together_after[event][a] == together_after[event][b]
        assert event == 0 or together_after[event - 1][a] != together_after[event - 1][b]
