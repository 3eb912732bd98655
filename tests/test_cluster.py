"""One-to-one clustering: golden cases and properties (``linkage.cluster``)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.cluster import one_to_one_clusters

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
