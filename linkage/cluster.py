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
    # the joins in the order they were made: ``merged_into[k]`` absorbed ``merged[k]`` (both
    # cluster roots at the time); ``join_events`` finds the join that first united two nodes
    merged_into: np.ndarray
    merged: np.ndarray


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
    merged_into: list[int] = []
    merged: list[int] = []
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
        merged_into.append(ra)
        merged.append(rb)
        size_l[ra] += size_l[rb]
        bits_l[ra] |= bits_l[rb]
    roots = np.fromiter((find(x) for x in range(n_nodes)), dtype=np.int64, count=n_nodes)
    return ClusterResult(roots, len(order), refused, np.array(merged_into, dtype=np.int64),
                         np.array(merged, dtype=np.int64))


def join_events(n_nodes: int, result: ClusterResult, left: np.ndarray, right: np.ndarray
                ) -> np.ndarray:
    """For every pair (``left[i]``, ``right[i]``), the index of the join that first put its
    two nodes in one cluster, or -1 if they stayed apart.

    The joins form a tree (each absorbed root hangs under its absorber, stamped with the
    join's index); two nodes were united by the latest join on their paths up to the node
    where the paths meet. Union by size keeps the paths short (at most log2 of the cluster
    size)."""
    parent = list(range(n_nodes))
    stamp = [0] * n_nodes
    for k, (ra, rb) in enumerate(zip(result.merged_into.tolist(), result.merged.tolist(),
                                     strict=True)):
        parent[rb], stamp[rb] = ra, k
    events = np.full(len(left), -1, dtype=np.int64)
    for i, (u, v) in enumerate(zip(np.asarray(left).tolist(), np.asarray(right).tolist(),
                                   strict=True)):
        latest_u: dict[int, int] = {}
        x, latest = u, -1
        while True:
            latest_u[x] = latest
            if parent[x] == x:
                break
            latest, x = max(latest, stamp[x]), parent[x]
        x, latest = v, -1
        while x not in latest_u and parent[x] != x:
            latest, x = max(latest, stamp[x]), parent[x]
        if x in latest_u:
            events[i] = max(latest, latest_u[x])
    return events


def join_sizes(n_nodes: int, result: ClusterResult) -> tuple[np.ndarray, np.ndarray]:
    """For every join (in ``result``'s order), how many nodes the larger and the smaller of
    the two clusters it united held at the time."""
    size = [1] * n_nodes
    larger = np.empty(len(result.merged), dtype=np.int64)
    smaller = np.empty(len(result.merged), dtype=np.int64)
    for k, (ra, rb) in enumerate(zip(result.merged_into.tolist(), result.merged.tolist(),
                                     strict=True)):
        larger[k], smaller[k] = max(size[ra], size[rb]), min(size[ra], size[rb])
        size[ra] += size[rb]
    return larger, smaller
