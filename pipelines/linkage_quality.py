"""The linkage's quality figures (METHOD.md §4, linkage), computed from its tables for
``quality.json``: counts, link rates, the model-based errors in persons and in pairs (with
intervals that count their lumps), the errors checked against the persons known to be two,
blocking, match-weight distributions and the model's levels. Counts and rates only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pipelines.quality import one as _one
from pipelines.quality import rows as _rows
from schemas import sql as db

# the kind of a join in ``person_joins`` (alias j): a profile taken into a group, or two
# groups of profiles (each already two or more) made one
JOIN_KIND_SQL = ("CASE WHEN j.smaller_group_profiles = 1 THEN 'profile into a group' "
                 "ELSE 'two groups' END")



def linkage_figures(con: Any, threshold: float) -> dict[str, Any]:
    """Counts, model-based error estimates (fastLink-style) and link rates per source pair."""
    t = float(threshold)
    figures = {
        "threshold_match_probability": t,
        "records": _one(con, "SELECT count(*) FROM identity_records"),
        "identity_profiles": _one(con, "SELECT count(*) FROM profiles"),
        "scored_pairs": _one(con, "SELECT count(*) FROM scored_pairs"),
        "accepted_links": _one(con, f"SELECT count(*) FROM scored_pairs "
                                    f"WHERE match_probability >= {t!r}"),
        "persons": _one(con, "SELECT count(*) FROM persons"),
    }
    figures.update(linkage_error_estimates(con))
    figures["two_persons_control"] = two_persons_control(con, t, figures)
    figures["blocking"] = blocking_analysis(con)
    # how likely two profiles of two sources are one person before they are compared
    # (``linkage.priors``): how densely one source covers the other
    figures["source_pair_priors"] = _rows(con, """
        SELECT source_a, source_b, undated AS a_side_undated, profile_pairs,
               expected_matches, prior
        FROM source_pair_priors ORDER BY ALL""")
    figures["match_weight_distribution"] = match_weight_distribution(con)
    figures["link_rates"] = _rows(con, """
        WITH person_sources AS (SELECT DISTINCT person_id, source FROM person_records),
        per_source AS (SELECT source, count(*) AS n FROM person_records GROUP BY source)
        SELECT a.source AS source, b.source AS linked_to,
               count(*) AS records_linked, any_value(n.n) AS records,
               count(*) / any_value(n.n) AS link_rate
        FROM person_records AS a
        JOIN person_sources AS b ON b.person_id = a.person_id AND b.source <> a.source
        JOIN per_source AS n ON n.source = a.source
        GROUP BY a.source, b.source ORDER BY a.source, b.source""")
    figures["link_rates_by_script"] = _rows(con, """
        WITH identity_person AS (  -- identities (each of n_records records) and their person
            SELECT i.source, i.cyrillic_script, i.first_name, i.last_name, i.n_records,
                   cp.person_id
            FROM identity_std AS i JOIN profile_cluster AS pc USING (unique_id)
            JOIN cluster_person AS cp USING (cluster)),
        person_sources AS (SELECT person_id, count(DISTINCT source) AS k
                           FROM identity_person GROUP BY person_id)
        SELECT i.source, CASE WHEN i.cyrillic_script THEN 'cyrillic' ELSE 'latin' END AS script,
               sum(i.n_records) AS records,
               sum(i.n_records * CASE WHEN ps.k > 1 THEN 1.0 ELSE 0.0 END) / sum(i.n_records)
                   AS linked_to_another_source
        FROM identity_person AS i
        JOIN person_sources AS ps ON ps.person_id = i.person_id
        WHERE i.first_name IS NOT NULL OR i.last_name IS NOT NULL
        GROUP BY ALL ORDER BY ALL""")
    return figures


WEIGHT_BIN = 2.0  # bits per bar of the match-weight distributions
WEIGHT_RANGE = (-20.0, 40.0)  # weights beyond are counted in the first or last bar


def match_weight_distribution(con: Any) -> list[dict[str, Any]]:
    """Scored pairs per source pair and bar of match weight (``WEIGHT_BIN`` bits each):
    a well-separated model shows two humps, non-matches low and matches high."""
    low, high = WEIGHT_RANGE
    return _rows(con, f"""
        SELECT least(a.source, b.source) || ' x ' || greatest(a.source, b.source)
                   AS source_pair,
               {WEIGHT_BIN!r} * floor(greatest({low!r}, least({high - WEIGHT_BIN!r},
                   s.match_weight)) / {WEIGHT_BIN!r}) AS weight_from,
               count(*) AS pairs
        FROM scored_pairs AS s
        JOIN profiles AS a ON a.unique_id = s.unique_id_l
        JOIN profiles AS b ON b.unique_id = s.unique_id_r
        GROUP BY ALL ORDER BY ALL""")


def comparison_levels(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The trained model's levels: m, u and the weight ``log2(m / u)`` each adds (levels
    without both, the null levels, are left out)."""
    rows = []
    for comparison in model.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            m, u = level.get("m_probability"), level.get("u_probability")
            if m is None or u is None or level.get("is_null_level"):
                continue
            rows.append({"comparison": comparison.get("output_column_name"),
                         "level": level.get("label_for_charts"), "m": m, "u": u,
                         "match_weight": math.log2(m / u) if m > 0 and u > 0 else None})
    return rows


