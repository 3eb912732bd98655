"""Evidence of presence per person and week: what the presence model reads.

Three tables, built from the typed sources and ``person_records`` (days are day numbers,
weeks count from the first day of the model's time grid ``g0``):

* ``presence_person``: every person with a dense index, their group for the model's
  transition rates (citizen, foreigner), birth and death days;
* ``presence_count``: per person, week and kind of point evidence, how many records: signs of
  life, survey interviews, border crossings in and out, census enumerations, permit renewals;
* ``presence_crossing``: per person, the days and directions of their border crossings
  (which date the arrivals and departures the model finds);
* ``presence_period``: per person and register, the periods a person was registered:
  population-register episodes (moves within the country merged), aliens-register stays, and
  residence permits (renewals merged into one period), each with how it began (from abroad or
  not) and how it ended (deregistration for emigration, death, other, or still open).

No parameter is estimated here; the model (``pipelines.presence_model``) estimates how each
kind of evidence relates to presence.
"""

from __future__ import annotations

from typing import Any

from pipelines.presence_model import STEP_DAYS
from schemas.sql import create_table, render

# kinds of point evidence, in the order of the model's count arrays
ACTIVITY, SURVEY, CROSSING_IN, CROSSING_OUT, CENSUS, PERMIT_RENEWAL = range(6)
CHANNELS = ("activity", "survey", "crossing_in", "crossing_out", "census", "permit_renewal")
# registers, in the order of the model's process arrays
POPULATION_REGISTER, ALIENS_REGISTER, RESIDENCE_PERMIT = range(3)
PROCESSES = ("population_register", "aliens_register", "residence_permits")
JOIN_DAYS = 31  # a move in the register, a permit's short lapse: one period
RENEWAL_DAYS = 3  # a permit starting this close to the last one's end renews it


def _points_sql(typed: dict[str, str]) -> str:
    parts = []
    if "activity" in typed:
        parts.append(f"SELECT 'activity' AS source, record_id, {ACTIVITY} AS channel, "
                     f"activity_date AS d FROM {typed['activity']}")
    if "survey" in typed:
        parts.append(f"SELECT 'survey' AS source, record_id, {SURVEY} AS channel, "
                     f"interview_date AS d FROM {typed['survey']}")
    if "border_crossings" in typed:
        parts.append(f"SELECT 'border_crossings' AS source, record_id, CASE WHEN "
                     f"direction = 'in' THEN {CROSSING_IN} ELSE {CROSSING_OUT} END AS channel, "
                     f"crossing_date AS d FROM {typed['border_crossings']}")
    if "census" in typed:
        parts.append(f"SELECT 'census' AS source, record_id, {CENSUS} AS channel, "
                     f"census_date AS d FROM {typed['census']}")
    if not parts:
        return ("SELECT CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS record_id, "
                "0 AS channel, CAST(NULL AS DATE) AS d WHERE FALSE")
    return " UNION ALL ".join(parts)


def _episodes_sql(typed: dict[str, str]) -> str:
    """Every registration episode: (process, record_id, start, end, end_kind, from_abroad)."""
    parts = []
    if "population_register" in typed:
        parts.append(f"""SELECT {POPULATION_REGISTER} AS process, 'population_register' AS source,
            record_id, registration_date AS start_date, deregistration_date AS end_date,
            deregistration_reason AS end_kind, previous_residence_country IS NOT NULL
            AS from_abroad FROM {typed['population_register']}""")
    if "aliens_register" in typed:
        parts.append(f"""SELECT {ALIENS_REGISTER} AS process, 'aliens_register' AS source,
            record_id, registration_date AS start_date, end_date,
            CASE WHEN end_date IS NOT NULL THEN 'ended' END AS end_kind, FALSE AS from_abroad
            FROM {typed['aliens_register']}""")
    if "residence_permits" in typed:
        parts.append(f"""SELECT {RESIDENCE_PERMIT} AS process, 'residence_permits' AS source,
            record_id, valid_from AS start_date, valid_to AS end_date,
            CASE WHEN valid_to IS NOT NULL THEN 'expired' END AS end_kind, FALSE AS from_abroad
            FROM {typed['residence_permits']}""")
    if not parts:
        return ("SELECT 0 AS process, CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) "
                "AS record_id, CAST(NULL AS DATE) AS start_date, CAST(NULL AS DATE) AS "
                "end_date, CAST(NULL AS VARCHAR) AS end_kind, FALSE AS from_abroad WHERE FALSE")
    return " UNION ALL ".join(parts)


_DAY = "date_diff('day', DATE '1970-01-01', {col})"


def _day(col: str) -> str:
    return _DAY.format(col=col)


