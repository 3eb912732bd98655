"""Configuration: defaults, TOML, overrides and clear errors (exit status 2)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from pipelines.cli import main
from pipelines.config import RunConfig, load_config, with_overrides
from pipelines.run import default_window_start
from schemas.errors import ConfigError


def test_defaults_are_the_method_defaults():
    c = RunConfig()
    assert (c.rule_parameters.tm, c.rule_parameters.tw, c.rule_parameters.gap_max) == (365, 487, 90)
    assert (c.presence.em_iterations, c.presence.samples, c.tables.min_cell) == (10, 20, 5)
    assert c.rules == ("continuous_12", "12_of_16")


def test_toml_is_read(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('country = "LVA"\nas_of = "2024-12-31"\nrules = ["12_of_16"]\n'
                    "[rule_parameters]\ngap_max = 60\n[presence]\nsamples = 30\n"
                    "[tables]\nmin_cell = 10\n"
                    '[sources.census]\nfile = "enum.csv"\ncolumns = { record_id = "id" }\n')
    c = load_config(path, tmp_path)
    assert c.country == "LVA" and c.as_of == dt.date(2024, 12, 31)
    assert c.rules == ("12_of_16",) and c.rule_parameters.gap_max == 60
    assert c.presence.samples == 30 and c.tables.min_cell == 10
    assert c.sources["census"].path == tmp_path / "enum.csv"
    assert c.sources["census"].columns == {"record_id": "id"}


@pytest.mark.parametrize("text,fragment", [
    ('contry = "KAZ"\n', "unknown keys"),
    ('country = "Kazakhstan"\n', "alpha-3"),
    ('as_of = "31/12/2024"\n', "ISO date"),
    ('rules = ["twelve"]\n', "rule='twelve'"),
    ("[rule_parameters]\ntm = 500\ntw = 487\n", "tm"),
    ("[presence]\nsol_lag = 3\n", "unknown keys"),
    ("[presence]\nsamples = 0\n", "samples"),
    ("[presence]\npresent_above = 1.5\n", "present_above"),
    ('[sources.censuses]\nfile = "x.csv"\n', "unknown source"),
    ("[presence]\nmodel_error_least_kept = 0\n", "model_error_least_kept"),
    ("[presence]\nmodel_error_min_events = 0\n", "model_error_min_events"),
    ("[population_size]\nmin_listed = 0\n", "min_listed"),
    ("[presence]\nprior_weeks = 0\n", "prior_weeks"),
    ("[linkage]\nnamesake_min_pairs = 0\n", "namesake_min_pairs"),
    ("[linkage]\nunseen_level_m = 1.5\n", "unseen_level_m"),
    ("[presence]\nexpiry_days = -1\n", "expiry_days"),
    ("[tables]\nmin_cell = 0\n", r"\[tables\]: min_cell must be at least 1, got min_cell=0"),
    ("[tables]\nmin_cell = 2.5\n", r"min_cell=2.5"),
    ('[tables]\nrandom_rounding = "yes"\n', r"random_rounding='yes'"),
    ("[tables]\nround = 3\n", r"\[tables\] has unknown keys \['round'\]"),
])
def test_bad_config_names_the_key(tmp_path, text, fragment):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_config(path, tmp_path)


def test_flags_override_the_config():
    c = with_overrides(RunConfig(country="KAZ"), "UZB", "2020-01-01", ["continuous_12"])
    assert (c.country, c.as_of, c.rules) == ("UZB", dt.date(2020, 1, 1), ("continuous_12",))


def test_window_opens_on_the_first_january_after_the_carry():
    assert default_window_start(dt.date(2015, 1, 1)) == dt.date(2016, 1, 1)
    assert default_window_start(dt.date(2014, 9, 29)) == dt.date(2015, 1, 1)
    assert default_window_start(dt.date(2014, 10, 1)) == dt.date(2015, 1, 1)
    assert default_window_start(dt.date(2014, 10, 2)) == dt.date(2016, 1, 1)
    assert default_window_start(dt.date(2014, 10, 1), lookback_days=0) == dt.date(2015, 1, 1)


def test_cli_bad_config_exits_2(tmp_path, capsys):
    (tmp_path / "census.csv").write_text("record_id,first_name,census_date\nc1,A,2021-01-01\n")
    cfg = tmp_path / "bad.toml"
    cfg.write_text("country = 5\n")
    assert main(["run", str(tmp_path), "--out", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    assert "country" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_missing_country_exits_2(tmp_path, capsys):
    (tmp_path / "census.csv").write_text("record_id,first_name,census_date\nc1,A,2021-01-01\n")
    assert main(["run", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "country" in capsys.readouterr().err


def test_country_is_inferred_from_citizenship(tmp_path):
    (tmp_path / "census.csv").write_text(
        "record_id,first_name,citizenship,census_date\n"
        "c1,Anna,EST,2021-01-01\nc2,Olga,EST,2021-01-01\nc3,Ivan,RUS,2021-01-01\n")
    assert main(["run", str(tmp_path), "--out", str(tmp_path / "o")]) == 0
    saved = (tmp_path / "o" / "run_config.json").read_text()
    assert '"country": "EST"' in saved


def test_cli_missing_folder_exits_2(tmp_path):
    assert main(["run", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2


def test_nowcast_section(tmp_path):
    path = tmp_path / "miglink.toml"
    path.write_text("[nowcast]\ncohorts = 3\nshrinkage = 10.5\nmatch_days = 31\n")
    settings = load_config(path, tmp_path).nowcast
    assert (settings.cohorts, settings.shrinkage, settings.match_days) == (3, 10.5, 31)
    assert settings.cohort_spacing_days == 61
    for bad in ("cohorts = 0", "shrinkage = -1", "observed_band_days = 'wide'", "lag = 3"):
        path.write_text(f"[nowcast]\n{bad}\n")
        with pytest.raises(ConfigError, match="nowcast"):
            load_config(path, tmp_path)


def _wrong_values():
    """Every key of every section with a value of the wrong kind, or out of range."""
    sections = {f.name: f.default_factory() for f in dataclasses.fields(RunConfig)
                if f.default_factory is not dataclasses.MISSING
                and dataclasses.is_dataclass(f.default_factory())}
    for section, settings in sections.items():
        for f in dataclasses.fields(settings):
            value = getattr(settings, f.name)
            if isinstance(value, bool):
                yield section, f.name, '"yes"'
            elif isinstance(value, int | float):
                yield section, f.name, '"many"'
                yield section, f.name, "-5"
            elif isinstance(value, str):
                yield section, f.name, "12345"


@pytest.mark.parametrize("section,key,value", list(_wrong_values()))
def test_every_wrong_value_is_refused_by_key_and_value(tmp_path, section, key, value):
    path = tmp_path / "run.toml"
    path.write_text(f"[{section}]\n{key} = {value}\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path, tmp_path)
    assert key in str(refused.value) and value.strip('"') in str(refused.value)


def test_evaluate_refuses_a_negative_tolerance(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["evaluate", str(tmp_path), "--truth", str(tmp_path), "--tolerance-days", "-1"])
    assert stopped.value.code == 2 and "--tolerance-days" in capsys.readouterr().err
