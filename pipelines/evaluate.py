"""``miglink evaluate OUT --truth DIR/truth``: score a run against ground truth.

* persons: pairwise precision, recall, F1 over records (``linkage.evaluate``);
* links: precision of accepted links;
* events, per rule: confirmed events matched one-to-one to true confirmed events of the same
  person (predicted persons mapped to the true person most of their records belong to), same
  type, dates within ``tolerance_days``; within the run's window;
* annual flows: relative error of confirmed counts per year and event type over the complete
  years (years whose last day plus 16 months is before the as-of date).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.parquet as pq

from linkage.evaluate import exact_persons, links_pairwise, persons_pairwise, prf
from pipelines.linkage_quality import JOIN_KIND_SQL
from pipelines.rules import RULES, last_complete_year
from schemas import engine
from schemas import sql as db
from schemas.errors import ConfigError
from schemas.sql import run_stage

TOLERANCE_DAYS = 62


def event_scores(con: Any, documented: str, tolerance_days: int = TOLERANCE_DAYS
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per rule, precision, recall and F1 of the tables ``predicted`` against ``actual``
    (eid, rule, event_type, event_date, true_person_id): one-to-one, same true person and
    type, dates at most ``tolerance_days`` apart. Then the same apart for persons who lived
    documented and undocumented (table ``documented``: true_person_id, undocumented), when
    there are undocumented persons' events; a predicted person owned by no true person
    counts as documented."""
    events: dict[str, Any] = {}
    by_documentation: dict[str, Any] = {}
    for rule in RULES:
        # (predicted, true, days apart, whether the true person is undocumented)
        pairs = db.rows(con, "evaluate", f"""
            SELECT p.eid, a.eid, abs(date_diff('day', p.event_date, a.event_date)),
                   COALESCE(d.undocumented, FALSE)
            FROM predicted AS p JOIN actual AS a
              ON a.true_person_id = p.true_person_id AND a.rule = p.rule
             AND a.event_type = p.event_type
             AND abs(date_diff('day', p.event_date, a.event_date)) <= ?
            LEFT JOIN {documented} AS d ON d.true_person_id = a.true_person_id
            WHERE p.rule = ?""", [int(tolerance_days), rule])
        counts = {table: dict(db.rows(con, "evaluate", f"""
            SELECT COALESCE(d.undocumented, FALSE), count(*) FROM {table} AS e
            LEFT JOIN {documented} AS d ON d.true_person_id = e.true_person_id
            WHERE e.rule = ? GROUP BY ALL""", [rule])) for table in ("predicted", "actual")}
        events[rule] = prf(_match_events([x[:3] for x in pairs]),
                           sum(counts["predicted"].values()), sum(counts["actual"].values()))
        if True in counts["actual"] or True in counts["predicted"]:
            by_documentation[rule] = {
                name: prf(_match_events([x[:3] for x in pairs if x[3] == flag]),
                          counts["predicted"].get(flag, 0), counts["actual"].get(flag, 0))
                for name, flag in (("documented", False), ("undocumented", True))}
    return events, by_documentation


def _file(path: Path) -> str:
    """A Parquet file as a relation in SQL (its path a literal, whatever it holds)."""
    return f"read_parquet({db.literal(str(path))})"


def _date(value: Any) -> str:
    return f"CAST({db.literal(str(value))} AS DATE)"


def _documentation(con: Any, truth: Path) -> str:
    """A table of whether each true person lived undocumented (held by no register or
    permit), when the truth says; else an empty one."""
    persons = truth / "persons.parquet"
    if persons.exists() and "undocumented" in pq.read_schema(persons).names:
        run_stage(con, "evaluate", f"""CREATE TABLE documentation AS
            SELECT CAST(true_person_id AS VARCHAR) AS true_person_id, undocumented
            FROM {_file(persons)}""")
        return "documentation"
    run_stage(con, "evaluate", """CREATE TABLE no_documentation AS
        SELECT CAST(NULL AS VARCHAR) AS true_person_id, FALSE AS undocumented WHERE FALSE""")
    return "no_documentation"


