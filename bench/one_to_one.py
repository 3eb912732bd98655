"""Benchmark: one-to-one clustering of 1,000,000 x 1,000,000 records' scored pairs.

Run by hand (never from the tests):

    .venv/bin/python bench/one_to_one.py --records 1000000

Two duplicate-free sources of N records each (as census and survey); 90% of the left records
have their true match on the right. Each left record is scored against its true match
(probabilities drawn mostly above the 0.99 threshold) and against three namesakes on the right
(mostly low, but 3% of them above the threshold, as common names produce). The pairs are
written to Parquet by one process; a second process loads them into DuckDB and runs
``linkage.persons.cluster_profiles`` exactly as ``miglink run`` does; its wall time and peak
memory (RSS) are measured. Precision and recall of the linked pairs against the truth are
compared with plain connected components (no one-to-one constraint).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _work import work_folder

THRESHOLD = 0.99


def make_pairs(n: int, seed: int, folder: Path) -> None:
    rng = np.random.default_rng(seed)
    right_of = rng.permutation(n) + n  # the true match of left record i is right_of[i]
    has_match = rng.random(n) < 0.9
    left_true = np.flatnonzero(has_match)
    p_true = np.where(rng.random(left_true.size) < 0.97, 1 - rng.beta(1, 400, left_true.size),
                      rng.beta(2, 2, left_true.size))
    k = 3
    left_other = np.repeat(np.arange(n), k)
    right_other = rng.integers(n, 2 * n, left_other.size)
    p_other = np.where(rng.random(left_other.size) < 0.03,
                       1 - rng.beta(1, 300, left_other.size), rng.beta(1, 8, left_other.size))
    keep = right_other != right_of[left_other]
    pairs = pd.DataFrame({
        "unique_id_l": np.concatenate([left_true, left_other[keep]]),
        "unique_id_r": np.concatenate([right_of[left_true], right_other[keep]]),
        "match_probability": np.concatenate([p_true, p_other[keep]]),
    })
    pairs["match_weight"] = np.log2(pairs.match_probability / (1 - pairs.match_probability))
    pairs.to_parquet(folder / "scored_pairs.parquet", index=False)
    pd.DataFrame({"left": left_true, "right": right_of[left_true]}).to_parquet(
        folder / "truth.parquet", index=False)


def cluster(folder: Path, one_to_one: bool) -> None:
    """Child process: load the pairs into DuckDB and cluster them as the pipeline does."""
    import duckdb

    from linkage.persons import cluster_profiles

    con = duckdb.connect()
    n = con.sql(f"SELECT max(unique_id_r) + 1 FROM '{folder / 'scored_pairs.parquet'}'"
                ).fetchall()[0][0]
    half = n // 2
    con.execute(f"""CREATE TABLE profiles AS
        SELECT range AS unique_id, CASE WHEN range < {half} THEN 'census' ELSE 'survey' END
               AS source FROM range({n})""")
    con.execute(f"CREATE TABLE scored_pairs AS SELECT * FROM '{folder / 'scored_pairs.parquet'}'")
    started = time.perf_counter()
    result = cluster_profiles(con, THRESHOLD, ("census", "survey") if one_to_one else ())
    seconds = time.perf_counter() - started
    tp, predicted = con.sql(f"""
        WITH linked AS (
            SELECT a.unique_id AS l, b.unique_id AS r
            FROM profile_cluster AS a JOIN profile_cluster AS b
              ON a.cluster = b.cluster AND a.unique_id < {half} AND b.unique_id >= {half})
        SELECT count(*) FILTER (WHERE t."left" IS NOT NULL), count(*)
        FROM linked LEFT JOIN '{folder / 'truth.parquet'}' AS t
          ON t."left" = linked.l AND t."right" = linked.r""").fetchall()[0]
    actual = con.sql(f"SELECT count(*) FROM '{folder / 'truth.parquet'}'").fetchall()[0][0]
    print(json.dumps({"seconds": round(seconds, 2), "accepted": result.accepted,
                      "refused": result.refused, "linked_pairs": predicted,
                      "precision": tp / predicted, "recall": tp / actual}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", choices=["one_to_one", "components"])
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.child:
        cluster(args.folder, args.child == "one_to_one")
        return
    with work_folder(None, "miglink-121-") as folder:
        make_pairs(args.records, args.seed, folder)
        figures: dict = {"records_per_source": args.records,
                         "scored_pairs": len(pd.read_parquet(folder / "scored_pairs.parquet"))}
        for mode in ("one_to_one", "components"):
            started = time.perf_counter()
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--folder",
                                  str(folder)], check=True, capture_output=True, text=True)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            figures[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            figures[mode]["process_seconds"] = round(time.perf_counter() - started, 1)
            figures[mode]["peak_rss_mb"] = round(max(peak, before) / 1024, 1)
        target = Path(__file__).parent / "results" / f"one_to_one_{args.records}.json"
        target.write_text(json.dumps(figures, indent=1))
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
