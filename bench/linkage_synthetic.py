"""Benchmark: miglink's linkage against a plain Splink model, and on Bloom-encoded names.

Run by hand (never from the tests):

    .venv/bin/python bench/linkage_synthetic.py --persons 20000 --seed 1

On one synthetic population, in one run:

* **miglink**: ``miglink run`` (the whole pipeline; the linkage stage is timed from its log);
* **plain Splink**: Splink 5 with its default name comparisons (``NameComparison`` on the
  names as recorded, ``DateOfBirthComparison``, exact sex, citizenship, country of birth,
  locality and person_key), blocking on person_key, names, birth date; prior, u by random sampling and m by
  EM as Splink's tutorials do; clusters by ``cluster_pairwise_predictions_at_threshold``
  at the same threshold (the default, 0.9). Records with identical identity columns are given to Splink
  once (any user would), then mapped back;
* **miglink on encoded names**: ``miglink encode`` (HMAC keys, Bloom filters) then
  ``miglink run``.

Scores: persons pairwise precision, recall, F1 over records; **recall on
transliteration-only pairs**: pairs of records of one person whose names are both written
without error, each in some script or transliteration scheme of the person's true name,
and differ as strings (IVAN SHCHERBAKOV / Иван Щербаков / IVAN SCHERBAKOV); and the label-free
error estimates beside the true counts (``miglink evaluate``). Results in
bench/results/linkage_{N}_seed{S}.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
from _work import work_folder

from linkage.link import LinkageSettings

MIGLINK = [sys.executable, "-m", "pipelines.cli"]
THRESHOLD = LinkageSettings().threshold  # the product's default, for the baseline too
SOURCES = ("population_register", "aliens_register", "residence_permits", "census", "survey",
           "border_crossings", "activity")
IDENTITY = ("person_key", "first_name", "last_name", "birth_date", "sex", "citizenship",
            "country_of_birth", "locality")


def _miglink(args: list[str], env: dict | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([*MIGLINK, *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    return time.perf_counter() - started, done.stderr


def _link_seconds(log: str) -> float | None:
    found = re.search(r"link done \(([\d.]+) s\)", log)
    return float(found.group(1)) if found else None


def _records(data: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    parts = []
    for source in SOURCES:
        path = data / f"{source}.parquet"
        if path.exists():
            cols = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' if c != "birth_date"
                             else 'CAST("birth_date" AS DATE) AS birth_date' for c in IDENTITY)
            parts.append(f"SELECT '{source}' AS source, CAST(record_id AS VARCHAR) AS "
                         f"record_id, {cols} FROM '{path}'")
    con.execute("CREATE TABLE records AS " + " UNION ALL ".join(parts))
    con.execute(f"""CREATE TABLE truth AS SELECT CAST(source AS VARCHAR) AS source,
        CAST(record_id AS VARCHAR) AS record_id, CAST(true_person_id AS VARCHAR) AS tp
        FROM '{data / 'truth' / 'record_person.parquet'}'""")
    return con


def _clean_renderings(data: Path) -> pd.DataFrame:
    """(true person, first, last) for every error-free way of writing a person's name."""
    from synthetic.names import SCHEMES, transliterate
    people = pd.read_parquet(data / "truth" / "persons.parquet")
    rows = []
    for tp, first, last, cyrillic in zip(people.true_person_id, people.first_name,
                                         people.last_name, people.cyrillic, strict=True):
        if not cyrillic:
            continue
        rows.append((str(tp), first, last))
        rows += [(str(tp), transliterate(first, s), transliterate(last, s)) for s in SCHEMES]
    return pd.DataFrame(rows, columns=["tp", "first_name", "last_name"]).drop_duplicates()


def score(con: duckdb.DuckDBPyConnection, person_records: pd.DataFrame) -> dict:
    """Persons pairwise P/R/F1 and transliteration-only recall of one clustering."""
    con.register("pred", person_records)
    tp, predicted, actual = con.sql("""
        WITH j AS (SELECT p.person_id, t.tp FROM pred AS p JOIN truth AS t USING (source,
                   record_id)),
             cells AS (SELECT count(*) AS n FROM j GROUP BY person_id, tp),
             clusters AS (SELECT count(*) AS n FROM j GROUP BY person_id),
             people AS (SELECT count(*) AS n FROM j GROUP BY tp)
        SELECT (SELECT sum(n*(n-1)/2) FROM cells), (SELECT sum(n*(n-1)/2) FROM clusters),
               (SELECT sum(n*(n-1)/2) FROM people)""").fetchall()[0]
    precision, recall = tp / predicted, tp / actual
    # pairs across different clean renderings of one person's name
    hit, total = con.sql("""
        WITH clean AS (
            SELECT t.tp, p.person_id, r.first_name || '|' || r.last_name AS written
            FROM records AS r JOIN truth AS t USING (source, record_id)
            JOIN pred AS p USING (source, record_id)
            JOIN renderings AS c ON c.tp = t.tp AND c.first_name = r.first_name
                                AND c.last_name = r.last_name),
        by_person AS (SELECT tp, written, count(*) AS n FROM clean GROUP BY ALL),
        by_cell AS (SELECT tp, person_id, written, count(*) AS n FROM clean GROUP BY ALL),
        total AS (SELECT (sum(n) * sum(n) - sum(n * n)) / 2 AS pairs FROM by_person
                  GROUP BY tp),
        hit AS (SELECT (sum(n) * sum(n) - sum(n * n)) / 2 AS pairs FROM by_cell
                GROUP BY tp, person_id)
        SELECT (SELECT sum(pairs) FROM hit), (SELECT sum(pairs) FROM total)""").fetchall()[0]
    con.unregister("pred")
    return {"precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall),
            "transliteration_only_pairs": int(total),
            "transliteration_only_recall": hit / total if total else None}


