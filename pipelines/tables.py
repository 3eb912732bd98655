"""Output tables: migration events with countries, residence spells, flows and stocks.

Disclosure control (METHOD.md §5): cells below ``min_cell`` are suppressed (count set to null,
``suppressed`` true) before anything is written. Secondary suppression and random rounding
are not done yet (see README: method status).
"""

from __future__ import annotations

from typing import Any

from pipelines.rules import Rule, RuleParameters, all_rules_events_sql, residence_spells_sql
from pipelines.sql import create_table, render

AGE_GROUP = """CASE WHEN {age} IS NULL OR {age} < 0 THEN NULL
     WHEN {age} >= 85 THEN '85+'
     ELSE CAST(CAST(floor({age} / 5) * 5 AS INTEGER) AS VARCHAR) || '-'
          || CAST(CAST(floor({age} / 5) * 5 + 4 AS INTEGER) AS VARCHAR) END"""


def age_group(age_sql: str) -> str:
    return AGE_GROUP.format(age=f"({age_sql})")


def _date(day_sql: str) -> str:
    return f"(DATE '1970-01-01' + CAST({day_sql} AS INTEGER))"


def build_events(con: Any, rules: tuple[Rule, ...], params: RuleParameters) -> None:
    """``events_days``: every event of every rule over the whole history (day numbers)."""
    create_table(con, "rules", "rules_run",
                 " UNION ALL ".join(f"SELECT '{r}' AS rule" for r in rules))
    create_table(con, "rules", "events_days", all_rules_events_sql(rules, params))


_COUNTRY_EVIDENCE = """
SELECT pr.person_id, 'immigration' AS event_type, date_diff('day', DATE '1970-01-01',
       r.registration_date) AS day, r.previous_residence_country AS country, 1 AS priority
FROM {register_table} AS r JOIN person_records AS pr
  ON pr.source = 'population_register' AND pr.record_id = r.record_id
WHERE r.previous_residence_country IS NOT NULL
UNION ALL
SELECT pr.person_id, 'emigration', date_diff('day', DATE '1970-01-01', r.deregistration_date),
       r.next_residence_country, 1
FROM {register_table} AS r JOIN person_records AS pr
  ON pr.source = 'population_register' AND pr.record_id = r.record_id
WHERE r.next_residence_country IS NOT NULL AND r.deregistration_date IS NOT NULL
"""


def build_migration_events(con: Any, typed: dict[str, str], window_start: int, as_of: int
                           ) -> None:
    """``migration_events`` as the contract defines it, for events in the window."""
    if "population_register" in typed:
        create_table(con, "event countries", "country_evidence",
                     _COUNTRY_EVIDENCE.format(register_table=typed["population_register"]))
    else:
        create_table(con, "event countries", "country_evidence",
                     "SELECT CAST(NULL AS VARCHAR) AS person_id, CAST(NULL AS VARCHAR) AS "
                     "event_type, 0 AS day, CAST(NULL AS VARCHAR) AS country, 1 AS priority "
                     "WHERE FALSE")
    create_table(con, "migration events", "migration_events", render("""
        WITH in_window AS (
            SELECT * FROM events_days WHERE event_day >= {window_start} AND event_day <= {as_of}
        ),
        country_match AS (
            SELECT e.person_id, e.rule, e.event_day, c.country,
                   row_number() OVER (PARTITION BY e.person_id, e.rule, e.event_day
                                      ORDER BY abs(c.day - e.event_day), c.country) AS nearest
            FROM in_window AS e JOIN country_evidence AS c
              ON c.person_id = e.person_id AND c.event_type = e.event_type
             AND c.day BETWEEN e.event_day - 60 AND e.event_day + 400
        )
        SELECT e.person_id, e.rule, e.event_type,
               DATE '1970-01-01' + CAST(e.event_day AS INTEGER) AS event_date, e.status,
               m.country, p.citizenship, p.sex, p.birth_year
        FROM in_window AS e
        JOIN persons AS p ON p.person_id = e.person_id
        LEFT JOIN country_match AS m ON m.person_id = e.person_id AND m.rule = e.rule
             AND m.event_day = e.event_day AND m.nearest = 1
        ORDER BY e.rule, e.person_id, event_date""",
        window_start=window_start, as_of=as_of))


def build_residence_spells(con: Any) -> None:
    create_table(con, "residence spells", "residence_spells_days", residence_spells_sql())
    create_table(con, "residence spells", "residence_spells", f"""
        SELECT person_id, rule, {_date('spell_start')} AS spell_start,
               {_date('spell_end')} AS spell_end
        FROM residence_spells_days ORDER BY rule, person_id, spell_start""")


def build_flows(con: Any, min_cell: int) -> None:
    age = age_group("year(event_date) - birth_year")
    create_table(con, "flows", "flows", render(f"""
        WITH cells AS (
            SELECT rule, year(event_date) AS year, event_type, citizenship, sex,
                   {age} AS age_group, country, status, count(*) AS n
            FROM migration_events GROUP BY ALL
        )
        SELECT rule, year, event_type, citizenship, sex, age_group, country, status,
               CASE WHEN n < {{min_cell}} THEN NULL ELSE n END AS count,
               n < {{min_cell}} AS suppressed
        FROM cells ORDER BY ALL""", min_cell=min_cell))


def build_stocks(con: Any, window_start_year: int, as_of: int, min_cell: int) -> None:
    """Usual residents on 1 January of each year in the window, by rule."""
    age = age_group("year(d.reference_date) - p.birth_year")
    create_table(con, "stocks", "stocks", render(f"""
        WITH dates AS (
            SELECT make_date(CAST(y AS INTEGER), 1, 1) AS reference_date
            FROM range({{first_year}}, year(DATE '1970-01-01' + {{as_of}}) + 1) AS t(y)
        ),
        cells AS (
            SELECT s.rule, d.reference_date, p.citizenship, p.country_of_birth, p.sex,
                   {age} AS age_group, count(*) AS n
            FROM residence_spells AS s
            JOIN dates AS d ON s.spell_start <= d.reference_date
             AND (s.spell_end IS NULL OR s.spell_end > d.reference_date)
            JOIN persons AS p ON p.person_id = s.person_id
            GROUP BY ALL
        )
        SELECT rule, reference_date, citizenship, country_of_birth, sex, age_group,
               CASE WHEN n < {{min_cell}} THEN NULL ELSE n END AS count,
               n < {{min_cell}} AS suppressed
        FROM cells ORDER BY ALL""", first_year=window_start_year, as_of=as_of,
        min_cell=min_cell))
