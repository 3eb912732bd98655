"""The presence model's M-step (``pipelines.presence_model`` holds the model and its
E-step): the expected counts of a chunk of persons (``Statistics``, ``accumulate``), every
rate of the model re-estimated from them (``maximise``), each person's own sign-of-life rate
and crossing coverage (``update_person_rates``) and the population's priors for them
(``fit_priors``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from pipelines.presence_model import (
    ALLOWED,
    GHOST,
    GROUPS,
    IN,
    LEAVING,
    N_ALIENS,
    N_JOINT,
    N_PERMIT,
    N_REG,
    N_SURVEY,
    NEW,
    NEW_U,
    NO_PERMIT,
    PERMIT_ENDS,
    PERMIT_RENEWED,
    PERMIT_RESTARTS,
    PERMIT_STARTS,
    PERMIT_VALID,
    REG_ENDS,
    REG_STARTS,
    REG_STARTS_FROM_ABROAD,
    REG_STAYS,
    SILENT,
    SURVEY_INTERVIEW,
    SURVEY_NONE,
    UNREG_STAYS,
    Grid,
    ModelParameters,
    Persons,
    Posterior,
    S,
    _initial_transitions,
)


@dataclass
class Statistics:
    """Expected counts over all chunks, for the M-step."""

    transitions: np.ndarray = field(default_factory=lambda: np.zeros((len(GROUPS), S, S)))
    initial: np.ndarray = field(default_factory=lambda: np.zeros((len(GROUPS), 2, S)))
    joint: np.ndarray = field(default_factory=lambda: np.zeros((N_JOINT, S)))
    activity_counts: np.ndarray = field(default_factory=lambda: np.zeros(S))
    activity_expected: np.ndarray = field(default_factory=lambda: np.zeros(S))
    census: np.ndarray = field(default_factory=lambda: np.zeros((2, S)))
    stay_errors: np.ndarray = field(default_factory=lambda: np.zeros(2))
    log_likelihood: float = 0.0

    @classmethod
    def total(cls, parts: list[Statistics]) -> Statistics:
        """The sum of chunks' statistics."""
        out = cls()
        for f in dataclasses.fields(cls):
            setattr(out, f.name, sum((getattr(p, f.name) for p in parts), getattr(out, f.name)))
        return out


def accumulate(stats: Statistics, persons: Persons, grid: Grid, post: Posterior) -> None:
    """Add one chunk's expected counts (weeks outside a person's life left out)."""
    k = post.gamma.shape[0]
    inside = persons.inside(k)
    gamma = post.gamma * inside[:, None, :]  # (K, S, N)
    group = int(persons.group[0])
    stats.transitions[group] += post.transitions
    for r in (0, 1):
        rows = persons.registered_at_start.astype(int) == r
        stats.initial[group, r] += post.gamma[0][:, rows].sum(1)
    flat = persons.joint.reshape(-1)
    for s in range(S):
        stats.joint[:, s] += np.bincount(flat, weights=gamma[:, s, :].reshape(-1),
                                         minlength=N_JOINT)
    counts = persons.activity.astype(np.float32)
    stats.activity_counts += np.einsum("kn,ksn->s", counts, gamma)
    rate = grid.activity_exposure[:, None] * persons.activity_rate[None, :]
    stats.activity_expected += np.einsum("kn,ksn->s", rate, gamma)
    for c, week in enumerate(grid.census_weeks):
        enumerated = persons.census[c].astype(np.float32)
        stats.census[0] += gamma[week] @ enumerated
        stats.census[1] += gamma[week].sum(1)
    stats.stay_errors += post.stay_errors
    stats.log_likelihood += post.log_likelihood


PSEUDO_WEEKS = 20.0  # prior weight of each rate's starting value, in person-weeks


def _rate(events: np.ndarray, exposure: np.ndarray, prior: np.ndarray,
          weight: float = PSEUDO_WEEKS) -> np.ndarray:
    return (events + weight * prior) / (exposure + weight)


