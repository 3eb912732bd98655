"""How sure the events and flows are: read off paths drawn from the presence model.

For every person in doubt, ``pipelines.presence_fit`` draws paths from the posterior of the
presence model (``presence_sampled``: person_id, sample, stay_no, arrival, departure). The
rules of METHOD.md run on each path as they run on the decoded presence. Then:

* an event's ``probability`` is the share of paths holding an event of the same rule and
  type within ``MATCH_DAYS`` of it, and ``date_low`` / ``date_high`` the 5% and 95% points of
  those events' dates (persons not in doubt: probability 1, the date itself);
* a flow's expected count and 90% interval are the mean and the 5% and 95% points, over the
  paths, of the events in its cell, each weighted as the nowcast weighs events of its rule,
  type, status and age (``pipelines.nowcast``); persons not in doubt add their events to
  every path.

The paths hold only the uncertainty of the model's reading of each person, as if the model
were true. How far the model itself is off is measured on the run's own data: a share of the
persons with some crossing recorded are decoded a second time as if the border had recorded
none of their moves (``presence_held_out``), and the rules run on both readings. Per rule,
type and person group (citizens, foreigners), over the complete years: the change in their
count of events per event a crossing had dated (``shift``: found = true * (1 + shift)) and
the years' scatter about it (``variance_per_event``). In every cell, each event found that
no crossing dates then stands for 1 / (1 + shift) events; the interval is widened by the
scatter, the shift's sampling variance, and the gain itself taken as a standard deviation
(the shift is read off persons whose moves crossings record; on the others it is known in
size, not exactly) (``model_error``, ``model_error_by_year``).

Paths are keyed ``person_idx * samples + sample`` for the rules, so that the rules' SQL runs
on them unchanged.
"""

from __future__ import annotations

from typing import Any

from pipelines.groups import age_group_sql
from pipelines.rules import Rule, RuleParameters, create_events, last_complete_year
from schemas.sql import create_table, from_day_number, render

_NULLABLE = ("citizenship", "sex", "age_group", "country")
MATCH_DAYS = 62  # an event on a path within this many days of the decoded one is the same
LOW, HIGH = 0.05, 0.95  # the 90% interval
PIN_DAYS = 14  # a recorded crossing this close to an event, in its direction, pins its date
LEAST_KEPT = 0.2  # a shift is read as keeping at least this share of the events
LEAST_PINNED = 100  # pinned events of the held-out persons needed to measure the model's error
Z_HIGH = 1.6449  # the normal's 95% point: a model error's standard deviation to its interval


