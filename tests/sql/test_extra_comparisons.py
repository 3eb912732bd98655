"""Extra columns a user asks the model to compare (``[linkage] extra_comparisons`` and
``extra_blocking``): read from the config, carried into the profiles (the value most of a
profile's records state), compared at the levels of their kind, blocked on."""

from __future__ import annotations

import pytest
from identity_harness import profiled

from linkage import model
from linkage.link import LinkageSettings
from pipelines.config import load_config
from schemas.errors import ConfigError

NAMES = {"first_name": "Anna", "last_name": "Petrova", "birth_date": "1980-02-03"}


def test_the_config_names_columns_kinds_and_blocking(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[linkage]\nextra_blocking = [["street", "house_number"]]\n'
                    '[linkage.extra_comparisons]\nstreet = "jaro_winkler"\n'
                    'house_number = { kind = "numeric", term_frequency = false }\n')
    linkage = load_config(path, tmp_path).linkage
    assert linkage.extra_comparisons == {"street": ("jaro_winkler", True),
                                         "house_number": ("numeric", False)}
    assert linkage.extra_blocking == (("street", "house_number"),)


@pytest.mark.parametrize("settings,fragment", [
    ({"extra_comparisons": {"street": "fuzzy"}}, "the kind must be one of"),
    ({"extra_comparisons": {"first_name": "exact"}}, "cannot be an extra column"),
    ({"extra_comparisons": {"Street Name": "exact"}}, "cannot be an extra column"),
    ({"extra_blocking": [["postcode"]]}, "neither extra comparisons nor identity"),
    ({"extra_blocking": [[]]}, "neither extra comparisons nor identity"),
])
def test_bad_extra_settings_are_refused(settings, fragment):
    with pytest.raises(ConfigError, match=fragment):
        LinkageSettings(**settings)


def test_each_kind_has_its_levels():
    def labels(kind: str) -> list[str]:
        comparison = model.extra_comparison("street", kind).get_comparison("duckdb")
        return [level.label_for_charts for level in comparison.comparison_levels]

    assert len(labels("exact")) == 3  # unknown, exact, else
    assert "one typo apart" in labels("jaro_winkler") and "similar" in labels("jaro_winkler")
    assert "the first 3 characters agree" in labels("prefix")
    assert "within 10" in labels("numeric")
    assert "within 31 days" in labels("date")


def test_extra_columns_enter_the_model_only_where_they_hold_data():
    names = {c.get_comparison("duckdb").output_column_name for c in model.settings(
        {"full_std", "street"}, [], extra={"street": ("exact", True),
                                           "house": ("exact", True)}).comparisons}
    assert "street" in names and "house" not in names


def test_a_profile_states_the_value_most_of_its_records_state():
    con = profiled([
        ("activity", "1", {**NAMES, "street": "Lenina"}),
        ("activity", "2", {**NAMES, "street": "Mira"}),
        ("activity", "3", {**NAMES, "street": "Mira"}),
        ("census", "1", {**NAMES, "street": "Abaya"}),
    ], extra=("street",))
    streets = dict(con.sql("SELECT struct_extract(representative, 'source'), street "
                           "FROM profiles").fetchall())
    assert streets == {"activity": "Mira", "census": "Abaya"}
