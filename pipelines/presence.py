"""From linked evidence to presence (METHOD.md §2): who was in the country on which days.

Evidence, in day numbers (days since 1970-01-01):

* **points** (IN on that day): signs of life, census and survey interviews, registrations in
  the population and aliens registers, arrivals by border crossing, and the day before a
  departure by border crossing; the day before a death; permit renewals (a permit starting
  within ``EXPIRY_DAYS`` of the end of the person's previous one: renewing takes an
  application here; a permit after a lapse is a new one). Registrations
  from abroad and first permits also date the arrival, by their estimated lag.
* **breaks** (OUT from that day, nothing bridges them): departures by border crossing
  followed by evidence of an arrival (a crossing, a registration from abroad, a first
  permit; else only a registration bridges them), deregistrations for emigration, death. Softer: a foreigner's registration that ended on a
  day no permit of theirs expired (a reported departure, dated like a deregistration, after
  which no registration bridges the gap; it does not split a stay that evidence continues).
* **cover spells** (registered, not necessarily present): population register episodes,
  aliens register stays, residence permits. Population register episodes and open-ended
  foreigners' registrations or permanent permits are *residence registrations*; dated permits
  and registrations, whose validity often outlasts the stay, are weaker.

Consecutive points of a person are one stay when no break lies between them and the gap is
at most ``unknown_carry`` days, or a cover spell spans the gap and the part of the gap in which
signs of life were being observed is at most ``sol_lag`` days (a registration with no sign of
life for longer is **register over-coverage**: the person is taken as gone from the day after
their last evidence; evidence itself carries for ``unknown_carry`` days first, and a person
whose own signs of life are sparse gets a proportionally longer limit, see
``PresenceParameters``); a permit renewed at the end of the gap bridges it whatever its
length. The same test applies between a person's last point and the as-of date.
A stay ``[first point, last point + 1)``; departure null when it lasts to the end.
Late deregistration therefore never delays an emigration: the departure is the day after the
last evidence of presence, and the deregistration only stops the register from bridging.

A stay ending without a crossing ends half a sign-of-life gap after the last evidence, or on
a reported departure (a deregistration or a foreigner's registration ended) dated back by its
reporting lag. Crossings recorded on one side only prove a crossing on the other:

* an **arrival after a long silence** (a crossing in, a registration from abroad or a first
  permit) proves a departure in the silence, not before the person's registrations ended;
* a **departure crossing followed by a long silence** and then evidence that is no arrival
  proves a return in it, not before the registration the person came back to began.

The unrecorded crossing is dated at the posterior median of the time abroad: the prior is
the lengths of the recorded round trips (``absence_length``, apart for returns followed by
a registration from abroad), the likelihood the chance of the person's own signs of life
falling silent for the rest of the silence (``exp(-rate * days present)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.sql import create_table, render, run_stage

MIN_RATE_GAPS = 2  # a person's own sign-of-life rate needs at least 3 signs of life
MIN_EVIDENCE_DAYS = 2  # persons seen on one day only (often an unlinked record) make no events


@dataclass(frozen=True)
class PresenceParameters:
    """Parameters of the evidence model (METHOD.md §2).

    ``unknown_carry``: gaps between evidence up to this many days are presence.
    ``sol_lag``: a registration bridges a gap in signs of life of at least ``unknown_carry +
    sol_lag`` days (each piece of evidence carries presence for ``unknown_carry`` days; a
    registration with no evidence for ``sol_lag`` beyond that is over-coverage).
    ``sol_gap_alpha``: ... and of up to ``ln(n / alpha) / rate`` days for a person whose ``n``
    signs of life come at ``rate`` per day: if they arrive at random, the longest of ``n``
    gaps exceeds that with probability about ``alpha`` for someone who never left. Never more
    than ``sol_lag_max``. Estimated from each person's own data, so that sparse sign-of-life
    sources do not turn quiet residents into emigrants. A gap that ends in evidence with no
    trace of an arrival (no arrival crossing, registration from abroad or first permit) is
    bridged with ``alpha`` divided by the share of long absences whose return leaves no trace
    (``return_trace``, from the data): being seen again without having arrived is itself
    evidence of having stayed. (Not for a person without a rate: a limit that grows once the
    person is seen again made the nowcast's early emigrations vanish later, 12% too many
    expected at 100,000 persons.)
    """

    unknown_carry: int = 92
    sol_lag: int = 365
    sol_gap_alpha: float = 0.01
    sol_lag_max: int = 2190

    def __post_init__(self) -> None:
        if not 0 < self.sol_gap_alpha < 1:
            raise ValueError(f"sol_gap_alpha must be in (0, 1), got {self.sol_gap_alpha!r}")
        if self.unknown_carry < 0 or self.sol_lag < 0 or self.sol_lag_max < self.sol_lag:
            raise ValueError("need unknown_carry >= 0 and 0 <= sol_lag <= sol_lag_max, got "
                             f"unknown_carry={self.unknown_carry!r}, sol_lag={self.sol_lag!r}, "
                             f"sol_lag_max={self.sol_lag_max!r}")


def _source_sql(typed: dict[str, str], source: str, body: str) -> str | None:
    if source not in typed:
        return None
    return body.replace("{src}", typed[source])


def evidence_points_sql(typed: dict[str, str]) -> str:
    parts = [
        _source_sql(typed, "activity",
                    "SELECT 'activity' AS source, record_id, activity_date AS day "
                    "FROM {src}"),
        _source_sql(typed, "census",
                    "SELECT 'census' AS source, record_id, census_date AS day FROM {src}"),
        _source_sql(typed, "survey",
                    "SELECT 'survey' AS source, record_id, interview_date AS day FROM {src}"),
        _source_sql(typed, "population_register",
                    "SELECT CASE WHEN previous_residence_country IS NOT NULL "
                    "THEN 'population_register_from_abroad' ELSE 'population_register' END "
                    "AS source, record_id, registration_date AS day FROM {src} "
                    "UNION ALL SELECT 'population_register', record_id, "
                    "deregistration_date - 1 FROM {src} "
                    "WHERE deregistration_reason = 'death'"),
        _source_sql(typed, "aliens_register",
                    "SELECT 'aliens_register_from_abroad' AS source, record_id, "
                    "registration_date AS day FROM {src}"),
        _source_sql(typed, "border_crossings",
                    "SELECT 'border_crossings_' || direction AS source, record_id, "
                    "CASE WHEN direction = 'in' THEN crossing_date ELSE crossing_date - 1 END "
                    "AS day FROM {src}"),
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
                    "'crossing' AS kind FROM {src} WHERE direction = 'out'"),
        _source_sql(typed, "population_register",
                    "SELECT 'population_register' AS source, record_id, "
                    "deregistration_date AS day, deregistration_reason AS kind FROM {src} "
                    "WHERE deregistration_reason IN ('emigration', 'death')"),
        _source_sql(typed, "aliens_register", _REGISTRATION_END),
    ]
    return _union(parts, "CAST(NULL AS DATE) AS day, CAST(NULL AS VARCHAR) AS kind")


# A foreigner's registration ended on a day no permit of theirs expired: an ending the person
# (or the office) reported, most often a departure. Ends on a permit's expiry say only that the
# permit was not renewed. Soft evidence: it dates a departure, it never splits a stay.
_REGISTRATION_END = (
    "SELECT 'aliens_register' AS source, a.record_id, a.end_date AS day, "
    "'registration_end' AS kind FROM {src} AS a WHERE a.end_date IS NOT NULL")
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
                    "TRUE AS residence_registration FROM {src}"),
        _source_sql(typed, "aliens_register",
                    "SELECT 'aliens_register' AS source, record_id, "
                    "registration_date AS spell_start, end_date AS spell_end, "
                    "end_date IS NULL AS residence_registration FROM {src}"),
        _source_sql(typed, "residence_permits",
                    "SELECT 'residence_permits' AS source, record_id, valid_from AS spell_start, "
                    "valid_to AS spell_end, valid_to IS NULL AS residence_registration "
                    "FROM {src}"),
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


def build_evidence(con: Any, typed: dict[str, str]) -> None:
    """Tables ``evidence_point``, ``evidence_break``, ``cover_spell`` keyed by person_id, and
    ``cover_period``: a person's overlapping or adjoining registrations of one class merged."""
    for table, sql, cols, keep in (
        ("cover_spell", cover_spells_sql(typed),
         f"{_days('e.spell_start')} AS spell_start, {_days('e.spell_end')} AS spell_end, "
         "e.source, e.residence_registration", "e.spell_start IS NOT NULL"),
        ("evidence_point", evidence_points_sql(typed), f"{_days('e.day')} AS day, e.source",
         "e.day IS NOT NULL"),
        ("evidence_break", evidence_breaks_sql(typed), f"{_days('e.day')} AS day, e.kind",
         "e.day IS NOT NULL AND (e.kind <> 'registration_end'"
         + _NOT_AN_EXPIRY.format(day=_days("e.day"), expiry_days=EXPIRY_DAYS) + ")"),
    ):
        create_table(con, "evidence", table, f"""
            SELECT pr.person_id, {cols}
            FROM ({sql}) AS e
            JOIN person_records AS pr ON pr.record_id = e.record_id
             AND pr.source = regexp_replace(e.source, '_(in|out|from_abroad)$', '')
            WHERE {keep}""")
    build_cover_periods(con)
    run_stage(con, "evidence", render("""
        INSERT INTO evidence_point
        SELECT person_id, spell_start, 'permit_renewal'
        FROM """ + _PERMITS + """
        WHERE abs(spell_start - reach) <= {expiry_days}""",
        open_end=OPEN_END, expiry_days=EXPIRY_DAYS))


