"""The Splink model on the profiles: blocking keys, training without labels, scoring the
blocked pairs chunk by chunk (``linkage.link`` runs it; ``linkage.backend`` scores on DuckDB
or Spark)."""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splink import Linker
from splink.internals.exceptions import EMTrainingException

from linkage import model
from linkage.backend import DuckDBScorer, Scorer
from linkage.dependence import condition_on_names, non_null_levels
from linkage.priors import source_pair_priors
from schemas import sql as db
from schemas.errors import ConfigError
from schemas.progress import Progress
from schemas.sql import create_table, run_stage
from schemas.steps import Steps

if TYPE_CHECKING:
    from linkage.link import LinkageSettings

log = logging.getLogger("miglink")


UNSEEN_LEVEL_M = 0.002
CARTESIAN_LIMIT = 5000  # without any blocking rule, at most this many profiles are compared


def regularise_m(model_json: dict[str, Any], unseen_m: float = UNSEEN_LEVEL_M
                 ) -> dict[str, Any]:
    """Give levels that EM never saw a small m probability, then renormalise; keep the prior
    inside (0, 1).

    A level unseen among training pairs (a rare kind of disagreement) would otherwise keep
    Splink's default and could carry an arbitrary weight.
    """
    # a duplicate-free single source can give a prior of 0 (no deterministic matches)
    prior = model_json.get("probability_two_random_records_match") or 0.0
    model_json["probability_two_random_records_match"] = min(max(prior, 1e-9), 0.5)
    for comparison in model_json["comparisons"]:
        levels = non_null_levels(comparison)
        for level in levels:
            if not level.get("m_probability"):  # never estimated, or estimated as zero
                level["m_probability"] = unseen_m
        total = sum(level["m_probability"] for level in levels)
        for level in levels:
            level["m_probability"] /= total
    return model_json


def deduct_matches_from_u(model_json: dict[str, Any], floor: float) -> dict[str, Any]:
    """Take the matches out of u.

    Splink's random sampling counts every random pair as a non-match, but a share lambda of
    them match (``probability_two_random_records_match``), so a level's u is too high by
    about ``lambda * m``. That is nothing for most levels, but not for the levels matches
    reach and non-matches rarely do: at 20,000 persons half the random pairs sharing a birth
    date were one person, which halved the weight of an exact birth date. Here
    ``u <- (u - lambda * m) / (1 - lambda)``, at least ``floor`` (below what the sample can
    resolve), and renormalised.
    """
    prior = model_json["probability_two_random_records_match"]
    for comparison in model_json["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"]
                  if not lv.get("is_null_level") and lv.get("u_probability") is not None]
        if not levels:
            continue
        for level in levels:
            level["u_probability"] = max(
                (level["u_probability"] - prior * level["m_probability"]) / (1 - prior), floor)
        total = sum(level["u_probability"] for level in levels)
        for level in levels:
            level["u_probability"] /= total
    return model_json


