"""Presence: the evidence as dated facts per person, who is observed, and their status
when the window starts.

The stays themselves are the presence model's (``pipelines.presence_model``, fitted and read
by ``pipelines.presence_fit``). Here:

* ``evidence_point`` (IN on that day: signs of life, interviews, registrations, crossings in,
  the eve of a crossing out or of a death, permit renewals), ``evidence_break``
  (deregistrations, departures by crossing, a foreigner's registration ended off a permit
  expiry) and ``cover_spell`` (registrations and permits), keyed by person_id;
* ``observed``: who can have events at all (evidence on two days, or a registration), their
  status at the start (born here) and when observation ends (the as-of date, or death);
* ``initial_status``: each observed person's first evidence, and whether it falls in the
  window (their status at the window start is then the default, not evidence).
"""

from __future__ import annotations

from typing import Any

from schemas.sql import create_table, render, run_stage

MIN_EVIDENCE_DAYS = 2  # persons seen on one day only (often an unlinked record) make no events


def _source_sql(typed: dict[str, str], source: str, body: str) -> str | None:
    if source not in typed:
        return None
    return render(body, src_table=typed[source])


def evidence_points_sql(typed: dict[str, str]) -> str:
    parts = [
        _source_sql(typed, "activity",
                    "SELECT 'activity' AS source, record_id, activity_date AS day "
                    "FROM {src_table}"),
        _source_sql(typed, "census",
                    "SELECT 'census' AS source, record_id, census_date AS day FROM {src_table}"),
        _source_sql(typed, "survey",
                    "SELECT 'survey' AS source, record_id, interview_date AS day FROM {src_table}"),
        _source_sql(typed, "population_register",
                    "SELECT CASE WHEN previous_residence_country IS NOT NULL "
                    "THEN 'population_register_from_abroad' ELSE 'population_register' END "
                    "AS source, record_id, registration_date AS day FROM {src_table} "
                    "UNION ALL SELECT 'population_register', record_id, "
                    "deregistration_date - 1 FROM {src_table} "
                    "WHERE deregistration_reason = 'death'"),
        _source_sql(typed, "aliens_register",
                    "SELECT 'aliens_register_from_abroad' AS source, record_id, "
                    "registration_date AS day FROM {src_table}"),
        _source_sql(typed, "border_crossings",
                    "SELECT 'border_crossings_' || direction AS source, record_id, "
                    "CASE WHEN direction = 'in' THEN crossing_date ELSE crossing_date - 1 END "
                    "AS day FROM {src_table}"),
    ]
    return _union(parts, "CAST(NULL AS DATE) AS day")


def _union(parts: list[str | None], empty_columns: str) -> str:
    """UNION ALL of the sources present; an empty relation of the same shape if none is."""
    present = [p for p in parts if p]
    if not present:
        return ("SELECT CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS record_id, "
                f"{empty_columns} WHERE FALSE")
    return "\nUNION ALL\n".join(present)


def evidence_breaks_sql(typed: dict[str, str]) -> str:
    parts = [
        _source_sql(typed, "border_crossings",
                    "SELECT 'border_crossings' AS source, record_id, crossing_date AS day, "
                    "'crossing' AS kind FROM {src_table} WHERE direction = 'out'"),
        _source_sql(typed, "population_register",
                    "SELECT 'population_register' AS source, record_id, "
                    "deregistration_date AS day, deregistration_reason AS kind FROM {src_table} "
                    "WHERE deregistration_reason IN ('emigration', 'death')"),
        _source_sql(typed, "aliens_register", _REGISTRATION_END),
    ]
    return _union(parts, "CAST(NULL AS DATE) AS day, CAST(NULL AS VARCHAR) AS kind")


# A foreigner's registration ended on a day no permit of theirs expired: an ending the person
# (or the office) reported, most often a departure. Ends on a permit's expiry say only that the
# permit was not renewed. Soft evidence: it dates a departure, it never splits a stay.
_REGISTRATION_END = (
    "SELECT 'aliens_register' AS source, a.record_id, a.end_date AS day, "
    "'registration_end' AS kind FROM {src_table} AS a WHERE a.end_date IS NOT NULL")