OPEN_END = 10**7  # a day number beyond any date


def build_cover_periods(con: Any, known_by: int = OPEN_END, table: str = "cover_period"
                        ) -> None:
    """Table ``cover_period``: a person's overlapping or adjoining registrations of one class
    merged, from the registrations that started by ``known_by`` (for an earlier as-of date:
    a renewal made later must not extend a registration that had ended)."""
    create_table(con, "evidence", table, render(
        _COVER_PERIODS, open_end=OPEN_END, join_days=COVER_JOIN_DAYS, known_by=known_by))


_REGISTRATIONS = """registrations AS (   -- registrations from abroad, first permits (not renewals)
SELECT source, person_id, day FROM evidence_point WHERE source LIKE '%_from_abroad'
UNION ALL
SELECT 'residence_permits' AS source, person_id, spell_start AS day
FROM """ + _PERMITS + """
WHERE reach IS NULL OR spell_start > reach + {join_days}
)"""
_REGISTRATION_LAG = "WITH " + _REGISTRATIONS + """,
pairs AS (   -- each registration from abroad with the nearest arrival crossing before it;
             -- each first permit (not a renewal) with the nearest one around its start
    SELECT r.source, r.person_id, r.day,
           arg_min(r.day - c.day, abs(r.day - c.day)) AS lag
    FROM registrations AS r JOIN evidence_point AS c
      ON c.person_id = r.person_id AND c.source = 'border_crossings_in'
     AND c.day > r.day - {max_lag}
     AND c.day <= r.day + CASE WHEN r.source = 'residence_permits' THEN {max_lag} ELSE 0 END
    GROUP BY r.source, r.person_id, r.day
)
SELECT source, CAST(round(median(lag)) AS INTEGER) AS lag_days, count(*) AS pairs
FROM pairs GROUP BY source HAVING count(*) >= {min_pairs}
"""
REGISTRATION_LAG_MAX = 180  # an arrival crossing this long before a registration explains it
REGISTRATION_LAG_MIN_PAIRS = 30