def _match_events(pairs: list[tuple]) -> int:
    """Greedy one-to-one matching of (predicted, true, distance) by smallest distance."""
    used_p, used_t, matched = set(), set(), 0
    for p, t, _d in sorted(pairs, key=lambda x: (x[2], x[0], x[1])):
        if p not in used_p and t not in used_t:
            used_p.add(p)
            used_t.add(t)
            matched += 1
    return matched


def evaluate(out: Path, truth: Path, tolerance_days: int = TOLERANCE_DAYS) -> dict[str, Any]:
    """Score the run in ``out`` against ``truth``; on a database bounded like a run's (a
    share of the machine's memory, in a folder beside ``out`` removed after)."""
    for needed in (out / "person_records.parquet", truth / "record_person.parquet"):
        if not needed.exists():
            raise ConfigError(f"{needed} is missing")
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.evaluate-",
                                     dir=out.resolve().parent) as work:
        # a database file, not memory: at national scale the truth and the run's tables
        # outgrow the memory limit, and a file's tables are paged out as spill is
        con = duckdb.connect(str(Path(work) / "evaluate.duckdb"))
        try:
            engine.apply(con, engine.resolve(engine.EngineSettings(), Path(work)))
            return _evaluate(con, out, truth, tolerance_days)
        finally:
            con.close()


def _evaluate(con: Any, out: Path, truth: Path, tolerance_days: int) -> dict[str, Any]:
    run = json.loads((out / "run_config.json").read_text())
    window_start, as_of = run["window_start"], run["as_of"]
    run_stage(con, "evaluate",
              f"CREATE TABLE person_records AS SELECT * FROM {_file(out / 'person_records.parquet')}")
    run_stage(con, "evaluate",
              f"CREATE TABLE links AS SELECT * FROM {_file(out / 'links.parquet')}")
    run_stage(con, "evaluate",
              "CREATE TABLE truth_record_person AS SELECT CAST(source AS VARCHAR) AS "
                "source, CAST(record_id AS VARCHAR) AS record_id, "
                f"CAST(true_person_id AS VARCHAR) AS true_person_id "
                f"FROM {_file(truth / 'record_person.parquet')}")
    threshold = run.get("linkage", {}).get("threshold", 0.5)
    result: dict[str, Any] = {
        "persons": persons_pairwise(con) | exact_persons(con),
        "links": links_pairwise(con, threshold=threshold),
        "window": {"start": window_start, "as_of": as_of, "tolerance_days": tolerance_days},
    }
    run_stage(con, "evaluate",
              """CREATE TABLE person_truth AS
        SELECT person_id, arg_max(true_person_id, n) AS true_person_id FROM (
            SELECT p.person_id, t.true_person_id, count(*) AS n
            FROM person_records AS p JOIN truth_record_person AS t USING (source, record_id)
            GROUP BY ALL) GROUP BY person_id""")
    run_stage(con, "evaluate",
              f"""CREATE TABLE predicted AS
        SELECT row_number() OVER () AS eid, e.rule, e.event_type, e.event_date,
               m.true_person_id
        FROM {_file(out / 'migration_events.parquet')} AS e
        LEFT JOIN person_truth AS m USING (person_id)
        WHERE e.status = 'confirmed'""")
    run_stage(con, "evaluate",
              f"""CREATE TABLE actual AS
        SELECT row_number() OVER () AS eid, rule, event_type, CAST(event_date AS DATE)
               AS event_date, CAST(true_person_id AS VARCHAR) AS true_person_id
        FROM {_file(truth / 'events.parquet')}
        WHERE status = 'confirmed' AND event_date >= {_date(window_start)}
          AND event_date <= {_date(as_of)}""")
    events, by_documentation = event_scores(con, _documentation(con, truth), tolerance_days)
    result["events"] = events
    if by_documentation:  # persons no register or permit holds, apart (synthetic truth)
        result["events_by_documentation"] = by_documentation
    if (out / "migration_patterns.parquet").exists():
        result["patterns"] = _patterns(con, out, truth, window_start, as_of)
    result["annual_flows"] = _annual_flows(con, window_start, as_of,
                                           run["rule_parameters"]["tw"])
    if by_documentation:
        result["annual_flows"]["documented_mean_absolute_relative_error"] = _annual_flows(
            con, window_start, as_of, run["rule_parameters"]["tw"],
            "documentation")["mean_absolute_relative_error"]
    intervals = (json.loads((out / "quality.json").read_text()).get("flow_intervals")
                 if (out / "quality.json").exists() else None)
    if intervals:
        result["flow_intervals"] = _flow_interval_coverage(
            con, intervals, result["annual_flows"]["complete_years"])
    baseline = _register_only_flows(con, truth, result["annual_flows"]["complete_years"])
    if baseline:
        result["register_only_flows"] = baseline
    mirror = _mirror_coverage(out, truth)
    if mirror:
        result["mirror_coverage"] = mirror
    size = _population_size(con, out, truth)
    if size:
        result["population_size"] = size
    coverage = _register_over_coverage(con, out, truth, as_of)
    if coverage:
        result["register_over_coverage"] = coverage
    if (out / "miglink.duckdb").exists():
        result["linkage_errors"] = errors = linkage_errors(con, out / "miglink.duckdb")
        estimated = json.loads((out / "quality.json").read_text())["linkage"]
        for kind in ("false_matches", "missed_matches"):
            interval = estimated.get(f"expected_{kind}_interval")
            if interval:
                errors[f"expected_{kind}_interval"] = interval
                errors[f"{kind}_in_interval"] = _covers(interval, errors[kind])
        control = estimated.get("two_persons_control")
        if control:  # the same counted against the known two persons (a negative control)
            for kind in ("false_matches", "missed_matches", "split_persons"):
                errors[f"control_{kind}"] = control[kind]
            for kind in ("false_matches", "missed_matches"):
                interval = control[f"{kind}_interval"]
                errors[f"control_{kind}_interval"] = interval
                errors[f"{kind}_in_control_interval"] = _covers(interval, errors[kind])
    (out / "evaluation.json").write_text(json.dumps(result, indent=1, default=str))
    return result


