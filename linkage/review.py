"""Clerical review: people label a sample of scored pairs; the labels measure the linkage.

``sample``: a stratified random sample of scored pairs by match-probability band, denser
around the threshold, written as ``review.csv`` (one row per pair, a blank ``label`` column)
and ``review.html`` (each pair side by side with its match-weight breakdown; self-contained).
Both hold names and birth dates: they are for reviewers on the secure server, never for
release. The band sizes in the population are written beside them (``review_design.json``)
so that estimates can be weighted back.

``import``: reads the labels (``1``/``match``/``yes`` or ``0``/``non-match``/``no``; blank
or ``?`` = not reviewed), and estimates, with the stratified (band-weighted) estimator,
precision of the links (95% interval: stratified, Agresti-Coull) and recall among scored
pairs (95% interval: bootstrap within bands); and
the labelled match rate of each band beside the model's mean probability (calibration). It
can re-estimate the model's m probabilities from the labelled matches.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from linkage.dependence import base_label, non_null_levels
from schemas import sql as db
from schemas.errors import ConfigError, SchemaError, Violation

BANDS = (0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.000001)
IDENTITY_SHOWN = ("first_name", "last_name", "birth_date", "birth_year", "sex", "citizenship",
                  "country_of_birth", "person_key")
TRUE_LABELS = {"1", "match", "yes", "y", "true"}
FALSE_LABELS = {"0", "non-match", "nonmatch", "no", "n", "false"}
BOOTSTRAP = 1000


def _band_sql() -> str:
    cases = " ".join(f"WHEN match_probability < {hi!r} THEN {i}"
                     for i, hi in enumerate(BANDS[1:]))
    return f"CASE {cases} END"


def _band_label(i: int) -> str:
    return f"[{BANDS[i]:g}, {min(BANDS[i + 1], 1):g})" if i < len(BANDS) - 2 \
        else f"[{BANDS[i]:g}, 1]"


def sample_pairs(con: Any, size: int, seed: int) -> tuple[pd.DataFrame, list[dict]]:
    """A stratified sample of scored pairs: equal numbers per probability band."""
    design = db.frame(con, "review",
                      f"""
        SELECT {_band_sql()} AS band, count(*) AS pairs,
               count(*) FILTER (WHERE decision = 'link') AS links,
               count(*) FILTER (WHERE decision = 'apart') AS apart
        FROM pair_decisions WHERE NOT known_two_persons GROUP BY ALL ORDER BY band""")
    if design.empty:
        raise ConfigError("the run scored no pairs: nothing to review")
    per_band = max(1, math.ceil(size / len(design)))
    weights = [r[0] for r in db.rows(con, "review",
                                     "SELECT column_name FROM (DESCRIBE scored_pairs) "
                                        "WHERE column_name LIKE 'mw\\_%' ESCAPE '\\'")]
    weight_cols = "".join(f', s."{w}"' for w in weights)
    sample = db.frame(con, "review",
                      f"""
        WITH banded AS (
            SELECT d.*, {_band_sql()} AS band,
                   row_number() OVER (PARTITION BY {_band_sql()}
                                      ORDER BY hash(d.unique_id_l * 1000003 + d.unique_id_r
                                                    + {int(seed)})) AS draw
            FROM pair_decisions AS d WHERE NOT known_two_persons)
        SELECT b.band, b.match_probability, b.match_weight, b.decision,
               struct_extract(l.representative, 'source') AS source_l,
               struct_extract(l.representative, 'record_id') AS record_id_l,
               struct_extract(r.representative, 'source') AS source_r,
               struct_extract(r.representative, 'record_id') AS record_id_r{weight_cols}
        FROM banded AS b
        JOIN profiles AS l ON l.unique_id = b.unique_id_l
        JOIN profiles AS r ON r.unique_id = b.unique_id_r
        JOIN scored_pairs AS s ON s.unique_id_l = b.unique_id_l
                              AND s.unique_id_r = b.unique_id_r
        WHERE b.draw <= {per_band}
        ORDER BY b.band, b.match_probability""")
    keys = pd.DataFrame({  # only the sampled records' identities, not every record's
        "source": pd.concat([sample["source_l"], sample["source_r"]], ignore_index=True),
        "record_id": pd.concat([sample["record_id_l"], sample["record_id_r"]],
                               ignore_index=True)}).drop_duplicates()
    con.register("review_keys_df", keys)
    ids = db.frame(con, "review", "SELECT i.* FROM identity_records AS i "
                                  "JOIN review_keys_df USING (source, record_id)") \
        .set_index(["source", "record_id"])
    con.unregister("review_keys_df")
    for side in ("l", "r"):
        keys = list(zip(sample[f"source_{side}"], sample[f"record_id_{side}"], strict=True))
        rows = ids.loc[keys]
        for column in IDENTITY_SHOWN:
            if column in rows:
                sample[f"{column}_{side}"] = rows[column].astype("string").to_numpy()
    sample.insert(0, "pair_id", [f"R{i + 1:05d}" for i in range(len(sample))])
    sample["band"] = sample["band"].map(_band_label)
    sample["label"] = ""
    rows = [{"band": _band_label(int(r.band)), "pairs": int(r.pairs), "links": int(r.links),
             "apart": int(r.apart)} for r in design.itertuples()]
    return sample, rows


def level_of(comparison: dict[str, Any], weight: float) -> int | None:
    """Position (0 = most similar) of the level whose log2(m/u) is ``weight``; None for the
    null level (weight 0 with no level of that weight). Levels of equal weight are
    indistinguishable: the first is taken."""
    for position, level in enumerate(non_null_levels(comparison)):
        m, u = level.get("m_probability"), level.get("u_probability")
        if m and u and abs(math.log2(m / u) - weight) < 1e-6:
            return position
    return None


def _breakdown(pair: pd.Series, model_json: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(comparison, level label, weight in bits) of one sampled pair."""
    parts = []
    for comparison in model_json["comparisons"]:
        name = comparison["output_column_name"]
        weight = pair.get(f"mw_{name}")
        if weight is None or pd.isna(weight):
            continue
        position = level_of(comparison, float(weight))
        label = "null" if position is None \
            else non_null_levels(comparison)[position].get("label_for_charts", "")
        parts.append((name, label, float(weight)))
        adjustment = pair.get(f"mw_tf_adj_{name}")
        if adjustment is not None and not pd.isna(adjustment) and adjustment != 0:
            parts.append((name, "adjusted for the frequency of the value", float(adjustment)))
    return parts


