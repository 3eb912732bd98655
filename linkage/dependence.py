"""Attributes that go with names: their u given how the names agree.

Fellegi-Sunter multiplies the evidence of the comparisons as if the attributes of two
different persons agreed independently. Around names they do not: two namesakes come from one
community, so their sex (first names are gendered), their origin and often their locality
agree far more often than those of two persons drawn at random. Counted as independent, a pair
of namesakes born on one day gets several bits too many: at 100,000 synthetic persons, scored
pairs with match probability 0.999 to 0.99999 that shared a full name held 274 non-matches
where the model expected 16.

Here the comparisons of such attributes (``CONDITIONED``) are split by how the names agree
(``strata``: the same full name, else the same surname, else the same first name, else the
original levels). In each stratum a level keeps its m (a person's own records disagree by
recording error, whatever the names) and takes the u of two different persons *with names
agreeing that way*, estimated from the data: profile pairs that share the stratum's name key
and whose birth years lie at least ``MIN_YEARS_APART`` apart, which are two persons (birth
years of two persons do not depend on their names; one person's records almost never differ
by two years). Splink evaluates the split levels like any other; the labels say the stratum.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from sqlglot import exp, parse_one

from schemas import sql as db

log = logging.getLogger("miglink")

CONDITIONED = ("sex", "origin", "locality")
MIN_YEARS_APART = 2
PROFILES_PER_KEY = 40  # profiles sampled per name key: at most 780 pairs per name
MIN_PAIRS = 200  # a stratum with fewer sampled pairs keeps the unconditional u
PSEUDO_PAIRS = 10.0  # smoothing towards the unconditional u
GIVEN = ", given "


def strata(available: set[str]) -> list[tuple[str, str, str]]:
    """(label, name key column, SQL on a pair) of each stratum of name agreement, strongest
    first; on names standardised in plain text, or on their Bloom filters when that is all
    there is."""
    plain = (("the same full name", "full_skel"), ("the same surname", "last_skel"),
             ("the same first name", "first_skel"))
    encoded = (("the same full name filter", "full_bf"),
               ("the same surname filter", "last_bf"),
               ("the same first name filter", "first_bf"))
    chosen = plain if "full_std" in available else encoded if "full_bf" in available else ()
    return [(label, key, f'"{key}_l" = "{key}_r"') for label, key in chosen
            if key in available]


def base_label(label: str) -> str:
    """The label of the unconditioned level a split level was made from."""
    return label.split(GIVEN)[0]


def non_null_levels(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    """The levels of a comparison (model JSON) that carry m and u: all but the null level."""
    return [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]


def _columns(sql: str) -> set[str]:
    """The profile columns a condition on a pair reads (its ``x_l`` and ``x_r``), from the
    parsed SQL."""
    if sql.strip().upper() == "ELSE":
        return set()
    return {column.name[:-2] for column in parse_one(sql, read="duckdb").find_all(exp.Column)
            if column.name.endswith(("_l", "_r"))}


def _level_case(comparison: dict[str, Any]) -> str:
    """SQL giving the position of the pair's non-null level (NULL for the null level)."""
    whens, position, otherwise = [], 0, "NULL"
    for level in comparison["comparison_levels"]:
        outcome = "NULL" if level.get("is_null_level") else str(position)
        position += not level.get("is_null_level")
        if level["sql_condition"].upper() == "ELSE":
            otherwise = outcome
        else:
            whens.append(f"WHEN {level['sql_condition']} THEN {outcome}")
    return f"CASE {' '.join(whens)} ELSE {otherwise} END"