_DEREGISTRATION_LAG = """
WITH pairs AS (   -- each reported departure with the nearest departure crossing
    SELECT d.kind, d.person_id, d.day, arg_min(d.day - c.day, abs(d.day - c.day)) AS lag
    FROM evidence_break AS d JOIN evidence_break AS c
      ON c.person_id = d.person_id AND c.kind = 'crossing'
     AND c.day BETWEEN d.day - {max_lag} AND d.day + {max_early}
    WHERE d.kind IN ('emigration', 'registration_end')
    GROUP BY d.kind, d.person_id, d.day
)
SELECT kind, CAST(round(median(lag)) AS INTEGER) AS lag_days, count(*) AS pairs
FROM pairs GROUP BY kind HAVING count(*) >= {min_pairs}
"""


# evidence that the person arrived from abroad that day: a crossing in, a registration from
# abroad, an arrival dated back from one or from a first permit
_ARRIVAL = ("source = 'border_crossings_in' OR source = 'estimated_arrival' "
            "OR source LIKE '%_from_abroad'")

_ABSENCE_LENGTH = """
WITH moves AS (   -- evidence of presence, and departures by border crossing
    SELECT person_id, day, source FROM evidence_point
    UNION ALL
    SELECT person_id, day, 'departure' AS source FROM evidence_break WHERE kind = 'crossing'
),
ordered AS (
    SELECT person_id, day, source,
           LEAD(day) OVER (PARTITION BY person_id
                           ORDER BY day, CASE WHEN source = 'departure' THEN 1 ELSE 0 END,
                                    source)
               AS next_day,
           LEAD(source) OVER (PARTITION BY person_id
                              ORDER BY day, CASE WHEN source = 'departure' THEN 1 ELSE 0 END,
                                    source)
               AS next_source
    FROM moves
),
trips AS (   -- a departure crossing whose next evidence is the return crossing, and whether
             -- a registration from abroad followed the return (a migration, not a trip)
    SELECT o.next_day - o.day AS absence, COUNT(r.day) > 0 AS registered_from_abroad
    FROM ordered AS o LEFT JOIN evidence_point AS r
      ON r.person_id = o.person_id AND r.source LIKE '%_from_abroad'
     AND r.day BETWEEN o.next_day AND o.next_day + {registration_lag_max}
    WHERE o.source = 'departure' AND o.next_source = 'border_crossings_in'
    GROUP BY o.person_id, o.day, o.next_day
)
SELECT registered_from_abroad, absence, trips FROM (
    SELECT registered_from_abroad,
           CAST(floor(absence / {bin_days}) AS INTEGER) * {bin_days} + {half_bin} AS absence,
           count(*) AS trips,
           SUM(count(*)) OVER (PARTITION BY registered_from_abroad) AS kind_trips
    FROM trips GROUP BY 1, 2
) AS binned
WHERE kind_trips >= {min_trips}
"""
ABSENCE_BIN_DAYS = 14
ABSENCE_MIN_TRIPS = 30

