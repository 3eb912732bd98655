"""Link every source into persons: identity profiles, a Splink model, clusters.

1. **Identity records**: the identity columns of every linked source, one table.
2. **Standard names**: each distinct name is standardised once (``linkage.names``) and joined
   back, so the Python work grows with the number of distinct names, not of records.
3. **Identity profiles**: records of one source whose identity is complete (a ``person_key``,
   or both names and a full birth date) and identical after standardisation are one profile.
   A person's forty tax records become one profile; linkage then scores profiles, not
   records. Records of a duplicate-free source stay one profile each.
4. **Model**: Splink on the profiles, trained without labels: the prior from deterministic
   rules, u by random sampling, m by EM on two blocking rules.
5. **Clusters**: links at ``threshold`` joined from the most probable down, never two records
   of a duplicate-free source in one person (``linkage.cluster``); one cluster, one person.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from splink import Linker
from splink.internals.exceptions import EMTrainingException

from linkage import model
from linkage.backend import DuckDBScorer, Scorer
from linkage.cluster import ClusterResult, join_events, join_sizes, one_to_one_clusters
from linkage.dependence import condition_on_names, non_null_levels
from linkage.names import (
    has_cyrillic,
    initial_class,
    name_skeleton,
    standard_name,
    surname_stem,
)
from linkage.priors import fit_prior, logit2, source_pair_priors
from schemas import sql as db
from schemas.contract import SOURCES
from schemas.errors import ConfigError
from schemas.progress import Progress
from schemas.sql import create_table, run_stage
from schemas.steps import Steps

log = logging.getLogger("miglink")

IDENTITY = ("person_key", "first_name", "last_name", "first_name_bf", "last_name_bf",
            "birth_date", "birth_year", "sex", "citizenship", "country_of_birth", "locality")


_EXTRA_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# columns of identity records and profiles an extra column may not be named after
_TAKEN = frozenset({*IDENTITY, "source", "record_id", "unique_id", "first_std", "first_skel",
                    "last_std", "last_skel", "last_stem", "full_std", "full_skel", "full_bf",
                    "first_bf", "last_bf", "first_bf_bits", "last_bf_bits", "first_bf_ones",
                    "last_bf_ones", "birth_year_any", "birth_date_any_order",
                    "first_initial_class", "last_initial_class", "representative",
                    "n_records", "own_record", "first_record_id", "profile_key",
                    "cyrillic_script"})
# profile columns a configured blocking rule may name besides the extra columns
_BLOCKABLE = frozenset({"person_key", "first_skel", "last_skel", "last_stem", "full_skel",
                        "birth_date", "birth_year_any", "birth_date_any_order", "sex",
                        "citizenship", "country_of_birth", "locality"})


@dataclass(frozen=True)
class LinkageSettings:
    """Parameters of the linkage stage."""

    threshold: float = 0.9  # match probability at which two profiles are the same person
    score_floor: float = 0.01  # pairs scored below this are not written to ``links``
    u_max_pairs: float = 3e6
    em_max_pairs: float = 5e6
    seed: int = 42
    # sources with one record per person: two of their records are never one person
    duplicate_free: tuple[str, ...] = ("census",)
    # blocking keys shared by more profiles than this are not blocked on (a default birth
    # date, the commonest name): such a block would add max_block^2 / 2 pairs at most
    max_block: int = 250
    # blocked pairs are scored in chunks of about this many (memory, progress, resume)
    pairs_per_chunk: float = 1e8
    # a model file (from a previous run's model.json, or ``miglink review import
    # --write-model``): used as it is instead of training on this run's data
    model_file: str | None = None
    # more columns of the sources to compare: column -> kind (``linkage.model.EXTRA_KINDS``)
    # or {kind = ..., term_frequency = false}; a source without the column leaves it unknown
    extra_comparisons: dict[str, Any] = field(default_factory=dict)
    # more prediction blocking rules: each a list of columns (extra or identity) that agree
    extra_blocking: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        extra = {}
        for column, spec in dict(self.extra_comparisons).items():
            if not _EXTRA_NAME.match(column) or column in _TAKEN:
                raise ConfigError(f"extra_comparisons: {column!r} cannot be an extra column "
                                  "(need a plain lower-case name that is not an identity "
                                  "column)")
            kind, tf = (spec, True) if isinstance(spec, str) else \
                (dict(spec).get("kind"), bool(dict(spec).get("term_frequency", True)))
            if kind not in model.EXTRA_KINDS:
                raise ConfigError(f"extra_comparisons: {column} = {spec!r}: the kind must be "
                                  f"one of {', '.join(model.EXTRA_KINDS)}")
            extra[column] = (kind, tf)
        object.__setattr__(self, "extra_comparisons", extra)
        rules = tuple(tuple(rule) for rule in self.extra_blocking)
        for rule in rules:
            unknown = [c for c in rule if c not in extra and c not in _BLOCKABLE]
            if not rule or unknown:
                raise ConfigError(f"extra_blocking: {list(rule)!r} names columns that are "
                                  f"neither extra comparisons nor identity columns: {unknown}")
        object.__setattr__(self, "extra_blocking", rules)
        free = (self.duplicate_free,) if isinstance(self.duplicate_free, str) \
            else tuple(self.duplicate_free)
        unknown = [s for s in free if s not in SOURCES or not SOURCES[s].linked]
        if unknown:
            raise ConfigError(f"duplicate_free names {unknown}, not linked sources; known: "
                              f"{sorted(s for s in SOURCES if SOURCES[s].linked)}")
        object.__setattr__(self, "duplicate_free", free)
        if not 0 < self.threshold < 1:
            raise ConfigError(f"threshold={self.threshold!r}: need a probability in (0, 1)")
        if self.max_block < 2:
            raise ConfigError(f"max_block={self.max_block!r}: need at least 2")


@dataclass
class LinkageResult:
    records: int
    profiles: int
    scored_pairs: int
    links: int
    persons: int
    model_json: dict[str, Any]
    seconds: float


def identity_records_sql(typed: dict[str, str], extra: tuple[str, ...] = (),
                         columns: dict[str, set[str]] | None = None) -> str:
    """SQL: the identity columns of every linked source's records, and the ``extra``
    columns as text (unknown in a source without them; ``columns``: each source's)."""
    parts = []
    for source, table in typed.items():
        if not SOURCES[source].linked:
            continue
        held = (columns or {}).get(source, set())
        more = "".join(f', CAST("{c}" AS VARCHAR) AS "{c}"' if c in held
                       else f', CAST(NULL AS VARCHAR) AS "{c}"' for c in extra)
        parts.append(f"SELECT '{source}' AS source, record_id, {', '.join(IDENTITY)}{more} "
                     f"FROM {table}")
    return "\nUNION ALL\n".join(parts)


def standardise_names(con: Any) -> None:
    """Table ``name_forms``: every distinct name with its standard, skeleton and stem forms."""
    names = [r[0] for r in db.rows(
        con, "identity profiles",
        "SELECT DISTINCT first_name FROM identity_records WHERE first_name IS NOT NULL "
        "UNION SELECT DISTINCT last_name FROM identity_records WHERE last_name IS NOT NULL")]
    forms = pd.DataFrame({
        "name": names,
        "std": [standard_name(n) for n in names],
        "skel": [name_skeleton(n) for n in names],
        "stem": [surname_stem(n) for n in names],
        "initial": [initial_class(name_skeleton(n)) for n in names],
        "cyrillic": [has_cyrillic(n) for n in names],
    })
    con.register("name_forms_df", forms)
    create_table(con, "standardise names", "name_forms",   # typed even when empty
                 "SELECT CAST(name AS VARCHAR) AS name, CAST(std AS VARCHAR) AS std, "
                 "CAST(skel AS VARCHAR) AS skel, CAST(stem AS VARCHAR) AS stem, "
                 "CAST(initial AS VARCHAR) AS initial, "
                 "CAST(cyrillic AS BOOLEAN) AS cyrillic FROM name_forms_df")
    con.unregister("name_forms_df")


# The identity profile of a record: records of one source stating the same identity (a
# person_key, or both names with the same birth date, birth year or none of it, sex,
# citizenship and country of birth) are one profile: they carry the same evidence about
# every other record, and the model links them to one another anyway. Kept apart, one
# person's seventy identical signs of life (no birth date) made seventy joins and some 2,400
# scored pairs, counted by error estimates as seventy chances of error. Records of a
# duplicate-free source, and records without both names, stay one profile each.
#
# The work is done once per *identity* (the distinct identity columns of a source's records,
# with their locality), not per record: a person's many signs of life state few distinct
# identities. ``_OWN_PROFILE`` (on an identity record) says which records are a profile
# of their own: those keep their record_id in the identity.
_OWN_PROFILE = """
source IN ({duplicate_free}) OR (person_key IS NULL AND NOT (
    (first_name_bf IS NOT NULL OR (first_name IS NOT NULL AND first_name NOT IN (
        SELECT name FROM name_forms WHERE std IS NULL)))
    AND (last_name_bf IS NOT NULL OR (last_name IS NOT NULL AND last_name NOT IN (
        SELECT name FROM name_forms WHERE std IS NULL)))))
"""
_PROFILE_KEY = """
CASE WHEN own_record IS NOT NULL THEN 'record|' || source || '|' || own_record
     ELSE concat_ws('|', source, coalesce(person_key, ''), coalesce(first_std, first_bf, ''),
                    coalesce(last_std, last_bf, ''), coalesce(CAST(birth_date AS VARCHAR), ''),
                    coalesce(CAST(birth_year AS VARCHAR), ''), coalesce(sex, ''),
                    coalesce(citizenship, ''), coalesce(country_of_birth, '')) END
"""
# the columns an identity is made of (besides own_record and the extra columns)
_IDENTITY_OF = ("source", *IDENTITY)


def _commonest(column: str) -> str:
    """SQL (a CTE body): per profile, the value of ``column`` most of its records state;
    ties: the first."""
    return f"""
            SELECT unique_id, "{column}" FROM (
                SELECT unique_id, "{column}",
                       row_number() OVER (PARTITION BY unique_id
                                          ORDER BY sum(n_records) DESC, "{column}") AS rank
                FROM identity_std WHERE "{column}" IS NOT NULL GROUP BY unique_id, "{column}")
            WHERE rank = 1"""


def build_profiles(con: Any, duplicate_free: tuple[str, ...] = (),
                   extra: tuple[str, ...] = ()) -> int:
    """Tables ``identity_std`` (each identity with its standard forms, its number of
    records and its profile ``unique_id``), ``record_profile`` (the profile of every record)
    and ``profiles``; returns the number of profiles."""
    free = ", ".join(f"'{s}'" for s in duplicate_free if s in SOURCES) or "''"
    own = _OWN_PROFILE.format(duplicate_free=free)
    of_identity = (*_IDENTITY_OF, *extra)
    columns = ", ".join(f'"{c}"' for c in of_identity)
    create_table(con, "identity profiles", "identities", f"""
        SELECT {columns}, CASE WHEN {own} THEN record_id END AS own_record,
               count(*) AS n_records, min(record_id) AS first_record_id
        FROM identity_records GROUP BY ALL""")
    create_table(con, "standard identities", "identity_std", f"""
        WITH standard AS (
        SELECT r.*, f.std AS first_std, f.skel AS first_skel,
               l.std AS last_std, l.skel AS last_skel, l.stem AS last_stem,
               f.initial AS first_initial_class, l.initial AS last_initial_class,
               coalesce(f.cyrillic, l.cyrillic, FALSE) AS cyrillic_script,
               r.first_name_bf AS first_bf, r.last_name_bf AS last_bf,
               CAST(from_base64(r.first_name_bf) AS BIT) AS first_bf_bits,
               CAST(from_base64(r.last_name_bf) AS BIT) AS last_bf_bits,
               coalesce(year(r.birth_date), r.birth_year) AS birth_year_any,
               CASE WHEN coalesce(f.std, l.std) IS NOT NULL
                    THEN coalesce(f.std, '') || '|' || coalesce(l.std, '') END AS full_std,
               CASE WHEN coalesce(f.skel, l.skel) IS NOT NULL
                    THEN coalesce(f.skel, '') || '|' || coalesce(l.skel, '') END AS full_skel,
               CASE WHEN coalesce(r.first_name_bf, r.last_name_bf) IS NOT NULL
                    THEN coalesce(r.first_name_bf, '') || '|' || coalesce(r.last_name_bf, '')
               END AS full_bf
        FROM identities AS r
        LEFT JOIN name_forms AS f ON f.name = r.first_name
        LEFT JOIN name_forms AS l ON l.name = r.last_name)
        SELECT *, dense_rank() OVER (ORDER BY profile_key) AS unique_id
        FROM (SELECT *, {_PROFILE_KEY} AS profile_key FROM standard)""")
    run_stage(con, "identity profiles", "DROP TABLE identities")
    same = " AND ".join(f'r."{c}" IS NOT DISTINCT FROM i."{c}"' for c in of_identity)
    create_table(con, "identity profiles", "record_profile", f"""
        SELECT r.source, r.record_id, i.unique_id
        FROM (SELECT *, CASE WHEN {own} THEN record_id END AS own_record
              FROM identity_records) AS r
        JOIN identity_std AS i
          ON {same} AND r.own_record IS NOT DISTINCT FROM i.own_record""")
    commonest = ("locality", *extra)  # what a profile's records may state differently
    ctes = ", ".join(f"commonest_{n} AS ({_commonest(c)})" for n, c in enumerate(commonest))
    picked = "".join(f', any_value(c{n}."{c}") AS "{c}"' for n, c in enumerate(commonest))
    joins = " ".join(f"LEFT JOIN commonest_{n} AS c{n} USING (unique_id)"
                     for n in range(len(commonest)))
    create_table(con, "identity profiles", "profiles", f"""
        WITH {ctes}
        SELECT i.unique_id, any_value(i.source) AS source,
               any_value(i.person_key) AS person_key,
               any_value(i.first_std) AS first_std, any_value(i.first_skel) AS first_skel,
               any_value(i.last_std) AS last_std, any_value(i.last_skel) AS last_skel,
               any_value(i.last_stem) AS last_stem,
               any_value(i.full_std) AS full_std, any_value(i.full_skel) AS full_skel,
               any_value(i.full_bf) AS full_bf,
               any_value(i.first_bf) AS first_bf, any_value(i.last_bf) AS last_bf,
               any_value(i.first_bf_bits) AS first_bf_bits,
               any_value(i.last_bf_bits) AS last_bf_bits,
               bit_count(any_value(i.first_bf_bits)) AS first_bf_ones,
               bit_count(any_value(i.last_bf_bits)) AS last_bf_ones,
               any_value(i.birth_date) AS birth_date, any_value(i.birth_year_any) AS birth_year_any,
               -- day and month in either order (one source writes 05/02, another 02/05)
               any_value(CASE WHEN i.birth_date IS NOT NULL THEN
                   year(i.birth_date) * 10000
                   + least(month(i.birth_date), day(i.birth_date)) * 100
                   + greatest(month(i.birth_date), day(i.birth_date)) END)
                   AS birth_date_any_order,
               any_value(i.first_initial_class) AS first_initial_class,
               any_value(i.last_initial_class) AS last_initial_class,
               any_value(i.sex) AS sex, any_value(i.citizenship) AS citizenship,
               any_value(i.country_of_birth) AS country_of_birth{picked},
               -- the first record (by source, then record_id): a struct, so that no
               -- character of a record_id can cut it
               min({{'source': i.source, 'record_id': i.first_record_id}}) AS representative,
               sum(i.n_records) AS n_records
        FROM identity_std AS i {joins}
        GROUP BY i.unique_id""")
    return db.count(con, "identity profiles", "profiles")


IN_REGISTER = "source IN ('population_register', 'aliens_register')"
PERSON_ATTRIBUTES = (("sex", "sex"), ("birth_year_any", "birth_year"),
                     ("birth_date", "birth_date"), ("citizenship", "citizenship"),
                     ("country_of_birth", "country_of_birth"))


def person_attributes_sql(records: str, weight: str | None = None) -> str:
    """SQL: every person's attributes from ``records`` (person_id, source and the identity
    columns; a row stands for ``weight`` records, else for one): the value most of its
    records state; on ties the one a register states, then the first in order. Counted per
    value and ranked (DuckDB's ``mode(... ORDER BY ...)`` gave the same answers but took
    37 s of the 100,000-person run's linkage, this 1 s)."""
    records_counted = f"sum({weight})" if weight else "count(*)"
    ranked = ", ".join(f"""{name} AS (
        SELECT person_id, {column} AS {name} FROM (
            SELECT person_id, {column},
                   row_number() OVER (PARTITION BY person_id ORDER BY {records_counted} DESC,
                                      bool_or({IN_REGISTER}) DESC, {column}) AS rank
            FROM {records} WHERE {column} IS NOT NULL GROUP BY person_id, {column})
        WHERE rank = 1)""" for column, name in PERSON_ATTRIBUTES)
    joins = " ".join(f"LEFT JOIN {name} USING (person_id)" for _, name in PERSON_ATTRIBUTES)
    return (f"WITH ids AS (SELECT DISTINCT person_id FROM {records}), {ranked} "
            f"SELECT ids.person_id, {', '.join(name for _, name in PERSON_ATTRIBUTES)} "
            f"FROM ids {joins}")
UNSEEN_LEVEL_M = 0.002
CARTESIAN_LIMIT = 5000  # without any blocking rule, at most this many profiles are compared
MAX_ODDS_BITS = 40  # odds of two persons being one are clamped at 2^40 (p = 1 - 1e-12)


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
                                {_probability_of_weight(weight)} AS match_probability,
                                CAST(match_key AS INTEGER) AS blocking_rule,
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


def _train(con: Any, linker: Linker, settings: LinkageSettings, non_null: set[str],
           n_profiles: int) -> dict[str, Any]:
    """Fit the model without labels: the prior, u by random sampling, m by EM."""
    rules = model.usable(model.DETERMINISTIC_RULES, non_null)[:2]
    if rules:
        linker.training.estimate_probability_two_random_records_match(rules, recall=0.8)
    settings_obj = linker._settings_obj  # Splink 5 exposes no public setter for the prior
    if not 0 < settings_obj._probability_two_random_records_match < 1:
        # no deterministic matches (a duplicate-free single source): one match per profile
        settings_obj._probability_two_random_records_match = 1 / max(2, n_profiles)
    linker.training.estimate_u_using_random_sampling(max_pairs=settings.u_max_pairs,
                                                     seed=settings.seed)
    for rule in model.training_rules(non_null):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, max_pairs=settings.em_max_pairs, record_sample_proportion=1.0)
        except (EMTrainingException, ValueError) as error:
            # too few or degenerate pairs (e.g. one duplicate-free source): the other
            # sessions still train, and regularise_m fills what none could estimate
            log.warning("linkage: an EM session was skipped: %s", str(error).split(".")[0])
    trained = regularise_m(linker.misc.save_model_to_json(out_path=None, overwrite=True),
                           unseen_m=min(UNSEEN_LEVEL_M, 1 / max(n_profiles, 1)))
    trained = deduct_matches_from_u(trained, floor=0.5 / settings.u_max_pairs)
    return condition_on_names(con, trained, non_null, floor=0.5 / settings.u_max_pairs)


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


