"""The Fellegi-Sunter model miglink fits with Splink: comparisons and blocking rules.

Comparisons use the standardised name forms of ``linkage.names`` (columns ``first_std``,
``first_skel``, ``last_std``, ``last_skel``, ``last_stem``) and ``birth_year_any`` (the year
of the birth date, or the recorded birth year). Levels are built from Splink's level
creators, so the SQL follows the backend's dialect.
"""

from __future__ import annotations

from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

JARO_HIGH, JARO_LOW = 0.92, 0.80


def _name_comparison(prefix: str, label: str, stem: bool) -> Any:
    levels = [
        cll.NullLevel(f"{prefix}_std"),
        cll.ExactMatchLevel(f"{prefix}_std", term_frequency_adjustments=True),
        cll.ExactMatchLevel(f"{prefix}_skel"),
    ]
    if stem:
        levels.append(cll.CustomLevel(f'"{prefix}_stem_l" = "{prefix}_stem_r"',
                                      "same surname but for the gendered ending",
                                      base_dialect_str="duckdb"))
    levels += [
        cll.JaroWinklerLevel(f"{prefix}_skel", JARO_HIGH),
        cll.JaroWinklerLevel(f"{prefix}_skel", JARO_LOW),
        cll.ElseLevel(),
    ]
    return cl.CustomComparison(levels, output_column_name=label)


def _dice(prefix: str) -> str:
    left, right = f'"{prefix}_bf_bits_l"', f'"{prefix}_bf_bits_r"'
    return (f"2.0 * bit_count({left} & {right}) / "
            f"nullif(bit_count({left}) + bit_count({right}), 0)")


def _bloom_comparison(prefix: str, label: str) -> Any:
    """Names that arrive as Bloom filters: exact filter, then Dice thresholds (in SQL)."""
    def dice_at(threshold: float) -> Any:
        return cll.CustomLevel(f"{_dice(prefix)} >= {threshold}",
                               f"Dice of {prefix} name filters >= {threshold}",
                               base_dialect_str="duckdb")

    return cl.CustomComparison(
        [cll.NullLevel(f"{prefix}_bf"),
         cll.ExactMatchLevel(f"{prefix}_bf", term_frequency_adjustments=True),
         dice_at(0.9), dice_at(0.75), dice_at(0.6), cll.ElseLevel()],
        output_column_name=label)


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
            custom('"birth_year_any_l" = "birth_year_any_r"', "same year"),
            custom('abs("birth_year_any_l" - "birth_year_any_r") <= 1', "year within 1"),
            cll.ElseLevel(),
        ],
        output_column_name="birth_date",
    )


def _exact(column: str) -> Any:
    return cl.CustomComparison(
        [cll.NullLevel(column), cll.ExactMatchLevel(column), cll.ElseLevel()],
        output_column_name=column,
    )


COMPARISONS = (
    ("person_key", lambda: _exact("person_key")),
    ("first_name", lambda: _name_comparison("first", "first_name", stem=False)),
    ("last_name", lambda: _name_comparison("last", "last_name", stem=True)),
    ("birth_date", _birth_date_comparison),
    ("first_name_bf", lambda: _bloom_comparison("first", "first_name_bf")),
    ("last_name_bf", lambda: _bloom_comparison("last", "last_name_bf")),
    ("sex", lambda: _exact("sex")),
    ("citizenship", lambda: _exact("citizenship")),
    ("country_of_birth", lambda: _exact("country_of_birth")),
)

# Rules as (columns they need, rule). Only rules whose columns hold data are used, so that a
# run on sources without person_key, or without full birth dates, still links.
PREDICTION_BLOCKING = (
    (("person_key",), block_on("person_key")),
    (("last_skel", "birth_year_any"), block_on("last_skel", "birth_year_any")),
    (("first_skel", "birth_date"), block_on("first_skel", "birth_date")),
    (("last_stem", "first_skel"), block_on("last_stem", "first_skel")),
    (("birth_date", "sex", "citizenship"), block_on("birth_date", "sex", "citizenship")),
    (("last_bf", "birth_year_any"), block_on("last_bf", "birth_year_any")),
    (("first_bf", "birth_date"), block_on("first_bf", "birth_date")),
    (("first_bf", "last_bf"), block_on("first_bf", "last_bf")),
)

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


def usable(rules: tuple, available: set[str]) -> list:
    """The rules whose columns all hold data."""
    return [rule for needs, rule in rules if set(needs) <= available]


def training_rules(available: set[str]) -> list:
    rules = usable(TRAINING_BLOCKING, available)
    if "person_key" not in available:
        rules += usable((TRAINING_FALLBACK, TRAINING_FALLBACK_ENCODED), available)[:1]
    return rules


def settings(available: set[str]) -> SettingsCreator:
    """Model settings for the identity columns actually present in the input."""
    needed = {
        "person_key": {"person_key"}, "first_name": {"first_std"}, "last_name": {"last_std"},
        "birth_date": {"birth_year_any"}, "sex": {"sex"}, "citizenship": {"citizenship"},
        "first_name_bf": {"first_bf"}, "last_name_bf": {"last_bf"},
        "country_of_birth": {"country_of_birth"},
    }
    comparisons = [make() for name, make in COMPARISONS if needed[name] <= available]
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=usable(PREDICTION_BLOCKING, available),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
        unique_id_column_name="unique_id",
    )
