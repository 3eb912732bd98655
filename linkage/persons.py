"""From scored pairs to persons: clustering the links (``linkage.cluster``), the person
tables, and the evidence between persons that the error estimates in persons read."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from linkage.cluster import ClusterResult, join_events, join_sizes, one_to_one_clusters
from linkage.priors import fit_prior, logit2
from linkage.profiles import person_attributes_sql
from linkage.scoring import probability_of_weight
from schemas import sql as db
from schemas.contract import SOURCES
from schemas.sql import create_table, run_stage

if TYPE_CHECKING:
    from linkage.link import LinkageSettings

log = logging.getLogger("miglink")

MAX_ODDS_BITS = 40  # odds of two persons being one are clamped at 2^40 (p = 1 - 1e-12)


def _free_source_bit_sql(duplicate_free: tuple[str, ...]) -> str:
    """A profile's bit for its source if that source is duplicate-free (SQL on ``source``)."""
    free = [s for s in duplicate_free if s in SOURCES]
    return " + ".join(f"(CASE WHEN source = '{s}' THEN {1 << i} ELSE 0 END)"
                      for i, s in enumerate(free)) or "0"


def cluster_profiles(con: Any, threshold: float, duplicate_free: tuple[str, ...] = ()
                     ) -> ClusterResult:
    """Table ``profile_cluster``: each profile's person, by ``linkage.cluster`` (accepted
    links in descending probability, none joining two records of a duplicate-free source)."""
    bit_sql = _free_source_bit_sql(duplicate_free)
    n_nodes = int(db.value(con, "persons",
                           "SELECT coalesce(max(unique_id), 0) + 1 FROM profiles"))
    source_bits = np.zeros(n_nodes, dtype=np.int64)
    nodes = db.arrays(con, "persons", f"SELECT unique_id, {bit_sql} AS bits FROM profiles")
    source_bits[nodes["unique_id"]] = nodes["bits"]
    links = db.arrays(con, "persons",
                      f"SELECT unique_id_l, unique_id_r, match_probability FROM scored_pairs "
                       f"WHERE match_probability >= {float(threshold)!r}")
    result = one_to_one_clusters(n_nodes, links["unique_id_l"], links["unique_id_r"],
                                 links["match_probability"], source_bits)
    clusters = pd.DataFrame({"unique_id": nodes["unique_id"],
                             "cluster": result.cluster[nodes["unique_id"]]})
    con.register("profile_cluster_df", clusters)
    create_table(con, "clusters", "profile_cluster",
                 "SELECT CAST(unique_id AS BIGINT) AS unique_id, "
                 "CAST(cluster AS BIGINT) AS cluster FROM profile_cluster_df")
    con.unregister("profile_cluster_df")
    log.info("linkage: %d links accepted, %d refused as a second record of a "
             "duplicate-free source", result.accepted - result.refused, result.refused)
    return result


