"""The quality figures of METHOD.md §4, computed from the run's tables: ``quality.json``.

Nothing here prints or stores a name, a birth date or a key: only counts and rates.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from schemas import sql as db
from schemas.sql import from_day_number

# the kind of a join in ``person_joins`` (alias j): a profile taken into a group, or two
# groups of profiles (each already two or more) made one
JOIN_KIND_SQL = ("CASE WHEN j.smaller_group_profiles = 1 THEN 'profile into a group' "
                 "ELSE 'two groups' END")


def _rows(con: Any, sql: str) -> list[dict[str, Any]]:
    frame = db.frame(con, "quality", sql)
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else
             v.isoformat() if isinstance(v, dt.date) else
             v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _one(con: Any, sql: str) -> Any:
    value = db.value(con, "quality", sql)
    return value.item() if hasattr(value, "item") else value


def source_sizes(con: Any, typed: dict[str, str]) -> dict[str, int]:
    return {s: int(_one(con, f"SELECT count(*) FROM {t}")) for s, t in typed.items()}


def input_findings(con: Any) -> list[dict[str, Any]]:
    """The impossible records validation kept (``schemas.validation.check_logic``), counted
    by file and check; no values."""
    if not db.value(con, "quality", "SELECT count(*) FROM duckdb_tables() "
                                    "WHERE table_name = 'input_findings'"):
        return []
    return _rows(con, "SELECT file, column_name AS column, problem, records, first_row "
                      "FROM input_findings ORDER BY file, column_name, problem")


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
    between two groups are matches or none is (``linkage.link.person_evidence``). False:
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
    # the same in persons (``linkage.link.person_evidence``): joins of two groups of records
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


def presence_model(con: Any, model: Any) -> dict[str, Any]:
    """What the presence model estimated from the data (``presence_model.describe``), and
    whom it could not place."""
    from pipelines import presence_model as pm
    return {
        **pm.describe(model),
        "persons_with_too_little_evidence": _one(
            con, "SELECT count(*) FROM persons WHERE person_id NOT IN "
                 "(SELECT person_id FROM observed)"),
        "persons_in_doubt": _one(
            con, "SELECT count(DISTINCT person_idx) FROM presence_paths_sampled"),
        "stays": _one(con, "SELECT count(*) FROM presence"),
    }


def model_error(con: Any) -> list[dict[str, Any]]:
    """The presence model's own error, as the persons read again without their crossings
    show it (``pipelines.uncertainty.build_model_error``)."""
    return _rows(con, """SELECT rule, event_type,
                                CASE person_group WHEN 0 THEN 'citizens'
                                     WHEN 1 THEN 'foreigners' ELSE 'all' END AS persons, held_out_persons, events_with,
                                events_pinned, events_without, round(shift, 3) AS shift,
                                round(variance_per_event, 3) AS variance_per_event
                         FROM model_error ORDER BY ALL""")


def flow_intervals(con: Any) -> list[dict[str, Any]]:
    """Per rule, year and event type: the expected count and its 90% interval, from the
    presence model's paths and its own error (``pipelines.uncertainty``)."""
    return _rows(con, """SELECT rule, year, event_type, round(expected, 1) AS expected,
                                round(low, 1) AS low, round(high, 1) AS high
                         FROM flow_intervals ORDER BY ALL""")


AGE_BANDS_5 = "CASE WHEN {age} >= 85 THEN '85+' ELSE lpad(CAST(({age}) // 5 * 5 AS VARCHAR), 2, '0') || '-' || lpad(CAST(({age}) // 5 * 5 + 4 AS VARCHAR), 2, '0') END"  # noqa: E501
LAG_BANDS = ((0, 30, "under 1 month"), (30, 91, "1-3 months"), (91, 182, "3-6 months"),
             (182, 365, "6-12 months"), (365, 730, "1-2 years"), (730, None, "2 years or more"))