def build_sampled_events(con: Any, rules: tuple[Rule, ...], params: RuleParameters,
                         samples: int, match_days: int = MATCH_DAYS) -> None:
    """``events_sampled`` (the rules on every drawn path) and ``event_uncertainty``: each
    decoded event (``events_days``) with its probability and date interval."""
    create_table(con, "event uncertainty", "presence_sampled_paths", render("""
        SELECT CAST(p.person_idx AS BIGINT) * {samples} + s.sample AS person_id,
               s.stay_no, s.arrival, s.departure
        FROM presence_sampled AS s JOIN presence_person AS p USING (person_id)""",
        samples=samples))
    create_table(con, "event uncertainty", "observed_sampled", render("""
        SELECT CAST(t.person_idx AS BIGINT) * {samples} + t.sample AS person_id,
               o.resident_at_start, o.observation_end, o.alive
        FROM presence_paths_sampled AS t JOIN presence_person AS p USING (person_idx)
        JOIN observed AS o ON o.person_id = p.person_id""", samples=samples))
    create_events(con, "events_sampled", rules, params,
                  presence_table="presence_sampled_paths", observed_table="observed_sampled")
    create_table(con, "event uncertainty", "event_uncertainty", render("""
        WITH doubted AS (SELECT DISTINCT person_idx FROM presence_paths_sampled),
        main AS (
            SELECT e.person_id, p.person_idx, e.rule, e.event_type, e.event_day
            FROM events_days AS e JOIN presence_person AS p USING (person_id)
            WHERE p.person_idx IN (SELECT person_idx FROM doubted)
        ),
        drawn AS (
            SELECT CAST(person_id // {samples} AS INTEGER) AS person_idx,
                   person_id % {samples} AS sample, rule, event_type, event_day
            FROM events_sampled
        ),
        matched AS (   -- per path, the nearest event of the same rule and type
            SELECT m.person_id, m.rule, m.event_type, m.event_day, d.sample,
                   arg_min(d.event_day, abs(d.event_day - m.event_day)) AS day
            FROM main AS m JOIN drawn AS d
              ON d.person_idx = m.person_idx AND d.rule = m.rule
             AND d.event_type = m.event_type AND abs(d.event_day - m.event_day) <= {match}
            GROUP BY ALL
        )
        SELECT m.person_id, m.rule, m.event_type, m.event_day,
               count(x.sample) / {samples_real} AS probability,
               COALESCE(quantile_disc(x.day, {low}), m.event_day) AS day_low,
               COALESCE(quantile_disc(x.day, {high}), m.event_day) AS day_high
        FROM main AS m LEFT JOIN matched AS x
          ON x.person_id = m.person_id AND x.rule = m.rule AND x.event_type = m.event_type
         AND x.event_day = m.event_day
        GROUP BY m.person_id, m.rule, m.event_type, m.event_day""",
        samples=samples, samples_real=float(samples), match=match_days, low=LOW, high=HIGH))


