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
        [(0, 2971)]),   # the lag would say 2970, the last sign of life: the day after it
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


# Recorded trips abroad (registered_from_abroad, days abroad, trips): mostly three-week trips,
# a few absences of 497 days. They are the prior for the unrecorded crossings an arrival or a
# departure crossing proves; a person's own rate of signs of life is the likelihood: with signs
# of life every 30 days (rate ln 2 / 30 per day), a silence of s days while present has
# probability exp(-s ln 2 / 30).
TRIPS = [(False, 21, 100), (False, 497, 5)]

UNRECORDED_CROSSINGS = {
    "an arrival crossing after a long silence: the departure it proves is dated": (
        # silence 1980 -> 2600 (620 days). Away 21 days: weight 100 exp(-599 ln2/30) = e^-9.2;
        # away 497 days: 5 exp(-123 ln2/30) = e^-1.2. Posterior median 497: left on 2103.
        {"population_register": [(0, None, None, None)],
         "border_crossings": [(2600, "in")],
         "activity": every(30, 2000, 30) + every(2610, T, 30)},
        [(0, 2103), (2600, None)]),
    "... without a rate of signs of life, the recorded trips alone date it": (
        # the same silence; no likelihood, so the prior's median (21 days) before the arrival
        {"population_register": [(1800, None, None, None)],
         "border_crossings": [(2600, "in")],
         "activity": [(1900,), (1980,)], "survey": [(d,) for d in range(2610, T, 60)]},
        [(1800, 2579), (2600, None)]),
    "a departure crossing, a long silence, then signs of life: the return is dated": (
        # eve of departure 2000, next evidence 2700: silence of 699 days from the crossing.
        # Away 21: 100 exp(-678 ln2/30) = e^-11.1; away 497: 5 exp(-202 ln2/30) = e^-3.1.
        # Back on 2001 + 497 = 2498; the registration bridges the 202 quiet days after.
        {"population_register": [(0, None, None, None)],
         "border_crossings": [(2001, "out")],
         "activity": every(30, 2000, 30) + every(2700, T, 30)},
        [(0, 2001), (2498, None)]),
}


@pytest.mark.parametrize("name", list(UNRECORDED_CROSSINGS))
def test_unrecorded_crossings_are_dated_from_the_recorded_trips(name):
    records, expected = UNRECORDED_CROSSINGS[name]
    assert stays_from_records(records, T, lags=LAGS, absences=TRIPS) == expected


def test_without_recorded_trips_the_departure_falls_back_to_the_last_evidence():
    """The 620 quiet days exceed what a registration bridges (457 days without a rate of
    signs of life): gone from the day after the last evidence."""
    records, _ = UNRECORDED_CROSSINGS["... without a rate of signs of life, the recorded trips "
                                      "alone date it"]
    assert stays_from_records(records, T, lags=LAGS) == [(1800, 1981), (2600, None)]


def test_a_first_permit_dates_the_arrival_after_its_start():
    """Permits are issued before the journey: with arrivals estimated 14 days after a first
    permit's start, the stay begins at 1014, not at the first sign of life (1100); it ends
    half a gap after the last sign of life (1670 + 15) as the permit lapsed at 1800."""
    records = {"residence_permits": [(1000, 1800)], "activity": every(1100, 1700, 30)}
    assert stays_from_records(records, T, lags=LAGS) == [(1100, 1685)]
    assert stays_from_records(records, T, lags=LAGS,
                              arrival_lags={"residence_permits": -14}) == [(1014, 1685)]


def test_a_departure_then_a_registration_from_abroad_is_a_recorded_absence():
    """Out on 2001, registered from abroad on 2400 (no arrival crossing recorded): the
    registration proves the person arrived, so the open population registration does not
    bridge the 399 days between, though they are within what it would bridge after a
    departure (457)."""
    records = {"population_register": [(0, None, None, None)],
               "border_crossings": [(2001, "out")], "aliens_register": [(2400, None)],
               "activity": every(30, 2000, 30) + every(2410, T, 30)}
    assert stays_from_records(records, T, lags=LAGS) == [(0, 2001), (2400, None)]


def test_returns_that_leave_traces_make_a_traceless_silence_less_likely_an_absence():
    """Signs of life every 30 days (152 of them) and a 480-day silence between 990 and 1470.
    A registration bridges ln(152 / 0.01) / (ln 2 / 30) = 417 days, at least 457: too short.
    If 85% of long absences end in a trace of an arrival, a silence ending without one is
    bridged up to ln(152 / (0.01 x 0.15)) / (ln 2 / 30) = 499 days: the person stayed."""
    records = {"population_register": [(0, None, None, None)],
               "activity": every(0, 1000, 30) + every(1470, T, 30)}
    assert stays_from_records(records, T, lags=LAGS) == [(0, 1005), (1470, None)]
    assert stays_from_records(records, T, lags=LAGS, traced_share=0.85) == [(0, None)]


def test_a_permit_renewed_at_the_end_of_a_quiet_spell_bridges_it():
    """Renewing a permit is a sign of life, and a renewal at the end of a quiet spell that the
    permits span says the person kept their residence, however long the spell: present from
    the first sign of life (1010) through the renewals (1730, 2460) to half a day after the
    last (no rate of signs of life: the day after), though each spell is 720 days."""
    records = {"residence_permits": [(1000, 1730), (1730, 2460), (2460, 3190)],
               "activity": [(1010,)]}
    assert stays_from_records(records, T, lags=LAGS) == [(1010, 2461)]
    # a permit starting 12 days after the last one lapsed is a new permit, not a renewal
    records["residence_permits"][2] = (2472, 3190)
    assert stays_from_records(records, T, lags=LAGS) == [(1010, 1731)]


def test_a_reported_departure_is_dated_by_its_lag_not_half_a_gap_later():
    """A foreigner's registration ended on 1985 (no permit expired then): with a 20-day
    reporting lag the departure is 1965, though half a sign-of-life gap after the last one
    (1950 + 45) would be later."""
    records = {"aliens_register": [(1000, 1985)], "residence_permits": [(1000, 3000)],
               "activity": every(1050, 1980, 90)}
    assert stays_from_records(records, T, lags=LAGS) == [(1000, 1965)]


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
