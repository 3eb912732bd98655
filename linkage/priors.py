"""How likely two profiles are one person before they are compared, per pair of sources.

Splink fits one prior (lambda, ``probability_two_random_records_match``) for all pairs. But
sources differ in how densely they cover one another: every tax record of a resident has its
person in the population register, while two permit holders drawn at random are rarely one
person. One lambda makes the evidence of a name that agrees too weak where the sources are
dense and too strong where they are sparse. Here each pair of sources (a source with itself
included) gets its own lambda, fitted with the comparisons' m and u fixed (``fit_prior``:
maximum likelihood, EM's fixed point, where lambda is the mean match probability over all
profile pairs of the two sources computed with it). Pairs no blocking rule compared count as
non-matches.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from linkage.model import UNDATED  # a side of the pair without birth year
from pipelines.sql import create_table, run_stage

log = logging.getLogger("miglink")

ITERATIONS, TOLERANCE = 200, 1e-9
LOWEST = 1e-12


def logit2(p: float | np.ndarray) -> Any:
    return np.log2(p) - np.log2(1 - p)


def fit_prior(evidence: np.ndarray, counts: np.ndarray, pairs: float, start: float) -> float:
    """The mixing proportion of one set of pairs by maximum likelihood: ``evidence`` are
    match weights without the prior (bits), ``counts`` how many scored pairs have each,
    ``pairs`` all the pairs, the ones never compared counting as certain non-matches.

    The likelihood is concave in the proportion, so its maximum, which is EM's fixed point
    (the proportion equals the mean match probability it implies), is found by bisection
    on the derivative's sign over log proportions in [``LOWEST``, 0.5]. EM's own iteration
    would crawl where the evidence is weak. ``start`` is what is returned without evidence.
    """
    if pairs <= 0 or counts.sum() == 0:
        return min(max(start, LOWEST), 0.5)
    excess = np.exp2(np.clip(evidence, -1000, 1000)) - 1  # likelihood ratio - 1
    never_matched = max(pairs - counts.sum(), 0.0)

    def slope(prior: float) -> float:
        return float(np.sum(counts * excess / (1 + prior * excess))) \
            - never_matched / (1 - prior)

    if slope(LOWEST) <= 0:
        return LOWEST
    if slope(0.5) >= 0:
        return 0.5
    low, high = math.log(LOWEST), math.log(0.5)
    for _ in range(ITERATIONS):
        middle = (low + high) / 2
        low, high = (middle, high) if slope(math.exp(middle)) > 0 else (low, middle)
        if high - low < TOLERANCE:
            break
    return math.exp((low + high) / 2)


def profile_pairs(sizes: dict[tuple[str, bool], int], a: str, b: str, undated: bool) -> float:
    """All profile pairs of sources ``a`` and ``b``: both dated, or (``undated``) a side
    without birth year; ``sizes`` counts profiles by (source, dated)."""
    def pairs(dated_only: bool) -> float:
        na = sizes.get((a, True), 0) + (0 if dated_only else sizes.get((a, False), 0))
        nb = sizes.get((b, True), 0) + (0 if dated_only else sizes.get((b, False), 0))
        return na * (na - 1) / 2 if a == b else na * nb
    return pairs(False) - pairs(True) if undated else pairs(True)


def source_pair_priors(con: Any, prior: float) -> pd.DataFrame:
    """Fit the prior of every pair of sources on ``scored_pairs`` (whose match weights hold
    the model's single ``prior``), rewrite the pairs' match weights and probabilities with
    it (each pair keeps its prior in bits, ``prior_bits``), and keep the priors in table
    ``source_pair_priors``."""
    shift = float(logit2(prior))
    histogram = con.sql(f"""
        SELECT least(l.source, r.source) AS source_a, greatest(l.source, r.source) AS source_b,
               {UNDATED} AS undated,
               round(s.match_weight - {shift!r}, 2) AS evidence, count(*) AS n
        FROM scored_pairs AS s
        JOIN profiles AS l ON l.unique_id = s.unique_id_l
        JOIN profiles AS r ON r.unique_id = s.unique_id_r
        GROUP BY ALL ORDER BY ALL""").df()  # a fixed order: the same sums to the last bit
    sizes = {(source, dated): n for source, dated, n in con.sql(
        "SELECT source, birth_year_any IS NOT NULL, count(*) FROM profiles GROUP BY ALL"
    ).fetchall()}
    rows = []
    for (a, b, undated), group in histogram.groupby(["source_a", "source_b", "undated"],
                                                    sort=True):
        pairs = profile_pairs(sizes, a, b, bool(undated))
        fitted = fit_prior(group["evidence"].to_numpy(float), group["n"].to_numpy(float),
                           pairs, prior)
        rows.append({"source_a": a, "source_b": b, "undated": bool(undated),
                     "profile_pairs": pairs,
                     "expected_matches": fitted * pairs, "prior": fitted,
                     "prior_bits": float(logit2(fitted))})
    priors = pd.DataFrame(rows, columns=["source_a", "source_b", "undated", "profile_pairs",
                                         "expected_matches", "prior", "prior_bits"])
    con.register("source_pair_priors_df", priors)
    create_table(con, "source priors", "source_pair_priors",
                 "SELECT * FROM source_pair_priors_df")
    con.unregister("source_pair_priors_df")
    create_table(con, "source priors", "scored_pairs_prior", f"""
        SELECT s.* REPLACE (s.match_weight - {shift!r} + p.prior_bits AS match_weight,
                            1 / (1 + pow(2, -greatest(s.match_weight - {shift!r}
                                                       + p.prior_bits, -1000)))
                                AS match_probability),
               p.prior_bits
        FROM scored_pairs AS s
        JOIN profiles AS l ON l.unique_id = s.unique_id_l
        JOIN profiles AS r ON r.unique_id = s.unique_id_r
        JOIN source_pair_priors AS p
          ON p.source_a = least(l.source, r.source) AND p.source_b = greatest(l.source, r.source)
         AND p.undated = {UNDATED}
        ORDER BY s.unique_id_l, s.unique_id_r""")
    run_stage(con, "source priors", "DROP TABLE scored_pairs")
    run_stage(con, "source priors", "ALTER TABLE scored_pairs_prior RENAME TO scored_pairs")
    for row in rows:
        log.info("linkage: prior %s x %s%s: %.3g (%.0f expected matches)", row["source_a"],
                 row["source_b"], " (a side undated)" if row["undated"] else "", row["prior"],
                 row["expected_matches"])
    return priors


PSEUDO_MATCHES = 10.0  # weight of the record-level m in a person-level m (in matches)


def person_level_m(evidence: np.ndarray, kind: np.ndarray, levels: dict[str, np.ndarray],
                   record_m: dict[str, np.ndarray], pairs: float, start: float,
                   iterations: int = 60) -> tuple[np.ndarray, float, dict[str, np.ndarray]]:
    """The m probabilities of comparisons between *persons*, by EM over group pairs.

    Splink's m is how often one person's two *records* agree at a level. Two groups of
    records that the clustering left to be joined late, or apart, are another population:
    at 20,000 synthetic persons, two groups of one person agreed exactly on names in 66% of
    cases where two records of one person do in 74%, and by transliteration only in 23%
    where records do in 12% (a person's register records spell the name one way, the
    permits another). Here each group pair (``evidence``: its mean evidence in bits, prior
    left out; ``kind``: a class of group pair with m of its own, e.g. a profile and a group
    or two groups) is described, per comparison, by the level most of its scored pairs show
    (``levels[c]``: a level code, -1 where none is known); the m of every level and kind is
    the expected share of the matches showing it, u stays the record-level u (two persons
    drawn at random), and the prior is fitted with them (``fit_prior`` over ``pairs``).
    Each m is smoothed towards the record-level m (``record_m[c][code]``) with the weight
    of ``PSEUDO_MATCHES`` matches.

    Returns each group pair's correction in bits (``log2`` of person-level over record-level
    m, summed over the comparisons), the prior, and the person-level m by comparison as an
    array [kind, level code].
    """
    evidence = np.asarray(evidence, dtype=np.float64)
    kind = np.asarray(kind, dtype=np.int64)
    kinds = int(kind.max()) + 1 if len(kind) else 1
    ones = np.ones_like(evidence)
    prior = fit_prior(evidence, ones, pairs, start)
    correction = np.zeros_like(evidence)
    person_m = {c: np.tile(np.asarray(m, dtype=np.float64), (kinds, 1))
                for c, m in record_m.items()}
    for _ in range(iterations):
        match = 1 / (1 + np.exp2(-np.clip(evidence + correction + logit2(prior), -1000, 1000)))
        updated = np.zeros_like(evidence)
        for c, code in levels.items():
            m = np.asarray(record_m[c], dtype=np.float64)
            known = code >= 0
            for k in range(kinds):
                chosen = known & (kind == k)
                share = np.bincount(code[chosen], weights=match[chosen], minlength=len(m))
                person_m[c][k] = (share + PSEUDO_MATCHES * m) / (share.sum() + PSEUDO_MATCHES)
                updated[chosen] += np.log2(person_m[c][k][code[chosen]] / m[code[chosen]])
        converged = np.max(np.abs(updated - correction), initial=0.0) < 1e-6
        correction = updated
        prior = fit_prior(evidence + correction, ones, pairs, prior)
        if converged:
            break
    return correction, prior, person_m
