"""Read source files into DuckDB and validate them against the contract, before any linkage.

Every violation is collected (missing required column, wrong type, unparseable date, code
outside its vocabulary, duplicate or null ``record_id``, non-positive weight, empty file) and
raised once as a ``SchemaError`` naming file, column, row and value. Rows are numbered from 1
for the first data row (a CSV file's header line is not counted).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas import sql as db
from schemas.contract import IDENTIFYING, SOURCES, Column, SourceSpec
from schemas.errors import SchemaError, StageError, Violation
from schemas.sql import run_stage

log = logging.getLogger("miglink")

EXAMPLES_PER_CHECK = 5
# values of these columns are never printed, even in an error message
PERSONAL = frozenset({"person_key", "first_name", "last_name", "first_name_bf", "last_name_bf",
                      "birth_date", "birth_year"})
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


@dataclass(frozen=True)
class SourceFile:
    """Where a source comes from and how its columns are named there."""

    source: str
    path: Path
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical -> name in file

    @property
    def label(self) -> str:
        return self.path.name


def discover_sources(directory: Path, overrides: Mapping[str, SourceFile] | None = None
                     ) -> dict[str, SourceFile]:
    """Find source files in ``directory`` by file stem (``census.csv``, ...)."""
    found: dict[str, SourceFile] = {}
    for name in SOURCES:
        if overrides and name in overrides:
            found[name] = overrides[name]
            continue
        for suffix in (".parquet", ".csv"):
            path = directory / f"{name}{suffix}"
            if path.exists():
                found[name] = SourceFile(name, path)
                break
    return found


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def load_raw(con: Any, source: SourceFile) -> str:
    """Load a file as text columns into table ``raw_<source>`` with a 1-based ``__row``."""
    table = f"raw_{source.source}"
    path = _string(str(source.path))
    if source.path.suffix == ".csv":  # read once into a table: its rowid is the line
        run_stage(con, "validate", "CREATE OR REPLACE TEMP TABLE __load AS "
                                   f"SELECT * FROM {_csv_reader(source.path)}")
        loaded, row = "__load", "rowid"
        described = db.rows(con, "validate", "DESCRIBE __load")
    else:  # read where it lies: Parquet numbers its rows
        described = db.rows(con, "validate", f"DESCRIBE SELECT * FROM read_parquet({path})")
        loaded = f"read_parquet({path}, file_row_number = true)"
        row = "file_row_number"
        if any(name == row for name, *_ in described):  # the file's own column of that name
            run_stage(con, "validate", "CREATE OR REPLACE TEMP TABLE __load AS "
                                       f"SELECT * FROM read_parquet({path})")
            loaded, row = "__load", "rowid"
    rename = {actual: canonical for canonical, actual in source.columns.items()}
    spec = SOURCES.get(source.source)

    def column(name: str, sql_type: str) -> str:
        wanted = spec.column(rename.get(name, name)) if spec else None
        if wanted is not None and _holds_type(wanted, sql_type):
            # already of the contract's type: nothing to parse (integers widened to its type)
            return (_quote(name) if sql_type == _sql_type(wanted)
                    else f"CAST({_quote(name)} AS {_sql_type(wanted)})")
        return _as_text(name, sql_type)

    select = ", ".join(f"{column(n, t)} AS {_quote(rename.get(n, n))}"
                       for n, t, *_ in described)
    run_stage(con, "validate",
              f"CREATE OR REPLACE TABLE {table} AS SELECT {row} + 1 AS __row, {select} "
              f"FROM {loaded}")
    run_stage(con, "validate", "DROP TABLE IF EXISTS __load")
    return table


def _csv_reader(path: Path) -> str:
    """``read_csv`` with the file's own header as its columns, all text, and the dialect
    the contract states (comma, double quotes): left to guess, DuckDB's sniffer takes a
    line with extra fields for the header and reads the rows above it as nothing."""
    with path.open("rb") as handle:  # the header line alone: the rows are DuckDB's to read
        first = handle.readline().decode("utf-8-sig")
    header = next(csv.reader([first]), None)
    if not header:
        return f"read_csv({_string(str(path))}, all_varchar = true, header = true)"
    columns = ", ".join(f"{_string(name)}: 'VARCHAR'" for name in header)
    return (f"read_csv({_string(str(path))}, auto_detect = false, header = true, "
            f"delim = ',', quote = '\"', escape = '\"', columns = {{{columns}}})")


_INTEGER_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT",
                            "USMALLINT", "UINTEGER"})


def _holds_type(column: Column, sql_type: str) -> bool:
    """Whether a typed (Parquet) column already holds the contract's type: its values need
    no parsing from text (a date column of DATE, an integer column of an integer type)."""
    return (column.type == "date" and sql_type == "DATE") or \
        (column.type == "integer" and sql_type in _INTEGER_TYPES)


def _as_text(name: str, sql_type: str) -> str:
    """A typed Parquet column as the text the contract describes.

    Writers often store dates as timestamps (pandas does) and nullable integers as floats:
    a timestamp at midnight is its date, a whole float its integer; anything else keeps its
    full text and fails validation with that value shown.
    """
    c = _quote(name)
    if sql_type.startswith("TIMESTAMP"):
        return (f"CASE WHEN CAST({c} AS TIME) = TIME '00:00:00' "
                f"THEN CAST(CAST({c} AS DATE) AS VARCHAR) ELSE CAST({c} AS VARCHAR) END")
    if sql_type in ("DOUBLE", "FLOAT", "REAL") or sql_type.startswith("DECIMAL"):
        return (f"CASE WHEN {c} = round({c}) AND abs({c}) < 1e15 "
                f"THEN CAST(CAST({c} AS BIGINT) AS VARCHAR) ELSE CAST({c} AS VARCHAR) END")
    return f"CAST({c} AS VARCHAR)"


def _value_check(column: Column) -> str | None:
    """A SQL predicate true where a non-null value breaks the column's type rule."""
    c = _quote(column.name)
    if column.type == "date":
        return (f"NOT regexp_full_match({c}, '{ISO_DATE}') "
                f"OR TRY_CAST({c} AS DATE) IS NULL")
    if column.type == "integer":
        return f"TRY_CAST({c} AS BIGINT) IS NULL"
    if column.type == "number":
        check = f"TRY_CAST({c} AS DOUBLE) IS NULL OR NOT isfinite(TRY_CAST({c} AS DOUBLE))"
        if column.positive:
            check += f" OR TRY_CAST({c} AS DOUBLE) <= 0"
        return check
    if column.type == "country":
        return f"NOT regexp_full_match({c}, '^[A-Z]{{3}}$')"
    if column.allowed is not None:
        return f"{c} NOT IN ({', '.join(_string(a) for a in column.allowed)})"
    return None


