"""Parameter corrections made after Splink's training (``linkage.link``): hand-worked cases."""

from __future__ import annotations

import pytest

from linkage.scoring import deduct_matches_from_u, regularise_m


def _model(prior: float, levels: list[tuple[float | None, float | None]]) -> dict:
    return {"probability_two_random_records_match": prior, "comparisons": [{
        "comparison_levels": [{"is_null_level": True}] + [
            {"m_probability": m, "u_probability": u} for m, u in levels]}]}


def _levels(model: dict) -> list[dict]:
    return model["comparisons"][0]["comparison_levels"][1:]


def test_u_loses_the_matches_that_random_pairs_held():
    # 1% of random pairs match; 90% of matches agree. Of the 2% of random pairs that agree,
    # 0.9% were matches: u = (0.02 - 0.009) / 0.99 = 1/90
    model = deduct_matches_from_u(_model(0.01, [(0.9, 0.02), (0.1, 0.98)]), floor=1e-9)
    assert [lv["u_probability"] for lv in _levels(model)] == [
        pytest.approx(0.011 / 0.99), pytest.approx(0.979 / 0.99)]


def test_a_level_only_matches_reach_keeps_a_floor_and_u_sums_to_one():
    # equal keys: every random pair that agreed was a match
    model = deduct_matches_from_u(_model(1e-5, [(0.999, 1e-5), (0.001, 1 - 1e-5)]),
                                  floor=1e-7)
    u = [lv["u_probability"] for lv in _levels(model)]
    assert u[0] == pytest.approx(1e-7, rel=1e-3) and sum(u) == pytest.approx(1.0)


def test_levels_without_u_are_left_alone():
    model = deduct_matches_from_u(_model(0.01, [(0.5, None), (0.5, 1.0)]), floor=1e-9)
    assert _levels(model)[0]["u_probability"] is None
    assert _levels(model)[1]["u_probability"] == pytest.approx(1.0)


def test_unseen_levels_get_a_small_m_and_m_sums_to_one():
    model = regularise_m(_model(0.0, [(0.9, 0.1), (None, 0.2), (0.0, 0.7)]), unseen_m=0.01)
    m = [lv["m_probability"] for lv in _levels(model)]
    assert m == pytest.approx([0.9 / 0.92, 0.01 / 0.92, 0.01 / 0.92])
    assert model["probability_two_random_records_match"] == 1e-9
