"""The worlds ``miglink synth`` can draw: the default one, a harder one, and random ones.

A method tuned on one world fits that world. ``random_world(seed)`` draws every behaviour and
defect parameter of ``World`` from wide ranges (crossing coverage 10-95% with well and poorly
covered persons, signs of life from 0.05 to 1 a month with silent years and records after
departure, deregistration of 10-90% of emigrants with lags up to years and administrative
removals, registration lags, permits outliving stays, census coverage and double counts,
seasonal workers, short stays and long absences, typo, transliteration and missing-value
rates, immigrants living undocumented). The parameters drawn are written beside ``truth/`` as ``world.json``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from synthetic.population import KINDS, World, day

# A harder world, for checking that the method is not tuned to the default one: sparser
# crossings and signs of life, fewer deregistrations, another calendar and country.
HARD_WORLD = World(country="LVA", evidence_start=day(2013, 7, 1), crossings_start=day(2016, 1, 1),
                   census_day=day(2021, 1, 1), as_of=day(2024, 12, 31), crossing_coverage=0.45,
                   yearly_sign_of_life_share=0.6, deregistration_native=0.3,
                   deregistration_foreign=0.2, census_coverage_recent=0.6)

# countries a random world may be (none of them an origin of its immigrants)
COUNTRIES = ("KAZ", "LVA", "EST", "LTU", "ARM", "GEO", "MDA", "SRB", "MNE", "MKD")

# (low, high) of each kind's weight before normalising, in KINDS order
KIND_RANGES = ((0.45, 0.75), (0.05, 0.15), (0.06, 0.20), (0.02, 0.08), (0.02, 0.10),
               (0.01, 0.05), (0.0, 0.08))


def _uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _day_between(rng: np.random.Generator, low: int, high: int) -> int:
    return int(rng.integers(low, high))


def _calendar(rng: np.random.Generator) -> dict[str, Any]:
    evidence_start = _day_between(rng, day(2012, 1, 1), day(2016, 1, 1))
    crossings_start = evidence_start + _day_between(rng, -365, 2 * 365)
    as_of = _day_between(rng, day(2023, 6, 1), day(2025, 12, 31))
    census_day = _day_between(rng, day(2020, 1, 1), min(day(2023, 1, 1), as_of - 180))
    return {"country": COUNTRIES[int(rng.integers(len(COUNTRIES)))],
            "evidence_start": evidence_start, "crossings_start": crossings_start,
            "census_day": census_day, "as_of": as_of}


def _crossings(rng: np.random.Generator) -> dict[str, Any]:
    """Overall coverage 10-95%; in half the worlds a mixture of well and poorly covered
    persons with that overall mean."""
    overall = _uniform(rng, 0.10, 0.95)
    if rng.random() < 0.5:
        return {"crossing_coverage": overall, "poorly_covered_share": 0.0}
    poor = _uniform(rng, 0.02, min(overall, 0.35))
    good = _uniform(rng, max(overall, 0.55), 0.98)
    share = (good - overall) / (good - poor) if good > poor else 0.0
    return {"crossing_coverage": good, "crossing_coverage_poor": poor,
            "poorly_covered_share": share}


def _moves(rng: np.random.Generator) -> dict[str, Any]:
    weights = [_uniform(rng, lo, hi) for lo, hi in KIND_RANGES]
    season_low = int(rng.integers(120, 210))
    return {
        "kind_weights": tuple(round(w / sum(weights), 4) for w in weights),
        "native_short_absence_share": _uniform(rng, 0.10, 0.40),
        "native_short_absence_days": (60, int(rng.integers(240, 335))),
        "native_return_share": _uniform(rng, 0.10, 0.35),
        "immigrant_leave_share": _uniform(rng, 0.20, 0.50),
        "temporary_stay_days": (int(rng.integers(60, 120)), int(rng.integers(240, 340))),
        "seasonal_season_days": (season_low, int(rng.integers(season_low + 1, 275))),
        "seasonal_years": (2, int(rng.integers(3, 10))),
        "holiday_share": _uniform(rng, 0.10, 0.60),
    }


def _evidence(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "sign_of_life_per_month": _log_uniform(rng, 0.05, 1.0),
        "sign_of_life_spread": _uniform(rng, 0.2, 1.2),
        "yearly_sign_of_life_share": _uniform(rng, 0.0, 0.9),
        "silent_year_share": _uniform(rng, 0.0, 0.25),
        "ghost_share": _uniform(rng, 0.0, 0.4),
        "ghost_days": _uniform(rng, 30, 540),
        "ghost_rate_factor": _uniform(rng, 0.2, 1.0),
    }


def _registers(rng: np.random.Generator) -> dict[str, Any]:
    removal_start = int(rng.integers(1, 4))
    return {
        "deregistration_native": _uniform(rng, 0.10, 0.90),
        "deregistration_foreign": _uniform(rng, 0.10, 0.90),
        "deregistration_lag_days": _log_uniform(rng, 5, 365),
        "admin_removal_share": _uniform(rng, 0.0, 0.5),
        "admin_removal_years": (removal_start, removal_start + int(rng.integers(1, 6))),
        "admin_removal_reason": "emigration" if rng.random() < 0.5 else "other",
        "registration_lag_days": _log_uniform(rng, 3, 120),
        "previous_country_recorded": _uniform(rng, 0.4, 1.0),
        "immigrant_register_share": _uniform(rng, 0.5, 0.95),
        "circular_register_share": _uniform(rng, 0.1, 0.7),
        "seasonal_register_share": _uniform(rng, 0.1, 0.9),
        "permit_days": ((180, 365), (365, 730), (365, 1095), (730, 1095))[int(rng.integers(4))],
        "permit_early_days": int(rng.integers(1, 91)),
        "seasonal_permit_overrun_days": int(rng.integers(1, 91)),
        "aliens_register_share": _uniform(rng, 0.6, 0.98),
        "aliens_registration_lag_days": _log_uniform(rng, 3, 90),
        "aliens_end_reported": _uniform(rng, 0.1, 0.9),
    }


def _counts_and_identities(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "census_coverage_native": _uniform(rng, 0.85, 0.99),
        "census_coverage_foreign": _uniform(rng, 0.75, 0.97),
        "census_coverage_recent": _uniform(rng, 0.40, 0.90),
        "census_double_count": _uniform(rng, 0.0, 0.03),
        "census_absent_count": _uniform(rng, 0.0, 0.05),
        "survey_sampling_rate": _uniform(rng, 0.005, 0.02),
        "typo_factor": _log_uniform(rng, 0.5, 3.0),
        "missing_factor": _log_uniform(rng, 0.5, 3.0),
        "scheme_drift_factor": _uniform(rng, 0.5, 2.0),
        "activity_rekey_share": _log_uniform(rng, 0.002, 0.05),
        "activity_uppercase_share": _uniform(rng, 0.0, 0.5),
    }


def random_world(seed: int) -> World:
    """A world with every behaviour and defect drawn from wide ranges (same seed, same world;
    independent of the seed that draws the population)."""
    rng = np.random.default_rng([seed, 0x5EED_0F_3])
    values: dict[str, Any] = {}
    for part in (_calendar, _crossings, _moves, _evidence, _registers, _counts_and_identities,
                 _undocumented):  # new parts go last: the earlier draws stay as they were
        values.update(part(rng))
    return World(**values)


def _undocumented(rng: np.random.Generator) -> dict[str, Any]:
    return {"undocumented_share": _uniform(rng, 0.0, 0.25),
            "undocumented_census_coverage": _uniform(rng, 0.2, 0.8),
            "undocumented_sign_of_life_factor": _log_uniform(rng, 0.05, 0.5)}


def world_for(name: str, seed: int) -> World:
    """``default``, ``hard`` or ``random`` (drawn from ``seed``)."""
    if name == "default":
        return World()
    if name == "hard":
        return HARD_WORLD
    if name == "random":
        return random_world(seed)
    raise ValueError(f"unknown world={name!r}; expected default, hard or random")


def world_parameters(world: World) -> dict[str, Any]:
    """The world's parameters as plain JSON values (dates as ISO strings)."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(world):
        value = getattr(world, field.name)
        if field.name in ("evidence_start", "crossings_start", "census_day", "as_of"):
            value = str(np.datetime64(int(value), "D"))
        elif field.name == "kind_weights":
            value = dict(zip(KINDS, value, strict=True))
        elif isinstance(value, tuple):
            value = list(value)
        out[field.name] = value
    return out


def write_world(world: World, out: Path) -> None:
    (out / "world.json").write_text(json.dumps(world_parameters(world), indent=1) + "\n")
