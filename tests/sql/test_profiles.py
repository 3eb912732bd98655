"""Identity profiles (``linkage.profiles.build_profiles``): which records of one source become
one profile, hand-worked."""

from __future__ import annotations

from identity_harness import profiled

NAMES = {"first_name": "Наталья", "last_name": "Кузнецова", "sex": "F", "citizenship": "LVA",
         "country_of_birth": "LVA"}


def _profiles(records: list[tuple[str, str, dict]]) -> dict[str, int]:
    """The profile of every record ``(source, record_id, identity fields)``."""
    con = profiled(records)
    return {f"{s}|{r}": u for s, r, u in con.sql(
        "SELECT source, record_id, unique_id FROM record_profile").fetchall()}


def test_identical_identities_of_one_source_are_one_profile():
    # a source states an identity; records stating the same one carry the same evidence about
    # every other record, whether the birth date, its year or nothing of it is stated
    dated = {**NAMES, "birth_date": "1985-03-04"}
    year_only = {**NAMES, "birth_year": 1985}
    undated = dict(NAMES)
    profile = _profiles([
        ("activity", "1", year_only), ("activity", "2", year_only),  # same year: one
        ("activity", "3", {**year_only, "birth_year": 1986}),  # another year
        ("activity", "4", undated), ("activity", "5", undated),  # names alone: one
        ("activity", "6", dated), ("activity", "7", {**dated, "locality": "L2"}),  # one
        ("activity", "8", {**undated, "sex": "M"}),  # another sex
        ("activity", "9", {"first_name": "Наталья"}),  # one name only: its own
        ("activity", "10", {"first_name": "Наталья"}),
        ("population_register", "1", year_only),  # another source
        ("census", "1", dated), ("census", "2", dated),  # duplicate-free: apart
    ])
    assert profile["activity|1"] == profile["activity|2"]
    assert profile["activity|4"] == profile["activity|5"]
    assert profile["activity|6"] == profile["activity|7"]
    assert len({profile[f"activity|{i}"] for i in (1, 3, 4, 6, 8, 9, 10)}) == 7
    assert profile["population_register|1"] != profile["activity|1"]
    assert profile["census|1"] != profile["census|2"]


def test_a_record_id_holding_the_separator_stays_whole():
    con = profiled([("activity", "2020|17", NAMES), ("census", "c|1", NAMES)])
    assert sorted(con.sql("SELECT struct_extract(representative, 'source'), "
                          "struct_extract(representative, 'record_id') FROM profiles")
                  .fetchall()) == [("activity", "2020|17"), ("census", "c|1")]


def test_identities_differing_only_in_their_key_are_two_profiles():
    # a person_key is the user's, whatever characters it holds: one with the separator of
    # other keys and one without are two identities, and so are two keys otherwise alike
    profile = _profiles([("activity", "1", {**NAMES, "person_key": "K|"}),
                         ("activity", "2", {**NAMES, "person_key": "K"}),
                         ("activity", "3", {**NAMES, "person_key": "L"}),
                         ("activity", "4", {**NAMES, "person_key": "L"})])
    assert len({profile["activity|1"], profile["activity|2"], profile["activity|3"]}) == 3
    assert profile["activity|3"] == profile["activity|4"]
