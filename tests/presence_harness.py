"""Read one person's stays off the presence model (``pipelines.presence_fit``).

Records are given per source with day numbers; all belong to one person. A single person
cannot teach the model its rates, so the tests read them with a model fitted once on a
synthetic country (``fixtures/presence_model_default_world.json``, a run's
``presence_model.json``): what the golden timelines pin is how the model weighs evidence,
not one world's rates.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb

from pipelines import presence_evidence as ev
from pipelines import presence_fit
from pipelines.presence_model import ModelParameters

EPOCH = dt.date(1970, 1, 1)
FITTED = ModelParameters.from_json(json.loads(
    (Path(__file__).parent / "fixtures" / "presence_model_default_world.json").read_text()))

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


def stays_from_records(records: dict[str, list[tuple]], as_of: int, native: bool = True,
                       birth: int = 0, params: ModelParameters | None = None
                       ) -> list[tuple[int, int | None]]:
    """[(arrival, departure)] of the one person owning ``records`` (source -> rows in the
    order of ``COLUMNS[source]``), born on day ``birth``: in the country (``native``) or
    abroad, a citizen or a foreigner alike."""
    con = duckdb.connect()
    con.execute("CREATE TABLE person_records (person_id VARCHAR, source VARCHAR, "
                "record_id VARCHAR)")
    country = "KAZ" if native else "UZB"
    con.execute("CREATE TABLE persons AS SELECT 'p' AS person_id, 'F' AS sex, "
                "year(CAST(? AS DATE)) AS birth_year, CAST(? AS DATE) AS birth_date, "
                "? AS citizenship, ? AS country_of_birth",
                [_value(birth), _value(birth), country, country])
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
    # the sources were observing from day 0, though this person's records start later
    observed = {ev.ACTIVITY: 0, ev.SURVEY: 0, ev.CROSSING_IN: 0, ev.CROSSING_OUT: 0}
    sources = {ev.ACTIVITY: "activity", ev.SURVEY: "survey", ev.CROSSING_IN: "border_crossings",
               ev.CROSSING_OUT: "border_crossings"}
    presence_fit.build_presence(
        con, typed, "KAZ", as_of, 0, presence_fit.PresenceSettings(), params=params or FITTED,
        observed_from={c: d for c, d in observed.items() if sources[c] in records})
    return con.sql("SELECT arrival, departure FROM presence ORDER BY arrival").fetchall()
