"""Splink's Spark backend scores the pairs: the whole pipeline in Spark local mode gives the
DuckDB run's tables, and a Spark that cannot run the similarity functions is refused."""

from __future__ import annotations

import sys

import duckdb
import pytest

from linkage.backend import check_similarity_functions, model_in_dialect, spark_session
from pipelines.config import RunConfig, with_overrides
from pipelines.run import OUTPUT_TABLES, run_pipeline
from schemas import engine
from schemas.engine import EngineSettings
from schemas.errors import ConfigError, EngineError
from synthetic import synthesise


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("spark")
    synthesise(400, 5, base / "data")
    duck = run_pipeline(base / "data", base / "duckdb", RunConfig())
    spark = run_pipeline(base / "data", base / "spark",
                         with_overrides(RunConfig(), None, None, None, "spark"))
    return base, duck, spark


@pytest.mark.slow
def test_spark_run_gives_the_duckdb_run_tables(runs):
    base, duck, spark = runs
    assert spark["engine"]["backend"] == "spark" and duck["engine"]["backend"] == "duckdb"
    for table in OUTPUT_TABLES:
        left, right = (str(base / run / f"{table}.parquet") for run in ("duckdb", "spark"))
        rows = duckdb.sql(f"SELECT count(*) FROM '{left}'").fetchall()[0][0]
        differ = duckdb.sql(f"SELECT count(*) FROM ((SELECT * FROM '{left}' EXCEPT ALL "
                            f"SELECT * FROM '{right}') UNION ALL (SELECT * FROM '{right}' "
                            f"EXCEPT ALL SELECT * FROM '{left}'))").fetchall()[0][0]
        assert differ == 0, f"{table}: {differ} of {rows} rows differ"
    assert duck["linkage"] == spark["linkage"]
    assert duck["events_by_year"] == spark["events_by_year"]
    assert not (base / "spark" / "scoring").exists()  # the exchange folder is removed


def test_model_conditions_are_transpiled_with_splinks_function_names():
    model = {"comparisons": [{"comparison_levels": [
        {"sql_condition": '"a_l" IS NULL OR "a_r" IS NULL'},
        {"sql_condition": 'jaro_winkler_similarity("a_l", "a_r") >= 0.92'},
        {"sql_condition": 'damerau_levenshtein(CAST(year("d_l") AS VARCHAR), '
                          'CAST(year("d_r") AS VARCHAR)) <= 1'},
        {"sql_condition": "ELSE"}]}],
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": 'l."block_0" = r."block_0"', "sql_dialect": "duckdb"}],
        "sql_dialect": "duckdb"}
    spark = model_in_dialect(model, "spark")
    levels = [level["sql_condition"] for level in spark["comparisons"][0]["comparison_levels"]]
    assert levels == ["`a_l` IS NULL OR `a_r` IS NULL",
                      "JARO_WINKLER(`a_l`, `a_r`) >= 0.92",
                      "DAMERAU_LEVENSHTEIN(CAST(YEAR(`d_l`) AS STRING), "
                      "CAST(YEAR(`d_r`) AS STRING)) <= 1", "ELSE"]
    assert spark["blocking_rules_to_generate_predictions"][0]["blocking_rule"] == \
        "l.`block_0` = r.`block_0`"
    assert spark["sql_dialect"] == "spark" and model["sql_dialect"] == "duckdb"  # a copy


def test_bloom_filter_names_are_refused_on_spark():
    model = {"comparisons": [{"comparison_levels": [
        {"sql_condition": '2.0 * bit_count("f_l" & "f_r") / 4 >= 0.9'}]}]}
    with pytest.raises(EngineError, match="Bloom filters"):
        model_in_dialect(model, "spark")


class _SparkWithout:
    """A session whose similarity UDF fails the way Splink's Spark 4 jar does without
    Apache Commons Text on the classpath."""

    def sql(self, query):
        raise RuntimeError("py4j.protocol.Py4JJavaError: java.lang.NoClassDefFoundError: "
                           "org/apache/commons/text/similarity/JaroWinklerSimilarity")


def test_missing_commons_text_is_named_with_the_remedy():
    with pytest.raises(EngineError, match="Commons Text is missing.*3278.*spark.jars"):
        check_similarity_functions(_SparkWithout())


def test_without_pyspark_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    resources = engine.resolve(EngineSettings(backend="spark"), tmp_path)
    with pytest.raises(EngineError, match=r"miglink\[spark\]"):
        spark_session(EngineSettings(backend="spark"), resources)


def test_engine_backend_is_checked():
    with pytest.raises(ConfigError, match="backend"):
        EngineSettings(backend="postgres")
    with pytest.raises(ConfigError, match="spark_conf"):
        EngineSettings(spark_conf={"spark.jars": ["a.jar"]})
