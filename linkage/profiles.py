"""Identity records and identity profiles: the first half of the linkage stage.

1. **Identity records**: the identity columns of every linked source, one table.
2. **Standard names**: each distinct name is standardised once (``linkage.names``) and joined
   back, so the Python work grows with the number of distinct names, not of records.
3. **Identity profiles**: records of one source whose identity is complete (a ``person_key``,
   or both names and a full birth date) and identical after standardisation are one profile.
   A person's forty tax records become one profile; linkage then scores profiles, not
   records. Records of a duplicate-free source stay one profile each.

Also a person's attributes from its records (``person_attributes_sql``).
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from linkage.names import has_cyrillic, initial_class, name_skeleton, standard_name, surname_stem
from schemas import sql as db
from schemas.contract import SOURCES
from schemas.sql import create_table, run_stage

log = logging.getLogger("miglink")


IDENTITY = ("person_key", "first_name", "last_name", "first_name_bf", "last_name_bf",
            "birth_date", "birth_year", "sex", "citizenship", "country_of_birth", "locality")


def identity_records_sql(typed: dict[str, str], extra: tuple[str, ...] = (),
                         columns: dict[str, set[str]] | None = None) -> str:
    """SQL: the identity columns of every linked source's records, and the ``extra``
    columns as text (unknown in a source without them; ``columns``: each source's)."""
    parts = []
    for source, table in typed.items():
        if not SOURCES[source].linked:
            continue
        held = (columns or {}).get(source, set())
        more = "".join(f', CAST("{c}" AS VARCHAR) AS "{c}"' if c in held
                       else f', CAST(NULL AS VARCHAR) AS "{c}"' for c in extra)
        parts.append(f"SELECT '{source}' AS source, record_id, {', '.join(IDENTITY)}{more} "
                     f"FROM {table}")
    return "\nUNION ALL\n".join(parts)


def standardise_names(con: Any) -> None:
    """Table ``name_forms``: every distinct name with its standard, skeleton and stem forms."""
    names = [r[0] for r in db.rows(
        con, "identity profiles",
        "SELECT DISTINCT first_name FROM identity_records WHERE first_name IS NOT NULL "
        "UNION SELECT DISTINCT last_name FROM identity_records WHERE last_name IS NOT NULL")]
    forms = pd.DataFrame({
        "name": names,
        "std": [standard_name(n) for n in names],
        "skel": [name_skeleton(n) for n in names],
        "stem": [surname_stem(n) for n in names],
        "initial": [initial_class(name_skeleton(n)) for n in names],
        "cyrillic": [has_cyrillic(n) for n in names],
    })
    con.register("name_forms_df", forms)
    create_table(con, "standardise names", "name_forms",   # typed even when empty
                 "SELECT CAST(name AS VARCHAR) AS name, CAST(std AS VARCHAR) AS std, "
                 "CAST(skel AS VARCHAR) AS skel, CAST(stem AS VARCHAR) AS stem, "
                 "CAST(initial AS VARCHAR) AS initial, "
                 "CAST(cyrillic AS BOOLEAN) AS cyrillic FROM name_forms_df")
    con.unregister("name_forms_df")


# The identity profile of a record: records of one source stating the same identity (a
# person_key, or both names with the same birth date, birth year or none of it, sex,
# citizenship and country of birth) are one profile: they carry the same evidence about
# every other record, and the model links them to one another anyway. Kept apart, one
# person's seventy identical signs of life (no birth date) made seventy joins and some 2,400
# scored pairs, counted by error estimates as seventy chances of error. Records of a
# duplicate-free source, and records without both names, stay one profile each.
#
# The work is done once per *identity* (the distinct identity columns of a source's records,
# with their locality), not per record: a person's many signs of life state few distinct
# identities. ``_OWN_PROFILE`` (on an identity record) says which records are a profile
# of their own: those keep their record_id in the identity.
_OWN_PROFILE = """
source IN ({duplicate_free}) OR (person_key IS NULL AND NOT (
    (first_name_bf IS NOT NULL OR (first_name IS NOT NULL AND first_name NOT IN (
        SELECT name FROM name_forms WHERE std IS NULL)))
    AND (last_name_bf IS NOT NULL OR (last_name IS NOT NULL AND last_name NOT IN (
        SELECT name FROM name_forms WHERE std IS NULL)))))
"""
# what makes identities one profile, in the order profiles are numbered: a record that is a
# profile of its own, by its source and record_id; every other identity by its standardised
# names and the rest (locality aside: a person's records state several). Columns, not one
# joined string: no character a value holds can make two identities one.
_PROFILE_ORDER = ("own_record IS NULL", "source", "own_record", "person_key",
                  "coalesce(first_std, first_bf)", "coalesce(last_std, last_bf)",
                  "birth_date", "birth_year", "sex", "citizenship", "country_of_birth")
# the columns an identity is made of (besides own_record and the extra columns)
_IDENTITY_OF = ("source", *IDENTITY)


def _commonest(column: str) -> str:
    """SQL (a CTE body): per profile, the value of ``column`` most of its records state;
    ties: the first."""
    return f"""
            SELECT unique_id, "{column}" FROM (
                SELECT unique_id, "{column}",
                       row_number() OVER (PARTITION BY unique_id
                                          ORDER BY sum(n_records) DESC, "{column}") AS rank
                FROM identity_std WHERE "{column}" IS NOT NULL GROUP BY unique_id, "{column}")
            WHERE rank = 1"""


def build_profiles(con: Any, duplicate_free: tuple[str, ...] = (),
                   extra: tuple[str, ...] = ()) -> int:
    """Tables ``identity_std`` (each identity with its standard forms, its number of
    records and its profile ``unique_id``), ``record_profile`` (the profile of every record)
    and ``profiles``; returns the number of profiles."""
    free = ", ".join(f"'{s}'" for s in duplicate_free if s in SOURCES) or "''"
    own = _OWN_PROFILE.format(duplicate_free=free)
    of_identity = (*_IDENTITY_OF, *extra)
    columns = ", ".join(f'"{c}"' for c in of_identity)
    create_table(con, "identity profiles", "identities", f"""
        SELECT {columns}, CASE WHEN {own} THEN record_id END AS own_record,
               count(*) AS n_records, min(record_id) AS first_record_id
        FROM identity_records GROUP BY ALL""")
    create_table(con, "standard identities", "identity_std", f"""
        WITH standard AS (
        SELECT r.*, f.std AS first_std, f.skel AS first_skel,
               l.std AS last_std, l.skel AS last_skel, l.stem AS last_stem,
               f.initial AS first_initial_class, l.initial AS last_initial_class,
               coalesce(f.cyrillic, l.cyrillic, FALSE) AS cyrillic_script,
               r.first_name_bf AS first_bf, r.last_name_bf AS last_bf,
               CAST(from_base64(r.first_name_bf) AS BIT) AS first_bf_bits,
               CAST(from_base64(r.last_name_bf) AS BIT) AS last_bf_bits,
               coalesce(year(r.birth_date), r.birth_year) AS birth_year_any,
               CASE WHEN coalesce(f.std, l.std) IS NOT NULL
                    THEN coalesce(f.std, '') || '|' || coalesce(l.std, '') END AS full_std,
               CASE WHEN coalesce(f.skel, l.skel) IS NOT NULL
                    THEN coalesce(f.skel, '') || '|' || coalesce(l.skel, '') END AS full_skel,
               CASE WHEN coalesce(r.first_name_bf, r.last_name_bf) IS NOT NULL
                    THEN coalesce(r.first_name_bf, '') || '|' || coalesce(r.last_name_bf, '')
               END AS full_bf
        FROM identities AS r
        LEFT JOIN name_forms AS f ON f.name = r.first_name
        LEFT JOIN name_forms AS l ON l.name = r.last_name)
        SELECT *, dense_rank() OVER (ORDER BY {", ".join(_PROFILE_ORDER)}) AS unique_id
        FROM standard""")
    run_stage(con, "identity profiles", "DROP TABLE identities")
    same = " AND ".join(f'r."{c}" IS NOT DISTINCT FROM i."{c}"' for c in of_identity)
    create_table(con, "identity profiles", "record_profile", f"""
        SELECT r.source, r.record_id, i.unique_id
        FROM (SELECT *, CASE WHEN {own} THEN record_id END AS own_record
              FROM identity_records) AS r
        JOIN identity_std AS i
          ON {same} AND r.own_record IS NOT DISTINCT FROM i.own_record""")
    commonest = ("locality", *extra)  # what a profile's records may state differently
    ctes = ", ".join(f"commonest_{n} AS ({_commonest(c)})" for n, c in enumerate(commonest))
    picked = "".join(f', any_value(c{n}."{c}") AS "{c}"' for n, c in enumerate(commonest))
    joins = " ".join(f"LEFT JOIN commonest_{n} AS c{n} USING (unique_id)"
                     for n in range(len(commonest)))
    create_table(con, "identity profiles", "profiles", f"""
        WITH {ctes}
        SELECT i.unique_id, any_value(i.source) AS source,
               any_value(i.person_key) AS person_key,
               any_value(i.first_std) AS first_std, any_value(i.first_skel) AS first_skel,
               any_value(i.last_std) AS last_std, any_value(i.last_skel) AS last_skel,
               any_value(i.last_stem) AS last_stem,
               any_value(i.full_std) AS full_std, any_value(i.full_skel) AS full_skel,
               any_value(i.full_bf) AS full_bf,
               any_value(i.first_bf) AS first_bf, any_value(i.last_bf) AS last_bf,
               any_value(i.first_bf_bits) AS first_bf_bits,
               any_value(i.last_bf_bits) AS last_bf_bits,
               bit_count(any_value(i.first_bf_bits)) AS first_bf_ones,
               bit_count(any_value(i.last_bf_bits)) AS last_bf_ones,
               any_value(i.birth_date) AS birth_date, any_value(i.birth_year_any) AS birth_year_any,
               -- day and month in either order (one source writes 05/02, another 02/05)
               any_value(CASE WHEN i.birth_date IS NOT NULL THEN
                   year(i.birth_date) * 10000
                   + least(month(i.birth_date), day(i.birth_date)) * 100
                   + greatest(month(i.birth_date), day(i.birth_date)) END)
                   AS birth_date_any_order,
               any_value(i.first_initial_class) AS first_initial_class,
               any_value(i.last_initial_class) AS last_initial_class,
               any_value(i.sex) AS sex, any_value(i.citizenship) AS citizenship,
               any_value(i.country_of_birth) AS country_of_birth{picked},
               -- the first record (by source, then record_id): a struct, so that no
               -- character of a record_id can cut it
               min({{'source': i.source, 'record_id': i.first_record_id}}) AS representative,
               sum(i.n_records) AS n_records
        FROM identity_std AS i {joins}
        GROUP BY i.unique_id""")
    return db.count(con, "identity profiles", "profiles")


IN_REGISTER = "source IN ('population_register', 'aliens_register')"
PERSON_ATTRIBUTES = (("sex", "sex"), ("birth_year_any", "birth_year"),
                     ("birth_date", "birth_date"), ("citizenship", "citizenship"),
                     ("country_of_birth", "country_of_birth"))


def person_attributes_sql(records: str, weight: str | None = None) -> str:
    """SQL: every person's attributes from ``records`` (person_id, source and the identity
    columns; a row stands for ``weight`` records, else for one): the value most of its
    records state; on ties the one a register states, then the first in order. Counted per
    value and ranked (DuckDB's ``mode(... ORDER BY ...)`` gave the same answers but took
    37 s of the 100,000-person run's linkage, this 1 s)."""
    records_counted = f"sum({weight})" if weight else "count(*)"
    ranked = ", ".join(f"""{name} AS (
        SELECT person_id, {column} AS {name} FROM (
            SELECT person_id, {column},
                   row_number() OVER (PARTITION BY person_id ORDER BY {records_counted} DESC,
                                      bool_or({IN_REGISTER}) DESC, {column}) AS rank
            FROM {records} WHERE {column} IS NOT NULL GROUP BY person_id, {column})
        WHERE rank = 1)""" for column, name in PERSON_ATTRIBUTES)
    joins = " ".join(f"LEFT JOIN {name} USING (person_id)" for _, name in PERSON_ATTRIBUTES)
    return (f"WITH ids AS (SELECT DISTINCT person_id FROM {records}), {ranked} "
            f"SELECT ids.person_id, {', '.join(name for _, name in PERSON_ATTRIBUTES)} "
            f"FROM ids {joins}")
