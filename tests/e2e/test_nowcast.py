"""Provisional events' probabilities and expected counts (``pipelines.nowcast``)."""

import json

import duckdb
import pytest

from pipelines import nowcast

TW = 487


def _cohorts(con, rows, unseen_rows):
    con.execute("CREATE TABLE cohorts_t (person_id VARCHAR, rule VARCHAR, event_type VARCHAR, "
                "event_day INTEGER, status VARCHAR, band INTEGER, person_group VARCHAR, "
                "confirmed BOOLEAN)")
    con.executemany("INSERT INTO cohorts_t VALUES (?, 'r', 'immigration', 0, 'provisional', "
                    "?, ?, ?)", rows)
    con.execute("CREATE TABLE unseen_t (rule VARCHAR, event_type VARCHAR, band INTEGER, "
                "uplift DOUBLE)")
    con.executemany("INSERT INTO unseen_t VALUES ('r', 'immigration', ?, ?)", unseen_rows)


def test_probability_shrinks_a_group_toward_its_band_by_hand():
    con = duckdb.connect()
    con.execute("CREATE TABLE nowcast_person_group (person_id VARCHAR, birth_year INTEGER, "
                "person_group VARCHAR)")
    con.executemany("INSERT INTO nowcast_person_group VALUES (?, NULL, ?)",
                    [("a", "g1"), ("b", "g2"), ("c", "g1")])
    # band 0: 10 events, 3 confirmed, all three in group g1 (3 of its 5)
    rows = [(f"x{i}", 0, "g1|?", i < 3) for i in range(5)] + \
           [(f"y{i}", 0, "g2|?", False) for i in range(5)]
    _cohorts(con, rows, [(0, 0.25)])
    as_of = 10_000
    con.execute("CREATE TABLE ev (person_id VARCHAR, rule VARCHAR, event_type VARCHAR, "
                "event_day INTEGER, status VARCHAR)")
    con.executemany("INSERT INTO ev VALUES (?, 'r', 'immigration', ?, ?)", [
        ("a", as_of - 10, "provisional"), ("b", as_of - 20, "provisional"),
        ("c", as_of - 30, "confirmed"), ("a", as_of - TW - 5, "confirmed")])
    table = nowcast.probabilities(con, ("cohorts_t", "unseen_t"), "ev", as_of, TW, "t")
    got = {r[0]: r[1:] for r in con.sql(
        f"SELECT person_id || event_day, probability, expected_weight FROM {table}").fetchall()}
    k = nowcast.NowcastSettings().shrinkage
    p_band = (3 + k * 0.3) / (10 + k)            # = 0.3: the band borrows from the kind
    assert got[f"a{as_of - 10}"][0] == pytest.approx((3 + k * p_band) / (5 + k))
    assert got[f"b{as_of - 20}"][0] == pytest.approx((0 + k * p_band) / (5 + k))
    assert got[f"c{as_of - 30}"] == pytest.approx((1.0, 1.25))
    assert got[f"a{as_of - 10}"][1] == pytest.approx(got[f"a{as_of - 10}"][0] + 0.25)
    assert f"a{as_of - TW - 5}" not in got   # decided long ago: not part of the nowcast


def test_outputs_carry_probabilities_and_expected_counts(run):  # noqa: F811
    out = run["out"]
    bad = duckdb.sql(f"""
        SELECT count(*) FROM '{out / 'migration_events.parquet'}'
        WHERE (status = 'confirmed' AND confirmation_probability <> 1)
           OR (status = 'provisional' AND NOT confirmation_probability BETWEEN 0 AND 1)
           OR NOT probability BETWEEN 0 AND 1 OR date_low > date_high
           -- an event's expected weight: its probability of being real times that of being
           -- confirmed, plus its share of the events not visible yet
           OR expected_weight < probability * confirmation_probability - 1e-9
        """).fetchall()[0][0]
    assert bad == 0
    provisional = duckdb.sql(f"SELECT count(*) FROM '{out / 'migration_events.parquet'}' "
                             "WHERE status = 'provisional'").fetchall()[0][0]
    assert provisional > 0
    doubted = duckdb.sql(f"SELECT count(*) FROM '{out / 'migration_events.parquet'}' "
                         "WHERE probability < 1").fetchall()[0][0]
    assert doubted > 0   # some events rest on evidence the model doubts
    cells = duckdb.sql(f"SELECT count(*) FROM '{out / 'flows.parquet'}' WHERE NOT suppressed "
                       "AND NOT (expected_low <= expected_count AND expected_count <= "
                       "expected_high + 0.1)").fetchall()[0][0]
    assert cells == 0


def test_backtest_is_reported_and_beats_counting_confirmed_only(run):  # noqa: F811
    quality = json.loads((run["out"] / "quality.json").read_text())
    back = quality["nowcast_backtest"]
    assert back["possible"] and back["cohort_events"] > 0
    for row in back["by_rule_and_type"]:
        assert abs(row["relative_error_expected"]) < abs(row["relative_error_confirmed_only"])
    assert {r["rule"] for r in quality["nowcast"]} == {"continuous_12", "12_of_16"}
