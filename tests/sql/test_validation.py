"""One test per validation failure kind: the message names file, column and row; exit 2."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.cli import main
from schemas.errors import SchemaError
from schemas.validation import discover_sources, load_and_validate

GOOD_CENSUS = (
    "record_id,first_name,last_name,birth_date,sex,citizenship,census_date\n"
    "c1,Иван,Иванов,1980-05-01,M,KAZ,2021-10-01\n"
    "c2,Anna,Smirnova,1990-12-31,F,RUS,2021-10-01\n"
)


def _violations(tmp_path, files: dict[str, str]) -> list:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(SchemaError) as caught:
        load_and_validate(duckdb.connect(), discover_sources(tmp_path))
    return caught.value.violations


def _one(violations, column, row, problem_part):
    hits = [v for v in violations if v.column == column and v.row == row
            and problem_part in v.problem]
    assert hits, f"no violation for column {column!r} row {row}: {violations}"
    return hits[0]


def test_good_census_passes(tmp_path):
    (tmp_path / "census.csv").write_text(GOOD_CENSUS)
    typed = load_and_validate(duckdb.connect(), discover_sources(tmp_path))
    assert typed == {"census": "src_census"}


def test_missing_required_column(tmp_path):
    text = GOOD_CENSUS.replace(",census_date", "").replace(",2021-10-01", "")
    v = _one(_violations(tmp_path, {"census.csv": text}), "census_date", None, "missing")
    assert "census.csv" in str(v)


def test_unparseable_date_names_row(tmp_path):
    text = GOOD_CENSUS.replace("c2,Anna,Smirnova,1990-12-31,F,RUS,2021-10-01",
                               "c2,Anna,Smirnova,1990-12-31,F,RUS,01/10/2021")
    v = _one(_violations(tmp_path, {"census.csv": text}), "census_date", 2, "ISO date")
    assert v.value == "01/10/2021" and "census.csv" in str(v) and "row 2" in str(v)


def test_birth_date_value_is_withheld(tmp_path):
    text = GOOD_CENSUS.replace("1980-05-01", "1980-13-45")
    v = _one(_violations(tmp_path, {"census.csv": text}), "birth_date", 1, "ISO date")
    assert v.value is None and "1980-13-45" not in str(v)


def test_wrong_type_integer(tmp_path):
    text = ("record_id,first_name,census_date,year_of_arrival\n"
            "c1,Ivan,2021-10-01,2015\nc2,Olga,2021-10-01,about 2010\n")
    _one(_violations(tmp_path, {"census.csv": text}), "year_of_arrival", 2, "integer")


def test_code_outside_vocabulary(tmp_path):
    text = GOOD_CENSUS.replace(",M,KAZ,", ",X,KAZ,")
    _one(_violations(tmp_path, {"census.csv": text}), "sex", 1, "not one of")


def test_country_not_alpha3(tmp_path):
    text = GOOD_CENSUS.replace(",RUS,", ",Russia,")
    _one(_violations(tmp_path, {"census.csv": text}), "citizenship", 2, "alpha-3")


def test_duplicate_record_id(tmp_path):
    text = GOOD_CENSUS.replace("c2,", "c1,")
    v = _one(_violations(tmp_path, {"census.csv": text}), "record_id", 2, "duplicate")
    assert v.value == "c1"


def test_null_record_id(tmp_path):
    text = GOOD_CENSUS.replace("c2,", ",")
    _one(_violations(tmp_path, {"census.csv": text}), "record_id", 2, "null")


def test_non_positive_weight(tmp_path):
    text = ("record_id,first_name,interview_date,weight\n"
            "s1,Ivan,2020-02-01,120.5\ns2,Olga,2020-02-01,0\ns3,Petr,2020-02-01,-3\n")
    violations = _violations(tmp_path, {"census.csv": GOOD_CENSUS, "survey.csv": text})
    _one(violations, "weight", 2, "positive")
    _one(violations, "weight", 3, "positive")


def test_missing_required_value(tmp_path):
    text = ("record_id,first_name,crossing_date,direction\n"
            "b1,IVAN,2020-02-01,in\nb2,OLGA,,out\n")
    violations = _violations(tmp_path, {"census.csv": GOOD_CENSUS,
                                        "border_crossings.csv": text})
    _one(violations, "crossing_date", 2, "required value")


def test_empty_file(tmp_path):
    text = "record_id,first_name,census_date\n"
    v = _violations(tmp_path, {"census.csv": text})[0]
    assert "no rows" in v.problem and v.file == "census.csv"


def test_linked_source_needs_identifying_column(tmp_path):
    text = "record_id,activity_date\na1,2020-01-01\n"
    violations = _violations(tmp_path, {"census.csv": GOOD_CENSUS, "activity.csv": text})
    assert any(v.file == "activity.csv" and "identifying" in v.problem for v in violations)


def test_all_violations_reported_at_once(tmp_path):
    text = GOOD_CENSUS.replace(",M,KAZ,", ",X,Kaz,").replace("c2,", "c1,")
    violations = _violations(tmp_path, {"census.csv": text})
    assert {v.column for v in violations} >= {"sex", "citizenship", "record_id"}


def test_needs_register_or_census(tmp_path):
    text = "record_id,first_name,activity_date\na1,Ivan,2020-01-01\n"
    violations = _violations(tmp_path, {"activity.csv": text})
    assert any("population_register or census" in v.problem for v in violations)


def test_cli_exits_2_and_writes_nothing(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "census.csv").write_text(GOOD_CENSUS.replace(",M,KAZ,", ",X,KAZ,"))
    out = tmp_path / "out"
    status = main(["run", str(data), "--out", str(out), "--country", "KAZ"])
    assert status == 2
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [data]  # no half-written temporary folder either
    err = capsys.readouterr().err
    assert "census.csv" in err and "'sex'" in err and "row 1" in err


def test_parquet_timestamps_and_float_integers_are_accepted(tmp_path):
    """pandas writes dates as timestamps and nullable integers as floats: both are fine."""
    import pandas as pd

    frame = pd.DataFrame({
        "record_id": ["c1", "c2"], "first_name": ["Ivan", "Olga"],
        "birth_date": pd.to_datetime(["1980-05-01", "1990-12-31"]),
        "census_date": pd.to_datetime(["2021-10-01", "2021-10-01"]),
        "year_of_arrival": [2015.0, float("nan")],
    })
    frame.to_parquet(tmp_path / "census.parquet")
    con = duckdb.connect()
    typed = load_and_validate(con, discover_sources(tmp_path))
    rows = con.sql(f"SELECT birth_date, year_of_arrival FROM {typed['census']} ORDER BY __row"
                   ).fetchall()
    assert str(rows[0][0]) == "1980-05-01" and rows[0][1] == 2015 and rows[1][1] is None


def test_parquet_timestamp_with_time_of_day_is_rejected(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"record_id": ["c1"], "first_name": ["Ivan"],
                          "census_date": pd.to_datetime(["2021-10-01 13:45"])})
    frame.to_parquet(tmp_path / "census.parquet")
    with pytest.raises(SchemaError) as caught:
        load_and_validate(duckdb.connect(), discover_sources(tmp_path))
    assert caught.value.violations[0].column == "census_date"


def test_unreadable_csv_is_reported_without_its_contents(tmp_path, capsys):
    """A CSV saved in another encoding exits 2 naming the file and the row; the offending
    line (names, birth dates) never reaches the message."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "census.csv").write_bytes(GOOD_CENSUS.replace("Иван,Иванов", "Zoë,Müller")
                                      .encode("latin-1", errors="replace"))
    status = main(["run", str(data), "--out", str(tmp_path / "out"), "--country", "KAZ"])
    assert status == 2 and not (tmp_path / "out").exists()
    err = capsys.readouterr().err
    assert "census.csv" in err and "UTF-8" in err and "row 1" in err
    for identifying in ("Zo", "ller", "1980-05-01", "Smirnova", "SELECT"):
        assert identifying not in err