def _covers(interval: list[float | None], count: float) -> bool | None:
    """Whether the true ``count`` fell in an estimate's ``interval`` (None: no interval)."""
    low, high = interval
    return None if low is None or high is None else low <= count <= high


def _patterns(con: Any, out: Path, truth: Path, window_start: str, as_of: str
              ) -> dict[str, Any]:
    """Circular migrants (person level, mapped to true persons) and return immigrations in
    the window, against the same definitions applied to the true events."""
    run_stage(con, "evaluate",
              f"""CREATE TABLE true_events AS
        SELECT rule, event_type, CAST(event_date AS DATE) AS event_date,
               CAST(true_person_id AS VARCHAR) AS true_person_id
        FROM {_file(truth / 'events.parquet')} WHERE status = 'confirmed'""")
    run_stage(con, "evaluate",
              f"""CREATE TABLE true_born AS SELECT CAST(true_person_id AS VARCHAR) AS
        true_person_id FROM {_file(truth / 'persons.parquet')} WHERE born_in_country""")
    figures: dict[str, Any] = {}
    for rule in RULES:
        predicted = {r[0] for r in db.rows(con, "evaluate",
                                           f"""
            SELECT DISTINCT m.true_person_id FROM {_file(out / 'migration_patterns.parquet')} AS p
            JOIN person_truth AS m USING (person_id)
            WHERE p.rule = {db.literal(rule)} AND p.circular_migrant""")}
        actual = {r[0] for r in db.rows(con, "evaluate",
                                        f"""
            SELECT DISTINCT true_person_id FROM (
                SELECT true_person_id, count(*) OVER (
                    PARTITION BY true_person_id ORDER BY event_date
                    RANGE BETWEEN CURRENT ROW AND INTERVAL 3652 DAYS FOLLOWING) AS n
                FROM true_events WHERE rule = {db.literal(rule)}) WHERE n >= 3""")}
        returns = db.value(con, "evaluate",
                           f"""
            WITH e AS (
                SELECT *, count(*) FILTER (WHERE event_type = 'immigration') OVER (
                    PARTITION BY true_person_id ORDER BY event_date
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier
                FROM true_events WHERE rule = {db.literal(rule)})
            SELECT count(*) FROM e WHERE event_type = 'immigration'
              AND event_date BETWEEN {_date(window_start)} AND {_date(as_of)}
              AND (earlier > 0 OR true_person_id IN (SELECT true_person_id FROM true_born))
            """)
        figures[rule] = {
            "circular_migrants": prf(len(predicted & actual), len(predicted), len(actual)),
            "return_immigrations_in_window_true": int(returns),
        }
    return figures


