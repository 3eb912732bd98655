"""Benchmark: does the method hold on worlds it was not made on?

Run by hand (never from the tests):

    .venv/bin/python bench/generalisation.py --persons 20000

For each world it runs ``synth``, ``run`` and ``evaluate``: twenty random worlds
(``synth --world random``, seeds 1-20, fixed before any result was seen), the default world and
the hard world. Seeds 1-10 are the worlds methods are chosen on; seeds 11-20 are held out and
reported untouched by any choice. Per world: the parameters it drew, events F1 per rule,
annual flow error per rule beside the register-only flows offices publish today, the error of
the register over-coverage, the exact-person rate, how often the 90% flow intervals held the
truth, and the time of the presence and events stages. Then the minimum, median and worst
decile of each figure over the chosen and the held-out worlds.

Figures to ``bench/results/generalisation_N.json`` (``--label`` adds to the name).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _work import work_folder

MIGLINK = [sys.executable, "-m", "pipelines.cli"]
RULES = ("continuous_12", "12_of_16")
CHOSEN_ON = tuple(range(1, 11))
HELD_OUT = tuple(range(11, 21))
# the drawn parameters shown in the table (every one is in each world's world.json)
SHOWN = ("crossing_coverage", "poorly_covered_share", "crossing_coverage_poor",
         "sign_of_life_per_month", "silent_year_share", "ghost_share",
         "deregistration_native", "deregistration_foreign", "deregistration_lag_days",
         "admin_removal_share", "census_coverage_native", "typo_factor")


def run_world(world: str, seed: int, persons: int, work: Path, config: Path | None,
              reuse: bool) -> dict:
    folder = work / f"{world}_{seed}"
    data, out = folder / "data", folder / "out"
    configured = ["--config", str(config)] if config else []
    seconds = {}
    steps = [("synth", ["synth", "--persons", str(persons), "--seed", str(seed), "--world",
                        world, "--out", str(data)]),
             ("run", ["run", str(data), "--out", str(out), *configured]),
             ("evaluate", ["evaluate", str(out), "--truth", str(data / "truth")])]
    for name, command in steps:
        if reuse and name == "synth" and (data / "world.json").exists():
            continue
        started = time.perf_counter()
        done = subprocess.run([*MIGLINK, *command], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        if done.returncode:
            return {"world": world, "seed": seed, "failed": name,
                    "error": done.stderr.strip().splitlines()[-1:]}
        seconds[name] = round(time.perf_counter() - started, 1)
    return _row(world, seed, data, out, seconds)


def _row(world: str, seed: int, data: Path, out: Path, seconds: dict) -> dict:
    evaluation = json.loads((out / "evaluation.json").read_text())
    quality = json.loads((out / "quality.json").read_text())
    drawn = json.loads((data / "world.json").read_text())
    flows = evaluation["annual_flows"]["mean_absolute_relative_error"]
    baseline = evaluation.get("register_only_flows", {}).get("mean_absolute_relative_error", {})
    coverage = evaluation.get("register_over_coverage") or {}
    intervals = evaluation.get("flow_intervals") or {}
    stage_seconds = {s["stage"]: s["seconds"] for s in quality["stages"]}
    row = {
        "world": world, "seed": seed,
        "parameters": {k: drawn.get(k) for k in SHOWN},
        **{f"events_f1_{r}": evaluation["events"][r]["f1"] for r in RULES},
        # the events of persons some register or permit holds (undocumented persons apart)
        **{f"documented_events_f1_{r}": (evaluation.get("events_by_documentation", {})
                                         .get(r, {}).get("documented", {})
                                         .get("f1", evaluation["events"][r]["f1"]))
           for r in RULES},
        **{f"flow_error_{r}": flows.get(r) for r in RULES},
        **{f"documented_flow_error_{r}": (evaluation["annual_flows"].get(
            "documented_mean_absolute_relative_error") or flows).get(r) for r in RULES},
        **{f"register_only_error_{r}": baseline.get(r) for r in RULES},
        "over_coverage_error_pp": None if coverage.get("difference_percentage_points") is None
        else abs(coverage["difference_percentage_points"]),
        "exact_person_rate": evaluation["persons"]["exact_person_rate"],
        "persons_f1": evaluation["persons"]["f1"],
        "flow_interval_coverage": intervals.get("coverage"),
        "flow_interval_cells": [intervals.get("covered"), intervals.get("cells")],
        **{f"expected_flow_error_{r}": (intervals.get("expected_mean_absolute_relative_error")
                                        or {}).get(r) for r in RULES},
        "seconds": seconds,
        "presence_seconds": stage_seconds.get("presence"),
        "events_seconds": stage_seconds.get("events"),
    }
    return row


FIGURES = (*(f"events_f1_{r}" for r in RULES), *(f"documented_events_f1_{r}" for r in RULES),
           *(f"flow_error_{r}" for r in RULES), *(f"documented_flow_error_{r}" for r in RULES),
           *(f"expected_flow_error_{r}" for r in RULES),
           "over_coverage_error_pp", "exact_person_rate", "flow_interval_coverage")
HIGHER_IS_BETTER = {*(f"events_f1_{r}" for r in RULES),
                    *(f"documented_events_f1_{r}" for r in RULES), "exact_person_rate",
                    "flow_interval_coverage"}


def _decile(values: list[float], worst_low: bool) -> float:
    ordered = sorted(values)
    k = max(0, int(round(0.1 * (len(ordered) - 1))))
    return ordered[k] if worst_low else ordered[len(ordered) - 1 - k]


def summary(rows: list[dict]) -> dict:
    """Minimum (the worst world), median and worst decile of each figure."""
    out = {}
    for figure in FIGURES:
        values = [r[figure] for r in rows if r.get(figure) is not None]
        if not values:
            continue
        low = figure in HIGHER_IS_BETTER
        out[figure] = {"worst": min(values) if low else max(values),
                       "median": statistics.median(values),
                       "worst_decile": _decile(values, low), "worlds": len(values)}
    for kind in ("flow_error", "expected_flow_error"):
        out[f"{kind}_at_most_half_register_only"] = all(
            r[f"{kind}_{rule}"] <= 0.5 * r[f"register_only_error_{rule}"]
            for r in rows for rule in RULES
            if r.get(f"{kind}_{rule}") is not None and r.get(f"register_only_error_{rule}"))
    cells = [r["flow_interval_cells"] for r in rows if r.get("flow_interval_cells")
             and r["flow_interval_cells"][1]]
    out["flow_interval_cells_covered"] = (sum(c for c, _ in cells) / sum(n for _, n in cells)
                                          if cells else None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="*", default=[*CHOSEN_ON, *HELD_OUT])
    parser.add_argument("--own-worlds", action=argparse.BooleanOptionalAction, default=True,
                        help="also the default and hard worlds (seed 1)")
    parser.add_argument("--work", type=Path, help="keep sources and runs here (else removed)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --work: keep worlds already synthesised there")
    parser.add_argument("--config", type=Path, help="run every world with this config")
    parser.add_argument("--label", default="", help="added to the result file's name")
    parser.add_argument("--combine", type=Path, nargs="+",
                        help="only summarise the worlds of these result files together "
                             "(parts of one benchmark run side by side)")
    args = parser.parse_args()
    if args.combine:
        parts = [json.loads(f.read_text()) for f in args.combine]
        rows = [row for part in parts for row in part["worlds"]]
        _write(rows, parts[0]["persons"], parts[0]["config"], args.label)
        return
    worlds = [("random", s) for s in args.seeds]
    if args.own_worlds:
        worlds += [("default", 1), ("hard", 1)]
    rows = []
    with work_folder(args.work, "miglink-generalisation-") as work:
        for world, seed in worlds:
            row = run_world(world, seed, args.persons, work, args.config, args.reuse)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "parameters"}), flush=True)
            if args.work is None:  # the disk is shared: a world's files go when it is scored
                subprocess.run(["rm", "-rf", str(work / f"{world}_{seed}")], check=True)
    _write(rows, args.persons, str(args.config) if args.config else None, args.label)


def _write(rows: list[dict], persons: int, config: str | None, label: str) -> None:
    scored = [r for r in rows if "failed" not in r]
    random_rows = [r for r in scored if r["world"] == "random"]
    result = {
        "persons": persons, "config": config,
        "worlds": rows,
        "chosen_on": summary([r for r in random_rows if r["seed"] in CHOSEN_ON]),
        "held_out": summary([r for r in random_rows if r["seed"] in HELD_OUT]),
        "all_random": summary(random_rows),
        "failed": [r for r in rows if "failed" in r],
    }
    name = f"generalisation_{persons}{'_' + label if label else ''}.json"
    target = Path(__file__).parent / "results" / name
    target.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("chosen_on", "held_out")}, indent=1))


if __name__ == "__main__":
    main()
