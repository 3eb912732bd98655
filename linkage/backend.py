"""Where the blocked pairs are scored: DuckDB on this machine, or Splink's Spark backend.

Scoring is the one part of a run that grows with the number of candidate pairs, so it is the
part that moves to Spark when a population outgrows one machine. The model is trained on
DuckDB either way: training reads bounded samples (``u_max_pairs``, ``em_max_pairs``), and a
model trained once scores identically on both backends. Everything before scoring (profiles,
blocking keys) and after it (persons, presence, events, tables) runs on DuckDB, reading the
scored pairs back chunk by chunk.

A scorer registers tables for Splink, turns the trained model into its dialect, and hands
each scored chunk to DuckDB as a relation (the chunk's own table on DuckDB, a Parquet folder
written by Spark otherwise).
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import sqlglot
from sqlglot import exp

from schemas.engine import EngineSettings, Resources
from schemas.errors import EngineError
from schemas.sql import literal, run_stage

log = logging.getLogger("miglink")

# Spark's own log: errors only, so that a run's log stays miglink's (stages and counts)
QUIET_LOG4J = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""
# a pair whose Jaro-Winkler similarity both backends know: the similarity jar's self-test
JW_PROBE = ("MARTHA", "MARHTA", 0.9611)


class Scorer(Protocol):
    """What ``linkage.link`` needs of a backend to score pairs."""

    dialect: str

    def register(self, table: str) -> Any:
        """DuckDB table ``table`` as a Splink data frame on this backend."""

    def model(self, model_json: dict[str, Any]) -> dict[str, Any]:
        """The trained model (DuckDB dialect) in this backend's dialect."""

    def relation(self, chunk: Any) -> str:
        """A DuckDB relation holding the rows of a scored chunk."""

    def release(self, chunk: Any) -> None:
        """Drop what the chunk holds once its rows are in DuckDB."""


class DuckDBScorer:
    """Scoring in the run's own DuckDB database."""

    dialect = "duckdb"

    def __init__(self, con: Any):
        from splink import DuckDBAPI

        self.db_api = DuckDBAPI(connection=con)

    def register(self, table: str) -> Any:
        return self.db_api.register(table, dataset_display_name=table)

    def model(self, model_json: dict[str, Any]) -> dict[str, Any]:
        return model_json

    def relation(self, chunk: Any) -> str:
        return chunk.physical_name

    def release(self, chunk: Any) -> None:
        chunk.drop_table_from_database_and_remove_from_cache()


class SparkScorer:
    """Scoring on a Spark session: tables go over as Parquet, chunks come back as Parquet.

    The session starts when the first table is registered: a resumed run whose pairs are
    already scored never starts Spark."""

    dialect = "spark"

    def __init__(self, con: Any, settings: EngineSettings, resources: Resources,
                 folder: Path):
        self.con, self.settings, self.resources, self.folder = con, settings, resources, folder
        self.spark: Any = None
        self.db_api: Any = None

    def _start(self) -> None:
        from splink import SparkAPI

        self.folder.mkdir(parents=True, exist_ok=True)
        self.spark = spark_session(self.settings, self.resources)
        self.spark.sparkContext.setCheckpointDir(str(self.folder / "checkpoints"))
        self.db_api = SparkAPI(spark_session=self.spark, break_lineage_method="parquet")
        check_similarity_functions(self.spark)

    def register(self, table: str) -> Any:
        if self.spark is None:
            self._start()
        path = self.folder / f"{table}.parquet"
        shutil.rmtree(path, ignore_errors=True)
        path.unlink(missing_ok=True)
        run_stage(self.con, "score pairs",
                  f"COPY {table} TO {literal(str(path))} (FORMAT parquet)")
        return self.db_api.register(self.spark.read.parquet(str(path)),
                                    dataset_display_name=table)

    def model(self, model_json: dict[str, Any]) -> dict[str, Any]:
        return model_in_dialect(model_json, "spark")

    def relation(self, chunk: Any) -> str:
        path = self.folder / "chunk"
        chunk.as_spark_dataframe().write.mode("overwrite").parquet(str(path))
        return f"read_parquet({literal(str(path / '*.parquet'))})"

    def release(self, chunk: Any) -> None:
        chunk.drop_table_from_database_and_remove_from_cache()
        shutil.rmtree(self.folder / "chunk", ignore_errors=True)

    def close(self) -> None:
        if self.spark is not None:
            self.spark.stop()
            self.spark = self.db_api = None
        shutil.rmtree(self.folder, ignore_errors=True)


def _spark_sql(condition: str) -> str:
    """One SQL condition of a DuckDB-dialect model in Spark SQL, with Splink's names for
    the similarity functions its jar registers."""
    tree = sqlglot.parse_one(condition, read="duckdb")
    tree = tree.transform(lambda node: exp.Anonymous(
        this="jaro_winkler", expressions=[node.this, node.expression])
        if isinstance(node, exp.JarowinklerSimilarity) else node)
    for function in tree.find_all(exp.Anonymous):
        if function.name.lower() == "bit_count":
            raise EngineError("names given as Bloom filters are scored on DuckDB only: "
                              "set [engine] backend = \"duckdb\" for this run")
    return tree.sql(dialect="spark")


