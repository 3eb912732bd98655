"""How many usual residents no source saw: multiple-systems estimation on census day
(METHOD.md §4, population size), from the linked persons.

The population is the persons usually resident on census day under a rule (a residence
spell covering the day): over-coverage is removed first, since a register's emigrants who
never deregistered are not part of the population a census misses. Each source that lists
residents is a list:

* ``population_register``: registered on the day;
* ``census``: enumerated;
* ``survey``: interviewed within ``list_window_days`` of the day (half a year by default);
* ``signs_of_life``: an activity record within ``list_window_days``;
* ``foreigners_registers``: an aliens-register stay or a residence permit covering the day.

Border crossings list movements, not residents, and are not a list. The lists are read as
independent only given the model's interactions (``pipelines.population_size``), and
foreigners are on lists citizens cannot be on, so the headline sums the estimates by
citizenship group, and its interval also holds how many more or fewer persons are
resident on the day on the presence model's drawn paths, and the model's own error in
reading who is resident, measured on persons read again without their crossings. Linkage errors move the capture histories: a person split in two counts
one unit too many on fewer lists (the estimate goes up), two persons made one one unit too
few on more lists (down); the sensitivity band refits the chosen model with the expected
errors undone.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines import population_size as ps
from pipelines.groups import broad_age_group_sql, citizenship_group_sql
from pipelines.rules import RULES
from schemas import sql as db
from schemas.sql import create_table, day_number, render


@dataclass(frozen=True)
class PopulationSizeSettings:
    """``[population_size]``: how the usual residents no source saw are estimated."""

    rule: str = "continuous_12"  # whose residence spells say who is usually resident
    criterion: str = "bic"  # or "aic": how the model's interactions are chosen
    level: float = 0.95  # of the profile-likelihood intervals
    list_window_days: int = 183  # a survey interview or sign of life this near lists a person
    min_listed: int = 30  # a group with fewer listed persons gets no estimate of its own
    # every model is tried up to this many lists, stepwise beyond (2^(k(k-1)/2) models)
    exhaustive_lists: int = ps.EXHAUSTIVE_LISTS

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {list(RULES)}, got {self.rule!r}")
        if self.criterion not in ("bic", "aic"):
            raise ValueError(f"criterion must be 'bic' or 'aic', got {self.criterion!r}")
        if self.level not in ps.LEVELS:
            raise ValueError(f"level must be one of {sorted(ps.LEVELS)}, got {self.level!r}")
        if not 1 <= int(self.list_window_days) <= 366:
            raise ValueError(f"list_window_days must be 1 to 366, got {self.list_window_days!r}")
        if not 2 <= self.exhaustive_lists <= 6:
            raise ValueError(f"exhaustive_lists must be 2 to 6, got {self.exhaustive_lists!r}")
        if not isinstance(self.min_listed, int) or self.min_listed < 1:
            raise ValueError(f"min_listed must be a whole number of at least 1, got "
                             f"{self.min_listed!r}")


_LIST_SQL = {
    "population_register": """
        SELECT pr.person_id FROM {population_register_table} AS r
        JOIN person_records AS pr ON pr.source = 'population_register'
         AND pr.record_id = r.record_id
        WHERE r.registration_date <= {day}
          AND (r.deregistration_date IS NULL OR r.deregistration_date > {day})""",
    "census": "SELECT person_id FROM person_records WHERE source = 'census'",
    "survey": """
        SELECT pr.person_id FROM {survey_table} AS r
        JOIN person_records AS pr ON pr.source = 'survey' AND pr.record_id = r.record_id
        WHERE abs(date_diff('day', {day}, r.interview_date)) <= {half_year}""",
    "signs_of_life": """
        SELECT pr.person_id FROM {activity_table} AS r
        JOIN person_records AS pr ON pr.source = 'activity' AND pr.record_id = r.record_id
        WHERE abs(date_diff('day', {day}, r.activity_date)) <= {half_year}""",
    "foreigners_registers": """
        SELECT pr.person_id FROM {aliens_register_table} AS r
        JOIN person_records AS pr ON pr.source = 'aliens_register'
         AND pr.record_id = r.record_id
        WHERE r.registration_date <= {day} AND (r.end_date IS NULL OR r.end_date > {day})
        UNION ALL
        SELECT pr.person_id FROM {residence_permits_table} AS r
        JOIN person_records AS pr ON pr.source = 'residence_permits'
         AND pr.record_id = r.record_id
        WHERE r.valid_from <= {day} AND (r.valid_to IS NULL OR r.valid_to > {day})""",
}
_NEEDS = {"population_register": ("population_register",), "census": ("census",),
          "survey": ("survey",), "signs_of_life": ("activity",),
          "foreigners_registers": ("aliens_register", "residence_permits")}


def build_resident_lists(con: Any, typed: dict[str, str], census_day: dt.date,
                         country: str, rule: str = "continuous_12",
                         window_days: int = 183) -> list[str]:
    """Table ``resident_lists``: one row per person usually resident on ``census_day``
    under ``rule``, with the person's group (citizenship group, sex, age group) and a flag
    per list. Returns the lists' names."""
    lists = [name for name, sources in _NEEDS.items() if all(s in typed for s in sources)]
    tables = {f"{s}_table": typed[s] for sources in _NEEDS.values() for s in sources
              if s in typed}
    day = census_day
    on_list = {name: render(_LIST_SQL[name], day=day, half_year=window_days, **tables)
               for name in lists}
    flags = ",\n".join(f"p.person_id IN (SELECT person_id FROM ({sql})) AS {name}"
                        for name, sql in on_list.items())
    create_table(con, "population size", "resident_lists", render(f"""
        SELECT p.person_id, {citizenship_group_sql(country)} AS citizenship_group,
               coalesce(p.sex, 'unknown') AS sex, {broad_age_group_sql(day.year)} AS age_group,
               {flags}
        FROM persons AS p
        WHERE p.person_id IN (
            SELECT person_id FROM residence_spells_days
            WHERE rule = {{rule}} AND spell_start <= {day_number(day)}
              AND (spell_end IS NULL OR spell_end > {day_number(day)}))
        ORDER BY p.person_id""", rule=rule))
    return lists


