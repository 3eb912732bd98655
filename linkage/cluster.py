"""Persons from scored pairs: clustering that respects one-record-per-person sources.

Connected components of accepted links chain: if a register record links to two census
records of namesakes, components put both census records into one person, though a census
enumerates each person once. miglink instead takes the accepted links from the most to the
least probable and joins two clusters only when the join would not put two records of one
*duplicate-free* source (census, a survey wave, ...) into one person. A link that would do so
is refused: the record has already been given to the more probable candidate.

Without duplicate-free sources this is exactly connected components. The work is one sort
and one pass of union-find over the accepted links (near-linear, a few bytes per record), so
it scales to millions of records where Splink's ``cluster_using_single_best_links`` does not
on DuckDB 2 (see PITFALLS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClusterResult:
    cluster: np.ndarray  # cluster id (a member's id) for every node id 0..n-1
    accepted: int  # links at or above the threshold
    refused: int  # links refused because they would join two duplicate-free records


def one_to_one_clusters(n_nodes: int, left: np.ndarray, right: np.ndarray,
                        probability: np.ndarray, source_bits: np.ndarray) -> ClusterResult:
    """Cluster nodes ``0..n_nodes-1`` by the links (``left[i]``, ``right[i]``).

    ``source_bits[node]`` holds one bit per duplicate-free source the node belongs to
    (0 for the others). Links are taken in descending ``probability`` (ties by node ids, so
    the result is deterministic); a link whose two clusters share a bit is refused.
    """
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    order = np.lexsort((right, left, -np.asarray(probability, dtype=np.float64)))
    parent = np.arange(n_nodes, dtype=np.int64)
    size = np.ones(n_nodes, dtype=np.int64)
    bits = np.asarray(source_bits, dtype=np.int64).copy()
    # plain Python lists index faster than numpy arrays element by element
    parent_l, size_l, bits_l = parent.tolist(), size.tolist(), bits.tolist()

    def find(x: int) -> int:
        root = x
        while parent_l[root] != root:
            root = parent_l[root]
        while parent_l[x] != root:  # path compression
            parent_l[x], x = root, parent_l[x]
        return root

    refused = 0
    for a, b in zip(left[order].tolist(), right[order].tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        if bits_l[ra] & bits_l[rb]:
            refused += 1
            continue
        if size_l[ra] < size_l[rb]:
            ra, rb = rb, ra
        parent_l[rb] = ra
        size_l[ra] += size_l[rb]
        bits_l[ra] |= bits_l[rb]
    roots = np.fromiter((find(x) for x in range(n_nodes)), dtype=np.int64, count=n_nodes)
    return ClusterResult(roots, len(order), refused)
