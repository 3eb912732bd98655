"""Hand-made identity records made into profiles, as ``linkage.link`` makes them."""

from __future__ import annotations

from typing import Any

import duckdb

from linkage.profiles import IDENTITY, build_profiles, standardise_names


def profiled(records: list[tuple[str, str, dict]], duplicate_free: tuple[str, ...] = ("census",),
             extra: tuple[str, ...] = ()) -> Any:
    """A database holding ``identity_records`` (one row per ``(source, record_id, identity
    fields)``, with the ``extra`` columns as text), their standard name forms and their
    ``profiles``."""
    con = duckdb.connect()
    types = {"birth_date": "DATE", "birth_year": "INTEGER"}
    every = (*IDENTITY, *extra)
    columns = ", ".join(f"{c} {types.get(c, 'VARCHAR')}" for c in every)
    con.execute(f"CREATE TABLE identity_records (source VARCHAR, record_id VARCHAR, {columns})")
    for source, record_id, fields in records:
        con.execute("INSERT INTO identity_records VALUES (?, ?, "
                    + ", ".join("?" for _ in every) + ")",
                    [source, record_id, *(fields.get(c) for c in every)])
    standardise_names(con)
    build_profiles(con, duplicate_free=duplicate_free, extra=extra)
    return con
