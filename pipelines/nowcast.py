"""Provisional events: how likely each is to be confirmed, expected flows, and a backtest.

METHOD.md §3: an event that cannot be decided at the as-of date ``T`` (its 12 or 16 months
are not over) is *provisional*. Its probability of confirmation comes from **cohorts whose
window is complete**: the same pipeline is run as of earlier dates ``A = T - tw - k * spacing``
(presence from the evidence observed up to ``A`` only), and each event provisional then is
looked up in what is known at ``T``: confirmed (same person, rule and type, date within 62
days) or not. The rate is taken by rule, event type and days observed so far (61-day bands),
and adjusted for the group (citizen or foreigner, sex, age group, stay purpose) with
empirical-Bayes shrinkage toward the band's rate, so small groups borrow strength.

The same cohorts measure the events not visible at all yet (a departure whose silence is
still short, an arrival not yet registered): per band, the later-confirmed events that had no
event then, per event visible then. Expected count = confirmed + the sum of the provisional
events' probabilities + each recent event's share of those unseen ones.

Backtest: pretend the as-of date is ``T - tw``; estimate the probabilities with cohorts known
by then only, predict the expected counts of the events dated in the 16 months before it, and
compare with what the data up to ``T`` confirm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines import presence as presence_stage
from pipelines.rules import create_events
from schemas import sql as db
from schemas.sql import create_table, from_day_number, render, run_stage

if TYPE_CHECKING:
    from pipelines.config import RunConfig

@dataclass(frozen=True)
class NowcastSettings:
    """``[nowcast]``: how provisional events learn their probability of confirmation."""

    cohorts: int = 4  # earlier as-of dates whose provisional events teach the probabilities
    cohort_spacing_days: int = 61  # days between them
    observed_band_days: int = 61  # days observed so far, in bands of this width
    shrinkage: float = 20.0  # pseudo-events pulling a group's rate toward its band's rate
    match_days: int = 62  # an event confirmed later may be dated a little differently

    def __post_init__(self) -> None:
        for name in ("cohorts", "cohort_spacing_days", "observed_band_days", "match_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
        if not float(self.shrinkage) >= 0:
            raise ValueError(f"shrinkage must be at least 0, got {self.shrinkage!r}")


def as_of_dates(as_of: int, tw: int, sol_start: int,
                settings: NowcastSettings | None = None) -> dict[str, int]:
    """The earlier as-of dates the nowcast reads the data as of, by name: the cohorts of
    the run (``now_k``), the backtest's as-of date (``backtest``) and its cohorts."""
    settings = settings or NowcastSettings()
    dates: dict[str, int] = {}

    def cohorts(reference: int, name: str) -> None:
        for k in range(settings.cohorts):
            day = reference - tw - k * settings.cohort_spacing_days
            if day - tw <= sol_start:
                break
            dates[f"{name}_{k}"] = day

    cohorts(as_of, "now")
    if as_of - 2 * tw > sol_start:
        dates["backtest"] = as_of - tw
        cohorts(as_of - tw, "backtest")
    return dates


def events_as_of(con: Any, config: RunConfig, country: str, as_of: int, name: str) -> str:
    """Table ``events_<name>``: every rule's events as the data up to ``as_of`` show them,
    from the presence the model read as of then (``presence_<name>``)."""
    presence_stage.build_observed(con, country, as_of, presence_table=f"presence_{name}",
                                  table=f"observed_{name}")
    create_events(con, f"events_{name}", config.rules, config.rule_parameters,
                  presence_table=f"presence_{name}", observed_table=f"observed_{name}")
    return f"events_{name}"


def _person_groups(con: Any, typed: dict[str, str], country: str) -> None:
    purposes = []
    if "aliens_register" in typed:
        purposes.append(f"SELECT pr.person_id, a.stay_purpose AS purpose FROM "
                        f"{typed['aliens_register']} AS a JOIN person_records AS pr "
                        f"ON pr.source = 'aliens_register' AND pr.record_id = a.record_id")
    if "residence_permits" in typed:
        purposes.append(f"SELECT pr.person_id, r.permit_type FROM "
                        f"{typed['residence_permits']} AS r JOIN person_records AS pr "
                        f"ON pr.source = 'residence_permits' AND pr.record_id = r.record_id")
    purpose = (" UNION ALL ".join(purposes) if purposes else
               "SELECT CAST(NULL AS VARCHAR) AS person_id, CAST(NULL AS VARCHAR) AS purpose "
               "WHERE FALSE")
    create_table(con, "nowcast", "nowcast_person_group", render(f"""
        WITH purpose AS (SELECT person_id, mode(purpose ORDER BY purpose) AS purpose FROM ({purpose})
                         WHERE purpose IS NOT NULL GROUP BY person_id)
        SELECT p.person_id, p.birth_year,
               CASE WHEN p.citizenship = {{country}} THEN 'citizen'
                    WHEN p.citizenship IS NULL THEN 'unknown' ELSE 'foreigner' END
                   || '|' || COALESCE(p.sex, '?') || '|' || COALESCE(s.purpose, 'none')
                   AS person_group
        FROM persons AS p LEFT JOIN purpose AS s ON s.person_id = p.person_id""",
        country=country))


