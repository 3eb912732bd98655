"""Golden timelines of the evidence model (METHOD.md §2, ``pipelines.presence``): one
person's source records in, stays out. Each expected stay list was worked out by hand from
the model's documented rules, with the default parameters (``unknown_carry`` 92 days,
``sol_lag`` 365, so a foreigner's registration bridges at most 457 days without evidence).

Days are integers; T = 5000 is the as-of date. A stay is [arrival, departure); None = still
present at T.
"""

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from presence_harness import stays_from_records

T = 5000


def every(start: int, stop: int, step: int) -> list[tuple]:
    """Signs of life from ``start`` every ``step`` days, before ``stop``."""
    return [(d,) for d in range(start, stop, step)]


LAGS = {"emigration": 30, "registration_end": 20}

GOLDEN = {
    "crossings date a stay exactly": (
        {"border_crossings": [(1000, "in"), (1500, "out")], "activity": every(1010, 1500, 30)},
        [(1000, 1500)]),
    "same-day departure and return: two stays touching": (
        {"border_crossings": [(1000, "in"), (1500, "out"), (1500, "in")],
         "activity": every(1010, 2000, 30)},
        # the second stay ends half a sign-of-life gap after the last one (1970 + 15)
        [(1000, 1500), (1500, 1985)]),
    "deregistration without later evidence: departure = deregistration - lag": (
        {"population_register": [(0, 3000, "emigration", None)],
         "activity": every(30, 2900, 30)},
        [(0, 2970)]),
    "deregistration never dates a departure before the last evidence": (
        {"population_register": [(0, 3000, "emigration", None)],
         "activity": every(30, 2990, 30)},
        [(0, 2985)]),   # last sign of life 2970, + 15; the lag would say 2970
    "death ends presence without a departure": (
        {"population_register": [(0, 3000, "death", None)], "activity": every(30, 2900, 30)},
        [(0, None)]),
    "born here: present from the birth registration": (
        {"population_register": [(1000, None, None, None)], "activity": every(1100, T, 30)},
        [(1000, None)]),
    "two overlapping permits together bridge a gap neither spans alone": (
        {"residence_permits": [(950, 1500), (1480, 2600)],
         "activity": every(1010, 1400, 30) + every(1800, 2400, 30)},
        [(1010, 2385)]),   # the 410-day gap is within 457; the permit outlasts the stay
    "one permit ending inside the gap does not bridge it": (
        {"residence_permits": [(950, 1500)],
         "activity": every(1010, 1400, 30) + every(1800, 2400, 30)},
        [(1010, 1385), (1800, 2385)]),
    "permit longer than the stay: the stay ends with the evidence": (
        {"residence_permits": [(990, 2990)], "activity": every(1000, 1400, 30)},
        [(1000, 1405)]),
    "a foreigner's registration ended off a permit expiry dates the departure": (
        {"aliens_register": [(1000, 1800)], "residence_permits": [(990, 2000)],
         "activity": every(1010, 1700, 30)},
        [(1000, 1780)]),   # 1800 - 20, later than the last sign of life (1670) + 15
    "a registration ending with its permit says nothing more": (
        {"aliens_register": [(1000, 2000)], "residence_permits": [(990, 2000)],
         "activity": every(1010, 1700, 30)},
        [(1000, 1685)]),
    "a reported end stops a residence registration bridging the absence": (
        {"population_register": [(1000, None, None, "UZB")],
         "aliens_register": [(1000, 1500)], "residence_permits": [(990, 2500)],
         "activity": every(1010, 1400, 30) + every(1790, 2500, 30)},
        [(1000, 1480), (1790, 2495)]),
    "without the reported end the same residence registration bridges it": (
        {"population_register": [(1000, None, None, "UZB")],
         "activity": every(1010, 1400, 30) + every(1790, T, 30)},
        [(1000, None)]),
    "census and survey points: present on those days": (
        {"survey": [(1000,)], "census": [(1080,)]},
        [(1000, 1081)]),
    "over-coverage: a registered resident silent for years is gone after the last evidence": (
        {"population_register": [(0, None, None, None)], "activity": every(60, 3000, 60)},
        [(0, 2970)]),   # 48 gaps of 60 days: a 2,060-day silence is far beyond chance
    "a quiet resident: a 700-day gap among 300-day gaps is no emigration": (
        {"population_register": [(0, None, None, None)],
         "activity": every(300, 2700, 300) + every(3100, T, 300)},
        [(0, None)]),
    "out-crossing without a recorded return: a registration bridges 200 days": (
        {"population_register": [(0, None, None, None)], "border_crossings": [(2000, "out")],
         "activity": every(30, 2000, 30) + every(2200, T, 30)},
        [(0, None)]),
    "out-crossing without a recorded return: 700 days silent is an absence": (
        {"population_register": [(0, None, None, None)], "border_crossings": [(2000, "out")],
         "activity": every(30, 2000, 30) + every(2700, T, 30)},
        [(0, 2000), (2700, None)]),
    "departure and return both recorded": (
        {"population_register": [(0, None, None, None)],
         "border_crossings": [(2000, "out"), (2100, "in")],
         "activity": every(30, 2000, 30) + every(2110, T, 30)},
        [(0, 2000), (2100, None)]),
    "signs of life alone: gaps up to unknown_carry are presence": (
        {"activity": every(1000, 2001, 80)},
        [(1000, 2000)]),
    "signs of life alone: a 100-day gap is an absence": (
        {"activity": [(1000,), (1080,), (1160,), (1260,), (1340,), (1420,)]},
        [(1000, 1200), (1260, 1460)]),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_presence(name):
    records, expected = GOLDEN[name]
    assert stays_from_records(records, T, lags=LAGS) == expected


def test_deregistration_without_an_estimated_lag_falls_back_to_the_evidence():
    records = {"population_register": [(0, 3000, "emigration", None)],
               "activity": every(30, 2900, 30)}
    assert stays_from_records(records, T, lags={}) == [(0, 2895)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4000), min_size=1, max_size=40, unique=True),
       st.one_of(st.none(), st.tuples(st.integers(0, 2000), st.none() | st.integers(2001, 4500))))
def test_every_sign_of_life_lies_inside_a_stay_and_more_evidence_never_splits(days, register):
    """Presence is where the evidence is: each day with evidence is inside a stay; and adding
    signs of life between existing ones can only join stays, never split them."""
    records = {"activity": [(d,) for d in days]}
    if register:
        records["population_register"] = [(register[0], register[1], None, None)]
    stays = stays_from_records(records, T)
    for d in days:
        assert any(a <= d and (e is None or d < e) for a, e in stays), (d, stays)
    ordered = sorted(days)
    filled = sorted(set(ordered) | {(a + b) // 2 for a, b in pairwise(ordered)})
    more = stays_from_records({**records, "activity": [(d,) for d in filled]}, T)

    def stay_of(d, among):
        return next(i for i, (a, e) in enumerate(among) if a <= d and (e is None or d < e))

    for a, b in pairwise(ordered):
        if stay_of(a, stays) == stay_of(b, stays):
            assert stay_of(a, more) == stay_of(b, more), (a, b, stays, more)