def _problem(column: Column) -> str:
    if column.type == "date":
        return "not an ISO date YYYY-MM-DD"
    if column.type == "integer":
        return "not an integer"
    if column.type == "number":
        return "not a positive number" if column.positive else "not a number"
    if column.type == "country":
        return "not an ISO 3166-1 alpha-3 country code"
    return f"not one of {', '.join(column.allowed or ())}"


def _examples(con: Any, sql: str) -> list[tuple]:
    return db.rows(con, "validate", sql)


def _checks(column: Column, sql_type: str) -> list[tuple[str, str, bool]]:
    """(SQL predicate true on a breaking row, what is wrong, whether the value is shown)
    of each check on a present column loaded as ``sql_type``."""
    c = _quote(column.name)
    out = [(f"{c} IS NULL", "required value is missing", False)] if column.required else []
    check = None if _holds_type(column, sql_type) else _value_check(column)
    if check is not None:
        withheld = column.name in PERSONAL
        out.append((f"{c} IS NOT NULL AND ({check})",
                    _problem(column) + (" (value withheld: personal data)" if withheld else ""),
                    not withheld))
    return out


def _violations(con: Any, table: str, file: str, column: str, predicate: str, problem: str,
                show_value: bool) -> list[Violation]:
    """The first rows breaking one check, as violations."""
    rows = _examples(con, f"SELECT __row, {_quote(column)} FROM {table} WHERE {predicate} "
                          f"ORDER BY __row LIMIT {EXAMPLES_PER_CHECK}")
    return [Violation(file, column, r[0], r[1] if show_value else None, problem) for r in rows]


def _check_columns(con: Any, spec: SourceSpec, table: str, file: str,
                   present: dict[str, str]) -> list[Violation]:
    """Every column's checks and the key's, counted in one scan of the table; the rows
    that break a check are then read for that check alone (a valid file is read once).
    Violations come column by column in the contract's order, the key's last."""
    # (column, predicate, problem, value shown) per check, in the order they are reported
    checks = [(column.name, *check) for column in spec.columns if column.name in present
              for check in _checks(column, present[column.name])]
    key = spec.key if spec.key and spec.key in present else None
    counted = [f"count(*) FILTER (WHERE {predicate})" for _, predicate, _, _ in checks]
    if key:  # null keys, and keys held by more than one row
        counted += [f"count(*) FILTER (WHERE {_quote(key)} IS NULL)",
                    f"count({_quote(key)}) - count(DISTINCT {_quote(key)})"]
    found = db.rows(con, "validate", f"SELECT {', '.join(counted)} FROM {table}")[0] \
        if counted else ()
    out: list[Violation] = []
    for column in spec.columns:
        if column.required and column.name not in present:
            out.append(Violation(file, column.name, None, None, "required column is missing"))
        out += [v for (name, predicate, problem, shown), n in zip(checks, found, strict=False)
                if n and name == column.name
                for v in _violations(con, table, file, name, predicate, problem, shown)]
    if key and found[-2]:
        out += _violations(con, table, file, key, f"{_quote(key)} IS NULL",
                           "record_id is null", False)
    if key and found[-1]:
        k = _quote(key)
        dups = _examples(
            con,
            f"SELECT __row, {k} FROM (SELECT __row, {k}, count(*) OVER (PARTITION BY {k}) AS n "
            f"FROM {table} WHERE {k} IS NOT NULL) WHERE n > 1 ORDER BY __row "
            f"LIMIT {EXAMPLES_PER_CHECK}",
        )
        out += [Violation(file, key, r[0], r[1], "duplicate record_id") for r in dups]
    return out


