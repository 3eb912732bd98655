"""Hypothesis: the set-based SQL rule stage equals the day-by-day reference on random timelines."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_harness import sql_events
from rule_reference import reference_events

from pipelines.rules import RuleParameters

# Small thresholds keep the day-level reference fast while exercising every branch.
SMALL = RuleParameters(tm=40, tw=55, gap_max=10)


@st.composite
def timelines(draw):
    end = draw(st.integers(30, 260))
    # alternating positive durations: stay, absence, stay, ...
    durations = draw(st.lists(st.integers(1, 70), min_size=0, max_size=10))
    start = draw(st.integers(0, 60))
    stays, day, inside = [], start, True
    for length in durations:
        if day >= end:
            break
        if inside:
            departure = day + length
            stays.append((day, None if departure >= end else departure))
        day += length
        inside = not inside
    if inside and day < end and durations:
        stays.append((day, None))
    resident = draw(st.booleans())
    alive = draw(st.booleans())
    return stays, end, resident, alive


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(timelines(), min_size=1, max_size=8), st.sampled_from(["continuous_12", "12_of_16"]))
def test_sql_rules_equal_reference(people, rule):
    by_id = {f"p{i}": person for i, person in enumerate(people)}
    got = sql_events(by_id, rule, SMALL)
    for pid, (stays, end, resident, alive) in by_id.items():
        expected = reference_events(stays, end, resident, alive, rule,
                                    tm=SMALL.tm, tw=SMALL.tw, gap_max=SMALL.gap_max)
        assert got[pid] == expected, (pid, stays, end, resident, alive)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(timelines(), min_size=1, max_size=8), st.sampled_from(["continuous_12", "12_of_16"]))
def test_sql_instant_rule_equals_reference(people, rule):
    params = RuleParameters(tm=SMALL.tm, tw=SMALL.tw, gap_max=SMALL.gap_max, instant_return=True)
    by_id = {f"p{i}": person for i, person in enumerate(people)}
    got = sql_events(by_id, rule, params)
    for pid, (stays, end, resident, alive) in by_id.items():
        expected = reference_events(stays, end, resident, alive, rule, tm=params.tm,
                                    tw=params.tw, gap_max=params.gap_max, ts=params.ts)
        assert got[pid] == expected, (pid, stays, end, resident, alive)


@settings(max_examples=100, deadline=None)
@given(timelines(), st.sampled_from(["continuous_12", "12_of_16"]))
def test_events_alternate_in_type(person, rule):
    events = sql_events({"p": person}, rule, SMALL)["p"]
    types = [e[0] for e in events]
    assert all(a != b for a, b in zip(types, types[1:], strict=False))
    resident = person[2]
    if types:
        assert types[0] == ("emigration" if resident else "immigration")


@settings(max_examples=100, deadline=None)
@given(timelines(), st.sampled_from(["continuous_12", "12_of_16"]))
def test_a_resident_never_immigrates_without_emigrating_first(person, rule):
    """Immigration is establishing residence: never for someone resident at that moment."""
    stays, end, _resident, alive = person
    events = sql_events({"p": (stays, end, True, alive)}, rule, SMALL)["p"]
    balance = 0   # +1 after an emigration, -1 after an immigration: never below zero
    for event_type, _day, _status in events:
        balance += 1 if event_type == "emigration" else -1
        assert 0 <= balance <= 1, events


@settings(max_examples=150, deadline=None)
@given(timelines(), st.integers(0, 9), st.integers(1, 120),
       st.sampled_from(["continuous_12", "12_of_16"]))
def test_lengthening_a_stay_never_removes_an_immigration(person, which, extra, rule):
    """A later departure only lengthens presence: an arrival that qualified still does, so a
    non-resident who immigrated still immigrates (perhaps earlier, or confirmed sooner)."""
    stays, end, _resident, alive = person
    if not stays:
        return
    i = which % len(stays)
    arrival, departure = stays[i]
    if departure is None:
        return
    limit = stays[i + 1][0] - 1 if i + 1 < len(stays) else end
    longer = departure + extra
    new_departure = None if longer >= end and i + 1 == len(stays) else min(longer, limit)
    lengthened = [*stays[:i], (arrival, new_departure), *stays[i + 1:]]
    before = sql_events({"p": (stays, end, False, alive)}, rule, SMALL)["p"]
    after = sql_events({"p": (lengthened, end, False, alive)}, rule, SMALL)["p"]
    if any(e[0] == "immigration" for e in before):
        assert any(e[0] == "immigration" for e in after), (stays, lengthened, before, after)


@settings(max_examples=400, deadline=None)
@given(timelines(), st.sampled_from(["continuous_12", "12_of_16"]))
def test_generator_truth_walk_equals_reference(person, rule):
    """The synthetic truth (``synthetic.truth``) is written apart from the product's SQL; it
    must agree with the day-by-day reading of METHOD.md as well."""
    from synthetic.truth import Thresholds, person_events

    stays, end, resident, alive = person
    expected = reference_events(stays, end, resident, alive, rule,
                                tm=SMALL.tm, tw=SMALL.tw, gap_max=SMALL.gap_max)
    th = Thresholds(tm=SMALL.tm, tw=SMALL.tw, gap_max=SMALL.gap_max)
    assert person_events(stays, end, resident, alive, rule, th) == expected
