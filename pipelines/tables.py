"""Output tables: migration events with countries, residence spells, flows and stocks.

Disclosure control (METHOD.md §5): in ``flows`` and ``stocks`` cells below ``min_cell`` are
suppressed (count set to null, ``suppressed`` true) before anything is written. The official
tables (``OUT/official/``) are published with their margins and protected against recovery
from them: primary and secondary suppression, optional seeded random rounding to base 3
(``pipelines.disclosure``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.disclosure import protect
from pipelines.groups import age_group_sql
from pipelines.rules import Rule, RuleParameters, create_events, residence_spells_sql
from schemas import sql as db
from schemas.sql import create_table, render


@dataclass(frozen=True)
class TableSettings:
    """``[tables]``: how the published tables are protected. ``min_cell``: cells of 1 to
    ``min_cell`` - 1 are suppressed (and, in the official tables, the cells that would
    reveal them); ``random_rounding``: the official tables rounded at random to base 3
    (Stats NZ RR3); ``rounding_seed``: its seed, so that a rerun publishes the same
    figures."""

    min_cell: int = 5
    random_rounding: bool = False
    rounding_seed: int = 1

    def __post_init__(self) -> None:
        for name in ("min_cell", "rounding_seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be a whole number, got {name}={value!r}")
        if self.rounding_seed < 0:
            raise ValueError(f"rounding_seed must be at least 0, got "
                             f"rounding_seed={self.rounding_seed!r}")
        if self.min_cell < 1:
            raise ValueError(f"min_cell must be at least 1, got min_cell={self.min_cell!r}")
        if not isinstance(self.random_rounding, bool):
            raise ValueError("random_rounding must be true or false, got "
                             f"random_rounding={self.random_rounding!r}")

    @property
    def published_rounding_seed(self) -> int | None:
        """The seed of the official tables' rounding, None when they are not rounded."""
        return self.rounding_seed if self.random_rounding else None


def _date(day_sql: str) -> str:
    return f"(DATE '1970-01-01' + CAST({day_sql} AS INTEGER))"


def build_events(con: Any, rules: tuple[Rule, ...], params: RuleParameters) -> None:
    """``events_days``: every event of every rule over the whole history (day numbers)."""
    create_table(con, "rules", "rules_run",
                 " UNION ALL ".join(f"SELECT '{r}' AS rule" for r in rules))
    create_events(con, "events_days", rules, params)


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
               m.country, p.citizenship, p.sex, p.birth_year,
               -- pipelines.nowcast: 1 when confirmed; for a provisional event, from cohorts
               CASE WHEN e.status = 'confirmed' THEN 1.0 ELSE x.probability END
                   AS confirmation_probability,
               -- pipelines.uncertainty: the share of the presence model's paths holding it
               COALESCE(u.probability, 1.0) AS probability,
               DATE '1970-01-01' + CAST(COALESCE(u.day_low, e.event_day) AS INTEGER)
                   AS date_low,
               DATE '1970-01-01' + CAST(COALESCE(u.day_high, e.event_day) AS INTEGER)
                   AS date_high,
               COALESCE(u.probability, 1.0) * CASE WHEN x.person_id IS NOT NULL
                   THEN x.expected_weight WHEN e.status = 'confirmed' THEN 1.0 END
                   AS expected_weight
        FROM in_window AS e
        JOIN persons AS p ON p.person_id = e.person_id
        LEFT JOIN expected_now AS x ON x.person_id = e.person_id AND x.rule = e.rule
             AND x.event_type = e.event_type AND x.event_day = e.event_day
        LEFT JOIN event_uncertainty AS u ON u.person_id = e.person_id AND u.rule = e.rule
             AND u.event_type = e.event_type AND u.event_day = e.event_day
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
    """``flows``: events per cell; ``expected_count`` and its 90% interval (``expected_low``,
    ``expected_high``) over the presence model's paths (``pipelines.uncertainty``), each
    event weighted by the nowcast for the events not yet decided or not yet visible."""
    age = age_group_sql("year(event_date) - birth_year")
    cells = ("rule", "year", "event_type", "citizenship", "sex", "age_group", "country",
             "status")
    same = " AND ".join(f"c.{c} IS NOT DISTINCT FROM x.{c}" for c in cells)
    create_table(con, "flows", "flows", render(f"""
        WITH cells AS (
            SELECT rule, year(event_date) AS year, event_type, citizenship, sex,
                   {age} AS age_group, country, status, count(*) AS n
            FROM migration_events GROUP BY ALL
        )
        SELECT c.rule, c.year, c.event_type, c.citizenship, c.sex, c.age_group, c.country,
               c.status,
               CASE WHEN c.n < {{min_cell}} THEN NULL ELSE c.n END AS count,
               c.n < {{min_cell}} AS suppressed,
               CASE WHEN c.n < {{min_cell}} THEN NULL ELSE round(x.expected, 1) END
                   AS expected_count,
               CASE WHEN c.n < {{min_cell}} THEN NULL ELSE round(x.low, 1) END
                   AS expected_low,
               CASE WHEN c.n < {{min_cell}} THEN NULL ELSE round(x.high, 1) END
                   AS expected_high
        FROM cells AS c LEFT JOIN flow_cells_expected AS x ON {same}
        ORDER BY ALL""", min_cell=min_cell))