_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def unreadable(label: str, error: BaseException) -> Violation:
    """A file the database could not read, said without its contents.

    DuckDB's messages go on with the offending line as it stands in the file and with the
    SQL that read it; the line holds names, birth dates and keys, so only the first line of
    the message (the kind of error and where) is kept."""
    cause = error.__cause__ if isinstance(error, StageError) and error.__cause__ else error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    first = lines[0] if lines else type(cause).__name__
    line = _CSV_LINE.search(first)
    row = int(line.group(1)) - 1 if line else None  # the header is line 1
    if any("unicode" in text.lower() or "utf-8" in text.lower() for text in lines):
        return Violation(label, None, row, None,
                         "cannot be read: the file is not UTF-8 text (save it as UTF-8)")
    if line:
        return Violation(label, None, row, None, "cannot be read as CSV: "
                         + (lines[2] if len(lines) > 2 and not lines[2].startswith(
                             "Original Line") else "the line does not fit the header"))
    return Violation(label, None, None, None, f"cannot be read: {first[:200]}")


def validate_raw(con: Any, spec: SourceSpec, table: str, file: str) -> list[Violation]:
    """All violations of one loaded source against its spec."""
    present = {r[0]: r[1] for r in db.rows(con, "validate", f"DESCRIBE {table}")
               if r[0] != "__row"}  # column -> type as loaded
    n = db.value(con, "validate", f"SELECT count(*) FROM {table}")
    if n == 0:
        return [Violation(file, None, None, None, "the file has no rows")]
    out = _check_columns(con, spec, table, file, present)
    if spec.linked and not set(present).intersection(IDENTIFYING):
        out.append(Violation(file, None, None, None,
                             "a linked source needs an identifying column besides record_id "
                             f"(one of {', '.join(IDENTIFYING)})"))
    return out


def check_logic(con: Any, spec: SourceSpec, table: str, file: str, today: dt.date
                ) -> tuple[list[Violation], list[dict[str, Any]]]:
    """Records that are well-formed but impossible, on the typed table.

    A date or year after ``today`` (a birth, an arrival, the record's own date) cannot be a
    slip of the pen of a real value: the file is broken, and these are violations. A stay or
    permit that ends before it starts, a birth after the record's date, an arrival after the
    record's date or before the birth are what registers hold in small numbers (a birth date
    keyed in wrong): findings, counted and logged, the run goes on. Dates are personal
    data: no value is shown."""
    errors: list[tuple[str, str, str]] = []  # (column, SQL true where wrong, problem)
    findings: list[tuple[str, str, str]] = []
    now = db.literal(today)
    # (a register's or permit's start may be set ahead: only observations are bounded)
    for column in ("birth_date", None if spec.period else spec.record_date):
        if column and spec.column(column):
            errors.append((column, f"{_quote(column)} > {now}", "is in the future"))
    for column in ("birth_year", "year_of_arrival"):
        if spec.column(column):
            errors.append((column, f"{_quote(column)} > year({now})", "is in the future"))
    if spec.period:
        start, end = spec.period
        findings.append((end, f"{_quote(end)} < {_quote(start)}", f"is before {start}"))
    if spec.record_date:
        day = _quote(spec.record_date)
        findings.append(("birth_date", f"birth_date > {day}", f"is after {spec.record_date}"))
        findings.append(("birth_year", f"birth_year > year({day})",
                         f"is after the year of {spec.record_date}"))
        if spec.column("year_of_arrival"):
            findings.append(("year_of_arrival", f"year_of_arrival > year({day})",
                             f"is after the year of {spec.record_date}"))
            findings.append(("year_of_arrival",
                             "year_of_arrival < coalesce(year(birth_date), birth_year)",
                             "is before the year of birth"))
    violations: list[Violation] = []
    for column, wrong, problem in errors:
        rows = _examples(con, f"SELECT __row FROM {table} WHERE {wrong} ORDER BY __row "
                              f"LIMIT {EXAMPLES_PER_CHECK}")
        violations += [Violation(file, column, r[0], None, problem) for r in rows]
    found = []
    counted = db.rows(con, "validate", "SELECT " + ", ".join(
        f"count(*) FILTER (WHERE {wrong}), min(__row) FILTER (WHERE {wrong})"
        for _, wrong, _ in findings) + f" FROM {table}")[0] if findings else ()  # one scan
    for i, (column, _, problem) in enumerate(findings):
        records, first = counted[2 * i], counted[2 * i + 1]
        if records:
            found.append({"file": file, "column": column, "problem": problem,
                          "records": int(records), "first_row": int(first)})
            log.warning("%s, column %r: %d record(s) where it %s (first: row %d); kept",
                        file, column, records, problem, first)
    return violations, found


