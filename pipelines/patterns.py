"""Migration patterns (METHOD.md section 3, "also derived"), per person and rule:

* **return migration**: an immigration of someone resident before (born in the country, or an
  earlier immigration under the same rule);
* **temporary movers**: stays in the country of 90 days to less than ``tm`` (presence stays,
  whatever the rule: temporary mobility, counted but not migration);
* **circular migrants** (UNECE Task Force on Measuring Circular Migration, 2016): at least 3
  migration events (each a stay in or out of at least 12 months, which is what an event under
  the rules means) within any 10 years.

Set-based SQL over ``events_days``, ``presence`` and ``observed``; confirmed events only.
Written as ``migration_patterns`` (one row per person and rule with any pattern) and
summarised by year in ``quality.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas import sql as db
from schemas.sql import create_table, identifier, render


@dataclass(frozen=True)
class PatternSettings:
    """``[patterns]``: the definitions of temporary and circular migration (UNECE 2016)."""

    temporary_min_days: int = 90  # a stay this long, and shorter than tm, is temporary
    circular_events: int = 3  # this many migration events ...
    circular_years: int = 10  # ... within this many years make a circular migrant
    # a foreigners' register entry or a permit this close to an immigration states its purpose
    purpose_near_days: int = 365

    def __post_init__(self) -> None:
        for name in ("temporary_min_days", "circular_events", "circular_years",
                     "purpose_near_days"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, "
                                 f"got {getattr(self, name)!r}")
        if self.circular_events < 2:
            raise ValueError(f"circular_events must be at least 2, got {self.circular_events!r}")

_MIGRATIONS = """
SELECT e.person_id, e.rule, e.event_type, e.event_day,
       e.event_type = 'immigration' AND (COALESCE(o.resident_at_start, FALSE) OR
           COUNT(*) FILTER (WHERE e.event_type = 'immigration') OVER (
               PARTITION BY e.person_id, e.rule ORDER BY e.event_day
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) > 0) AS return_migration,
       COUNT(*) OVER (PARTITION BY e.person_id, e.rule ORDER BY e.event_day
                      RANGE BETWEEN CURRENT ROW AND {circular_days} FOLLOWING)
           AS events_within_10_years
FROM events_days AS e LEFT JOIN observed AS o ON o.person_id = e.person_id
WHERE e.status = 'confirmed'
"""

_PATTERNS = """
WITH per_rule AS (
    SELECT person_id, rule, COUNT(*) FILTER (WHERE return_migration) AS return_migrations,
           MAX(events_within_10_years) >= {circular_events} AS circular_migrant
    FROM confirmed_migrations GROUP BY person_id, rule
),
temporary AS (
    SELECT person_id, COUNT(*) AS temporary_stays FROM presence
    WHERE departure IS NOT NULL AND departure - arrival >= {temporary_min}
      AND departure - arrival < {tm}
    GROUP BY person_id
),
keys AS (
    SELECT t.person_id, r.rule FROM temporary AS t CROSS JOIN rules_run AS r
    UNION SELECT person_id, rule FROM per_rule
)
SELECT k.person_id, k.rule,
       COALESCE(p.return_migrations, 0) AS return_migrations,
       COALESCE(t.temporary_stays, 0) AS temporary_stays,
       COALESCE(p.circular_migrant, FALSE) AS circular_migrant
FROM keys AS k
LEFT JOIN per_rule AS p ON p.person_id = k.person_id AND p.rule = k.rule
LEFT JOIN temporary AS t ON t.person_id = k.person_id
WHERE COALESCE(p.return_migrations, 0) > 0 OR COALESCE(t.temporary_stays, 0) > 0
   OR COALESCE(p.circular_migrant, FALSE)
