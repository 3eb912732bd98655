"""Disclosure control: a reader holding the published table and its margins cannot recover a
suppressed cell. The auditor is independent of the code under test: linear programming over
the line equations (non-negative counts) gives each suppressed cell's feasible interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pipelines.disclosure import TOTAL, protect, random_round

MIN_CELL = 5


def _intervals(table: pd.DataFrame, dims: list[str]) -> dict[int, tuple[float, float]]:
    """Feasible [min, max] of every suppressed cell, given every published cell and the
    equations 'components of a line add up to its total'."""
    hidden = list(table.index[table["count"].isna()])
    if not hidden:
        return {}
    pos = {r: i for i, r in enumerate(hidden)}
    a_eq, b_eq = [], []
    for d in dims:
        others = [o for o in dims if o != d]
        for _, line in table.groupby(others, dropna=False) if others else [((), table)]:
            totals = line[line[d] == TOTAL]
            if len(totals) != 1:
                continue
            row, rhs = np.zeros(len(hidden)), 0.0
            for r, v in zip(line.index, line["count"], strict=True):
                sign = -1.0 if line.at[r, d] == TOTAL else 1.0
                if r in pos:
                    row[pos[r]] += sign
                else:
                    rhs -= sign * float(v)
            if row.any():
                a_eq.append(row)
                b_eq.append(rhs)
    result = {}
    for r, i in pos.items():
        c = np.zeros(len(hidden))
        c[i] = 1.0
        lo = linprog(c, A_eq=a_eq or None, b_eq=b_eq or None, bounds=(0, None))
        hi = linprog(-c, A_eq=a_eq or None, b_eq=b_eq or None, bounds=(0, None))
        result[r] = (lo.fun, -hi.fun if hi.status == 0 else float("inf"))
    return result


@st.composite
def tables(draw):
    sizes = draw(st.lists(st.integers(2, 3), min_size=2, max_size=3))
    dims = [f"d{i}" for i in range(len(sizes))]
    index = pd.MultiIndex.from_product([[f"c{j}" for j in range(n)] for n in sizes],
                                       names=dims).to_frame(index=False)
    counts = draw(st.lists(st.one_of(st.integers(0, 4), st.integers(5, 40)),
                           min_size=len(index), max_size=len(index)))
    index["count"] = counts
    index["year"] = 2020
    return index[index["count"] > 0].reset_index(drop=True), dims


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_no_small_cell_can_be_recovered_from_the_margins(case):
    cells, dims = case
    published = protect(cells, dims, ["year"], MIN_CELL)
    merged = published.merge(cells.rename(columns={"count": "true"}), how="left",
                             on=["year", *dims])
    # every small cell is hidden
    small = merged["true"].between(1, MIN_CELL - 1)
    assert merged.loc[small, "count"].isna().all()
    # and no hidden cell is pinned down by the published cells and the line equations
    for _row, (lo, hi) in _intervals(published, dims).items():
        assert hi - lo > 0.5, (lo, hi)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([1, 2, 6, 7]), min_size=32, max_size=32),
       st.integers(0, 2**31 - 1))
def test_the_cells_order_does_not_change_what_is_hidden(counts, seed):
    # the database returns rows in any order: the published table must not depend on it
    # (a 4 x 4 x 2 table of few distinct counts, so that many partners tie)
    dims = ["d0", "d1", "d2"]
    cells = pd.MultiIndex.from_product([[f"c{j}" for j in range(n)] for n in (4, 4, 2)],
                                       names=dims).to_frame(index=False)
    cells["count"], cells["year"] = counts, 2020
    shuffled = cells.sample(frac=1, random_state=seed).reset_index(drop=True)
    pd.testing.assert_frame_equal(protect(cells, dims, ["year"], MIN_CELL),
                                  protect(shuffled, dims, ["year"], MIN_CELL))


def test_a_two_by_three_table_gets_the_classic_rectangle():
    cells = pd.DataFrame({"year": 2020, "sex": ["F", "F", "F", "M", "M", "M"],
                          "age": ["0-4", "5-9", "10-14"] * 2, "count": [2, 10, 12, 8, 9, 15]})
    published = protect(cells, ["sex", "age"], ["year"], MIN_CELL)
    hidden = published[published["count"].isna()][["sex", "age", "suppression"]]
    assert sorted(map(tuple, hidden.to_numpy())) == [
        ("F", "0-4", "primary"), ("F", "5-9", "secondary"),
        ("M", "0-4", "secondary"), ("M", "5-9", "secondary")]
    assert published.query("sex == 'TOTAL' and age == 'TOTAL'")["count"].item() == 56


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=50), st.integers(0, 10**6))
def test_random_rounding_lands_on_a_neighbouring_multiple_of_three(counts, seed):
    rounded = random_round(pd.Series(counts, dtype="Int64"), seed)
    for before, after in zip(counts, rounded, strict=True):
        assert after % 3 == 0 and abs(after - before) < 3
    assert rounded.equals(random_round(pd.Series(counts, dtype="Int64"), seed))  # seeded


def test_random_rounding_is_unbiased_on_average():
    counts = pd.Series([7] * 30000, dtype="Int64")
    assert abs(random_round(counts, seed=1).astype(float).mean() - 7) < 0.05
