"""Run the SQL rule stage on small in-memory timelines."""

from __future__ import annotations

import duckdb

from pipelines.rules import RuleParameters, create_events


def sql_events(people: dict, rule: str, params: RuleParameters | None = None) -> dict:
    """people: id -> (stays, observation_end, resident_at_start, alive).

    Returns id -> [(event_type, day, status)] in time order.
    """
    params = params or RuleParameters()
    con = duckdb.connect()
    con.execute("CREATE TABLE presence (person_id VARCHAR, arrival INTEGER, departure INTEGER)")
    con.execute(
        "CREATE TABLE observed (person_id VARCHAR, resident_at_start BOOLEAN, "
        "observation_end INTEGER, alive BOOLEAN)"
    )
    stay_rows, person_rows = [], []
    for pid, (stays, end, resident, alive) in people.items():
        person_rows.append((pid, resident, end, alive))
        stay_rows.extend((pid, a, d) for a, d in stays)
    if stay_rows:
        con.executemany("INSERT INTO presence VALUES (?, ?, ?)", stay_rows)
    con.executemany("INSERT INTO observed VALUES (?, ?, ?, ?)", person_rows)
    create_events(con, "events", (rule,), params)
    rows = con.sql(
        "SELECT person_id, event_type, event_day, status FROM events ORDER BY person_id, event_day"
    ).fetchall()
    out: dict = {pid: [] for pid in people}
    for pid, event_type, day, status in rows:
        out[pid].append((event_type, day, status))
    return out