def person_tables(con: Any, settings: LinkageSettings) -> None:
    """``person_records``, ``persons``, ``links`` and ``pair_decisions`` from the clusters."""
    create_table(con, "persons", "cluster_person", """
        SELECT cluster, 'P' || lpad(CAST(row_number() OVER (ORDER BY first_record) AS VARCHAR),
                                    8, '0') AS person_id
        FROM (SELECT c.cluster, min(p.representative) AS first_record
              FROM profile_cluster AS c JOIN profiles AS p USING (unique_id)
              GROUP BY c.cluster)""")
    create_table(con, "persons", "person_records", """
        SELECT cp.person_id, rp.source, rp.record_id
        FROM record_profile AS rp
        JOIN profile_cluster AS pc USING (unique_id)
        JOIN cluster_person AS cp USING (cluster)""")
    # attributes: the most frequent value among a person's records; ties broken in a fixed
    # order (DuckDB's plain mode breaks them arbitrarily: the same data gave another birth
    # date from one run to the next)
    create_table(con, "persons", "person_attribute_records", """
        SELECT cp.person_id, i.source, i.sex, i.citizenship, i.country_of_birth,
               i.birth_date, i.birth_year_any, i.n_records
        FROM identity_std AS i
        JOIN profile_cluster AS pc USING (unique_id)
        JOIN cluster_person AS cp USING (cluster)""")
    create_table(con, "persons", "persons",
                 person_attributes_sql("person_attribute_records", weight="n_records")
                 + " ORDER BY person_id")
    run_stage(con, "persons", "DROP TABLE person_attribute_records")
    create_table(con, "links", "links", f"""
        SELECT struct_extract(l.representative, 'source') AS source_l,
               struct_extract(l.representative, 'record_id') AS record_id_l,
               struct_extract(r.representative, 'source') AS source_r,
               struct_extract(r.representative, 'record_id') AS record_id_r,
               -- rounded: sums over threads differ in the last bits from run to run
               round(s.match_weight, 6) AS match_weight,
               round(s.match_probability, 9) AS match_probability
        FROM scored_pairs AS s
        JOIN profiles AS l ON l.unique_id = s.unique_id_l
        JOIN profiles AS r ON r.unique_id = s.unique_id_r
        WHERE s.match_probability >= {float(settings.score_floor)!r}
        ORDER BY source_l, record_id_l, source_r, record_id_r""")
    free = ", ".join(f"'{s}'" for s in settings.duplicate_free if s in SOURCES) or "''"
    # what became of every scored pair: a link the clustering kept, a pair joined only through
    # other links, a pair left apart; and pairs known to be two persons (two records of one
    # duplicate-free source), which error estimates leave out.
    # one_to_one_probability: a profile is at most one record of a duplicate-free source, so
    # its candidates there compete. With odds o = p / (1 - p), the pair's probability among
    # the mutually exclusive alternatives (this pair, another candidate of either side in the
    # other's duplicate-free source, none) is o / (1 + sum of the competing odds + o); pairs
    # without such competitors keep p. Error estimates use it (METHOD.md section 4).
    create_table(con, "pair decisions", "pair_decisions", f"""
        WITH decided AS (
            SELECT s.unique_id_l, s.unique_id_r, l.source AS source_l, r.source AS source_r,
                   s.match_weight, s.match_probability, s.blocking_rule, s.prior_bits,
                   CASE WHEN cl.cluster <> cr.cluster THEN 'apart'
                        WHEN s.match_probability >= {float(settings.threshold)!r} THEN 'link'
                        ELSE 'joined_through_others' END AS decision,
                   (l.source = r.source AND l.source IN ({free})) AS known_two_persons,
                   least(s.match_probability, 1 - 1e-12)
                       / (1 - least(s.match_probability, 1 - 1e-12)) AS odds
            FROM scored_pairs AS s
            JOIN profiles AS l ON l.unique_id = s.unique_id_l
            JOIN profiles AS r ON r.unique_id = s.unique_id_r
            JOIN profile_cluster AS cl ON cl.unique_id = s.unique_id_l
            JOIN profile_cluster AS cr ON cr.unique_id = s.unique_id_r
        ),
        candidates AS (
            SELECT unique_id_l AS unique_id, source_r AS other_source, odds FROM decided
            WHERE source_r IN ({free}) AND NOT known_two_persons
            UNION ALL
            SELECT unique_id_r, source_l, odds FROM decided
            WHERE source_l IN ({free}) AND NOT known_two_persons
        ),
        odds_sums AS (
            SELECT unique_id, other_source, sum(odds) AS odds_sum FROM candidates GROUP BY ALL
        ),
        competing AS (
            SELECT d.*, coalesce(a.odds_sum - d.odds, 0) + coalesce(b.odds_sum - d.odds, 0)
                            AS competing_odds
            FROM decided AS d
            LEFT JOIN odds_sums AS a
              ON a.unique_id = d.unique_id_l AND a.other_source = d.source_r
            LEFT JOIN odds_sums AS b
              ON b.unique_id = d.unique_id_r AND b.other_source = d.source_l
        )
        SELECT * EXCLUDE (odds, competing_odds),
               CASE WHEN known_two_persons THEN 0.0
                    WHEN competing_odds = 0 THEN match_probability
                    ELSE odds / (1 + competing_odds + odds) END AS one_to_one_probability,
               -- the same as a weight in bits: the match weight less the competitors' share
               CASE WHEN NOT known_two_persons
                    THEN match_weight - log2(1 + competing_odds) END AS one_to_one_weight
        FROM competing""")


def person_prior(con: Any) -> float:
    """The probability that two groups of records, drawn at random, are one person: fitted
    by EM (``linkage.priors.fit_prior``) over every join the clustering made and every two
    persons it left apart, out of all the joins and all pairs of persons, with each group
    pair's evidence fixed (``person_evidence``)."""
    joins = db.arrays(con, "persons", "SELECT mean_evidence FROM join_evidence")["mean_evidence"]
    apart = db.arrays(con, "persons", "SELECT mean_evidence FROM apart_evidence "
                                      "WHERE NOT two_persons")["mean_evidence"]
    persons = int(db.value(con, "persons",
                           "SELECT count(DISTINCT cluster) FROM profile_cluster"))
    evidence = np.concatenate([np.asarray(joins, float), np.asarray(apart, float)])
    group_pairs = len(joins) + persons * (persons - 1) / 2
    start = len(joins) / group_pairs if group_pairs else 0.5
    prior = fit_prior(evidence, np.ones_like(evidence), group_pairs, start)
    log.info("linkage: prior that two groups of records are one person %.3g", prior)
    return prior


