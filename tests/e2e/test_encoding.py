"""Encoded identifiers: key handling, Bloom filters, Dice in SQL, linkage on encoded data."""

from __future__ import annotations

import json

import duckdb
import pytest

from linkage.encoding import BloomParameters, bloom_filter, dice, hash_identifier, read_key
from pipelines.cli import main
from schemas.errors import ConfigError
from synthetic import synthesise

KEY = b"a-project-key-of-32-bytes-length"
PARAMS = BloomParameters()


@pytest.mark.parametrize("setup,fragment", [
    ("missing_file", "cannot read the key file"),
    ("empty_file", "is empty"),
    ("short_file", "too short"),
    ("no_key", "no key"),
    ("unset_env", "is empty"),
])
def test_bad_keys_exit_2_with_a_clear_message(tmp_path, capsys, monkeypatch, setup, fragment):
    (tmp_path / "data").mkdir()
    args = ["encode", str(tmp_path / "data"), "--out", str(tmp_path / "out")]
    if setup == "missing_file":
        args += ["--key-file", str(tmp_path / "nope.key")]
    elif setup in ("empty_file", "short_file"):
        (tmp_path / "k").write_text("" if setup == "empty_file" else "short")
        args += ["--key-file", str(tmp_path / "k")]
    elif setup == "unset_env":
        monkeypatch.delenv("MIGLINK_TEST_KEY", raising=False)
        args += ["--key-env", "MIGLINK_TEST_KEY"]
    assert main(args) == 2
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_key_from_environment(monkeypatch):
    monkeypatch.setenv("MIGLINK_TEST_KEY", KEY.decode())
    assert read_key(key_env="MIGLINK_TEST_KEY") == KEY
    with pytest.raises(ConfigError):
        read_key()


def test_identifier_hash_is_keyed_and_normalised():
    assert hash_identifier(KEY, "12 345-678") == hash_identifier(KEY, "12345678")
    assert hash_identifier(KEY, "12345678") != hash_identifier(KEY[::-1], "12345678")
    assert hash_identifier(KEY, None) is None


@pytest.mark.parametrize("a,b,low,high", [
    ("Щербаков", "SHCHERBAKOV", 1.0, 1.0),
    ("Юлия", "IULIIA", 1.0, 1.0),
    ("Щербаков", "SHERBAKOV", 0.7, 0.95),
    ("Щербаков", "Иванов", 0.0, 0.45),
])
def test_bloom_filters_meet_across_scripts(a, b, low, high):
    assert low <= dice(bloom_filter(KEY, a, PARAMS), bloom_filter(KEY, b, PARAMS)) <= high


def test_bloom_filters_depend_on_key_and_salt():
    assert bloom_filter(KEY, "Ivanov", PARAMS) != bloom_filter(KEY[::-1], "Ivanov", PARAMS)
    assert bloom_filter(KEY, "Ivanov", PARAMS, "1980") != bloom_filter(KEY, "Ivanov", PARAMS)
    assert bloom_filter(KEY, None, PARAMS) is None


def test_dice_in_sql_equals_the_reference():
    names = ["Щербаков", "SCHERBAKOV", "Иванова", "IVANOV", "Müller", "MUELLER", "Li", "Wang"]
    filters = [bloom_filter(KEY, n, PARAMS) for n in names]
    con = duckdb.connect()
    for a in filters:
        for b in filters:
            got = con.sql(
                "SELECT 2.0 * bit_count(CAST(from_base64(?) AS BIT) & CAST(from_base64(?) AS BIT))"
                " / (bit_count(CAST(from_base64(?) AS BIT)) + bit_count(CAST(from_base64(?) AS BIT)))",
                params=[a, b, a, b]).fetchall()[0][0]
            assert got == pytest.approx(dice(a, b))


@pytest.mark.slow
def test_linkage_on_encoded_names_loses_little(tmp_path):
    data, enc = tmp_path / "data", tmp_path / "encoded"
    synthesise(1500, 9, data)
    (tmp_path / "project.key").write_bytes(KEY)
    assert main(["encode", str(data), "--out", str(enc), "--key-file",
                 str(tmp_path / "project.key")]) == 0
    columns = {r[0] for r in duckdb.sql(f"DESCRIBE SELECT * FROM '{enc}/census.parquet'"
                                        ).fetchall()}
    assert {"first_name_bf", "last_name_bf"} <= columns
    assert not {"first_name", "last_name"} & columns
    scores = {}
    for name, folder in (("plain", data), ("encoded", enc)):
        out = tmp_path / f"out_{name}"
        assert main(["run", str(folder), "--out", str(out)]) == 0
        assert main(["evaluate", str(out), "--truth", str(data / "truth")]) == 0
        scores[name] = json.loads((out / "evaluation.json").read_text())["persons"]["f1"]
        assert KEY.decode() not in (out / "quality.json").read_text()
    assert scores["encoded"] >= scores["plain"] - 0.01


def test_a_wrong_key_is_refused_and_no_key_is_ever_written(tmp_path, capsys):
    """A second batch encoded with another key would silently never link: refused, exit 2;
    the key itself appears nowhere (output files, messages)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "census.csv").write_text("record_id,first_name,last_name,census_date\n"
                                     "c1,Иван,Петров,2021-01-01\n")
    right, wrong = tmp_path / "right.key", tmp_path / "wrong.key"
    right.write_bytes(KEY)
    wrong.write_bytes(KEY[::-1])
    enc = tmp_path / "encoded"
    assert main(["encode", str(data), "--out", str(enc), "--key-file", str(right)]) == 0
    assert main(["encode", str(data), "--out", str(enc), "--key-file", str(right)]) == 0
    assert main(["encode", str(data), "--out", str(enc), "--key-file", str(wrong)]) == 2
    err = capsys.readouterr().err
    assert "wrong key" in err and str(enc) in err
    assert main(["encode", str(data), "--out", str(enc), "--key-file", str(right),
                 "--bits", "512"]) == 2
    assert "bloom_bits" in capsys.readouterr().err
    for path in enc.iterdir():
        content = path.read_bytes()
        assert KEY not in content and KEY[::-1] not in content
