"""The Fellegi-Sunter model miglink fits with Splink: comparisons and blocking rules.

Comparisons use the standardised name forms of ``linkage.names`` (columns ``first_std``,
``first_skel``, ``last_std``, ``last_skel``, ``last_stem``) and ``birth_year_any`` (the year
of the birth date, or the recorded birth year). Levels are built from Splink's level
creators, so the SQL follows the backend's dialect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

JARO_HIGH, JARO_LOW = 0.92, 0.80


def _jw(column: str, threshold: float) -> str:
    return f'jaro_winkler_similarity("{column}_l", "{column}_r") >= {threshold}'


def _name_comparison() -> Any:
    """First and last name as one comparison, so that names common *together* are weighed as
    such: term frequencies are taken on the full name (a surname and a first name that
    belong to the same community co-occur far more often than their separate frequencies
    say). Levels from strongest to weakest; each level is the first that holds."""
    def custom(sql: str, label: str) -> Any:
        return cll.CustomLevel(sql, label, base_dialect_str="duckdb")

    same = '"{p}_skel_l" = "{p}_skel_r"'.format
    return cl.CustomComparison(
        [
            custom('("first_std_l" IS NULL AND "last_std_l" IS NULL) OR '
                   '("first_std_r" IS NULL AND "last_std_r" IS NULL)', "null")
            .configure(is_null_level=True),
            cll.ExactMatchLevel("full_std", term_frequency_adjustments=True),
            cll.ExactMatchLevel("full_skel", term_frequency_adjustments=True)
            .configure(label_for_charts="same names but for transliteration"),
            custom('"first_skel_l" = "last_skel_r" AND "last_skel_l" = "first_skel_r"',
                   "first and last name swapped"),
            custom(f'{same(p="first")} AND "last_stem_l" = "last_stem_r"',
                   "same first name, surname but for the gendered ending"),
            custom(f'({same(p="first")} AND {_jw("last_skel", JARO_HIGH)}) OR '
                   f'({same(p="last")} AND {_jw("first_skel", JARO_HIGH)})',
                   "one name the same, the other one typo apart"),
            custom(f'{_jw("first_skel", JARO_LOW)} AND {_jw("last_skel", JARO_LOW)}',
                   "both names similar"),
            custom(same(p="last"), "same surname, another first name"),
            custom(same(p="first"), "same first name, another surname"),
            cll.ElseLevel(),
        ],
        output_column_name="name",
    )


def _dice(prefix: str) -> str:
    """Dice coefficient of two Bloom filters in SQL; the bits set in each filter are counted
    once per profile (``*_bf_ones``), only the intersection per pair."""
    left, right = f'"{prefix}_bf_bits_l"', f'"{prefix}_bf_bits_r"'
    ones = f'nullif("{prefix}_bf_ones_l" + "{prefix}_bf_ones_r", 0)'
    return f"2.0 * bit_count({left} & {right}) / {ones}"


def _bloom_comparison() -> Any:
    """Names that arrive as Bloom filters, as one comparison like ``_name_comparison``: both
    filters exact (term frequencies on the pair of filters), then both Dice coefficients
    above a threshold (computed in SQL on bit strings), then one name alone."""
    def custom(sql: str, label: str) -> Any:
        return cll.CustomLevel(sql, label, base_dialect_str="duckdb")

    def both_at(threshold: float) -> Any:
        return custom(f"{_dice('first')} >= {threshold} AND {_dice('last')} >= {threshold}",
                      f"Dice of both name filters >= {threshold}")

    return cl.CustomComparison(
        [
            custom('("first_bf_l" IS NULL AND "last_bf_l" IS NULL) OR '
                   '("first_bf_r" IS NULL AND "last_bf_r" IS NULL)', "null")
            .configure(is_null_level=True),
            cll.ExactMatchLevel("full_bf", term_frequency_adjustments=True),
            both_at(0.9), both_at(0.75),
            custom(f"{_dice('last')} >= 0.9", "same surname filter, another first name"),
            custom(f"{_dice('first')} >= 0.9", "same first name filter, another surname"),
            cll.ElseLevel(),
        ],
        output_column_name="name_bf",
    )


def _birth_date_comparison() -> Any:
    def custom(sql: str, label: str) -> Any:
        return cll.CustomLevel(sql, label, base_dialect_str="duckdb")

    return cl.CustomComparison(
        [
            custom('"birth_year_any_l" IS NULL OR "birth_year_any_r" IS NULL', "null")
            .configure(is_null_level=True),
            custom('"birth_date_l" = "birth_date_r"', "exact"),
            custom('month("birth_date_l") = day("birth_date_r") AND '
                   'day("birth_date_l") = month("birth_date_r") AND '
                   'year("birth_date_l") = year("birth_date_r")', "day and month swapped"),
            custom('year("birth_date_l") = year("birth_date_r") AND ('
                   'month("birth_date_l") = month("birth_date_r") OR '
                   'day("birth_date_l") = day("birth_date_r"))', "same year, month or day"),
            custom('month("birth_date_l") = month("birth_date_r") AND '
                   'day("birth_date_l") = day("birth_date_r") AND '
                   'damerau_levenshtein(CAST(year("birth_date_l") AS VARCHAR), '
                   'CAST(year("birth_date_r") AS VARCHAR)) <= 1',
                   "same day and month, year one digit apart"),
            # a side that knows only the year cannot agree more: its own level, so that
            # its weight is not the weight of full dates that disagree on month and day
            custom('("birth_date_l" IS NULL OR "birth_date_r" IS NULL) AND '
                   '"birth_year_any_l" = "birth_year_any_r"',
                   "same year, a side knowing only the year"),
            custom('"birth_year_any_l" = "birth_year_any_r"', "same year"),
            custom('abs("birth_year_any_l" - "birth_year_any_r") <= 1', "year within 1"),
            cll.ElseLevel(),
        ],
        output_column_name="birth_date",
    )


def _person_key_comparison() -> Any:
    """Keys as delivered: equal, one typo apart (a plaintext identifier keyed in by hand; an
    HMAC-encoded key never gets here, since one typo changes the whole code), or else."""
    return cl.CustomComparison(
        [cll.NullLevel("person_key"), cll.ExactMatchLevel("person_key"),
         # the edit distance only where a typo is possible: short keys of nearly one length
         # (64-character HMAC codes would cost most of the scoring time for nothing)
         cll.CustomLevel('CASE WHEN length("person_key_l") <= 24 AND '
                         'abs(length("person_key_l") - length("person_key_r")) <= 1 '
                         'THEN damerau_levenshtein("person_key_l", "person_key_r") <= 1 '
                         'ELSE FALSE END',
                         "one typo apart", base_dialect_str="duckdb"),
         cll.ElseLevel()],
        output_column_name="person_key",
    )


def _origin_comparison() -> Any:
    """Citizenship and country of birth as one comparison: among two different persons they
    agree together far more often than their separate rates multiply to (most people are
    citizens of the country they were born in), so as two comparisons they would count one
    agreement twice. Levels from strongest to weakest, with each attribute compared only
    where both sides know it."""
    def custom(sql: str, label: str) -> Any:
        return cll.CustomLevel(sql, label, base_dialect_str="duckdb")

    def agree(column: str) -> str:
        return f'"{column}_l" = "{column}_r"'

    def unknown(column: str) -> str:
        return f'("{column}_l" IS NULL OR "{column}_r" IS NULL)'

    cit, cob = "citizenship", "country_of_birth"
    return cl.CustomComparison(
        [
            custom(f"{unknown(cit)} AND {unknown(cob)}", "null").configure(is_null_level=True),
            custom(f"{agree(cit)} AND {agree(cob)}", "citizenship and country of birth agree"),
            custom(f"({agree(cit)} AND {unknown(cob)}) OR ({agree(cob)} AND {unknown(cit)})",
                   "the one known agrees"),
            custom(agree(cob), "same country of birth, another citizenship"),
            custom(agree(cit), "same citizenship, another country of birth"),
            cll.ElseLevel(),
        ],
        output_column_name="origin",
    )


def _exact(column: str) -> Any:
    return cl.CustomComparison(
        [cll.NullLevel(column), cll.ExactMatchLevel(column), cll.ElseLevel()],
        output_column_name=column,
    )


# kinds of comparison a user can ask for an extra column (``[linkage] extra_comparisons``)
EXTRA_KINDS = ("exact", "jaro_winkler", "prefix", "numeric", "date")
PREFIX_CHARACTERS = 3  # a postcode-like prefix: the first three characters agree


def extra_comparison(column: str, kind: str, term_frequency: bool = True) -> Any:
    """The comparison of an extra column the config names: ``exact`` (agree or not),
    ``jaro_winkler`` (exact, one typo apart at 0.92, similar at 0.80), ``prefix`` (exact,
    the first three characters agree), ``numeric`` (equal, within 1, within 10) or ``date``
    (equal, within 31 days, within a year). Agreement on the exact value is weighed by how
    common the value is when ``term_frequency``."""
    if kind not in EXTRA_KINDS:
        raise ValueError(f"comparison kind={kind!r} for {column!r}: need one of "
                         f"{', '.join(EXTRA_KINDS)}")

    def custom(sql: str, label: str) -> Any:
        return cll.CustomLevel(sql, label, base_dialect_str="duckdb")

    left, right = f'"{column}_l"', f'"{column}_r"'
    levels: list[Any] = [cll.NullLevel(column),
                         cll.ExactMatchLevel(column,
                                             term_frequency_adjustments=term_frequency
                                             and kind in ("exact", "jaro_winkler", "prefix"))]
    if kind == "jaro_winkler":
        levels += [custom(_jw(column, JARO_HIGH), "one typo apart"),
                   custom(_jw(column, JARO_LOW), "similar")]
    elif kind == "prefix":
        n = PREFIX_CHARACTERS
        levels.append(custom(f"substr(CAST({left} AS VARCHAR), 1, {n}) = "
                             f"substr(CAST({right} AS VARCHAR), 1, {n})",
                             f"the first {n} characters agree"))
    elif kind == "numeric":
        difference = f"abs(TRY_CAST({left} AS DOUBLE) - TRY_CAST({right} AS DOUBLE))"
        levels += [custom(f"{difference} <= 1", "within 1"),
                   custom(f"{difference} <= 10", "within 10")]
    elif kind == "date":
        days = f"abs(date_diff('day', TRY_CAST({left} AS DATE), TRY_CAST({right} AS DATE)))"
        levels += [custom(f"{days} <= 31", "within 31 days"),
                   custom(f"{days} <= 366", "within a year")]
    return cl.CustomComparison([*levels, cll.ElseLevel()], output_column_name=column)


COMPARISONS = (
    ("person_key", _person_key_comparison),
    ("name", _name_comparison),
    ("birth_date", _birth_date_comparison),
    ("name_bf", _bloom_comparison),
    ("sex", lambda: _exact("sex")),
    ("origin", _origin_comparison),
    # where a record places the person: people move, so agreement is weaker evidence
    ("locality", lambda: _exact("locality")),
)

@dataclass(frozen=True)
class BlockingRule:
    """A prediction blocking rule: profiles agreeing on ``columns`` are paired when
    ``side_lacking`` (if set) is missing on one side, and ``condition`` (SQL on ``l`` and
    ``r``, if set) holds."""

    columns: tuple[str, ...]
    side_lacking: str | None = None
    condition: str | None = None
    note: str = ""

    @property
    def label(self) -> str:
        return " + ".join(self.columns) + (f" ({self.note})" if self.note else "")


def a_side_without(column: str) -> str:
    """SQL on a pair ``l``, ``r``: one side (or both) lacks ``column``."""
    return f'(l."{column}" IS NULL OR r."{column}" IS NULL)'


UNDATED = a_side_without("birth_year_any")
WITHOUT_LOCALITY = a_side_without("locality")
# Rules on initials are for names that are both a typo apart (the model's "both names
# similar" level); pairs whose names are not both that alike reach at best the level of
# other names, which a shared birth date does not outweigh.
BOTH_NAMES_SIMILAR = (f'jaro_winkler_similarity(l."first_skel", r."first_skel") >= {JARO_LOW}'
                      f' AND jaro_winkler_similarity(l."last_skel", r."last_skel") >= {JARO_LOW}')


def one_name_dissimilar_needs_locality(other: str) -> str:
    """The condition of a rule on one name and the birth date: the other name similar, or a
    side without it, or else both records in one locality (or a side without locality).
    One name and a birth date alone do not outweigh another name that disagrees outright;
    among two persons they are common (a common surname and a birth date recur with the
    population), so such pairs are only worth scoring where the place agrees too."""
    return (f'jaro_winkler_similarity(l."{other}", r."{other}") >= {JARO_LOW}'
            f' OR l."{other}" IS NULL OR r."{other}" IS NULL'
            ' OR l."locality" = r."locality" OR l."locality" IS NULL OR r."locality" IS NULL')


# Prediction blocking rules. Only rules whose columns hold data are used, so that a run on
# sources without person_key, or without full birth dates, still links. ``linkage.link``
# turns each into a capped key column (``block_0``, ...) so that no block explodes on a
# common name or a default birth date. Every rule holds a full birth date, or is for pairs
# one side of which lacks it, so that a block holds about one person's profiles at any
# population size; rules on a name and a birth year alone, or on names alone, grow with the
# population and are kept for the pairs that have nothing better. A profile without birth
# year is paired on its names within its locality (its commonest one); on names alone only
# where a side has no locality either.
PREDICTION_BLOCKING: tuple[BlockingRule, ...] = (
    BlockingRule(("person_key",)),
    BlockingRule(("first_skel", "birth_date_any_order"),
                 condition=one_name_dissimilar_needs_locality("last_skel"),
                 note="surnames similar, or one locality"),
    BlockingRule(("last_skel", "birth_date_any_order"),
                 condition=one_name_dissimilar_needs_locality("first_skel"),
                 note="first names similar, or one locality"),
    BlockingRule(("first_initial_class", "last_initial_class", "birth_date_any_order"),
                 condition=BOTH_NAMES_SIMILAR, note="both names similar"),
    BlockingRule(("last_skel", "birth_year_any", "first_initial_class"), "birth_date",
                 BOTH_NAMES_SIMILAR, "a side without birth date, both names similar"),
    BlockingRule(("first_skel", "birth_year_any", "last_initial_class"), "birth_date",
                 BOTH_NAMES_SIMILAR, "a side without birth date, both names similar"),
    BlockingRule(("last_stem", "first_skel", "locality"), "birth_year_any",
                 note="a side without birth year"),
    BlockingRule(("last_stem", "first_skel"), "birth_year_any", WITHOUT_LOCALITY,
                 "a side without birth year, a side without locality"),
    BlockingRule(("first_bf", "birth_date_any_order")),
    BlockingRule(("last_bf", "birth_date_any_order")),
    BlockingRule(("last_bf", "birth_year_any"), "birth_date", note="a side without birth date"),
    BlockingRule(("first_bf", "last_bf", "locality"), "birth_year_any",
                 note="a side without birth year"),
    BlockingRule(("first_bf", "last_bf"), "birth_year_any", WITHOUT_LOCALITY,
                 "a side without birth year, a side without locality"),
)


def _pair_conditions(rule: BlockingRule, duplicate_free: tuple[str, ...]) -> list[str]:
    """What a pair of one key must also meet: the rule's condition, and never two records of
    one duplicate-free source (they cannot be one person)."""
    parts = [f"({rule.condition})"] if rule.condition else []
    if duplicate_free:
        free = ", ".join(f"'{source}'" for source in duplicate_free)
        parts.append(f'NOT (l."source" = r."source" AND l."source" IN ({free}))')
    return parts


def blocking_sql(index: int, rule: BlockingRule, duplicate_free: tuple[str, ...] = ()) -> str:
    """The SQL of prediction blocking rule ``index`` on its capped key ``block_{index}``."""
    key = [f'l."block_{index}" = r."block_{index}"']
    lacking = [a_side_without(rule.side_lacking)] if rule.side_lacking else []
    return " AND ".join(key + lacking + _pair_conditions(rule, duplicate_free))


def prediction_rules(blocking: list[BlockingRule], duplicate_free: tuple[str, ...] = ()
                     ) -> list[tuple[int, str]]:
    """The rules Splink blocks on, as (index of the rule in ``blocking``, SQL), the same
    pairs as ``blocking_sql``'s. A rule for pairs one side of which lacks a column joins the
    lacking side's key (``block_{i}_lacking``, set only where the column is missing) to
    everyone's, once each way round: an equal-key join on ``block_{i}`` alone would compare
    every two profiles of a key to keep the few pairs with a side lacking it (and blocks of
    a name and a birth year grow with the population)."""
    out = []
    for i, rule in enumerate(blocking):
        if not rule.side_lacking:
            out.append((i, blocking_sql(i, rule, duplicate_free)))
            continue
        rest = _pair_conditions(rule, duplicate_free)
        for key in (f'l."block_{i}_lacking" = r."block_{i}"',
                    f'l."block_{i}" = r."block_{i}_lacking"'):
            out.append((i, " AND ".join([key, *rest])))
    return out


def usable_blocking(available: set[str]) -> list[BlockingRule]:
    """The prediction blocking rules whose columns all hold data (without locality, the rules
    on names alone pair every profile lacking birth year)."""
    return [rule for rule in PREDICTION_BLOCKING if set(rule.columns) <= available]


# EM sessions: pairs sharing a birth date are about half matches (names, keys, sex learn
# well); pairs sharing a person_key are nearly all matches (birth date errors learn well).
# Without keys, pairs sharing names and birth year stand in for them. A name-only session is
# avoided: namesakes outnumber duplicates there and EM converges to "same common name".
TRAINING_BLOCKING = (
    (("birth_date",), block_on("birth_date")),
    (("person_key",), block_on("person_key")),
)
TRAINING_FALLBACK = (("first_skel", "last_stem", "birth_year_any"),
                     block_on("first_skel", "last_stem", "birth_year_any"))
TRAINING_FALLBACK_ENCODED = (("first_bf", "last_bf", "birth_year_any"),
                             block_on("first_bf", "last_bf", "birth_year_any"))

DETERMINISTIC_RULES = (
    (("person_key",), block_on("person_key")),
    (("first_skel", "last_skel", "birth_date"), block_on("first_skel", "last_skel", "birth_date")),
    (("first_skel", "last_skel", "birth_year_any"),
     block_on("first_skel", "last_skel", "birth_year_any")),
    (("first_bf", "last_bf", "birth_date"), block_on("first_bf", "last_bf", "birth_date")),
)


def _with_data(rules: tuple, available: set[str]) -> list:
    """The (columns, rule) pairs whose columns all hold data."""
    return [(needs, rule) for needs, rule in rules if set(needs) <= available]


def usable(rules: tuple, available: set[str]) -> list:
    """The rules whose columns all hold data."""
    return [rule for _, rule in _with_data(rules, available)]


def training_rules(available: set[str]) -> list[tuple[tuple[str, ...], Any]]:
    """The EM sessions whose columns hold data: (the columns its pairs agree on, its
    blocking rule)."""
    rules = _with_data(TRAINING_BLOCKING, available)
    if "person_key" not in available:
        rules += _with_data((TRAINING_FALLBACK, TRAINING_FALLBACK_ENCODED), available)[:1]
    return rules


def settings(available: set[str], blocking: list[BlockingRule],
             duplicate_free: tuple[str, ...] = (),
             extra: dict[str, tuple[str, bool]] | None = None) -> SettingsCreator:
    """Model settings for the identity columns actually present in the input, and for the
    ``extra`` columns (column -> comparison kind, term frequency) that hold data; prediction
    blocks on the capped key columns ``block_0 ..`` of the ``blocking`` rules."""
    needed = {
        "person_key": {"person_key"}, "name": {"full_std"},
        "birth_date": {"birth_year_any"}, "sex": {"sex"}, "name_bf": {"full_bf"},
        "origin": {"citizenship", "country_of_birth"}, "locality": {"locality"},
    }
    # origin compares whichever of its two columns hold data (profiles have both columns)
    comparisons = [make() for name, make in COMPARISONS
                   if (needed[name] & available if name == "origin"
                       else needed[name] <= available)]
    comparisons += [extra_comparison(column, kind, tf)
                    for column, (kind, tf) in (extra or {}).items() if column in available]
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[
            {"blocking_rule": sql, "sql_dialect": "duckdb"}
            for _, sql in prediction_rules(blocking, duplicate_free)],
        retain_intermediate_calculation_columns=True,  # per-comparison weights (mw_*)
        retain_matching_columns=False,
        unique_id_column_name="unique_id",
    )
