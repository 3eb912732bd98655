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
from schemas import sql as db
from schemas.sql import create_table, run_stage

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
    histogram = db.frame(con, "linkage priors",
                         f"""
        SELECT least(l.source, r.source) AS source_a, greatest(l.source, r.source) AS source_b,
               {UNDATED} AS undated,
               round(s.match_weight - {shift!r}, 2) AS evidence, count(*) AS n
        FROM scored_pairs AS s
        JOIN profiles AS l ON l.unique_id = s.unique_id_l
        JOIN profiles AS r ON r.unique_id = s.unique_id_r
        GROUP BY ALL ORDER BY ALL""")  # a fixed order: the same sums to the last bit
    sizes = {(source, dated): n for source, dated, n in db.rows(
        con, "linkage priors",
        "SELECT source, birth_year_any IS NOT NULL, count(*) FROM profiles GROUP BY ALL")}
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