_RETURN_TRACE = """
WITH points AS (
    SELECT person_id, day,
           bool_or(""" + _ARRIVAL + """) AS arrival,
           bool_or(source = 'border_crossings_out') AS eve_of_departure
    FROM evidence_point GROUP BY person_id, day
),
ordered AS (
    SELECT day, eve_of_departure,
           LEAD(day) OVER (PARTITION BY person_id ORDER BY day) AS next_day,
           LEAD(arrival) OVER (PARTITION BY person_id ORDER BY day) AS next_is_arrival
    FROM points
)
SELECT count(*) AS returns,
       CASE WHEN count(*) >= {min_returns}
            THEN avg(CASE WHEN next_is_arrival THEN 1.0 ELSE 0.0 END) END AS traced_share
FROM ordered WHERE eve_of_departure AND next_day - day > {long_absence}
"""
RETURN_TRACE_MIN = 30
LONG_ABSENCE = 365


def estimate_absence_length(con: Any) -> None:
    """``absence_length``: how long people stay abroad before they come back (trips by length,
    in bins of ``ABSENCE_BIN_DAYS``), from the recorded round trips: a departure crossing whose
    next evidence is a return crossing. Apart for returns followed by a registration from
    abroad (people coming to live here again, mostly after a year or more) and the others
    (mostly trips of weeks); a kind with fewer than ``ABSENCE_MIN_TRIPS`` recorded trips is
    left out. It dates the unrecorded departures that an arrival crossing proves.

    Also ``return_trace`` (returns, traced_share): of the people seen again more than
    ``LONG_ABSENCE`` days after a recorded departure, the share whose return left a trace (an
    arrival crossing, a registration from abroad, a first permit); null below
    ``RETURN_TRACE_MIN`` returns. A registered resident seen again without such a trace is
    that much less likely to have been away (see ``PresenceParameters``)."""
    create_table(con, "absence length", "absence_length", render(
        _ABSENCE_LENGTH, bin_days=ABSENCE_BIN_DAYS, half_bin=ABSENCE_BIN_DAYS // 2,
        min_trips=ABSENCE_MIN_TRIPS, registration_lag_max=REGISTRATION_LAG_MAX))
    create_table(con, "absence length", "return_trace", render(
        _RETURN_TRACE, min_returns=RETURN_TRACE_MIN, long_absence=LONG_ABSENCE))


def estimate_deregistration_lag(con: Any) -> None:
    """``deregistration_lag``: how long after leaving people report it (median), per kind of
    report (``emigration``: a deregistration; ``registration_end``: a foreigner's registration
    ended off a permit expiry), from reports near a recorded departure crossing. A report then
    dates the departure at most that long before it (never before the last evidence)."""
    create_table(con, "deregistration lag", "deregistration_lag", render(
        _DEREGISTRATION_LAG, max_lag=2 * REGISTRATION_LAG_MAX, max_early=60,
        min_pairs=REGISTRATION_LAG_MIN_PAIRS))


def estimate_registration_lag(con: Any) -> None:
    """``registration_lag``: how long after arriving people register, per register, and how
    long after a first residence permit starts they arrive (a negative lag: permits are
    mostly issued before the journey).

    Estimated from the data: registrations from abroad preceded by a recorded arrival
    crossing, first permits with one near their start. A registration from abroad or a first
    permit then also says the person was present from that many days after the arrival
    (an extra evidence point, ``estimated_arrival``), so stays do not start late by the lag,
    nor late by months when a permit holder leaves no other trace on arriving.
    """
    create_table(con, "registration lag", "registration_lag", render(
        _REGISTRATION_LAG, max_lag=REGISTRATION_LAG_MAX, min_pairs=REGISTRATION_LAG_MIN_PAIRS,
        open_end=OPEN_END, join_days=COVER_JOIN_DAYS))
    add_estimated_arrivals(con)