def train_and_score(con: Any, settings: LinkageSettings, steps: Steps | None = None,
                    scorer: Scorer | None = None) -> tuple[str, dict[str, Any]]:
    """Fit the model on the profiles without labels (on DuckDB) and score blocked pairs
    (on ``scorer``'s backend, DuckDB by default)."""
    steps = steps or Steps(con, enabled=False)
    available = {r[0] for r in db.rows(con, "linkage model",
                                       "SELECT column_name FROM (DESCRIBE profiles)")
        if not r[0].startswith("block_")}
    non_null = {c for c in available if c != "unique_id"
                and db.value(con, "linkage model", f'SELECT count("{c}") FROM profiles') > 0}
    n_profiles = db.count(con, "linkage model", "profiles")
    blocking = model.usable_blocking(non_null) + [
        model.BlockingRule(rule, note="configured") for rule in settings.extra_blocking
        if set(rule) <= non_null]
    if not blocking and n_profiles > CARTESIAN_LIMIT:
        raise ConfigError(
            f"the linked sources share too few identifying columns to block on "
            f"({', '.join(sorted(non_null))}); {n_profiles:,} identity profiles cannot all "
            "be compared pairwise")
    if not steps.finished("linkage model"):
        block_keys(con, blocking, settings.max_block)
    training = DuckDBScorer(con)  # the model is trained on DuckDB whatever scores
    frame = training.register("profiles")

    def fit() -> dict[str, Any]:
        if settings.model_file:
            try:
                trained = json.loads(Path(settings.model_file).read_text())
            except (OSError, ValueError) as error:
                raise ConfigError(f"cannot read the model file {settings.model_file}: "
                                  f"{error}") from None
            log.info("linkage: model read from %s (not trained)",
                     Path(settings.model_file).name)
        else:
            linker = Linker(frame, model.settings(non_null, blocking, settings.duplicate_free,
                                                  settings.extra_comparisons),
                            log_level=logging.ERROR)
            with db.one_thread(con, "linkage model"):  # the same model, run after run
                trained = _train(con, linker, settings, non_null, n_profiles)
        trained["retain_intermediate_calculation_columns"] = True  # mw_* for clerical review
        return trained

    trained = steps.run("linkage model", fit)
    scorer = scorer or training
    scoring = Linker(frame if scorer is training else scorer.register("profiles"),
                     scorer.model(trained), log_level=logging.ERROR)
    register_identity_frequencies(con, scorer, scoring, trained)
    steps.run("score pairs", lambda: score_pairs(con, scoring, blocking, settings, steps,
                                                 scorer))
    for table in [r[0] for r in db.rows(con, "linkage model", "SHOW TABLES")]:
        if table.startswith("__splink__"):  # Splink's intermediate tables
            run_stage(con, "score pairs", f'DROP TABLE IF EXISTS "{table}"')
    source_pair_priors(con, trained["probability_two_random_records_match"])
    return "scored_pairs", Linker(frame, trained, log_level=logging.ERROR).misc \
        .save_model_to_json(out_path=None, overwrite=True)


def blocked_pairs_bound(con: Any, rules: list[model.BlockingRule]) -> int:
    """At most this many pairs are blocked: each rule's pairs, counted as if no other rule
    had found them."""
    if not rules:
        n = db.count(con, "score pairs", "profiles")
        return n * (n - 1) // 2
    parts = []
    for i, rule in enumerate(rules):
        lacking = rule.side_lacking
        pairs = "count(*) * (count(*) - 1) / 2" if lacking is None else \
            f'count(*) FILTER (WHERE "{lacking}" IS NULL) * count(*)'
        parts.append(f"SELECT {pairs} AS pairs FROM profiles WHERE block_{i} IS NOT NULL "
                     f"GROUP BY block_{i}")
    return int(db.value(con, "score pairs",
                        f"SELECT coalesce(sum(pairs), 0) FROM "
                          f"({' UNION ALL '.join(parts)})"))


WEIGHT_DECIMALS = 9


def probability_of_weight(weight_sql: str) -> str:
    """SQL: the probability of a match weight in bits (clamped where 2^-w would overflow)."""
    return f"1 / (1 + pow(2, -greatest({weight_sql}, -1000)))"