def linkage_errors(con: Any, database: Path) -> dict[str, Any]:
    """The true counts behind the model's error estimates (``pipelines.quality``), in the
    same units (scored pairs of identity profiles), and the blocking recall.

    A profile's true person is the one most of its records belong to. Blocking recall: the
    share of truly matching profile pairs that some blocking rule put in one block."""
    run_stage(con, "evaluate", f"ATTACH {db.literal(str(database))} AS run (READ_ONLY)")
    run_stage(con, "evaluate",
              """CREATE TABLE profile_truth AS
        WITH counted AS (
            SELECT unique_id, true_person_id, count(*) AS n
            FROM run.record_profile JOIN truth_record_person USING (source, record_id)
            GROUP BY ALL)
        -- the commonest true person, ties the first (an ordered mode() does not spill)
        SELECT unique_id, true_person_id FROM counted
        QUALIFY row_number() OVER (PARTITION BY unique_id ORDER BY n DESC, true_person_id) = 1
        """)
    figures = """
        count(*) FILTER (WHERE decision = 'link' AND NOT same) AS false_matches,
        round(sum(1 - person_match_probability) FILTER (WHERE decision = 'link'), 1)
            AS expected_false_matches,
        count(*) FILTER (WHERE decision = 'apart' AND NOT known_two_persons AND same)
            AS missed_matches,
        round(sum(person_match_probability) FILTER (WHERE decision = 'apart'
                                             AND NOT known_two_persons), 1)
            AS expected_missed_matches"""
    run_stage(con, "evaluate",
              """CREATE TABLE decided AS
        SELECT d.*, l.true_person_id = r.true_person_id AS same
        FROM run.pair_decisions AS d
        JOIN profile_truth AS l ON l.unique_id = d.unique_id_l
        JOIN profile_truth AS r ON r.unique_id = d.unique_id_r""")
    overall = db.frame(con, "evaluate", f"SELECT {figures} FROM decided").to_dict("records")[0]
    by_pair = db.frame(con, "evaluate",
                       f"""SELECT least(source_l, source_r) AS source_a,
                                 greatest(source_l, source_r) AS source_b, {figures}
                          FROM decided GROUP BY ALL ORDER BY ALL""")
    true_pairs = db.value(con, "evaluate",
                          """SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (
        SELECT count(*) AS n FROM profile_truth GROUP BY true_person_id)""")
    blocked = db.value(con, "evaluate", "SELECT count(*) FROM decided WHERE same")
    persons = _person_errors(con)
    run_stage(con, "evaluate", "DETACH run")
    return {
        **{k: float(v) for k, v in overall.items()},
        "by_source_pair": json.loads(by_pair.to_json(orient="records")),
        **persons,
        "blocking_recall": blocked / true_pairs if true_pairs else 1.0,
        "true_matching_profile_pairs": int(true_pairs),
    }


