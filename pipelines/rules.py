"""Migration events from presence under the two rules of METHOD.md §3, in set-based SQL.

Inputs (days are integers, days since 1970-01-01):

* ``presence``: ``person_id``, ``arrival``, ``departure`` -- the person's stays in the
  country ``[arrival, departure)``, non-overlapping and separated by at least one day;
  ``departure`` is null when the stay lasts to the end of observation (the as-of date, or
  death: a death ends presence without a crossing).
* ``observed``: ``person_id``, ``resident_at_start`` (born in the country: resident from
  birth), ``observation_end`` (the as-of date ``T``, or the day of death), ``alive``.

How the walk of METHOD.md becomes set-based SQL: whether a crossing *would* make a migration
if it were in migration direction depends only on presence, never on the status. So each
arrival and departure is first classed as qualifying (confirmed or provisional) or not, with
window functions; then the status walk is the same as keeping the first crossing of each run of
qualifying crossings of one kind (arrival, departure), after dropping a leading run that is
already in the direction of the initial status. No loop per person, no recursion.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from schemas import sql as db
from schemas.sql import create_table, identifier, render, run_stage

Rule = Literal["continuous_12", "12_of_16"]
RULES: tuple[Rule, ...] = ("continuous_12", "12_of_16")


@dataclass(frozen=True)
class RuleParameters:
    """Thresholds of METHOD.md §3, in days."""

    tm: int = 365
    tw: int = 487
    gap_max: int = 90
    # Stats NZ / migrbc: a return within ts = 2 * tn days of a migration cannot itself be one
    instant_return: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.tm < self.tw:
            raise ValueError(f"need 0 < tm < tw, got tm={self.tm!r}, tw={self.tw!r}")
        if self.gap_max < 0:
            raise ValueError(f"gap_max must be >= 0, got gap_max={self.gap_max!r}")
        if not isinstance(self.instant_return, bool):
            raise ValueError("instant_return must be true or false, got "
                             f"instant_return={self.instant_return!r}")

    @property
    def tn(self) -> int:
        return self.tw - self.tm

    @property
    def ts(self) -> int:
        """migrbc's threshold for the instant non-migration of a return: ``2 * tn``. With
        complete windows a return that soon after a migration can never qualify anyway (its
        own window holds at most ``tn + (t - migration)`` days in its new state); the rule
        binds where windows are incomplete, after provisional events."""
        return 2 * self.tn


_STAYS = """
stays AS (
    SELECT p.person_id, p.arrival, p.departure, o.observation_end, o.alive,
           o.resident_at_start,
           LEAD(p.arrival) OVER (PARTITION BY p.person_id ORDER BY p.arrival) AS next_arrival
    FROM {presence_table} AS p
    JOIN {observed_table} AS o ON o.person_id = p.person_id
    WHERE p.arrival < o.observation_end
),
stay_flags AS (
    SELECT *,
        -- the absence after this stay interrupts a run of presence (longer than gap_max)
        CASE WHEN departure IS NULL THEN FALSE
             WHEN next_arrival IS NOT NULL THEN next_arrival - departure > {gap_max}
             ELSE observation_end - departure > {gap_max} END AS ends_presence_run,
        -- this stay interrupts a run of absence (longer than gap_max)
        COALESCE(departure, observation_end) - arrival > {gap_max} AS ends_absence_run
    FROM stays
)"""

_CONTINUOUS_CANDIDATES = """
crossings AS (
    SELECT person_id, arrival AS day, 'immigration' AS event_type, observation_end, alive,
           resident_at_start,
           MIN(CASE WHEN ends_presence_run THEN departure END) OVER (
               PARTITION BY person_id ORDER BY arrival
               ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS run_end
    FROM stay_flags
    UNION ALL
    SELECT person_id, departure AS day, 'emigration' AS event_type, observation_end, alive,
           resident_at_start, run_end
    FROM (
        SELECT *, MIN(CASE WHEN ends_absence_run THEN arrival END) OVER (
                      PARTITION BY person_id ORDER BY arrival
                      ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS run_end
        FROM stay_flags
    ) AS d
    WHERE departure IS NOT NULL
),
candidates AS (
    SELECT person_id, day, event_type, resident_at_start,
        CASE WHEN run_end IS NOT NULL THEN
                  CASE WHEN run_end - day >= {tm} THEN 'confirmed' END
             WHEN observation_end - day >= {tm} THEN 'confirmed'
             WHEN alive THEN 'provisional' END AS status
    FROM crossings
)"""

_TWELVE_OF_SIXTEEN_CANDIDATES = """
crossings AS (
    SELECT person_id, arrival AS day, 'immigration' AS event_type, observation_end, alive,
           resident_at_start
    FROM stay_flags
    UNION ALL
    SELECT person_id, departure, 'emigration', observation_end, alive, resident_at_start
    FROM stay_flags WHERE departure IS NOT NULL
),
windows AS (
    SELECT c.person_id, c.day, c.event_type, c.observation_end, c.alive, c.resident_at_start,
           LEAST(c.day + {tw}, c.observation_end) AS window_end,
           -- LEAST/GREATEST skip NULLs on DuckDB and Spark: guard the unmatched row
           SUM(CASE WHEN s.person_id IS NULL THEN 0 ELSE
               LEAST(COALESCE(s.departure, s.observation_end),
                     LEAST(c.day + {tw}, c.observation_end))
               - GREATEST(s.arrival, c.day) END) AS days_present
    FROM crossings AS c
    LEFT JOIN stay_flags AS s
      ON s.person_id = c.person_id
     AND s.arrival < LEAST(c.day + {tw}, c.observation_end)
     AND COALESCE(s.departure, s.observation_end) > c.day
    GROUP BY ALL
),
counted AS (
    SELECT *,
        CASE WHEN event_type = 'immigration' THEN window_end - day - days_present
             ELSE days_present END AS days_in_old_state,
        CASE WHEN event_type = 'immigration' THEN days_present
             ELSE window_end - day - days_present END AS days_in_new_state
    FROM windows
),
candidates AS (
    SELECT person_id, day, event_type, resident_at_start,
        CASE WHEN days_in_old_state > {tn} THEN NULL
             WHEN days_in_new_state >= {tm} THEN 'confirmed'
             WHEN day + {tw} > observation_end AND alive THEN 'provisional' END AS status
    FROM counted
)"""

_CANDIDATES_KEPT = """
qualifying AS (
    SELECT *, LAG(event_type) OVER (PARTITION BY person_id ORDER BY day) AS previous_type
    FROM candidates AS c WHERE status IS NOT NULL"""
# candidates on a day a crossing that cannot be a migration vetoes (``vetoed_table``)
_NOT_VETOED = """
      AND NOT EXISTS (SELECT 1 FROM {vetoed_table} AS v WHERE v.person_id = c.person_id
                      AND v.rule = {rule} AND v.event_type = c.event_type
                      AND v.event_day = c.day)"""
_WALK = """
)
SELECT person_id, {rule} AS rule, event_type, day AS event_day, status
FROM qualifying
WHERE event_type <> COALESCE(previous_type,
      CASE WHEN resident_at_start THEN 'immigration' ELSE 'emigration' END)
"""


def last_complete_year(as_of: dt.date, tw: int) -> int:
    """The last calendar year whose events are all final at ``as_of``: an event needs ``tw``
    days after it to be decided, so a year is complete once ``tw`` days have passed since
    its 31 December."""
    final = as_of - dt.timedelta(days=tw)
    return final.year if (final.month, final.day) == (12, 31) else final.year - 1


def migration_events_sql(
    rule: Rule,
    params: RuleParameters,
    presence_table: str = "presence",
    observed_table: str = "observed",
    dialect: str = "duckdb",
    vetoed_table: str | None = None,
) -> str:
    """SELECT of one rule's events: person_id, rule, event_type, event_day, status.

    ``vetoed_table`` (person_id, rule, event_type, event_day) lists crossings that cannot be
    migrations (``create_events`` fills it for the instant rule)."""
    if rule == "continuous_12":
        body = _CONTINUOUS_CANDIDATES
    elif rule == "12_of_16":
        body = _TWELVE_OF_SIXTEEN_CANDIDATES
    else:
        raise ValueError(f"unknown rule={rule!r}; expected one of {RULES}")
    kept = _CANDIDATES_KEPT + ("" if vetoed_table is None else _NOT_VETOED)
    template = "WITH " + _STAYS + "," + body + "," + kept + _WALK
    return render(
        template,
        dialect=dialect,
        presence_table=presence_table,
        observed_table=observed_table,
        **({} if vetoed_table is None else {"vetoed_table": vetoed_table}),
        rule=rule,
        tm=params.tm,
        tw=params.tw,
        tn=params.tn,
        gap_max=params.gap_max,
    )


def all_rules_events_sql(
    rules: tuple[Rule, ...],
    params: RuleParameters,
    presence_table: str = "presence",
    observed_table: str = "observed",
    vetoed_table: str | None = None,
) -> str:
    """UNION ALL of the events of several rules."""
    parts = [
        migration_events_sql(r, params, presence_table, observed_table,
                             vetoed_table=vetoed_table) for r in rules
    ]
    return "\nUNION ALL\n".join(f"SELECT * FROM ({p})" for p in parts)


_FIRST_TOO_SOON = """
SELECT person_id, rule, event_type, event_day FROM (
    SELECT *, row_number() OVER (PARTITION BY person_id, rule ORDER BY event_day) AS k
    FROM (SELECT *, event_day - LAG(event_day) OVER (PARTITION BY person_id, rule
                                                      ORDER BY event_day) AS since_previous
          FROM {events_table}) AS e
    WHERE since_previous < {ts}
) AS f WHERE k = 1
"""


def create_events(con: Any, table: str, rules: tuple[Rule, ...], params: RuleParameters,
                  presence_table: str = "presence", observed_table: str = "observed") -> None:
    """Table ``table``: every rule's events.

    With ``params.instant_return`` (migrbc): a crossing less than ``ts`` days after the
    person's previous migration is vetoed, and the walk is run again, since the veto changes
    which crossings follow. Each pass vetoes each person's first such crossing, so the passes
    end; in practice one or two. Vetoed crossings are kept in ``<table>_vetoed``.
    """
    if not params.instant_return:
        create_table(con, "rules", table, all_rules_events_sql(
            rules, params, presence_table, observed_table))
        return
    vetoed = f"{table}_vetoed"
    create_table(con, "rules", vetoed, "SELECT CAST(NULL AS VARCHAR) AS person_id, "
                 "CAST(NULL AS VARCHAR) AS rule, CAST(NULL AS VARCHAR) AS event_type, "
                 "CAST(NULL AS INTEGER) AS event_day WHERE FALSE")
    vetoed_so_far = 0
    while True:
        create_table(con, "rules", table, all_rules_events_sql(
            rules, params, presence_table, observed_table, vetoed_table=vetoed))
        run_stage(con, "rules", f"INSERT INTO {identifier(vetoed)} " + render(
            _FIRST_TOO_SOON, events_table=table, ts=params.ts))
        n_vetoed = db.value(con, "events", f"SELECT count(*) FROM {identifier(vetoed)}")
        if n_vetoed == vetoed_so_far:  # nothing new: the events stand
            return
        vetoed_so_far = n_vetoed


_SPELLS = """
WITH ordered AS (
    SELECT e.person_id, e.rule, e.event_type, e.event_day,
           LEAD(e.event_day) OVER (PARTITION BY e.person_id, e.rule ORDER BY e.event_day)
               AS next_event_day
    FROM {events_table} AS e
),
first_stay AS (
    SELECT person_id, MIN(arrival) AS first_arrival FROM {presence_table} GROUP BY person_id
),
first_event AS (
    SELECT person_id, rule, MIN(event_day) AS first_event_day
    FROM {events_table} GROUP BY person_id, rule
),
starts AS (
    -- residents from the start: a spell from their first stay to their first event, which
    -- is an emigration because events alternate in type
    SELECT o.person_id, r.rule, f.first_arrival AS spell_start, fe.first_event_day AS spell_end
    FROM {observed_table} AS o
    JOIN first_stay AS f ON f.person_id = o.person_id
    CROSS JOIN (SELECT DISTINCT rule FROM {rules_table}) AS r
    LEFT JOIN first_event AS fe ON fe.person_id = o.person_id AND fe.rule = r.rule
    WHERE o.resident_at_start
    UNION ALL
    SELECT person_id, rule, event_day, next_event_day
    FROM ordered WHERE event_type = 'immigration'
)
-- a spell still open when a death ends the observation ends with it
SELECT s.person_id, s.rule, s.spell_start,
       CASE WHEN s.spell_end IS NULL AND NOT o.alive THEN o.observation_end
            ELSE s.spell_end END AS spell_end
FROM starts AS s JOIN {observed_table} AS o ON o.person_id = s.person_id
"""


def residence_spells_sql(
    events_table: str = "events_days",
    presence_table: str = "presence",
    observed_table: str = "observed",
    rules_table: str = "rules_run",
) -> str:
    """SELECT of residence spells (days): the intervals in which the status is resident.

    ``spell_end`` is null while the person is still resident at the end of observation, and
    the day of death for a person who died resident.
    Events alternate in type, so an immigration opens a spell and the next event closes it.
    """
    return render(
        _SPELLS,
        events_table=events_table,
        presence_table=presence_table,
        observed_table=observed_table,
        rules_table=rules_table,
    )