def _sql_type(column: Column) -> str:
    return {"date": "DATE", "integer": "BIGINT", "number": "DOUBLE"}.get(column.type, "VARCHAR")


def type_source(con: Any, spec: SourceSpec, raw_table: str) -> str:
    """Typed table ``src_<source>``: every contract column (null where absent), extras kept.
    A loaded table whose columns all hold their contract's type already (a typed Parquet
    file) becomes it without a copy: renamed, the absent columns added."""
    loaded = {r[0]: r[1] for r in db.rows(con, "validate", f"DESCRIBE {raw_table}")}
    present = list(loaded)
    canonical = {c.name for c in spec.columns}
    table = f"src_{spec.name}"
    if all(loaded[c.name] == _sql_type(c) for c in spec.columns if c.name in loaded):
        run_stage(con, "validate", f"DROP TABLE IF EXISTS {table}")
        run_stage(con, "validate", f"ALTER TABLE {raw_table} RENAME TO {table}")
        for column in spec.columns:
            if column.name not in loaded:
                run_stage(con, "validate", f"ALTER TABLE {table} ADD COLUMN "
                                           f"{_quote(column.name)} {_sql_type(column)}")
        return table
    parts = ["__row"]
    for column in spec.columns:
        if column.name in present:
            parts.append(f"CAST({_quote(column.name)} AS {_sql_type(column)}) "
                         f"AS {_quote(column.name)}")
        else:
            parts.append(f"CAST(NULL AS {_sql_type(column)}) AS {_quote(column.name)}")
    parts += [_quote(n) for n in present if n not in canonical and n != "__row"]
    run_stage(con, "validate",
              f"CREATE OR REPLACE TABLE {table} AS SELECT {', '.join(parts)} FROM {raw_table}")
    run_stage(con, "validate", f"DROP TABLE {raw_table}")
    return table


def keep_findings(con: Any, findings: list[dict[str, Any]]) -> None:
    """Table ``input_findings``: the impossible records kept, counted by file and check."""
    run_stage(con, "validate", "CREATE OR REPLACE TABLE input_findings (file VARCHAR, "
                               "column_name VARCHAR, problem VARCHAR, records BIGINT, "
                               "first_row BIGINT)")
    for f in findings:
        run_stage(con, "validate", "INSERT INTO input_findings VALUES (?, ?, ?, ?, ?)",
                  [f["file"], f["column"], f["problem"], f["records"], f["first_row"]])


def load_and_validate(con: Any, sources: Mapping[str, SourceFile],
                      today: dt.date | None = None) -> dict[str, str]:
    """Load, validate and type every source; raise one SchemaError listing all violations.
    Impossible but common records (``check_logic``) are kept and counted in table
    ``input_findings``; ``today`` (default: the clock's) bounds every date.

    Returns source name -> typed table name.
    """
    today = today or dt.date.today()
    violations: list[Violation] = []
    raw: dict[str, str] = {}
    if "population_register" not in sources and "census" not in sources:
        violations.append(Violation("(input folder)", None, None, None,
                                    "a run needs population_register or census"))
    for name, source in sources.items():
        try:
            raw[name] = load_raw(con, source)
        except Exception as error:  # unreadable file: report it with the others
            violations.append(unreadable(source.label, error))
            continue
        violations += validate_raw(con, SOURCES[name], raw[name], source.label)
    if violations:
        raise SchemaError(violations)
    typed = {name: type_source(con, SOURCES[name], table) for name, table in raw.items()}
    findings: list[dict[str, Any]] = []
    for name, table in typed.items():
        wrong, found = check_logic(con, SOURCES[name], table, sources[name].label, today)
        violations += wrong
        findings += found
    if violations:
        raise SchemaError(violations)
    keep_findings(con, findings)
    for name, table in typed.items():
        n = db.value(con, "validate", f"SELECT count(*) FROM {table}")
        log.info("source %s: %d records", name, n)
    return typed