def _person_errors(con: Any) -> dict[str, Any]:
    """The true counts behind the error estimates in persons: false joins (a person holding
    records of k true persons needed k - 1 of them) and split persons (pairs of persons with
    scored pairs between them whose records belong mostly to one true person)."""
    if not {"person_joins", "persons_apart"} <= {
            r[0] for r in db.rows(con, "evaluate",
                                  "SELECT table_name FROM duckdb_tables() "
                                     "WHERE database_name = 'run'")}:
        return {}  # a run from before these tables
    run_stage(con, "evaluate",
              """CREATE TABLE cluster_truth AS
        SELECT c.cluster, mode(t.true_person_id ORDER BY t.true_person_id) AS true_person_id,
               count(DISTINCT t.true_person_id) AS true_persons
        FROM run.profile_cluster AS c JOIN profile_truth AS t USING (unique_id)
        GROUP BY c.cluster""")
    row = db.rows(con, "evaluate",
                  """SELECT
        (SELECT sum(true_persons - 1) FROM cluster_truth) AS false_joins,
        (SELECT round(sum(false_join_probability), 3) FROM run.person_joins)
            AS expected_false_joins,
        (SELECT count(*) FROM run.persons_apart AS p
         JOIN cluster_truth AS a ON a.cluster = p.cluster_a
         JOIN cluster_truth AS b ON b.cluster = p.cluster_b
         WHERE a.true_person_id = b.true_person_id) AS split_persons,
        (SELECT round(sum(same_person_probability), 3) FROM run.persons_apart)
            AS expected_split_persons""")[0]
    keys = ("false_joins", "expected_false_joins", "split_persons", "expected_split_persons")
    figures: dict[str, Any] = {k: float(v or 0) for k, v in zip(keys, row, strict=True)}
    # the same by kind of join: a profile taken into a group, or two groups of profiles (each
    # already held two or more) made one; a join is false when most pairs it united are
    # non-matches, and its links are false with it
    if db.value(con, "evaluate",
                """SELECT count(*) FROM duckdb_columns() WHERE database_name = 'run'
                  AND table_name = 'person_joins' AND column_name = 'smaller_group_profiles'
               """):
        figures["errors_by_join_kind"] = db.records(con, "evaluate", f"""
            WITH truth AS (
                SELECT join_event, avg(CASE WHEN same THEN 0.0 ELSE 1.0 END) AS false_share,
                       count(*) FILTER (WHERE decision = 'link') AS links,
                       count(*) FILTER (WHERE decision = 'link' AND NOT same) AS false_links
                FROM decided WHERE decision <> 'apart' AND NOT known_two_persons
                GROUP BY join_event
            )
            SELECT {JOIN_KIND_SQL} AS join_kind,
                   count(*) AS joins,
                   count(*) FILTER (WHERE t.false_share > 0.5) AS false_joins,
                   round(sum(j.false_join_probability), 1) AS expected_false_joins,
                   sum(t.false_links) AS false_links,
                   round(sum(j.false_join_probability * t.links), 1) AS expected_false_links
            FROM run.person_joins AS j JOIN truth AS t USING (join_event)
            GROUP BY ALL ORDER BY ALL""")
    return figures


def _register_over_coverage(con: Any, out: Path, truth: Path, as_of: str
                            ) -> dict[str, Any] | None:
    """The share of persons the population register holds at the as-of date who were truly
    not in the country then (emigrated unreported, or dead), beside the run's estimate."""
    register = truth.parent / "population_register.parquet"
    quality_path = out / "quality.json"
    if not register.exists() or not (truth / "presence.parquet").exists() \
            or not quality_path.exists():
        return None
    estimate = (json.loads(quality_path.read_text()).get("register_coverage") or {}).get(
        "over_coverage_rate")
    row = db.rows(con, "evaluate",
                  f"""
        WITH registered AS (
            SELECT DISTINCT t.true_person_id FROM {_file(register)} AS r
            JOIN truth_record_person AS t
              ON t.source = 'population_register' AND t.record_id = CAST(r.record_id AS VARCHAR)
            WHERE r.registration_date <= {_date(as_of)}
              AND (r.deregistration_date IS NULL OR r.deregistration_date > {_date(as_of)})),
        present AS (
            SELECT DISTINCT CAST(true_person_id AS VARCHAR) AS true_person_id
            FROM {_file(truth / 'presence.parquet')}
            WHERE arrival_date <= {_date(as_of)}
              AND (departure_date IS NULL OR departure_date > {_date(as_of)}))
        SELECT count(*), count(*) FILTER (WHERE true_person_id NOT IN
                                          (SELECT true_person_id FROM present))
        FROM registered""")[0]
    true_rate = row[1] / row[0] if row[0] else None
    return {"registered_persons": row[0], "true_over_coverage_rate": true_rate,
            "estimated_over_coverage_rate": estimate,
            "difference_percentage_points": None if estimate is None or true_rate is None
            else round(100 * (estimate - true_rate), 2)}


