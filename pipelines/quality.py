"""The quality figures of METHOD.md §4, computed from the run's tables: ``quality.json``.

Nothing here prints or stores a name, a birth date or a key: only counts and rates.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from pipelines.groups import broad_age_group_sql, citizenship_group_sql
from pipelines.population_size import chapman
from schemas import sql as db
from schemas.sql import day_number, from_day_number


def rows(con: Any, sql: str) -> list[dict[str, Any]]:
    frame = db.frame(con, "quality", sql)
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else
             v.isoformat() if isinstance(v, dt.date) else
             v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def one(con: Any, sql: str) -> Any:
    value = db.value(con, "quality", sql)
    return value.item() if hasattr(value, "item") else value


def source_sizes(con: Any, typed: dict[str, str]) -> dict[str, int]:
    return {s: int(one(con, f"SELECT count(*) FROM {t}")) for s, t in typed.items()}


def input_findings(con: Any) -> list[dict[str, Any]]:
    """The impossible records validation kept (``schemas.validation.check_logic``), counted
    by file and check; no values."""
    if not db.value(con, "quality", "SELECT count(*) FROM duckdb_tables() "
                                    "WHERE table_name = 'input_findings'"):
        return []
    return rows(con, "SELECT file, column_name AS column, problem, records, first_row "
                      "FROM input_findings ORDER BY file, column_name, problem")


def presence_model(con: Any, model: Any) -> dict[str, Any]:
    """What the presence model estimated from the data (``presence_model.describe``), and
    whom it could not place."""
    from pipelines import presence_model as pm
    return {
        **pm.describe(model),
        "persons_with_too_little_evidence": one(
            con, "SELECT count(*) FROM persons WHERE person_id NOT IN "
                 "(SELECT person_id FROM observed)"),
        "persons_in_doubt": one(
            con, "SELECT count(DISTINCT person_idx) FROM presence_paths_sampled"),
        "stays": one(con, "SELECT count(*) FROM presence"),
    }


def model_error(con: Any) -> list[dict[str, Any]]:
    """The presence model's own error, as the persons read again without their crossings
    show it (``pipelines.uncertainty.build_model_error``)."""
    return rows(con, """SELECT rule, event_type,
                                CASE person_group WHEN 0 THEN 'citizens'
                                     WHEN 1 THEN 'foreigners' ELSE 'all' END AS persons, held_out_persons, events_with,
                                events_pinned, events_without, round(shift, 3) AS shift,
                                round(variance_per_event, 3) AS variance_per_event
                         FROM model_error ORDER BY ALL""")


def flow_intervals(con: Any) -> list[dict[str, Any]]:
    """Per rule, year and event type: the expected count and its 90% interval, from the
    presence model's paths and its own error (``pipelines.uncertainty``)."""
    return rows(con, """SELECT rule, year, event_type, round(expected, 1) AS expected,
                                round(low, 1) AS low, round(high, 1) AS high
                         FROM flow_intervals ORDER BY ALL""")


AGE_BANDS_5 = "CASE WHEN {age} >= 85 THEN '85+' ELSE lpad(CAST(({age}) // 5 * 5 AS VARCHAR), 2, '0') || '-' || lpad(CAST(({age}) // 5 * 5 + 4 AS VARCHAR), 2, '0') END"  # noqa: E501
LAG_BANDS = ((0, 30, "under 1 month"), (30, 91, "1-3 months"), (91, 182, "3-6 months"),
             (182, 365, "6-12 months"), (365, 730, "1-2 years"), (730, None, "2 years or more"))