ERROR_SQL = """
    count(*) AS scored_pairs,
    count(*) FILTER (WHERE decision = 'link') AS links,
    coalesce(sum(1 - person_match_probability) FILTER (WHERE decision = 'link'), 0)
        AS expected_false_matches,
    coalesce(sum(person_match_probability) FILTER (WHERE decision = 'apart'
                                                 AND NOT known_two_persons), 0)
        AS expected_missed_matches
"""


def linkage_error_estimates(con: Any) -> dict[str, Any]:
    """Expected false and missed matches from the match probabilities (METHOD.md §4, the
    way fastLink reports FDR and FNR), overall and per source pair.

    Units are scored pairs of identity profiles, each with p its ``person_match_probability``:
    the probability that its two groups of records are one person, since all the pairs
    between two groups are matches or none is (``linkage.persons.person_evidence``). False:
    ``sum(1 - p)`` over the links the clustering kept (p the probability that the join
    uniting the link's two groups was right). Missed: ``sum(p)`` over scored pairs left in
    different persons, except pairs known to be two persons (two records of one
    duplicate-free source). Each pair's own match probability would misjudge both: a
    namesake's many sub-threshold pairs are not independent chances (+55% missed matches at
    100,000 persons), and the pairs of persons with many records are underconfident (+330%
    false matches at 20,000 persons). Pairs joined only through other links are neither.
    Pairs no blocking rule generated are not seen (see ``blocking``).

    In persons: ``expected_false_joins`` (of the ``joins`` the clustering made, those that
    put two people in one person) and ``expected_split_persons`` (of the
    ``person_pairs_apart`` with scored pairs between them, those that are one person);
    ``errors_by_join_kind``: the expected false joins and the false links they carry, for
    joins of a profile into a group and joins of two groups of profiles.
    """
    overall = _rows(con, f"SELECT {ERROR_SQL} FROM pair_decisions")[0]
    links = overall["links"] or 0
    overall["expected_false_discovery_rate"] = \
        overall["expected_false_matches"] / links if links else None
    expected_true = links - overall["expected_false_matches"] \
        + overall["expected_missed_matches"]
    overall["expected_false_negative_rate"] = \
        overall["expected_missed_matches"] / expected_true if expected_true > 0 else None
    # the same in persons (``linkage.persons.person_evidence``): joins of two groups of records
    # that are probably two people, and pairs of persons that are probably one
    overall.update(_rows(con, """
        SELECT (SELECT count(*) FROM person_joins) AS joins,
               (SELECT coalesce(sum(false_join_probability), 0) FROM person_joins)
                   AS expected_false_joins,
               (SELECT count(*) FROM persons_apart) AS person_pairs_apart,
               (SELECT coalesce(sum(same_person_probability), 0) FROM persons_apart)
                   AS expected_split_persons""")[0])
    # the counts are lumpy: a wrong join makes every link it carries false at once, and two
    # persons left apart hide all the pairs between them
    overall["expected_false_matches_interval"] = error_count_interval(*_group_columns(con, """
        SELECT count(*), avg(1 - person_match_probability) FROM pair_decisions
        WHERE decision = 'link' GROUP BY join_event ORDER BY join_event"""))
    overall["expected_missed_matches_interval"] = error_count_interval(*_group_columns(con, """
        SELECT scored_pairs, same_person_probability FROM persons_apart
        WHERE same_person_probability > 0 ORDER BY cluster_a, cluster_b"""))
    # by kind of join: a profile taken into a group, or two groups of profiles made one
    overall["errors_by_join_kind"] = _rows(con, f"""
        SELECT {JOIN_KIND_SQL} AS join_kind, count(*) AS joins, sum(j.false_join_probability) AS expected_false_joins,
               CAST(sum(l.links) AS BIGINT) AS links,
               sum(j.false_join_probability * l.links) AS expected_false_links
        FROM person_joins AS j
        JOIN (SELECT join_event, count(*) AS links FROM pair_decisions
              WHERE decision = 'link' GROUP BY join_event) AS l USING (join_event)
        GROUP BY ALL ORDER BY ALL""")
    overall["errors_by_source_pair"] = _rows(con, f"""
        SELECT least(source_l, source_r) AS source_a, greatest(source_l, source_r) AS source_b,
               {ERROR_SQL}
        FROM pair_decisions GROUP BY ALL ORDER BY ALL""")
    return overall


