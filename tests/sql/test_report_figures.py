"""The report's figures computed by hand on tiny tables: pyramid and over-coverage, who
fails to link, mirror statistics; number formatting, traffic lights and [report]."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipelines.charts import number, percent
from pipelines.config import load_config
from pipelines.linkage_bias import linkage_bias
from pipelines.mirror import mirror_statistics
from pipelines.quality import dual_system_estimate, register_coverage
from pipelines.report import ReportSettings, _light
from schemas.errors import ConfigError
from schemas.sql import day_number

AS_OF = "2024-06-30"


@pytest.fixture
def con():
    c = duckdb.connect()
    # five persons: p1-p3 citizens registered and present; p4 registered but gone (over-
    # coverage); p5 a foreign resident nobody registered
    c.sql("""CREATE TABLE persons AS SELECT * FROM (VALUES
        ('p1', 'F', 1990, 'KAZ'), ('p2', 'M', 1990, 'KAZ'), ('p3', 'F', 1952, 'KAZ'),
        ('p4', 'M', 1985, 'KAZ'), ('p5', 'M', 2000, 'UZB'))
        AS t(person_id, sex, birth_year, citizenship)""")
    c.sql("""CREATE TABLE src_population_register AS SELECT * FROM (VALUES
        ('r1', DATE '2000-01-01', NULL, NULL), ('r2', DATE '2000-01-01', NULL, NULL),
        ('r3', DATE '2000-01-01', NULL, NULL), ('r4', DATE '2000-01-01', NULL, NULL),
        ('r6', DATE '2001-01-01', DATE '2020-03-01', 'emigration'))
        AS t(record_id, registration_date, deregistration_date, deregistration_reason)""")
    c.sql("""CREATE TABLE person_records AS SELECT * FROM (VALUES
        ('p1', 'population_register', 'r1'), ('p2', 'population_register', 'r2'),
        ('p3', 'population_register', 'r3'), ('p4', 'population_register', 'r4'),
        ('p2', 'population_register', 'r6'), ('p1', 'census', 'c1'), ('p5', 'census', 'c5'))
        AS t(person_id, source, record_id)""")
    c.sql("""CREATE TABLE presence AS SELECT * FROM (VALUES
        ('p1', 1, 10000, NULL), ('p2', 1, 10000, NULL), ('p3', 1, 10000, NULL),
        ('p4', 1, 10000, 19000), ('p5', 1, 18000, NULL))
        AS t(person_id, stay_no, arrival, departure)""")
    c.sql("""CREATE TABLE residence_spells_days AS SELECT * FROM (VALUES
        ('p1', 'continuous_12', 10000, NULL), ('p2', 'continuous_12', 10000, NULL),
        ('p3', 'continuous_12', 10000, NULL), ('p5', 'continuous_12', 18000, NULL))
        AS t(person_id, rule, spell_start, spell_end)""")
    # p2's last sign of life 40 days before the deregistration of record r6
    dereg = day_number(dt.date(2020, 3, 1))
    c.sql(f"""CREATE TABLE evidence_point AS SELECT * FROM (VALUES
        ('p2', {dereg - 40}, 'activity'), ('p2', {dereg - 400}, 'activity'))
        AS t(person_id, day, source)""")
    return c


def test_register_coverage_by_hand(con):
    as_of = day_number(dt.date.fromisoformat(AS_OF))
    cov = register_coverage(con, {"population_register": "src_population_register"}, as_of,
                            "KAZ")
    assert cov["registered_residents"] == 4 and cov["over_coverage"] == 1
    assert cov["over_coverage_rate"] == 0.25 and cov["unregistered_residents"] == 1
    groups = {(r["citizenship_group"], r["age_group"]): r for r in cov["over_coverage_by_group"]}
    assert groups[("citizen", "18-39")]["over_covered"] == 1  # p4, 39 in 2024
    assert groups[("citizen", "18-39")]["registered"] == 3
    pyramid = {(r["sex"], r["age_group"]): (r["usual_residents"], r["registered"])
               for r in cov["pyramid"]}
    assert pyramid == {("F", "30-34"): (1, 1), ("M", "30-34"): (1, 1), ("F", "70-74"): (1, 1),
                       ("M", "35-39"): (0, 1), ("M", "20-24"): (1, 0)}
    lag = {r["lag"]: r["deregistrations"] for r in cov["deregistration_lag_distribution"]}
    assert lag["1-3 months"] == 1 and sum(lag.values()) == 1


def test_dual_system_estimate_by_hand(con):
    # census day after p4 left: the register holds p1-p4 (r6 ended in 2020), p4 is out of
    # scope; the census counts p1 and p5; both lists hold p1
    typed = {"population_register": "src_population_register", "census": "src_census"}
    dse = dual_system_estimate(con, typed, "2022-06-01")
    assert (dse["register_in_scope"], dse["census"], dse["both"]) == (3, 2, 1)
    assert dse["chapman_estimate"] == pytest.approx(4 * 3 / 2 - 1)
    assert dse["standard_error"] == pytest.approx((4 * 3 * 2 * 1 / (2 ** 2 * 3)) ** 0.5)
    assert dse["ci95"][0] == 4  # never below the persons either list holds
    assert dse["census_coverage"] == pytest.approx(2 / 5)
    assert dual_system_estimate(con, typed, None) is None


def test_standardised_difference_by_hand():
    c = duckdb.connect()
    # census: 4 records, those of a, b and c linked (their persons are in the register
    # too), d's not. Women among the linked {F, F, M}: p1 = 2/3; among the unlinked {M}:
    # p0 = 0; d = (2/3 - 0) / sqrt((2/3 * 1/3 + 0) / 2) = 2.
    c.sql("""CREATE TABLE persons AS SELECT * FROM (VALUES
        ('a', 'F', 1990, 'KAZ'), ('b', 'F', 1990, 'KAZ'), ('c', 'M', 1990, 'KAZ'),
        ('d', 'M', 1990, 'KAZ')) AS t(person_id, sex, birth_year, citizenship)""")
    c.sql("""CREATE TABLE person_records AS SELECT * FROM (VALUES
        ('a', 'census', 'c1'), ('b', 'census', 'c2'), ('c', 'census', 'c3'),
        ('d', 'census', 'c4'), ('a', 'population_register', 'r1'),
        ('b', 'population_register', 'r2'), ('c', 'population_register', 'r3'))
        AS t(person_id, source, record_id)""")
    c.sql("""CREATE TABLE record_profile AS SELECT source, record_id, row_number() OVER ()
             AS unique_id FROM person_records""")
    c.sql("""CREATE TABLE identity_std AS SELECT unique_id, 'X' AS first_name,
             'Y' AS last_name, FALSE AS cyrillic_script FROM record_profile""")
    rows = {(r["source"], r["characteristic"], r["category"]): r
            for r in linkage_bias(c, "KAZ", 2024)}
    women = rows[("census", "sex", "F")]
    assert women["link_rate"] == 1.0 and women["share_of_linked"] == pytest.approx(2 / 3)
    assert women["share_of_unlinked"] == 0.0
    assert women["standardised_difference"] == pytest.approx(2.0)
    assert rows[("census", "sex", "M")]["standardised_difference"] == pytest.approx(-2.0)


def test_mirror_statistics_by_hand():
    c = duckdb.connect()
    # our 2020 emigrations: 6 to UZB, 4 of unknown destination (60% known); UZB reports 9
    # immigrants from us: ratio 6/9, symmetric difference 2(6-9)/15 = -0.4, allocated
    # 6 / 0.6 = 10, partner coverage 0.9
    c.sql("""CREATE TABLE migration_events AS SELECT 'continuous_12' AS rule,
             'emigration' AS event_type, DATE '2020-05-01' AS event_date,
             'confirmed' AS status, CASE WHEN i < 6 THEN 'UZB' END AS country
             FROM range(10) AS t(i)""")
    c.sql("""CREATE TABLE mirror AS SELECT 'UZB' AS reporting_country, 'KAZ' AS
             partner_country, 2020 AS year, 'immigration' AS flow, 9 AS count""")
    m = mirror_statistics(c, {"mirror_flows": "mirror"}, "KAZ", 2016, 2024)
    (row,) = m["by_partner_and_year"]
    assert row["ours"] == 6 and row["theirs"] == 9 and row["ratio"] == pytest.approx(2 / 3)
    assert row["symmetric_relative_difference"] == pytest.approx(-0.4)
    assert row["ours_allocated"] == pytest.approx(10) and row["partner_coverage"] == 0.9
    assert mirror_statistics(c, {"mirror_flows": "mirror"}, "KAZ", 2021, 2024)[
        "by_partner_and_year"] == []


def test_numbers_for_reading():
    assert number(0.0001234) == "0.000123" and number(12.345) == "12.3"
    assert number(1234567.8) == "1,234,568" and number(21.0) == "21" and number(None) == "–"
    assert percent(0.07523) == "7.5%" and percent(3e-9) == "< 0.01%"


def test_traffic_lights_and_report_settings(tmp_path):
    assert _light(0.01, (0.02, 0.05)) == "green"
    assert _light(0.03, (0.02, 0.05)) == "amber"
    assert _light(0.2, (0.02, 0.05)) == "red" and _light(None, (0.02, 0.05)) == "grey"
    path = tmp_path / "miglink.toml"
    path.write_text("[report]\nover_coverage = [0.01, 0.03]\nweak_probability = 0.9\n")
    config = load_config(path, tmp_path)
    assert config.report.over_coverage == (0.01, 0.03)
    assert config.report.weak_probability == 0.9
    assert config.to_json()["report"]["over_coverage"] == [0.01, 0.03]
    for bad in ("over_coverage = [0.05, 0.01]", "weak_probability = 2", "colour = 'red'"):
        path.write_text(f"[report]\n{bad}\n")
        with pytest.raises(ConfigError, match="report"):
            load_config(path, tmp_path)
    assert ReportSettings().linkage_error == (0.005, 0.02)


def test_population_size_settings(tmp_path):
    path = tmp_path / "miglink.toml"
    path.write_text("[population_size]\ncriterion = 'aic'\nlevel = 0.9\nrule = '12_of_16'\n")
    settings = load_config(path, tmp_path).population_size
    assert (settings.criterion, settings.level, settings.rule) == ("aic", 0.9, "12_of_16")
    for bad in ("criterion = 'cp'", "level = 0.5", "rule = 'yearly'", "list_window_days = 0"):
        path.write_text(f"[population_size]\n{bad}\n")
        with pytest.raises(ConfigError, match="population_size"):
            load_config(path, tmp_path)