def _population_size(con: Any, out: Path, truth: Path) -> dict[str, Any] | None:
    """The usually resident population on census day (the rule of the estimate) in truth,
    beside the multiple-systems estimate and its interval."""
    quality_path = out / "quality.json"
    if not quality_path.exists() or not (truth / "events.parquet").exists():
        return None
    size = json.loads(quality_path.read_text()).get("population_size") or {}
    headline = size.get("estimate")
    if not headline:
        return None
    day = size["census_date"]
    true_count = db.value(con, "evaluate", f"""
        WITH alive AS (
            SELECT true_person_id, born_in_country FROM {_file(truth / 'persons.parquet')}
            WHERE birth_date <= {_date(day)}
              AND (death_date IS NULL OR death_date > {_date(day)})),
        last_event AS (
            SELECT true_person_id, arg_max(event_type, event_date) AS last_type
            FROM {_file(truth / 'events.parquet')}
            WHERE rule = {db.literal(size['rule'])} AND event_date <= {_date(day)} GROUP BY ALL)
        SELECT count(*) FROM alive AS a LEFT JOIN last_event AS l USING (true_person_id)
        WHERE coalesce(l.last_type = 'immigration', a.born_in_country)""")
    estimate = headline["estimate"]
    return {"census_date": day, "rule": size["rule"], "true_usual_residents": true_count,
            "estimate": estimate, "interval": [headline["low"], headline["high"]],
            "relative_error": (estimate - true_count) / true_count if true_count else None,
            "interval_covers": headline["low"] <= true_count <= headline["high"]}


MIRROR_MIN_MOVES = 100  # partners reporting fewer of our moves are read, not correlated


def _mirror_coverage(out: Path, truth: Path) -> dict[str, Any] | None:
    """Each partner's coverage of our moves as the mirror statistics read it (its counts over
    our events, those of unknown country shared out), beside the share the partner truly
    records (written by the generator)."""
    quality_path, true_path = out / "quality.json", truth / "mirror_coverage.parquet"
    if not quality_path.exists() or not true_path.exists():
        return None
    mirror = json.loads(quality_path.read_text()).get("mirror") or {}
    pooled: dict[str, list[float]] = {}
    for r in mirror.get("by_partner", []):
        cell = pooled.setdefault(r["partner"], [0.0, 0.0])
        cell[0] += r["theirs"]
        cell[1] += r["ours_allocated"] or 0.0
    table = pq.read_table(true_path).to_pydict()
    true_coverage = dict(zip(table["partner"], table["coverage"], strict=True))
    rows = [{"partner": k, "estimated": theirs / ours, "true": true_coverage[k],
             "their_moves": theirs}
            for k, (theirs, ours) in sorted(pooled.items()) if ours and k in true_coverage]
    if len(rows) < 3:
        return None
    estimated = np.array([r["estimated"] for r in rows])
    actual = np.array([r["true"] for r in rows])
    moves = np.array([r["their_moves"] for r in rows])
    big = moves >= MIRROR_MIN_MOVES
    return {"partners": rows,
            "weighted_mean_absolute_difference":
                float((np.abs(estimated - actual) * moves).sum() / moves.sum()),
            "correlation_large_partners": float(np.corrcoef(estimated[big], actual[big])[0, 1])
            if big.sum() >= 3 else None,
            "large_partners": int(big.sum())}


def _annual_flows(con: Any, window_start: str, as_of: str, tw: int,
                  documented: str | None = None) -> dict[str, Any]:
    """Predicted against true confirmed counts per rule, year and type over the complete
    years. ``documented`` (a table of true persons with ``undocumented``): the same counted
    over the persons some register or permit holds only (a predicted person owned by no
    true person counts as documented)."""
    last_year = last_complete_year(dt.date.fromisoformat(as_of), tw)
    first_year = dt.date.fromisoformat(window_start).year
    kept = "TRUE" if documented is None else "NOT COALESCE(d.undocumented, FALSE)"
    joined = "" if documented is None else \
        f"LEFT JOIN {documented} AS d ON d.true_person_id = e.true_person_id"
    rows = db.rows(con, "evaluate",
                   f"""
        WITH p AS (SELECT rule, year(event_date) AS year, event_type, count(*) AS n
                   FROM predicted AS e {joined} WHERE {kept} GROUP BY ALL),
             a AS (SELECT rule, year(event_date) AS year, event_type, count(*) AS n
                   FROM actual AS e {joined} WHERE {kept} GROUP BY ALL)
        SELECT a.rule, a.year, a.event_type, coalesce(p.n, 0) AS predicted, a.n AS actual
        FROM a LEFT JOIN p USING (rule, year, event_type)
        WHERE a.year BETWEEN ? AND ?
        ORDER BY ALL""", [first_year, last_year])
    table = [{"rule": r, "year": y, "event_type": t, "predicted": p, "actual": a,
              "relative_error": (p - a) / a if a else None} for r, y, t, p, a in rows]
    summary = {}
    for rule in RULES:
        errors = [abs(x["relative_error"]) for x in table
                  if x["rule"] == rule and x["relative_error"] is not None]
        summary[rule] = sum(errors) / len(errors) if errors else None
    return {"complete_years": [first_year, last_year], "mean_absolute_relative_error": summary,
            "by_year": table}