_SCOPE_ON_PATHS = """
WITH decoded AS (  -- persons in doubt, and whether the decoded reading has them resident
    SELECT t.person_idx * {samples} + t.sample AS path, t.sample,
           p.person_id IN (SELECT person_id FROM resident_lists) AS resident
    FROM presence_paths_sampled AS t JOIN presence_person AS p USING (person_idx)
),
last_event AS (
    SELECT person_id AS path, arg_max(event_type, event_day) AS last_type
    FROM events_sampled WHERE rule = {rule} AND event_day <= {day} GROUP BY person_id
),
first_arrival AS (
    SELECT person_id AS path, min(arrival) AS arrival FROM presence_sampled_paths
    GROUP BY person_id
)
SELECT d.sample,
       sum(CASE WHEN o.observation_end > {day} AND f.arrival <= {day}
                 AND coalesce(l.last_type = 'immigration', o.resident_at_start)
                THEN 1 ELSE 0 END) - sum(CASE WHEN d.resident THEN 1 ELSE 0 END) AS change
FROM decoded AS d
JOIN observed_sampled AS o ON o.person_id = d.path
LEFT JOIN first_arrival AS f ON f.path = d.path
LEFT JOIN last_event AS l ON l.path = d.path
GROUP BY d.sample ORDER BY d.sample
"""


def scope_spread(con: Any, census_day: dt.date, rule: str, level: float
                 ) -> dict[str, float] | None:
    """How many more (or fewer) persons would be usually resident on the day on the paths
    drawn from the presence model than on its decoded reading: the quantiles of that change
    at ``(1 - level) / 2`` and ``(1 + level) / 2`` (``pipelines.uncertainty``'s paths)."""
    needed = ("presence_paths_sampled", "events_sampled", "observed_sampled",
              "presence_sampled_paths", "presence_person")
    present = db.value(con, "population size", "SELECT count(*) FROM duckdb_tables() WHERE "
                       "table_name IN (" + ", ".join(f"'{t}'" for t in needed) + ")")
    if present < len(needed):
        return None
    samples = db.value(con, "population size",
                       "SELECT max(sample) + 1 FROM presence_paths_sampled")
    if not samples:
        return None
    changes = db.frame(con, "population size", render(
        _SCOPE_ON_PATHS, samples=int(samples), rule=rule, day=day_number(census_day)))
    if changes.empty:
        return None
    values = changes["change"].to_numpy(float)
    return {"paths": int(len(values)), "mean": float(values.mean()),
            "low": float(np.quantile(values, (1 - level) / 2)),
            "high": float(np.quantile(values, (1 + level) / 2))}


