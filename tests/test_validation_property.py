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
