"""A short, obviously correct reference for METHOD.md §3: day by day, crossing by crossing.

Slow on purpose; used only to check the set-based SQL of ``pipelines.rules``.
"""

from __future__ import annotations

IN, OUT = True, False


def day_states(stays: list[tuple[int, int | None]], end: int) -> list[bool]:
    """Presence on each day 0 .. end-1 from stays [arrival, departure)."""
    state = [OUT] * end
    for arrival, departure in stays:
        for day in range(arrival, end if departure is None else min(departure, end)):
            state[day] = IN
    return state


def continuous_run(state, t, gap_max):
    """(run length, still going at the end) of state[t] from t, bridging short old episodes."""
    new, end, day = state[t], len(state), t
    while day < end:
        if state[day] == new:
            day += 1
            continue
        episode_start = day
        while day < end and state[day] != new:
            day += 1
        if day - episode_start > gap_max:
            return episode_start - t, False
    return end - t, True


def reference_events(stays, end, resident_at_start, alive=True, rule="continuous_12",
                     tm=365, tw=487, gap_max=90, ts=None):
    """[(event_type, day, status)] for one person, walking the rule text literally.

    ``ts``: migrbc's instant rule, a crossing less than ``ts`` days after the previous
    migration is not a migration."""
    state = day_states(stays, end)
    resident = resident_at_start
    events = []
    for t in range(end):
        previous = state[t - 1] if t > 0 else OUT
        if state[t] == previous:
            continue
        arriving = state[t] == IN
        if arriving == resident:  # not in migration direction
            continue
        if rule == "continuous_12":
            length, going = continuous_run(state, t, gap_max)
            if length >= tm:
                status = "confirmed"
            elif going and alive:
                status = "provisional"
            else:
                status = None
        else:
            window = state[t:min(t + tw, end)]
            old_days = sum(1 for s in window if s != state[t])
            new_days = len(window) - old_days
            if old_days > tw - tm:
                status = None
            elif new_days >= tm:
                status = "confirmed"
            elif t + tw > end and alive:
                status = "provisional"
            else:
                status = None
        if status and ts is not None and events and t - events[-1][1] < ts:
            status = None
        if status:
            events.append(("immigration" if arriving else "emigration", t, status))
            resident = not resident
    return events
