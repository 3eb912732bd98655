"""The synthetic population: who lives here, when, and what the truth is.

Each person has an identity and a list of true stays ``[arrival, departure)`` in the country
(days since 1970-01-01; departure None = still present at the as-of date). Kinds of people:
natives who never leave, native emigrants (some return, some leave for a few months only),
long-term immigrants of many citizenships and stay purposes, temporary movers, circular
migrants, and people present since long before the window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from synthetic.names import CYRILLIC_POOLS, POOLS


def day(y: int, m: int = 1, d: int = 1) -> int:
    return (dt.date(y, m, d) - dt.date(1970, 1, 1)).days


KINDS = ("native", "native_emigrant", "immigrant", "early_immigrant", "temporary", "circular",
         "seasonal")
KIND_WEIGHTS = (0.63, 0.10, 0.13, 0.06, 0.05, 0.03, 0.0)


@dataclass(frozen=True)
class World:
    """Calendar, country, behaviour and source defects of a synthetic run.

    The defaults are the default world; ``synthetic.worlds.random_world`` draws every field
    from wide ranges. Behaviours off by default (seasonal workers, silent years, records after
    departure, administrative removals, census double counts, ...) draw no random numbers while
    off, so the default and hard worlds stay byte for byte what they were.
    """

    country: str = "KAZ"
    evidence_start: int = day(2015, 1, 1)  # signs of life and surveys observed from here
    crossings_start: int = day(2015, 1, 1)
    census_day: int = day(2021, 10, 1)
    as_of: int = day(2025, 6, 30)
    # who lives here, and how they move
    kind_weights: tuple[float, ...] = KIND_WEIGHTS
    native_short_absence_share: float = 0.25  # native emigrants back within months ...
    native_short_absence_days: tuple[int, int] = (30, 300)
    native_return_share: float = 0.20  # ... or after some years
    immigrant_leave_share: float = 0.35
    temporary_stay_days: tuple[int, int] = (95, 330)
    seasonal_season_days: tuple[int, int] = (120, 270)  # seasonal workers: a stay each spring
    seasonal_years: tuple[int, int] = (2, 9)
    holiday_share: float = 0.35  # people who take short trips abroad
    # defect rates of the sources (see synthetic.sources for the identity defects)
    crossing_coverage: float = 0.7  # share of real crossings the border system records
    poorly_covered_share: float = 0.0  # persons whose crossings are recorded at ...
    crossing_coverage_poor: float = 0.1  # ... this rate instead
    yearly_sign_of_life_share: float = 0.8  # people with a yearly tax/school/pension record
    sign_of_life_per_month: float | None = None  # median irregular rate; None: the default mix
    sign_of_life_spread: float = 0.8  # sd of the log rate between persons
    silent_year_share: float = 0.0  # a person's calendar year without any sign of life
    ghost_share: float = 0.0  # departed persons whose signs of life go on for a while
    ghost_days: float = 180.0  # ... for about this long
    ghost_rate_factor: float = 0.5  # ... at this share of their rate
    deregistration_native: float = 0.45  # emigrants leaving for 6+ months who deregister
    deregistration_foreign: float = 0.35
    deregistration_lag_days: float | None = None  # mean lag; None: the default mix
    admin_removal_share: float = 0.0  # never-deregistered emigrants removed by the office ...
    admin_removal_years: tuple[int, int] = (2, 8)  # ... this many years after leaving
    admin_removal_reason: str = "other"
    registration_lag_days: float = 25.0  # population register, after arrival
    previous_country_recorded: float = 0.9  # registrations from abroad that say so
    immigrant_register_share: float = 0.85  # immigrants in the population register
    circular_register_share: float = 0.4
    seasonal_register_share: float = 0.5
    permit_days: tuple[int, ...] = (365, 730)  # permit terms
    permit_early_days: int = 30  # first permits issued up to this long before arrival
    seasonal_permit_overrun_days: int = 30  # seasonal permits end up to this long after
    aliens_register_share: float = 0.93
    aliens_registration_lag_days: float = 15.0
    aliens_end_reported: float = 0.5  # stays whose end the aliens register records
    census_coverage_native: float = 0.97
    census_coverage_foreign: float = 0.91
    census_coverage_recent: float = 0.72  # immigrants of the last 12 months enumerated
    census_double_count: float = 0.0  # residents enumerated twice
    census_absent_count: float = 0.0  # registered persons abroad enumerated all the same
    survey_sampling_rate: float = 0.012  # per quarterly wave
    typo_factor: float = 1.0  # identity defects of every source, scaled
    missing_factor: float = 1.0
    scheme_drift_factor: float = 1.0
    activity_rekey_share: float = 0.01  # sign-of-life records keyed in again, fresh errors
    activity_uppercase_share: float = 0.0  # ... and of them written in capitals
    # immigrants living without registration or permit (on no register): the persons only a
    # census, a survey or a rare sign of life may see, whom population-size estimation is for
    undocumented_share: float = 0.0
    undocumented_census_coverage: float = 0.4
    undocumented_sign_of_life_factor: float = 0.2  # their signs of life, times their rate


# the kinds of persons that may live undocumented
UNDOCUMENTED_KINDS = ("immigrant", "temporary", "circular")

# citizenship -> (name pool, weight among immigrants, stay purposes with weights)
ORIGINS = {
    "RUS": ("russian", 0.24), "UZB": ("central_asian", 0.18), "UKR": ("ukrainian", 0.10),
    "KGZ": ("central_asian", 0.08), "TJK": ("central_asian", 0.05), "CHN": ("chinese", 0.12),
    "TUR": ("turkish", 0.09), "DEU": ("german", 0.05), "IND": ("indian", 0.05),
    "BLR": ("russian", 0.04),
}
PURPOSES = ("work", "study", "family", "protection", "other")
PURPOSE_WEIGHTS = (0.5, 0.15, 0.22, 0.05, 0.08)
PASSPORT_SCHEMES = {"ukrainian": ("ukr2010", "icao"), "kazakh": ("icao", "mvd1997", "kazlat2021")}
DEFAULT_SCHEMES = ("icao", "mvd1997", "bgn")


@dataclass
class Person:
    pid: int
    kind: str
    sex: str
    birth: int
    citizenship: str
    country_of_birth: str
    pool: str
    first_name: str  # original script
    last_name: str
    passport_scheme: str
    has_national_number: bool
    purpose: str | None
    stays: list[list] = field(default_factory=list)  # [arrival, departure|None, origin, dest]
    death: int | None = None
    activity_rate: float = 4.0
    crossing_coverage: float = 0.7  # share of this person's crossings the border records
    yearly_record_day: int = -1  # day of year of a yearly sign of life; -1: none
    moves: list[int] = field(default_factory=list)  # internal moves (register re-registration)
    undocumented: bool = False  # on no register, holding no permit

    @property
    def born_here(self) -> bool:
        return self.kind in ("native", "native_emigrant")

    @property
    def cyrillic(self) -> bool:
        return self.pool in CYRILLIC_POOLS


@cache
def _cumulative(weights: tuple[float, ...]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return np.cumsum(w / w.sum())


def pick(rng: np.random.Generator, weights: tuple[float, ...]) -> int:
    """Index drawn with the given weights (fast: cached cumulative table)."""
    return min(int(np.searchsorted(_cumulative(weights), rng.random(), side="right")),
               len(weights) - 1)


@cache
def _zipf(n: int) -> tuple[float, ...]:
    return tuple(float(x) for x in 1.0 / np.arange(1, n + 1) ** 0.9)


def _zipf_choice(rng: np.random.Generator, n: int) -> int:
    return pick(rng, _zipf(n))


def _name(rng: np.random.Generator, pool: str, sex: str) -> tuple[str, str]:
    male, female, surnames = POOLS[pool]
    firsts = male if sex == "M" else female
    first = firsts[_zipf_choice(rng, len(firsts))]
    pair = surnames[_zipf_choice(rng, len(surnames))]
    return first, pair[0] if sex == "M" else pair[1]


ORIGIN_CODES = tuple(ORIGINS)
ORIGIN_WEIGHTS = tuple(w for _, w in ORIGINS.values())


def _destination(rng: np.random.Generator) -> str:
    return ORIGIN_CODES[pick(rng, ORIGIN_WEIGHTS)]


def _stays_for(rng: np.random.Generator, kind: str, birth: int, origin: str, w: World
               ) -> list[list]:
    """True stays of one person, by kind."""
    if kind == "native":
        return [[birth, None, None, None]]
    if kind == "native_emigrant":
        leave = max(birth + 18 * 365, int(rng.integers(day(2008), w.as_of - 30)))
        if leave >= w.as_of:
            return [[birth, None, None, None]]
        dest = _destination(rng)
        stays = [[birth, leave, None, dest]]
        r = rng.random()
        if r < w.native_short_absence_share:  # a few months abroad only
            back = leave + int(rng.integers(*w.native_short_absence_days))
        elif r < w.native_short_absence_share + w.native_return_share:  # back after years
            back = leave + int(rng.integers(400, 2200))
        else:
            back = None
        if back is not None and back < w.as_of:
            stays.append([back, None, dest, None])
        return stays
    if kind in ("immigrant", "early_immigrant"):
        if kind == "early_immigrant":
            arrive = int(rng.integers(day(1992), day(2010)))
        else:
            arrive = int(rng.integers(day(2009), w.as_of - 10))
        arrive = max(arrive, birth)
        leave = None
        if rng.random() < w.immigrant_leave_share:
            leave = arrive + int(rng.integers(400, 3000))
            if leave >= w.as_of:
                leave = None
        return [[arrive, leave, origin, origin if leave else None]]
    if kind == "temporary":
        stays, t = [], int(rng.integers(day(2012), w.as_of - 60))
        for _ in range(int(rng.integers(1, 3))):
            length = int(rng.integers(*w.temporary_stay_days))
            stays.append([max(t, birth), t + length if t + length < w.as_of else None,
                          origin, origin])
            t += length + int(rng.integers(200, 900))
            if t >= w.as_of or stays[-1][1] is None:
                break
        return stays
    if kind == "seasonal":
        return _seasons(rng, birth, origin, w)
    # circular: alternating stays and absences of 12-24 months
    stays, t = [], int(rng.integers(day(2006), day(2013)))
    while t < w.as_of:
        length = int(rng.integers(370, 730))
        stays.append([max(t, birth), t + length if t + length < w.as_of else None, origin, origin])
        t += length + int(rng.integers(380, 700))
    return stays


def _seasons(rng: np.random.Generator, birth: int, origin: str, w: World) -> list[list]:
    """A seasonal worker: a stay every spring of 4-9 months (the world's range), for some
    years; each season's length varies a little around the worker's own."""
    first_year = int(rng.integers(2008, _year_of(w.as_of)))
    length = int(rng.integers(*w.seasonal_season_days))
    stays = []
    for k in range(int(rng.integers(w.seasonal_years[0], w.seasonal_years[1] + 1))):
        arrive = day(first_year + k, 3, 1) + int(rng.integers(0, 75))
        if arrive >= w.as_of:
            break
        if arrive < birth + 16 * 365:  # too young to work
            continue
        leave = arrive + max(60, length + int(rng.integers(-20, 21)))
        stays.append([arrive, leave if leave < w.as_of else None, origin, origin])
        if leave >= w.as_of:
            break
    return stays


def _year_of(d: int) -> int:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(d))).year


def _holidays(rng: np.random.Generator, stays: list[list], w: World) -> list[list]:
    """Split stays with short trips abroad (5-40 days): real crossings, no migration."""
    out = []
    for arrival, departure, origin, dest in stays:
        end = departure if departure is not None else w.as_of
        t = max(arrival, w.crossings_start - 400) + int(rng.exponential(900))
        current = [arrival, None, origin, None]
        while t < end - 60:
            trip = int(rng.integers(5, 41))
            if t - current[0] > 30 and t + trip < end - 30:
                current[1] = t
                current[3] = "TUR" if rng.random() < 0.5 else "ARE"
                out.append(current)
                current = [t + trip, None, current[3], None]
            t += trip + int(rng.exponential(900))
        current[1], current[3] = departure, dest
        out.append(current)
    return out


def make_population(n: int, rng: np.random.Generator, w: World) -> list[Person]:
    """Draw ``n`` persons with identities and true stays."""
    people = []
    weights = np.array(w.kind_weights, dtype=float)
    kinds = rng.choice(len(KINDS), size=n, p=weights / weights.sum())
    for pid in range(n):
        kind = KINDS[int(kinds[pid])]
        sex = "M" if rng.random() < 0.5 else "F"
        if kind in ("native", "native_emigrant"):
            cit = cob = w.country
            pool = "kazakh" if rng.random() < 0.6 else "russian"
            birth = int(rng.integers(day(1935), w.as_of - 1)) if kind == "native" else \
                int(rng.integers(day(1950), day(2004)))
        else:
            cit = _destination(rng)
            cob = cit if rng.random() < 0.95 else _destination(rng)
            pool = ORIGINS[cit][0]
            birth = int(rng.integers(day(1950), day(2006)))
        first, last = _name(rng, pool, sex)
        schemes = PASSPORT_SCHEMES.get(pool, DEFAULT_SCHEMES)
        scheme = schemes[int(rng.integers(len(schemes)))]
        purpose = None if cit == w.country else PURPOSES[
            pick(rng, PURPOSE_WEIGHTS)]
        stays = _stays_for(rng, kind, birth, cit, w)
        if rng.random() < w.holiday_share:
            stays = _holidays(rng, stays, w)
        long_stay = kind in ("early_immigrant",) or (kind == "immigrant" and rng.random() < 0.4)
        person = Person(pid, kind, sex, birth, cit, cob, pool, first, last, scheme,
                        has_national_number=kind in ("native", "native_emigrant") or long_stay,
                        purpose=purpose, stays=stays)
        # signs of life: most people several a year, some rarely
        if w.sign_of_life_per_month is None:
            person.activity_rate = (0.3, 1.0, 2.0, 5.0)[pick(rng, (0.1, 0.3, 0.35, 0.25))]
        else:  # per year, log-normal between persons around the world's median
            person.activity_rate = 12 * w.sign_of_life_per_month * float(
                np.exp(w.sign_of_life_spread * rng.standard_normal()))
        if w.poorly_covered_share > 0:
            person.crossing_coverage = w.crossing_coverage_poor \
                if rng.random() < w.poorly_covered_share else w.crossing_coverage
        else:
            person.crossing_coverage = w.crossing_coverage
        if rng.random() < w.yearly_sign_of_life_share:
            person.yearly_record_day = int(rng.integers(0, 365))
        if birth < day(1950) and rng.random() < 0.25:
            _die(rng, person, w)
        person.moves = sorted(int(x) for x in rng.integers(day(1995), w.as_of, size=pick(rng, (0.7, 0.22, 0.08))))
        people.append(person)
    if w.undocumented_share > 0:
        # from a stream of its own, so that every other draw stays as it was
        own = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
        for person, draw in zip(people, own.random(len(people)), strict=True):
            if person.kind in UNDOCUMENTED_KINDS and draw < w.undocumented_share:
                person.undocumented = True
                person.activity_rate *= w.undocumented_sign_of_life_factor
    return people


def _die(rng: np.random.Generator, person: Person, w: World) -> None:
    death = int(rng.integers(day(2012), w.as_of))
    kept = []
    for stay in person.stays:
        if stay[0] >= death:
            break
        if stay[1] is None or stay[1] > death:
            stay = [stay[0], None, stay[2], None]
            kept.append(stay)
            person.death = death
            break
        kept.append(stay)
    person.stays = kept