def score_pairs(con: Any, linker: Linker, blocking: list[model.BlockingRule],
                settings: LinkageSettings, steps: Steps, scorer: Scorer) -> int:
    """Table ``scored_pairs``: every blocked pair with its probability (the error estimates
    sum over all of them), scored in chunks of about ``pairs_per_chunk`` pairs.

    The profiles are split into k parts and each of the k x k chunks is scored and appended
    with a note of it in ``scored_chunks``, in one transaction: a stopped run resumes at the
    first chunk not noted."""
    bound = blocked_pairs_bound(con, blocking)
    parts = max(1, math.ceil(math.sqrt(bound / settings.pairs_per_chunk)))
    run_stage(con, "score pairs", "CREATE TABLE IF NOT EXISTS scored_chunks "
                                  "(left_part INTEGER, right_part INTEGER, pairs BIGINT)")
    done = {(a, b) for a, b in db.rows(con, "score pairs",
                                       "SELECT left_part, right_part FROM scored_chunks")}
    if not done:  # a fresh start (or a stop before the first chunk was noted)
        run_stage(con, "score pairs", "DROP TABLE IF EXISTS scored_pairs")
    log.info("linkage: scoring at most %d blocked pairs in %d chunk(s)", bound, parts * parts)
    # Splink numbers its own rules (``match_key``): two of them may stand for one of ours
    of_rule = "CASE CAST(match_key AS INTEGER) " + " ".join(
        f"WHEN {j} THEN {i}" for j, (i, _) in enumerate(model.prediction_rules(blocking))) \
        + " END" if blocking else "CAST(match_key AS INTEGER)"
    with Progress("score pairs", parts * parts, done=len(done)) as progress:
        for left, right in itertools.product(range(1, parts + 1), repeat=2):
            if (left, right) in done:
                continue
            chunk = linker.inference.predict_chunk(left_chunk=(left, parts),
                                                   right_chunk=(right, parts))
            relation = scorer.relation(chunk)
            # weights to 1e-9 bits and the probability computed here from them: backends
            # differ in the last bits of a double, and a tie in the order of joins would
            # then be broken differently
            weight = f"round(match_weight, {WEIGHT_DECIMALS})"
            select = f"""SELECT unique_id_l, unique_id_r, {weight} AS match_weight,
                                {probability_of_weight(weight)} AS match_probability,
                                {of_rule} AS blocking_rule,
                                round(COLUMNS('^mw_'), {WEIGHT_DECIMALS})
                         FROM {relation}"""
            exists = bool(db.value(con, "score pairs",
                                   "SELECT count(*) FROM duckdb_tables() "
                                     "WHERE table_name = 'scored_pairs'"))
            run_stage(con, "score pairs", "BEGIN TRANSACTION")
            try:
                run_stage(con, "score pairs", f"INSERT INTO scored_pairs {select}" if exists
                          else f"CREATE TABLE scored_pairs AS {select}")
                pairs = db.count(con, "score pairs", relation)
                run_stage(con, "score pairs", f"INSERT INTO scored_chunks VALUES "
                                              f"({left}, {right}, {pairs})")
                run_stage(con, "score pairs", "COMMIT")
            except BaseException:
                run_stage(con, "score pairs", "ROLLBACK")
                raise
            scorer.release(chunk)
            progress.advance(pairs=pairs)
    return db.count(con, "score pairs", "scored_pairs")


def identity_frequencies_sql(column: str) -> str:
    """SQL: each value of ``column`` in ``profiles`` with its share of the distinct
    identities (the value with a birth date, or else a birth year, or else neither)."""
    return f"""
        WITH identities AS (
            SELECT DISTINCT "{column}", coalesce(CAST(birth_date AS VARCHAR),
                                                 CAST(birth_year_any AS VARCHAR)) AS born
            FROM profiles WHERE "{column}" IS NOT NULL
        )
        SELECT "{column}", count(*) / sum(count(*)) OVER () AS "tf_{column}"
        FROM identities GROUP BY ALL"""


def register_identity_frequencies(con: Any, scorer: Scorer, linker: Linker,
                                  model_json: dict[str, Any]) -> None:
    """Term frequencies of names among distinct identities (name and birth date), not among
    profiles, for the levels adjusted by term frequency.

    A person seen in many sources has many profiles with one name, so counted over profiles
    a name borne by one such person looks as common as a name borne by several persons, and
    agreement on it weighs too little for exactly the pairs that are that person's own."""
    columns = {level["tf_adjustment_column"] for comparison in model_json["comparisons"]
               for level in comparison["comparison_levels"]
               if level.get("tf_adjustment_column")}
    for column in sorted(columns):
        table = f"identity_tf_{column}"
        create_table(con, "score pairs", table, identity_frequencies_sql(column))
        linker.table_management.register_term_frequency_lookup(scorer.register(table),
                                                               column)


