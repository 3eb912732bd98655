"""Golden timelines of the presence model (``pipelines.presence_model``): one person's source
records in, stays out, read with a model fitted once on a synthetic country
(``presence_harness.FITTED``). The model's time step is two weeks, so a date the model finds
(not one a crossing gives) is exact to within a step; ``NEAR`` allows for that. What each case
pins is written beside it: how the evidence must weigh, whatever the fitted rates.

Days are integers; T = 5000 is the as-of date. A stay is [arrival, departure); None = still
present at T.
"""

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from presence_harness import stays_from_records

T = 5000
NEAR = 21  # days: a step and a half


def every(start: int, stop: int, step: int) -> list[tuple]:
    """Signs of life from ``start`` every ``step`` days, before ``stop``."""
    return [(d,) for d in range(start, stop, step)]


def near(got: list[tuple], expected: list[tuple], within: int = NEAR) -> bool:
    """Same number of stays, each date within ``within`` days (None only where None)."""
    if len(got) != len(expected):
        return False
    for (a, d), (ea, ed) in zip(got, expected, strict=True):
        if abs(a - ea) > within or (d is None) != (ed is None):
            return False
        if d is not None and abs(d - ed) > within:
            return False
    return True


NATIVE = {  # registered residents, born here on day 0
    "crossings date a stay exactly": (
        {"population_register": [(0, None, None, None)],
         "border_crossings": [(2000, "out"), (2600, "in")],
         "activity": every(30, 2000, 30) + every(2610, T, 30)},
        [(0, 2000), (2600, None)], 0),
    "death ends presence without a departure": (
        {"population_register": [(0, 3000, "death", None)], "activity": every(30, 2900, 30)},
        [(0, None)], NEAR),
    "a deregistration dates a departure the signs of life end at": (
        {"population_register": [(0, 3000, "emigration", None)],
         "activity": every(30, 2990, 30)},
        [(0, 3000)], NEAR),
    "a quiet resident: one silent year among monthly signs of life is no emigration": (
        {"population_register": [(0, None, None, None)],
         "activity": every(30, 2000, 30) + every(2365, T, 30)},
        [(0, None)], NEAR),
    "a quiet resident: a 700-day gap among 300-day gaps is no emigration": (
        {"population_register": [(0, None, None, None)],
         "activity": every(300, 2700, 300) + every(3100, T, 300)},
        [(0, None)], NEAR),
    "an emigrant who never deregistered: gone soon after the signs of life end": (
        {"population_register": [(0, None, None, None)], "activity": every(30, 3000, 30)},
        [(0, 3000)], 60),
    "out-crossing, 700 silent days, then signs of life: an absence": (
        {"population_register": [(0, None, None, None)], "border_crossings": [(2000, "out")],
         "activity": every(30, 2000, 30) + every(2700, T, 30)},
        [(0, 2000), (2700, None)], 60),
    "out-crossing and signs of life going on: a trip, not an emigration": (
        {"population_register": [(0, None, None, None)], "border_crossings": [(2000, "out")],
         "activity": every(30, T, 30)},
        [(0, None)], NEAR),
}


@pytest.mark.parametrize("name", list(NATIVE))
def test_native_timelines(name):
    records, expected, within = NATIVE[name]
    got = stays_from_records(records, T)
    assert near(got, expected, within), (got, expected)


FOREIGN = {  # born abroad
    "a stay between an arrival and a departure crossing": (
        {"border_crossings": [(1000, "in"), (1500, "out")], "activity": every(1010, 1500, 30)},
        [(1000, 1500)], 0),
    "a permit longer than the stay: the stay ends with the evidence": (
        {"residence_permits": [(990, 2990)], "aliens_register": [(1000, 2990)],
         "activity": every(1000, 1400, 30)},
        [(1000, 1400)], 60),
    "signs of life alone: present between the first and the last": (
        {"activity": every(1000, 2001, 60)},
        [(1000, 2000)], 60),
    "a registered seasonal worker: away between the seasons": (
        {"population_register": [(1000, None, None, "UZB")],
         "residence_permits": [(990, 1230), (1355, 1600), (1720, 1965)],
         "aliens_register": [(1000, 1230), (1365, 1600), (1730, 1965)],
         "activity": every(1010, 1200, 20) + every(1375, 1580, 20) + every(1740, 1950, 20)},
        [(1000, 1215), (1365, 1590), (1730, 1955)], 45),
}


@pytest.mark.parametrize("name", list(FOREIGN))
def test_foreign_timelines(name):
    records, expected, within = FOREIGN[name]
    got = stays_from_records(records, T, native=False, birth=-9000)
    assert near(got, expected, within), (got, expected)


def test_a_seasonal_worker_never_stays_twelve_months():
    """The failure class that motivated the model: seasons bridged as one long stay made
    immigrations and emigrations of seasonal workers."""
    records, _, _ = FOREIGN["a registered seasonal worker: away between the seasons"]
    stays = stays_from_records(records, T, native=False, birth=-9000)
    assert all(d is not None and d - a < 365 for a, d in stays), stays


def test_born_here_present_from_birth():
    records = {"population_register": [(1000, None, None, None)],
               "activity": every(1100, T, 30)}
    assert stays_from_records(records, T, birth=1000) == [(1000, None)]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 4000), min_size=1, max_size=30, unique=True),
       st.one_of(st.none(), st.tuples(st.integers(0, 2000), st.none() | st.integers(2001, 4500))),
       st.booleans())
def test_stays_are_ordered_apart_and_inside_observation(days, register, native):
    """Whatever the evidence: stays are sorted, at least a day apart and a day long, start
    on or after birth and no later than the as-of date, and only the last may be open."""
    records = {"activity": [(d,) for d in days]}
    if register:
        records["population_register"] = [(register[0], register[1], None, None)]
    stays = stays_from_records(records, T, native=native)
    for a, d in stays:
        assert 0 <= a <= T
        assert d is None or d > a
    for (_, d), (a2, _) in pairwise(stays):
        assert d is not None and a2 > d
    assert all(d is not None for _, d in stays[:-1])