_HELD_OUT_READING = """
WITH last_event AS (
    SELECT person_id, arg_max(event_type, event_day) AS last_type
    FROM events_held_out WHERE rule = {rule} AND event_day <= {day} GROUP BY person_id
),
first_arrival AS (
    SELECT person_id, min(arrival) AS arrival FROM presence_held_out GROUP BY person_id
),
movers AS (SELECT DISTINCT person_id FROM events_days WHERE rule = {rule}),
readings AS (
    SELECT o.person_id IN (SELECT person_id FROM movers) AS mover,
           o.observation_end > {day} AND coalesce(f.arrival <= {day}, FALSE)
               AND coalesce(l.last_type = 'immigration', o.resident_at_start)
               AS resident_held_out,
           o.person_id IN (SELECT person_id FROM resident_lists) AS resident
    FROM observed_held_out AS o
    LEFT JOIN first_arrival AS f USING (person_id)
    LEFT JOIN last_event AS l USING (person_id)
),
in_scope AS (
    SELECT person_id IN (SELECT person_id FROM movers) AS mover, count(*) AS usual_residents
    FROM resident_lists GROUP BY ALL
)
SELECT r.mover, count(*) AS held_out_persons,
       count(*) FILTER (WHERE resident_held_out AND NOT resident) AS resident_only_held_out,
       count(*) FILTER (WHERE resident AND NOT resident_held_out)
           AS resident_only_with_crossings,
       any_value(s.usual_residents) AS usual_residents
FROM readings AS r LEFT JOIN in_scope AS s USING (mover)
GROUP BY r.mover ORDER BY r.mover
"""


def residence_model_error(con: Any, census_day: dt.date, rule: str
                          ) -> list[dict[str, Any]] | None:
    """How often the presence model misreads who is resident on the day, measured on the
    run's own data: the persons ``pipelines.uncertainty`` decodes again with their recorded
    crossings held out, resident on the day in one reading and not the other; apart for
    persons with a migration event under the rule and the others (who are misread far less
    often). Per group: the held-out persons, how many each reading alone has resident, the
    usual residents of the group, and the standard deviation of their count it implies:
    each misread at the gross rate ``r`` (a count's variance ``N r``), the net rate's
    sampling variance (``N^2 r / n``) and the net shift itself taken as a standard
    deviation, as the flows' intervals take the model's error (``pipelines.uncertainty``)."""
    present = db.value(con, "population size", "SELECT count(*) FROM duckdb_tables() WHERE "
                       "table_name IN ('events_held_out', 'presence_held_out', "
                       "'observed_held_out')")
    if present < 3:
        return None
    rows = db.records(con, "population size", render(_HELD_OUT_READING, rule=rule,
                                                       day=day_number(census_day)))
    out = []
    for row in rows:
        n, size = row["held_out_persons"], row["usual_residents"] or 0
        gained, lost = row["resident_only_held_out"], row["resident_only_with_crossings"]
        gross, net = (gained + lost) / n, (gained - lost) / n
        out.append(row | {"gross_rate": gross, "net_rate": net, "standard_deviation": math.sqrt(
            size * gross + size ** 2 * gross / n + (size * net) ** 2)})
    return out or None