NEAR_LINK = 0.5  # a scored pair came near a link: more likely a match than not, below the threshold


def two_persons_control(con: Any, threshold: float, model: dict[str, Any],
                        level: float = 0.9) -> dict[str, Any] | None:
    """Linkage errors checked against a negative control: the persons known to be two.

    Two persons who both hold a record of one duplicate-free source (a census) cannot be
    one person (``two_persons`` in ``persons_apart``), whatever their records say. The
    clustering refuses the links between them however strong, and the model, asked without
    that knowledge (``model_same_person_probability``), still gives them some chance of
    being one. Both are errors it makes on non-matches, seen without labels, and the known
    two persons are a sample of the non-matches: of the scored pairs that came near a link
    (match probability from ``NEAR_LINK``, even odds, up to ``threshold``; between persons
    left apart) a share ``q`` joins known two persons, each other pair counted as far as
    the model thinks its two persons two (``1 - same_person_probability``). So each of
    their errors stands for ``r = (1 - q) / q`` errors among the others (target-decoy, as
    proteomics counts its false discoveries), assuming the known two persons are as prone
    to coincidences as the others. The share is taken in scored pairs, the unit the links
    are counted in, and next to the threshold, where the pairs are most like the links:
    over all pairs of persons that came anywhere near a link (strongest pair from 1%), the
    share varied with the strength of the pairs, and the false matches counted ran 50% over
    at 100,000 persons.

    ``false_matches``: the refused links (scored pairs at ``threshold`` or more between
    known two persons, two records of one duplicate-free source left out) times ``r``,
    measured rather than modelled, with an interval for the true count
    (``_false_links_interval``). ``missed_matches`` and ``split_persons``: the model's expected counts
    (``model``) less ``r`` times what it gives the known two persons (in scored pairs and
    in pairs of persons), the model's interval moved by as much. Units as the model's.
    None without scored pairs of known two persons near a link (no duplicate-free source,
    or a threshold at even odds or below).
    """
    rows = db.arrays(con, "quality",
                     f"""
        WITH apart AS (
            SELECT least(cl.cluster, cr.cluster) AS cluster_a,
                   greatest(cl.cluster, cr.cluster) AS cluster_b,
                   count(*) FILTER (WHERE d.match_probability >= {NEAR_LINK!r}
                                    AND d.match_probability < {float(threshold)!r}
                                    AND NOT d.known_two_persons) AS near,
                   count(*) FILTER (WHERE d.match_probability >= {float(threshold)!r}
                                    AND NOT d.known_two_persons) AS refused,
                   count(*) FILTER (WHERE NOT d.known_two_persons) AS comparable
            FROM pair_decisions AS d
            JOIN profile_cluster AS cl ON cl.unique_id = d.unique_id_l
            JOIN profile_cluster AS cr ON cr.unique_id = d.unique_id_r
            WHERE d.decision = 'apart'
            GROUP BY ALL
        )
        SELECT p.two_persons, p.same_person_probability,
               coalesce(p.model_same_person_probability, 0) AS model_probability,
               a.comparable, a.near, a.refused
        FROM persons_apart AS p JOIN apart AS a USING (cluster_a, cluster_b)
        ORDER BY p.cluster_a, p.cluster_b""")
    two = np.asarray(rows["two_persons"], dtype=bool)
    near = np.asarray(rows["near"], dtype=float)
    refused = np.asarray(rows["refused"], dtype=float)
    weight = near * np.where(two, 1.0,
                             1.0 - np.asarray(rows["same_person_probability"], float))
    known = float(weight[two].sum())
    if known == 0:
        return None
    share = known / float(weight.sum())
    ratio = (1 - share) / share
    lumps = refused[two & (refused > 0)]
    false = ratio * float(lumps.sum())
    phantom = np.where(two, np.asarray(rows["model_probability"], float), 0.0)
    # in the model's units: its missed matches leave out two records of one duplicate-free
    # source, which other persons never share
    phantom_pairs = float(np.sum(phantom * np.asarray(rows["comparable"], float)))
    missed_shift = ratio * phantom_pairs
    missed_interval = model.get("expected_missed_matches_interval") or [None, None]
    return {
        "scored_pairs_near_a_link": int(near.sum()),
        "known_two_persons_share": share,
        "errors_per_known_error": ratio,
        "refused_links": int(lumps.sum()),
        "person_pairs_refused": int(lumps.size),
        "false_matches": false,
        "false_matches_interval": _false_links_interval(lumps, ratio, level),
        "model_missed_matches_on_known_two_persons": phantom_pairs,
        "missed_matches": max(model["expected_missed_matches"] - missed_shift, 0.0),
        "missed_matches_interval": [None if v is None else round(max(v - missed_shift, 0.0), 1)
                                    for v in missed_interval],
        "model_split_persons_on_known_two_persons": float(phantom.sum()),
        "split_persons": max(model["expected_split_persons"] - ratio * float(phantom.sum()),
                             0.0),
    }


