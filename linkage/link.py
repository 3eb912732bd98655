"""Link every source into persons: identity profiles, a Splink model, clusters. This module
holds the stage's settings and runs its steps, each of which lives with its concept:

1. identity records, standard names and identity profiles (``linkage.profiles``): a person's
   forty tax records become one profile, and linkage scores profiles, not records;
2. the Splink model on the profiles, trained without labels (the prior from deterministic
   rules, u by random sampling, m by EM on two blocking rules), and the blocked pairs scored
   chunk by chunk (``linkage.scoring``);
3. clusters: links at ``threshold`` joined from the most probable down, never two records of a
   duplicate-free source in one person (``linkage.cluster``), then the person tables and the
   evidence between persons (``linkage.persons``).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linkage import dependence, model
from linkage.backend import Scorer
from linkage.persons import cluster_profiles, person_evidence, person_tables
from linkage.profiles import IDENTITY, build_profiles, identity_records_sql, standardise_names
from linkage.scoring import UNSEEN_LEVEL_M, train_and_score
from schemas import sql as db
from schemas.contract import SOURCES
from schemas.errors import ConfigError
from schemas.steps import Steps

log = logging.getLogger("miglink")

_EXTRA_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# columns of identity records and profiles an extra column may not be named after
_TAKEN = frozenset({*IDENTITY, "source", "record_id", "unique_id", "first_std", "first_skel",
                    "last_std", "last_skel", "last_stem", "full_std", "full_skel", "full_bf",
                    "first_bf", "last_bf", "first_bf_bits", "last_bf_bits", "first_bf_ones",
                    "last_bf_ones", "birth_year_any", "birth_date_any_order",
                    "first_initial_class", "last_initial_class", "representative",
                    "n_records", "own_record", "first_record_id",
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
    # u of sex, origin and locality among namesakes (``linkage.dependence``): pairs of
    # profiles sharing a name key and born this many years apart at least (two persons for
    # sure), at most this many profiles sampled per key, a stratum with fewer pairs keeps
    # the unconditional u, which also weighs as this many pairs in every stratum's
    namesake_years_apart: int = dependence.MIN_YEARS_APART
    namesake_profiles_per_key: int = dependence.PROFILES_PER_KEY
    namesake_min_pairs: int = dependence.MIN_PAIRS
    namesake_pseudo_pairs: float = dependence.PSEUDO_PAIRS
    # m of a comparison level no EM session could estimate (at most 1 / profiles)
    unseen_level_m: float = UNSEEN_LEVEL_M

    def __post_init__(self) -> None:
        if not isinstance(self.extra_comparisons, dict):
            raise ConfigError("extra_comparisons must be a table of column = kind, got "
                              f"extra_comparisons={self.extra_comparisons!r}")
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
        for name in ("namesake_years_apart", "namesake_profiles_per_key", "namesake_min_pairs"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)!r}: need a whole number of at "
                                  "least 1")
        if not self.namesake_pseudo_pairs >= 0:
            raise ConfigError(f"namesake_pseudo_pairs={self.namesake_pseudo_pairs!r}: need a "
                              "number of at least 0")
        if not 0 < self.unseen_level_m < 1:
            raise ConfigError(f"unseen_level_m={self.unseen_level_m!r}: need a probability "
                              "in (0, 1)")
        if not 0 <= self.score_floor < self.threshold:
            raise ConfigError(f"score_floor={self.score_floor!r}: need 0 <= score_floor < "
                              f"threshold ({self.threshold!r})")
        for name in ("u_max_pairs", "em_max_pairs", "pairs_per_chunk"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}={getattr(self, name)!r}: need a number above 0")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed={self.seed!r}: need a whole number of at least 0")
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