def _widened(headline: dict[str, Any] | None, spread: dict[str, float] | None,
             model_error: list[dict[str, Any]] | None, level: float) -> dict[str, Any] | None:
    """The headline's interval widened, in quadrature, by the spread of the presence model's
    drawn paths and by its own error (``residence_model_error``)."""
    if headline is None:
        return headline
    estimate = headline["estimate"]
    down, up = estimate - headline["low"], headline["high"] - estimate
    out: dict[str, Any] = {"lists_only_interval": [headline["low"], headline["high"]]}
    if spread is not None:
        down = math.hypot(down, min(spread["low"], 0.0))
        up = math.hypot(up, max(spread["high"], 0.0))
        out["residence_reading_change"] = spread
    if model_error:
        z = ps.normal_quantile(level) * math.sqrt(sum(g["standard_deviation"] ** 2
                                                      for g in model_error))
        down, up = math.hypot(down, z), math.hypot(up, z)
        out["residence_model_error"] = model_error
    return headline | out | {"low": max(math.floor(estimate - down), 0),
                             "high": math.ceil(estimate + up)}


def _band(table: pd.DataFrame, lists: list[str], fit: ps.Fit, split: float,
          false_joins: float) -> list[float | None]:
    """The chosen model refitted with the expected split persons joined (the part too many
    taken from the one-list histories, where a part seen on one list most often is) and
    the expected false joins split apart (a two-list history made two one-list ones); each
    spread over the histories as the table's own units are."""
    def refit(adjusted: dict[tuple[int, ...], float]) -> float | None:
        frame = pd.DataFrame([(*h, n) for h, n in adjusted.items() if any(h)],
                             columns=[*lists, "count"])
        again = ps.fit_model(frame, lists, fit.interactions, level=None)
        return None if again is None else again.estimate

    cells = {tuple(int(v) for v in row[lists]): float(row["count"])
             for _, row in table.iterrows()}
    ones = [h for h in cells if sum(h) == 1]
    twos = [h for h in cells if sum(h) == 2]

    def joined(amount: float) -> dict[tuple[int, ...], float]:
        total = sum(cells[h] for h in ones)
        return {h: n - (min(n, amount * n / total) if h in ones and total else 0.0)
                for h, n in cells.items()}

    def split_apart(amount: float) -> dict[tuple[int, ...], float]:
        result = dict(cells)
        total = sum(cells[h] for h in twos)
        for h in twos if total else ():
            k = min(cells[h], amount * cells[h] / total)
            result[h] -= k
            for i in (i for i, on in enumerate(h) if on):
                alone = tuple(int(j == i) for j in range(len(lists)))
                result[alone] = result.get(alone, 0.0) + k
        return result

    return [refit(joined(split)), refit(split_apart(false_joins))]


def estimate_group(frame: pd.DataFrame, lists: list[str], criterion: str = "bic",
                   level: float = 0.95, split: float = 0.0, false_joins: float = 0.0,
                   weight: str | None = None,
                   min_listed: int = PopulationSizeSettings.min_listed,
                   exhaustive_lists: int = ps.EXHAUSTIVE_LISTS) -> dict[str, Any] | None:
    """The multiple-systems estimate of one group of persons (``frame``: a 0/1 column per
    list), on the lists somebody in it is on; ``None`` with fewer than ``min_listed``
    listed or no model whose estimate exists. ``split`` and ``false_joins``: the group's
    expected linkage errors, for the sensitivity band. ``weight``: a column of counts, when
    a row stands for several persons."""
    used = [x for x in lists if frame[x].any()]  # a list nobody in the group is on
    table = ps.capture_histories(frame, used, weight) if len(used) >= 2 else None
    if table is None or table["count"].sum() < min_listed:
        return None
    try:
        result = ps.estimate_population(table, used, criterion=criterion, level=level,
                                        exhaustive_lists=exhaustive_lists)
    except ValueError:
        return None
    fit = result.fit
    low, high = fit.interval or (None, None)
    out = {"lists": used, "model": fit.name,
           "interactions": [f"{a} x {b}" for a, b in fit.interactions],
           "in_scope_persons": int(frame[weight].sum() if weight else len(frame)),
           "listed": fit.observed,
           "unlisted_estimate": fit.unobserved, "estimate": fit.estimate,
           "low": low, "high": None if high is None or math.isinf(high) else high,
           criterion: fit.score, "models_compared": len(result.ranking)}
    if split or false_joins:
        out["linkage_sensitivity"] = _band(table, used, fit, split, false_joins)
    return out