def model_in_dialect(model_json: dict[str, Any], dialect: str) -> dict[str, Any]:
    """A trained Splink model (written in DuckDB's dialect) in ``dialect``: every level's
    condition and every blocking rule transpiled by sqlglot."""
    if dialect == "duckdb":
        return model_json
    if dialect != "spark":
        raise EngineError(f"no scorer for the {dialect!r} dialect")
    model = copy.deepcopy(model_json)
    model["sql_dialect"] = dialect
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level["sql_condition"].strip().upper() != "ELSE":
                level["sql_condition"] = _spark_sql(level["sql_condition"])
    for rule in model.get("blocking_rules_to_generate_predictions", []):
        rule["blocking_rule"] = _spark_sql(rule["blocking_rule"])
        rule["sql_dialect"] = dialect
    return model


def spark_session(settings: EngineSettings, resources: Resources) -> Any:
    """A Spark session for scoring, from ``[engine]``: ``spark_master`` (``local[*]`` by
    default), Splink's similarity jar on the classpath, spill in the run's temp folder, and
    every ``spark_conf`` entry as given."""
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError:
        raise EngineError("backend \"spark\" needs pyspark: pip install 'miglink[spark]' "
                          "(or run `make install-spark`)") from None
    if shutil.which("java") is None and not _java_home():
        raise EngineError("backend \"spark\" needs a Java runtime (17 or newer): install one "
                          "(Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME")
    local = settings.spark_master.startswith("local")
    quiet = resources.temp_directory / "spark-log4j2.properties"
    quiet.parent.mkdir(parents=True, exist_ok=True)
    quiet.write_text(QUIET_LOG4J)
    if local:  # no lookup of the machine's outside address (and no warning about it)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf: dict[str, Any] = {
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{quiet}",
        "spark.jars": similarity_jar_location(),
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.local.dir": str(resources.temp_directory / "spark"),
        "spark.sql.warehouse.dir": str(resources.temp_directory / "spark-warehouse"),
        "spark.sql.shuffle.partitions": str(max(4, 2 * resources.threads)) if local
        else "200",
    }
    if local:
        heap = int(resources.machine_memory * settings.spark_memory_share) // 1024 ** 2
        conf["spark.driver.memory"] = f"{max(heap, 1024)}m"
    extra = {k: str(v) for k, v in settings.spark_conf.items()}
    if "spark.jars" in extra:  # the user's jars beside Splink's, never instead of it
        extra["spark.jars"] = f"{conf['spark.jars']},{extra['spark.jars']}"
    conf.update(extra)
    builder = SparkSession.builder.master(settings.spark_master).appName("miglink")
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as error:  # the JVM did not start or the master is unreachable
        raise EngineError(f"Spark did not start on {settings.spark_master}: "
                          f"{str(error).splitlines()[0][:300]}") from None
    spark.sparkContext.setLogLevel("ERROR")
    log.info("engine: scoring on Spark %s (%s), driver memory %s", spark.version,
             settings.spark_master, spark.conf.get("spark.driver.memory", "default"))
    return spark


def _java_home() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(home) and (Path(home) / "bin" / "java").exists()


def check_similarity_functions(spark: Any) -> None:
    """Fail at start-up, with the remedy, when Splink's similarity functions cannot run.

    Splink's jar for Spark 4 holds its own classes only and calls Apache Commons Text
    (Splink issue #3278); pyspark's own jars include Commons Text, a cluster's may not."""
    left, right, expected = JW_PROBE
    try:
        got = spark.sql(f"SELECT jaro_winkler('{left}', '{right}') AS s").collect()[0][0]
    except Exception as error:
        text = str(error)
        missing = "commons/text" in text or "commons.text" in text
        raise EngineError(
            "Splink's similarity functions do not run on this Spark: "
            + ("Apache Commons Text is missing from the classpath (Splink issue #3278); add "
               "a commons-text jar to [engine] spark_conf \"spark.jars\"" if missing else
               text.splitlines()[0][:300])) from None
    if abs(got - expected) > 1e-3:
        raise EngineError(f"Spark's jaro_winkler gave {got} for a pair where {expected} is "
                          "right: check the similarity jar on the classpath")


@contextmanager
def scorer_for(con: Any, settings: EngineSettings, resources: Resources, folder: Path
               ) -> Iterator[Scorer | None]:
    """The scorer ``[engine] backend`` asks for (None: the run's DuckDB), its session
    stopped and its exchange folder removed when scoring is done."""
    if settings.backend == "duckdb":
        yield None
        return
    scorer = SparkScorer(con, settings, resources, folder)
    try:
        yield scorer
    finally:
        scorer.close()