def _free_source_bit_sql(duplicate_free: tuple[str, ...]) -> str:
    """A profile's bit for its source if that source is duplicate-free (SQL on ``source``)."""
    free = [s for s in duplicate_free if s in SOURCES]
    return " + ".join(f"(CASE WHEN source = '{s}' THEN {1 << i} ELSE 0 END)"
                      for i, s in enumerate(free)) or "0"


def _probability_of_weight(weight_sql: str) -> str:
    """SQL: the probability of a match weight in bits (clamped where 2^-w would overflow)."""
    return f"1 / (1 + pow(2, -greatest({weight_sql}, -1000)))"


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
               1 - {_probability_of_weight(f"mean_evidence + {prior_bits!r}")}
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


def link_sources(con: Any, typed: dict[str, str], settings: LinkageSettings,
                 model_path: Path | None = None, steps: Steps | None = None,
                 scorer: Scorer | None = None) -> LinkageResult:
    """Run the whole linkage stage on validated source tables (resuming the steps that
    ``steps`` holds as finished); pairs are scored by ``scorer`` (DuckDB by default)."""
    started = time.perf_counter()
    steps = steps or Steps(con, enabled=False)

    def profile_step() -> dict[str, int]:
        extra = tuple(settings.extra_comparisons)
        columns = {source: {r[0] for r in db.rows(con, "identity records",
                                                  f"SELECT column_name FROM (DESCRIBE {t})")}
                   for source, t in typed.items()} if extra else {}
        db.create_view(con, "identity records", "identity_records",
                       identity_records_sql(typed, extra, columns))
        records = db.count(con, "linkage", "identity_records")
        standardise_names(con)
        return {"records": records,
                "profiles": build_profiles(con, settings.duplicate_free, extra)}

    counts = steps.run("identity profiles", profile_step)
    records, profiles = counts["records"], counts["profiles"]
    log.info("linkage: %d records in %d identity profiles", records, profiles)
    _, model_json = train_and_score(con, settings, steps, scorer)
    scored = db.count(con, "linkage", "scored_pairs")
    log.info("linkage: %d scored pairs (%.0f s)", scored, time.perf_counter() - started)

    def person_step() -> bool:
        clustered = cluster_profiles(con, settings.threshold, settings.duplicate_free)
        person_tables(con, settings)
        person_evidence(con, clustered, settings.duplicate_free)
        return True

    steps.run("persons", person_step)
    if model_path is not None:
        model_path.write_text(json.dumps(model_json, indent=1))
    links = int(db.value(con, "linkage",
                         f"SELECT count(*) FROM scored_pairs WHERE match_probability >= "
                           f"{settings.threshold!r}"))
    persons = db.count(con, "linkage", "persons")
    log.info("linkage: %d links at p >= %.2f, %d persons", links, settings.threshold, persons)
    return LinkageResult(records, profiles, scored, links, persons, model_json,
                         time.perf_counter() - started)