def plain_splink(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, float]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    cols = ", ".join(IDENTITY)
    con.execute(f"""CREATE TABLE distinct_ids AS
        SELECT row_number() OVER () AS unique_id, * FROM (SELECT DISTINCT {cols} FROM records)""")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[cl.ExactMatch("person_key"), cl.NameComparison("first_name"),
                     cl.NameComparison("last_name"),
                     cl.DateOfBirthComparison("birth_date", input_is_string=False),
                     cl.ExactMatch("sex"), cl.ExactMatch("citizenship"),
                     cl.ExactMatch("country_of_birth"), cl.ExactMatch("locality")],
        blocking_rules_to_generate_predictions=[
            block_on("person_key"), block_on("first_name", "last_name"),
            block_on("birth_date")],
    )
    db_api = DuckDBAPI(connection=con)
    frame = db_api.register("distinct_ids")
    linker = Linker(frame, settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "birth_date")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=3e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("birth_date"), max_pairs=5e6)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "last_name"), max_pairs=5e6)
    predictions = linker.inference.predict(threshold_match_probability=0.01)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=THRESHOLD)
    con.execute(f"CREATE TABLE plain_clusters AS SELECT unique_id, cluster_id FROM "
                f"{clusters.physical_name}")
    key = " AND ".join(f'r."{c}" IS NOT DISTINCT FROM d."{c}"' for c in IDENTITY)
    person_records = con.sql(f"""
        SELECT r.source, r.record_id, CAST(c.cluster_id AS VARCHAR) AS person_id
        FROM records AS r JOIN distinct_ids AS d ON {key}
        JOIN plain_clusters AS c USING (unique_id)""").df()
    return person_records, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    with work_folder(args.work, "miglink-bench-linkage-") as work:
        data = work / "data"
        if not (data / "truth").exists():
            _miglink(["synth", "--persons", str(args.persons), "--seed", str(args.seed),
                      "--out", str(data)])
        con = _records(data)
        con.register("renderings_df", _clean_renderings(data))
        con.execute("CREATE TABLE renderings AS SELECT * FROM renderings_df")
        figures: dict = {"persons": args.persons, "seed": args.seed,
                         "records": con.sql("SELECT count(*) FROM records").fetchall()[0][0]}

        seconds, log = _miglink(["run", str(data), "--out", str(work / "out")])
        _miglink(["evaluate", str(work / "out"), "--truth", str(data / "truth")])
        evaluation = json.loads((work / "out" / "evaluation.json").read_text())
        figures["miglink"] = {**score(con, pd.read_parquet(work / "out" / "person_records.parquet")),
                              "run_seconds": round(seconds, 1), "link_seconds": _link_seconds(log),
                              "errors": {k: v for k, v in evaluation["linkage_errors"].items()
                                         if k != "by_source_pair"}}

        person_records, seconds = plain_splink(con)
        figures["plain_splink"] = {**score(con, person_records), "link_seconds": round(seconds, 1)}

        key_env = {"MIGLINK_BENCH_KEY": "bench-key-" + "k" * 32}
        _miglink(["encode", str(data), "--out", str(work / "encoded"), "--key-env",
                  "MIGLINK_BENCH_KEY"], key_env)
        seconds, log = _miglink(["run", str(work / "encoded"), "--out", str(work / "out_encoded")])
        encoded = score(con, pd.read_parquet(work / "out_encoded" / "person_records.parquet"))
        figures["miglink_encoded"] = {**encoded, "run_seconds": round(seconds, 1),
                                      "link_seconds": _link_seconds(log),
                                      "f1_loss": figures["miglink"]["f1"] - encoded["f1"]}

        target = Path(__file__).parent / "results" / f"linkage_{args.persons}_seed{args.seed}.json"
        target.write_text(json.dumps(figures, indent=1))
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
