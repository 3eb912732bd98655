"""SQL written once (DuckDB dialect) and run on DuckDB or Spark.

Stages are SQL templates with ``{name}`` placeholders. Values are rendered as literals by
sqlglot (never pasted by hand), table names are checked identifiers, and the finished
statement is transpiled with ``read="duckdb"`` to the target dialect.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from typing import Any

import sqlglot
from sqlglot import exp

from schemas.errors import StageError, resource_error

log = logging.getLogger("miglink")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EPOCH = dt.date(1970, 1, 1)


def literal(value: Any) -> str:
    """A value as a SQL literal, rendered by sqlglot."""
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return exp.convert(value).sql("duckdb")


def identifier(name: str) -> str:
    """A table or column name, refused unless it is a plain identifier."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: name={name!r}")
    return name


def render(template: str, dialect: str = "duckdb", **values: Any) -> str:
    """Fill a DuckDB-dialect template and transpile it to ``dialect``.

    Keys ending in ``_table`` or ``_col`` are identifiers; every other key is a literal.
    """
    filled = {}
    for key, value in values.items():
        if key.endswith("_table") or key.endswith("_col"):
            filled[key] = identifier(value)
        else:
            filled[key] = literal(value)
    sql = template.format(**filled)
    if dialect == "duckdb":
        return sql
    return ";\n".join(sqlglot.transpile(sql, read="duckdb", write=dialect))


def day_number(value: dt.date) -> int:
    """Days since 1970-01-01: the integer time axis of every rule stage."""
    return (value - EPOCH).days


def from_day_number(day: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(day))


def run_stage(con: Any, stage: str, sql: str) -> None:
    """Run one stage's SQL on a DuckDB connection, logging time; errors name the stage."""
    started = time.perf_counter()
    try:
        con.execute(sql)
    except Exception as error:  # backend errors are re-raised with the stage name
        raise resource_error(stage, error) or StageError(stage, error) from error
    log.debug("stage %s took %.2f s", stage, time.perf_counter() - started)


def create_table(con: Any, stage: str, table: str, select_sql: str) -> None:
    """Materialise ``select_sql`` as table ``table`` (replacing it)."""
    run_stage(con, stage, f"CREATE OR REPLACE TABLE {identifier(table)} AS {select_sql}")