def build_model_error(con: Any, rules: tuple[Rule, ...], params: RuleParameters,
                      window_start: int, as_of: int, pin_days: int = PIN_DAYS,
                      least_pinned: int = LEAST_PINNED, least_kept: float = LEAST_KEPT
                      ) -> None:
    """``model_error`` per rule, type and person group (citizens, foreigners): the held-out
    persons' events over the complete years with their crossings (``events_with``, of which
    ``events_pinned`` had a crossing in their direction within ``pin_days``) and without
    (``events_without``); ``shift``, the events gained per pinned event, and
    ``variance_per_event``, the years' scatter about it per pinned event (both null below
    ``least_pinned`` pinned events); group -1 is all persons, whose shift stands in for a
    group's where that is null. And ``model_error_by_year`` per rule, year and type,
    summed over the groups measured: ``unpinned_share`` of the cell's events,
    ``shift_rate`` (the cell's expected count moves by minus this share of itself),
    ``variance_rate`` and ``squared_rate`` (its error's variance is ``expected *
    variance_rate + expected ** 2 * squared_rate``)."""
    create_table(con, "model error", "observed_held_out", """
        SELECT o.* FROM observed AS o JOIN presence_person AS p USING (person_id)
        WHERE p.person_idx IN (SELECT person_idx FROM presence_paths_held_out)""")
    create_events(con, "events_held_out", rules, params,
                  presence_table="presence_held_out", observed_table="observed_held_out")
    year = "year(DATE '1970-01-01' + CAST(e.event_day AS INTEGER))"
    create_table(con, "model error", "events_pinned", render(f"""
        SELECT e.person_id, e.rule, e.event_type, e.event_day, {year} AS year,
               p.person_group, p.person_idx IN (SELECT person_idx FROM presence_paths_held_out) AS held_out,
               EXISTS (SELECT 1 FROM presence_crossing AS c
                       WHERE c.person_idx = p.person_idx AND abs(c.day - e.event_day) <= {{pin}}
                         AND c.direction = CASE e.event_type WHEN 'immigration' THEN 'in'
                                                ELSE 'out' END) AS pinned
        FROM events_days AS e JOIN presence_person AS p USING (person_id)
        WHERE e.event_day >= {{window_start}} AND e.event_day <= {{as_of}}""",
        pin=pin_days, window_start=window_start, as_of=as_of))
    last_year = last_complete_year(from_day_number(as_of), params.tw)
    create_table(con, "model error", "model_error", render(f"""
        WITH counted AS (   -- the complete years: later, events are not yet final
            SELECT rule, event_type, person_group, year, count(*) AS n_with,
                   count(*) FILTER (WHERE pinned) AS n_pinned, 0 AS n_without
            FROM events_pinned WHERE held_out AND year <= {{last_year}} GROUP BY ALL
            UNION ALL
            SELECT e.rule, e.event_type, p.person_group, {year}, 0, 0, count(*)
            FROM events_held_out AS e JOIN presence_person AS p USING (person_id)
            WHERE e.event_day >= {{window_start}} AND {year} <= {{last_year}} GROUP BY ALL
        ),
        years AS (   -- per group, and for all persons together (group -1)
            SELECT rule, event_type, COALESCE(person_group, -1) AS person_group, year,
                   sum(n_with) AS n_with, sum(n_pinned) AS n_pinned,
                   sum(n_without) AS n_without
            FROM counted
            GROUP BY GROUPING SETS ((rule, event_type, person_group, year),
                                    (rule, event_type, year))),
        kinds AS (SELECT r.rule, t.event_type, g.person_group
                  FROM (SELECT DISTINCT rule FROM events_days) AS r
                  CROSS JOIN (VALUES ('immigration'), ('emigration')) AS t(event_type)
                  CROSS JOIN (SELECT DISTINCT person_group FROM presence_person
                              UNION ALL SELECT -1) AS g),
        totals AS (
            SELECT k.rule, k.event_type, k.person_group,
                   (SELECT count(*) FROM presence_paths_held_out AS h
                    JOIN presence_person AS p USING (person_idx)
                    WHERE k.person_group IN (p.person_group, -1)) AS held_out_persons,
                   CAST(COALESCE(sum(y.n_with), 0) AS BIGINT) AS events_with,
                   CAST(COALESCE(sum(y.n_pinned), 0) AS BIGINT) AS events_pinned,
                   CAST(COALESCE(sum(y.n_without), 0) AS BIGINT) AS events_without,
                   count(y.year) AS years
            FROM kinds AS k LEFT JOIN years AS y USING (rule, event_type, person_group)
            GROUP BY ALL
        ),
        spread AS (   -- the years' scatter about the shift: each event's own variance
            SELECT t.rule, t.event_type, t.person_group,
                   sum(power(y.n_without - y.n_with - y.n_pinned * (t.events_without
                       - t.events_with) / t.events_pinned, 2)) * any_value(t.years)
                       / greatest(any_value(t.years) - 1, 1) AS spread
            FROM totals AS t JOIN years AS y USING (rule, event_type, person_group)
            WHERE t.events_pinned > 0 GROUP BY ALL
        )
        SELECT rule, event_type, person_group, held_out_persons, events_with, events_pinned,
               events_without,
               CASE WHEN events_pinned >= {{least}}
                    THEN (events_without - events_with) / events_pinned END AS shift,
               CASE WHEN events_pinned >= {{least}}
                    THEN spread / events_pinned END AS variance_per_event
        FROM totals LEFT JOIN spread USING (rule, event_type, person_group)""",
        window_start=window_start, last_year=last_year, least=int(least_pinned)))
    create_table(con, "model error", "model_error_by_year", render("""
        WITH shares AS (   -- per group: the share of the cell's events no crossing dates
            SELECT e.rule, e.year, e.event_type, e.person_group,
                   count(*) FILTER (WHERE NOT e.pinned) / any_value(c.n) AS unpinned_share
            FROM events_pinned AS e
            JOIN (SELECT rule, year, event_type, count(*) AS n FROM events_pinned
                  GROUP BY ALL) AS c USING (rule, year, event_type)
            GROUP BY ALL
        )
        SELECT s.rule, s.year, s.event_type, sum(s.unpinned_share) AS unpinned_share,
               -sum(s.unpinned_share * g.gain) AS shift_rate,
               sum(s.unpinned_share * m.variance_per_event * g.scale * g.scale)
                   AS variance_rate,
               sum(s.unpinned_share * s.unpinned_share
                   * (g.gain * g.gain + m.variance_per_event / m.events_pinned
                      * power(g.scale, 4))) AS squared_rate
        FROM shares AS s
        JOIN (   -- a group's own shift where enough of its events were dated, else all's
            SELECT g.rule, g.event_type, g.person_group,
                   COALESCE(g.shift, a.shift) AS shift,
                   CASE WHEN g.shift IS NULL THEN a.variance_per_event
                        ELSE g.variance_per_event END AS variance_per_event,
                   CASE WHEN g.shift IS NULL THEN a.events_pinned
                        ELSE g.events_pinned END AS events_pinned
            FROM model_error AS g JOIN model_error AS a
              ON a.rule = g.rule AND a.event_type = g.event_type AND a.person_group = -1
            WHERE g.person_group >= 0) AS m USING (rule, event_type, person_group),
        LATERAL (   -- found = true * (1 + shift): each event found stands for 1 / (1 + shift)
            SELECT 1 / GREATEST(1 + m.shift, {least_kept}) AS scale,
                   1 / GREATEST(1 + m.shift, {least_kept}) - 1 AS gain) AS g
        WHERE m.shift IS NOT NULL
        GROUP BY ALL""", least_kept=float(least_kept)))