def test_ragged_csv_line_is_reported_without_its_contents(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "census.csv").write_text(GOOD_CENSUS + "c3,Olga,Petrova,1985-01-02,F,RUS,"
                                     "2021-10-01,extra,fields\n")
    status = main(["run", str(data), "--out", str(tmp_path / "out"), "--country", "KAZ"])
    assert status == 2
    err = capsys.readouterr().err
    assert "census.csv" in err and "row 3" in err
    for identifying in ("Olga", "Petrova", "1985-01-02", "SELECT"):
        assert identifying not in err


def test_a_year_in_the_future_is_refused(tmp_path):
    text = ("record_id,first_name,census_date,year_of_arrival\n"
            "c1,Ivan,2021-10-01,2015\nc2,Anna,2021-10-01,2999\n")
    v = _one(_violations(tmp_path, {"census.csv": text}), "year_of_arrival", 2, "future")
    assert "census.csv" in str(v) and "row 2" in str(v)


def test_a_birth_date_in_the_future_is_refused_without_its_value(tmp_path):
    text = GOOD_CENSUS.replace("1990-12-31", "2990-12-31")
    v = _one(_violations(tmp_path, {"census.csv": text}), "birth_date", 2, "future")
    assert v.value is None and "2990" not in str(v)


def test_contradicting_dates_are_kept_and_counted(tmp_path, caplog):
    """A deregistration before its registration, a birth after the census, an arrival before
    the birth: registers hold a few (a date keyed in wrong); the run goes on and says so."""
    (tmp_path / "census.csv").write_text(
        "record_id,first_name,birth_date,census_date,year_of_arrival\n"
        "c1,Ivan,1980-05-01,2021-10-01,1975\n"
        "c2,Anna,2021-11-30,2021-10-01,\n"
        "c3,Olga,1990-01-01,2021-10-01,2001\n")
    (tmp_path / "population_register.csv").write_text(
        "record_id,first_name,registration_date,deregistration_date\n"
        "r1,Ivan,2010-01-01,2012-01-01\n"
        "r2,Anna,2010-01-01,2008-11-05\n")
    con = duckdb.connect()
    load_and_validate(con, discover_sources(tmp_path))
    found = {(f, c, p, n, first) for f, c, p, n, first in con.sql(
        "SELECT * FROM input_findings").fetchall()}
    assert found == {
        ("census.csv", "birth_date", "is after census_date", 1, 2),
        ("census.csv", "year_of_arrival", "is before the year of birth", 1, 1),
        ("population_register.csv", "deregistration_date", "is before registration_date",
         1, 2)}
    assert "2008-11-05" not in caplog.text and "2021-11-30" not in caplog.text
