"""Who fails to link: link rates and standardised differences between linked and unlinked
records (METHOD.md §4; the ONS's linkage bias analysis; Harron et al. 2017).

A record is *linked* when its person also holds a record of another source. For each
source and characteristic (citizenship group, sex, age group, name script), each category's
link rate, its shares among the linked and the unlinked records, and the standardised
difference of those shares, ``(p_linked - p_unlinked) / sqrt((p_linked (1 - p_linked) +
p_unlinked (1 - p_unlinked)) / 2)``: beyond about 0.1 in size, the linked records are not a
fair sample of the source in that respect (Austin 2009). Counts only.
"""

from __future__ import annotations

from typing import Any

from pipelines.groups import broad_age_group_sql, citizenship_group_sql
from schemas import sql as db


def _records_sql(country: str, year: int) -> str:
    """Records per source, linked or not, and the person's groups."""
    return f"""
WITH person_sources AS (
    SELECT person_id, count(DISTINCT source) AS sources FROM person_records GROUP BY person_id
),
scripts AS (  -- a record's name script, from the identity it states
    SELECT r.source, r.record_id,
           CASE WHEN i.first_name IS NULL AND i.last_name IS NULL THEN 'no name'
                WHEN i.cyrillic_script THEN 'cyrillic' ELSE 'latin' END AS script
    FROM record_profile AS r JOIN identity_std AS i USING (unique_id)
)
SELECT pr.source, ps.sources > 1 AS linked,
       {citizenship_group_sql(country)} AS citizenship_group,
       coalesce(p.sex, 'unknown') AS sex,
       {broad_age_group_sql(year)} AS age_group,
       coalesce(s.script, 'no name') AS name_script,
       count(*) AS records
FROM person_records AS pr
JOIN person_sources AS ps USING (person_id)
JOIN persons AS p USING (person_id)
LEFT JOIN scripts AS s ON s.source = pr.source AND s.record_id = pr.record_id
GROUP BY ALL
"""

CHARACTERISTICS = ("citizenship_group", "sex", "age_group", "name_script")


def linkage_bias(con: Any, country: str, year: int) -> list[dict[str, Any]]:
    """One row per source, characteristic and category: records, link rate, shares among
    the linked and the unlinked, standardised difference. ``year`` dates the ages."""
    frame = db.frame(con, "linkage bias", _records_sql(country, year))
    rows: list[dict[str, Any]] = []
    for source, part in frame.groupby("source", sort=True):
        linked_total = part.loc[part["linked"], "records"].sum()
        unlinked_total = part.loc[~part["linked"], "records"].sum()
        for characteristic in CHARACTERISTICS:
            cells = part.groupby([characteristic, "linked"])["records"].sum()
            for category in sorted(part[characteristic].unique()):
                linked = int(cells.get((category, True), 0))
                unlinked = int(cells.get((category, False), 0))
                p1 = linked / linked_total if linked_total else None
                p0 = unlinked / unlinked_total if unlinked_total else None
                difference = None
                if p1 is not None and p0 is not None:
                    spread = ((p1 * (1 - p1) + p0 * (1 - p0)) / 2) ** 0.5
                    difference = (p1 - p0) / spread if spread > 0 else 0.0
                rows.append({"source": source, "characteristic": characteristic,
                             "category": category, "records": linked + unlinked,
                             "unlinked_records": unlinked,
                             "link_rate": linked / (linked + unlinked),
                             "share_of_linked": p1, "share_of_unlinked": p0,
                             "standardised_difference": difference})
    return rows