def register_coverage(con: Any, typed: dict[str, str], as_of: int, country: str
                      ) -> dict[str, Any] | None:
    """Over-coverage at the as-of date (in all and by citizenship group and age group),
    the population pyramid of usual residents against the register, and deregistration lag
    (median, 90th percentile and its distribution) (METHOD.md §4)."""
    if "population_register" not in typed:
        return None
    reg = typed["population_register"]
    as_of_date = from_day_number(as_of).isoformat()
    year = int(as_of_date[:4])
    registered = f"""
        SELECT DISTINCT pr.person_id FROM {reg} AS r
        JOIN person_records AS pr ON pr.source = 'population_register'
         AND pr.record_id = r.record_id
        WHERE r.registration_date <= DATE '{as_of_date}'
          AND (r.deregistration_date IS NULL OR r.deregistration_date > DATE '{as_of_date}')"""
    present = "SELECT DISTINCT person_id FROM presence WHERE departure IS NULL"
    n_registered = _one(con, f"SELECT count(*) FROM ({registered})")
    over = _one(con, f"SELECT count(*) FROM ({registered}) AS r "
                     f"WHERE r.person_id NOT IN ({present})")
    unregistered = _one(con, f"SELECT count(*) FROM ({present}) AS p "
                             f"WHERE p.person_id NOT IN ({registered})")
    age = f"{year} - p.birth_year"
    by_group = _rows(con, f"""
        SELECT CASE WHEN p.citizenship IS NULL THEN 'unknown'
                    WHEN p.citizenship = '{country}' THEN 'citizen' ELSE 'foreigner' END
                   AS citizenship_group,
               CASE WHEN p.birth_year IS NULL THEN 'unknown' WHEN {age} < 18 THEN '0-17'
                    WHEN {age} < 40 THEN '18-39' WHEN {age} < 65 THEN '40-64'
                    ELSE '65+' END AS age_group,
               count(*) AS registered,
               count(*) FILTER (WHERE r.person_id NOT IN ({present})) AS over_covered,
               count(*) FILTER (WHERE r.person_id NOT IN ({present})) / count(*)
                   AS over_coverage_rate
        FROM ({registered}) AS r JOIN persons AS p USING (person_id)
        GROUP BY ALL ORDER BY ALL""")
    band = AGE_BANDS_5.format(age=age)
    pyramid = _rows(con, f"""
        WITH residents AS (
            SELECT DISTINCT person_id FROM residence_spells_days
            WHERE rule = 'continuous_12' AND spell_start <= {as_of}
              AND (spell_end IS NULL OR spell_end > {as_of})),
        persons_in AS (
            SELECT p.person_id, coalesce(p.sex, 'unknown') AS sex, {band} AS age_group,
                   p.person_id IN (SELECT person_id FROM residents) AS resident,
                   p.person_id IN ({registered}) AS registered
            FROM persons AS p WHERE p.birth_year IS NOT NULL)
        SELECT sex, age_group, count(*) FILTER (WHERE resident) AS usual_residents,
               count(*) FILTER (WHERE registered) AS registered
        FROM persons_in WHERE resident OR registered GROUP BY ALL ORDER BY ALL""")
    lags = f"""
        WITH dereg AS (
            SELECT pr.person_id,
                   date_diff('day', DATE '1970-01-01', r.deregistration_date) AS day
            FROM {reg} AS r JOIN person_records AS pr
              ON pr.source = 'population_register' AND pr.record_id = r.record_id
            WHERE r.deregistration_reason = 'emigration'
        )
        SELECT d.day - max(e.day) AS lag FROM dereg AS d
        JOIN evidence_point AS e ON e.person_id = d.person_id AND e.day < d.day
         AND e.source NOT LIKE 'population_register%'
         AND e.source <> 'estimated_arrival'
        GROUP BY d.person_id, d.day"""
    lag = _rows(con, f"""SELECT count(*) AS deregistrations, median(lag) AS median_days,
                                quantile_cont(lag, 0.9) AS p90_days FROM ({lags})""")[0]
    bands = " ".join(f"WHEN lag < {hi} THEN '{label}'" for lo, hi, label in LAG_BANDS if hi)
    counts = {r["band"]: r["deregistrations"] for r in _rows(con, f"""
        SELECT CASE {bands} ELSE '{LAG_BANDS[-1][2]}' END AS band, count(*) AS deregistrations
        FROM ({lags}) GROUP BY ALL""")}
    return {
        "as_of": as_of_date,
        "registered_residents": n_registered,
        "over_coverage": over,
        "over_coverage_rate": over / n_registered if n_registered else None,
        "unregistered_residents": unregistered,
        "deregistration_lag": lag,
        "deregistration_lag_distribution": [
            {"lag": label, "deregistrations": counts.get(label, 0)}
            for _lo, _hi, label in LAG_BANDS],
        "over_coverage_by_group": by_group,
        "pyramid": pyramid,
    }


def weak_evidence(con: Any, below: float) -> list[dict[str, Any]]:
    """Per rule: the confirmed events whose probability on the presence model's paths is
    below ``below`` (the evidence could as well be read without them)."""
    return _rows(con, f"""
        SELECT e.rule, count(*) AS events,
               count(*) FILTER (WHERE coalesce(u.probability, 1) < {float(below)!r})
                   AS weak_events,
               count(*) FILTER (WHERE coalesce(u.probability, 1) < {float(below)!r})
                   / count(*) AS weak_share
        FROM events_days AS e LEFT JOIN event_uncertainty AS u
          USING (person_id, rule, event_type, event_day)
        WHERE e.status = 'confirmed' GROUP BY ALL ORDER BY ALL""")


