"""The groups persons are counted in, as SQL. For the quality figures, on a ``persons`` row
``p``: citizenship group (citizen, foreigner, unknown) and broad age group (0-17, 18-39,
40-64, 65+, unknown), one definition for the register coverage, who fails to link and
population size, so that their groups line up. For the published tables: five-year age
groups (0-4, ..., 80-84, 85+), one definition for the flows, the stocks and the flows'
intervals, whose cells are joined on it."""

from __future__ import annotations

from schemas.sql import literal

BROAD_AGE_GROUPS = ((0, 17), (18, 39), (40, 64), (65, None))


def citizenship_group_sql(country: str, citizenship: str = "p.citizenship") -> str:
    return (f"CASE WHEN {citizenship} IS NULL THEN 'unknown' "
            f"WHEN {citizenship} = {literal(country)} THEN 'citizen' ELSE 'foreigner' END")


def broad_age_group_sql(year: int, birth_year: str = "p.birth_year") -> str:
    """The age group in ``year`` (ages below 0, a birth after it, count as 0-17)."""
    age = f"({int(year)} - {birth_year})"
    cases = " ".join(f"WHEN {age} <= {hi} THEN '{lo}-{hi}'" for lo, hi in BROAD_AGE_GROUPS
                     if hi is not None)
    oldest = BROAD_AGE_GROUPS[-1][0]
    return f"CASE WHEN {birth_year} IS NULL THEN 'unknown' {cases} ELSE '{oldest}+' END"


def age_group_sql(age: str) -> str:
    """The five-year age group of the age ``age`` (SQL); null when unknown or negative."""
    a = f"({age})"
    return (f"CASE WHEN {a} IS NULL OR {a} < 0 THEN NULL WHEN {a} >= 85 THEN '85+' "
            f"ELSE CAST(CAST(floor({a} / 5) * 5 AS INTEGER) AS VARCHAR) || '-' "
            f"|| CAST(CAST(floor({a} / 5) * 5 + 4 AS INTEGER) AS VARCHAR) END")