def sum_groups(parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Estimates of disjoint groups added up; the interval's ends as the groups' distances
    to their ends added in quadrature (the groups are estimated independently), rounded
    outward to whole persons and never below the persons listed."""
    if not parts or any(p.get("high") is None for p in parts):
        return None
    estimate = sum(p["estimate"] for p in parts)
    listed = sum(p["listed"] for p in parts)
    down = math.sqrt(sum((p["estimate"] - p["low"]) ** 2 for p in parts))
    up = math.sqrt(sum((p["high"] - p["estimate"]) ** 2 for p in parts))
    out = {"estimate": estimate, "low": max(math.floor(estimate - down), listed),
           "high": math.ceil(estimate + up), "listed": listed,
           "in_scope_persons": sum(p["in_scope_persons"] for p in parts)}
    bands = [p.get("linkage_sensitivity") for p in parts]
    if all(b and None not in b for b in bands):
        out["linkage_sensitivity"] = [sum(b[0] for b in bands), sum(b[1] for b in bands)]
    return out


def population_size(con: Any, typed: dict[str, str], census_day: str | None, country: str,
                    linkage: dict[str, Any],
                    settings: PopulationSizeSettings | None = None) -> dict[str, Any] | None:
    """Multiple-systems estimates of the usually resident population on census day: in all,
    by citizenship group (summed for the headline), by sex and by age group; and the dual-
    system estimate of each pair of lists."""
    if census_day is None or "census" not in typed:
        return None
    settings = settings or PopulationSizeSettings()
    rule, criterion, level = settings.rule, settings.criterion, settings.level
    day = dt.date.fromisoformat(census_day)
    lists = build_resident_lists(con, typed, day, country, rule, settings.list_window_days)
    # persons counted by group and history: a few hundred rows, whatever the population
    frame = db.frame(con, "population size", "SELECT * EXCLUDE (person_id), count(*) AS n "
                     "FROM resident_lists GROUP BY ALL ORDER BY ALL")
    if len(lists) < 2 or frame.empty:
        return None
    residents = int(frame["n"].sum())
    persons = max(int(linkage.get("persons") or 0), 1)
    scale = residents / persons  # the share of the linkage's errors among these persons
    split = float(linkage.get("expected_split_persons") or 0.0) * scale
    false_joins = float(linkage.get("expected_false_joins") or 0.0) * scale
    by: dict[str, list[dict[str, Any]]] = {}
    for column in ("citizenship_group", "sex", "age_group"):
        rows = []
        for group, part in frame.groupby(column, sort=True):
            share = int(part["n"].sum()) / residents
            fit = estimate_group(part, lists, criterion, level, split * share,
                                 false_joins * share, weight="n",
                                 min_listed=settings.min_listed,
                                 exhaustive_lists=settings.exhaustive_lists)
            rows.append({column: group, **(fit or {"in_scope_persons": int(part["n"].sum()),
                                                   "estimate": None})})
        by[column] = rows
    headline = _widened(
        sum_groups([r for r in by["citizenship_group"] if r.get("estimate") is not None]),
        scope_spread(con, day, rule, level), residence_model_error(con, day, rule), level)
    dual = []
    for i, a in enumerate(lists):
        for b in lists[i + 1:]:
            n1, n2 = int(frame.n[frame[a]].sum()), int(frame.n[frame[b]].sum())
            both = int(frame.n[frame[a] & frame[b]].sum())
            if n1 and n2:
                dual.append({"lists": f"{a} x {b}", "on_first": n1, "on_second": n2,
                             "on_both": both} | ps.chapman(n1, n2, both))
    return {"census_date": census_day, "rule": rule, "criterion": criterion, "level": level,
            "lists": lists, "in_scope_persons": residents,
            "estimate": headline,
            "unstratified": estimate_group(frame, lists, criterion, level, split, false_joins,
                                           weight="n", min_listed=settings.min_listed,
                                           exhaustive_lists=settings.exhaustive_lists),
            "by_citizenship_group": by["citizenship_group"], "by_sex": by["sex"],
            "by_age_group": by["age_group"], "dual_system": dual}
