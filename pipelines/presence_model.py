"""The presence model: each person's presence in the country, week by week, as a hidden
Markov model whose parameters are estimated from the run's own data.

Hidden states (a person is in exactly one each step of ``STEP_DAYS``): five present
(``newly_arrived``, ``arrived_unregistered``, ``present``, ``present_quiet``, ``leaving``)
and seven abroad (``short_trip``, ``just_left``, ``arriving``, ``abroad_deregistering``,
``abroad_deregistering_late``, ``abroad_returning``, ``abroad``); what each stands for is in
``docs/presence_model.md``.

Evidence and how it enters (every rate below is estimated by EM from the run's data, per
state unless said otherwise):

* **signs of life**: Poisson counts per week at the person's own rate ``lambda_i`` times a
  multiplier per state (1 while present; estimated for quiet spells, trips and abroad: records
  go on after people leave). ``lambda_i`` is each person's own, shrunk towards the
  population's (gamma prior fitted to the persons' rates).
* **border crossings**: an arrival or departure is recorded with the person's own coverage
  ``kappa_i`` (beta prior fitted to the persons'); a crossing with no move is an error
  (rate ``epsilon``). A departure and a return within one week are no move.
* **registers** (population register, aliens register, residence permits): each is a
  process observed week by week. While registered, the chance of the registration ending
  this week; while not, of registering (from abroad or not); for permits also renewals.
  Deregistration lags, the share who never deregister, registration lags and how long
  permits outlast stays are what these rates and the two abroad states express.
* **census** enumeration (or not) in the census week, and **survey** interviews per week.

The transition matrix is estimated for citizens and foreigners apart; the first week's
state for each of those groups by whether the person held a registration then.

All arrays are vectorised over persons; the only loop is over weeks.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger("miglink")

STEP_DAYS = 14  # the model's time step: two weeks (every rate below is per step)

STATES = ("newly_arrived", "arrived_unregistered", "present", "present_quiet", "leaving",
          "short_trip", "just_left", "arriving", "abroad_deregistering",
          "abroad_deregistering_late", "abroad_returning", "abroad")
(NEW, NEW_U, IN, QUIET, LEAVING, TRIP, LEFT, ARRIVING, AWAY_D, AWAY_L, AWAY_R,
 AWAY_X) = range(12)
S = len(STATES)
P = 5  # the present states are the first five
ARRIVE_TO = (NEW, NEW_U)
PRESENT = np.arange(S) < P
ABROAD = (AWAY_D, AWAY_L, AWAY_R, AWAY_X)
# states whose signs of life come at one shared rate: silent spells and the weeks before an
# arrival; and abroad (the records that go on after people leave)
SILENT = np.isin(np.arange(S), (QUIET, ARRIVING))
GHOST = np.isin(np.arange(S), ABROAD)
GROUPS = ("citizen", "foreigner")
LEAVE_TO = (LEFT, AWAY_D, AWAY_L, AWAY_R, AWAY_X)

# allowed transitions (row: from, column: to)
ALLOWED = np.zeros((S, S), dtype=bool)
for _i, _js in {NEW: (NEW, IN, TRIP, LEAVING, *LEAVE_TO),
                NEW_U: (NEW_U, IN, TRIP, LEAVING, *LEAVE_TO),
                IN: (IN, QUIET, TRIP, LEAVING, *LEAVE_TO),
                QUIET: (QUIET, IN, TRIP), LEAVING: (LEAVING, IN, *LEAVE_TO),
                TRIP: (TRIP, IN), LEFT: (LEFT, *ARRIVE_TO, AWAY_D, AWAY_L, AWAY_R, AWAY_X),
                ARRIVING: (ARRIVING, *ARRIVE_TO),
                **{a: (a, ARRIVING, *ARRIVE_TO) for a in ABROAD}}.items():
    ALLOWED[_i, list(_js)] = True
ARRIVAL = ALLOWED & ~PRESENT[:, None] & PRESENT[None, :]
DEPARTURE = ALLOWED & PRESENT[:, None] & ~PRESENT[None, :]
STAYING = ALLOWED & ~ARRIVAL & ~DEPARTURE


def _initial_transitions() -> np.ndarray:
    """Where EM starts (weekly): stays of years, trips of weeks, a few weeks arriving,
    newly arrived and leaving."""
    a = np.zeros((S, S))
    for new in ARRIVE_TO:
        a[new, [IN, TRIP, LEAVING, LEFT, AWAY_D, AWAY_L, AWAY_R, AWAY_X]] = (
            0.08, 0.002, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001)
    a[IN, [QUIET, TRIP, LEAVING, LEFT, AWAY_D, AWAY_L, AWAY_R, AWAY_X]] = (
        0.003, 0.003, 0.0003, 0.0003, 0.0003, 0.0003, 0.0003, 0.0003)
    a[QUIET, [IN, TRIP]] = (0.02, 0.001)
    a[LEAVING, [IN, LEFT, AWAY_D, AWAY_L, AWAY_R, AWAY_X]] = (0.01, 0.05, 0.1, 0.05, 0.03,
                                                              0.05)
    a[LEFT, [NEW, NEW_U, AWAY_D, AWAY_L, AWAY_R, AWAY_X]] = (0.003, 0.002, 0.02, 0.01, 0.01,
                                                             0.02)
    a[TRIP, IN] = 0.25
    a[ARRIVING, [NEW, NEW_U]] = (0.25, 0.05)
    for away in ABROAD:
        a[away, [ARRIVING, NEW, NEW_U]] = (0.0005, 0.0003, 0.0002)
    a[AWAY_R, [ARRIVING, NEW, NEW_U]] = (0.005, 0.003, 0.002)  # abroad a year or two
    a[np.arange(S), np.arange(S)] = 1 - a.sum(1)
    return a


def _by_state(default: float, **values: float) -> np.ndarray:
    """A per-state array: ``default`` but for the states named (``present=0.9, ...``)."""
    out = np.full(S, default, dtype=float)
    for name, value in values.items():
        out[STATES.index(name)] = value
    return out


def _initial_state(registered: bool) -> np.ndarray:
    if registered:
        return _by_state(0.01, present=0.80, present_quiet=0.08, abroad=0.04)
    return _by_state(0.01, present=0.10, present_quiet=0.04, abroad=0.78)


# codes of the weekly observation of each register (see ``register_codes``)
REG_STAYS, REG_ENDS, UNREG_STAYS, REG_STARTS_FROM_ABROAD, REG_STARTS = range(5)
PERMIT_VALID, PERMIT_RENEWED, PERMIT_ENDS, NO_PERMIT, PERMIT_STARTS, PERMIT_RESTARTS = range(6)
SURVEY_UNOBSERVED, SURVEY_NONE, SURVEY_INTERVIEW = range(3)
CROSS_NONE, CROSS_IN, CROSS_OUT, CROSS_UNOBSERVED = range(4)
N_REG, N_ALIENS, N_PERMIT, N_SURVEY = 5, 5, 6, 3
N_JOINT = N_REG * N_ALIENS * N_PERMIT * N_SURVEY


@dataclass
class ModelParameters:
    """Every rate of the presence model (weekly), as estimated (see the module docstring).
    Per-state arrays follow ``STATES``; the starting values only start EM (and weigh as
    ``PSEUDO_WEEKS`` person-weeks against the data)."""

    transitions: np.ndarray = field(
        default_factory=lambda: np.stack([_initial_transitions()] * len(GROUPS)))
    # first week's state, by group and by whether a registration was held then
    initial: np.ndarray = field(default_factory=lambda: np.array(
        [[_initial_state(False), _initial_state(True)]] * len(GROUPS)))
    activity_multiplier: np.ndarray = field(
        default_factory=lambda: _by_state(0.05, newly_arrived=1, arrived_unregistered=1, present=1,
                                          leaving=1, short_trip=0.5, just_left=0.3))
    activity_shape: float = 1.0  # gamma prior of the persons' rates (shape, rate)
    activity_rate: float = 10.0
    crossing_shape: tuple[float, float] = (1.0, 1.0)  # beta prior of the persons' coverage
    crossing_error: float = 0.01
    # population register: ends (deregistrations), starts, share of starts from abroad
    register_end: np.ndarray = field(default_factory=lambda: _by_state(
        5e-4, leaving=0.1, short_trip=2e-3, abroad_deregistering=0.1,
        abroad_deregistering_late=0.01))
    register_start: np.ndarray = field(default_factory=lambda: _by_state(
        5e-4, newly_arrived=0.1, arrived_unregistered=2e-3, present=2e-3,
        present_quiet=2e-3, arriving=0.01))
    register_from_abroad: np.ndarray = field(default_factory=lambda: _by_state(
        0.2, newly_arrived=0.8, arriving=0.5))
    aliens_end: np.ndarray = field(default_factory=lambda: _by_state(
        2e-3, leaving=0.05, abroad_deregistering=0.05, abroad_deregistering_late=0.01,
        abroad=0.01))
    aliens_start: np.ndarray = field(default_factory=lambda: _by_state(
        5e-4, newly_arrived=0.1, arrived_unregistered=2e-3, present=2e-3,
        present_quiet=2e-3, arriving=0.01))
    # residence permits: expiry, renewal (adjoining the last), another permit while held
    # (or after a short lapse), a first permit
    permit_end: np.ndarray = field(default_factory=lambda: _by_state(5e-3, abroad=0.01))
    permit_renewal: np.ndarray = field(default_factory=lambda: _by_state(
        2e-3, newly_arrived=5e-3, arrived_unregistered=5e-3, present=5e-3,
        present_quiet=5e-3, leaving=5e-3))
    permit_restart: np.ndarray = field(default_factory=lambda: _by_state(1e-3, arriving=0.01))
    permit_start: np.ndarray = field(default_factory=lambda: _by_state(
        2e-3, newly_arrived=0.1, arriving=0.05))
    census_enumerated: np.ndarray = field(default_factory=lambda: _by_state(
        0.05, newly_arrived=0.7, arrived_unregistered=0.7, present=0.95,
        present_quiet=0.9, leaving=0.9, short_trip=0.5, arriving=0.1))
    survey_interview: np.ndarray = field(default_factory=lambda: _by_state(
        1e-4, newly_arrived=2e-3, arrived_unregistered=2e-3, present=2e-3,
        present_quiet=2e-3, leaving=2e-3))
    log_likelihood: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = {"states": list(STATES)}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.tolist() if isinstance(value, np.ndarray) else value
        return out

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> ModelParameters:
        """Parameters written by ``to_json`` (a run's ``presence_model.json``)."""
        if values.get("states") != list(STATES):
            raise ValueError("presence_model.json holds another set of states: "
                             f"states={values.get('states')!r}")
        defaults = cls()
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in values:
                continue
            value = values[f.name]
            default = getattr(defaults, f.name)
            if isinstance(default, np.ndarray):
                value = np.asarray(value, dtype=float)
                if value.shape != default.shape:
                    raise ValueError(f"{f.name} has shape {value.shape}, expected "
                                     f"{default.shape}")
            elif isinstance(default, tuple):
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)


