"""Run the evidence model (``pipelines.presence``) on one person's source records.

Records are given per source with day numbers; all belong to one person. The estimated lags
(registration, deregistration) need many persons, so a test passes them in.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines import presence as ps

EPOCH = dt.date(1970, 1, 1)

COLUMNS = {
    "population_register": ("registration_date DATE, deregistration_date DATE, "
                            "deregistration_reason VARCHAR, previous_residence_country VARCHAR"),
    "aliens_register": "registration_date DATE, end_date DATE",
    "residence_permits": "valid_from DATE, valid_to DATE",
    "border_crossings": "crossing_date DATE, direction VARCHAR",
    "activity": "activity_date DATE",
    "census": "census_date DATE",
    "survey": "interview_date DATE",
}


def _value(v):
    return EPOCH + dt.timedelta(days=v) if isinstance(v, int) and not isinstance(v, bool) else v


def stays_from_records(records: dict[str, list[tuple]], as_of: int, sol_start: int = 0,
                       lags: dict[str, int] | None = None,
                       params: ps.PresenceParameters | None = None,
                       arrival_lags: dict[str, int] | None = None,
                       absences: list[tuple[bool, int, int]] | None = None,
                       traced_share: float | None = None) -> list[tuple]:
    """[(arrival, departure)] of the one person owning ``records`` (source -> rows in the
    order of ``COLUMNS[source]``); ``lags``: deregistration lag by kind of report;
    ``arrival_lags``: registration lag by source (``residence_permits`` for first permits);
    ``absences``: recorded trips abroad as (registered_from_abroad, absence days, trips); ``traced_share``: the
    share of long absences whose return left a trace of an arrival."""
    con = duckdb.connect()
    con.execute("CREATE TABLE person_records (person_id VARCHAR, source VARCHAR, "
                "record_id VARCHAR)")
    typed = {}
    for source, rows in records.items():
        table = f"src_{source}"
        typed[source] = table
        con.execute(f"CREATE TABLE {table} (record_id VARCHAR, {COLUMNS[source]})")
        for i, row in enumerate(rows):
            record_id = f"{source}-{i}"
            con.execute(f"INSERT INTO {table} VALUES (?{', ?' * len(row)})",
                        [record_id, *map(_value, row)])
            con.execute("INSERT INTO person_records VALUES ('p', ?, ?)", [source, record_id])
    ps.build_evidence(con, typed)
    ps.estimate_registration_lag(con)
    if arrival_lags:
        con.execute("DELETE FROM registration_lag")
        for source, days in arrival_lags.items():
            con.execute("INSERT INTO registration_lag VALUES (?, ?, 100)", [source, days])
        ps.add_estimated_arrivals(con)
    ps.estimate_deregistration_lag(con)
    con.execute("DELETE FROM deregistration_lag")
    for kind, days in (lags or {}).items():
        con.execute("INSERT INTO deregistration_lag VALUES (?, ?, 100)", [kind, days])
    ps.estimate_absence_length(con)
    for row in absences or []:
        con.execute("INSERT INTO absence_length VALUES (?, ?, ?)", list(row))
    if traced_share is not None:
        con.execute("UPDATE return_trace SET returns = 100, traced_share = ?", [traced_share])
    ps.build_presence(con, params or ps.PresenceParameters(), as_of, sol_start)
    return con.sql("SELECT arrival, departure FROM presence ORDER BY arrival").fetchall()
