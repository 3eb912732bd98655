"""SQL written once (DuckDB dialect) and run on DuckDB or Spark.

Stages are SQL templates with ``{name}`` placeholders. Values are rendered as literals by
sqlglot (never pasted by hand), table names are checked identifiers, and the finished
statement is transpiled with ``read="duckdb"`` to the target dialect.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlglot
from sqlglot import exp

from schemas.errors import StageError, resource_error

log = logging.getLogger("miglink")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MADE = re.compile(r"^\s*(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?(?:TABLE|VIEW)"
                   r"\s+(?:IF\s+NOT\s+EXISTS\s+)?|INSERT\s+(?:OR\s+REPLACE\s+)?INTO\s+"
                   r"|DROP\s+(?:TABLE|VIEW)\s+(?:IF\s+EXISTS\s+)?)\"?(\w+)", re.IGNORECASE)
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


def _guarded(con: Any, stage: str, sql: str, read: Callable[[Any], Any] | None,
             parameters: Sequence[Any] | None = None) -> Any:
    """Run ``sql`` (with ``parameters`` bound to its ``?`` / ``$n`` placeholders) and read its
    result with ``read``: every backend error is re-raised naming the stage (and turned into
    a remedy when memory or disk ran out)."""
    started = time.perf_counter()
    try:
        if parameters is not None:
            result = con.execute(sql, list(parameters))
        else:
            result = con.sql(sql) if read is not None else con.execute(sql)
        value = read(result) if read is not None and result is not None else None
    except Exception as error:  # backend errors are re-raised with the stage name
        raise resource_error(stage, error) or StageError(stage, error) from error
    if log.isEnabledFor(logging.DEBUG):
        log.debug("stage %s: %s %.2f s", stage, statement_name(sql), time.perf_counter() - started)
    return value


def statement_name(sql: str) -> str:
    """What a statement makes, for the log: the table or view it creates, fills or drops
    (a name of ours, never data), else its first keyword."""
    made = _MADE.match(sql)
    if made:
        return made.group(1)
    words = sql.split(None, 1)
    return words[0].upper() if words else ""


def run_stage(con: Any, stage: str, sql: str, parameters: Sequence[Any] | None = None) -> None:
    """Run one statement of ``stage``; errors name the stage."""
    _guarded(con, stage, sql, None, parameters)


def rows(con: Any, stage: str, sql: str, parameters: Sequence[Any] | None = None
         ) -> list[tuple[Any, ...]]:
    """The rows of a query of ``stage`` (``parameters``: values of its placeholders)."""
    return _guarded(con, stage, sql, lambda r: r.fetchall(), parameters) or []


def value(con: Any, stage: str, sql: str) -> Any:
    """The first column of the first row of a query of ``stage`` (None without rows)."""
    found = rows(con, stage, sql)
    return found[0][0] if found else None


def count(con: Any, stage: str, relation: str) -> int:
    """The number of rows of a table or relation."""
    return int(value(con, stage, f"SELECT count(*) FROM {relation}"))


def arrays(con: Any, stage: str, sql: str) -> dict[str, Any]:
    """A query's columns as NumPy arrays, by name."""
    return _guarded(con, stage, sql, lambda r: r.fetchnumpy())


def frame(con: Any, stage: str, sql: str) -> Any:
    """A query's result as a pandas DataFrame (small results only: figures, samples)."""
    return _guarded(con, stage, sql, lambda r: r.df())


def records(con: Any, stage: str, sql: str) -> list[dict[str, Any]]:
    """A query's rows as dictionaries by column name (small results: figures)."""
    def read(result: Any) -> list[dict[str, Any]]:
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    return _guarded(con, stage, sql, read) or []


def create_table(con: Any, stage: str, table: str, select_sql: str) -> None:
    """Materialise ``select_sql`` as table ``table`` (replacing it)."""
    run_stage(con, stage, f"CREATE OR REPLACE TABLE {identifier(table)} AS {select_sql}")


@contextlib.contextmanager
def one_thread(con: Any, stage: str) -> Iterator[None]:
    """Run the block on one DuckDB thread: sums of doubles are then added in one order, so
    what it estimates (a trained model) is the same to the last bit from run to run."""
    threads = int(value(con, stage, "SELECT current_setting('threads')"))
    run_stage(con, stage, "SET threads = 1")
    try:
        yield
    finally:
        run_stage(con, stage, f"SET threads = {threads}")


def create_view(con: Any, stage: str, view: str, select_sql: str) -> None:
    """Name ``select_sql`` as view ``view`` (replacing it): read where it is used, never
    copied (the union of the sources' identity columns)."""
    run_stage(con, stage, f"CREATE OR REPLACE VIEW {identifier(view)} AS {select_sql}")