def build_presence_evidence(con: Any, typed: dict[str, str], country: str, g0: int,
                            as_of: int, open_end: int, join_days: int = JOIN_DAYS,
                            renewal_days: int = RENEWAL_DAYS) -> None:
    """Tables ``presence_person``, ``presence_count`` and ``presence_period`` (see the
    module's docstring) for the time grid starting on day ``g0``, evidence up to ``as_of``;
    registrations ``join_days`` apart at most are one period, a permit starting
    ``renewal_days`` at most after the last one's end renews it."""
    deaths = ("SELECT CAST(NULL AS VARCHAR) AS person_id, 0 AS death_day WHERE FALSE"
              if "population_register" not in typed else f"""
              SELECT pr.person_id, min({_day('r.deregistration_date')}) AS death_day
              FROM {typed['population_register']} AS r JOIN person_records AS pr
                ON pr.source = 'population_register' AND pr.record_id = r.record_id
              WHERE r.deregistration_reason = 'death' GROUP BY pr.person_id""")
    create_table(con, "presence evidence", "presence_person", render(f"""
        WITH p AS (
            SELECT p.person_id,
                   CAST(CASE WHEN COALESCE(p.citizenship, p.country_of_birth) = {{country}}
                             THEN 0 ELSE 1 END AS TINYINT) AS person_group,
                   COALESCE(p.country_of_birth = {{country}}, FALSE) AS born_here,
                   COALESCE({_day('p.birth_date')},
                            {_day("make_date(CAST(p.birth_year AS INTEGER), 7, 1)")})
                       AS birth_day,
                   d.death_day
            FROM persons AS p LEFT JOIN ({deaths}) AS d ON d.person_id = p.person_id
        )
        SELECT CAST(row_number() OVER (ORDER BY person_group, person_id) - 1 AS INTEGER)
                   AS person_idx, *
        FROM p ORDER BY person_idx""", country=country))
    create_table(con, "presence evidence", "presence_count", render(f"""
        SELECT pp.person_idx,
               CAST(floor(({_day('e.d')} - {{g0}}) / {{step}}) AS INTEGER) AS week,
               CAST(e.channel AS TINYINT) AS channel, CAST(count(*) AS INTEGER) AS n
        FROM ({_points_sql(typed)}) AS e
        JOIN person_records AS pr ON pr.source = e.source AND pr.record_id = e.record_id
        JOIN presence_person AS pp ON pp.person_id = pr.person_id
        WHERE e.d IS NOT NULL AND {_day('e.d')} BETWEEN {{g0}} AND {{as_of}}
        GROUP BY ALL ORDER BY ALL""", g0=g0, as_of=as_of, step=STEP_DAYS))
    crossings = ("SELECT 'border_crossings' AS source, CAST(NULL AS VARCHAR) AS record_id, "
                 "CAST(NULL AS DATE) AS crossing_date, CAST(NULL AS VARCHAR) AS direction "
                 "WHERE FALSE") if "border_crossings" not in typed else (
        "SELECT 'border_crossings' AS source, record_id, crossing_date, direction "
        f"FROM {typed['border_crossings']}")
    create_table(con, "presence evidence", "presence_crossing", render(f"""
        SELECT pp.person_idx, {_day('c.crossing_date')} AS day, c.direction
        FROM ({crossings}) AS c
        JOIN person_records AS pr ON pr.source = c.source AND pr.record_id = c.record_id
        JOIN presence_person AS pp ON pp.person_id = pr.person_id
        WHERE c.crossing_date IS NOT NULL AND {_day('c.crossing_date')} <= {{as_of}}
        ORDER BY pp.person_idx, day""", as_of=as_of))
    create_table(con, "presence evidence", "presence_episode", render(f"""
        SELECT pp.person_idx, e.process, {_day('e.start_date')} AS start_day,
               COALESCE({_day('e.end_date')}, {{open_end}}) AS end_day, e.end_kind,
               e.from_abroad
        FROM ({_episodes_sql(typed)}) AS e
        JOIN person_records AS pr ON pr.source = e.source AND pr.record_id = e.record_id
        JOIN presence_person AS pp ON pp.person_id = pr.person_id
        WHERE e.start_date IS NOT NULL AND {_day('e.start_date')} <= {{as_of}}""",
        open_end=open_end, as_of=as_of))
    # episodes overlapping or following within a few days are one period (a population-
    # register episode ended for 'other', a move, within JOIN_DAYS; permits within
    # JOIN_DAYS: a short lapse is no departure); its end is the latest end, the way it ended
    # that of the episode ending last. A later permit in a period is a renewal when it
    # starts within RENEWAL_DAYS of the latest end so far, else another permit while one
    # was held (a new one before the journey back, say)
    create_table(con, "presence evidence", "presence_period", render("""
        WITH ordered AS (
            SELECT *, MAX(end_day) OVER (PARTITION BY person_idx, process
                                         ORDER BY start_day, end_day
                                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                      AS reach,
                   LAG(end_kind) OVER (PARTITION BY person_idx, process
                                       ORDER BY start_day, end_day) AS previous_end_kind
            FROM presence_episode
        ),
        flagged AS (
            SELECT *, reach IS NULL OR start_day > reach + CASE
                          WHEN process = {permit} THEN {join_days}
                          WHEN process = {register} AND previous_end_kind = 'other'
                              THEN {join_days}
                          ELSE {adjoin_days} END AS starts_period
            FROM ordered
        ),
        numbered AS (
            SELECT *, SUM(CASE WHEN starts_period THEN 1 ELSE 0 END)
                      OVER (PARTITION BY person_idx, process ORDER BY start_day, end_day
                            ROWS UNBOUNDED PRECEDING) AS period
            FROM flagged
        )
        SELECT person_idx, process, period, min(start_day) AS start_day,
               max(end_day) AS end_day,
               CASE WHEN max(end_day) > {as_of} THEN NULL
                    ELSE arg_max(end_kind, end_day) END AS end_kind,
               arg_min(from_abroad, start_day) AS from_abroad,
               COALESCE(list(start_day ORDER BY start_day) FILTER (
                   WHERE NOT starts_period AND abs(start_day - reach) <= {adjoin_days}), [])
                   AS renewals,
               COALESCE(list(start_day ORDER BY start_day) FILTER (
                   WHERE NOT starts_period AND abs(start_day - reach) > {adjoin_days}), [])
                   AS restarts
        FROM numbered GROUP BY person_idx, process, period ORDER BY person_idx""",
        join_days=int(join_days), adjoin_days=int(renewal_days), as_of=as_of,
        permit=RESIDENCE_PERMIT, register=POPULATION_REGISTER))