def naive_register_flows(con: Any, typed: dict[str, str]) -> list[dict[str, Any]]:
    """What offices publish today: registrations from abroad, deregistrations to abroad."""
    if "population_register" not in typed:
        return []
    reg = typed["population_register"]
    return _rows(con, f"""
        SELECT year, event_type, count(*) AS count FROM (
            SELECT year(registration_date) AS year, 'immigration' AS event_type
            FROM {reg} WHERE previous_residence_country IS NOT NULL
            UNION ALL
            SELECT year(deregistration_date), 'emigration' FROM {reg}
            WHERE deregistration_reason = 'emigration'
        ) GROUP BY ALL ORDER BY ALL""")


def event_country_coverage(con: Any) -> list[dict[str, Any]]:
    """Share of confirmed events whose previous or next country of residence is known."""
    return _rows(con, """
        SELECT rule, event_type, count(*) AS events,
               avg(CASE WHEN country IS NULL THEN 0.0 ELSE 1.0 END) AS country_known
        FROM migration_events WHERE status = 'confirmed' GROUP BY ALL ORDER BY ALL""")


def events_by_year(con: Any) -> list[dict[str, Any]]:
    return _rows(con, """
        SELECT rule, year(event_date) AS year, event_type, status, count(*) AS count,
               round(sum(expected_weight), 1) AS expected
        FROM migration_events GROUP BY ALL ORDER BY ALL""")


def initial_status(con: Any, window_start: int) -> dict[str, Any]:
    """Status at the window start: residents per rule (from the whole history before it), and
    persons first seen inside the window, whose status there is the default, not evidence."""
    residents = _rows(con, f"""
        SELECT rule, count(DISTINCT person_id) AS residents_at_window_start
        FROM residence_spells_days
        WHERE spell_start <= {window_start}
          AND (spell_end IS NULL OR spell_end > {window_start})
        GROUP BY rule ORDER BY rule""")
    first_seen = _rows(con, """
        SELECT count(*) AS persons_first_seen_in_window,
               count(*) FILTER (WHERE i.person_id IN (SELECT person_id FROM events_days))
                   AS of_whom_with_events,
               count(*) FILTER (WHERE o.resident_at_start) AS of_whom_born_in_the_country
        FROM initial_status AS i JOIN observed AS o USING (person_id)
        WHERE i.first_seen_in_window""")[0]
    return {"residents_at_window_start": residents, **first_seen}


def nowcast_summary(con: Any, as_of: int, tw: int) -> list[dict[str, Any]]:
    """Events dated in the last ``tw`` days (not all decidable yet): confirmed, provisional,
    the sum of the provisional ones' probabilities, and the expected count (which also
    counts the events not yet visible, ``pipelines.nowcast``)."""
    return _rows(con, f"""
        SELECT rule, event_type,
               count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
               count(*) FILTER (WHERE status = 'provisional') AS provisional,
               round(sum(confirmation_probability) FILTER (WHERE status = 'provisional'), 1)
                   AS provisional_expected_to_confirm,
               round(sum(expected_weight), 1) AS expected
        FROM migration_events
        WHERE date_diff('day', DATE '1970-01-01', event_date) > {as_of - tw}
        GROUP BY ALL ORDER BY ALL""")


def dual_system_estimate(con: Any, typed: dict[str, str], census_day: str | None
                         ) -> dict[str, Any] | None:
    """Chapman estimate of the population on census day from register x census."""
    if census_day is None or "population_register" not in typed or "census" not in typed:
        return None
    reg = typed["population_register"]
    n1 = f"""SELECT DISTINCT pr.person_id FROM {reg} AS r JOIN person_records AS pr
             ON pr.source = 'population_register' AND pr.record_id = r.record_id
             WHERE r.registration_date <= DATE '{census_day}'
               AND (r.deregistration_date IS NULL
                    OR r.deregistration_date > DATE '{census_day}')"""
    # out-of-scope register records (over-coverage on census day) are removed first
    in_scope = f"""SELECT person_id FROM ({n1}) WHERE person_id IN (
        SELECT person_id FROM presence WHERE arrival <= date_diff('day', DATE '1970-01-01',
        DATE '{census_day}') AND (departure IS NULL OR departure > date_diff('day',
        DATE '1970-01-01', DATE '{census_day}')))"""
    n2 = "SELECT DISTINCT person_id FROM person_records WHERE source = 'census'"
    a = _one(con, f"SELECT count(*) FROM ({in_scope})")
    b = _one(con, f"SELECT count(*) FROM ({n2})")
    m = _one(con, f"SELECT count(*) FROM ({in_scope}) WHERE person_id IN ({n2})")
    estimate = (a + 1) * (b + 1) / (m + 1) - 1
    variance = (a + 1) * (b + 1) * (a - m) * (b - m) / ((m + 1) ** 2 * (m + 2))
    se = math.sqrt(variance)
    return {"census_date": census_day, "register_in_scope": a, "census": b, "both": m,
            "chapman_estimate": estimate, "standard_error": se,
            "ci95": [estimate - 1.96 * se, estimate + 1.96 * se],
            "census_coverage": b / estimate if estimate else None}
