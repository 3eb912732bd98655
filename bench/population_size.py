"""Benchmark: how many usual residents no source saw, and the partners' under-count, against
the truth, through the contract (synth -> run -> evaluate).

Run by hand (never from the tests):

    .venv/bin/python bench/population_size.py --persons 20000 --worlds default:3 random:11 random:12

Per world: the true usual residents on census day (continuous_12), the multiple-systems
estimate and its 95% interval, its relative error, whether the interval holds the truth, the
persons no list holds, the world's share of undocumented immigrants; and the partners'
coverage of our moves read off the mirror statistics against the coverage the generator gave
them (mean |difference| weighted by their moves; correlation over partners reporting 100+).
Writes bench/results/population_size_<persons>.json. Work folders are removed after.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _work import work_folder

MIGLINK = [sys.executable, "-m", "pipelines.cli"]
RESULTS = Path(__file__).parent / "results"


def run_world(world: str, seed: int, persons: int, work: Path) -> dict:
    folder = work / f"{world}_{seed}"
    data, out = folder / "data", folder / "out"
    started = time.perf_counter()
    for args in (["synth", "--persons", str(persons), "--seed", str(seed), "--world", world,
                  "--out", str(data)],
                 ["run", str(data), "--out", str(out)],
                 ["evaluate", str(out), "--truth", str(data / "truth")]):
        subprocess.run([*MIGLINK, *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    evaluation = json.loads((out / "evaluation.json").read_text())
    quality = json.loads((out / "quality.json").read_text())
    drawn = json.loads((data / "world.json").read_text())
    size = evaluation["population_size"]
    headline = quality["population_size"]["estimate"]
    mirror = evaluation.get("mirror_coverage") or {}
    return {"world": world, "seed": seed,
            "undocumented_share": drawn.get("undocumented_share", 0.0),
            "true_usual_residents": size["true_usual_residents"],
            "estimate": round(size["estimate"], 1), "low": size["interval"][0],
            "high": size["interval"][1], "relative_error": round(size["relative_error"], 5),
            "interval_covers": size["interval_covers"],
            "listed": headline["listed"], "in_scope_persons": headline["in_scope_persons"],
            "linkage_sensitivity": [round(v, 1) for v in headline.get(
                "linkage_sensitivity") or []],
            "mirror_weighted_mean_absolute_difference": mirror.get(
                "weighted_mean_absolute_difference"),
            "mirror_correlation_large_partners": mirror.get("correlation_large_partners"),
            "mirror_large_partners": mirror.get("large_partners"),
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--worlds", nargs="+", default=["default:3", "random:11", "random:12"],
                        help="WORLD:SEED, WORLD one of default, hard, random")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    with work_folder(args.work, "miglink-popsize-") as work:
        for spec in args.worlds:
            world, seed = spec.split(":")
            rows.append(run_world(world, int(seed), args.persons, work))
            print(json.dumps(rows[-1]), flush=True)
    result = {"persons": args.persons, "worlds": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"population_size_{args.persons}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