PROBE_PAIRS = 2e6  # pairs Splink blocks to estimate how many an EM session has


def training_pairs_sql(columns: tuple[str, ...]) -> str:
    """SQL: the pairs of profiles agreeing on every one of ``columns`` (an EM session's)."""
    present = " AND ".join(f'"{c}" IS NOT NULL' for c in columns)
    keys = ", ".join(f'"{c}"' for c in columns)
    return (f"SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (SELECT count(*) AS n "
            f"FROM profiles WHERE {present} GROUP BY {keys})")


def em_sample(pairs: float | None, max_pairs: float) -> dict[str, Any]:
    """How an EM session samples: every pair when they are at most ``max_pairs``; else
    about ``max_pairs`` of them, Splink estimating their number from a sample of records
    that blocks about ``PROBE_PAIRS`` pairs (not from all of them)."""
    if not pairs or pairs <= max_pairs:
        return {}
    return {"max_pairs": max_pairs,
            "record_sample_proportion": min(1.0, math.sqrt(PROBE_PAIRS / pairs))}


def _train(con: Any, linker: Linker, settings: LinkageSettings, non_null: set[str],
           n_profiles: int) -> dict[str, Any]:
    """Fit the model without labels: the prior, u by random sampling, m by EM."""
    started = time.perf_counter()

    def done(what: str) -> None:
        log.info("linkage: %s (%.0f s)", what, time.perf_counter() - started)

    rules = model.usable(model.DETERMINISTIC_RULES, non_null)[:2]
    if rules:
        linker.training.estimate_probability_two_random_records_match(rules, recall=0.8)
    settings_obj = linker._settings_obj  # Splink 5 exposes no public setter for the prior
    if not 0 < settings_obj._probability_two_random_records_match < 1:
        # no deterministic matches (a duplicate-free single source): one match per profile
        settings_obj._probability_two_random_records_match = 1 / max(2, n_profiles)
    done("prior of a match estimated")
    linker.training.estimate_u_using_random_sampling(max_pairs=settings.u_max_pairs,
                                                     seed=settings.seed)
    done("u estimated by random sampling")
    for columns, rule in model.training_rules(non_null):
        pairs = db.value(con, "linkage model", training_pairs_sql(columns))
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, **em_sample(pairs, settings.em_max_pairs))
        except (EMTrainingException, ValueError) as error:
            # too few or degenerate pairs (e.g. one duplicate-free source): the other
            # sessions still train, and regularise_m fills what none could estimate
            log.warning("linkage: an EM session was skipped: %s", str(error).split(".")[0])
        done(f"EM on pairs agreeing on {' + '.join(columns)} ({int(pairs or 0):,} pairs)")
    trained = regularise_m(linker.misc.save_model_to_json(out_path=None, overwrite=True),
                           unseen_m=min(settings.unseen_level_m, 1 / max(n_profiles, 1)))
    trained = deduct_matches_from_u(trained, floor=0.5 / settings.u_max_pairs)
    return condition_on_names(con, trained, non_null, floor=0.5 / settings.u_max_pairs,
                              years_apart=settings.namesake_years_apart,
                              profiles_per_key=settings.namesake_profiles_per_key,
                              min_pairs=settings.namesake_min_pairs,
                              pseudo_pairs=settings.namesake_pseudo_pairs)


