"""Prediction blocking (``linkage.model.PREDICTION_BLOCKING`` on the keys of
``linkage.scoring.block_keys``): which pairs of hand-made records are scored at all."""

from __future__ import annotations

from identity_harness import profiled

from linkage import model
from linkage.scoring import block_keys

FREE = ("census",)


def _blocked(records: list[tuple[str, str, dict]], available: set[str] | None = None,
             as_splink: bool = False) -> set[frozenset[str]]:
    """The pairs of records (``source|record_id``) that some blocking rule puts together
    (``as_splink``: by the rules Splink is given, ``model.prediction_rules``)."""
    con = profiled(records, FREE)
    rules = model.usable_blocking(available or {
        "person_key", "first_skel", "last_skel", "last_stem", "birth_date_any_order",
        "first_initial_class", "last_initial_class", "birth_year_any", "locality"})
    block_keys(con, rules, max_block=250)
    on = " OR ".join(f"({sql})" for _, sql in model.prediction_rules(rules, FREE)) \
        if as_splink else \
        " OR ".join(f"({model.blocking_sql(i, rule, FREE)})" for i, rule in enumerate(rules))
    pairs = con.sql(f"""
        SELECT DISTINCT lr.source || '|' || lr.record_id, rr.source || '|' || rr.record_id
        FROM profiles AS l JOIN profiles AS r ON l.unique_id < r.unique_id AND ({on})
        JOIN record_profile AS lr ON lr.unique_id = l.unique_id
        JOIN record_profile AS rr ON rr.unique_id = r.unique_id""").fetchall()
    return {frozenset(pair) for pair in pairs}


PERSON = {"first_name": "Kairat", "last_name": "Nurlanov", "birth_date": "1984-06-11",
          "sex": "M", "locality": "L1"}


def test_records_of_a_duplicate_free_source_are_never_paired():
    pairs = _blocked([("census", "1", PERSON), ("census", "2", PERSON),
                      ("population_register", "1", PERSON)])
    assert frozenset({"census|1", "census|2"}) not in pairs
    assert {frozenset({"census|1", "population_register|1"}),
            frozenset({"census|2", "population_register|1"})} <= pairs


def test_initials_and_birth_date_pair_only_names_both_a_typo_apart():
    both_typos = {**PERSON, "first_name": "Kairta", "last_name": "Nurlanof"}
    namesake_initials = {**PERSON, "first_name": "Kanat", "last_name": "Nazarbekov"}
    pairs = _blocked([("population_register", "1", PERSON), ("activity", "1", both_typos),
                      ("activity", "2", namesake_initials)])
    assert frozenset({"population_register|1", "activity|1"}) in pairs
    assert frozenset({"population_register|1", "activity|2"}) not in pairs


def test_undated_record_is_paired_on_its_names_within_its_locality():
    undated = {k: v for k, v in PERSON.items() if k != "birth_date"}
    elsewhere = {**undated, "locality": "L9"}
    nowhere = {k: v for k, v in undated.items() if k != "locality"}
    # (records of one source stating the same names are one profile: three sources)
    pairs = _blocked([("population_register", "1", PERSON), ("activity", "1", undated),
                      ("survey", "1", elsewhere), ("residence_permits", "1", nowhere)])
    assert frozenset({"population_register|1", "activity|1"}) in pairs
    assert frozenset({"population_register|1", "survey|1"}) not in pairs
    # a side without locality: names alone
    assert frozenset({"population_register|1", "residence_permits|1"}) in pairs


def test_without_locality_in_the_data_undated_records_pair_on_names_alone():
    undated = {k: v for k, v in PERSON.items() if k not in ("birth_date", "locality")}
    dated = {k: v for k, v in PERSON.items() if k != "locality"}
    pairs = _blocked([("population_register", "1", dated), ("activity", "1", undated)],
                     available={"first_skel", "last_skel", "last_stem",
                                "birth_date_any_order", "birth_year_any"})
    assert pairs == {frozenset({"population_register|1", "activity|1"})}


def test_one_name_and_birth_date_pair_another_name_only_in_one_locality():
    married = {**PERSON, "first_name": "Aigul", "last_name": "Serikova", "sex": "F"}
    same_place = {**married, "last_name": "Dzhaksybekova"}
    elsewhere = {**same_place, "locality": "L9"}
    unnamed = {k: v for k, v in elsewhere.items() if k != "last_name"}
    typo = {**elsewhere, "last_name": "Serikowa"}
    pairs = _blocked([("population_register", "1", married), ("activity", "1", same_place),
                      ("survey", "1", elsewhere), ("residence_permits", "1", unnamed),
                      ("aliens_register", "1", typo)])
    register = "population_register|1"
    assert frozenset({register, "activity|1"}) in pairs  # another surname, one locality
    assert frozenset({register, "survey|1"}) not in pairs  # another surname, elsewhere
    assert frozenset({register, "residence_permits|1"}) in pairs  # no surname to disagree
    assert frozenset({register, "aliens_register|1"}) in pairs  # a typo apart


def test_splink_is_given_rules_that_pair_the_same_records():
    """A rule for pairs with a side lacking a column is given to Splink as two joins of the
    lacking side's key to everyone's: the same pairs as the rule says (fails if a direction
    or the lacking side's key is lost)."""
    undated = {k: v for k, v in PERSON.items() if k != "birth_date"}
    yearless = {k: v for k, v in undated.items()}
    records = [
        ("population_register", "1", PERSON),
        ("activity", "1", {**undated, "birth_year": 1984}),
        ("activity", "2", {**undated, "first_name": "Kairta", "birth_year": 1984}),
        ("survey", "1", {**yearless, "locality": "L2"}),
        ("residence_permits", "1", {k: v for k, v in yearless.items() if k != "locality"}),
        ("border_crossings", "1", {**PERSON, "last_name": "Nurlanof"}),
        ("census", "1", {**PERSON, "birth_date": "1984-11-06"}),
        ("census", "2", {**undated, "birth_year": 1984, "locality": "L2"}),
        ("aliens_register", "1", {**undated, "last_name": "Nurlanova", "birth_year": 1984}),
    ]
    said = _blocked(records)
    assert len(said) >= 10  # the records pair in many ways: the comparison means something
    assert _blocked(records, as_splink=True) == said