def write_review(sample: pd.DataFrame, design: list[dict], model_json: dict[str, Any],
                 folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sample.to_csv(folder / "review.csv", index=False)
    (folder / "review_design.json").write_text(json.dumps(
        {"bands": design, "band_edges": list(BANDS)}, indent=1))
    prior = model_json.get("probability_two_random_records_match") or 1e-6
    prior_bits = math.log2(prior / (1 - prior))
    cards = []
    for _, pair in sample.iterrows():
        rows = "".join(
            f"<tr><th>{html.escape(c)}</th><td>{html.escape(str(pair.get(f'{c}_l', '')))}</td>"
            f"<td>{html.escape(str(pair.get(f'{c}_r', '')))}</td></tr>"
            for c in IDENTITY_SHOWN if f"{c}_l" in pair)
        parts = _breakdown(pair, model_json)
        weights = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(lbl)}</td>"
                          f"<td class=n>{w:+.2f}</td></tr>" for n, lbl, w in parts)
        weights += (f"<tr><td>prior</td><td>two random profiles match</td>"
                    f"<td class=n>{prior_bits:+.2f}</td></tr>"
                    f"<tr><th>total</th><td></td><td class=n>{pair.match_weight:+.2f}</td>"
                    f"</tr>")
        cards.append(
            f"<section><h2>{pair.pair_id} &middot; band {html.escape(pair.band)} &middot; "
            f"p = {pair.match_probability:.4f} &middot; weight {pair.match_weight:+.2f} "
            f"&middot; {html.escape(pair.decision)}</h2>"
            f"<div class=pair><table><tr><th></th><th>{html.escape(pair.source_l)} "
            f"{html.escape(pair.record_id_l)}</th><th>{html.escape(pair.source_r)} "
            f"{html.escape(pair.record_id_r)}</th></tr>{rows}</table>"
            f"<table><tr><th>comparison</th><th>level</th><th>bits</th></tr>{weights}"
            f"</table></div></section>")
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>miglink clerical review</title><style>
body{{font-family:sans-serif;margin:2em;max-width:70em}} section{{border-top:1px solid #999;
padding:.5em 0}} h2{{font-size:1em}} .pair{{display:flex;gap:2em;flex-wrap:wrap}}
table{{border-collapse:collapse}} td,th{{padding:.15em .6em;text-align:left;
border-bottom:1px solid #ddd}} .n{{text-align:right;font-variant-numeric:tabular-nums}}
</style></head><body><h1>Clerical review: {len(sample)} pairs</h1>
<p><strong>Contains identities: for reviewers on the secure server only.</strong>
Label each pair in <code>review.csv</code> (<code>label</code>: 1 = same person,
0 = different persons, blank or ? = cannot tell), then run
<code>miglink review import OUT review.csv</code>. Bits: log2(m/u) of each comparison's
level, and the adjustment for how common the value is; with the prior they sum to the
pair's match weight.</p>{''.join(cards)}</body></html>"""
    (folder / "review.html").write_text(page)


def read_labels(path: Path) -> pd.DataFrame:
    """The labelled rows of a review CSV; bad labels stop with file, column and row."""
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for needed in ("pair_id", "band", "match_probability", "decision", "label"):
        if needed not in frame:
            raise SchemaError([Violation(str(path), needed, None, None, "column is missing")])
    labels = frame["label"].str.strip().str.lower()
    bad = ~labels.isin(TRUE_LABELS | FALSE_LABELS | {"", "?"})
    if bad.any():
        violations = [Violation(str(path), "label", int(i) + 2, frame["label"][i],
                                "not 1/0, match/non-match, yes/no, blank or ?")
                      for i in np.flatnonzero(bad)[:20]]
        raise SchemaError(violations)
    frame["is_match"] = labels.map(lambda v: 1.0 if v in TRUE_LABELS else
                                   0.0 if v in FALSE_LABELS else np.nan)
    frame["match_probability"] = frame["match_probability"].astype(float)
    return frame[frame["is_match"].notna()].reset_index(drop=True)


def _estimates(labelled: pd.DataFrame, design: dict[str, dict]) -> tuple[float, float]:
    """Stratified precision of links and recall among scored pairs (pairs joined only
    through other links are neither links nor missed)."""
    true_links = links = true_apart = 0.0
    for band, group in labelled.groupby("band"):
        pop = design.get(band)
        if pop is None:
            continue
        linked = group[group["decision"] == "link"]
        apart = group[group["decision"] == "apart"]
        if len(linked):
            true_links += pop["links"] * linked["is_match"].mean()
            links += pop["links"]
        if len(apart):
            true_apart += pop["apart"] * apart["is_match"].mean()
    precision = true_links / links if links else float("nan")
    recall = true_links / (true_links + true_apart) if true_links + true_apart else float("nan")
    return precision, recall


def measure(labelled: pd.DataFrame, design_path: Path, seed: int = 1) -> dict[str, Any]:
    """Precision and recall with bootstrap intervals (resampling within bands)."""
    if labelled.empty:
        raise ConfigError("no pair is labelled (label 1 or 0) in the review file")
    design = {b["band"]: b for b in json.loads(design_path.read_text())["bands"]}
    precision, recall = _estimates(labelled, design)
    rng = np.random.default_rng(seed)
    groups = [g for _, g in labelled.groupby("band")]
    draws = []
    for _ in range(BOOTSTRAP):
        resampled = pd.concat([g.iloc[rng.integers(0, len(g), len(g))] for g in groups])
        draws.append(_estimates(resampled, design))
    draws_a = np.array(draws, dtype=float)

    def interval(column: int) -> list[float]:
        values = draws_a[:, column][~np.isnan(draws_a[:, column])]
        return [float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))] \
            if len(values) else [float("nan")] * 2

    # precision: stratified normal interval with Agresti-Coull proportions, so that a sample
    # without a single false link still gets an interval (the bootstrap's would be [1, 1])
    variance, weight_total = 0.0, 0.0
    for band, group in labelled[labelled["decision"] == "link"].groupby("band"):
        links = design.get(band, {}).get("links", 0)
        n, x = len(group), float(group["is_match"].sum())
        adjusted = (x + 2) / (n + 4)
        variance += links ** 2 * adjusted * (1 - adjusted) / (n + 4)
        weight_total += links
    if weight_total:
        half = 1.96 * math.sqrt(variance) / weight_total
        precision_ci = [max(0.0, precision - half), min(1.0, precision + half)]
    else:
        precision_ci = [float("nan")] * 2
    bands = [{"band": band, "labelled": int(len(g)), "labelled_match_rate": float(
              g["is_match"].mean()), "mean_match_probability": float(
              g["match_probability"].mean()), "pairs": design.get(band, {}).get("pairs")}
             for band, g in labelled.groupby("band")]
    return {"labelled_pairs": int(len(labelled)), "precision": precision,
            "precision_95ci": precision_ci, "recall_among_scored_pairs": recall,
            "recall_95ci": interval(1), "calibration_by_band": bands}


def reestimate_m(labelled: pd.DataFrame, model_json: dict[str, Any],
                 pseudo_count: float = 1.0) -> dict[str, Any]:
    """m of every comparison level from the labelled matches (add-``pseudo_count`` smoothing
    towards the current m); u and the prior are kept. Levels split by name agreement
    (``linkage.dependence``) share their level's m: its matches are counted together."""
    matches = labelled[labelled["is_match"] == 1.0]
    model = json.loads(json.dumps(model_json))
    for comparison in model["comparisons"]:
        column = f"mw_{comparison['output_column_name']}"
        if column not in matches or matches.empty:
            continue
        levels = non_null_levels(comparison)
        positions = [level_of(comparison, float(w)) for w in
                     pd.to_numeric(matches[column], errors="coerce").dropna()]
        bases = [base_label(level.get("label_for_charts", "")) for level in levels]
        observed = [bases[p] for p in positions if p is not None]
        current = {}
        for base, level in zip(bases, levels, strict=True):
            current.setdefault(base, level.get("m_probability", 0.0))
        total = len(observed) + pseudo_count
        for base, level in zip(bases, levels, strict=True):
            level["m_probability"] = (observed.count(base) + pseudo_count * current[base]) \
                / total
    return model