def person_evidence(con: Any, clustered: ClusterResult, duplicate_free: tuple[str, ...],
                    prior: float | None = None) -> None:
    """What the scored pairs say about the persons, for error estimates in persons
    (METHOD.md section 4): tables ``person_joins`` and ``persons_apart``.

    A person's records are repeated measurements of one identity, not independent evidence,
    so two groups of records are weighed by the *mean* evidence of the scored pairs between
    them (their weights in bits after one-to-one competition, less the pair's prior), and
    take a prior of their own, for two groups rather than two profiles (``person_prior``):
    the probability that they are one person is ``1 / (1 + 2^-(mean + prior))``. A pair
    prior would misjudge both kinds of person: at 20,000 synthetic persons, pairs with
    probability 0.9 to 0.99 between persons with at most three profiles held 39 non-matches
    where 4.5 were expected, and those between persons with nine or more held none where 37
    were expected (the many pairs of a person with many records all share the one prior).

    ``person_joins``: every join the clustering made (two groups of records becoming one
    person), with the pairs it united, how many profiles each group held
    (``larger_group_profiles``, ``smaller_group_profiles``) and ``false_join_probability``,
    the probability that the two groups are different persons. ``persons_apart``: every two
    persons with scored pairs between them, with ``same_person_probability`` (0 when both hold
    a record of one duplicate-free source, which cannot be one person's: ``two_persons``),
    each person competing for the other with every other person it was left apart from
    (``competing_odds``: it can be at most one of them); ``model_same_person_probability``
    is the same without knowing who are two persons (a negative control,
    ``pipelines.linkage_quality.two_persons_control``). ``pair_decisions`` gains
    ``person_match_probability``: each scored pair's probability of being a match read off
    its two groups (pairs between the same two groups are all matches or all not), and
    ``join_event``: for a pair within a person, the join that united its two groups.
    ``prior`` (two groups are one person) is fitted when not given.
    """
    within = db.arrays(con, "persons",
                       """
        SELECT unique_id_l, unique_id_r, one_to_one_weight - prior_bits AS evidence
        FROM pair_decisions
        WHERE decision <> 'apart' AND NOT known_two_persons""")
    n_nodes = int(db.value(con, "persons",
                           "SELECT coalesce(max(unique_id), 0) + 1 FROM profiles"))
    events = join_events(n_nodes, clustered, within["unique_id_l"], within["unique_id_r"])
    con.register("joined_pairs_df", pd.DataFrame({
        "join_event": events, "evidence": within["evidence"]}))
    larger, smaller = join_sizes(n_nodes, clustered)
    con.register("join_sizes_df", pd.DataFrame({
        "join_event": np.arange(len(larger)), "larger_group_profiles": larger,
        "smaller_group_profiles": smaller}))
    create_table(con, "person evidence", "join_evidence", """
        SELECT CAST(e.join_event AS BIGINT) AS join_event, e.scored_pairs, e.mean_evidence,
               CAST(s.larger_group_profiles AS BIGINT) AS larger_group_profiles,
               CAST(s.smaller_group_profiles AS BIGINT) AS smaller_group_profiles
        FROM (SELECT join_event, count(*) AS scored_pairs, avg(evidence) AS mean_evidence
              FROM joined_pairs_df GROUP BY join_event) AS e
        JOIN join_sizes_df AS s USING (join_event)""")
    con.unregister("joined_pairs_df")
    con.unregister("join_sizes_df")
    create_table(con, "person evidence", "apart_evidence", f"""
        WITH free_sources AS (
            SELECT c.cluster, bit_or(p.bits) AS bits
            FROM profile_cluster AS c
            JOIN (SELECT unique_id, {_free_source_bit_sql(duplicate_free)} AS bits
                  FROM profiles) AS p USING (unique_id)
            GROUP BY c.cluster
        ),
        apart AS (
            SELECT least(cl.cluster, cr.cluster) AS cluster_a,
                   greatest(cl.cluster, cr.cluster) AS cluster_b,
                   d.one_to_one_weight - d.prior_bits AS evidence, d.known_two_persons
            FROM pair_decisions AS d
            JOIN profile_cluster AS cl ON cl.unique_id = d.unique_id_l
            JOIN profile_cluster AS cr ON cr.unique_id = d.unique_id_r
            WHERE d.decision = 'apart'
        )
        SELECT a.cluster_a, a.cluster_b, count(*) AS scored_pairs,
               avg(a.evidence) AS mean_evidence,
               bool_or(a.known_two_persons) OR any_value(fa.bits) & any_value(fb.bits) <> 0
                   AS two_persons
        FROM apart AS a
        JOIN free_sources AS fa ON fa.cluster = a.cluster_a
        JOIN free_sources AS fb ON fb.cluster = a.cluster_b
        GROUP BY a.cluster_a, a.cluster_b""")
    prior_bits = float(logit2(person_prior(con) if prior is None else prior))
    create_table(con, "person evidence", "person_joins", f"""
        SELECT join_event, scored_pairs, mean_evidence, larger_group_profiles,
               smaller_group_profiles,
               1 - {probability_of_weight(f"mean_evidence + {prior_bits!r}")}
                   AS false_join_probability
        FROM join_evidence""")
    # a person is one person: of the others it was left apart from, it can be at most one
    # (the clustering kept them apart, so they are taken to be different persons), as a
    # profile is at most one record of a duplicate-free source. With odds o = 2^(mean
    # evidence + prior), two persons are one with o / (1 + o + the odds of every other
    # person either of them might be), the one-to-one rule of pair_decisions in persons. A
    # record whose common name agrees with fifteen persons' otherwise counted fifteen
    # chances of being one of them (on four 20,000-person worlds, the 2,500 persons apart at
    # 1% to 50% held 20 splits where 149 were expected)
    create_table(con, "person evidence", "persons_apart", f"""
        WITH odds AS (
            SELECT *, CASE WHEN two_persons THEN 0.0 ELSE model_odds END AS odds
            FROM (SELECT *, pow(2, least(mean_evidence + {prior_bits!r}, {MAX_ODDS_BITS}))
                                AS model_odds
                  FROM apart_evidence)
        ),
        odds_sums AS (
            SELECT cluster, sum(odds) AS odds_sum FROM (
                SELECT cluster_a AS cluster, odds FROM odds
                UNION ALL SELECT cluster_b, odds FROM odds) GROUP BY cluster
        )
        SELECT o.cluster_a, o.cluster_b, o.scored_pairs, o.mean_evidence, o.two_persons,
               greatest(a.odds_sum - o.odds, 0) + greatest(b.odds_sum - o.odds, 0)
                   AS competing_odds,
               o.odds / (1 + o.odds + greatest(a.odds_sum - o.odds, 0)
                         + greatest(b.odds_sum - o.odds, 0)) AS same_person_probability,
               o.model_odds / (1 + o.model_odds + greatest(a.odds_sum - o.odds, 0)
                               + greatest(b.odds_sum - o.odds, 0))
                   AS model_same_person_probability
        FROM odds AS o
        JOIN odds_sums AS a ON a.cluster = o.cluster_a
        JOIN odds_sums AS b ON b.cluster = o.cluster_b""")
    for table in ("join_evidence", "apart_evidence"):
        run_stage(con, "persons", f"DROP TABLE {table}")
    # every scored pair between two groups of records shares their one truth: it takes the
    # probability that they are one person (pairs apart) or that the join uniting them was
    # right (pairs within a person), for the error estimates in pairs
    con.register("pair_join_df", pd.DataFrame({
        "unique_id_l": within["unique_id_l"], "unique_id_r": within["unique_id_r"],
        "join_event": events}))
    create_table(con, "person evidence", "pair_decisions_persons", """
        SELECT d.*, CAST(pj.join_event AS BIGINT) AS join_event,
               CASE WHEN d.known_two_persons THEN 0.0
                    WHEN d.decision = 'apart' THEN a.same_person_probability
                    ELSE 1 - j.false_join_probability END AS person_match_probability
        FROM pair_decisions AS d
        JOIN profile_cluster AS cl ON cl.unique_id = d.unique_id_l
        JOIN profile_cluster AS cr ON cr.unique_id = d.unique_id_r
        LEFT JOIN persons_apart AS a
          ON a.cluster_a = least(cl.cluster, cr.cluster)
         AND a.cluster_b = greatest(cl.cluster, cr.cluster)
        LEFT JOIN pair_join_df AS pj
          ON pj.unique_id_l = d.unique_id_l AND pj.unique_id_r = d.unique_id_r
        LEFT JOIN person_joins AS j ON j.join_event = pj.join_event""")
    con.unregister("pair_join_df")
    run_stage(con, "persons", "DROP TABLE pair_decisions")
    run_stage(con, "persons",
              "ALTER TABLE pair_decisions_persons RENAME TO pair_decisions")
