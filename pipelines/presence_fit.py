"""Fitting the presence model to a run's data and reading each person's stays off it.

1. **Fit**: EM over a random sample of persons (``fit_persons``): each iteration runs
   forward-backward on every chunk, updates each person's own sign-of-life rate and crossing
   coverage, the population's priors for them, and every rate of the model.
2. **Decode**: for every person, chunk by chunk, the person's own rates are re-estimated with
   the fitted model (``person_passes``) and the weeks where the person is more likely present
   than not become stays (``presence_weeks``: person_idx, start_week, end_week; end_week
   null while the person is present to the end of observation).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits

from pipelines import presence_data as pdata
from pipelines import presence_em as em
from pipelines import presence_evidence as ev
from pipelines import presence_model as pm
from pipelines.presence import EXPIRY_DAYS, MIN_EVIDENCE_DAYS
from pipelines.uncertainty import LEAST_KEPT, LEAST_PINNED, MATCH_DAYS, PIN_DAYS
from schemas.progress import Progress
from schemas.sql import create_table, render, run_stage

log = logging.getLogger("miglink")
AS_OF_WINDOW_DAYS = 700  # days before an earlier as-of date read again with the data up to it


@dataclass(frozen=True)
class PresenceSettings:
    """How the presence model is fitted (``[presence]`` in the config). None of these is a
    parameter of the model: those are all estimated from the run's data.

    ``em_iterations``: EM iterations. ``fit_persons``: persons (a random sample) the model's
    rates are estimated on. ``chunk_persons``: persons held in memory at once (each costs
    about 50 bytes a week). ``person_passes``: passes re-estimating each person's own rates
    with the fitted model before their stays are read. ``seed``: of the sample.
    ``present_above``: a week is a week present when the probability of presence is above
    this (0.5: the posterior median of every arrival and departure). ``samples``: paths
    drawn from the posterior for each person in doubt (some week whose probability of
    presence lies between ``in_doubt`` and 1 - ``in_doubt``); they give each event its
    probability and date interval and the flows their intervals. ``held_out_share``: of
    the persons with some crossing recorded, the share decoded a second time with their
    crossings held out; how far their events move then measures the model's error where no
    crossing dates a move (``pipelines.uncertainty``). ``workers``: chunks fitted and
    decoded at once, in threads (each holds its chunk in memory); the results do not
    depend on it. ``min_evidence_days``: persons with evidence on fewer days (and no
    registration) are not observed (``pipelines.presence``). ``same_event_days``: an event
    on a drawn path this close to the decoded one is the same event. ``pin_days``: a
    recorded crossing this close to an event, in its direction, dates it
    (``pipelines.uncertainty``). ``model_error_min_events``: events of the held-out
    persons that a crossing dates, in a person group, needed to measure the model's error
    there (else all persons' stands in); ``model_error_least_kept``: a measured error is
    read as keeping at least this share of the events (each event found standing for at
    most 1 / this). ``period_join_days``: registrations (and permits) of a person this
    close together are one period of registration (a move within the register, a permit's
    short lapse); ``permit_renewal_days``: a permit starting this close to the last one's
    end renews it; ``expiry_days``: a registration ending this close to a permit's expiry
    ended with the permit (no sign of a departure); ``prior_weeks``: in EM, each rate's
    value so far weighs as this many person-weeks against the data;
    ``as_of_window_days``: presence as of an earlier date (the nowcast's back-test) is read
    again with the data up to then over this many days before it (earlier, as read with
    all the data)."""

    em_iterations: int = 10
    fit_persons: int = 20000
    chunk_persons: int = 10000
    person_passes: int = 2
    seed: int = 1
    present_above: float = 0.5
    samples: int = 20
    in_doubt: float = 0.02
    held_out_share: float = 0.25
    workers: int = 2
    # what the readings count as evidence and as one event (defaults where the code says why)
    min_evidence_days: int = MIN_EVIDENCE_DAYS
    same_event_days: int = MATCH_DAYS
    pin_days: int = PIN_DAYS
    model_error_min_events: int = LEAST_PINNED
    model_error_least_kept: float = LEAST_KEPT
    period_join_days: int = ev.JOIN_DAYS
    permit_renewal_days: int = ev.RENEWAL_DAYS
    expiry_days: int = EXPIRY_DAYS
    prior_weeks: float = em.PSEUDO_WEEKS
    as_of_window_days: int = AS_OF_WINDOW_DAYS

    def __post_init__(self) -> None:
        for name in ("em_iterations", "fit_persons", "chunk_persons", "person_passes",
                     "samples", "workers", "min_evidence_days", "same_event_days",
                     "pin_days", "model_error_min_events", "period_join_days",
                     "as_of_window_days"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {name}={getattr(self, name)!r}")
        if not 0 < self.present_above < 1:
            raise ValueError(f"present_above must be in (0, 1), got {self.present_above!r}")
        if not 0 <= self.held_out_share <= 1:
            raise ValueError(f"held_out_share must be in [0, 1], got {self.held_out_share!r}")
        for name in ("seed", "permit_renewal_days", "expiry_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be at least 0, got {getattr(self, name)!r}")
        if not self.prior_weeks > 0:
            raise ValueError(f"prior_weeks must be above 0, got {self.prior_weeks!r}")
        if not 0 < self.model_error_least_kept <= 1:
            raise ValueError("model_error_least_kept must be in (0, 1], got "
                             f"{self.model_error_least_kept!r}")
        if not 0 < self.in_doubt < 0.5:
            raise ValueError(f"in_doubt must be in (0, 0.5), got {self.in_doubt!r}")


def fit(con: Any, grid: pm.Grid, settings: PresenceSettings) -> pm.ModelParameters:
    """EM on a random sample of persons; returns the fitted parameters."""
    ranges = pdata.person_ranges(con)
    total = sum(hi - lo for _g, lo, hi in ranges)
    rng = np.random.default_rng(settings.seed)
    keep = rng.random(total) < min(1.0, settings.fit_persons / max(total, 1))
    sample = [pdata.load_persons(con, grid, index)
              for index in pdata.chunks(ranges, settings.chunk_persons, keep)]
    params = pm.ModelParameters()
    started = time.perf_counter()

    def expect(persons: pm.Persons) -> tuple[em.Statistics, tuple[np.ndarray, ...]]:
        stats = em.Statistics()
        post = pm.forward_backward(persons, grid, params)
        em.accumulate(stats, persons, grid, post)
        return stats, em.update_person_rates(persons, grid, post, params)

    with ThreadPoolExecutor(settings.workers) as pool:
        for iteration in range(settings.em_iterations):
            parts = list(pool.map(expect, sample))
            stats = em.Statistics.total([part for part, _ in parts])
            counts, exposure, recorded, moves = (
                np.concatenate(x) for x in zip(*(t for _, t in parts), strict=True))
            params = em.maximise(stats, params, settings.prior_weeks)
            params = em.fit_priors(counts, exposure, recorded, moves, params)
            log.info("presence model: EM iteration %d, log-likelihood %.1f (%d persons, "
                     "%.0f s)", iteration + 1, stats.log_likelihood, int(keep.sum()),
                     time.perf_counter() - started)
    return params


def grid_start(window_start: int, sign_of_life_start: int) -> int:
    """The first day of the model's weeks: a year before the window starts, or earlier
    when signs of life were observed earlier (at most three years before the window)."""
    day = min(window_start - 365, max(sign_of_life_start, window_start - 3 * 365))
    return day - day % 7  # a Monday




def _write_runs(con: Any, table: str, runs: list[dict[str, np.ndarray]],
                with_sample: bool = False) -> None:
    columns = {"person_idx": np.int64, "start_week": np.int64, "end_week": np.int64,
               "open": bool, **({"sample": np.int64} if with_sample else {})}
    data = pa.table({k: np.concatenate([r[k] for r in runs]) if runs else
                     np.zeros(0, dtype=t) for k, t in columns.items()})
    con.register("presence_weeks_arrow", data)
    sample = ", sample" if with_sample else ", 0 AS sample"
    run_stage(con, "presence",
              f"CREATE OR REPLACE TABLE {table} AS SELECT person_idx, start_week, "
                f"CASE WHEN open THEN NULL ELSE end_week END AS end_week{sample} "
                "FROM presence_weeks_arrow")
    con.unregister("presence_weeks_arrow")


@dataclass
class _Decoded:
    """What decoding one chunk of persons gives."""

    runs: dict[str, dict[str, np.ndarray]]
    sampled: dict[str, np.ndarray] | None
    doubted: np.ndarray
    held_out: dict[str, np.ndarray] | None
    held: np.ndarray
    persons: int


def _decode_chunk(con: Any, grid: pm.Grid, params: pm.ModelParameters,
                  settings: PresenceSettings, as_of_weeks: dict[str, int], chunk: int,
                  index: np.ndarray) -> _Decoded:
    """One chunk: own rates, the posterior, its stays (now and as of each earlier week),
    paths drawn for the persons in doubt, and the held-out persons read without crossings.
    Its random draws depend only on the seed and the chunk's number."""
    persons = pdata.load_persons(con.cursor(), grid, index)
    for _ in range(settings.person_passes):
        post = pm.forward_backward(persons, grid, params, transitions=False)
        em.update_person_rates(persons, grid, post, params)
    post = pm.forward_backward(persons, grid, params, keep=True, transitions=False,
                               moves=False)
    probability = pm.presence_probability(post)
    runs = {"": stays_from_weeks(persons, probability, settings.present_above)}
    doubt = ((probability > settings.in_doubt) & (probability < 1 - settings.in_doubt)).any(0)
    sampled = None
    if doubt.any():
        rng = np.random.default_rng([settings.seed, 2, chunk])
        sampled = _sampled_stays(persons, post.kept, doubt, settings, rng)
    for name, week in as_of_weeks.items():
        then = probability[:week + 1].copy()
        tail = pm.presence_as_of(post.kept, week, settings.as_of_window_days // pm.STEP_DAYS)
        then[week + 1 - tail.shape[0]:] = tail
        runs[name] = stays_from_weeks(persons, then, settings.present_above,
                                      np.minimum(persons.last_week, week))
    del post
    crossed = ((persons.crossing == pm.CROSS_IN) | (persons.crossing == pm.CROSS_OUT)).any(0)
    hold_rng = np.random.default_rng([settings.seed, 3, chunk])
    hold = crossed & (hold_rng.random(crossed.size) < settings.held_out_share)
    held_out = (_without_crossings(persons, hold, grid, params, settings) if hold.any()
                else None)
    return _Decoded(runs, sampled, persons.index[doubt].astype(np.int64), held_out,
                    persons.index[hold].astype(np.int64), int(index.size))


def decode(con: Any, grid: pm.Grid, params: pm.ModelParameters, settings: PresenceSettings,
           as_of_weeks: dict[str, int] | None = None) -> dict[str, Any]:
    """Table ``presence_weeks`` for every person, and ``presence_weeks_<name>`` for each
    earlier as-of week (the posterior given the evidence up to then: a backward pass from
    that week over the filtered probabilities, for ``settings.as_of_window_days`` before it;
    earlier weeks as read with all the data); ``presence_weeks_held_out`` and
    ``presence_paths_held_out`` for the persons decoded again without their crossings.
    ``settings.workers`` chunks are decoded at once. Returns counts for the log."""
    as_of_weeks = as_of_weeks or {}
    chunks = list(pdata.chunks(pdata.person_ranges(con), settings.chunk_persons))
    done: list[_Decoded] = []
    with ThreadPoolExecutor(settings.workers) as pool, \
            Progress("presence model", len(chunks), unit="chunk") as progress:
        pending = [pool.submit(_decode_chunk, con, grid, params, settings, as_of_weeks, c,
                               chunks[c]) for c in range(len(chunks))]
        decoded = 0
        for future in pending:  # in order: the tables do not depend on the threads
            done.append(future.result())
            decoded += done[-1].persons
            progress.advance(persons=decoded)
    for name in ("", *as_of_weeks):
        _write_runs(con, "presence_weeks" + (f"_{name}" if name else ""),
                    [d.runs[name] for d in done])
    _write_runs(con, "presence_weeks_sampled", [d.sampled for d in done if d.sampled],
                with_sample=True)
    _write_runs(con, "presence_weeks_held_out", [d.held_out for d in done if d.held_out])
    for table, ids in (("presence_paths_held_out", [d.held for d in done]),
                       ("presence_doubted", [d.doubted for d in done])):
        con.register("presence_idx_arrow", pa.table(
            {"person_idx": np.concatenate(ids) if ids else np.zeros(0, np.int64)}))
        run_stage(con, "presence",
                  f"CREATE OR REPLACE TABLE {table} AS "
                    "SELECT person_idx, 0 AS sample FROM presence_idx_arrow")
        con.unregister("presence_idx_arrow")
    run_stage(con, "presence",
              "CREATE OR REPLACE TABLE presence_paths_sampled AS SELECT d.person_idx, "
                "CAST(s.sample AS BIGINT) AS sample FROM presence_doubted AS d "
                f"CROSS JOIN range({settings.samples}) AS s(sample)")
    run_stage(con, "presence", "DROP TABLE presence_doubted")
    return {"persons": sum(d.persons for d in done),
            "uncertain_persons": int(sum(d.doubted.size for d in done)),
            "held_out_persons": int(sum(d.held.size for d in done))}


def _without_crossings(persons: pm.Persons, rows: np.ndarray, grid: pm.Grid,
                       params: pm.ModelParameters, settings: PresenceSettings
                       ) -> dict[str, np.ndarray]:
    """The stays of the persons ``rows`` decoded as if none of their crossings had been
    recorded (their own rates re-estimated so)."""
    pick = np.flatnonzero(rows)
    part = pm.Persons(**{
        f.name: (getattr(persons, f.name)[:, pick] if getattr(persons, f.name).ndim == 2
                 else getattr(persons, f.name)[pick])
        for f in dataclasses.fields(persons)})
    # observed as before, but nothing recorded: as a person none of whose moves the border
    # recorded, whose own coverage is then estimated low
    part.crossing = np.where(part.crossing == pm.CROSS_UNOBSERVED, pm.CROSS_UNOBSERVED,
                             pm.CROSS_NONE).astype(part.crossing.dtype)
    part.activity_rate = part.activity_rate.copy()
    part.crossing_coverage = part.crossing_coverage.copy()
    for _ in range(settings.person_passes):
        post = pm.forward_backward(part, grid, params, transitions=False)
        em.update_person_rates(part, grid, post, params)
    post = pm.forward_backward(part, grid, params, transitions=False, moves=False)
    return stays_from_weeks(part, pm.presence_probability(post), settings.present_above)


def _sampled_stays(persons: pm.Persons, kept: pm.Filtered, doubt: np.ndarray,
                   settings: PresenceSettings, rng: np.random.Generator
                   ) -> dict[str, np.ndarray]:
    """Stays of ``settings.samples`` paths drawn from the posterior of each person in
    doubt: the runs of ``stays_from_weeks`` with the path's number as ``sample``."""
    rows = np.flatnonzero(doubt)
    part = pm.Filtered(kept.alpha[:, :, rows], kept.emission[:, :, rows],
                       kept.f_stay[:, rows], kept.f_arrive[:, rows], kept.f_depart[:, rows],
                       kept.a_stay, kept.a_move)
    paths = pm.sample_paths(part, settings.samples, rng)  # (K, M, n)
    k, m, n = paths.shape
    present = (paths < pm.P).reshape(k, m * n).astype(np.float32)
    repeated = dataclasses.replace(
        persons, index=np.tile(persons.index[rows], m),
        first_week=np.tile(persons.first_week[rows], m),
        last_week=np.tile(persons.last_week[rows], m))
    runs = stays_from_weeks(repeated, present, 0.5)
    runs["sample"] = runs.pop("column") // n  # path p is sample p // n of person rows[p % n]
    return runs


def stays_from_weeks(persons: pm.Persons, probability: np.ndarray, above: float,
                     last_week: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Runs of weeks present (probability above ``above``, (K, N)) within each person's
    life (up to ``last_week``, else their own): person_idx, start_week, end_week (first week
    absent), open (present to the end)."""
    last = persons.last_week if last_week is None else last_week
    k, n = probability.shape
    t = np.arange(k)[:, None]
    inside = (t >= persons.first_week[None, :]) & (t <= last[None, :])
    present = (probability > above) & inside
    padded = np.zeros((n, k + 2), dtype=np.int8)
    padded[:, 1:-1] = present.T
    change = np.diff(padded, axis=1)
    start_row, start_week = np.nonzero(change == 1)  # row-major: by person, then week
    _end_row, end_week = np.nonzero(change == -1)
    is_open = end_week > last[start_row]
    return {"person_idx": persons.index[start_row].astype(np.int64),
            "start_week": start_week.astype(np.int64), "end_week": end_week.astype(np.int64),
            "open": is_open, "column": start_row}


_DATED_STAYS = """
WITH runs AS (
    SELECT w.person_idx, w.sample, w.start_week, w.end_week,
           p.born_here AND floor((p.birth_day - {g0}) / {step}) = w.start_week
               AND w.start_week > 0 AS born_then,
           p.birth_day
    FROM {weeks_table} AS w JOIN presence_person AS p USING (person_idx)
),
first_week AS (SELECT person_idx, sample FROM runs WHERE start_week = 0),
arrivals AS (   -- an arrival crossing within a week of the week the model found
    SELECT r.person_idx, r.sample, r.start_week,
           arg_min(c.day, abs(c.day - ({g0} + {step} * r.start_week + {half}))) AS day
    FROM runs AS r JOIN {crossing_table} AS c
      ON c.person_idx = r.person_idx AND c.direction = 'in' AND c.day <= {as_of}
     AND c.day >= {g0} + {step} * (r.start_week - 1) AND c.day < {g0} + {step} * (r.start_week + 2)
    GROUP BY r.person_idx, r.sample, r.start_week
),
departures AS (
    SELECT r.person_idx, r.sample, r.end_week,
           arg_min(c.day, abs(c.day - ({g0} + {step} * r.end_week + {half}))) AS day
    FROM runs AS r JOIN {crossing_table} AS c
      ON c.person_idx = r.person_idx AND c.direction = 'out' AND c.day <= {as_of}
     AND c.day >= {g0} + {step} * (r.end_week - 1) AND c.day < {g0} + {step} * (r.end_week + 2)
    GROUP BY r.person_idx, r.sample, r.end_week
),
before_grid AS (   -- present from the first week: since the registration then held
    SELECT person_idx, min(start_day) AS day FROM presence_period
    WHERE start_day < {g0} AND end_day >= {g0} GROUP BY person_idx
),
dated AS (
    SELECT r.person_idx, r.sample, r.start_week,
           CASE WHEN r.start_week = 0 THEN COALESCE(b.day, {g0})
                WHEN r.born_then THEN r.birth_day
                ELSE COALESCE(a.day, {g0} + {step} * r.start_week + {half}) END AS arrival,
           CASE WHEN r.end_week IS NULL THEN NULL
                ELSE LEAST(COALESCE(d.day, {g0} + {step} * r.end_week + {half}), {as_of}) END
               AS departure
    FROM runs AS r
    LEFT JOIN arrivals AS a USING (person_idx, sample, start_week)
    LEFT JOIN departures AS d USING (person_idx, sample, end_week)
    LEFT JOIN before_grid AS b USING (person_idx)
),
episodes_before AS (   -- registrations held before the grid, merged when they overlap or
                       -- adjoin, ending when the grid starts
    SELECT person_idx, min(start_day) AS arrival, max(end_day) AS departure,
           bool_or(held_at_start) AS held_at_start
    FROM (SELECT *, SUM(CASE WHEN start_day > reach + {adjoin_days} THEN 1 ELSE 0 END) OVER (
                        PARTITION BY person_idx ORDER BY start_day ROWS UNBOUNDED PRECEDING)
                    AS stay
          FROM (SELECT person_idx, start_day, LEAST(end_day, {g0} - 1) AS end_day,
                       end_day >= {g0} AS held_at_start,
                       COALESCE(MAX(LEAST(end_day, {g0} - 1)) OVER (
                           PARTITION BY person_idx ORDER BY start_day
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), start_day - 1)
                           AS reach
                FROM presence_episode WHERE start_day < {g0} - 1) AS x) AS merged
    GROUP BY person_idx, stay
),
pre_grid AS (   -- before the grid, on every path: those registrations (one held when the
                -- grid starts only when the path is absent in its first week); born here,
                -- absent in the first week and with none: from birth
    SELECT t.person_idx, t.sample, -1 AS start_week, e.arrival, e.departure
    FROM {paths_table} AS t JOIN episodes_before AS e USING (person_idx)
    WHERE NOT e.held_at_start
       OR (t.person_idx, t.sample) NOT IN (SELECT person_idx, sample FROM first_week)
    UNION ALL
    SELECT t.person_idx, t.sample, -1, p.birth_day, {g0} - 1
    FROM {paths_table} AS t JOIN presence_person AS p USING (person_idx)
    WHERE p.born_here AND p.birth_day < {g0} - 1
      AND (t.person_idx, t.sample) NOT IN (SELECT person_idx, sample FROM first_week)
      AND t.person_idx NOT IN (SELECT person_idx FROM episodes_before)
),
ordered AS (   -- stays apart by a day at least, each a day long at least
    SELECT person_idx, sample, start_week, arrival_order,
           GREATEST(arrival, COALESCE(LAG(departure) OVER w + 1, arrival)) AS arrival,
           departure
    FROM (SELECT person_idx, sample, start_week, arrival, departure, arrival AS arrival_order
          FROM dated
          UNION ALL SELECT person_idx, sample, start_week, arrival, departure, arrival
          FROM pre_grid WHERE arrival IS NOT NULL) AS s
    WINDOW w AS (PARTITION BY person_idx, sample ORDER BY start_week, arrival_order)
)
SELECT p.person_id, o.sample,
       row_number() OVER (PARTITION BY o.person_idx, o.sample
                          ORDER BY o.start_week, o.arrival_order) AS stay_no,
       o.arrival, CASE WHEN o.departure IS NULL THEN NULL
                       ELSE GREATEST(o.departure, o.arrival + 1) END AS departure
FROM ordered AS o JOIN presence_person AS p USING (person_idx)
WHERE o.arrival <= {as_of}
"""


def build_presence(con: Any, typed: dict[str, str], country: str, as_of: int, g0: int,
                   settings: PresenceSettings, earlier: dict[str, int] | None = None,
                   params: pm.ModelParameters | None = None,
                   observed_from: dict[int, int] | None = None) -> pm.ModelParameters:
    """Table ``presence`` (person_id, stay_no, arrival, departure) in day numbers: each
    person's stays as the presence model, fitted to this run's data, reads them; and
    ``presence_<name>`` for each earlier as-of day in ``earlier`` (by name), as the data up
    to that day show them. ``params``: a model already fitted (only read, not fitted).
    ``observed_from``: per kind of evidence, the day its source began (else its first
    record's week)."""
    earlier = earlier or {}
    ev.build_presence_evidence(con, typed, country, g0, as_of, open_end=pdata.BEYOND * 7,
                               join_days=settings.period_join_days,
                               renewal_days=settings.permit_renewal_days)
    grid = pdata.make_grid(con, g0, as_of, observed_from)
    weeks = {name: int(grid.week_of(day)) for name, day in earlier.items()}
    # the weekly products are small: one BLAS thread is faster than two fighting over them
    with threadpool_limits(limits=1, user_api="blas"):
        if params is None:
            params = fit(con, grid, settings)
        counts = decode(con, grid, params, settings, weeks)
    log.info("presence model: %d persons decoded, %d with some week in doubt, %d decoded "
             "again without their crossings", counts["persons"], counts["uncertain_persons"],
             counts["held_out_persons"])
    create_table(con, "presence", "presence_paths",
                 "SELECT person_idx, 0 AS sample FROM presence_person")
    for name, day in {"": as_of, **earlier}.items():
        suffix = f"_{name}" if name else ""
        create_table(con, "presence", f"presence{suffix}", render(
            "SELECT person_id, stay_no, arrival, departure FROM (" + _DATED_STAYS + ")",
            g0=g0, as_of=day, weeks_table=f"presence_weeks{suffix}",
            paths_table="presence_paths", crossing_table="presence_crossing",
            adjoin_days=settings.permit_renewal_days, step=pm.STEP_DAYS,
            half=pm.STEP_DAYS // 2))
        if name:
            run_stage(con, "presence", f"DROP TABLE presence_weeks{suffix}")
    create_table(con, "presence", "presence_sampled", render(
        _DATED_STAYS, g0=g0, as_of=as_of, weeks_table="presence_weeks_sampled",
        paths_table="presence_paths_sampled", crossing_table="presence_crossing",
        adjoin_days=settings.permit_renewal_days, step=pm.STEP_DAYS, half=pm.STEP_DAYS // 2))
    create_table(con, "presence", "presence_no_crossing",
                 "SELECT * FROM presence_crossing WHERE FALSE")
    create_table(con, "presence", "presence_held_out", render(
        "SELECT person_id, stay_no, arrival, departure FROM (" + _DATED_STAYS + ")",
        g0=g0, as_of=as_of, weeks_table="presence_weeks_held_out",
        paths_table="presence_paths_held_out", crossing_table="presence_no_crossing",
        adjoin_days=settings.permit_renewal_days, step=pm.STEP_DAYS, half=pm.STEP_DAYS // 2))
    return params