def _grouped(events: str, as_of: int, tw: int, band_days: int) -> str:
    """Events of ``events`` dated in the ``tw`` days up to ``as_of`` (the ones not all
    decidable yet), with their band of days observed and their group."""
    year = "year(DATE '1970-01-01' + CAST(e.event_day AS INTEGER))"
    age = (f"CASE WHEN g.birth_year IS NULL THEN '?' WHEN {year} - g.birth_year < 18 "
           f"THEN '0-17' WHEN {year} - g.birth_year < 35 THEN '18-34' "
           f"WHEN {year} - g.birth_year < 55 THEN '35-54' ELSE '55+' END")
    return f"""
        SELECT e.person_id, e.rule, e.event_type, e.event_day, e.status,
               CAST(({as_of} - e.event_day) / {int(band_days)} AS INTEGER) AS band,
               COALESCE(g.person_group, '?') || '|' || {age} AS person_group
        FROM {events} AS e LEFT JOIN nowcast_person_group AS g ON g.person_id = e.person_id
        WHERE e.event_day > {as_of - tw} AND e.event_day <= {as_of}"""


def build_cohorts(con: Any, config: RunConfig, country: str, reference: str, reference_as_of: int,
                  sol_start: int, name: str) -> tuple[str, str]:
    """Tables ``cohorts_<name>``: provisional events as of earlier dates, with their outcome
    in ``reference`` (the events known at ``reference_as_of``); ``unseen_<name>``: per band of
    days before those dates, the events ``reference`` confirms that were not visible then
    at all (a departure not yet detectable, an arrival not yet registered), per visible one."""
    tw, settings = config.rule_parameters.tw, config.nowcast
    band, near = settings.observed_band_days, settings.match_days
    cohort_parts, unseen_parts = [], []
    for k in range(settings.cohorts):
        as_of = reference_as_of - tw - k * settings.cohort_spacing_days
        if as_of - tw <= sol_start:
            break
        events = events_as_of(con, config, country, as_of, f"{name}_{k}")
        cohort_parts.append(f"""
            SELECT c.*, EXISTS (
                SELECT 1 FROM {reference} AS r
                WHERE r.person_id = c.person_id AND r.rule = c.rule
                  AND r.event_type = c.event_type AND r.status = 'confirmed'
                  AND abs(r.event_day - c.event_day) <= {near}) AS confirmed
            FROM ({_grouped(events, as_of, tw, band)}) AS c WHERE c.status = 'provisional'""")
        unseen_parts.append(f"""
            SELECT rule, event_type, band, count(*) FILTER (WHERE side = 'visible') AS visible,
                   count(*) FILTER (WHERE side = 'unseen') AS unseen
            FROM (SELECT rule, event_type, band, 'visible' AS side
                  FROM ({_grouped(events, as_of, tw, band)})
                  UNION ALL
                  SELECT r.rule, r.event_type, band, 'unseen'
                  FROM ({_grouped(reference, as_of, tw, band)}) AS r
                  WHERE r.status = 'confirmed' AND NOT EXISTS (
                      SELECT 1 FROM {events} AS e
                      WHERE e.person_id = r.person_id AND e.rule = r.rule
                        AND e.event_type = r.event_type
                        AND abs(e.event_day - r.event_day) <= {near}))
            GROUP BY ALL""")
    empty = ("SELECT NULL AS person_id, NULL AS rule, NULL AS event_type, NULL AS event_day, "
             "NULL AS status, NULL AS band, NULL AS person_group, NULL AS confirmed WHERE FALSE")
    create_table(con, "nowcast", f"cohorts_{name}",
                 " UNION ALL ".join(cohort_parts) if cohort_parts else empty)
    create_table(con, "nowcast", f"unseen_{name}", (
        "SELECT rule, event_type, band, sum(unseen) / nullif(sum(visible), 0) AS uplift "
        f"FROM ({' UNION ALL '.join(unseen_parts)}) GROUP BY ALL") if unseen_parts else
        "SELECT NULL AS rule, NULL AS event_type, NULL AS band, NULL AS uplift WHERE FALSE")
    for k in range(settings.cohorts):   # the earlier as-of dates' working tables
        for table in (f"presence_{name}_{k}", f"observed_{name}_{k}", f"events_{name}_{k}",
                      f"events_{name}_{k}_vetoed"):
            run_stage(con, "nowcast", f"DROP TABLE IF EXISTS {table}")
    return f"cohorts_{name}", f"unseen_{name}"