def build_stocks(con: Any, window_start_year: int, as_of: int, min_cell: int) -> None:
    """Usual residents on 1 January of each year in the window, by rule."""
    age = age_group_sql("year(d.reference_date) - p.birth_year")
    create_table(con, "stocks", "stocks_cells", render(f"""
        WITH dates AS (
            SELECT make_date(CAST(y AS INTEGER), 1, 1) AS reference_date
            FROM range({{first_year}}, year(DATE '1970-01-01' + {{as_of}}) + 1) AS t(y)
        ),
        cells AS (
            SELECT s.rule, d.reference_date, p.citizenship, p.country_of_birth, p.sex,
                   {age} AS age_group, count(*) AS count
            FROM residence_spells AS s
            JOIN dates AS d ON s.spell_start <= d.reference_date
             AND (s.spell_end IS NULL OR s.spell_end > d.reference_date)
            JOIN persons AS p ON p.person_id = s.person_id
            GROUP BY ALL
        )
        SELECT * FROM cells""", first_year=window_start_year, as_of=as_of))
    create_table(con, "stocks", "stocks", render("""
        SELECT rule, reference_date, citizenship, country_of_birth, sex, age_group,
               CASE WHEN count < {min_cell} THEN NULL ELSE count END AS count,
               count < {min_cell} AS suppressed
        FROM stocks_cells ORDER BY ALL""", min_cell=min_cell))


# The official tables, in the layout of Eurostat's migr_imm*/migr_emi*/migr_pop* and the
# UNECE Clearing House tables: (name, SQL of the unprotected cells, "by" columns that split
# it into separate tables, classifying dimensions that get a TOTAL category).
_EVENT_CELLS = """
    SELECT rule, year(event_date) AS year, {classifier}, sex, {age} AS age_group,
           count(*) AS count
    FROM migration_events WHERE status = 'confirmed' AND event_type = '{kind}'
    GROUP BY ALL"""


def official_tables(con: Any, out: Path, min_cell: int, rounding_seed: int | None
                    ) -> dict[str, int]:
    """Write ``out/NAME.parquet`` and ``.csv`` for each official table; return the number
    of suppressed cells per table. Confirmed events only (provisional ones are in
    ``flows``); stocks of usual residents on 1 January."""
    age = age_group_sql("year(event_date) - birth_year")
    specs = []
    for kind, country in (("immigration", "previous"), ("emigration", "next")):
        for column, classifier in (("citizenship", "citizenship"),
                                   (f"{country}_residence", f"country AS {country}_residence")):
            specs.append((f"{kind}_by_{column}_sex_age",
                          _EVENT_CELLS.format(classifier=classifier, age=age, kind=kind),
                          ["rule", "year"], [column, "sex", "age_group"]))
    # stocks as Eurostat's migr_pop1ctz and migr_pop3ctb: by citizenship, by country of birth
    # (the four-way cross in ``stocks`` is mostly cells of one or two persons: protected
    # with its margins it would publish almost nothing)
    for column in ("citizenship", "country_of_birth"):
        specs.append((f"population_1_january_by_{column}_sex_age", f"""
            SELECT rule, reference_date, {column}, sex, age_group, sum(count) AS count
            FROM stocks_cells GROUP BY ALL""", ["rule", "reference_date"],
                      [column, "sex", "age_group"]))
    out.mkdir(parents=True, exist_ok=True)
    suppressed = {}
    for name, sql, by, dims in specs:
        cells = db.frame(con, "tables", sql)
        table = protect(cells, dims, by, min_cell, rounding_seed=rounding_seed)
        table.to_parquet(out / f"{name}.parquet", index=False)
        table.to_csv(out / f"{name}.csv", index=False)
        suppressed[name] = int(table["suppression"].notna().sum())
    return suppressed