def block_keys(con: Any, rules: list[model.BlockingRule], max_block: int) -> None:
    """Add the capped key of every blocking rule to ``profiles`` (``block_0``, ...), and
    describe them in table ``blocking_rules``.

    A key shared by more than ``max_block`` profiles is set to NULL (never blocked on): such
    values carry no identifying information, and one of them could add billions of pairs.
    """
    # each key's profiles counted by a GROUP BY joined back: a window per key would sort
    # every profile once per rule
    keyed, counted, joins, keys, described = [], [], [], [], []
    for i, rule in enumerate(rules):
        columns, lacking = rule.columns, rule.side_lacking
        key = "concat_ws('|', " + ", ".join(f'CAST("{c}" AS VARCHAR)' for c in columns) + ")"
        present = " AND ".join(f'"{c}" IS NOT NULL' for c in columns)
        keyed.append(f"CASE WHEN {present} THEN {key} END AS key_{i}")
        without = "count(*)" if lacking is None else \
            f'count(*) FILTER (WHERE "{lacking}" IS NULL)'
        counted.append(f"""size_{i} AS (SELECT key_{i}, count(*) AS n, {without} AS lacking
                                   FROM keyed WHERE key_{i} IS NOT NULL GROUP BY key_{i})""")
        joins.append(f"LEFT JOIN size_{i} USING (key_{i})")
        if lacking is None:
            fits = f"size_{i}.n <= {int(max_block)}"
        else:  # pairs with a side lacking the column: capped at the same number of pairs
            fits = f"size_{i}.lacking * size_{i}.n <= {int(max_block) ** 2 // 2}"
        keys.append(f"CASE WHEN {fits} THEN key_{i} END AS block_{i}")
        if lacking is not None:  # the lacking side's key (``model.prediction_rules``)
            keys.append(f'CASE WHEN {fits} AND "{lacking}" IS NULL THEN key_{i} END '
                        f"AS block_{i}_lacking")
        described.append(f"SELECT {i} AS blocking_rule, {db.literal(rule.label)} AS rule")
    if not keys:  # too few profiles to need blocking: every pair is compared
        create_table(con, "blocking keys", "blocking_rules",
                     "SELECT 0 AS blocking_rule, 'every pair' AS rule, count(*) AS "
                     "profiles_blocked, 0 AS profiles_in_capped_blocks, count(*) AS "
                     "largest_block FROM profiles")
        return
    earlier = [r[0] for r in db.rows(con, "linkage model",
                                     "SELECT column_name FROM (DESCRIBE profiles)")
               if r[0].startswith("block_")]  # a stopped run's keys are made again
    star = f"* EXCLUDE ({', '.join(earlier)})" if earlier else "*"
    key_columns = ", ".join(f"key_{i}" for i in range(len(rules)))
    create_table(con, "blocking keys", "profiles_keyed", f"""
        WITH keyed AS (SELECT {star}, {', '.join(keyed)} FROM profiles),
        {', '.join(counted)}
        SELECT keyed.* EXCLUDE ({key_columns}), {', '.join(keys)}
        FROM keyed {' '.join(joins)}
        ORDER BY unique_id""")
    run_stage(con, "blocking keys", "DROP TABLE profiles")
    run_stage(con, "blocking keys", "ALTER TABLE profiles_keyed RENAME TO profiles")
    sizes = []
    for i, rule in enumerate(rules):
        present = " AND ".join(f'"{c}" IS NOT NULL' for c in rule.columns)
        sizes.append(f"""
            SELECT {i} AS blocking_rule,
                   count(*) FILTER (WHERE block_{i} IS NOT NULL) AS profiles_blocked,
                   count(*) FILTER (WHERE block_{i} IS NULL AND {present})
                       AS profiles_in_capped_blocks,
                   (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM profiles
                     WHERE block_{i} IS NOT NULL GROUP BY block_{i})) AS largest_block
            FROM profiles""")
    create_table(con, "blocking keys", "blocking_rules", f"""
        SELECT d.*, s.profiles_blocked, s.profiles_in_capped_blocks, s.largest_block
        FROM ({' UNION ALL '.join(described)}) AS d
        JOIN ({' UNION ALL '.join(sizes)}) AS s USING (blocking_rule)""")