@dataclass
class Grid:
    """The model's time axis: week k covers days ``g0 + 7k`` to ``g0 + 7k + 6``; the data
    end on day ``as_of``. Per week, the share observed by the sign-of-life sources and
    whether surveys and the border were observed."""

    g0: int
    as_of: int
    activity_exposure: np.ndarray
    survey_observed: np.ndarray
    crossings_observed: np.ndarray
    census_weeks: np.ndarray

    @property
    def weeks(self) -> int:
        return int(self.activity_exposure.size)

    def week_of(self, day: np.ndarray | int) -> np.ndarray:
        """The step holding ``day``."""
        return np.floor_divide(np.asarray(day) - self.g0, STEP_DAYS)


@dataclass
class Persons:
    """One chunk of persons' evidence on the grid (N persons, K weeks); weekly arrays are
    time-major (K, N), so that each week's slice is contiguous."""

    index: np.ndarray  # (N,) person_idx
    group: np.ndarray  # (N,) 0 citizen, 1 foreigner
    first_week: np.ndarray  # (N,) first week the person exists (birth), >= 0
    last_week: np.ndarray  # (N,) last week observed (death or the end)
    born_here: np.ndarray  # (N,) forced present in the birth week when born here
    activity: np.ndarray  # (K, N) signs of life per week
    crossing: np.ndarray  # (K, N) CROSS_* code
    joint: np.ndarray  # (K, N) joint code of registers and survey
    census: np.ndarray  # (C, N) enumerated in each census week
    registered_at_start: np.ndarray  # (N,) any registration held in week 0
    activity_rate: np.ndarray  # (N,) the person's own rate (per week present)
    crossing_coverage: np.ndarray  # (N,) the person's own share of moves recorded

    def inside(self, weeks: int) -> np.ndarray:
        """(K, N): weeks the person lived and was observed, their first week excluded (the
        model's statistics leave births out)."""
        t = np.arange(weeks)[:, None]
        return (t > self.first_week[None, :]) & (t <= self.last_week[None, :])


