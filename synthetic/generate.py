"""``miglink synth``: write every source of the contract and the ground truth.

Same seed, same bytes: one numpy Generator drives everything and rows are written in a
fixed order (record ids are assigned after a seeded shuffle, so they carry no information).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synthetic.population import Person, World, make_population
from synthetic.sources import IdentityWriter, _year
from synthetic.truth import RULES, person_events
from synthetic.worlds import write_world

log = logging.getLogger("miglink")

DATE_COLUMNS = {
    "birth_date", "registration_date", "deregistration_date", "end_date", "valid_from",
    "valid_to", "census_date", "interview_date", "crossing_date", "activity_date",
    "arrival_date", "departure_date", "event_date", "death_date",
}


def _lag(rng: np.random.Generator, mean: float) -> int:
    return int(rng.exponential(mean))


class SourceBuilder:
    """Accumulates the records of every source from the true population."""

    def __init__(self, people: list[Person], world: World, rng: np.random.Generator,
                 secret: bytes):
        self.people, self.w, self.rng = people, world, rng
        self.ids = IdentityWriter(rng, world, secret)
        self.rows: dict[str, list[dict]] = {s: [] for s in (
            "population_register", "aliens_register", "residence_permits", "census", "survey",
            "border_crossings", "activity")}
        self.owner: dict[str, list[int]] = {s: [] for s in self.rows}

    def add(self, source: str, p: Person, own: dict, identity: dict | None = None) -> None:
        row = dict(identity if identity is not None else self.ids.identity(p, source))
        row.update(own)
        row["locality"] = f"L{(p.pid * 31 + len(p.moves)) % 67:02d}"
        self.rows[source].append(row)
        self.owner[source].append(p.pid)

    # --- registers and permits -------------------------------------------------------
    def register(self, p: Person) -> None:
        rng, w = self.rng, self.w
        if p.undocumented:
            return
        if not p.born_here and not (p.kind in ("immigrant", "early_immigrant")
                                    and rng.random() < w.immigrant_register_share) \
                and not (p.kind == "circular" and rng.random() < w.circular_register_share) \
                and not (p.kind == "seasonal" and rng.random() < w.seasonal_register_share):
            return
        open_from: int | None = None
        previous: str | None = None
        for i, (arrival, departure, origin, dest) in enumerate(p.stays):
            if open_from is None:
                at_birth = p.born_here and i == 0
                open_from = arrival if at_birth else arrival + _lag(rng, w.registration_lag_days)
                previous = None if at_birth else (
                    origin if rng.random() < w.previous_country_recorded else None)
            if departure is None:
                if p.death is not None and i == len(p.stays) - 1:
                    self._episodes(p, open_from, p.death + int(rng.integers(0, 10)), "death",
                                   previous, None)
                else:
                    self._episodes(p, open_from, None, None, previous, None)
                return
            gap = (p.stays[i + 1][0] if i + 1 < len(p.stays) else w.as_of) - departure
            deregisters = gap > 180 and rng.random() < (
                w.deregistration_native if p.born_here else w.deregistration_foreign)
            end, reason = None, None
            if deregisters:
                end, reason = departure + self._deregistration_lag(), "emigration"
            elif gap > 180 and w.admin_removal_share > 0 and \
                    rng.random() < w.admin_removal_share:
                # the office removes someone it has not seen for years
                lo, hi = w.admin_removal_years
                removal = departure + int(rng.integers(lo * 365, hi * 365 + 1))
                if removal < departure + gap:
                    end, reason = removal, w.admin_removal_reason
            if end is not None:
                if end >= w.as_of:
                    self._episodes(p, open_from, None, None, previous, None)
                    return
                nxt = dest if reason == "emigration" and rng.random() < 0.7 else None
                self._episodes(p, open_from, max(end, open_from + 1), reason, previous, nxt)
                open_from = None
        if open_from is not None:  # never deregistered: the register keeps them (over-coverage)
            self._episodes(p, open_from, None, None, previous, None)

    def _deregistration_lag(self) -> int:
        """Days from leaving to the deregistration (some report before they go)."""
        rng, w = self.rng, self.w
        r = rng.random()
        if w.deregistration_lag_days is None:
            return -int(rng.integers(0, 30)) if r < 0.2 else (
                int(rng.integers(0, 60)) if r < 0.7 else int(rng.integers(60, 400)))
        if r < 0.15:
            return -int(rng.integers(0, 30))
        return min(3 * 365, _lag(rng, w.deregistration_lag_days))

    def _episodes(self, p: Person, start: int, end: int | None, reason: str | None,
                  previous: str | None, nxt: str | None) -> None:
        """One registration, split at internal moves into episodes ended for 'other'."""
        if start > self.w.as_of:  # registered after the end of observation: not seen yet
            return
        if end is not None and end > self.w.as_of:
            end, reason, nxt = None, None, None
        cuts = [m for m in p.moves if start < m < (end if end is not None else self.w.as_of)]
        bounds = [start, *cuts]
        for j, b in enumerate(bounds):
            last = j == len(bounds) - 1
            self.add("population_register", p, {
                "registration_date": b,
                "deregistration_date": end if last else cuts[j],
                "deregistration_reason": reason if last else "other",
                "previous_residence_country": previous if j == 0 else None,
                "next_residence_country": nxt if last else None,
            })

    def aliens_and_permits(self, p: Person) -> None:
        if p.citizenship == self.w.country or p.undocumented:
            return
        if p.kind == "seasonal":
            self._seasonal_permits(p)
            return
        rng, w = self.rng, self.w
        stays = _merge_short_trips(p.stays)
        for arrival, departure in stays:
            end = departure if departure is not None else w.as_of
            # permits: first issued before travel, renewed for 1-2 years at a time
            t = arrival - int(rng.integers(0, w.permit_early_days))
            permanent = False
            while t < end:
                length = w.permit_days[0] if rng.random() < 0.5 else w.permit_days[1]
                permanent = p.kind in ("immigrant", "early_immigrant") and \
                    t - arrival > 5 * 365 and rng.random() < 0.3
                self.add("residence_permits", p, {
                    "valid_from": t, "valid_to": None if permanent else t + length,
                    "permit_type": p.purpose})
                if permanent:
                    break
                t += length
            registered = arrival + _lag(rng, w.aliens_registration_lag_days)
            if rng.random() < w.aliens_register_share and registered <= w.as_of:
                if departure is not None and rng.random() < w.aliens_end_reported and \
                        departure + 20 < w.as_of:
                    end_date = min(departure + _lag(rng, 20), w.as_of)
                else:
                    end_date = None if permanent else max(t, registered + 1)
                self.add("aliens_register", p, {
                    "registration_date": registered, "end_date": end_date,
                    "stay_purpose": p.purpose})

    def _seasonal_permits(self, p: Person) -> None:
        """A seasonal permit each season, from a little before the arrival to a little after
        the season ends, and the season in the aliens register."""
        rng, w = self.rng, self.w
        for arrival, departure, _o, _d in p.stays:
            season_end = departure if departure is not None else arrival + 270
            valid_to = season_end + int(rng.integers(0, w.seasonal_permit_overrun_days))
            self.add("residence_permits", p, {
                "valid_from": arrival - int(rng.integers(0, w.permit_early_days)),
                "valid_to": valid_to, "permit_type": "work"})
            registered = arrival + _lag(rng, w.aliens_registration_lag_days)
            if rng.random() < w.aliens_register_share and registered <= w.as_of:
                reported = departure is not None and rng.random() < w.aliens_end_reported
                end_date = min(departure + _lag(rng, 20), w.as_of) if reported else valid_to
                self.add("aliens_register", p, {
                    "registration_date": registered,
                    "end_date": end_date if end_date < w.as_of else None,
                    "stay_purpose": "work"})

    # --- points: census, survey ------------------------------------------------------
    def census(self, present: dict[int, tuple[int, str | None]]) -> None:
        rng, w = self.rng, self.w
        for pid, (arrival, origin) in present.items():
            p = self.people[pid]
            recent = w.census_day - arrival < 365 and not (p.born_here and arrival == p.birth)
            coverage = w.census_coverage_native if p.born_here else (
                w.undocumented_census_coverage if p.undocumented else
                w.census_coverage_recent if recent else w.census_coverage_foreign)
            if rng.random() >= coverage:
                continue
            year_of_arrival = None
            if not p.born_here:
                year_of_arrival = _year(arrival) + (int(rng.integers(-1, 2))
                                                   if rng.random() < 0.1 else 0)
            row = {"census_date": w.census_day,
                   "residence_one_year_ago_country": origin if recent else None,
                   "year_of_arrival": year_of_arrival}
            self.add("census", p, row)
            if w.census_double_count > 0 and rng.random() < w.census_double_count:
                self.add("census", p, dict(row))  # counted twice, keyed in twice
        if w.census_absent_count > 0:
            self._census_absent(present)

    def _census_absent(self, present: dict[int, tuple[int, str | None]]) -> None:
        """Persons abroad on census day but counted all the same (from a register, by a
        relative): those who left in the five years before it, at the world's rate."""
        rng, w = self.rng, self.w
        for p in self.people:
            if p.pid in present:
                continue
            left = [d for _a, d, _o, _t in p.stays
                    if d is not None and w.census_day - 5 * 365 < d < w.census_day]
            if left and rng.random() < w.census_absent_count:
                self.add("census", p, {
                    "census_date": w.census_day, "residence_one_year_ago_country": None,
                    "year_of_arrival": None if p.born_here else _year(p.stays[0][0])})

    def survey(self, waves: list[tuple[int, dict[int, tuple[int, str | None]]]]) -> None:
        rng = self.rng
        for interview_day, present in waves:
            pids = [pid for pid in present if rng.random() < self.w.survey_sampling_rate]
            if not pids:
                continue
            base = len(present) / len(pids)
            for pid in pids:
                p = self.people[pid]
                arrival, origin = present[pid]
                recent = interview_day - arrival < 365 and not p.born_here
                self.add("survey", p, {
                    "interview_date": interview_day + int(rng.integers(0, 80)),
                    "weight": round(base * float(rng.uniform(0.7, 1.3)), 3),
                    "year_of_arrival": None if p.born_here else _year(arrival),
                    "previous_residence_country": origin if recent else None})

    # --- crossings and signs of life -------------------------------------------------
    def crossings(self, p: Person) -> None:
        rng, w = self.rng, self.w
        for i, (arrival, departure, _o, _d) in enumerate(p.stays):
            born_now = p.born_here and i == 0
            if not born_now and arrival >= w.crossings_start and \
                    rng.random() < p.crossing_coverage:
                self.add("border_crossings", p, {"crossing_date": arrival, "direction": "in"})
            if departure is not None and departure >= w.crossings_start and \
                    rng.random() < p.crossing_coverage:
                self.add("border_crossings", p, {"crossing_date": departure, "direction": "out"})

    def activity(self) -> pd.DataFrame:
        """Signs of life, drawn for everyone at once (irregular: Poisson per person).

        Each person has one identity in the tax and health systems, repeated on every record;
        1% of records are keyed in again with fresh errors.
        """
        rng, w = self.rng, self.w
        pids, starts, lengths, rates = [], [], [], []
        for p in self.people:
            for arrival, departure, _o, _d in p.stays:
                start = max(arrival, w.evidence_start, p.birth + 30)
                end = min(departure if departure is not None else w.as_of + 1, w.as_of + 1)
                if end > start:
                    pids.append(p.pid)
                    starts.append(start)
                    lengths.append(end - start)
                    rates.append(p.activity_rate)
        lengths_a, starts_a, pids_a = np.asarray(lengths), np.asarray(starts), np.asarray(pids)
        # irregular contacts (health, insurance): Poisson at the person's rate
        counts = rng.poisson(np.asarray(rates) * lengths_a / 365.25)
        owner = np.repeat(pids_a, counts)
        dates = np.repeat(starts_a, counts) + np.floor(
            rng.random(owner.size) * np.repeat(lengths_a, counts)).astype(np.int64)
        if w.ghost_share > 0:
            ghost_owner, ghost_dates = self._ghost_records()
            owner = np.concatenate([owner, ghost_owner])
            dates = np.concatenate([dates, ghost_dates])
        # a yearly record (tax return, school year, pension review) for most people, on a
        # day of the year of their own with a few weeks' jitter
        yearly = np.asarray([p.yearly_record_day for p in self.people])[pids_a]
        has_yearly = yearly >= 0
        n_years = np.where(has_yearly, lengths_a // 365 + 2, 0)
        y_owner = np.repeat(pids_a, n_years)
        index = np.arange(y_owner.size) - np.repeat(np.cumsum(n_years) - n_years, n_years)
        start_year = (starts_a - (starts_a % 365))  # a fixed grid per stay
        y_dates = (np.repeat(start_year + yearly.clip(0), n_years) + index * 365
                   + rng.normal(0, 15, y_owner.size).astype(np.int64))
        keep = (y_dates >= np.repeat(starts_a, n_years)) & (
            y_dates < np.repeat(starts_a + lengths_a, n_years))
        owner = np.concatenate([owner, y_owner[keep]])
        dates = np.concatenate([dates, y_dates[keep]])
        if w.silent_year_share > 0:
            owner, dates = self._silent_years(owner, dates)
        identities = pd.DataFrame([self.ids.identity(p, "activity") for p in self.people])
        rekeyed = np.flatnonzero(rng.random(owner.size) < w.activity_rekey_share)
        fresh = pd.DataFrame([self.ids.identity(self.people[int(owner[i])], "activity")
                              for i in rekeyed])
        if w.activity_uppercase_share > 0 and len(fresh):
            upper = rng.random(len(fresh)) < w.activity_uppercase_share
            for column in ("first_name", "last_name"):
                fresh.loc[upper, column] = fresh.loc[upper, column].str.upper()
        # rows 0..P-1 are each person's usual identity, P.. the rekeyed records' identities
        source_row = owner.copy()
        source_row[rekeyed] = len(self.people) + np.arange(rekeyed.size)
        kind = rng.integers(0, 4, owner.size)
        order = np.lexsort((dates, owner))  # by person, then date
        return ActivityRecords(
            identities=_typed(pa.Table.from_pandas(pd.concat([identities, fresh],
                                                             ignore_index=True),
                                                   preserve_index=False)),
            source_row=source_row[order], dates=dates[order], kind=kind[order],
            owner=owner[order])


    def _ghost_records(self) -> tuple[np.ndarray, np.ndarray]:
        """Signs of life that go on after a departure (a last tax return, a pension paid
        abroad): for a share of departures, at a share of the person's rate, for a while."""
        rng, w = self.rng, self.w
        owner, dates = [], []
        for p in self.people:
            for _a, departure, _o, _d in p.stays:
                if departure is None or departure >= w.as_of or rng.random() >= w.ghost_share:
                    continue
                length = min(int(rng.exponential(w.ghost_days)) + 1, w.as_of - departure)
                n = int(rng.poisson(p.activity_rate * w.ghost_rate_factor * length / 365.25))
                owner.extend([p.pid] * n)
                dates.extend((departure + rng.integers(0, length, size=n)).tolist())
        owner_a, dates_a = np.asarray(owner, dtype=np.int64), np.asarray(dates, dtype=np.int64)
        observed = dates_a >= w.evidence_start  # the sources keep nothing from before
        return owner_a[observed], dates_a[observed]

    def _silent_years(self, owner: np.ndarray, dates: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Drop every sign of life of a person's calendar year, for a share of person-years
        (a year the tax office, the clinic and the school all missed)."""
        years = dates.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
        key = owner.astype(np.int64) * 1000 + years
        unique, inverse = np.unique(key, return_inverse=True)
        silent = self.rng.random(unique.size) < self.w.silent_year_share
        keep = ~silent[inverse]
        return owner[keep], dates[keep]


@dataclass
class ActivityRecords:
    """Signs of life as arrays: tens of millions of rows, never one DataFrame. Record ``i``
    states identity row ``source_row[i]`` of ``identities``."""

    identities: pa.Table
    source_row: np.ndarray
    dates: np.ndarray
    kind: np.ndarray
    owner: np.ndarray

    KINDS = ("tax", "health", "insurance", "school")
    SLICE = 1 << 20  # rows written at once (a Parquet row group)

    def write(self, order: np.ndarray, prefix: str, path: Path) -> pa.Array:
        """Write the records in ``order`` with record ids ``<prefix>00000001``..; returns
        the ids."""
        ids = _record_ids(prefix, order.size)
        kinds = pa.array(self.KINDS)
        localities = pa.array([f"L{i:02d}" for i in range(67)])
        writer = None
        for lo in range(0, order.size, self.SLICE):
            rows = order[lo:lo + self.SLICE]
            part = self.identities.take(pa.array(self.source_row[rows]))
            columns = {"record_id": ids.slice(lo, rows.size),
                       **{name: part.column(name) for name in part.column_names},
                       "activity_date": pa.array(self.dates[rows].astype(np.int32)
                                                 ).cast(pa.date32()),
                       "activity_type": kinds.take(pa.array(self.kind[rows])),
                       "locality": localities.take(pa.array((self.owner[rows] * 31) % 67))}
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
        return ids


def _record_ids(prefix: str, n: int) -> pa.Array:
    """``<prefix>00000001`` .. ``<prefix>{n:08d}``, built without a Python string each."""
    numbers = pa.array(np.arange(1, n + 1)).cast(pa.string())
    padded = pc.utf8_lpad(numbers, width=8, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), padded, pa.scalar(""))


def _merge_short_trips(stays: list[list]) -> list[tuple[int, int | None]]:
    """Stays as a foreigner's registration sees them: trips under 60 days do not end them."""
    merged: list[list] = []
    for arrival, departure, _o, _d in stays:
        if merged and merged[-1][1] is not None and arrival - merged[-1][1] < 60:
            merged[-1][1] = departure
        else:
            merged.append([arrival, departure])
    return [(a, d) for a, d in merged]


class StayIndex:
    """All true stays as flat arrays, to ask who was present on a day."""

    def __init__(self, people: list[Person]):
        rows = [(p.pid, a, d if d is not None else (p.death or 10**7), o)
                for p in people for a, d, o, _t in p.stays]
        self.pid = np.asarray([r[0] for r in rows])
        self.arrival = np.asarray([r[1] for r in rows])
        self.departure = np.asarray([r[2] for r in rows])
        self.origin = [r[3] for r in rows]

    def present_on(self, when: int) -> dict[int, tuple[int, str | None]]:
        hits = np.flatnonzero((self.arrival <= when) & (self.departure > when))
        return {int(self.pid[i]): (int(self.arrival[i]), self.origin[i]) for i in hits}


def _record_table(rows: pd.DataFrame, prefix: str, rng: np.random.Generator
                  ) -> tuple[pd.DataFrame, np.ndarray]:
    order = rng.permutation(len(rows))
    frame = rows.iloc[order].reset_index(drop=True)
    frame.insert(0, "record_id", [f"{prefix}{i + 1:08d}" for i in range(len(rows))])
    return frame, order


def _write(frame: pd.DataFrame | pa.Table, path: Path) -> None:
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(
        frame, preserve_index=False)
    pq.write_table(_typed(table), path)


def _typed(table: pa.Table) -> pa.Table:
    """The contract's types: dates as dates (from day numbers), years as integers, columns
    that hold only nulls as text."""
    fields = []
    for f in table.schema:
        if f.name in DATE_COLUMNS:
            fields.append(pa.field(f.name, pa.date32()))
        elif f.name in ("birth_year", "year_of_arrival", "year", "count"):
            fields.append(pa.field(f.name, pa.int64()))
        elif pa.types.is_null(f.type):
            fields.append(pa.field(f.name, pa.string()))
        else:
            fields.append(f)
    arrays = []
    for f, col in zip(fields, table.columns, strict=True):
        if f.type == pa.date32() and col.type != pa.date32():
            values = pd.to_numeric(col.to_pandas(), errors="coerce")
            mask = values.isna().to_numpy()
            ints = values.fillna(0).to_numpy().astype(np.int32)
            arrays.append(pa.array(ints, mask=mask, type=pa.int32()).cast(pa.date32()))
        else:
            arrays.append(col.cast(f.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


PREFIX = {"population_register": "PR", "aliens_register": "AR", "residence_permits": "RP",
          "census": "CE", "survey": "SV", "border_crossings": "BC", "activity": "AC"}


def synthesise(n: int, seed: int, out: Path, world: World | None = None) -> dict[str, int]:
    """Write every source and ``truth/`` for ``n`` persons into ``out``; return row counts."""
    started = time.perf_counter()
    w = world or World()
    rng = np.random.default_rng(seed)
    secret = hashlib.sha256(f"miglink-synth-{seed}".encode()).digest()
    people = make_population(n, rng, w)
    log.info("population: %d persons (%.1f s)", n, time.perf_counter() - started)
    b = SourceBuilder(people, w, rng, secret)
    for p in people:
        b.register(p)
        b.aliens_and_permits(p)
        b.crossings(p)
    activity = b.activity()
    index = StayIndex(people)
    b.census(index.present_on(w.census_day))
    waves = []
    first_wave_year = int(np.datetime64(w.evidence_start, "D").astype("datetime64[Y]").astype(int)
                          + 1970)
    for year in range(first_wave_year, 2027):
        for quarter in range(4):
            when = (np.datetime64(f"{year}-01-01") + np.timedelta64(91 * quarter, "D")
                    ).astype(int)
            if when + 80 < w.as_of:
                waves.append((int(when), index.present_on(int(when))))
    b.survey(waves)
    log.info("sources drawn (%.1f s)", time.perf_counter() - started)

    out.mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(exist_ok=True)
    counts, record_person = {}, []
    for source, rows in b.rows.items():
        if source == "activity":
            order = rng.permutation(activity.owner.size)
            ids = activity.write(order, PREFIX[source], out / f"{source}.parquet")
            owners = activity.owner[order]
        else:
            frame, order = _record_table(pd.DataFrame(rows), PREFIX[source], rng)
            owners = np.asarray(b.owner[source])[order]
            _write(frame, out / f"{source}.parquet")
            ids = pa.array(frame["record_id"])
        record_person.append(pa.table({
            "source": pa.nulls(len(ids), pa.string()).fill_null(source),
            "record_id": ids, "true_person_id": pa.array(owners)}))
        counts[source] = len(owners)
    (out / "country.txt").write_text(w.country + "\n")
    write_world(w, out)
    truth_events = _write_truth(people, w, out, pa.concat_tables(record_person))
    mirror, coverage = _mirror_flows(people, truth_events, w, rng)
    _write(mirror, out / "mirror_flows.parquet")
    _write(pd.DataFrame(sorted(coverage.items()), columns=["partner", "coverage"]),
           out / "truth" / "mirror_coverage.parquet")
    counts["mirror_flows"] = len(mirror)
    log.info("synth written to %s (%.1f s)", out, time.perf_counter() - started)
    return counts


def _write_truth(people: list[Person], w: World, out: Path, record_person: pa.Table
                 ) -> pd.DataFrame:
    _write(record_person, out / "truth" / "record_person.parquet")
    persons = pd.DataFrame({
        "true_person_id": [p.pid for p in people],
        "birth_date": [p.birth for p in people],
        "born_in_country": [p.born_here for p in people],
        "death_date": [p.death for p in people],
        "kind": [p.kind for p in people],
        "undocumented": [p.undocumented for p in people],
        # the name as the person's own documents write it (native script), for benchmarks
        "first_name": [p.first_name for p in people],
        "last_name": [p.last_name for p in people],
        "cyrillic": [p.cyrillic for p in people],
    })
    _write(persons, out / "truth" / "persons.parquet")
    stays = pd.DataFrame(
        [(p.pid, a, p.death if (d is None and p.death is not None) else d, o, t)
         for p in people for a, d, o, t in p.stays],
        columns=["true_person_id", "arrival_date", "departure_date", "origin_country",
                 "destination_country"])
    _write(stays, out / "truth" / "presence.parquet")
    events = true_events(people, w)
    _write(events, out / "truth" / "events.parquet")
    return events


def true_events(people: list[Person], w: World) -> pd.DataFrame:
    """The true events under each rule, from true presence, censored at the as-of date
    (``synthetic.truth``: the generator's own walk of the rules, not the product's)."""
    rows = []
    for p in people:
        end = min(w.as_of, p.death) if p.death else w.as_of
        stays = [(a, None if d is None or d >= w.as_of else d)
                 for a, d, _o, _t in p.stays if a < w.as_of]
        for rule in RULES:
            for event_type, event_day, status in person_events(
                    stays, end, p.born_here, p.death is None, rule):
                rows.append((p.pid, rule, event_type, event_day, status))
    events = pd.DataFrame(rows, columns=["true_person_id", "rule", "event_type", "event_date",
                                         "status"])
    return events.sort_values(["true_person_id", "rule", "event_date"], kind="stable",
                              ignore_index=True)


def _mirror_flows(people: list[Person], events: pd.DataFrame, w: World,
                  rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, float]]:
    """Partner countries' reported flows with us (their own coverage and noise), and each
    partner's coverage (the share of the true moves it records, on average)."""
    by_pid = {p.pid: p for p in people}
    confirmed = events[(events["rule"] == "continuous_12") & (events["status"] == "confirmed")]
    cells: dict[tuple, int] = {}
    for pid, event_type, d in confirmed[["true_person_id", "event_type", "event_date"]
                                        ].itertuples(index=False):
        p = by_pid[int(pid)]
        stay = next(s for s in p.stays if s[0] == d or s[1] == d)
        partner = stay[2] if event_type == "immigration" else stay[3]
        if partner is None:
            continue
        year = _year(int(d))
        if year < 2015 or year > 2024:
            continue
        # our immigration is the partner's emigration and the other way round
        flow = "emigration" if event_type == "immigration" else "immigration"
        key = (partner, year, flow, p.sex)
        cells[key] = cells.get(key, 0) + 1
    coverage = {c: float(rng.uniform(0.55, 1.1)) for c in sorted({k[0] for k in cells})}
    rows = [{"reporting_country": partner, "partner_country": w.country, "year": year,
             "flow": flow, "citizenship": None, "sex": sex,
             "count": int(rng.poisson(n * coverage[partner]))}
            for (partner, year, flow, sex), n in sorted(cells.items())]
    return pd.DataFrame(rows), coverage