def _flow_interval_coverage(con: Any, intervals: list[dict[str, Any]], years: list[int]
                            ) -> dict[str, Any]:
    """How often the run's 90% flow intervals held the true count of confirmed events, per
    rule, year and event type over the complete years, and how far the expected counts
    were off (mean absolute relative error per rule)."""
    truth = {(r, y, t): n for r, y, t, n in db.rows(con, "evaluate",
                                                    """
        SELECT rule, year(event_date), event_type, count(*) FROM actual GROUP BY ALL""")}
    cells = []
    for row in intervals:
        if years[0] <= row["year"] <= years[1]:
            true = truth.get((row["rule"], row["year"], row["event_type"]), 0)
            cells.append({**row, "true": true, "covered": row["low"] <= true <= row["high"]})
    covered = sum(c["covered"] for c in cells)
    error = {}
    for rule in RULES:
        errors = [abs(c["expected"] - c["true"]) / c["true"] for c in cells
                  if c["rule"] == rule and c["true"]]
        error[rule] = sum(errors) / len(errors) if errors else None
    return {"cells": len(cells), "covered": covered,
            "coverage": covered / len(cells) if cells else None,
            "expected_mean_absolute_relative_error": error, "by_cell": cells}


def _register_only_flows(con: Any, truth: Path, years: list[int]) -> dict[str, Any] | None:
    """What offices publish today, registrations from abroad and deregistrations for
    emigration per year, scored like the run's flows against the true confirmed events."""
    register = truth.parent / "population_register.parquet"
    if not register.exists():
        return None
    rows = db.rows(con, "evaluate",
                   f"""
        WITH r AS (
            SELECT year(registration_date) AS year, 'immigration' AS event_type, count(*) AS n
            FROM {_file(register)} WHERE previous_residence_country IS NOT NULL GROUP BY ALL
            UNION ALL
            SELECT year(deregistration_date), 'emigration', count(*)
            FROM {_file(register)} WHERE deregistration_reason = 'emigration' GROUP BY ALL),
        a AS (SELECT rule, year(event_date) AS year, event_type, count(*) AS n
              FROM actual GROUP BY ALL)
        SELECT a.rule, a.year, a.event_type, coalesce(r.n, 0), a.n
        FROM a LEFT JOIN r USING (year, event_type)
        WHERE a.year BETWEEN {int(years[0])} AND {int(years[1])} ORDER BY ALL""")
    summary = {}
    for rule in RULES:
        errors = [abs(p - n) / n for r, _y, _t, p, n in rows if r == rule and n]
        summary[rule] = sum(errors) / len(errors) if errors else None
    return {"mean_absolute_relative_error": summary}


def _interval(errors: dict[str, Any], kind: str) -> str:
    interval = errors.get(f"expected_{kind}_interval")
    return f", 90% interval {interval[0]:,.0f}-{interval[1]:,.0f}" if interval else ""