_NOT_AN_EXPIRY = """
    OR NOT EXISTS (SELECT 1 FROM cover_spell AS s
                    WHERE s.person_id = pr.person_id AND s.source = 'residence_permits'
                      AND abs(s.spell_end - {day}) <= {expiry_days})"""
EXPIRY_DAYS = 3  # a registration ending this close to a permit's expiry ended with the permit


def cover_spells_sql(typed: dict[str, str]) -> str:
    parts = [
        _source_sql(typed, "population_register",
                    "SELECT 'population_register' AS source, record_id, "
                    "registration_date AS spell_start, deregistration_date AS spell_end, "
                    "TRUE AS residence_registration FROM {src_table}"),
        _source_sql(typed, "aliens_register",
                    "SELECT 'aliens_register' AS source, record_id, "
                    "registration_date AS spell_start, end_date AS spell_end, "
                    "end_date IS NULL AS residence_registration FROM {src_table}"),
        _source_sql(typed, "residence_permits",
                    "SELECT 'residence_permits' AS source, record_id, valid_from AS spell_start, "
                    "valid_to AS spell_end, valid_to IS NULL AS residence_registration "
                    "FROM {src_table}"),
    ]
    return _union(parts, "CAST(NULL AS DATE) AS spell_start, CAST(NULL AS DATE) AS spell_end, "
                         "FALSE AS residence_registration")


# each residence permit with the latest end among the person's earlier permits: a permit
# starting at that end is a renewal, one starting well after it a new (first) permit
_PERMITS = """(SELECT person_id, spell_start,
             MAX(COALESCE(spell_end, {open_end})) OVER (
                 PARTITION BY person_id ORDER BY spell_start, spell_end
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
      FROM cover_spell WHERE source = 'residence_permits') AS p"""

_DAYS = "date_diff('day', DATE '1970-01-01', {col})"


def _days(col: str) -> str:
    return _DAYS.format(col=col)


def build_evidence(con: Any, typed: dict[str, str], expiry_days: int = EXPIRY_DAYS,
                   min_evidence_days: int = MIN_EVIDENCE_DAYS) -> None:
    """Tables ``evidence_point``, ``evidence_break``, ``cover_spell`` keyed by person_id: the
    evidence as dated facts, for who is observed at all (``build_observed``), the first
    evidence of each person, the register figures and ``miglink explain``. A registration
    ending ``expiry_days`` at most from a permit's expiry ended with it (no break). And
    ``evidence_reach``: per person, the day from which they are observed at all (evidence on
    ``min_evidence_days`` distinct days, or a registration begun) and their death's day."""
    for table, sql, cols, keep in (
        ("cover_spell", cover_spells_sql(typed),
         f"{_days('e.spell_start')} AS spell_start, {_days('e.spell_end')} AS spell_end, "
         "e.source, e.residence_registration", "e.spell_start IS NOT NULL"),
        ("evidence_point", evidence_points_sql(typed), f"{_days('e.day')} AS day, e.source",
         "e.day IS NOT NULL"),
        ("evidence_break", evidence_breaks_sql(typed), f"{_days('e.day')} AS day, e.kind",
         "e.day IS NOT NULL AND (e.kind <> 'registration_end'"
         + _NOT_AN_EXPIRY.format(day=_days("e.day"), expiry_days=int(expiry_days)) + ")"),
    ):
        create_table(con, "evidence", table, f"""
            SELECT pr.person_id, {cols}
            FROM ({sql}) AS e
            JOIN person_records AS pr ON pr.record_id = e.record_id
             AND pr.source = regexp_replace(e.source, '_(in|out|from_abroad)$', '')
            WHERE {keep}""")
    run_stage(con, "evidence", render("""
        INSERT INTO evidence_point
        SELECT person_id, spell_start, 'permit_renewal'
        FROM """ + _PERMITS + """
        WHERE abs(spell_start - reach) <= {expiry_days}""",
        open_end=OPEN_END, expiry_days=int(expiry_days)))
    build_evidence_reach(con, min_evidence_days)