def build_flow_intervals(con: Any, samples: int, window_start: int, as_of: int,
                         band_days: int, match_days: int = MATCH_DAYS) -> None:
    """``flow_cells_expected`` (per flows cell) and ``flow_intervals`` (per rule, year and
    event type): ``expected`` with its 90% interval ``low``/``high``, moved and widened by
    the model's own error (``model_error_by_year``); ``paths_expected``, ``paths_low`` and
    ``paths_high`` are the paths' alone (the mean, 5% and 95% points)."""
    year = "year(DATE '1970-01-01' + CAST(e.event_day AS INTEGER))"
    age = age_group_sql(f"{year} - p.birth_year")
    create_table(con, "flow intervals", "event_weight_by_age", render("""
        SELECT e.rule, e.event_type, e.status,
               CAST(({as_of} - e.event_day) / {band} AS INTEGER) AS band,
               avg(x.expected_weight) AS weight
        FROM events_days AS e JOIN expected_now AS x USING (person_id, rule, event_type,
                                                          event_day)
        GROUP BY ALL""", as_of=as_of, band=band_days))
    create_table(con, "flow intervals", "flow_draws", render(f"""
        WITH doubted AS (SELECT DISTINCT person_idx FROM presence_paths_sampled),
        drawn AS (
            SELECT pp.person_id, CAST(e.person_id % {{samples}} AS INTEGER) AS sample,
                   e.rule, e.event_type, e.event_day, e.status
            FROM events_sampled AS e
            JOIN presence_person AS pp
              ON pp.person_idx = CAST(e.person_id // {{samples}} AS INTEGER)
            WHERE e.event_day >= {{window_start}} AND e.event_day <= {{as_of}}
        ),
        sure AS (   -- persons not in doubt: their decoded events, on every path
            SELECT m.person_id, -1 AS sample, m.rule, m.event_type,
                   date_diff('day', DATE '1970-01-01', m.event_date) AS event_day, m.status,
                   m.country
            FROM migration_events AS m JOIN presence_person AS pp USING (person_id)
            WHERE pp.person_idx NOT IN (SELECT person_idx FROM doubted)
        ),
        countries AS (   -- a drawn event's country: the decoded event's nearest to it
            SELECT d.person_id, d.sample, d.rule, d.event_type, d.event_day,
                   arg_min(m.country, abs(date_diff('day', DATE '1970-01-01', m.event_date)
                                          - d.event_day)) AS country
            FROM drawn AS d JOIN migration_events AS m
              ON m.person_id = d.person_id AND m.rule = d.rule
             AND m.event_type = d.event_type
             AND abs(date_diff('day', DATE '1970-01-01', m.event_date) - d.event_day)
                 <= {int(match_days)}
            GROUP BY ALL
        ),
        events AS (
            SELECT d.*, c.country FROM drawn AS d LEFT JOIN countries AS c
              USING (person_id, sample, rule, event_type, event_day)
            UNION ALL SELECT * FROM sure
        )
        SELECT e.sample, e.rule, {year} AS year, e.event_type,
               COALESCE(p.citizenship, '') AS citizenship, COALESCE(p.sex, '') AS sex,
               COALESCE({age}, '') AS age_group, COALESCE(e.country, '') AS country, e.status,
               sum(COALESCE(w.weight, 1.0)) AS weight
        FROM events AS e JOIN persons AS p USING (person_id)
        LEFT JOIN event_weight_by_age AS w ON w.rule = e.rule AND w.event_type = e.event_type
             AND w.status = e.status
             AND w.band = CAST(({{as_of}} - e.event_day) / {{band}} AS INTEGER)
        GROUP BY ALL""", samples=samples, window_start=window_start, as_of=as_of,
        band=band_days))
    for table, cells in (("flow_cells_expected", "rule, year, event_type, citizenship, sex, "
                                                 "age_group, country, status"),
                         ("flow_intervals", "rule, year, event_type")):
        restored = ", ".join(  # unknowns were '' so that cells join; null again
            f"NULLIF({c}, '') AS {c}" if c in _NULLABLE else c for c in cells.split(", "))
        create_table(con, "flow intervals", table, render(f"""
            WITH per_path AS (
                SELECT {cells}, sample, sum(weight) AS weight FROM flow_draws
                WHERE sample >= 0 GROUP BY ALL
            ),
            sure AS (SELECT {cells}, sum(weight) AS weight FROM flow_draws
                     WHERE sample < 0 GROUP BY ALL),
            drawn AS (
                SELECT {cells}, list_resize(list(weight), {{samples}}, 0.0) AS weights
                FROM per_path GROUP BY ALL
            ),
            cells AS (SELECT {cells} FROM drawn UNION SELECT {cells} FROM sure),
            paths AS (
                SELECT {cells},
                       COALESCE(s.weight, 0) + COALESCE(list_avg(d.weights), 0) AS expected,
                       COALESCE(s.weight, 0) + COALESCE(
                           list_aggregate(d.weights, 'quantile_cont', {{low}}), 0) AS low,
                       COALESCE(s.weight, 0) + COALESCE(
                           list_aggregate(d.weights, 'quantile_cont', {{high}}), 0) AS high
                FROM cells AS c LEFT JOIN drawn AS d USING ({cells})
                LEFT JOIN sure AS s USING ({cells})
            ),
            widened AS (   -- moved by the model's shift, its error beside the paths' spread
                SELECT p.* EXCLUDE (expected, low, high),
                       p.expected * (1 - COALESCE(m.shift_rate, 0)) AS expected,
                       p.low - p.expected * COALESCE(m.shift_rate, 0) AS low,
                       p.high - p.expected * COALESCE(m.shift_rate, 0) AS high,
                       p.expected AS paths_expected,
                       {{z}} * sqrt(p.expected * p.expected * COALESCE(m.squared_rate, 0)
                                    + p.expected * COALESCE(m.variance_rate, 0)) AS model_half
                FROM paths AS p LEFT JOIN model_error_by_year AS m
                  USING (rule, year, event_type)
            )
            SELECT {restored}, expected, paths_expected,
                   GREATEST(0, expected - sqrt((expected - low) * (expected - low)
                                                + model_half * model_half)) AS low,
                   expected + sqrt((high - expected) * (high - expected)
                                   + model_half * model_half) AS high,
                   low AS paths_low, high AS paths_high
            FROM widened""",
            samples=samples, low=LOW, high=HIGH, z=Z_HIGH))