def add_estimated_arrivals(con: Any) -> None:
    """Evidence points ``estimated_arrival``: each registration from abroad and first permit
    dated back (or on) by its ``registration_lag``, unless an arrival crossing is near."""
    run_stage(con, "registration lag", render("""
        INSERT INTO evidence_point
        WITH """ + _REGISTRATIONS + """
        SELECT e.person_id, e.day - l.lag_days, 'estimated_arrival'
        FROM registrations AS e JOIN registration_lag AS l ON l.source = e.source
        WHERE l.lag_days <> 0 AND NOT EXISTS (
            SELECT 1 FROM evidence_point AS c
            WHERE c.person_id = e.person_id AND c.source = 'border_crossings_in'
              AND c.day <= GREATEST(e.day, e.day - l.lag_days)
              AND c.day > LEAST(e.day, e.day - l.lag_days) - 31)""",
        open_end=OPEN_END, join_days=COVER_JOIN_DAYS))


_PRESENCE = """
WITH observed_points AS (
    SELECT person_id, day,
           bool_or(""" + _ARRIVAL + """) AS arrival,
           bool_or(source = 'border_crossings_out') AS eve_of_departure,
           bool_or(source = 'permit_renewal') AS renewal
    FROM evidence_point WHERE day <= {as_of} GROUP BY person_id, day
),
sign_of_life_gap AS (
    SELECT person_id, day - LAG(day) OVER (PARTITION BY person_id ORDER BY day) AS gap
    FROM (SELECT DISTINCT person_id, day FROM evidence_point
          WHERE source = 'activity' AND day <= {as_of}) AS a
),
sign_of_life_rate AS (   -- each person's own rate of signs of life, per day: from the median
    SELECT person_id,     -- gap (ln 2 / median for random arrivals), robust to long absences
           ln(2) / nullif(median(gap), 0) AS rate, count(*) + 1 AS n,
           median(gap) AS median_gap
    FROM sign_of_life_gap WHERE gap IS NOT NULL GROUP BY person_id
    HAVING count(*) >= {min_rate_gaps}
),
after_departure AS (   -- a departure crossing, a long silence, then evidence of presence
                       -- that is no arrival: the person came back, unrecorded
    SELECT o.person_id, o.day, o.next_day
    FROM (SELECT person_id, day, eve_of_departure,
                 LEAD(day) OVER (PARTITION BY person_id ORDER BY day) AS next_day,
                 LEAD(arrival) OVER (PARTITION BY person_id ORDER BY day) AS next_is_arrival
          FROM observed_points) AS o
    WHERE o.eve_of_departure AND NOT o.next_is_arrival AND o.next_day - o.day > {unknown_carry}
      AND NOT EXISTS (SELECT 1 FROM evidence_break AS x
                      WHERE x.person_id = o.person_id AND x.day > o.day + 1
                        AND x.day <= o.next_day)
),
silence_after_departure AS (   -- ... and not before the registration they came back to began
    SELECT a.person_id, a.day + 1 AS day, a.next_day - a.day - 1 AS silence,
           COALESCE(r.rate, 0) AS sign_of_life_rate, FALSE AS registered_from_abroad,
           MIN(GREATEST(s.spell_start, a.day + 1)) - a.day - 1 AS least_absence
    FROM after_departure AS a JOIN {cover_table} AS s
      ON s.person_id = a.person_id AND s.spell_start <= a.next_day
     AND COALESCE(s.spell_end, {as_of} + 1) >= a.next_day
    LEFT JOIN sign_of_life_rate AS r ON r.person_id = a.person_id
    GROUP BY a.person_id, a.day, a.next_day, r.rate
),
{unrecorded_return}
points AS (   -- evidence, and the returns it implies, dated at the posterior median absence
    SELECT person_id, day, bool_or(arrival) AS arrival,
           bool_or(eve_of_departure) AS eve_of_departure, bool_or(renewal) AS renewal
    FROM (SELECT * FROM observed_points
          UNION ALL
          SELECT person_id, day + absence AS day, TRUE, FALSE, FALSE
          FROM unrecorded_return_absence) AS p
    GROUP BY person_id, day
),
ordered AS (
    SELECT person_id, day,
           LEAD(day) OVER (PARTITION BY person_id ORDER BY day) AS next_day,
           LEAD(arrival) OVER (PARTITION BY person_id ORDER BY day) AS next_is_arrival,
           LEAD(eve_of_departure) OVER (PARTITION BY person_id ORDER BY day)
               AS next_is_departure,
           LEAD(renewal) OVER (PARTITION BY person_id ORDER BY day) AS next_is_renewal
    FROM points
),
gaps AS (   -- every gap after a point, the last one running to the as-of date
    SELECT o.person_id, o.day, o.next_day, COALESCE(o.next_day, {as_of}) AS gap_end,
           o.next_day IS NULL AS is_tail,
           COALESCE(o.next_is_arrival, FALSE) AS next_is_arrival,
           COALESCE(o.next_is_departure, FALSE) AS next_is_departure,
           COALESCE(o.next_is_renewal, FALSE) AS next_is_renewal,
           -- evidence carries presence for unknown_carry days; a registration with no
           -- evidence for sol_lag beyond that is over-coverage
           -- a gap that ends in evidence with no trace of an arrival is less likely an
           -- absence, by the share of long absences whose return leaves no trace
           LEAST({sol_lag_max}, GREATEST({unknown_carry} + {sol_lag}, CASE
               WHEN o.next_day IS NULL OR o.next_is_arrival
                   THEN COALESCE(ln(r.n / {sol_gap_alpha}) / r.rate, 0)
               ELSE COALESCE(ln(r.n / {sol_gap_alpha}
                                / GREATEST(1 - COALESCE(t.traced_share, 0), 0.01)) / r.rate,
                             0) END)) AS bridge_limit,
           -- a departure after the last evidence is expected about half a gap later
           CAST(GREATEST(1, LEAST({unknown_carry}, COALESCE(r.median_gap, 0) / 2)) AS INTEGER)
               AS departure_lag,
           COALESCE(r.rate, 0) AS sign_of_life_rate
    FROM ordered AS o LEFT JOIN sign_of_life_rate AS r ON r.person_id = o.person_id
    CROSS JOIN return_trace AS t
),
breaks AS (
    SELECT g.person_id, g.day,
           bool_or(b.kind <> 'crossing' OR g.next_is_arrival) AS hard,
           bool_or(b.kind = 'crossing' AND b.day = g.day + 1) AS crossed_next_day,
           min(b.day) AS first_break,
           min(b.day) FILTER (WHERE b.kind = 'emigration') AS deregistered
    FROM gaps AS g JOIN evidence_break AS b
      ON b.person_id = g.person_id AND b.day > g.day AND b.day <= g.gap_end
     AND b.kind <> 'registration_end'
    -- a departure followed by another departure proves an unrecorded return in between:
    -- it says nothing about how long the person was away
    WHERE NOT (b.kind = 'crossing' AND g.next_is_departure AND b.day < g.gap_end)
    GROUP BY g.person_id, g.day
),
reported AS (   -- a registration ended (off a permit expiry) in the gap: dates a departure
    SELECT g.person_id, g.day, min(b.day - l.lag_days) AS departure
    FROM gaps AS g JOIN evidence_break AS b
      ON b.person_id = g.person_id AND b.day > g.day AND b.day <= g.gap_end
     AND b.kind = 'registration_end'
    JOIN deregistration_lag AS l ON l.kind = b.kind
    GROUP BY g.person_id, g.day
),
covered AS (   -- a registration spans the gap and signs of life were missing not too long:
               -- a residence registration up to the person's own limit, a foreigner's
               -- registration or permit (often outlasting the stay), or a residence
               -- registration after a recorded departure, up to the fixed one
    SELECT DISTINCT g.person_id, g.day
    FROM gaps AS g JOIN {cover_table} AS s
      ON s.person_id = g.person_id AND s.spell_start <= g.day
     AND COALESCE(s.spell_end, {as_of} + 1) >= g.gap_end
    LEFT JOIN breaks AS b ON b.person_id = g.person_id AND b.day = g.day
    LEFT JOIN reported AS r ON r.person_id = g.person_id AND r.day = g.day
    WHERE g.gap_end - g.day > {unknown_carry} AND r.person_id IS NULL
      AND GREATEST(LEAST(g.gap_end, {as_of}) - GREATEST(g.day, {sol_start}), 0)
          <= CASE WHEN g.next_is_renewal AND b.person_id IS NULL THEN g.gap_end - g.day
                  WHEN s.residence_registration AND b.person_id IS NULL THEN g.bridge_limit
                  WHEN s.residence_registration OR b.person_id IS NULL THEN {foreign_limit}
                  ELSE -1 END   -- a permit says nothing about a return
),
silence_before_arrival AS (   -- a long silence ends with an arrival: the person left during
                             -- it, unrecorded, and not before their registrations ended
    SELECT g.person_id, g.day, g.gap_end - g.day AS silence, g.sign_of_life_rate,
           COUNT(f.day) > 0 AS registered_from_abroad,
           g.gap_end - MAX(LEAST(COALESCE(s.spell_end, {as_of} + 1), g.gap_end))
               AS least_absence
    FROM gaps AS g JOIN {cover_table} AS s
      ON s.person_id = g.person_id AND s.spell_start <= g.day
    LEFT JOIN breaks AS b ON b.person_id = g.person_id AND b.day = g.day
    LEFT JOIN reported AS r ON r.person_id = g.person_id AND r.day = g.day
    LEFT JOIN evidence_point AS f
      ON f.person_id = g.person_id AND f.source LIKE '%_from_abroad' AND f.day <= {as_of}
     AND f.day BETWEEN g.gap_end AND g.gap_end + {registration_lag_max}
    WHERE g.next_is_arrival AND b.person_id IS NULL AND r.person_id IS NULL
      AND g.gap_end - g.day > {unknown_carry}
    GROUP BY g.person_id, g.day, g.gap_end, g.sign_of_life_rate
),
{unrecorded_departure}bridged AS (
    SELECT g.person_id, g.day, g.next_day, g.is_tail,
        CASE WHEN b.crossed_next_day THEN g.day + 1
             WHEN u.person_id IS NOT NULL THEN u.day + u.silence - u.absence
             -- a reported departure, dated by its reporting lag; else half a gap later
             ELSE LEAST(GREATEST(g.day + 1, COALESCE(
                                 GREATEST(b.deregistered - (SELECT max(lag_days)
                                                            FROM deregistration_lag
                                                            WHERE kind = 'emigration'),
                                          r.departure),
                                 g.day + g.departure_lag)),
                        COALESCE(b.first_break, g.gap_end), g.gap_end) END
            AS departure_if_last,
        CASE WHEN b.hard THEN FALSE
             -- an out-crossing whose return was not recorded: only a registration bridges
             WHEN b.person_id IS NOT NULL THEN c.person_id IS NOT NULL
             WHEN g.gap_end - g.day <= {unknown_carry} THEN TRUE
             WHEN u.person_id IS NOT NULL THEN FALSE
             WHEN c.person_id IS NOT NULL THEN TRUE
             ELSE FALSE END AS continues
    FROM gaps AS g
    LEFT JOIN breaks AS b ON b.person_id = g.person_id AND b.day = g.day
    LEFT JOIN covered AS c ON c.person_id = g.person_id AND c.day = g.day
    LEFT JOIN reported AS r ON r.person_id = g.person_id AND r.day = g.day
    LEFT JOIN unrecorded_departure_absence AS u ON u.person_id = g.person_id AND u.day = g.day
),
numbered AS (
    SELECT *, SUM(CASE WHEN starts THEN 1 ELSE 0 END) OVER (
                  PARTITION BY person_id ORDER BY day ROWS UNBOUNDED PRECEDING) AS stay_no
    FROM (SELECT *, COALESCE(NOT LAG(continues) OVER (PARTITION BY person_id ORDER BY day),
                             TRUE) AS starts
          FROM bridged) AS s
)
SELECT n.person_id, n.stay_no, MIN(n.day) AS arrival,
       CASE WHEN BOOL_OR(n.is_tail AND n.continues) THEN NULL
            WHEN BOOL_OR(n.is_tail) AND MAX(d.death_day) IS NOT NULL THEN NULL
            ELSE arg_max(n.departure_if_last, n.day) END AS departure
FROM numbered AS n
LEFT JOIN (SELECT person_id, MIN(day) AS death_day FROM evidence_break
           WHERE kind = 'death' AND day <= {as_of}
           GROUP BY person_id) AS d ON d.person_id = n.person_id
GROUP BY n.person_id, n.stay_no
"""