def namesake_u(con: Any, comparisons: list[dict[str, Any]], key: str, stratum_sql: str,
               earlier: list[str], years_apart: int = MIN_YEARS_APART,
               profiles_per_key: int = PROFILES_PER_KEY) -> tuple[int, list[list[int]]]:
    """Sampled two-person pairs of the stratum (profiles sharing the name ``key``, born
    ``years_apart`` at least apart, ``profiles_per_key`` at most sampled per key), and the
    count of them at each non-null level of each comparison."""
    columns = {"unique_id", "birth_year_any", key}.union(
        *(_columns(lv["sql_condition"]) for c in comparisons for lv in c["comparison_levels"]),
        *(_columns(sql) for sql in earlier))
    select = ", ".join(f'l."{c}" AS "{c}_l", r."{c}" AS "{c}_r"' for c in sorted(columns))
    outside_earlier = " AND ".join(f"NOT coalesce({sql}, FALSE)" for sql in earlier) or "TRUE"
    cases = ", ".join(f"{_level_case(c)} AS level_{i}" for i, c in enumerate(comparisons))
    rows = db.rows(con, "linkage model",
                   f"""
        WITH keyed AS (
            SELECT *, row_number() OVER (PARTITION BY "{key}" ORDER BY hash(unique_id)) AS rn
            FROM profiles WHERE "{key}" IS NOT NULL AND birth_year_any IS NOT NULL
        ),
        pairs AS (
            SELECT {select} FROM keyed AS l JOIN keyed AS r
              ON l."{key}" = r."{key}" AND l.unique_id < r.unique_id
             AND l.rn <= {int(profiles_per_key)} AND r.rn <= {int(profiles_per_key)}
             AND abs(l.birth_year_any - r.birth_year_any) >= {int(years_apart)}
        )
        SELECT {cases}, count(*) AS n FROM pairs
        WHERE {stratum_sql} AND {outside_earlier}
        GROUP BY ALL""")
    total = sum(row[-1] for row in rows)
    counts = [[0] * len(non_null_levels(c)) for c in comparisons]
    for row in rows:
        for i, position in enumerate(row[:-1]):
            if position is not None:
                counts[i][int(position)] += row[-1]
    return total, counts


def condition_on_names(con: Any, model_json: dict[str, Any], available: set[str],
                       floor: float, years_apart: int = MIN_YEARS_APART,
                       profiles_per_key: int = PROFILES_PER_KEY, min_pairs: int = MIN_PAIRS,
                       pseudo_pairs: float = PSEUDO_PAIRS) -> dict[str, Any]:
    """Split the ``CONDITIONED`` comparisons of a trained model by name agreement, with u
    estimated among namesakes (module docstring); ``floor`` is the smallest u. A stratum
    with fewer than ``min_pairs`` sampled pairs keeps the unconditional u, which weighs as
    ``pseudo_pairs`` pairs in the others."""
    model_json = copy.deepcopy(model_json)
    comparisons = [c for c in model_json["comparisons"]
                   if c["output_column_name"] in CONDITIONED]
    layers = strata(available)
    if not comparisons or not layers:
        return model_json
    split: list[list[dict[str, Any]]] = [[] for _ in comparisons]
    for s, (label, key, sql) in enumerate(layers):
        total, counts = namesake_u(con, comparisons, key, sql, [q for _, _, q in layers[:s]],
                                   years_apart, profiles_per_key)
        log.info("linkage: u given %s from %d pairs of two persons", label, total)
        for i, comparison in enumerate(comparisons):
            levels = non_null_levels(comparison)
            seen = sum(counts[i])
            if seen < min_pairs:
                continue
            for level, count in zip(levels, counts[i], strict=True):
                # a level random sampling never met has no u: the floor stands in for it
                unconditional = level.get("u_probability") or floor
                u = (count + pseudo_pairs * unconditional) / (seen + pseudo_pairs)
                condition = level["sql_condition"]
                split[i].append({
                    **level,
                    "sql_condition": sql if condition.upper() == "ELSE"
                    else f"({sql}) AND ({condition})",
                    "label_for_charts": f"{level['label_for_charts']}{GIVEN}{label}",
                    "u_probability": max(u, floor),
                })
    for comparison, levels in zip(comparisons, split, strict=True):
        if levels:
            null = [lv for lv in comparison["comparison_levels"] if lv.get("is_null_level")]
            comparison["comparison_levels"] = null + levels + non_null_levels(comparison)
    return model_json