def register_coverage(con: Any, typed: dict[str, str], as_of: int, country: str
                      ) -> dict[str, Any] | None:
    """Over-coverage at the as-of date (in all and by citizenship group and age group),
    the population pyramid of usual residents against the register, and deregistration lag
    (median, 90th percentile and its distribution) (METHOD.md §4)."""
    if "population_register" not in typed:
        return None
    reg = typed["population_register"]
    as_of_date = from_day_number(as_of).isoformat()
    year = int(as_of_date[:4])
    on_day = f"CAST({db.literal(as_of_date)} AS DATE)"
    registered = f"""
        SELECT DISTINCT pr.person_id FROM {reg} AS r
        JOIN person_records AS pr ON pr.source = 'population_register'
         AND pr.record_id = r.record_id
        WHERE r.registration_date <= {on_day}
          AND (r.deregistration_date IS NULL OR r.deregistration_date > {on_day})"""
    present = "SELECT DISTINCT person_id FROM presence WHERE departure IS NULL"
    n_registered = one(con, f"SELECT count(*) FROM ({registered})")
    over = one(con, f"SELECT count(*) FROM ({registered}) AS r "
                     f"WHERE r.person_id NOT IN ({present})")
    unregistered = one(con, f"SELECT count(*) FROM ({present}) AS p "
                             f"WHERE p.person_id NOT IN ({registered})")
    age = f"{year} - p.birth_year"
    by_group = rows(con, f"""
        SELECT {citizenship_group_sql(country)} AS citizenship_group,
               {broad_age_group_sql(year)} AS age_group,
               count(*) AS registered,
               count(*) FILTER (WHERE r.person_id NOT IN ({present})) AS over_covered,
               count(*) FILTER (WHERE r.person_id NOT IN ({present})) / count(*)
                   AS over_coverage_rate
        FROM ({registered}) AS r JOIN persons AS p USING (person_id)
        GROUP BY ALL ORDER BY ALL""")
    band = AGE_BANDS_5.format(age=age)
    pyramid = rows(con, f"""
        WITH residents AS (
            SELECT DISTINCT person_id FROM residence_spells_days
            WHERE rule = 'continuous_12' AND spell_start <= {as_of}
              AND (spell_end IS NULL OR spell_end > {as_of})),
        persons_in AS (
            SELECT p.person_id, coalesce(p.sex, 'unknown') AS sex, {band} AS age_group,
                   p.person_id IN (SELECT person_id FROM residents) AS resident,
                   p.person_id IN ({registered}) AS registered
            FROM persons AS p WHERE p.birth_year IS NOT NULL)
        SELECT sex, age_group, count(*) FILTER (WHERE resident) AS usual_residents,
               count(*) FILTER (WHERE registered) AS registered
        FROM persons_in WHERE resident OR registered GROUP BY ALL ORDER BY ALL""")
    lags = f"""
        WITH dereg AS (
            SELECT pr.person_id,
                   date_diff('day', DATE '1970-01-01', r.deregistration_date) AS day
            FROM {reg} AS r JOIN person_records AS pr
              ON pr.source = 'population_register' AND pr.record_id = r.record_id
            WHERE r.deregistration_reason = 'emigration'
        )
        SELECT d.day - max(e.day) AS lag FROM dereg AS d
        JOIN evidence_point AS e ON e.person_id = d.person_id AND e.day < d.day
         AND e.source NOT LIKE 'population_register%'
         AND e.source <> 'estimated_arrival'
        GROUP BY d.person_id, d.day"""
    bands = " ".join(f"WHEN lag < {hi} THEN {i}" for i, (_lo, hi, _) in enumerate(LAG_BANDS)
                     if hi)
    band_counts = ", ".join(f"count(*) FILTER (WHERE band = {i}) AS band_{i}"
                            for i in range(len(LAG_BANDS)))
    found = rows(con, f"""  -- the lags read once: the join over the evidence is the work
        SELECT count(*) AS deregistrations, median(lag) AS median_days,
               quantile_cont(lag, 0.9) AS p90_days, {band_counts}
        FROM (SELECT lag, CASE {bands} ELSE {len(LAG_BANDS) - 1} END AS band
              FROM ({lags}))""")[0]
    lag = {k: found[k] for k in ("deregistrations", "median_days", "p90_days")}
    counts = {label: int(found[f"band_{i}"]) for i, (_lo, _hi, label) in enumerate(LAG_BANDS)}
    return {
        "as_of": as_of_date,
        "registered_residents": n_registered,
        "over_coverage": over,
        "over_coverage_rate": over / n_registered if n_registered else None,
        "unregistered_residents": unregistered,
        "deregistration_lag": lag,
        "deregistration_lag_distribution": [
            {"lag": label, "deregistrations": counts.get(label, 0)}
            for _lo, _hi, label in LAG_BANDS],
        "over_coverage_by_group": by_group,
        "pyramid": pyramid,
    }


def weak_evidence(con: Any, below: float) -> list[dict[str, Any]]:
    """Per rule: the confirmed events whose probability on the presence model's paths is
    below ``below`` (the evidence could as well be read without them)."""
    return rows(con, f"""
        SELECT e.rule, count(*) AS events,
               count(*) FILTER (WHERE coalesce(u.probability, 1) < {float(below)!r})
                   AS weak_events,
               count(*) FILTER (WHERE coalesce(u.probability, 1) < {float(below)!r})
                   / count(*) AS weak_share
        FROM events_days AS e LEFT JOIN event_uncertainty AS u
          USING (person_id, rule, event_type, event_day)
        WHERE e.status = 'confirmed' GROUP BY ALL ORDER BY ALL""")


