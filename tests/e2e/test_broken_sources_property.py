"""Hypothesis: a run on a folder holding one broken source, of any kind and in any row,
exits 2, names the file, the column (where one is to blame) and the row (where one is),
shows none of the record's identifying values, and writes nothing to OUT."""

from __future__ import annotations

import contextlib
import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.cli import main

HEADER = ["record_id", "person_key", "first_name", "last_name", "birth_date", "sex",
          "citizenship", "registration_date", "deregistration_date", "deregistration_reason"]


def _register(n: int) -> list[dict[str, str]]:
    return [{"record_id": f"R{i}", "person_key": f"K{1000 + i}", "first_name": f"Aigerim{i}",
             "last_name": f"Nurlanova{i}", "birth_date": f"1980-01-{1 + i % 28:02d}",
             "sex": "F", "citizenship": "KAZ", "registration_date": "2015-03-01",
             "deregistration_date": "", "deregistration_reason": ""}
            for i in range(1, n + 1)]


# each kind of break: (what it does to the rows, the column it names or None, whether it
# names a row)
def _bad_date(rows, i):
    rows[i]["registration_date"] = "2015-14-01"


def _bad_code(rows, i):
    rows[i]["sex"] = "female"


def _bad_country(rows, i):
    rows[i]["citizenship"] = "Kazakhstan"


def _duplicate_key(rows, i):
    rows[i]["record_id"] = rows[0]["record_id"] if i else rows[1]["record_id"]


def _null_key(rows, i):
    rows[i]["record_id"] = ""


def _future_birth(rows, i):
    rows[i]["birth_date"] = "2999-01-01"


def _missing_column(rows, i):
    for row in rows:
        del row["registration_date"]


BREAKS = {
    "bad date": (_bad_date, "registration_date", True),
    "bad code": (_bad_code, "sex", True),
    "bad country": (_bad_country, "citizenship", True),
    "duplicate key": (_duplicate_key, "record_id", True),
    "null key": (_null_key, "record_id", True),
    "birth in the future": (_future_birth, "birth_date", True),
    "missing required column": (_missing_column, "registration_date", False),
}


def _csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _raw_break(data: bytes, line: int, kind: str) -> bytes:
    """Breaks of the file itself, on data line ``line`` (1-based): not UTF-8, or a line
    with more fields than the header."""
    lines = data.split(b"\n")
    if kind == "not utf-8":
        lines[line] = lines[line].replace(b"Aigerim", b"A\xefgerim", 1)
    else:
        lines[line] = lines[line] + b",extra,fields"
    return b"\n".join(lines)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from([*BREAKS, "not utf-8", "ragged line"]),
       n=st.integers(3, 12), data=st.data())
def test_a_broken_source_stops_the_run_with_file_column_and_row(kind, n, data):
    rows = _register(n)
    i = data.draw(st.integers(0, n - 1))
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "in", Path(tmp) / "out"
        folder.mkdir()
        column, names_row = None, True
        if kind in BREAKS:
            breaks, column, names_row = BREAKS[kind]
            breaks(rows, i)
            content = _csv(rows)
        else:
            content = _raw_break(_csv(rows), i + 1, kind)
        (folder / "population_register.csv").write_bytes(content)
        with contextlib.redirect_stderr(io.StringIO()) as err:
            assert main(["run", str(folder), "--out", str(out)]) == 2
        message = err.getvalue()
        assert not out.exists() and not list(Path(tmp).glob(".out*"))
        assert "population_register.csv" in message
        if column:
            assert f"column {column!r}" in message
        if names_row:  # rows count from 1 at the first line after the header
            assert f"row {i + 1}" in message or (kind == "duplicate key"
                                                 and "row 1" in message)
        leaked = [v for row in _register(n)
                  for v in (row["person_key"], row["first_name"], row["last_name"],
                            row["birth_date"]) if v in message]
        assert not leaked