def format_evaluation(result: dict[str, Any]) -> str:
    p = result["persons"]
    lines = [f"persons pairwise: precision {p['precision']:.4f}  recall {p['recall']:.4f}  "
             f"F1 {p['f1']:.4f}; exact persons {p['exact_person_rate']:.4f}",
             f"links: precision {result['links']['precision']:.4f} "
             f"({result['links']['accepted']:,} accepted)"]
    for rule, e in result["events"].items():
        lines.append(f"events {rule:>13}: precision {e['precision']:.4f}  recall "
                     f"{e['recall']:.4f}  F1 {e['f1']:.4f}  (predicted {int(e['predicted']):,},"
                     f" true {int(e['actual']):,})")
        split = result.get("events_by_documentation", {}).get(rule)
        if split:
            lines.append("  " + "; ".join(
                f"{name} persons F1 {split[name]['f1']:.4f} (true {int(split[name]['actual']):,})"
                for name in ("documented", "undocumented")))
    if "linkage_errors" in result:
        e = result["linkage_errors"]
        if "false_joins" in e:
            lines.append(f"errors in persons: false joins {int(e['false_joins']):,} (model "
                         f"expects {e['expected_false_joins']:,.0f}), split persons "
                         f"{int(e['split_persons']):,} (model expects "
                         f"{e['expected_split_persons']:,.0f})")
        for k in e.get("errors_by_join_kind", []):
            lines.append(f"  joins of {k['join_kind']}: {int(k['joins']):,}, false "
                         f"{int(k['false_joins']):,} (model expects "
                         f"{k['expected_false_joins']:,.0f}), their false links "
                         f"{int(k['false_links']):,} (model expects "
                         f"{k['expected_false_links']:,.0f})")
        lines.append(f"linkage errors: false matches {int(e['false_matches']):,} (model expects "
                     f"{e['expected_false_matches']:,.0f}{_interval(e, 'false_matches')}), "
                     f"missed matches {int(e['missed_matches']):,} (model expects "
                     f"{e['expected_missed_matches']:,.0f}{_interval(e, 'missed_matches')}); "
                     f"blocking recall {e['blocking_recall']:.4f}")
        if "control_false_matches" in e:
            low, high = e["control_false_matches_interval"]
            lines.append(f"  against the known two persons: false matches "
                         f"{e['control_false_matches']:,.0f} (90% interval {low:,.0f}-"
                         f"{high:,.0f}), missed matches {e['control_missed_matches']:,.0f}, "
                         f"split persons {e['control_split_persons']:,.0f}")
    held = result.get("flow_intervals")
    if held and held["coverage"] is not None:
        lines.append(f"flow intervals: the 90% interval held the true count in "
                     f"{held['covered']} of {held['cells']} rule-year-type cells")
    coverage = result.get("register_over_coverage")
    if coverage and coverage["true_over_coverage_rate"] is not None \
            and coverage["estimated_over_coverage_rate"] is not None:
        lines.append(f"register over-coverage: estimated "
                     f"{coverage['estimated_over_coverage_rate']:.2%}, true "
                     f"{coverage['true_over_coverage_rate']:.2%}")
    mirror = result.get("mirror_coverage")
    if mirror:
        corr = mirror["correlation_large_partners"]
        lines.append(f"partners' coverage of our moves from mirror statistics: mean |difference|"
                     f" from the true {mirror['weighted_mean_absolute_difference']:.3f} "
                     f"(weighted by their moves, {len(mirror['partners'])} partners); "
                     f"correlation {'n/a' if corr is None else f'{corr:.2f}'} over the "
                     f"{mirror['large_partners']} reporting {MIRROR_MIN_MOVES}+ moves")
    size = result.get("population_size")
    if size:
        lines.append(f"usual residents on {size['census_date']}: estimated "
                     f"{size['estimate']:,.0f} ({size['interval'][0]:,.0f}-"
                     f"{size['interval'][1]:,.0f}), true {size['true_usual_residents']:,} "
                     f"({size['relative_error']:+.2%}; interval "
                     f"{'holds' if size['interval_covers'] else 'misses'} it)")
    flows = result["annual_flows"]
    baseline = (result.get("register_only_flows") or {}).get("mean_absolute_relative_error", {})
    for rule, err in flows["mean_absolute_relative_error"].items():
        if err is not None:
            register_only = baseline.get(rule)
            lines.append(f"annual flows {rule:>13}: mean |relative error| {err:.3f} over "
                         f"{flows['complete_years'][0]}-{flows['complete_years'][1]}"
                         + (f" (register only: {register_only:.3f})"
                            if register_only is not None else ""))
            documented = flows.get("documented_mean_absolute_relative_error", {}).get(rule)
            if documented is not None:
                lines.append(f"  of documented persons: {documented:.3f}")
    return "\n".join(lines)
