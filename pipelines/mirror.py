"""Mirror statistics (METHOD.md §4; UNECE/Eurostat Guidelines for Exchanging Data to Improve
Emigration Statistics, 2010): our flows with each partner against what the partner reports.

For partner ``j`` and year ``y``: our emigration to ``j`` against ``j``'s immigration from us,
and our immigration from ``j`` against ``j``'s emigration to us; their ratio, symmetric
relative difference ``2 (ours - theirs) / (ours + theirs)`` and gap. Over all partners, per
year: the same totals, and the coverage of our events by a known country (only events whose
previous or next country of residence is known can be set beside a partner's figures).
Confirmed events of ``continuous_12``; a partner may use another duration rule.
"""

from __future__ import annotations

from typing import Any

from schemas import sql as db
from schemas.sql import identifier, render

RULE = "continuous_12"

_PAIRS = """
WITH ours AS (
    SELECT country AS partner, year(event_date) AS year, event_type, count(*) AS ours
    FROM migration_events
    WHERE rule = {rule} AND status = 'confirmed' AND country IS NOT NULL
    GROUP BY ALL
),
theirs AS (
    SELECT reporting_country AS partner, year,
           CASE WHEN flow = 'immigration' THEN 'emigration' ELSE 'immigration' END
               AS event_type,
           sum(count) AS theirs
    FROM {mirror_table} WHERE partner_country = {country} GROUP BY ALL
)
SELECT t.partner, t.year, t.event_type, coalesce(o.ours, 0) AS ours, t.theirs
FROM theirs AS t LEFT JOIN ours AS o USING (partner, year, event_type)
ORDER BY t.partner, t.year, t.event_type
"""

_COUNTRY_KNOWN = """
SELECT year(event_date) AS year, event_type, count(*) AS events,
       count(country) AS with_country, count(country) / count(*) AS country_known
FROM migration_events WHERE rule = {rule} AND status = 'confirmed'
GROUP BY ALL ORDER BY ALL
"""


def _rows(con: Any, sql: str) -> list[dict[str, Any]]:
    return db.records(con, "mirror statistics", sql)


def _compared(ours: float, theirs: float, allocated: float | None) -> dict[str, Any]:
    """Our count against the partner's: ratio, symmetric relative difference, gap; and
    the partner's count over ours with the unknown countries shared out (its coverage)."""
    return {"ratio": ours / theirs if theirs else None,
            "symmetric_relative_difference":
                2 * (ours - theirs) / (ours + theirs) if ours + theirs else None,
            "gap": ours - theirs, "ours_allocated": allocated,
            "partner_coverage": theirs / allocated if allocated else None}


def mirror_statistics(con: Any, typed: dict[str, str], country: str, first_year: int,
                      last_year: int) -> dict[str, Any] | None:
    """Per partner and year, per year over all partners, and per partner over all years,
    for the years ``first_year`` to ``last_year`` (those our events cover).

    Beside our events with a known country, ``ours_allocated`` also shares out the events
    whose country is unknown, in proportion to the known ones of their year and type; the
    partner's count over it (``partner_coverage``) is how completely the partner records
    the moves (1: fully; a partner's under-count shows below 1)."""
    if "mirror_flows" not in typed:
        return None
    known = {(r["year"], r["event_type"]): r
             for r in _rows(con, render(_COUNTRY_KNOWN, rule=RULE))}
    pairs = []
    for r in _rows(con, render(_PAIRS, rule=RULE, country=country,
                               mirror_table=identifier(typed["mirror_flows"]))):
        if not first_year <= r["year"] <= last_year:
            continue
        share = (known.get((r["year"], r["event_type"])) or {}).get("country_known")
        pairs.append(r | _compared(r["ours"], r["theirs"], r["ours"] / share if share else None))

    def totals(key: str) -> list[dict[str, Any]]:
        cells: dict[tuple[Any, str], list[float]] = {}
        for r in pairs:
            cell = cells.setdefault((r[key], r["event_type"]), [0.0, 0.0, 0.0])
            cell[0] += r["ours"]
            cell[1] += r["theirs"]
            cell[2] += r["ours_allocated"] or 0.0
        out = []
        for (k, event_type), (ours, theirs, allocated) in sorted(cells.items()):
            row = {key: k, "event_type": event_type, "ours": ours, "theirs": theirs,
                   **_compared(ours, theirs, allocated)}
            if key == "year":
                k_known = known.get((k, event_type))
                row["our_events"] = k_known["events"] if k_known else 0
                row["country_known"] = k_known["country_known"] if k_known else None
            out.append(row)
        return out

    return {"rule": RULE, "by_partner_and_year": pairs, "by_year": totals("year"),
            "by_partner": totals("partner"),
            "country_known": [r for r in known.values()
                              if first_year <= r["year"] <= last_year]}
