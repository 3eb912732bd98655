"""The presence model's evidence as arrays: the time grid, and persons' weeks in chunks.

Reads the tables of ``pipelines.presence_evidence`` (``presence_person``, ``presence_count``,
``presence_period``) into ``presence_model.Grid`` and ``presence_model.Persons``. A chunk
holds the persons of one group (citizens or foreigners), whose indices are contiguous.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipelines import presence_evidence as ev
from pipelines import presence_model as pm
from schemas import sql as db

BEYOND = 10**7  # a week after any grid


def _fetch(con: Any, sql: str) -> dict[str, np.ndarray]:
    return db.arrays(con, "presence", sql)


def make_grid(con: Any, g0: int, as_of: int,
              observed_from: dict[int, int] | None = None) -> pm.Grid:
    """The weeks from ``g0`` to the one holding ``as_of``; which of them each kind of
    evidence observed: from its first record to the end (surveys to their last), or from the
    day ``observed_from`` gives for the channel (a source known to start then)."""
    step = pm.STEP_DAYS
    weeks = (as_of - g0) // step + 1
    span = {channel: (g0 + step * first, g0 + step * last + step - 1)
            for channel, first, last in db.rows(
                con, "presence",
                "SELECT channel, min(week), max(week) FROM presence_count GROUP BY channel")}
    for channel, day in (observed_from or {}).items():
        span[channel] = (day, as_of)
    starts = g0 + step * np.arange(weeks)

    def observed(channel: int) -> np.ndarray:
        if channel not in span:
            return np.zeros(weeks, dtype=bool)
        first, last = span[channel]
        return (starts + step - 1 >= first) & (starts <= last)

    exposure = np.zeros(weeks)
    if ev.ACTIVITY in span:
        lo = np.maximum(starts, span[ev.ACTIVITY][0])
        hi = np.minimum(starts + step, as_of + 1)
        exposure = np.clip(hi - lo, 0, step) / 7.0  # in weeks
    crossings = observed(ev.CROSSING_IN) | observed(ev.CROSSING_OUT)
    if ev.CROSSING_IN in span or ev.CROSSING_OUT in span:  # observed to the end
        first = min(span[c][0] for c in (ev.CROSSING_IN, ev.CROSSING_OUT) if c in span)
        crossings = starts + step - 1 >= first
    return pm.Grid(g0, as_of, exposure.astype(np.float32), observed(ev.SURVEY), crossings,
                   _census_weeks(con, weeks))


def _census_weeks(con: Any, weeks: int) -> np.ndarray:
    """One week per census round (calendar year): the week most of its records fall in."""
    rows = db.rows(con, "presence",
                   f"""
        SELECT week FROM (
            SELECT week, sum(n) AS records,
                   row_number() OVER (PARTITION BY CAST(floor(week * {pm.STEP_DAYS} / 365.25)
                                                       AS INTEGER)
                                      ORDER BY sum(n) DESC, week) AS rank
            FROM presence_count WHERE channel = {ev.CENSUS} GROUP BY week)
        WHERE rank = 1 ORDER BY week""")
    return np.array([w for (w,) in rows if 0 <= w < weeks], dtype=np.int64)


def person_ranges(con: Any) -> list[tuple[int, int, int]]:
    """(group, first index, end index) of each group of persons."""
    return [(int(g), int(lo), int(hi) + 1) for g, lo, hi in db.rows(
        con, "presence", "SELECT person_group, min(person_idx), max(person_idx) "
                         "FROM presence_person GROUP BY person_group ORDER BY person_group")]


def chunks(ranges: list[tuple[int, int, int]], size: int,
           keep: np.ndarray | None = None) -> list[np.ndarray]:
    """Person indices in chunks of at most ``size``, never mixing groups; ``keep``: a
    boolean per person index (a sample), else everyone."""
    out = []
    for _group, lo, hi in ranges:
        index = np.arange(lo, hi)
        if keep is not None:
            index = index[keep[lo:hi]]
        out.extend(index[a:a + size] for a in range(0, index.size, size))
    return [c for c in out if c.size]


def _statuses(n: int, weeks: int, row: np.ndarray, start: np.ndarray, end: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Registered at the end of each week (column t + 1; column 0: when the grid starts),
    and the weeks a registration ends and starts, from periods [start week, end week)."""
    keep = (start < end) & (end >= 0) & (start < weeks)
    row, start, end = row[keep], start[keep], end[keep]
    diff = np.zeros((n, weeks + 2), dtype=np.int32)
    np.add.at(diff, (row, np.maximum(start, -1) + 1), 1)
    inside = end < weeks
    np.add.at(diff, (row[inside], end[inside] + 1), -1)
    status = np.cumsum(diff, axis=1)[:, :weeks + 1] > 0
    ends = np.zeros((n, weeks), dtype=bool)
    ends[row[inside], end[inside]] = True
    starts = np.zeros((n, weeks), dtype=bool)
    began = start >= 0
    starts[row[began], start[began]] = True
    return status, ends, starts


