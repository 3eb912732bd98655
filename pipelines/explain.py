"""``miglink explain OUT PERSON_ID``: why a person has the stays and events they have.

Prints, from the run's working database, the person's records per source, the evidence
timeline (points, breaks, registration spells), the stays of the presence model and the
events of every rule, each event with the evidence near its date that supports it. Never
names, dates of birth or keys: only sex, citizenship, country of birth and dates of evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from schemas import sql as db
from schemas.errors import ConfigError
from schemas.sql import from_day_number

SUPPORT_DAYS = 31   # evidence this close to an event date is listed as supporting it


def _date(day: int | None) -> str:
    return "open" if day is None else from_day_number(int(day)).isoformat()


def explain(out: Path, person_id: str) -> str:
    database = out / "miglink.duckdb"
    if not database.exists():
        raise ConfigError(f"{out}: not the folder of a finished miglink run "
                          "(miglink.duckdb is missing)")
    con = duckdb.connect(str(database), read_only=True)
    try:
        return _explain(con, person_id)
    finally:
        con.close()


def _rows(con: Any, sql: str, person_id: str) -> list[tuple]:
    return db.rows(con, "explain", sql, [person_id])


def _explain(con: Any, person_id: str) -> str:
    person = _rows(con, "SELECT sex, citizenship, country_of_birth FROM persons "
                        "WHERE person_id = ?", person_id)
    if not person:
        raise ConfigError(f"no person {person_id!r} in this run (person ids look like "
                          "P00000001; see persons.parquet)")
    sex, citizenship, birth_country = person[0]
    lines = [f"person {person_id}: sex {sex or '?'}, citizenship {citizenship or '?'}, "
             f"country of birth {birth_country or '?'}"]
    records = _rows(con, "SELECT source, count(*) FROM person_records WHERE person_id = ? "
                         "GROUP BY source ORDER BY source", person_id)
    lines.append("records: " + ", ".join(f"{s} {n}" for s, n in records))

    lines.append("\nregistration and permit spells:")
    for start, end, source in _rows(con, """
            SELECT spell_start, spell_end, source FROM cover_spell WHERE person_id = ?
            ORDER BY spell_start, source""", person_id):
        lines.append(f"  {_date(start)} .. {_date(end)}  {source}")

    lines.append("\nevidence timeline (points: present that day; breaks: gone from that day; "
                 "reports: a registration ended, dating a departure before it):")
    timeline = _rows(con, """
        SELECT day, 'point' AS what, source FROM evidence_point WHERE person_id = $1
        UNION ALL
        SELECT day, CASE WHEN kind = 'registration_end' THEN 'report' ELSE 'break' END, kind
        FROM evidence_break WHERE person_id = $1
        ORDER BY day, what, source""", person_id)
    for day, what, source in timeline:
        lines.append(f"  {_date(day)}  {what:<6}  {source}")

    lines.append("\nstays (presence model):")
    for arrival, departure in _rows(con, "SELECT arrival, departure FROM presence "
                                         "WHERE person_id = ? ORDER BY arrival", person_id):
        length = f"{departure - arrival} days" if departure is not None else "still present"
        lines.append(f"  {_date(arrival)} .. {_date(departure)}  ({length})")

    lines.append("\nevents:")
    events = db.rows(con, "explain", """
        SELECT e.rule, e.event_type, e.event_day, e.status,
               string_agg(DISTINCT p.source, ', ' ORDER BY p.source) AS support
        FROM events_days AS e
        LEFT JOIN (SELECT person_id, day, source FROM evidence_point
                   UNION ALL SELECT person_id, day, kind FROM evidence_break) AS p
          ON p.person_id = e.person_id AND abs(p.day - e.event_day) <= ?
        WHERE e.person_id = ?
        GROUP BY ALL ORDER BY e.rule, e.event_day""", [SUPPORT_DAYS, person_id])
    if not events:
        lines.append("  none")
    for rule, kind, day, status, support in events:
        lines.append(f"  {rule:<14} {kind:<12} {_date(day)}  {status:<11} "
                     f"evidence within {SUPPORT_DAYS} days: {support or 'none (inferred)'}")
    return "\n".join(lines)