def _log(x: np.ndarray) -> np.ndarray:
    return np.log(np.clip(x, 1e-12, 1.0))


def joint_emission_table(p: ModelParameters) -> np.ndarray:
    """log P(registers' and survey's weekly observation | state): (N_JOINT, S)."""
    reg = np.stack([_log(1 - p.register_end), _log(p.register_end),
                    _log(1 - p.register_start),
                    _log(p.register_start * p.register_from_abroad),
                    _log(p.register_start * (1 - p.register_from_abroad))])
    aliens = np.stack([_log(1 - p.aliens_end), _log(p.aliens_end), _log(1 - p.aliens_start),
                       _log(p.aliens_start), _log(p.aliens_start)])
    permit = np.stack([_log(1 - p.permit_end - p.permit_renewal - p.permit_restart),
                       _log(p.permit_renewal), _log(p.permit_end), _log(1 - p.permit_start),
                       _log(p.permit_start), _log(p.permit_restart)])
    survey = np.stack([np.zeros(S), _log(1 - p.survey_interview), _log(p.survey_interview)])
    table = (reg[:, None, None, None, :] + aliens[None, :, None, None, :]
             + permit[None, None, :, None, :] + survey[None, None, None, :, :])
    return table.reshape(N_JOINT, S).astype(np.float32)