_COVER_PERIODS = """
WITH ordered AS (
    SELECT person_id, residence_registration, spell_start,
           COALESCE(spell_end, {open_end}) AS spell_end,
           MAX(COALESCE(spell_end, {open_end})) OVER (
               PARTITION BY person_id, residence_registration ORDER BY spell_start, spell_end
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM cover_spell WHERE spell_start <= {known_by}
),
numbered AS (
    SELECT *, SUM(CASE WHEN reach IS NULL OR spell_start > reach + {join_days} THEN 1 ELSE 0 END)
              OVER (PARTITION BY person_id, residence_registration ORDER BY spell_start,
                    spell_end ROWS UNBOUNDED PRECEDING) AS period
    FROM ordered
)
SELECT person_id, residence_registration, MIN(spell_start) AS spell_start,
       CASE WHEN MAX(spell_end) >= {open_end} THEN NULL ELSE MAX(spell_end) END AS spell_end
FROM numbered GROUP BY person_id, residence_registration, period
"""
COVER_JOIN_DAYS = 31  # registrations this close together (a move, a renewal) are one period


_ABSENCE_POSTERIOR = """
{name}_posterior AS (   -- absence length: recorded trips of that length (the prior) times the
                        -- chance of no sign of life in the rest of the silence
    SELECT s.person_id, s.day, s.silence, a.absence,
           ln(a.trips) - s.sign_of_life_rate * (s.silence - a.absence) AS log_weight
    FROM {silence} AS s JOIN absence_length AS a
      ON a.registered_from_abroad = s.registered_from_abroad
     AND a.absence >= s.least_absence AND a.absence < s.silence
),
{name}_cumulative AS (
    SELECT person_id, day, silence, absence,
           SUM(weight) OVER (PARTITION BY person_id, day ORDER BY absence
                             ROWS UNBOUNDED PRECEDING) AS weight_below,
           SUM(weight) OVER (PARTITION BY person_id, day) AS weight_total
    FROM (SELECT *, exp(log_weight - MAX(log_weight) OVER (PARTITION BY person_id, day))
                        AS weight
          FROM {name}_posterior) AS w
),
{name}_absence AS (   -- the posterior median absence in the silence after day
    SELECT person_id, day, silence,
           MIN(absence) FILTER (WHERE weight_below >= weight_total / 2) AS absence
    FROM {name}_cumulative GROUP BY person_id, day, silence
),"""


