"""Population size from incomplete lists: dual- and multiple-systems estimation.

Works on any capture-history table, so it can be used from a notebook on lists that never
went through miglink: one 0/1 column per list and a column of counts, one row per observed
history (histories not given count zero; the all-zero history cannot be observed).

Multiple-systems estimation (Bishop, Fienberg and Holland 1975, ch. 6; Silverman 2020):
the counts of the observable histories are Poisson with
``log mu(w) = intercept + sum of the main effects of the lists w is on + the two-list
interactions among them``. Every model holds all main effects and a set of two-list
interactions (any such set is hierarchical); the unobserved count is ``exp(intercept)``.
Models are chosen by BIC (or AIC), by trying every set of interactions for up to
``EXHAUSTIVE_LISTS`` lists and stepwise beyond. Models that are not identifiable, that hold
an interaction between two lists nobody is on together, or whose unobserved count runs off
to infinity (a linear programme finds the direction) are left out; other parameters on the
boundary are taken at their limit (extended maximum likelihood, Fienberg and Rinaldo 2012). The interval is the profile likelihood of the
population size (Cormack 1992): the multinomial likelihood of the complete table, the
unobserved count ``N - n`` included, maximised over the model's parameters for each ``N``.

The Poisson fits are statsmodels' GLM; nothing here knows about linkage or migration.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# every set of two-list interactions is tried up to this many lists (2^10 models at five)
EXHAUSTIVE_LISTS = 4
# chi-square(1) quantiles for the profile-likelihood intervals
_CHI2_1 = {0.8: 1.6423744, 0.9: 2.7055435, 0.95: 3.8414588, 0.99: 6.6348966}
LEVELS = frozenset(_CHI2_1)  # the interval levels offered

Pair = tuple[str, str]


@dataclass(frozen=True)
class Fit:
    """One log-linear model fitted to a capture-history table."""

    lists: tuple[str, ...]
    interactions: tuple[Pair, ...]
    observed: int
    unobserved: float
    log_likelihood: float
    parameters: int
    cells: int
    deviance: float
    criterion: str = "bic"
    interval: tuple[float, float] | None = None
    level: float | None = None

    @property
    def estimate(self) -> float:
        return self.observed + self.unobserved

    @property
    def bic(self) -> float:
        """With the number of units observed as the sample size, as in R's
        MultipleSystemsEstimation (Silverman, Chan and Vincent 2024)."""
        return -2 * self.log_likelihood + self.parameters * math.log(self.observed)

    @property
    def aic(self) -> float:
        return -2 * self.log_likelihood + 2 * self.parameters

    @property
    def score(self) -> float:
        return self.bic if self.criterion == "bic" else self.aic

    @property
    def name(self) -> str:
        """The model's generating class, lists by number: ``[12,3]`` is lists 1 and 2
        dependent, 3 independent of both (the notation of R's MultipleSystemsEstimation)."""
        number = {name: str(i + 1) for i, name in enumerate(self.lists)}
        terms = [number[a] + number[b] for a, b in self.interactions]
        alone = [number[x] for x in self.lists
                 if not any(x in pair for pair in self.interactions)]
        return "[" + ",".join(sorted(terms) + alone) + "]"

    def as_dict(self) -> dict[str, object]:
        return {"model": self.name, "interactions": [list(p) for p in self.interactions],
                "observed": self.observed, "unobserved": self.unobserved,
                "estimate": self.estimate, "interval": list(self.interval or ()) or None,
                "level": self.level, "bic": self.bic, "aic": self.aic,
                "deviance": self.deviance,
                "residual_df": self.cells - self.parameters}


@dataclass
class Estimate:
    """The chosen model, its interval, and every model it was chosen from."""

    fit: Fit
    ranking: list[Fit] = field(default_factory=list)

    @property
    def estimate(self) -> float:
        return self.fit.estimate

    @property
    def interval(self) -> tuple[float, float] | None:
        return self.fit.interval

    def table(self) -> pd.DataFrame:
        """The models tried, best first, as R's packages print them."""
        return pd.DataFrame([{"model": f.name, "estimate": f.estimate, "bic": f.bic,
                              "aic": f.aic, "deviance": f.deviance,
                              "residual_df": f.cells - f.parameters} for f in self.ranking])


def capture_histories(membership: pd.DataFrame, lists: Sequence[str],
                      weight: str | None = None) -> pd.DataFrame:
    """Count the histories of a table of units (one row each, a 0/1 or boolean column per
    list; ``weight`` a column of counts if rows stand for several): one row per observed
    history with its ``count``. Units on no list are dropped (they cannot be observed)."""
    lists = list(lists)
    frame = membership[lists].astype(bool).astype(int)
    frame["count"] = membership[weight] if weight else 1
    frame = frame[frame[lists].sum(axis=1) > 0]
    return frame.groupby(lists, as_index=False)["count"].sum()


def _complete(table: pd.DataFrame, lists: Sequence[str], count: str) -> pd.DataFrame:
    """Every observable history (zeros where the table has none), in a fixed order."""
    histories = pd.DataFrame(list(itertools.product([0, 1], repeat=len(lists)))[1:],
                             columns=list(lists))
    given = table[list(lists)].astype(int).assign(_n=table[count].astype(float))
    if given[list(lists)].sum(axis=1).eq(0).any():
        raise ValueError("a capture-history table cannot hold the all-zero history")
    given = given.groupby(list(lists), as_index=False)["_n"].sum()
    return histories.merge(given, on=list(lists), how="left").fillna({"_n": 0.0})


def _design(histories: pd.DataFrame, lists: Sequence[str],
            interactions: Sequence[Pair]) -> np.ndarray:
    columns = [np.ones(len(histories))] + [histories[x].to_numpy(float) for x in lists]
    columns += [(histories[a] * histories[b]).to_numpy(float) for a, b in interactions]
    return np.column_stack(columns)


def _poisson(y: np.ndarray, x: np.ndarray, start: np.ndarray | None = None):
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return sm.GLM(y, x, family=sm.families.Poisson()).fit(start_params=start,
                                                              maxiter=100)


def _unobserved_unbounded(y: np.ndarray, x: np.ndarray) -> bool:
    """Whether the likelihood keeps rising as the unobserved count grows without end: is
    there a direction of the parameters that leaves the mean of every cell with units as it
    is, raises none of the empty cells' and raises the intercept (Fienberg and Rinaldo
    2012: the estimate lies on the boundary, at infinity)? A linear programme. Directions
    that send the unobserved count to zero are fine: that limit is the estimate."""
    from scipy.optimize import linprog

    empty = y == 0
    if not empty.any():
        return False
    objective = np.zeros(x.shape[1])
    objective[0] = -1.0  # maximise the intercept's direction
    result = linprog(objective, A_ub=x[empty], b_ub=np.zeros(empty.sum()),
                     A_eq=x[~empty], b_eq=np.zeros((~empty).sum()),
                     bounds=[(-1.0, 1.0)] * x.shape[1], method="highs")
    return bool(result.status == 0 and -result.fun > 1e-9)


def fit_model(table: pd.DataFrame, lists: Sequence[str], interactions: Sequence[Pair] = (),
              count: str = "count", criterion: str = "bic", level: float | None = 0.95
              ) -> Fit | None:
    """Fit the model with all main effects and ``interactions`` (pairs of list names);
    ``None`` where its estimate does not exist or is not identifiable. ``level`` asks for
    the profile-likelihood interval (``None``: none)."""
    lists = tuple(lists)
    return _fit(_complete(table, lists, count), lists, interactions, criterion, level)


def _fit(histories: pd.DataFrame, lists: tuple[str, ...], interactions: Sequence[Pair],
         criterion: str, level: float | None) -> Fit | None:
    interactions = tuple(tuple(p) for p in interactions)
    y = histories["_n"].to_numpy()
    x = _design(histories, lists, interactions)
    for column in x[:, 1 + len(lists):].T:
        if y[column > 0].sum() == 0:
            return None  # nobody on both lists: the interaction's estimate is minus infinity
    if np.linalg.matrix_rank(x) < x.shape[1]:
        return None
    result = _poisson(y, x)
    beta = np.asarray(result.params)
    if not result.converged or not np.all(np.isfinite(beta)) or _unobserved_unbounded(y, x):
        return None
    fit = Fit(lists=lists, interactions=interactions, observed=int(round(y.sum())),
              unobserved=float(math.exp(beta[0])), log_likelihood=float(result.llf),
              parameters=x.shape[1], cells=len(y), deviance=float(result.deviance),
              criterion=criterion)
    if level is None:
        return fit
    interval = profile_interval(y, x, fit.estimate, level)
    return Fit(**{**fit.__dict__, "interval": interval, "level": level})


def _profile_log_likelihood(y: np.ndarray, x: np.ndarray, total: float,
                            start: np.ndarray | None) -> tuple[float, np.ndarray]:
    """The multinomial log-likelihood of the complete table with ``total - n`` unobserved,
    maximised over the model's parameters (a Poisson fit whose intercept matches the
    total), up to a constant."""
    n = y.sum()
    unobserved = total - n
    y_all = np.append(y, unobserved)
    x_all = np.vstack([x, np.eye(1, x.shape[1])])
    try:
        result = _poisson(y_all, x_all, start)
    except ValueError:  # a start at the boundary (a list holding every unit) overflows
        try:
            result = _poisson(y_all, x_all)
        except ValueError:
            return -math.inf, start
    mu = np.asarray(result.fittedvalues)
    p = mu / mu.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(y_all > 0, y_all * np.log(p), 0.0)
    value = math.lgamma(total + 1) - math.lgamma(unobserved + 1) + terms.sum()
    return float(value), np.asarray(result.params)


def profile_interval(y: np.ndarray, x: np.ndarray, estimate: float, level: float = 0.95
                     ) -> tuple[float, float]:
    """The population sizes whose profile log-likelihood is within ``chi2_1(level) / 2`` of
    its maximum. The upper end is infinite when the likelihood never falls that far (a
    model that cannot tell the unobserved from the observed, as often with few overlaps)."""
    drop = _CHI2_1[level] / 2
    n = float(y.sum())
    start = None

    def ell(total: float) -> float:
        nonlocal start
        value, start = _profile_log_likelihood(y, x, total, start)
        return value

    # the maximum: near the Poisson estimate; a few golden-section steps find it
    lo, hi = n, max(estimate * 1.5, n + 10)
    for _ in range(40):
        a, b = lo + (hi - lo) * 0.382, lo + (hi - lo) * 0.618
        if ell(a) < ell(b):
            lo = a
        else:
            hi = b
    top_at = (lo + hi) / 2
    top = ell(top_at)

    def root(inside: float, outside: float) -> float:
        for _ in range(50):
            middle = (inside + outside) / 2
            if top - ell(middle) > drop:
                outside = middle
            else:
                inside = middle
            if abs(outside - inside) < 1e-6 * max(1.0, inside):
                break
        return (inside + outside) / 2

    lower = n if top - ell(n) <= drop else root(top_at, n)
    if lower - n < 1e-5 * max(1.0, n):  # as near the observed as bisection tells apart
        lower = n
    upper_probe = top_at + max(top_at - n, 1.0)
    while top - ell(upper_probe) <= drop:
        upper_probe = top_at + 2 * (upper_probe - top_at)
        if upper_probe > 1000 * max(n, 1):
            return lower, math.inf
    return lower, root(top_at, upper_probe)


def candidate_interactions(lists: Sequence[str]) -> list[Pair]:
    return list(itertools.combinations(lists, 2))


def estimate_population(table: pd.DataFrame, lists: Sequence[str] | None = None,
                        count: str = "count", criterion: str = "bic", level: float = 0.95,
                        interactions: Sequence[Pair] | None = None,
                        exhaustive_lists: int = EXHAUSTIVE_LISTS) -> Estimate:
    """The population size from a capture-history table: the model chosen by ``criterion``
    (``"bic"`` or ``"aic"``) among those with all main effects and any two-list
    interactions (every such model up to ``exhaustive_lists`` lists, stepwise beyond), or
    the model of ``interactions`` if given; with its profile-likelihood interval at
    ``level``. ``lists`` defaults to every column but ``count``."""
    if criterion not in ("bic", "aic"):
        raise ValueError(f"criterion must be 'bic' or 'aic', not {criterion!r}")
    lists = tuple(lists or [c for c in table.columns if c != count])
    if len(lists) < 2:
        raise ValueError("population size needs at least two lists")
    histories = _complete(table, lists, count)
    if interactions is not None:
        fit = _fit(histories, lists, interactions, criterion, level)
        if fit is None:
            raise ValueError("the model's estimate does not exist for this table")
        return Estimate(fit, [fit])
    pairs = candidate_interactions(lists)
    tried: dict[tuple[Pair, ...], Fit | None] = {}

    def fit(terms: Sequence[Pair]) -> Fit | None:
        key = tuple(sorted(terms))
        if key not in tried:
            tried[key] = _fit(histories, lists, key, criterion, level=None)
        return tried[key]

    if len(lists) <= exhaustive_lists:
        for k in range(len(pairs) + 1):
            for terms in itertools.combinations(pairs, k):
                fit(terms)
    else:
        _stepwise(pairs, fit)
    ranking = sorted((f for f in tried.values() if f is not None),
                     key=lambda f: (f.score, len(f.interactions)))
    if not ranking:
        raise ValueError("no model's estimate exists for this table")
    best = ranking[0]
    chosen = _fit(histories, lists, best.interactions, criterion, level)
    assert chosen is not None
    return Estimate(chosen, ranking)


def _stepwise(pairs: list[Pair], fit) -> None:
    """From main effects: add the interaction that lowers the criterion most, then drop any
    whose removal lowers it, until neither helps."""
    terms: list[Pair] = []
    current = fit(terms)
    while True:
        moves = [[*terms, p] for p in pairs if p not in terms]
        moves += [[q for q in terms if q != p] for p in terms]
        scored = [(f.score, m) for m in moves if (f := fit(m)) is not None]
        if not scored or current is None:
            return
        score, move = min(scored, key=lambda s: s[0])
        if score >= current.score - 1e-9:
            return
        terms, current = move, fit(move)


def normal_quantile(level: float) -> float:
    """The normal's two-sided quantile for an interval at ``level`` (one of ``LEVELS``)."""
    return math.sqrt(_CHI2_1[level])


def chapman(n1: float, n2: float, both: float, level: float = 0.95) -> dict[str, float]:
    """Dual-system estimate of two lists (Chapman 1951), its standard error (Seber 1970) and
    a normal interval at ``level``."""
    estimate = (n1 + 1) * (n2 + 1) / (both + 1) - 1
    variance = (n1 + 1) * (n2 + 1) * (n1 - both) * (n2 - both) / ((both + 1) ** 2 * (both + 2))
    z = normal_quantile(level)
    se = math.sqrt(variance)
    return {"estimate": estimate, "standard_error": se,
            "low": max(estimate - z * se, n1 + n2 - both), "high": estimate + z * se}