def _register_code(status: np.ndarray, ends: np.ndarray, starts: np.ndarray,
                   from_abroad: np.ndarray | None) -> np.ndarray:
    held = status[:, :-1]  # registered at the end of the week before
    code = np.where(ends, pm.REG_ENDS, pm.REG_STAYS)
    began = pm.REG_STARTS if from_abroad is None else np.where(
        from_abroad, pm.REG_STARTS_FROM_ABROAD, pm.REG_STARTS)
    fresh = np.where(starts, began, pm.UNREG_STAYS)
    return np.where(held, code, fresh).astype(np.uint16)


def load_persons(con: Any, grid: pm.Grid, index: np.ndarray) -> pm.Persons:
    """The persons of ``index`` (sorted, one group) with every kind of evidence laid on the
    grid, in that order."""
    n, k = index.size, grid.weeks
    con.register("presence_chunk", {"person_idx": index.astype(np.int32),
                                    "row": np.arange(n, dtype=np.int64)})
    people = _fetch(con, f"""SELECT person_group, born_here,
               COALESCE(birth_day, {-BEYOND}) AS birth_day,
               COALESCE(death_day, {BEYOND * 7}) AS death_day
        FROM presence_person JOIN presence_chunk USING (person_idx) ORDER BY row""")
    counts = _fetch(con, """SELECT c.row, p.week, p.channel, p.n
        FROM presence_count AS p JOIN presence_chunk AS c USING (person_idx)""")
    row, week = counts["row"].astype(np.int64), counts["week"].astype(np.int64)
    channel, number = counts["channel"].astype(np.int64), counts["n"].astype(np.int64)
    grids = np.zeros((len(ev.CHANNELS), n, k), dtype=np.int32)
    np.add.at(grids, (channel, row, week), number)
    activity = np.minimum(grids[ev.ACTIVITY], 60).astype(np.uint16)

    crossing = np.full((n, k), pm.CROSS_NONE, dtype=np.uint8)
    went_in, went_out = grids[ev.CROSSING_IN] > 0, grids[ev.CROSSING_OUT] > 0
    crossing[went_in & ~went_out] = pm.CROSS_IN
    crossing[went_out & ~went_in] = pm.CROSS_OUT
    crossing[:, ~grid.crossings_observed] = pm.CROSS_UNOBSERVED

    survey = np.where(grids[ev.SURVEY] > 0, pm.SURVEY_INTERVIEW, pm.SURVEY_NONE)
    survey[:, ~grid.survey_observed] = pm.SURVEY_UNOBSERVED
    census = grids[ev.CENSUS][:, grid.census_weeks] > 0 if grid.census_weeks.size else \
        np.zeros((n, 0), dtype=bool)

    periods = _fetch(con, f"""SELECT c.row, p.process, p.start_day,
        CASE WHEN p.end_day > {grid.as_of} OR p.end_kind = 'death' THEN {BEYOND * 7}
             ELSE p.end_day END AS end_day, p.from_abroad
        FROM presence_period AS p JOIN presence_chunk AS c USING (person_idx)""")
    renewals = _fetch(con, f"""SELECT c.row, unnest(p.renewals) AS day
        FROM presence_period AS p JOIN presence_chunk AS c USING (person_idx)
        WHERE p.process = {ev.RESIDENCE_PERMIT}""")
    restarts = _fetch(con, f"""SELECT c.row, unnest(p.restarts) AS day
        FROM presence_period AS p JOIN presence_chunk AS c USING (person_idx)
        WHERE p.process = {ev.RESIDENCE_PERMIT}""")
    p_row = periods["row"].astype(np.int64)
    p_process = periods["process"].astype(np.int64)
    p_start = grid.week_of(periods["start_day"].astype(np.int64))
    p_end = np.minimum(grid.week_of(periods["end_day"].astype(np.int64)), BEYOND)
    codes, at_start = [], np.zeros(n, dtype=bool)
    for process in (ev.POPULATION_REGISTER, ev.ALIENS_REGISTER, ev.RESIDENCE_PERMIT):
        mine = p_process == process
        status, ends, starts = _statuses(n, k, p_row[mine], p_start[mine], p_end[mine])
        at_start |= status[:, 0]
        if process == ev.POPULATION_REGISTER:
            abroad = np.zeros((n, k), dtype=bool)
            fa = periods["from_abroad"][mine].astype(bool)
            began = (p_start[mine] >= 0) & (p_start[mine] < k)
            abroad[p_row[mine][began & fa], p_start[mine][began & fa]] = True
            codes.append(_register_code(status, ends, starts, abroad))
        elif process == ev.ALIENS_REGISTER:
            codes.append(_register_code(status, ends, starts, None))
        else:
            codes.append(_permit_code(status, ends, starts, renewals, restarts, grid))
    joint = ((codes[0] * pm.N_ALIENS + codes[1]) * pm.N_PERMIT + codes[2]) * pm.N_SURVEY \
        + survey.astype(np.uint16)

    first_week = np.clip(grid.week_of(people["birth_day"].astype(np.int64)), 0, k - 1)
    last_week = np.clip(grid.week_of(people["death_day"].astype(np.int64)), 0, k - 1)
    rate = _initial_rate(activity, grid, first_week, last_week, grids)
    con.unregister("presence_chunk")
    return pm.Persons(
        index=index, group=people["person_group"].astype(np.int64),
        first_week=first_week, last_week=last_week,
        born_here=people["born_here"].astype(bool), activity=np.ascontiguousarray(activity.T),
        crossing=np.ascontiguousarray(crossing.T),
        joint=np.ascontiguousarray(joint.astype(np.uint16).T),
        census=np.ascontiguousarray(census.T), registered_at_start=at_start,
        activity_rate=rate, crossing_coverage=np.full(n, 0.5, dtype=np.float32))