ORDER BY k.rule, k.person_id
"""


def build_patterns(con: Any, tm: int, settings: PatternSettings | None = None) -> None:
    """Tables ``confirmed_migrations`` (each confirmed event, whether it is a return and how
    many events fall within 10 years from it) and ``migration_patterns``: person_id, rule,
    return_migrations, temporary_stays, circular_migrant."""
    settings = settings or PatternSettings()
    years = settings.circular_years
    create_table(con, "patterns", "confirmed_migrations", render(
        _MIGRATIONS, circular_days=years * 365 + years // 4))
    if settings.temporary_min_days >= tm:
        raise ValueError(f"[patterns] temporary_min_days ({settings.temporary_min_days}) must "
                         f"be shorter than tm ({tm})")
    create_table(con, "patterns", "migration_patterns", render(
        _PATTERNS, circular_events=settings.circular_events,
        temporary_min=settings.temporary_min_days, tm=tm))


def pattern_summary(con: Any, window_start: int, as_of: int, tm: int,
                    settings: PatternSettings | None = None) -> dict[str, Any]:
    """Counts per rule: return immigrations and temporary stays by year (in the window),
    circular migrants."""
    settings = settings or PatternSettings()
    returns = db.frame(con, "events",
                       f"""
        SELECT rule, year(DATE '1970-01-01' + CAST(event_day AS INTEGER)) AS year,
               count(*) FILTER (WHERE return_migration) AS return_immigrations,
               count(*) AS immigrations
        FROM confirmed_migrations WHERE event_type = 'immigration'
          AND event_day BETWEEN {window_start} AND {as_of}
        GROUP BY ALL ORDER BY ALL""")
    temporary = db.frame(con, "events",
                         f"""
        SELECT year(DATE '1970-01-01' + CAST(arrival AS INTEGER)) AS year,
               count(*) AS temporary_stays
        FROM presence WHERE departure IS NOT NULL
          AND departure - arrival >= {settings.temporary_min_days}
          AND departure - arrival < {tm}
          AND arrival BETWEEN {window_start} AND {as_of}
        GROUP BY ALL ORDER BY ALL""")
    circular = db.frame(con, "events",
                        """SELECT rule, count(*) AS circular_migrants
                          FROM migration_patterns WHERE circular_migrant
                          GROUP BY rule ORDER BY rule""")
    by_citizenship = db.frame(con, "events", """
        SELECT m.rule, coalesce(p.citizenship, 'unknown') AS citizenship,
               count(*) FILTER (WHERE m.circular_migrant) AS circular_migrants,
               count(*) FILTER (WHERE m.temporary_stays > 0) AS temporary_movers
        FROM migration_patterns AS m JOIN persons AS p USING (person_id)
        GROUP BY ALL ORDER BY m.rule, circular_migrants DESC, temporary_movers DESC,
                 citizenship""")
    return {"definition": {"temporary_min_days": settings.temporary_min_days,
                           "temporary_max_days": tm,
                           "circular_events": settings.circular_events,
                           "circular_years": settings.circular_years},
            "return_immigrations_by_year": returns.to_dict("records"),
            "temporary_stays_by_year_of_arrival": temporary.to_dict("records"),
            "circular_migrants": circular.to_dict("records"),
            "movers_by_citizenship": by_citizenship.to_dict("records")}


_PURPOSES = """
WITH purpose AS (
    SELECT e.person_id, e.rule, e.event_day,
           arg_min(s.purpose, abs(s.day - e.event_day)) AS purpose
    FROM events_days AS e JOIN stay_purposes AS s
      ON s.person_id = e.person_id AND abs(s.day - e.event_day) <= {near}
    WHERE e.status = 'confirmed' AND e.event_type = 'immigration'
    GROUP BY ALL
)
SELECT e.rule, year(DATE '1970-01-01' + CAST(e.event_day AS INTEGER)) AS year,
       coalesce(p.purpose, 'not stated') AS stay_purpose, count(*) AS immigrations
FROM events_days AS e
LEFT JOIN purpose AS p USING (person_id, rule, event_day)
WHERE e.status = 'confirmed' AND e.event_type = 'immigration'
  AND e.event_day BETWEEN {window_start} AND {as_of}
GROUP BY ALL ORDER BY ALL
"""


def immigration_by_stay_purpose(con: Any, typed: dict[str, str], window_start: int,
                                as_of: int, settings: PatternSettings | None = None
                                ) -> list[dict[str, Any]]:
    """Confirmed immigrations per rule, year and stay purpose (work, study, family,
    protection, other): the purpose the aliens register or a permit states nearest the
    arrival, within ``purpose_near_days`` (a year); 'not stated' for citizens and the
    others."""
    # (source, its purpose column, the column dating it)
    stating = (("aliens_register", "stay_purpose", "registration_date"),
               ("residence_permits", "permit_type", "valid_from"))
    parts = [f"""SELECT pr.person_id, s.{purpose} AS purpose,
                        date_diff('day', DATE '1970-01-01', s.{dated}) AS day
                 FROM {identifier(typed[source])} AS s
                 JOIN person_records AS pr ON pr.source = '{source}'
                  AND pr.record_id = s.record_id WHERE s.{purpose} IS NOT NULL"""
             for source, purpose, dated in stating if source in typed]
    if not parts:
        parts.append("SELECT CAST(NULL AS VARCHAR) AS person_id, "
                     "CAST(NULL AS VARCHAR) AS purpose, 0 AS day WHERE FALSE")
    # each stay purpose a foreigners' register or a permit states, and when
    create_table(con, "stay purposes", "stay_purposes", " UNION ALL ".join(parts))
    return db.records(con, "stay purposes", render(
        _PURPOSES, near=(settings or PatternSettings()).purpose_near_days,
        window_start=window_start, as_of=as_of))
