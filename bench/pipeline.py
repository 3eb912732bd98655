"""Benchmark: synth -> run -> evaluate at one size; figures to bench/results/.

Run by hand (never from the tests):

    .venv/bin/python bench/pipeline.py --persons 20000 --seed 1

Prints and writes JSON with every score of ``miglink evaluate``, the wall time of each command,
and the elapsed time and peak memory (RSS of the run process) after each pipeline stage. The
per-command RSS is the largest of any child so far (getrusage cannot separate them).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from _work import work_folder

MIGLINK = [sys.executable, "-m", "pipelines.cli"]


def timed(args: list[str]) -> dict:
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": round(time.perf_counter() - started, 1),
            "max_child_rss_so_far_mb": round(max(peak, before) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    with work_folder(args.work, "miglink-bench-") as work:
        data, out = work / "data", work / "out"
        figures = {"persons": args.persons, "seed": args.seed}
        figures["synth"] = timed([*MIGLINK, "synth", "--persons", str(args.persons),
                                  "--seed", str(args.seed), "--out", str(data)])
        figures["run"] = timed([*MIGLINK, "run", str(data), "--out", str(out)])
        figures["evaluate"] = timed([*MIGLINK, "evaluate", str(out), "--truth", str(data / "truth")])
        quality = json.loads((out / "quality.json").read_text())
        figures["stages"] = quality["stages"]
        evaluation = json.loads((out / "evaluation.json").read_text())
        figures["scores"] = {
            "persons": {k: evaluation["persons"][k] for k in ("precision", "recall", "f1")},
            "events": {r: {k: e[k] for k in ("precision", "recall", "f1", "predicted", "actual")}
                       for r, e in evaluation["events"].items()},
            "annual_flow_mean_abs_relative_error":
                evaluation["annual_flows"]["mean_absolute_relative_error"],
            "register_over_coverage_rate": quality["register_coverage"]["over_coverage_rate"],
            "nowcast_backtest": quality["nowcast_backtest"],
        }
        target = Path(__file__).parent / "results" / f"pipeline_{args.persons}_seed{args.seed}.json"
        target.write_text(json.dumps(figures, indent=1))
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