def _weeks_marked(points: dict[str, np.ndarray], grid: pm.Grid, n: int) -> np.ndarray:
    """(N, K): the weeks holding any of the (row, day) points."""
    marked = np.zeros((n, grid.weeks), dtype=bool)
    weeks = grid.week_of(points["day"].astype(np.int64))
    inside = (weeks >= 0) & (weeks < grid.weeks)
    marked[points["row"].astype(np.int64)[inside], weeks[inside]] = True
    return marked


def _permit_code(status: np.ndarray, ends: np.ndarray, starts: np.ndarray,
                 renewals: dict[str, np.ndarray], restarts: dict[str, np.ndarray],
                 grid: pm.Grid) -> np.ndarray:
    n = ends.shape[0]
    renewed = _weeks_marked(renewals, grid, n)
    restarted = _weeks_marked(restarts, grid, n)
    held = status[:, :-1]
    code = np.select([ends, restarted, renewed], [pm.PERMIT_ENDS, pm.PERMIT_RESTARTS,
                                                 pm.PERMIT_RENEWED], pm.PERMIT_VALID)
    fresh = np.where(starts, pm.PERMIT_STARTS, pm.NO_PERMIT)
    return np.where(held, code, fresh).astype(np.uint16)


def _initial_rate(activity: np.ndarray, grid: pm.Grid, first: np.ndarray, last: np.ndarray,
                  grids: np.ndarray) -> np.ndarray:
    """A first guess of each person's sign-of-life rate: their signs of life over the
    weeks between their first and last evidence of any kind."""
    seen = grids.sum(0) > 0
    k = seen.shape[1]
    any_seen = seen.any(1)
    first_seen = np.where(any_seen, seen.argmax(1), first)
    last_seen = np.where(any_seen, k - 1 - seen[:, ::-1].argmax(1), last)
    cumulative = np.concatenate([[0.0], np.cumsum(grid.activity_exposure)])
    exposure = cumulative[last_seen + 1] - cumulative[first_seen]
    return ((1.0 + activity.sum(1)) / (10.0 + exposure)).astype(np.float32)
