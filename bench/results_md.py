"""Write bench/RESULTS.md from bench/results/*.json: every measured figure in one place.

    .venv/bin/python bench/results_md.py

Sections: the generalisation benchmark (each ``generalisation_*.json``), the presence and
events stages at 100,000 persons, the pipeline runs, and a list of the other result files.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
RULES = ("continuous_12", "12_of_16")


def _f(value: object, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _world_name(row: dict) -> str:
    return f"{row['world']} {row['seed']}"


def generalisation(name: str, result: dict) -> list[str]:
    lines = [f"## Generalisation: `{name}`", "",
             f"{result['persons']:,} persons a world; config: {result.get('config') or 'default'}. "
             "Events F1 (confirmed, same person and type, within 62 days); flow error: mean "
             "absolute relative error of the annual flows over the complete years, of the "
             "decoded events' count and of the model's expected count; register-only: the "
             "registrations from abroad and deregistrations offices publish; intervals: cells "
             "(rule, year, type) whose 90% interval held the truth; documented: events F1 of "
             "the persons some register or permit holds, and their flows' error (undocumented "
             "immigrants apart), where the world has some.", "",
             "| world | F1 c12 | F1 12/16 | documented F1 c12 | flow err c12 "
             "| documented flow err c12 | expected err c12 "
             "| register-only c12 | over-coverage pp | exact persons | intervals held |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in result["worlds"]:
        if "failed" in row:
            lines.append(f"| {_world_name(row)} | failed at {row['failed']} "
                         "| | | | | | | | | |")
            continue
        cells = row.get("flow_interval_cells")
        held = f"{cells[0]}/{cells[1]}" if cells and cells[1] else "–"
        lines.append(
            f"| {_world_name(row)} | {_f(row['events_f1_continuous_12'])} "
            f"| {_f(row['events_f1_12_of_16'])} "
            f"| {_f(row.get('documented_events_f1_continuous_12'))} "
            f"| {_f(row['flow_error_continuous_12'])} "
            f"| {_f(row.get('documented_flow_error_continuous_12'))} "
            f"| {_f(row.get('expected_flow_error_continuous_12'))} "
            f"| {_f(row.get('register_only_error_continuous_12'))} "
            f"| {_f(row.get('over_coverage_error_pp'), 2)} | {_f(row['exact_person_rate'])} "
            f"| {held} |")
    for part in ("chosen_on", "held_out", "all_random"):
        summary = result.get(part) or {}
        if not summary:
            continue
        lines += ["", f"**{part.replace('_', ' ')}** (random worlds): worst / median / worst "
                      "decile", "", "| figure | worst | median | worst decile |",
                  "|---|---|---|---|"]
        for figure, values in summary.items():
            if isinstance(values, dict):
                lines.append(f"| {figure} | {_f(values['worst'])} | {_f(values['median'])} "
                             f"| {_f(values['worst_decile'])} |")
        for figure, value in summary.items():
            if not isinstance(value, dict):
                lines.append(f"| {figure} | {_f(value)} | | |")
    return [*lines, ""]


def timing(name: str, result: dict) -> list[str]:
    lines = [f"## Stages: `{name}`", "", result.get("what", ""), "",
             "Commands: " + "; ".join(f"`{c}`" for c in result.get("commands", [])), "",
             "| stage | seconds | before |", "|---|---|---|"]
    before = (result.get("before") or {}).get("stage_seconds", {})
    for stage, seconds in result["stage_seconds"].items():
        lines.append(f"| {stage} | {_f(seconds, 1)} | {_f(before.get(stage), 1)} |")
    lines += ["", f"Run {result.get('run_wall_seconds')} s wall, peak RSS "
                  f"{result.get('peak_rss_mb')} MB. Events F1 "
                  + ", ".join(f"{r} {_f(v)}" for r, v in result.get("events_f1", {}).items())
                  + "; flow error " + ", ".join(f"{r} {_f(v)}" for r, v in
                                                result.get("flow_error", {}).items())
                  + "; expected-count error " + ", ".join(
                      f"{r} {_f(v)}" for r, v in result.get("expected_flow_error", {}).items())
                  + f"; intervals held {_f(result.get('flow_interval_coverage'))}.", ""]
    return lines


def pipeline(name: str, result: dict) -> list[str]:
    scores = result.get("scores", {})
    events = scores.get("events", {})
    stages = ", ".join(f"{s['stage']} {s['seconds']} s" for s in result.get("stages", []))
    flows = scores.get("annual_flow_mean_abs_relative_error", {})
    return [f"## Pipeline: `{name}`", "",
            f"{result.get('persons'):,} persons, seed {result.get('seed')}: run "
            f"{result.get('run', {}).get('seconds')} s ({stages}). Events F1 "
            + ", ".join(f"{r} {_f(v.get('f1'))}" for r, v in events.items())
            + "; flow error " + ", ".join(f"{r} {_f(v)}" for r, v in flows.items()) + ".", ""]


def scale(name: str, result: dict) -> list[str]:
    machine = result.get("machine", {})
    lines = [f"## Scale: `{name}`", "",
             f"`{result.get('command')}`; Python {machine.get('python')}, duckdb "
             f"{machine.get('duckdb')}, splink {machine.get('splink')}, {machine.get('platform')}."
             " Default world; stage times and peak memory from the run's `quality.json`, peak "
             "disk of the work folder and spill sampled each second.", "",
             "| persons | records | run s | peak memory MB | peak work disk GB | scored pairs | "
             "pairs / person | persons F1 | exact persons | events F1 c12 | linkage s | "
             "plain Splink s | plain Splink F1 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in result.get("sizes", []):
        ours, plain = row.get("miglink_linkage", {}), row.get("plain_splink", {})
        lines.append(
            f"| {row['persons']:,} | {row['records']:,} | {_f(row['run_seconds'], 1)} | "
            f"{_f(row['run_peak_memory_mb'])} | {_f(row['peak_work_disk_gb'], 2)} | "
            f"{row['scored_pairs']:,} | {row['scored_pairs_per_person']} | "
            f"{_f(row['persons_f1'], 4)} | {_f(row.get('exact_person_rate'), 4)} | "
            f"{_f(row['events_f1'].get('continuous_12'))} | {_f(ours.get('seconds'), 1)} | "
            f"{_f(plain.get('seconds'), 1)} | {_f(plain.get('persons_f1'), 4)} |")
    lines.append("")
    for row in result.get("sizes", []):
        stages = ", ".join(f"{s['stage']} {s['seconds']} s" for s in row.get("stages", []))
        lines.append(f"- {row['persons']:,} persons: {stages}.")
        if row.get("note"):
            lines.append(f"- {row['persons']:,} persons, note: {row['note']}.")
    for row in result.get("sizes", []):
        if row.get("blocking"):
            lines += ["", f"Blocking rules at {row['persons']:,} persons: scored pairs, true "
                      "matches among them, and the links they gave (a pair counts for the "
                      "first rule that finds it).", "",
                      "| rule | pairs | pairs / person | matches | true links | false links |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {b['blocking_rule']}: {b['rule']} | {b['pairs']:,} | "
                      f"{b['pairs'] / row['persons']:.2f} | {b['matches']:,} | "
                      f"{b['true_links']:,} | {b['false_links']:,} |"
                      for b in row["blocking"]]
    growth = result.get("growth")
    if growth:
        lines += ["", f"Growth from {growth['from_persons']:,} to {growth['to_persons']:,} "
                  f"persons, over linear (1.0 is linear): run time "
                  f"{growth['run_time_over_linear']}, scored pairs "
                  f"{growth['scored_pairs_over_linear']}; persons F1 changed by "
                  f"{growth['persons_f1_change']}, events F1 by {growth['events_f1_change']}."]
    return [*lines, ""]


FEBRL4_LABELS = {
    "miglink": "miglink, address columns configured (`[linkage] extra_comparisons`)",
    "miglink_identity_only": "miglink, the contract's identity columns only",
    "splink_febrl4_example": "Splink's FEBRL4 example model",
    "recordlinkage_ecm": "recordlinkage, ECM classifier",
}


def febrl4(name: str, result: dict) -> list[str]:
    lines = [f"## FEBRL4: `{name}`", "",
             "`bench/febrl4.py`: the 5,000 x 5,000 one-to-one FEBRL4 files, every method in one "
             "run, threshold 0.9 for both Splink models.", "",
             "| method | precision | recall | F1 | links | seconds |", "|---|---|---|---|---|---|"]
    for key, row in result.items():
        lines.append(f"| {FEBRL4_LABELS.get(key, key)} | {row['precision']} | {row['recall']} "
                     f"| {row['f1']} | {row['links']:,} | {row['seconds']} |")
    return [*lines, ""]


def population_size(name: str, result: dict) -> list[str]:
    lines = [f"## Population size and mirror statistics: `{name}`", "",
             f"`bench/population_size.py`, {result['persons']:,} persons per world: the usual "
             "residents on census day (continuous_12) by multiple-systems estimation against "
             "the truth, and the partners' coverage of our moves read off the mirror "
             "statistics against the coverage the generator gave them.", "",
             "| world | undocumented share | true residents | estimate | 95% interval | "
             "error | holds | no list holds | mirror mean abs. diff. | mirror corr. |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["worlds"]:
        lines.append(
            f"| {r['world']} {r['seed']} | {_f(r['undocumented_share'])} | "
            f"{r['true_usual_residents']:,} | {r['estimate']:,.1f} | {r['low']:,.0f} - "
            f"{r['high']:,.0f} | {r['relative_error']:+.2%} | {r['interval_covers']} | "
            f"{r['in_scope_persons'] - r['listed']:,} | "
            f"{_f(r['mirror_weighted_mean_absolute_difference'])} | "
            f"{_f(r['mirror_correlation_large_partners'])} |")
    return [*lines, ""]


def main() -> None:
    lines = ["# Measured figures", "",
             "Generated by `bench/results_md.py` from `bench/results/*.json`; do not edit.", ""]
    files = sorted(RESULTS.glob("*.json"))
    others = []
    for path in files:
        result = json.loads(path.read_text())
        if path.name.startswith("generalisation_") and "worlds" in result:
            lines += generalisation(path.name, result)
        elif path.name.startswith("presence_timing_"):
            lines += timing(path.name, result)
        elif path.name.startswith("scale") and "sizes" in result:
            lines += scale(path.name, result)
        elif path.name.startswith("pipeline_") and "stages" in result:
            lines += pipeline(path.name, result)
        elif path.name == "febrl4.json":
            lines += febrl4(path.name, result)
        elif path.name.startswith("population_size_"):
            lines += population_size(path.name, result)
        else:
            others.append(path.name)
    if others:
        lines += ["## Other results", "", *(f"- `{name}`" for name in others), ""]
    (Path(__file__).parent / "RESULTS.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