def _false_links_interval(lumps: np.ndarray, ratio: float, level: float, draws: int = 4000,
                          seed: int = 0) -> list[float]:
    """Central ``level`` interval of the false links kept, predicted from the refused ones.

    Refused links come in lumps (all the strong pairs between two persons) and the false
    links kept are another draw of such lumps. The rate of lumps among known two persons
    has the Jeffreys posterior ``Gamma(n + 1/2)`` (n lumps seen, none too); the kept false
    lumps are ``Poisson(ratio * rate)``, each the size of a refused lump drawn at random (1
    when none was refused). Simulated with a fixed seed.
    """
    rng = np.random.default_rng(seed)
    rate = rng.gamma(lumps.size + 0.5, 1.0, draws) * ratio
    counts = rng.poisson(rate)
    sizes = lumps if lumps.size else np.ones(1)
    totals = np.array([sizes[rng.integers(0, sizes.size, c)].sum() for c in counts])
    tail = (1 - level) / 2
    return [round(float(v), 1) for v in np.quantile(totals, [tail, 1 - tail])]


def _group_columns(con: Any, sql: str) -> tuple[np.ndarray, np.ndarray]:
    rows = db.arrays(con, "quality", sql)
    sizes, probabilities = rows.values()
    return np.asarray(sizes, dtype=np.int64), np.asarray(probabilities, dtype=float)


def error_count_interval(sizes: np.ndarray, probabilities: np.ndarray, level: float = 0.9,
                         draws: int = 4000, seed: int = 0) -> list[float]:
    """Central ``level`` interval of an error count made of groups that are wrong as a whole.

    Group j holds ``sizes[j]`` pairs that are all errors with probability
    ``probabilities[j]`` (the links a join carries, the pairs between two persons kept
    apart), independently of the other groups. The count is simulated ``draws`` times with a
    fixed seed, so the same groups in the same order give the same interval; its mean is the
    expected count.
    Likely groups (p >= 0.05, few) are drawn directly; an unlikely group is wrong in
    Binomial(draws, p) of the draws, chosen at random without repeats, so that the
    hundreds of thousands of near-certain links cost no more than their expected errors.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    p = np.clip(np.nan_to_num(np.asarray(probabilities, dtype=float)), 0.0, 1.0)
    rng = np.random.default_rng(seed)
    totals = np.zeros(draws)
    likely = np.flatnonzero(p >= 0.05)
    for chunk in np.array_split(likely, max(1, likely.size // 2000)):
        if chunk.size:
            totals += (rng.random((draws, chunk.size)) < p[chunk]) @ sizes[chunk]
    unlikely = np.flatnonzero((p > 0) & (p < 0.05))
    wanted = rng.binomial(draws, p[unlikely])
    chosen = np.zeros(0, dtype=np.int64)  # group position * draws + draw
    missing = wanted
    while missing.any():
        group = np.repeat(np.arange(unlikely.size), missing)
        chosen = np.sort(np.concatenate([chosen,
                                         group * draws + rng.integers(0, draws, group.size)]))
        chosen = chosen[np.r_[True, chosen[1:] != chosen[:-1]]]
        missing = wanted - np.bincount(chosen // draws, minlength=unlikely.size)
    totals += np.bincount(chosen % draws, weights=sizes[unlikely][chosen // draws],
                          minlength=draws)
    tail = (1 - level) / 2
    return [round(float(v), 1) for v in np.quantile(totals, [tail, 1 - tail])]


def blocking_analysis(con: Any) -> list[dict[str, Any]]:
    """Per prediction blocking rule: the pairs it adds (pairs earlier rules already made are
    not counted again), the links among them, its largest block and the profiles left out
    because their key was too common."""
    return _rows(con, """
        SELECT b.blocking_rule, b.rule, b.profiles_blocked, b.profiles_in_capped_blocks,
               b.largest_block, count(s.blocking_rule) AS pairs_added,
               count(*) FILTER (WHERE s.decision = 'link') AS links_added
        FROM blocking_rules AS b LEFT JOIN pair_decisions AS s USING (blocking_rule)
        GROUP BY ALL ORDER BY b.blocking_rule""")
