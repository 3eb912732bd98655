"""Hypothesis: the validator finds exactly the rows whose values break the contract."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.errors import SchemaError
from schemas.validation import discover_sources, load_and_validate

GOOD = {"sex": ["M", "F"], "citizenship": ["KAZ", "RUS", "DEU"],
        "census_date": ["2021-10-01", "2021-09-30"]}
BAD = {"sex": ["m", "X", "male"], "citizenship": ["Kaz", "RU", "12A"],
       "census_date": ["2021-13-01", "01.10.2021", "2021-10-1", "yesterday"]}


@st.composite
def censuses(draw):
    n = draw(st.integers(1, 12))
    rows, bad = [], set()
    for i in range(1, n + 1):
        row = {}
        for column in GOOD:
            if draw(st.booleans()) and draw(st.integers(0, 3)) == 0:
                row[column] = draw(st.sampled_from(BAD[column]))
                bad.add((column, i))
            else:
                row[column] = draw(st.sampled_from(GOOD[column]))
        rows.append(row)
    return rows, bad


@settings(max_examples=60, deadline=None)
@given(censuses())
def test_validator_reports_exactly_the_bad_cells(case):
    rows, bad = case
    with tempfile.TemporaryDirectory() as tmp:
        lines = ["record_id,first_name,sex,citizenship,census_date"]
        lines += [f"r{i},Ivan,{r['sex']},{r['citizenship']},{r['census_date']}"
                  for i, r in enumerate(rows, start=1)]
        Path(tmp, "census.csv").write_text("\n".join(lines) + "\n")
        try:
            load_and_validate(duckdb.connect(), discover_sources(Path(tmp)))
            found = set()
        except SchemaError as error:
            found = {(v.column, v.row) for v in error.violations}
            assert all(v.file == "census.csv" for v in error.violations)
    # at most EXAMPLES_PER_CHECK rows are listed per column; here n <= 12 so compare sets
    per_column = {c: sorted(r for cc, r in bad if cc == c) for c in GOOD}
    expected = {(c, r) for c, rs in per_column.items() for r in rs[:5]}
    assert found == expected


@st.composite
def registers(draw):
    """Registrations with a deregistration some days before or after (or none) and a birth
    date before or after the registration."""
    import datetime as dt

    rows = []
    for _ in range(draw(st.integers(1, 10))):
        start = dt.date(2000, 1, 1) + dt.timedelta(days=draw(st.integers(0, 8000)))
        end = None if draw(st.booleans()) else start + dt.timedelta(
            days=draw(st.integers(-400, 400)))
        birth = start + dt.timedelta(days=draw(st.integers(-30000, 30)))
        rows.append((start, end, birth))
    return rows


@settings(max_examples=40, deadline=None)
@given(registers())
def test_contradicting_dates_are_counted_exactly_and_never_refused(rows):
    with tempfile.TemporaryDirectory() as tmp:
        lines = ["record_id,first_name,birth_date,registration_date,deregistration_date"]
        lines += [f"r{i},Ivan,{b},{s},{e or ''}" for i, (s, e, b) in enumerate(rows, start=1)]
        Path(tmp, "population_register.csv").write_text("\n".join(lines) + "\n")
        con = duckdb.connect()
        load_and_validate(con, discover_sources(Path(tmp)))
        found = {column: (n, first) for column, n, first in con.sql(
            "SELECT column_name, records, first_row FROM input_findings").fetchall()}
    ended_early = [i for i, (s, e, _) in enumerate(rows, start=1) if e is not None and e < s]
    born_after = [i for i, (s, _, b) in enumerate(rows, start=1) if b > s]
    expected = {column: (len(hits), hits[0]) for column, hits in
                (("deregistration_date", ended_early), ("birth_date", born_after)) if hits}
    assert found == expected
