"""Golden timelines written by hand from METHOD.md §3, with the events expected under each rule.

Days are integers; T is the as-of date. A stay is [arrival, departure); None = still present.
"""

import pytest
from rule_harness import sql_events
from rule_reference import reference_events

from pipelines.rules import RuleParameters

T = 5000
IMM, EMI = "immigration", "emigration"
C, P = "confirmed", "provisional"

# name: (stays, observation_end, resident_at_start, alive, continuous_12 events, 12_of_16 events)
GOLDEN = {
    "13-month stay: immigration, then emigration": (
        [(1000, 1395)], T, False, True,
        [(IMM, 1000, C), (EMI, 1395, C)], [(IMM, 1000, C), (EMI, 1395, C)]),
    "11-month stay: temporary mobility, no event": (
        [(1000, 1335)], T, False, True, [], []),
    "resident's 60-day absence is bridged by gap_max": (
        [(0, 2000), (2060, None)], T, True, True, [], []),
    "immigrant's 60-day absence in the first year does not break the stay": (
        [(1000, 1200), (1260, None)], T, False, True, [(IMM, 1000, C)], [(IMM, 1000, C)]),
    "100-day absence breaks the continuous run but fits in 12 of 16": (
        [(1000, 1200), (1300, None)], T, False, True, [(IMM, 1300, C)], [(IMM, 1000, C)]),
    "two 85-day absences: continuous bridges both, 12 of 16 waits for the second arrival": (
        [(1000, 1100), (1185, 1285), (1370, None)], T, False, True,
        [(IMM, 1000, C)], [(IMM, 1185, C)]),
    "circular 8-month stays: never a migration": (
        [(1000, 1243), (1600, 1843), (2200, 2443)], T, False, True, [], []),
    "native emigrates and returns after 2 years": (
        [(0, 2000), (2730, None)], T, True, True,
        [(EMI, 2000, C), (IMM, 2730, C)], [(EMI, 2000, C), (IMM, 2730, C)]),
    "native's 10-month absence: no event": (
        [(0, 2000), (2300, None)], T, True, True, [], []),
    "native's 100-day absence: no event": (
        [(0, 2000), (2100, None)], T, True, True, [], []),
    "arrival 6 months before the as-of date: provisional immigration": (
        [(4817, None)], T, False, True, [(IMM, 4817, P)], [(IMM, 4817, P)]),
    "departure 6 months before the as-of date: provisional emigration": (
        [(0, 4817)], T, True, True, [(EMI, 4817, P)], [(EMI, 4817, P)]),
    "arrival 400 days before the as-of date: confirmed though the window is open": (
        [(4600, None)], T, False, True, [(IMM, 4600, C)], [(IMM, 4600, C)]),
    "5-month stay of a temporary mover: no event": (
        [(1000, 1150)], T, False, True, [], []),
    "death 200 days after arrival: no event, never provisional": (
        [(1000, None)], 1200, False, False, [], []),
    "death of a resident ends presence without an emigration": (
        [(0, None)], 3000, True, False, [], []),
    "absence shorter than gap_max at T keeps the run going; provisional events flip status": (
        [(4700, 4950)], T, False, True,
        [(IMM, 4700, P), (EMI, 4950, P)], [(IMM, 4700, P), (EMI, 4950, P)]),
    "emigration, then a short visit home does not make an immigration": (
        [(0, 2000), (2400, 2430)], T, True, True, [(EMI, 2000, C)], [(EMI, 2000, C)]),
    "second migration after a return: emigrate, return, emigrate again": (
        [(0, 1000), (1500, 2500)], T, True, True,
        [(EMI, 1000, C), (IMM, 1500, C), (EMI, 2500, C)],
        [(EMI, 1000, C), (IMM, 1500, C), (EMI, 2500, C)]),
}


@pytest.mark.parametrize("rule_index,rule", [(4, "continuous_12"), (5, "12_of_16")])
@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_timeline(name, rule_index, rule):
    case = GOLDEN[name]
    stays, end, resident, alive = case[:4]
    expected = case[rule_index]
    assert sql_events({"p": (stays, end, resident, alive)}, rule)["p"] == expected
    assert reference_events(stays, end, resident, alive, rule) == expected


def test_golden_timelines_are_many():
    assert len(GOLDEN) >= 12


# migrbc's instant rule (``instant_return``): a crossing less than ts = 2 * tn = 244 days after
# a migration is not one. Name: (stays, events without the rule, events with it), both rules.
INSTANT = {
    "provisional immigration, departure 200 days later: the departure is vetoed": (
        [(4750, 4950)], [(IMM, 4750, P), (EMI, 4950, P)], [(IMM, 4750, P)]),
    "departure 250 days after a provisional immigration stands": (
        [(4700, 4950)], [(IMM, 4700, P), (EMI, 4950, P)], [(IMM, 4700, P), (EMI, 4950, P)]),
    "confirmed migrations are never that close: nothing changes": (
        [(0, 1000), (1500, 2500)], [(EMI, 1000, C), (IMM, 1500, C), (EMI, 2500, C)],
        [(EMI, 1000, C), (IMM, 1500, C), (EMI, 2500, C)]),
}


@pytest.mark.parametrize("rule", ["continuous_12", "12_of_16"])
@pytest.mark.parametrize("name", list(INSTANT))
def test_instant_rule(name, rule):
    stays, without, with_rule = INSTANT[name]
    resident = stays[0][0] == 0
    person = {"p": (stays, T, resident, True)}
    assert sql_events(person, rule)["p"] == without
    assert sql_events(person, rule, RuleParameters(instant_return=True))["p"] == with_rule
    assert reference_events(stays, T, resident, True, rule, ts=RuleParameters().ts) == with_rule