def _absence_posterior(name: str, silence: str) -> str:
    """CTEs ``{name}_absence`` (person_id, day, silence, absence): how long a person was abroad
    in a silence that a crossing proves held an absence, from the CTE ``silence``
    (person_id, day, silence, sign_of_life_rate, registered_from_abroad, least_absence)."""
    return _ABSENCE_POSTERIOR.replace("{name}", name).replace("{silence}", silence)


def build_presence(con: Any, params: PresenceParameters, as_of: int, sol_start: int,
                   table: str = "presence", cover_table: str = "cover_period") -> None:
    """Table ``presence`` (person_id, stay_no, arrival, departure) in day numbers, from the
    evidence observed up to ``as_of`` (another ``table`` for an earlier as-of date, with the
    registrations known then in ``cover_table``)."""
    template = (_PRESENCE
                .replace("{unrecorded_return}",
                         _absence_posterior("unrecorded_return", "silence_after_departure"))
                .replace("{unrecorded_departure}",
                         _absence_posterior("unrecorded_departure", "silence_before_arrival")))
    create_table(con, "presence", table, render(
        template, as_of=as_of, sol_start=sol_start, cover_table=cover_table,
        unknown_carry=params.unknown_carry,
        sol_lag=params.sol_lag, sol_lag_max=params.sol_lag_max,
        sol_gap_alpha=params.sol_gap_alpha,
        foreign_limit=params.unknown_carry + params.sol_lag, min_rate_gaps=MIN_RATE_GAPS,
        registration_lag_max=REGISTRATION_LAG_MAX))