def maximise(stats: Statistics, p: ModelParameters, prior_weeks: float = PSEUDO_WEEKS
             ) -> ModelParameters:
    """The M-step: every rate from the expected counts, pulled a little to its prior (its
    value so far, weighing as ``prior_weeks`` person-weeks)."""

    def rate(events: np.ndarray, exposure: np.ndarray, prior: np.ndarray) -> np.ndarray:
        return _rate(events, exposure, prior, prior_weeks)

    q = dataclasses.replace(p)
    prior_a = np.stack([_initial_transitions()] * len(GROUPS))
    counts = stats.transitions + prior_weeks * prior_a
    counts *= ALLOWED
    q.transitions = counts / counts.sum(2, keepdims=True)
    init = stats.initial + 1.0
    q.initial = init / init.sum(2, keepdims=True)
    j = stats.joint.reshape(N_REG, N_ALIENS, N_PERMIT, N_SURVEY, S)
    reg = j.sum((1, 2, 3))
    aliens = j.sum((0, 2, 3))
    permit = j.sum((0, 1, 3))
    survey = j.sum((0, 1, 2))
    q.register_end = rate(reg[REG_ENDS], reg[REG_STAYS] + reg[REG_ENDS], p.register_end)
    starts = reg[REG_STARTS_FROM_ABROAD] + reg[REG_STARTS]
    q.register_start = rate(starts, starts + reg[UNREG_STAYS], p.register_start)
    q.register_from_abroad = _rate(reg[REG_STARTS_FROM_ABROAD], starts, p.register_from_abroad,
                                   weight=2.0)
    q.aliens_end = rate(aliens[REG_ENDS], aliens[REG_STAYS] + aliens[REG_ENDS], p.aliens_end)
    a_starts = aliens[REG_STARTS_FROM_ABROAD] + aliens[REG_STARTS]
    q.aliens_start = rate(a_starts, a_starts + aliens[UNREG_STAYS], p.aliens_start)
    held = permit[PERMIT_VALID] + permit[PERMIT_RENEWED] + permit[PERMIT_ENDS] \
        + permit[PERMIT_RESTARTS]
    q.permit_end = rate(permit[PERMIT_ENDS], held, p.permit_end)
    q.permit_renewal = rate(permit[PERMIT_RENEWED], held, p.permit_renewal)
    q.permit_restart = rate(permit[PERMIT_RESTARTS], held, p.permit_restart)
    q.permit_start = rate(permit[PERMIT_STARTS], permit[PERMIT_STARTS] + permit[NO_PERMIT],
                           p.permit_start)
    q.survey_interview = rate(survey[SURVEY_INTERVIEW],
                               survey[SURVEY_INTERVIEW] + survey[SURVEY_NONE],
                               p.survey_interview)
    q.census_enumerated = _rate(stats.census[0], stats.census[1], p.census_enumerated,
                                weight=2.0)
    multiplier = rate(stats.activity_counts, stats.activity_expected, p.activity_multiplier)
    for tied in (SILENT, GHOST):  # one shared rate each
        multiplier[tied] = rate(stats.activity_counts[tied].sum(),
                                 stats.activity_expected[tied].sum(),
                                 p.activity_multiplier[tied][0])
    multiplier[LEAVING] = multiplier[IN]  # still living here: the person's own rate
    multiplier[NEW_U] = multiplier[NEW]
    q.activity_multiplier = multiplier / multiplier[IN]
    q.crossing_error = float(rate(np.array(stats.stay_errors[0]),
                                   np.array(stats.stay_errors[1]),
                                   np.array(p.crossing_error))[()])
    q.log_likelihood = [*p.log_likelihood, stats.log_likelihood]
    return q


def update_person_rates(persons: Persons, grid: Grid, post: Posterior,
                        p: ModelParameters) -> tuple[np.ndarray, ...]:
    """Each person's own sign-of-life rate and crossing coverage, from their expected
    weeks present and moves, shrunk to the population's priors (in place). Returns the
    totals behind them (signs of life, weeks present, moves recorded, moves)."""
    present = post.gamma[:, NEW] + post.gamma[:, NEW_U] + post.gamma[:, IN]  # (K, N)
    counts = (persons.activity * present).sum(0)
    exposure = (present * grid.activity_exposure[:, None]).sum(0)
    persons.activity_rate = ((p.activity_shape + counts) / (p.activity_rate + exposure)
                             ).astype(np.float32)
    a, b = p.crossing_shape
    recorded = post.moves[0] + post.moves[2]
    moves = post.moves[1] + post.moves[3]
    persons.crossing_coverage = ((a + recorded) / (a + b + moves)).astype(np.float32)
    return counts, exposure, recorded, moves


def fit_priors(rates: np.ndarray, exposure: np.ndarray, recorded: np.ndarray,
               moves: np.ndarray, p: ModelParameters) -> ModelParameters:
    """The population's gamma prior of sign-of-life rates and beta prior of crossing
    coverage, by moments of the persons' own (persons with enough exposure)."""
    q = dataclasses.replace(p)
    enough = exposure > 26
    if enough.sum() >= 20:
        r = rates[enough] / np.maximum(exposure[enough], 1e-9)
        mean, var = float(r.mean()), float(r.var())
        noise = float((r / np.maximum(exposure[enough], 1e-9)).mean())  # Poisson part
        spread = max(var - noise, 0.05 * mean * mean)
        q.activity_shape = max(0.2, min(50.0, mean * mean / spread))
        q.activity_rate = q.activity_shape / max(mean, 1e-6)
    enough = moves > 1.5
    if enough.sum() >= 20:
        share = recorded[enough] / moves[enough]
        mean = float(np.clip(share.mean(), 0.02, 0.98))
        var = float(share.var())
        binomial = float((mean * (1 - mean) / moves[enough]).mean())
        spread = max(var - binomial, 1e-3)
        concentration = max(0.5, min(200.0, mean * (1 - mean) / spread - 1))
        q.crossing_shape = (mean * concentration, (1 - mean) * concentration)
    return q