def emissions(persons: Persons, grid: Grid, p: ModelParameters) -> np.ndarray:
    """Emission likelihoods (K, S, N), each week scaled so its largest is 1. Built state by
    state into the time-major layout, with one scratch week-by-person array (no temporary
    of the full size)."""
    table = joint_emission_table(p)
    k, n = persons.joint.shape
    log_e = np.empty((k, S, n), dtype=np.float32)
    log_m = _log(p.activity_multiplier).astype(np.float32)
    m = p.activity_multiplier.astype(np.float32)
    rate = grid.activity_exposure[:, None] * persons.activity_rate[None, :]  # (K, N)
    activity = persons.activity.astype(np.float32)
    enumerated = _log(p.census_enumerated).astype(np.float32)
    missed = _log(1 - p.census_enumerated).astype(np.float32)
    t = np.arange(k)[:, None]
    lived = (t >= persons.first_week[None, :]) & (t <= persons.last_week[None, :])  # (K, N)
    before = t < persons.first_week[None, :]  # not born yet: not present
    birth = (t == persons.first_week[None, :]) & (persons.born_here & (persons.first_week > 0))
    scratch = np.empty((k, n), dtype=np.float32)
    for s in range(S):
        row = log_e[:, s, :]
        np.take(np.ascontiguousarray(table[:, s]), persons.joint, out=row)
        row += np.multiply(activity, log_m[s], out=scratch)
        row -= np.multiply(rate, m[s], out=scratch)
        for c, week in enumerate(grid.census_weeks):
            row[week] += np.where(persons.census[c], enumerated[s], missed[s])
        row *= lived
        np.copyto(row, -np.inf, where=before if s < P else birth)  # born here: present
    log_e -= log_e.max(axis=1, keepdims=True)
    return np.exp(log_e, out=log_e)


