"""Benchmark: the linkage error estimates without labels against the truth, over many worlds.

Run by hand (never from the tests):

    .venv/bin/python bench/error_estimates.py --persons 20000 --seeds 1 2 3 4 5 6 7 8 \
        --hard-seeds 2 3 4 5 6

For every world (``synth``, ``run``, ``evaluate``) it keeps the true and expected false and
missed matches (scored pairs of identity profiles), whether the true count fell in the
estimate's 90% interval, and the same in persons (false joins, split persons); then the
totals over all worlds. One world says little about false matches: they come in lumps (a
wrong join makes every link it carries false), so the totals are the check of bias and the
interval hits the check of spread. The false matches are also split by kind of join (a
profile taken into a group, two groups made one), where their errors differ, and counted a
second way, against the persons known to be two (``control_*``). Each world's
persons and events F1 are kept beside (``--config`` runs every world with one run config).
Figures to ``bench/results/error_estimates_N.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _work import work_folder

MIGLINK = [sys.executable, "-m", "pipelines.cli"]
COUNTS = ("false_matches", "expected_false_matches", "missed_matches",
          "expected_missed_matches", "false_joins", "expected_false_joins", "split_persons",
          "expected_split_persons")


def world_errors(persons: int, seed: int, world: str, work: Path,
                 config: Path | None = None, reuse: bool = False) -> dict:
    data, out = work / f"{world}_{seed}" / "data", work / f"{world}_{seed}" / "out"
    configured = ["--config", str(config)] if config else []
    commands = [["synth", "--persons", str(persons), "--seed", str(seed), "--world", world,
                 "--out", str(data)],
                ["run", str(data), "--out", str(out), *configured],
                ["evaluate", str(out), "--truth", str(data / "truth")]]
    if reuse and (out / "evaluation.json").exists():
        commands = []  # evaluated already: take it as it is
    for command in commands:
        subprocess.run([*MIGLINK, *command], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    evaluation = json.loads((out / "evaluation.json").read_text())
    errors = evaluation["linkage_errors"]
    row = {"world": world, "seed": seed, **{k: errors[k] for k in COUNTS},
           "persons_f1": evaluation["persons"]["f1"],
           **{f"events_f1_{rule}": figures["f1"]
              for rule, figures in evaluation["events"].items()}}
    row["errors_by_join_kind"] = errors.get("errors_by_join_kind", [])
    # the same counted against the persons known to be two (a negative control)
    for kind in ("false_matches", "missed_matches", "split_persons"):
        row[f"control_{kind}"] = errors.get(f"control_{kind}")
    for kind in ("false_matches", "missed_matches"):
        row[f"expected_{kind}_interval"] = errors[f"expected_{kind}_interval"]
        row[f"{kind}_in_interval"] = errors[f"{kind}_in_interval"]
        row[f"{kind}_relative_error"] = (errors[f"expected_{kind}"] / errors[kind] - 1
                                         if errors[kind] else None)
        row[f"{kind}_in_control_interval"] = errors.get(f"{kind}_in_control_interval")
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3, 4, 5, 6, 7, 8])
    parser.add_argument("--hard-seeds", type=int, nargs="*", default=[2, 3, 4, 5, 6])
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--config", type=Path, default=None, help="a run config (TOML)")
    parser.add_argument("--reuse", action="store_true",
                        help="take the worlds already evaluated in --work as they are")
    args = parser.parse_args()
    worlds = [(s, "default") for s in args.seeds] + [(s, "hard") for s in args.hard_seeds]
    with work_folder(args.work, "miglink-bench-errors-") as work:
        rows = []
        for seed, world in worlds:
            rows.append(world_errors(args.persons, seed, world, work, args.config,
                                     args.reuse))
            print(json.dumps(rows[-1]), flush=True)
    totals = {k: round(sum(r[k] for r in rows), 1) for k in COUNTS}
    for kind in ("false_matches", "missed_matches"):
        totals[f"{kind}_relative_error"] = (totals[f"expected_{kind}"] / totals[kind] - 1
                                            if totals[kind] else None)
        totals[f"{kind}_in_interval"] = sum(r[f"{kind}_in_interval"] for r in rows)
    controlled = [r for r in rows if r["control_false_matches"] is not None]
    if controlled:
        totals["control_worlds"] = len(controlled)
        for kind in ("false_matches", "missed_matches", "split_persons"):
            true = sum(r[kind] for r in controlled)
            totals[f"control_{kind}"] = round(sum(r[f"control_{kind}"] for r in controlled), 1)
            totals[f"control_{kind}_relative_error"] = (
                totals[f"control_{kind}"] / true - 1 if true else None)
        for kind in ("false_matches", "missed_matches"):
            totals[f"{kind}_in_control_interval"] = sum(
                bool(r[f"{kind}_in_control_interval"]) for r in controlled)
    # where the false matches come from: joins of a profile into a group, of two groups
    by_kind: dict[str, dict[str, float]] = {}
    for r in rows:
        for k in r["errors_by_join_kind"]:
            sums = by_kind.setdefault(k["join_kind"], {})
            for key, value in k.items():
                if key != "join_kind":
                    sums[key] = round(sums.get(key, 0) + value, 1)
    totals["errors_by_join_kind"] = by_kind
    for f1 in [k for k in rows[0] if k.endswith("f1") or "_f1_" in k]:
        totals[f"mean_{f1}"] = sum(r[f1] for r in rows) / len(rows)
        totals[f"min_{f1}"] = min(r[f1] for r in rows)
    figures = {"persons": args.persons, "worlds": rows, "totals": totals}
    target = Path(__file__).parent / "results" / f"error_estimates_{args.persons}.json"
    target.write_text(json.dumps(figures, indent=1))
    print(json.dumps(totals, indent=1))


if __name__ == "__main__":
    main()
