"""Disclosure control for published tables (METHOD.md section 5).

A table is published with its margins: for every classifying dimension a ``TOTAL`` category,
so each *line* (the cells that differ only in one dimension, with that dimension's total) is a
linear constraint a reader can use. Protection:

1. **Primary suppression**: cells with ``0 < count < min_cell``.
2. **Secondary suppression**: until no suppressed cell can be recovered from the published
   cells by the line equations. First the classic rule (a line never holds exactly one
   suppressed cell: add the smallest published cell of that line), then an exact audit: a
   suppressed cell is recoverable when its unit vector lies in the row space of the line
   equations restricted to the suppressed cells (null space check by SVD); such a cell's
   lines get another suppression, and the audit repeats.
3. Optional **random rounding to base 3** (Stats NZ RR3), seeded: a count is rounded to the
   nearest multiple of 3 below or above with probabilities 1 - r/3 and r/3 (r its remainder),
   independently per cell, totals included; published counts then do not add up exactly.

``by`` dimensions (rule, year, reference date) split a table into independent tables and get
no totals. Works on pandas frames; tables are small once aggregated.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

TOTAL = "TOTAL"


def with_margins(cells: pd.DataFrame, dims: list[str], by: list[str], value: str = "count"
                 ) -> pd.DataFrame:
    """``cells`` plus every marginal total: for each subset of ``dims`` summed over, rows
    with ``TOTAL`` in those dimensions."""
    frame = cells.copy()
    for d in dims:
        frame[d] = frame[d].astype("string").fillna("unknown")
    parts = [frame[by + dims + [value]]]
    for k in range(1, len(dims) + 1):
        for summed in itertools.combinations(dims, k):
            kept = [d for d in dims if d not in summed]
            part = frame.groupby(by + kept, dropna=False, as_index=False)[value].sum()
            for d in summed:
                part[d] = TOTAL
            parts.append(part[by + dims + [value]])
    return pd.concat(parts, ignore_index=True)


def _lines(table: pd.DataFrame, dims: list[str]) -> list[np.ndarray]:
    """Each line as an array of row positions, the total last."""
    lines = []
    for d in dims:
        others = [o for o in dims if o != d]
        groups = table.groupby(others, dropna=False, sort=False).indices if others \
            else {(): np.arange(len(table))}
        for rows in groups.values():
            rows = np.asarray(rows)
            is_total = (table[d].to_numpy()[rows] == TOTAL)
            if is_total.sum() == 1 and len(rows) > 1:
                lines.append(np.concatenate([rows[~is_total], rows[is_total]]))
    return lines


def _recoverable(lines: list[np.ndarray], suppressed: np.ndarray) -> np.ndarray:
    """Positions of suppressed cells the line equations determine exactly."""
    cols = np.flatnonzero(suppressed)
    if len(cols) == 0:
        return cols
    index = {c: i for i, c in enumerate(cols)}
    rows = []
    for line in lines:
        if not suppressed[line].any():
            continue
        row = np.zeros(len(cols))
        for c in line[:-1]:
            if suppressed[c]:
                row[index[c]] = 1.0
        if suppressed[line[-1]]:
            row[index[line[-1]]] = -1.0
        rows.append(row)
    if not rows:
        return np.array([], dtype=int)
    matrix = np.array(rows)
    # the equations fall apart into groups of hidden cells linked through shared lines:
    # solve each group alone (small matrices, however large the table)
    parent = list(range(len(cols)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for row in matrix:
        members = np.flatnonzero(row)
        for j in members[1:]:
            parent[root(int(j))] = root(int(members[0]))
    groups: dict[int, list[int]] = {}
    for i in range(len(cols)):
        groups.setdefault(root(i), []).append(i)
    determined = []
    for members in groups.values():
        sub = matrix[:, members]
        sub = sub[np.abs(sub).sum(axis=1) > 0]
        if len(sub) == 0:
            continue
        # a cell is pinned when its unit vector lies in the row space: the projection
        # onto the row space (V_r V_r^T) then has 1 on its diagonal
        # many small SVDs: BLAS threads only contend, and on a busy machine they spin
        with threadpool_limits(limits=1, user_api="blas"):
            _, sv, vt = np.linalg.svd(sub, full_matrices=False)
        rank = int((sv > 1e-9 * max(1.0, sv.max(initial=0.0))).sum())
        pinned = (vt[:rank] ** 2).sum(axis=0) > 1 - 1e-9
        determined.extend(cols[np.asarray(members)[pinned]])
    return np.array(sorted(determined), dtype=int)


def _protect_one(table: pd.DataFrame, dims: list[str], value: str, min_cell: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    counts = table[value].to_numpy()
    primary = (counts > 0) & (counts < min_cell)
    suppressed = primary.copy()
    lines = _lines(table, dims)
    line_of: dict[int, list[np.ndarray]] = {}
    for line in lines:
        for c in line:
            line_of.setdefault(int(c), []).append(line)

    def add_partner(line: np.ndarray) -> bool:
        free = [c for c in line if not suppressed[c] and counts[c] > 0]
        if not free:
            return False
        suppressed[min(free, key=lambda c: (counts[c], c))] = True
        return True

    for _ in range(len(table) + 1):
        changed = False
        for line in lines:
            if suppressed[line].sum() == 1 and add_partner(line):
                changed = True
        if not changed:
            exposed = _recoverable(lines, suppressed)
            exposed = [c for c in exposed if counts[c] > 0]
            if not exposed:
                break
            for cell in exposed:     # one more hidden cell in a line of each exposed cell
                for line in line_of.get(cell, []):
                    if add_partner(line):
                        changed = True
                        break
            if not changed:   # its lines are all hidden already: widen to any line that
                free = [c for line in lines if suppressed[line].any()   # holds a hidden cell
                        for c in line if not suppressed[c] and counts[c] > 0]
                if not free:
                    break
                suppressed[min(free, key=lambda c: (counts[c], c))] = True
    return primary, suppressed & ~primary


def random_round(counts: pd.Series, seed: int, base: int = 3) -> pd.Series:
    """Unbiased random rounding to ``base`` (RR3 for base 3), seeded; nulls stay null."""
    rng = np.random.default_rng(seed)
    values = counts.to_numpy(dtype="float64", na_value=np.nan)
    remainder = np.mod(values, base)
    up = rng.random(len(values)) < remainder / base
    rounded = values - remainder + np.where(up, base, 0)
    out = pd.Series(rounded, index=counts.index).round().astype("Int64")
    return out.where(~np.isnan(values), pd.NA)


def protect(cells: pd.DataFrame, dims: list[str], by: list[str], min_cell: int,
            value: str = "count", rounding_seed: int | None = None) -> pd.DataFrame:
    """The published table: ``cells`` with margins, ``count`` null where suppressed,
    ``suppression`` = ``primary`` / ``secondary`` / null, and RR3 when ``rounding_seed``."""
    # cells in a fixed order: partners are chosen by position among equal counts, and the
    # rows came in the order the database returned them (two runs on the same data hid
    # 19,970 and 19,971 cells)
    table = with_margins(cells, dims, by, value).sort_values(by + dims, kind="stable") \
        .reset_index(drop=True)
    reason = pd.Series(pd.NA, index=table.index, dtype="string")
    groups: Any = table.groupby(by, dropna=False, sort=True).indices if by \
        else {(): np.arange(len(table))}
    for rows in groups.values():
        part = table.iloc[rows].reset_index(drop=True)
        primary, secondary = _protect_one(part, dims, value, min_cell)
        reason.iloc[np.asarray(rows)[primary]] = "primary"
        reason.iloc[np.asarray(rows)[secondary]] = "secondary"
    published = table[value].astype("Int64")
    if rounding_seed is not None:
        published = random_round(published, rounding_seed)
    table[value] = published.where(reason.isna(), pd.NA)
    table["suppression"] = reason
    return table.sort_values(by + dims, kind="stable").reset_index(drop=True)