def crossing_factors(persons: Persons, error: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per week and person (K, N), the likelihood of the crossings recorded given no move
    (``f_stay``), an arrival (``f_arrive``) and a departure (``f_depart``). ``error``: the
    chance of a crossing recorded in a week with no move."""
    kappa = persons.crossing_coverage[None, :].astype(np.float32)
    code = persons.crossing
    eps = np.float32(error)
    one = np.float32(1.0)
    f_stay = np.where((code == CROSS_IN) | (code == CROSS_OUT), eps, one)
    f_arrive = np.select([code == CROSS_IN, code == CROSS_OUT, code == CROSS_UNOBSERVED],
                         [kappa, (1 - kappa) * eps, one], 1 - kappa)
    f_depart = np.select([code == CROSS_OUT, code == CROSS_IN, code == CROSS_UNOBSERVED],
                         [kappa, (1 - kappa) * eps, one], 1 - kappa)
    return (f_stay.astype(np.float32), f_arrive.astype(np.float32),
            f_depart.astype(np.float32))


@dataclass
class Posterior:
    """What one pass of forward-backward gives for a chunk."""

    gamma: np.ndarray  # (K, S, N) P(state in week k | all evidence)
    log_likelihood: float
    transitions: np.ndarray  # (S, S) expected transitions, summed over the chunk
    moves: np.ndarray  # (4, N) expected arrivals recorded, arrivals, departures recorded, departures
    stay_errors: np.ndarray  # (2,) expected crossings recorded with no move, weeks with no move
    kept: Filtered | None = None  # kept for sampling and earlier as-of dates


@dataclass
class Filtered:
    """The forward pass of a chunk, kept: filtered state probabilities and what went into
    them, to read the posterior as of an earlier date or to draw paths."""

    alpha: np.ndarray  # (K, S, N)
    emission: np.ndarray  # (K, S, N)
    f_stay: np.ndarray  # (K, N)
    f_arrive: np.ndarray
    f_depart: np.ndarray
    a_stay: np.ndarray  # (S, S)
    a_move: np.ndarray



def _weigh_moves(x: np.ndarray, f_arrive: np.ndarray, f_depart: np.ndarray) -> np.ndarray:
    """Rows of moves into each state (S, N) times the crossings' likelihood of that move."""
    out = np.empty_like(x)
    np.multiply(x[:P], f_arrive, out=out[:P])
    np.multiply(x[P:], f_depart, out=out[P:])
    return out


def forward_backward(persons: Persons, grid: Grid, p: ModelParameters,
                     keep: bool = False, transitions: bool = True,
                     moves: bool = True) -> Posterior:
    """Scaled forward-backward over the weeks, vectorised over the persons of one group.

    A move (arrival or departure) and a week without one differ in what the border records,
    so the transition matrix is split into its stays and its moves: one product with
    ``[stays; moves]`` per week, each half weighted by its crossing likelihood. Arrays are
    (state, person) per week, so that each product runs along the persons.

    ``transitions``: count the expected transitions and crossings recorded with no move
    (what the M-step needs; left zero otherwise); ``moves``: count each person's expected
    moves (what their own crossing coverage needs). Decoding needs neither in its last
    pass, and the posterior is the same either way."""
    group = int(persons.group[0])
    a = p.transitions[group].astype(np.float32)
    a_stay, a_move = a * STAYING, a * (ARRIVAL | DEPARTURE)
    both_t = np.concatenate([a_stay.T, a_move.T], axis=0)  # (2S, S): next from previous
    e = emissions(persons, grid, p)
    f_stay, f_arrive, f_depart = crossing_factors(persons, p.crossing_error)
    k, _, n = e.shape
    alpha = np.empty_like(e)
    scale = np.empty((k, n), dtype=np.float32)
    init = p.initial[group][persons.registered_at_start.astype(int)].T.astype(np.float32)
    first = init * e[0]
    scale[0] = first.sum(0)
    alpha[0] = first / scale[0]
    for t in range(1, k):
        x = both_t @ alpha[t - 1]  # (2S, N)
        step = x[:S] * f_stay[t] + _weigh_moves(x[S:], f_arrive[t], f_depart[t])
        step *= e[t]
        total = step.sum(0)
        scale[t] = total
        alpha[t] = step / total
    log_likelihood = float(np.log(scale.astype(np.float64)).sum())
    kept = Filtered(alpha.copy(), e, f_stay, f_arrive, f_depart, a_stay, a_move) if keep \
        else None
    gamma = alpha  # overwritten in place, week by week from the end
    expected = np.zeros((S, S))
    moved_in = np.zeros((4, n))
    stay_errors = np.zeros(2)
    beta = np.ones((S, n), dtype=np.float32)
    inside = persons.inside(k).astype(np.float32)
    observed = persons.crossing != CROSS_UNOBSERVED
    both = both_t.T.copy()  # (S, 2S)
    for t in range(k - 1, 0, -1):
        gamma[t] *= beta
        eb = e[t] * beta / scale[t]  # (S, N)
        parts = np.concatenate([eb * f_stay[t], _weigh_moves(eb, f_arrive[t], f_depart[t])])
        prev = alpha[t - 1]
        beta = both @ parts  # (S, N)
        if transitions:
            xi = (prev * inside[t]) @ parts.T  # (S, 2S)
            expected += xi[:, :S] * a_stay + xi[:, S:] * a_move
        if not observed[t].any():
            continue
        code = persons.crossing[t]
        seen = observed[t]
        if moves:
            moved = (a_move.T @ prev) * parts[S:] * inside[t]  # (S, N): moves into each state
            arrivals, departures = moved[:P].sum(0), moved[P:].sum(0)
            moved_in[0] += np.where(code == CROSS_IN, arrivals, 0)
            moved_in[1] += np.where(seen, arrivals, 0)
            moved_in[2] += np.where(code == CROSS_OUT, departures, 0)
            moved_in[3] += np.where(seen, departures, 0)
        if transitions:
            stays = ((a_stay.T @ prev) * parts[:S]).sum(0) * inside[t]
            stay_errors[0] += float(stays[(code == CROSS_IN) | (code == CROSS_OUT)].sum())
            stay_errors[1] += float(stays[seen].sum())
    gamma[0] *= beta
    gamma /= gamma.sum(1, keepdims=True)
    return Posterior(gamma, log_likelihood, expected, moved_in, stay_errors, kept)


def presence_as_of(kept: Filtered, end_week: int, window: int) -> np.ndarray:
    """P(present) in weeks ``end_week - window`` to ``end_week`` (the last row) given only
    the evidence up to ``end_week``: a backward pass from there over the filtered
    probabilities, which never saw later evidence. (K', S) rows, (window + 1, N)."""
    start = max(0, end_week - window)
    n = kept.alpha.shape[2]
    both = np.concatenate([kept.a_stay, kept.a_move], axis=1)  # (S, 2S)
    beta = np.ones((S, n), dtype=np.float32)
    out = np.empty((end_week - start + 1, n), dtype=np.float32)
    for t in range(end_week, start - 1, -1):
        g = kept.alpha[t] * beta
        out[t - start] = g[:P].sum(0) / g.sum(0)
        if t == start:
            break
        eb = kept.emission[t] * beta
        parts = np.concatenate([eb * kept.f_stay[t],
                                _weigh_moves(eb, kept.f_arrive[t], kept.f_depart[t])])
        beta = both @ parts
        beta /= beta.sum(0)
    return out


def sample_paths(kept: Filtered, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``samples`` state paths per person from the posterior (forward filtering,
    backward sampling): (K, samples, N) states.

    Each week the cumulative weight of each previous state given each next one is worked out
    once (S x S per person, not S per path: there are more paths than states), laid out
    (previous, next, person) so that every sum runs along the persons, and every path picks
    its column."""
    k, _, n = kept.alpha.shape
    paths = np.empty((k, samples, n), dtype=np.uint8)
    state = _draw(np.broadcast_to(kept.alpha[-1][:, None, :], (S, samples, n)), rng)
    paths[-1] = state
    into_present = (np.arange(S) < P)[:, None]  # the kind of move into each next state
    stay = kept.a_stay[:, :, None]  # (previous, next, 1)
    move = kept.a_move[:, :, None]
    rows_of = np.arange(n)[None, :]
    weight = np.empty((S, S, n), dtype=np.float32)
    scratch = np.empty_like(weight)
    for t in range(k - 2, -1, -1):
        f_move = np.where(into_present, kept.f_arrive[t + 1][None, :],
                          kept.f_depart[t + 1][None, :])  # (next, N)
        np.multiply(stay, kept.f_stay[t + 1][None, None, :], out=weight)
        weight += np.multiply(move, f_move[None, :, :], out=scratch)
        weight *= kept.alpha[t][:, None, :]
        np.cumsum(weight, axis=0, out=weight)
        given = np.take(weight.reshape(S, S * n), state.astype(np.intp) * n + rows_of,
                        axis=1)  # (previous, M, N): each path's column
        u = rng.random(state.shape, dtype=np.float32) * given[-1]
        state = np.minimum(np.add.reduce(given < u, axis=0, dtype=np.uint8), S - 1)
        paths[t] = state
    return paths


def _draw(weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One state per (sample, person) from unnormalised weights (S, M, N)."""
    cumulative = np.cumsum(weight, axis=0)
    u = rng.random(weight.shape[1:], dtype=np.float32) * cumulative[-1]
    return np.minimum((cumulative < u).sum(0), S - 1).astype(np.uint8)


def presence_probability(post: Posterior) -> np.ndarray:
    """P(present in week k) per person: (K, N)."""
    return post.gamma[:, :P].sum(1)


def log_summary(p: ModelParameters) -> None:
    log.info("presence model: log-likelihood %s",
             ", ".join(f"{x:,.0f}" for x in p.log_likelihood[-3:]))


def describe(p: ModelParameters) -> dict[str, Any]:
    """The estimated parameters in a methodologist's units (weeks, shares)."""
    a = p.transitions

    def weeks(rate: float) -> float | None:  # rates are per step
        return None if rate <= 1e-9 else round(STEP_DAYS / 7 / rate, 1)

    def per_state(values: np.ndarray, digits: int = 4) -> dict[str, float]:
        return dict(zip(STATES, np.round(values, digits).tolist(), strict=True))

    out: dict[str, Any] = {
        "states": list(STATES),
        "sign_of_life_multiplier": per_state(p.activity_multiplier),
        "sign_of_life_rate_per_month_mean": round(4.345 * p.activity_shape / p.activity_rate, 3),
        "crossing_coverage_mean": round(p.crossing_shape[0] / sum(p.crossing_shape), 3),
        "crossing_coverage_concentration": round(sum(p.crossing_shape), 2),
        "census_coverage": per_state(p.census_enumerated, 3),
        "deregistration_per_step": per_state(p.register_end),
        "mean_weeks_to_deregister": {STATES[s]: weeks(float(p.register_end[s]))
                                     for s in (LEAVING, AWAY_D, AWAY_L)},
        "mean_weeks_to_register_after_arrival": weeks(float(p.register_start[NEW])),
        "mean_weeks_permit_outlasts_stay": weeks(float(p.permit_end[AWAY_X])),
    }
    for g, name in enumerate(GROUPS):
        leaving = a[g, IN, [LEAVING, *LEAVE_TO]]
        out[name] = {
            "departures_by_way": dict(zip(["announced", *(STATES[x] for x in LEAVE_TO)],
                                          np.round(leaving / max(leaving.sum(), 1e-12), 3)
                                          .tolist(), strict=True)),
            "mean_weeks_present_between_departures": weeks(float(a[g, IN, P:].sum())),
            "mean_weeks_abroad_before_return": weeks(
                float(a[g, AWAY_X, [ARRIVING, *ARRIVE_TO]].sum())),
            "share_of_arrivals_unregistered": round(float(
                a[g, ARRIVING, NEW_U] / max(a[g, ARRIVING, list(ARRIVE_TO)].sum(), 1e-12)), 3),
            "mean_weeks_of_trip": weeks(float(a[g, TRIP, IN])),
            "mean_weeks_newly_arrived": weeks(float(1 - a[g, NEW, NEW])),
            "mean_weeks_quiet": weeks(float(1 - a[g, QUIET, QUIET])),
            "mean_weeks_leaving": weeks(float(1 - a[g, LEAVING, LEAVING])),
            "mean_weeks_arriving": weeks(float(1 - a[g, ARRIVING, ARRIVING])),
        }
    out["log_likelihood"] = p.log_likelihood
    return out