def build_evidence_reach(con: Any, min_evidence_days: int = MIN_EVIDENCE_DAYS) -> None:
    """Table ``evidence_reach`` (of ``build_evidence``): per person the day from which they
    are observed (``observed_from``) and the day of their death (else null). One record
    establishes neither a 12-month stay nor a departure: a person is observed from the
    ``min_evidence_days``-th distinct day of their evidence, or their first registration."""
    create_table(con, "evidence", "evidence_reach", render("""
        WITH days AS (
            SELECT person_id, day,
                   row_number() OVER (PARTITION BY person_id ORDER BY day) AS nth
            FROM (SELECT DISTINCT person_id, day FROM evidence_point)),
        reached AS (
            SELECT person_id, day FROM days WHERE nth = {min_evidence_days}
            UNION ALL SELECT person_id, min(spell_start) FROM cover_spell GROUP BY person_id),
        death AS (SELECT person_id, min(day) AS death_day FROM evidence_break
                  WHERE kind = 'death' GROUP BY person_id)
        SELECT r.person_id, min(r.day) AS observed_from, any_value(d.death_day) AS death_day
        FROM reached AS r LEFT JOIN death AS d USING (person_id)
        WHERE r.day IS NOT NULL GROUP BY r.person_id""",
        min_evidence_days=int(min_evidence_days)))


OPEN_END = 10**7  # a day number beyond any date


def build_observed(con: Any, country: str, as_of: int, presence_table: str = "presence",
                   table: str = "observed") -> None:
    """Table ``observed``: initial status and end of observation per person.

    Only persons with evidence on at least two days (``min_evidence_days`` of
    ``build_evidence``), or a registration, by ``as_of`` are observed: a single record (most
    often one that failed to link) can show neither a 12-month stay nor a departure.
    Resident at start: born in the country (country of birth, or a first stay that starts
    within a month of the birth date). Observation ends at the as-of date or at death.
    """
    create_table(con, "observed", table, render("""
        WITH first_stay AS (SELECT person_id, MIN(arrival) AS first_arrival
                            FROM {presence_table} GROUP BY person_id)
        SELECT p.person_id,
               COALESCE(p.country_of_birth = {country}, FALSE)
                 OR (p.birth_date IS NOT NULL AND f.first_arrival
                     - date_diff('day', DATE '1970-01-01', p.birth_date) <= 31)
                 AS resident_at_start,
               LEAST({as_of}, COALESCE(d.death_day, {as_of})) AS observation_end,
               d.death_day IS NULL AS alive
        FROM persons AS p
        JOIN first_stay AS f ON f.person_id = p.person_id
        JOIN (SELECT person_id, CASE WHEN death_day <= {as_of} THEN death_day END AS death_day
              FROM evidence_reach WHERE observed_from <= {as_of}) AS d
          ON d.person_id = p.person_id""", country=country, as_of=as_of,
        presence_table=presence_table))


def build_initial_status(con: Any, window_start: int) -> None:
    """Table ``initial_status``: each observed person's first evidence (any point or the start
    of a registration) and whether it falls inside the window. For those persons the status
    at the window start is not evidence but the default (non-resident unless born in the
    country): they are flagged, and counted in the report."""
    create_table(con, "initial status", "initial_status", render("""
        WITH first AS (
            SELECT person_id, min(day) AS day FROM (
                SELECT person_id, day FROM evidence_point
                UNION ALL SELECT person_id, spell_start FROM cover_spell) GROUP BY person_id)
        SELECT o.person_id, DATE '1970-01-01' + CAST(f.day AS INTEGER) AS first_evidence_date,
               f.day >= {window_start} AS first_seen_in_window
        FROM observed AS o JOIN first AS f ON f.person_id = o.person_id""",
        window_start=window_start))