def build_observed(con: Any, country: str, as_of: int, presence_table: str = "presence",
                   table: str = "observed") -> None:
    """Table ``observed``: initial status and end of observation per person.

    Only persons with evidence on at least two days, or a registration, are observed: a
    single record (most often one that failed to link) can show neither a 12-month stay nor a
    departure. Resident at start: born in the country (country of birth, or a first stay that starts
    within a month of the birth date). Observation ends at the as-of date or at death.
    """
    create_table(con, "observed", table, render("""
        WITH first_stay AS (SELECT person_id, MIN(arrival) AS first_arrival
                            FROM {presence_table} GROUP BY person_id),
             enough AS (   -- one record establishes neither a 12-month stay nor a departure
                SELECT person_id FROM evidence_point WHERE day <= {as_of} GROUP BY person_id
                HAVING count(DISTINCT day) >= {min_evidence_days}
                UNION SELECT person_id FROM cover_spell WHERE spell_start <= {as_of}),
             death AS (SELECT person_id, MIN(day) AS death_day FROM evidence_break
                       WHERE kind = 'death' AND day <= {as_of} GROUP BY person_id)
        SELECT p.person_id,
               COALESCE(p.country_of_birth = {country}, FALSE)
                 OR (p.birth_date IS NOT NULL AND f.first_arrival
                     - date_diff('day', DATE '1970-01-01', p.birth_date) <= 31)
                 AS resident_at_start,
               LEAST({as_of}, COALESCE(d.death_day, {as_of})) AS observation_end,
               d.death_day IS NULL AS alive
        FROM persons AS p
        JOIN first_stay AS f ON f.person_id = p.person_id
        LEFT JOIN death AS d ON d.person_id = p.person_id
        WHERE p.person_id IN (SELECT person_id FROM enough)""", country=country, as_of=as_of,
        presence_table=presence_table, min_evidence_days=MIN_EVIDENCE_DAYS))


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