def probabilities(con: Any, cohorts: tuple[str, str], events: str, as_of: int, tw: int,
                  name: str, settings: NowcastSettings | None = None) -> str:
    """Table ``expected_<name>``: each event of ``events`` dated in the last ``tw`` days with
    its ``probability`` of confirmation (1 when confirmed; null when no cohort of its rule
    and type was seen) and its ``expected_weight``: the probability plus its share of the
    events not yet visible at all."""
    cohort, unseen = cohorts
    settings = settings or NowcastSettings()
    shrinkage = float(settings.shrinkage)
    table = f"expected_{name}"
    create_table(con, "nowcast", table, f"""
        WITH kind AS (SELECT rule, event_type, avg(CAST(confirmed AS DOUBLE)) AS p
                      FROM {cohort} GROUP BY ALL),
             band AS (SELECT c.rule, c.event_type, c.band,
                             (sum(CAST(c.confirmed AS DOUBLE)) + {shrinkage!r} * k.p)
                             / (count(*) + {shrinkage!r}) AS p
                      FROM {cohort} AS c JOIN kind AS k USING (rule, event_type)
                      GROUP BY c.rule, c.event_type, c.band, k.p),
             grp AS (SELECT rule, event_type, band, person_group,
                            sum(CAST(confirmed AS DOUBLE)) AS k, count(*) AS n
                     FROM {cohort} GROUP BY ALL),
             target AS ({_grouped(events, as_of, tw, settings.observed_band_days)}),
             scored AS (
                SELECT t.person_id, t.rule, t.event_type, t.event_day, t.band,
                       CASE WHEN t.status = 'confirmed' THEN 1.0
                            ELSE (COALESCE(g.k, 0) + {shrinkage!r} * COALESCE(b.p, k.p))
                                 / (COALESCE(g.n, 0) + {shrinkage!r}) END AS probability
                FROM target AS t
                LEFT JOIN kind AS k USING (rule, event_type)
                LEFT JOIN band AS b USING (rule, event_type, band)
                LEFT JOIN grp AS g USING (rule, event_type, band, person_group))
        SELECT s.person_id, s.rule, s.event_type, s.event_day, s.probability,
               s.probability + COALESCE(u.uplift, 0) AS expected_weight
        FROM scored AS s LEFT JOIN {unseen} AS u USING (rule, event_type, band)""")
    return table


def build_nowcast(con: Any, config: RunConfig, typed: dict[str, str], country: str,
                  as_of: int, sol_start: int) -> None:
    """``expected_now``: probabilities and expected weights of the run's recent events."""
    _person_groups(con, typed, country)
    cohorts = build_cohorts(con, config, country, "events_days", as_of, sol_start, "now")
    probabilities(con, cohorts, "events_days", as_of, config.rule_parameters.tw, "now",
                  config.nowcast)


def backtest(con: Any, config: RunConfig, country: str, as_of: int, sol_start: int
             ) -> dict[str, Any]:
    """Pretend the as-of date is ``tw`` days earlier; compare its expected counts for the
    events dated in the ``tw`` days before it with what the data up to ``as_of`` confirm."""
    tw = config.rule_parameters.tw
    then = as_of - tw
    if then - tw <= sol_start:
        return {"possible": False, "reason": "less than two 16-month windows of evidence"}
    events_then = events_as_of(con, config, country, then, "backtest")
    cohorts = build_cohorts(con, config, country, events_then, then, sol_start, "backtest")
    expected = probabilities(con, cohorts, events_then, then, tw, "backtest", config.nowcast)
    rows = db.rows(con, "nowcast",
                   f"""
        WITH later AS (SELECT rule, event_type, count(*) AS confirmed_later
                       FROM events_days WHERE status = 'confirmed'
                         AND event_day > {then - tw} AND event_day <= {then} GROUP BY ALL)
        SELECT e.rule, e.event_type,
               count(*) FILTER (WHERE e.probability = 1) AS confirmed_then,
               count(*) FILTER (WHERE e.probability < 1) AS provisional_then,
               sum(e.expected_weight) AS expected_then, l.confirmed_later
        FROM {expected} AS e LEFT JOIN later AS l USING (rule, event_type)
        GROUP BY e.rule, e.event_type, l.confirmed_later ORDER BY ALL""")
    cohort_size = db.value(con, "nowcast", f"SELECT count(*) FROM {cohorts[0]}")
    table = []
    for rule, event_type, confirmed, provisional, expected, later in rows:
        later = later or 0
        table.append({
            "rule": rule, "event_type": event_type, "confirmed_then": confirmed,
            "provisional_then": provisional, "expected_then": round(expected, 1),
            "confirmed_later": later,
            "relative_error_expected": (expected - later) / later if later else None,
            "relative_error_confirmed_only": (confirmed - later) / later if later else None,
            "relative_error_counting_provisional": (confirmed + provisional - later) / later
            if later else None,
        })
    errors = [abs(r["relative_error_expected"]) for r in table
              if r["relative_error_expected"] is not None]
    return {"possible": True, "as_of_then": from_day_number(then).isoformat(),
            "period_days": tw,
            "cohort_events": int(cohort_size), "by_rule_and_type": table,
            "mean_absolute_relative_error_expected":
                sum(errors) / len(errors) if errors else None}