def naive_register_flows(con: Any, typed: dict[str, str]) -> list[dict[str, Any]]:
    """What offices publish today: registrations from abroad, deregistrations to abroad."""
    if "population_register" not in typed:
        return []
    reg = typed["population_register"]
    return rows(con, f"""
        SELECT year, event_type, count(*) AS count FROM (
            SELECT year(registration_date) AS year, 'immigration' AS event_type
            FROM {reg} WHERE previous_residence_country IS NOT NULL
            UNION ALL
            SELECT year(deregistration_date), 'emigration' FROM {reg}
            WHERE deregistration_reason = 'emigration'
        ) GROUP BY ALL ORDER BY ALL""")


def event_country_coverage(con: Any) -> list[dict[str, Any]]:
    """Share of confirmed events whose previous or next country of residence is known."""
    return rows(con, """
        SELECT rule, event_type, count(*) AS events,
               avg(CASE WHEN country IS NULL THEN 0.0 ELSE 1.0 END) AS country_known
        FROM migration_events WHERE status = 'confirmed' GROUP BY ALL ORDER BY ALL""")


def events_by_year(con: Any) -> list[dict[str, Any]]:
    return rows(con, """
        SELECT rule, year(event_date) AS year, event_type, status, count(*) AS count,
               round(sum(expected_weight), 1) AS expected
        FROM migration_events GROUP BY ALL ORDER BY ALL""")


def initial_status(con: Any, window_start: int) -> dict[str, Any]:
    """Status at the window start: residents per rule (from the whole history before it), and
    persons first seen inside the window, whose status there is the default, not evidence."""
    residents = rows(con, f"""
        SELECT rule, count(DISTINCT person_id) AS residents_at_window_start
        FROM residence_spells_days
        WHERE spell_start <= {window_start}
          AND (spell_end IS NULL OR spell_end > {window_start})
        GROUP BY rule ORDER BY rule""")
    first_seen = rows(con, """
        SELECT count(*) AS persons_first_seen_in_window,
               count(*) FILTER (WHERE i.person_id IN (SELECT person_id FROM events_days))
                   AS of_whom_with_events,
               count(*) FILTER (WHERE o.resident_at_start) AS of_whom_born_in_the_country
        FROM initial_status AS i JOIN observed AS o USING (person_id)
        WHERE i.first_seen_in_window""")[0]
    return {"residents_at_window_start": residents, **first_seen}


def nowcast_summary(con: Any, as_of: int, tw: int) -> list[dict[str, Any]]:
    """Events dated in the last ``tw`` days (not all decidable yet): confirmed, provisional,
    the sum of the provisional ones' probabilities, and the expected count (which also
    counts the events not yet visible, ``pipelines.nowcast``)."""
    return rows(con, f"""
        SELECT rule, event_type,
               count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
               count(*) FILTER (WHERE status = 'provisional') AS provisional,
               round(sum(confirmation_probability) FILTER (WHERE status = 'provisional'), 1)
                   AS provisional_expected_to_confirm,
               round(sum(expected_weight), 1) AS expected
        FROM migration_events
        WHERE date_diff('day', DATE '1970-01-01', event_date) > {as_of - tw}
        GROUP BY ALL ORDER BY ALL""")


def dual_system_estimate(con: Any, typed: dict[str, str], census_day: str | None
                         ) -> dict[str, Any] | None:
    """Chapman estimate of the population on census day from register x census."""
    if census_day is None or "population_register" not in typed or "census" not in typed:
        return None
    reg = typed["population_register"]
    on_day = f"CAST({db.literal(census_day)} AS DATE)"
    census_day_number = day_number(dt.date.fromisoformat(census_day))
    n1 = f"""SELECT DISTINCT pr.person_id FROM {reg} AS r JOIN person_records AS pr
             ON pr.source = 'population_register' AND pr.record_id = r.record_id
             WHERE r.registration_date <= {on_day}
               AND (r.deregistration_date IS NULL OR r.deregistration_date > {on_day})"""
    # out-of-scope register records (over-coverage on census day) are removed first
    in_scope = f"""SELECT person_id FROM ({n1}) WHERE person_id IN (
        SELECT person_id FROM presence WHERE arrival <= {census_day_number}
        AND (departure IS NULL OR departure > {census_day_number}))"""
    n2 = "SELECT DISTINCT person_id FROM person_records WHERE source = 'census'"
    a = one(con, f"SELECT count(*) FROM ({in_scope})")
    b = one(con, f"SELECT count(*) FROM ({n2})")
    m = one(con, f"SELECT count(*) FROM ({in_scope}) WHERE person_id IN ({n2})")
    dse = chapman(a, b, m)
    estimate, se = dse["estimate"], dse["standard_error"]
    return {"census_date": census_day, "register_in_scope": a, "census": b, "both": m,
            "chapman_estimate": estimate, "standard_error": se,
            "ci95": [dse["low"], dse["high"]],
            "census_coverage": b / estimate if estimate else None}
