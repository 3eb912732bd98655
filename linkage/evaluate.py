"""Scores of the linkage against ground truth: pairwise, counted without enumerating pairs.

Persons pairwise: a pair of records is predicted linked when both records have the same
``person_id``, truly linked when both have the same ``true_person_id``. With ``n_ct`` the
records of predicted cluster c and true person t, true positives are sum C(n_ct, 2),
predicted pairs sum_c C(n_c, 2), true pairs sum_t C(n_t, 2).
"""

from __future__ import annotations

from typing import Any

from schemas import sql as db


def prf(tp: float, predicted: float, actual: float) -> dict[str, float]:
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_positives": tp,
            "predicted": predicted, "actual": actual}


def persons_pairwise(con: Any, person_records: str = "person_records",
                     truth: str = "truth_record_person") -> dict[str, float]:
    """Pairwise precision, recall and F1 of persons against ``true_person_id``."""
    tp, predicted, actual = db.rows(con, "evaluate",
                                    f"""
        WITH j AS (
            SELECT p.person_id, t.true_person_id
            FROM {person_records} AS p
            JOIN {truth} AS t ON t.source = p.source AND t.record_id = p.record_id
        ),
        cells AS (SELECT count(*) AS n FROM j GROUP BY person_id, true_person_id),
        clusters AS (SELECT count(*) AS n FROM j GROUP BY person_id),
        people AS (SELECT count(*) AS n FROM j GROUP BY true_person_id)
        SELECT (SELECT sum(n * (n - 1) / 2) FROM cells),
               (SELECT sum(n * (n - 1) / 2) FROM clusters),
               (SELECT sum(n * (n - 1) / 2) FROM people)""")[0]
    return prf(float(tp or 0), float(predicted or 0), float(actual or 0))


def links_pairwise(con: Any, links: str = "links", truth: str = "truth_record_person",
                   threshold: float = 0.5) -> dict[str, float]:
    """Precision of accepted links (pairs of representative records) against the truth."""
    tp, predicted = db.rows(con, "evaluate",
                            f"""
        SELECT count(*) FILTER (WHERE tl.true_person_id = tr.true_person_id), count(*)
        FROM {links} AS l
        JOIN {truth} AS tl ON tl.source = l.source_l AND tl.record_id = l.record_id_l
        JOIN {truth} AS tr ON tr.source = l.source_r AND tr.record_id = l.record_id_r
        WHERE l.match_probability >= {float(threshold)!r}""")[0]
    precision = tp / predicted if predicted else 1.0
    return {"precision": precision, "accepted": int(predicted), "true": int(tp)}


def exact_persons(con: Any, person_records: str = "person_records",
                  truth: str = "truth_record_person") -> dict[str, float]:
    """Share of true persons whose records all ended up in one person holding nobody
    else's (``exact``), and share whose records all ended up in one person (``unsplit``)."""
    true_persons, unsplit, exact = db.rows(con, "evaluate",
                                           f"""
        WITH j AS (
            SELECT p.person_id, t.true_person_id
            FROM {person_records} AS p
            JOIN {truth} AS t ON t.source = p.source AND t.record_id = p.record_id
        ),
        spread AS (SELECT true_person_id, count(DISTINCT person_id) AS persons,
                          min(person_id) AS person_id
                   FROM j GROUP BY true_person_id),
        purity AS (SELECT person_id, count(DISTINCT true_person_id) AS true_persons
                   FROM j GROUP BY person_id)
        SELECT count(*), count(*) FILTER (WHERE s.persons = 1),
               count(*) FILTER (WHERE s.persons = 1 AND u.true_persons = 1)
        FROM spread AS s JOIN purity AS u USING (person_id)""")[0]
    n = float(true_persons or 0)
    return {"true_persons": int(n), "unsplit_person_rate": unsplit / n if n else 1.0,
            "exact_person_rate": exact / n if n else 1.0}
