"""The true migration events of a synthetic person, walked from their true stays.

This is the generator's own reading of METHOD.md §3, written apart from the product's SQL
(``pipelines.rules``) so that ``miglink evaluate`` can catch a bug there: a plain walk of one
person's crossings in time order, with the stays as intervals. Tests check it against a
day-by-day reference on random timelines.

Days are integers. A stay is ``(arrival, departure)`` with ``departure`` None while it lasts to
the end of observation ``end`` (the as-of date, or the day of death).
"""

from __future__ import annotations

from dataclasses import dataclass

IMMIGRATION, EMIGRATION = "immigration", "emigration"
RULES = ("continuous_12", "12_of_16")


@dataclass(frozen=True)
class Thresholds:
    """METHOD.md §3, in days: ``tm`` the 12 months, ``tw`` the 16-month window, ``gap_max``
    the longest absence (or return) that does not interrupt a run."""

    tm: int = 365
    tw: int = 487
    gap_max: int = 90

    @property
    def tn(self) -> int:
        return self.tw - self.tm


def _clipped(stays: list[tuple[int, int | None]], end: int) -> list[tuple[int, int]]:
    """Stays as closed-open intervals inside (-inf, end), empty ones dropped and touching
    ones merged (a departure and a return on one day are no crossing)."""
    out: list[tuple[int, int]] = []
    for arrival, departure in sorted(stays, key=lambda s: s[0]):
        stop = end if departure is None else min(departure, end)
        if stop <= arrival:
            continue
        if out and arrival <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], stop))
        else:
            out.append((arrival, stop))
    return out


def _days_present(intervals: list[tuple[int, int]], lo: int, hi: int) -> int:
    return sum(max(0, min(b, hi) - max(a, lo)) for a, b in intervals)


def _episodes(intervals: list[tuple[int, int]], end: int, present: bool, after: int
              ) -> list[tuple[int, int]]:
    """Episodes of presence (``present``) or absence starting at or after ``after``."""
    if present:
        return [(a, b) for a, b in intervals if a >= after]
    gaps = [(b, a2) for (_, b), (a2, _) in zip(intervals, intervals[1:], strict=False)]
    if intervals and intervals[-1][1] < end:
        gaps.append((intervals[-1][1], end))
    return [(a, b) for a, b in gaps if a >= after]


def _continuous_status(intervals: list[tuple[int, int]], end: int, t: int, arriving: bool,
                       alive: bool, th: Thresholds) -> str | None:
    """The run of the new state from ``t``; old-state episodes up to ``gap_max`` days do not
    break it (one still under way at ``end`` and no longer than that does not either)."""
    for start, stop in _episodes(intervals, end, not arriving, t):
        if stop - start > th.gap_max:
            return "confirmed" if start - t >= th.tm else None
    if end - t >= th.tm:
        return "confirmed"
    return "provisional" if alive else None


def _window_status(intervals: list[tuple[int, int]], end: int, t: int, arriving: bool,
                   alive: bool, th: Thresholds) -> str | None:
    window_end = min(t + th.tw, end)
    present = _days_present(intervals, t, window_end)
    new_days = present if arriving else window_end - t - present
    old_days = window_end - t - new_days
    if old_days > th.tn:
        return None
    if new_days >= th.tm:
        return "confirmed"
    return "provisional" if t + th.tw > end and alive else None


def person_events(stays: list[tuple[int, int | None]], end: int, resident_at_start: bool,
                  alive: bool, rule: str, th: Thresholds = Thresholds()
                  ) -> list[tuple[str, int, str]]:
    """[(event_type, day, status)] of one person under ``rule`` (``continuous_12`` or
    ``12_of_16``), observed until ``end``."""
    status_of = {"continuous_12": _continuous_status, "12_of_16": _window_status}[rule]
    intervals = _clipped(stays, end)
    crossings = []
    for arrival, stop in intervals:
        crossings.append((arrival, True))
        if stop < end:
            crossings.append((stop, False))
    resident, events = resident_at_start, []
    for t, arriving in crossings:
        if arriving == resident:  # not in migration direction
            continue
        status = status_of(intervals, end, t, arriving, alive, th)
        if status:
            events.append((IMMIGRATION if arriving else EMIGRATION, t, status))
            resident = not resident
    return events
